package seal_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/server/seal"
)

func skipOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix file modes")
	}
}

func TestKeyFileCreateAndReload(t *testing.T) {
	skipOnWindows(t)
	dir := filepath.Join(t.TempDir(), "state", "keys")
	path := filepath.Join(dir, "master.key")

	ring, created, err := seal.LoadOrCreateKeyFile(path)
	k := ring.Current()
	if err != nil || !created {
		t.Fatalf("LoadOrCreateKeyFile = %v, created %v, %v; want a new key", k, created, err)
	}
	if k.IsZero() {
		t.Fatal("a zero key")
	}
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {filepath.Dir(dir), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tc.want {
			t.Errorf("%s has mode %04o, want %04o", tc.path, got, tc.want)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != k.Encode()+"\n" {
		t.Errorf("the file holds %d bytes, not the key and a newline", len(b))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want only the key file (no temporary file left)", len(entries))
	}

	r2, created, err := seal.LoadOrCreateKeyFile(path)
	k2 := r2.Current()
	if err != nil || created {
		t.Fatalf("reload: created %v, %v", created, err)
	}
	if k2.ID() != k.ID() || k2.Encode() != k.Encode() {
		t.Fatal("reload gave another key")
	}
	s := mustSeal(t, k, "t", "n", []byte("v"))
	if _, err := seal.Open(k2, "t", "n", s); err != nil {
		t.Errorf("Open with the reloaded key: %v", err)
	}
}

func TestKeyFileModes(t *testing.T) {
	skipOnWindows(t)
	for _, tc := range []struct {
		mode   os.FileMode
		refuse bool
	}{
		{0o600, false},
		{0o400, false},
		{0o644, true},
		{0o640, true},
		{0o604, true},
		{0o660, true},
		{0o606, true},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "master.key")
			r, _, err := seal.LoadOrCreateKeyFile(path)
			k := r.Current()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, created, err := seal.LoadOrCreateKeyFile(path)
			if !tc.refuse {
				if err != nil || created || got.Current().ID() != k.ID() {
					t.Fatalf("mode %04o: created %v, %v", tc.mode, created, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("mode %04o: loaded; want refused", tc.mode)
			}
			msg := err.Error()
			for _, want := range []string{path, "mode 0" + octal(tc.mode), "chmod 600 " + path} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			assertNoLeak(t, msg, nil, k)
			// The file is left as it is, key and all.
			if fi, _ := os.Stat(path); fi.Mode().Perm() != tc.mode {
				t.Errorf("mode changed to %04o", fi.Mode().Perm())
			}
		})
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestKeyFileContents(t *testing.T) {
	skipOnWindows(t)
	k := newKey(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	secretish := base64.StdEncoding.EncodeToString(raw[:31]) // parses, wrong length
	for _, tc := range []struct {
		name     string
		contents string
		wantKey  bool
		says     string
	}{
		{"key and newline", k.Encode() + "\n", true, ""},
		{"white space around", "\n\t  " + k.Encode() + " \r\n\n", true, ""},
		{"empty", "", false, "empty"},
		{"only white space", " \n", false, "empty"},
		{"short key", secretish + "\n", false, "31 bytes"},
		{"not base64", "password=" + secretish, false, "base64"},
		{"a key and a bad one", k.Encode() + "\n" + k.Encode()[:20] + "\n", false, "key 2 of 2"},
		{"too large", strings.Repeat(k.Encode()+"\n", 100), false, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tc.contents), 0o600); err != nil {
				t.Fatal(err)
			}
			got, created, err := seal.LoadOrCreateKeyFile(path)
			if tc.wantKey {
				if err != nil || created || got.Current().Encode() != k.Encode() {
					t.Fatalf("created %v, %v; want the key written", created, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded %v; want an error", got)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.says) {
				t.Errorf("error %q should name %s and say %q", msg, path, tc.says)
			}
			assertNoLeak(t, msg, nil, k)
			if strings.Contains(msg, secretish[:8]) {
				t.Errorf("error %q quotes the file", msg)
			}
			// A bad file is never replaced by a new key.
			if b, _ := os.ReadFile(path); string(b) != tc.contents {
				t.Error("the file was changed")
			}
		})
	}
}

func TestKeyFileNotAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := seal.LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a folder as key file: %v", err)
	}
}

// TestKeyFileRace starts processes (goroutines here) at once on a missing
// key file: all end with one key, which exactly one of them created.
func TestKeyFileRace(t *testing.T) {
	const rounds, racers = 20, 8
	for range rounds {
		path := filepath.Join(t.TempDir(), "new", "master.key")
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			keys    [racers]*seal.Keyring
			created [racers]bool
			errs    [racers]error
		)
		for i := range racers {
			wg.Go(func() {
				<-start
				keys[i], created[i], errs[i] = seal.LoadOrCreateKeyFile(path)
			})
		}
		close(start)
		wg.Wait()
		creators := 0
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("racer %d: %v", i, errs[i])
			}
			if keys[i].Current().Encode() != keys[0].Current().Encode() {
				t.Fatalf("racer %d has key %s, racer 0 has %s", i, keys[i].Current().ID(), keys[0].Current().ID())
			}
			if created[i] {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("%d racers say they created the file, want 1", creators)
		}
		if k, _, err := seal.LoadOrCreateKeyFile(path); err != nil || k.Current().Encode() != keys[0].Current().Encode() {
			t.Fatalf("the file holds another key than the racers got (%v)", err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
			t.Fatalf("the folder holds %d entries, want only the key file", len(entries))
		}
	}
}

func TestKeyFromEnv(t *testing.T) {
	k := newKey(t)
	const name = "PREFECT_TEST_SEAL_KEY"
	for _, tc := range []struct {
		name   string
		value  *string
		wantOK bool
		says   string
	}{
		{name: "unset"},
		{name: "set", value: ptr(k.Encode()), wantOK: true},
		{name: "set with a newline", value: ptr(k.Encode() + "\n"), wantOK: true},
		{name: "empty", value: ptr(""), says: "set but empty"},
		{name: "white space", value: ptr("  "), says: "set but empty"},
		{name: "short", value: ptr(k.Encode()[:40]), says: "base64"},
		{name: "truncated key", value: ptr(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))), says: "16 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.value == nil {
				t.Setenv(name, "")
				os.Unsetenv(name) // t.Setenv restores the original value afterwards
			} else {
				t.Setenv(name, *tc.value)
			}
			got, ok, err := seal.KeyFromEnv(name)
			if tc.says == "" {
				if err != nil || ok != tc.wantOK || (ok && got.Current().Encode() != k.Encode()) {
					t.Fatalf("KeyFromEnv = %v, %v, %v; want ok %v", got, ok, err, tc.wantOK)
				}
				return
			}
			if err == nil || ok {
				t.Fatalf("KeyFromEnv = %v, %v, %v; want an error", got, ok, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, name) || !strings.Contains(msg, tc.says) {
				t.Errorf("error %q should name %s and say %q", msg, name, tc.says)
			}
			if v := strings.TrimSpace(*tc.value); v != "" && strings.Contains(msg, v[:8]) {
				t.Errorf("error %q quotes the variable", msg)
			}
			if tc.says != "set but empty" && !errors.Is(err, seal.ErrInvalidKey) {
				t.Errorf("error %v does not match ErrInvalidKey", err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// A rotation's key file lists the new key then the old; it is replaced
// whole, keeps mode 0600, and reads back in order.
func TestWriteKeyFileSeveralKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	old, _, err := seal.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	next, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.WriteKeyFile(path, next, old.Current()); err != nil {
		t.Fatal(err)
	}
	r, err := seal.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := r.Keys()
	if len(keys) != 2 || keys[0].ID() != next.ID() || keys[1].ID() != old.Current().ID() || r.Current().ID() != next.ID() {
		t.Fatalf("read back %v; want %s then %s", r, next.ID(), old.Current().ID())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrite: %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	// What the old key sealed, the rotated keyring opens.
	s, err := seal.Seal(old.Current(), "t", "n", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Open("t", "n", s); err != nil || string(v) != "v" {
		t.Errorf("Open with the rotated keyring = %q, %v", v, err)
	}
	if err := seal.WriteKeyFile(path); err == nil {
		t.Error("WriteKeyFile with no keys succeeded")
	}
	if err := seal.WriteKeyFile(path, seal.MasterKey{}); err == nil {
		t.Error("WriteKeyFile with a zero key succeeded")
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("the folder holds %d entries, want the key file alone", len(ents))
	}
}

func TestKeyFromEnvSeveralKeys(t *testing.T) {
	a, _ := seal.NewMasterKey()
	b, _ := seal.NewMasterKey()
	for _, sep := range []string{",", " , ", "\n", " "} {
		t.Setenv("SEAL_TEST_KEYS", a.Encode()+sep+b.Encode())
		r, ok, err := seal.KeyFromEnv("SEAL_TEST_KEYS")
		if err != nil || !ok || len(r.Keys()) != 2 || r.Current().ID() != a.ID() {
			t.Errorf("separator %q: %v, %v, %v; want %s then %s", sep, r, ok, err, a.ID(), b.ID())
		}
	}
	t.Setenv("SEAL_TEST_KEYS", a.Encode()+",nope")
	if _, _, err := seal.KeyFromEnv("SEAL_TEST_KEYS"); err == nil || !strings.Contains(err.Error(), "key 2 of 2") || strings.Contains(err.Error(), a.Encode()) {
		t.Errorf("a bad second key: %v; want an error naming key 2 and quoting nothing", err)
	}
}

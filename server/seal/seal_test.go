package seal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"

	"github.com/prefect-go/prefect/server/seal"
)

func newKey(t testing.TB) seal.MasterKey {
	t.Helper()
	k, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSeal(t testing.TB, k seal.MasterKey, tenant, name string, pt []byte) seal.Sealed {
	t.Helper()
	s, err := seal.Seal(k, tenant, name, pt)
	if err != nil {
		t.Fatalf("Seal(%q, %q): %v", tenant, name, err)
	}
	return s
}

// clone copies s deeply, so that a test may alter it freely.
func clone(s seal.Sealed) seal.Sealed {
	s.WrappedKey = bytes.Clone(s.WrappedKey)
	s.Nonce = bytes.Clone(s.Nonce)
	s.Ciphertext = bytes.Clone(s.Ciphertext)
	return s
}

func TestRoundTrip(t *testing.T) {
	k := newKey(t)
	big := make([]byte, 256<<10)
	rand.Read(big)
	for _, tc := range []struct {
		name string
		pt   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"1 byte", []byte{0x42}},
		{"text", []byte("correct-horse-battery-staple-42")},
		{"256 KiB", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSeal(t, k, "acme", "DB_PASSWORD", tc.pt)
			if s.Version != seal.FormatVersion || s.KeyID != k.ID() {
				t.Errorf("Version, KeyID = %d, %q; want %d, %q", s.Version, s.KeyID, seal.FormatVersion, k.ID())
			}
			if len(s.WrappedKey) != 60 || len(s.Nonce) != 12 || len(s.Ciphertext) != len(tc.pt)+16 {
				t.Errorf("sizes: wrapped key %d, nonce %d, ciphertext %d; want 60, 12, %d", len(s.WrappedKey), len(s.Nonce), len(s.Ciphertext), len(tc.pt)+16)
			}
			// Shorter plaintexts turn up in random bytes by chance (a
			// byte in 1 run of 16 here); 16 bytes, never.
			if len(tc.pt) >= 16 && bytes.Contains(s.Ciphertext, tc.pt) {
				t.Error("the ciphertext contains the plaintext")
			}
			before := clone(s)
			got, err := seal.Open(k, "acme", "DB_PASSWORD", s)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.pt) {
				t.Fatalf("Open = %d bytes, not the %d sealed", len(got), len(tc.pt))
			}
			// The result is the caller's: writing to it leaves the row alone.
			for i := range got {
				got[i] ^= 0xff
			}
			if !bytes.Equal(s.Ciphertext, before.Ciphertext) || !bytes.Equal(s.Nonce, before.Nonce) {
				t.Error("Open changed the sealed value it was given")
			}
			if _, err := seal.Open(k, "acme", "DB_PASSWORD", s); err != nil {
				t.Errorf("second Open: %v", err)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	k, other := newKey(t), newKey(t)
	pt := []byte("correct horse battery staple")
	s := mustSeal(t, k, "acme", "DB_PASSWORD", pt)
	flip := func(b []byte, i int) { b[i] ^= 0x01 }
	for _, tc := range []struct {
		name   string
		key    seal.MasterKey
		tenant string
		secret string
		change func(*seal.Sealed)
		want   error
	}{
		{name: "wrong tenant", key: k, tenant: "acme2", secret: "DB_PASSWORD", want: seal.ErrOpen},
		{name: "empty tenant", key: k, tenant: "", secret: "DB_PASSWORD", want: seal.ErrOpen},
		{name: "wrong name", key: k, tenant: "acme", secret: "DB_PASSWORD2", want: seal.ErrOpen},
		{name: "name case", key: k, tenant: "acme", secret: "db_password", want: seal.ErrOpen},
		{name: "tenant and name swapped", key: k, tenant: "DB_PASSWORD", secret: "acme", want: seal.ErrOpen},
		{name: "wrong key", key: other, tenant: "acme", secret: "DB_PASSWORD", want: seal.ErrUnknownKey},
		{name: "wrong key under the right ID", key: other, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.KeyID = other.ID() }, want: seal.ErrOpen},
		{name: "key ID altered", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.KeyID = "0000000000000000" }, want: seal.ErrUnknownKey},
		{name: "key ID empty", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.KeyID = "" }, want: seal.ErrUnknownKey},
		{name: "version 0", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Version = 0 }, want: seal.ErrOpen},
		{name: "version 2", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Version = 2 }, want: seal.ErrOpen},
		{name: "version 257", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Version = 257 }, want: seal.ErrOpen},
		{name: "wrapped key first byte", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { flip(s.WrappedKey, 0) }, want: seal.ErrOpen},
		{name: "wrapped key last byte", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { flip(s.WrappedKey, 59) }, want: seal.ErrOpen},
		{name: "wrapped key truncated", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.WrappedKey = s.WrappedKey[:59] }, want: seal.ErrOpen},
		{name: "wrapped key extended", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.WrappedKey = append(s.WrappedKey, 0) }, want: seal.ErrOpen},
		{name: "wrapped key nil", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.WrappedKey = nil }, want: seal.ErrOpen},
		{name: "nonce first byte", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { flip(s.Nonce, 0) }, want: seal.ErrOpen},
		{name: "nonce last byte", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { flip(s.Nonce, 11) }, want: seal.ErrOpen},
		{name: "nonce truncated", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Nonce = s.Nonce[:11] }, want: seal.ErrOpen},
		{name: "nonce nil", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Nonce = nil }, want: seal.ErrOpen},
		{name: "ciphertext first byte", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { flip(s.Ciphertext, 0) }, want: seal.ErrOpen},
		{name: "ciphertext tag", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { flip(s.Ciphertext, len(s.Ciphertext)-1) }, want: seal.ErrOpen},
		{name: "ciphertext truncated", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Ciphertext = s.Ciphertext[:len(s.Ciphertext)-1] }, want: seal.ErrOpen},
		{name: "ciphertext extended", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Ciphertext = append(s.Ciphertext, 0) }, want: seal.ErrOpen},
		{name: "ciphertext shorter than a tag", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Ciphertext = s.Ciphertext[:15] }, want: seal.ErrOpen},
		{name: "ciphertext nil", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { s.Ciphertext = nil }, want: seal.ErrOpen},
		{name: "zero Sealed", key: k, tenant: "acme", secret: "DB_PASSWORD",
			change: func(s *seal.Sealed) { *s = seal.Sealed{} }, want: seal.ErrOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clone(s)
			if tc.change != nil {
				tc.change(&c)
			}
			got, err := seal.Open(tc.key, tc.tenant, tc.secret, c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %d bytes, %v; want an error matching %q", len(got), err, tc.want)
			}
			if got != nil {
				t.Errorf("Open returned %d bytes beside its error", len(got))
			}
			for _, other := range []error{seal.ErrOpen, seal.ErrUnknownKey} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("the error also matches %q", other)
				}
			}
			assertNoLeak(t, err.Error(), pt, k)
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.secret)) {
				t.Errorf("the error does not name the secret: %v", err)
			}
		})
	}
}

// TestOpenRefusesEveryAlteredBit flips each bit of the wrapped key, the
// nonce and the ciphertext in turn.
func TestOpenRefusesEveryAlteredBit(t *testing.T) {
	k := newKey(t)
	s := mustSeal(t, k, "t", "n", []byte("value"))
	fields := map[string]func(*seal.Sealed) []byte{
		"WrappedKey": func(s *seal.Sealed) []byte { return s.WrappedKey },
		"Nonce":      func(s *seal.Sealed) []byte { return s.Nonce },
		"Ciphertext": func(s *seal.Sealed) []byte { return s.Ciphertext },
	}
	for field, bytesOf := range fields {
		for i := range len(bytesOf(&s)) * 8 {
			c := clone(s)
			bytesOf(&c)[i/8] ^= 1 << (i % 8)
			if _, err := seal.Open(k, "t", "n", c); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("%s bit %d flipped: Open error %v, want ErrOpen", field, i, err)
			}
		}
	}
}

// TestRowsDoNotMix moves sealed values, or parts of them, between rows.
func TestRowsDoNotMix(t *testing.T) {
	k := newKey(t)
	a := mustSeal(t, k, "acme", "A", []byte("value of A"))
	b := mustSeal(t, k, "acme", "B", []byte("value of B"))
	c := mustSeal(t, k, "other", "A", []byte("value of A elsewhere"))
	for _, tc := range []struct {
		name           string
		tenant, secret string
		s              seal.Sealed
	}{
		{"A copied to B", "acme", "B", a},
		{"A copied to another tenant", "other", "A", a},
		{"other tenant's A copied to acme", "acme", "A", c},
		{"B's value under A's data key", "acme", "B", seal.Sealed{Version: 1, KeyID: k.ID(), WrappedKey: a.WrappedKey, Nonce: b.Nonce, Ciphertext: b.Ciphertext}},
		{"A's value under B's data key", "acme", "A", seal.Sealed{Version: 1, KeyID: k.ID(), WrappedKey: b.WrappedKey, Nonce: a.Nonce, Ciphertext: a.Ciphertext}},
		{"B's nonce", "acme", "A", seal.Sealed{Version: 1, KeyID: k.ID(), WrappedKey: a.WrappedKey, Nonce: b.Nonce, Ciphertext: a.Ciphertext}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := seal.Open(k, tc.tenant, tc.secret, tc.s); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

// TestAdditionalDataIsUnambiguous: tenant and name are length-prefixed, so
// moving bytes from one to the other changes the additional data.
func TestAdditionalDataIsUnambiguous(t *testing.T) {
	k := newKey(t)
	for _, tc := range []struct{ sealedFor, openedAs [2]string }{
		{[2]string{"ab", "c"}, [2]string{"a", "bc"}},
		{[2]string{"a", "bc"}, [2]string{"ab", "c"}},
		{[2]string{"", "abc"}, [2]string{"abc", ""}},
		{[2]string{"abc", ""}, [2]string{"", "abc"}},
		{[2]string{"a\x00", "b"}, [2]string{"a", "\x00b"}},
		{[2]string{"a\x00\x00\x00\x01b", ""}, [2]string{"a", "b"}},
	} {
		t.Run(fmt.Sprintf("%q-%q", tc.sealedFor[0], tc.sealedFor[1]), func(t *testing.T) {
			s := mustSeal(t, k, tc.sealedFor[0], tc.sealedFor[1], []byte("v"))
			if _, err := seal.Open(k, tc.sealedFor[0], tc.sealedFor[1], s); err != nil {
				t.Fatalf("Open for its own row: %v", err)
			}
			if got, err := seal.Open(k, tc.openedAs[0], tc.openedAs[1], s); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("Open as (%q, %q) = %q, %v; want ErrOpen", tc.openedAs[0], tc.openedAs[1], got, err)
			}
		})
	}
}

func TestRewrap(t *testing.T) {
	old, new := newKey(t), newKey(t)
	pt := []byte("s3cr3t")
	s := mustSeal(t, old, "acme", "TOKEN", pt)
	r, err := seal.Rewrap(old, new, "acme", "TOKEN", s)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if r.KeyID != new.ID() || r.Version != s.Version {
		t.Errorf("KeyID, Version = %q, %d; want %q, %d", r.KeyID, r.Version, new.ID(), s.Version)
	}
	if !bytes.Equal(r.Nonce, s.Nonce) || !bytes.Equal(r.Ciphertext, s.Ciphertext) {
		t.Error("Rewrap changed the value's nonce or ciphertext")
	}
	if bytes.Equal(r.WrappedKey, s.WrappedKey) {
		t.Error("Rewrap left the wrapped key as it was")
	}
	if got, err := seal.Open(new, "acme", "TOKEN", r); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("Open with the new key = %q, %v", got, err)
	}
	if _, err := seal.Open(old, "acme", "TOKEN", r); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("Open with the old key: %v, want ErrUnknownKey", err)
	}
	// The original row still opens with the old key: Rewrap does not alter s.
	if got, err := seal.Open(old, "acme", "TOKEN", s); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("Open of the original with the old key = %q, %v", got, err)
	}

	for _, tc := range []struct {
		name     string
		old, new seal.MasterKey
		secret   string
		s        seal.Sealed
		want     error
	}{
		{"wrong old key", new, new, "TOKEN", s, seal.ErrUnknownKey},
		{"wrong name", old, new, "TOKEN2", s, seal.ErrOpen},
		{"altered wrapped key", old, new, "TOKEN", func() seal.Sealed { c := clone(s); c.WrappedKey[5] ^= 1; return c }(), seal.ErrOpen},
		{"short nonce", old, new, "TOKEN", func() seal.Sealed { c := clone(s); c.Nonce = c.Nonce[:4]; return c }(), seal.ErrOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := seal.Rewrap(tc.old, tc.new, "acme", tc.secret, tc.s); !errors.Is(err, tc.want) {
				t.Fatalf("Rewrap: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeyringRotation(t *testing.T) {
	old, new := newKey(t), newKey(t)
	before := seal.NewKeyring(old)
	sOld, err := before.Seal("acme", "A", []byte("sealed before"))
	if err != nil {
		t.Fatal(err)
	}

	during := seal.NewKeyring(new, old)
	if during.Current().ID() != new.ID() {
		t.Fatalf("Current = %v, want %v", during.Current(), new)
	}
	sNew, err := during.Seal("acme", "B", []byte("sealed during"))
	if err != nil {
		t.Fatal(err)
	}
	if sNew.KeyID != new.ID() {
		t.Errorf("Seal during the rotation used key %s, want the new %s", sNew.KeyID, new.ID())
	}
	for name, s := range map[string]seal.Sealed{"A": sOld, "B": sNew} {
		if _, err := during.Open("acme", name, s); err != nil {
			t.Errorf("Open %s during the rotation: %v", name, err)
		}
	}

	// Rewrap brings old rows to the new key and leaves new ones alone.
	rOld, err := during.Rewrap("acme", "A", sOld)
	if err != nil || rOld.KeyID != new.ID() {
		t.Fatalf("Rewrap of an old row: key %s, %v", rOld.KeyID, err)
	}
	rNew, err := during.Rewrap("acme", "B", sNew)
	if err != nil || !bytes.Equal(rNew.WrappedKey, sNew.WrappedKey) {
		t.Fatalf("Rewrap of a current row changed it (%v)", err)
	}

	after := seal.NewKeyring(new)
	if got, err := after.Open("acme", "A", rOld); err != nil || string(got) != "sealed before" {
		t.Errorf("Open of the rewrapped row after the rotation = %q, %v", got, err)
	}
	_, err = after.Open("acme", "A", sOld)
	if !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("Open of a row never rewrapped after the rotation: %v, want ErrUnknownKey", err)
	}
	if !strings.Contains(err.Error(), old.ID()) || !strings.Contains(err.Error(), new.ID()) {
		t.Errorf("the error should name the key wanted and the keys held: %v", err)
	}
	if k, ok := during.Key(old.ID()); !ok || k.ID() != old.ID() {
		t.Errorf("Key(old) = %v, %v", k, ok)
	}
	if got, want := during.String(), "seal.Keyring("+new.ID()+", "+old.ID()+")"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// TestZeroValues: the zero MasterKey and a nil Keyring fail, never panic.
func TestZeroValues(t *testing.T) {
	k := newKey(t)
	s := mustSeal(t, k, "t", "n", []byte("v"))
	var zero seal.MasterKey
	var nilRing *seal.Keyring
	emptyRing := seal.NewKeyring(zero, zero)
	for name, f := range map[string]func() error{
		"Seal":               func() error { _, err := seal.Seal(zero, "t", "n", nil); return err },
		"Open":               func() error { _, err := seal.Open(zero, "t", "n", s); return err },
		"Rewrap from zero":   func() error { _, err := seal.Rewrap(zero, k, "t", "n", s); return err },
		"Rewrap to zero":     func() error { _, err := seal.Rewrap(k, zero, "t", "n", s); return err },
		"nil Keyring Seal":   func() error { _, err := nilRing.Seal("t", "n", nil); return err },
		"nil Keyring Open":   func() error { _, err := nilRing.Open("t", "n", s); return err },
		"nil Keyring Rewrap": func() error { _, err := nilRing.Rewrap("t", "n", s); return err },
		"empty Keyring Seal": func() error { _, err := emptyRing.Seal("t", "n", nil); return err },
		"empty Keyring Open": func() error { _, err := emptyRing.Open("t", "n", s); return err },
	} {
		if err := f(); !errors.Is(err, seal.ErrNoKey) {
			t.Errorf("%s: %v, want an error matching ErrNoKey", name, err)
		}
	}
	if err := seal.WriteKeyFile(filepath.Join(t.TempDir(), "k"), k, zero); !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("WriteKeyFile with a zero key: %v, want an error matching ErrNoKey", err)
	}
	if !zero.IsZero() || zero.ID() != "" || zero.Encode() != "" || zero.String() != "seal.MasterKey(none)" {
		t.Errorf("zero MasterKey: IsZero %v, ID %q, Encode %q, String %q", zero.IsZero(), zero.ID(), zero.Encode(), zero.String())
	}
	if !nilRing.Current().IsZero() || nilRing.String() != "seal.Keyring(nil)" {
		t.Errorf("nil Keyring: Current %v, String %q", nilRing.Current(), nilRing.String())
	}
}

func TestNoncesAreUnique(t *testing.T) {
	const n = 10000
	k := newKey(t)
	nonces := make(map[string]bool, n)
	wrapNonces := make(map[string]bool, n)
	wrapped := make(map[string]bool, n)
	for range n {
		s := mustSeal(t, k, "t", "n", []byte("same value every time"))
		nonces[string(s.Nonce)] = true
		wrapNonces[string(s.WrappedKey[:12])] = true
		wrapped[string(s.WrappedKey)] = true
	}
	if len(nonces) != n || len(wrapNonces) != n || len(wrapped) != n {
		t.Fatalf("distinct in %d seals: %d value nonces, %d wrapping nonces, %d wrapped keys", n, len(nonces), len(wrapNonces), len(wrapped))
	}
}

// TestConcurrentUse shares one key and one keyring among goroutines; run
// with -race.
func TestConcurrentUse(t *testing.T) {
	old, new := newKey(t), newKey(t)
	r := seal.NewKeyring(new, old)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprint("S", i)
			pt := []byte(name + " value")
			for range 50 {
				s, err := seal.Seal(old, "t", name, pt)
				if err == nil {
					s, err = r.Rewrap("t", name, s)
				}
				var got []byte
				if err == nil {
					got, err = r.Open("t", name, s)
				}
				if err == nil && !bytes.Equal(got, pt) {
					err = fmt.Errorf("%s: Open returned another value", name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMasterKeyID(t *testing.T) {
	k := newKey(t)
	raw, err := base64.StdEncoding.DecodeString(k.Encode())
	if err != nil || len(raw) != 32 {
		t.Fatalf("Encode gives %d bytes, %v", len(raw), err)
	}
	sum := sha256.Sum256(raw)
	if want := hex.EncodeToString(sum[:8]); k.ID() != want {
		t.Errorf("ID = %q, want %q", k.ID(), want)
	}
	k2, err := seal.ParseMasterKey("  " + k.Encode() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID() != k.ID() || k2.Encode() != k.Encode() {
		t.Error("ParseMasterKey(Encode()) is another key")
	}
	// A parsed key opens what the original sealed.
	s := mustSeal(t, k, "t", "n", []byte("v"))
	if _, err := seal.Open(k2, "t", "n", s); err != nil {
		t.Errorf("Open with the parsed key: %v", err)
	}
}

// assertNoLeak fails if text shows any form of k or the plaintext.
func assertNoLeak(t *testing.T, text string, plaintext []byte, keys ...seal.MasterKey) {
	t.Helper()
	if len(plaintext) > 0 && strings.Contains(text, string(plaintext)) {
		t.Errorf("the plaintext shows in %q", text)
	}
	for _, k := range keys {
		raw, _ := base64.StdEncoding.DecodeString(k.Encode())
		for form, s := range map[string]string{
			"base64":          k.Encode(),
			"base64 unpadded": strings.TrimRight(k.Encode(), "="),
			"base64 URL":      base64.RawURLEncoding.EncodeToString(raw),
			"raw":             string(raw),
			"hex":             hex.EncodeToString(raw),
			"HEX":             strings.ToUpper(hex.EncodeToString(raw)),
			"Go bytes":        fmt.Sprint(raw),
		} {
			if strings.Contains(text, s) {
				t.Errorf("the key (%s) shows in %q", form, text)
			}
		}
		// Part of the key is a leak too: no 8 bytes of the base64 form.
		for i := 0; i+8 <= len(k.Encode()); i++ {
			if strings.Contains(text, k.Encode()[i:i+8]) {
				t.Errorf("part of the key shows in %q", text)
				break
			}
		}
	}
}

func TestMasterKeyDoesNotShow(t *testing.T) {
	k := newKey(t)
	want := "seal.MasterKey(" + k.ID() + ")"
	type holder struct {
		Key    seal.MasterKey
		hidden seal.MasterKey
		Ptr    *seal.MasterKey
		List   []seal.MasterKey
		Map    map[string]seal.MasterKey
	}
	h := holder{Key: k, hidden: k, Ptr: &k, List: []seal.MasterKey{k}, Map: map[string]seal.MasterKey{"k": k}}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
		outputs = append(outputs,
			fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h),
			fmt.Sprintf(verb, []any{k}), fmt.Sprintf(verb, seal.NewKeyring(k)))
	}
	outputs = append(outputs, fmt.Sprint(k), fmt.Sprintln(k), k.String(), k.GoString())
	if got := fmt.Sprint(k); got != want {
		t.Errorf("Sprint = %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%q", k); got != `"`+want+`"` {
		t.Errorf("%%q = %s, want %q", got, want)
	}

	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	if j, _ := json.Marshal(k); string(j) != `"`+want+`"` {
		t.Errorf("json = %s, want %q", j, want)
	}
	mk, _ := json.Marshal(map[seal.MasterKey]int{k: 1}) // a map key uses MarshalText
	outputs = append(outputs, string(mk))

	var logs bytes.Buffer
	for _, handler := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		log := slog.New(handler)
		log.Info("key loaded", "key", k, "ptr", &k, slog.Any("any", k), slog.Group("g", "key", k), "holder", h)
		log.With("key", k).Info("with")
	}
	outputs = append(outputs, logs.String())
	if !strings.Contains(logs.String(), "key="+want) {
		t.Errorf("slog text does not show %s: %s", want, logs.String())
	}

	var tpl bytes.Buffer
	template.Must(template.New("").Parse("{{.}} {{.Key}} {{printf \"%x\" .Key}}")).Execute(&tpl, h)
	outputs = append(outputs, tpl.String())

	for _, out := range outputs {
		assertNoLeak(t, out, nil, k)
	}
}

func TestParseMasterKeyErrors(t *testing.T) {
	raw := make([]byte, 48)
	rand.Read(raw)
	std := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, input, says string
	}{
		{"empty", "", "empty"},
		{"white space", " \n\t", "empty"},
		{"31 bytes", std(raw[:31]), "31 bytes"},
		{"33 bytes", std(raw[:33]), "33 bytes"},
		{"48 bytes", std(raw), "48 bytes"},
		{"hex", hex.EncodeToString(raw[:32]), "48 bytes"},
		{"URL alphabet", strings.Repeat("-_", 21) + "A=", "base64"},
		{"unpadded", strings.TrimRight(std(raw[:32]), "="), "base64"},
		{"not base64", "p4ssw0rd-with-hyphens-and-words-WXYZ!", "base64"},
		{"a space inside", std(raw[:16]) + " " + std(raw[16:32]), "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := seal.ParseMasterKey(tc.input)
			if !errors.Is(err, seal.ErrInvalidKey) {
				t.Fatalf("ParseMasterKey = %v, %v; want ErrInvalidKey", k, err)
			}
			if !k.IsZero() {
				t.Error("a key beside the error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.says) {
				t.Errorf("error %q does not say %q", msg, tc.says)
			}
			in := strings.TrimSpace(tc.input)
			for i := 0; i+6 <= len(in); i++ {
				if strings.Contains(msg, in[i:i+6]) {
					t.Fatalf("error %q quotes the input (%q)", msg, in[i:i+6])
				}
			}
		})
	}
}

// golden returns a row sealed, once, by FormatVersion 1 of this package:
// "hunter2" for the secret DB_PASSWORD of tenant acme, under a key made of
// the bytes "0123456789abcdef0123456789abcdef".
func golden(t testing.TB) (k seal.MasterKey, tenant, name string, s seal.Sealed, plaintext []byte) {
	t.Helper()
	k, err := seal.ParseMasterKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return k, "acme", "DB_PASSWORD", seal.Sealed{
		Version:    1,
		KeyID:      "3eb1bd439947eb76",
		WrappedKey: unhex("e8a5287e39ea38b2df9f25dcebe76f4cb047fcb2e123359393a1a411991771048f8f9f088d7d6f180fbd1db956f7e469ebb2210ced43ce6cdf3813b5"),
		Nonce:      unhex("04f1acf3317a02fffd46c12c"),
		Ciphertext: unhex("5759c03d045e81009303b6a64d8da212a5f5840bcbf74e"),
	}, []byte("hunter2")
}

// TestGolden: rows sealed by an earlier build keep opening; the format
// does not drift.
func TestGolden(t *testing.T) {
	k, tenant, name, s, want := golden(t)
	if k.ID() != s.KeyID {
		t.Fatalf("ID = %s, want %s", k.ID(), s.KeyID)
	}
	got, err := seal.Open(k, tenant, name, s)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Open = %q, %v; want %q", got, err, want)
	}
}

// TestFormat opens the golden row with nothing but the standard library and
// the layout the package documents, so that the documentation is the format.
func TestFormat(t *testing.T) {
	k, tenant, name, s, want := golden(t)
	master, _ := base64.StdEncoding.DecodeString(k.Encode())
	ad := func(purpose byte) []byte {
		b := append([]byte("prefect-go/seal\x00"), 1, purpose)
		b = binary.BigEndian.AppendUint32(b, uint32(len(tenant)))
		b = append(b, tenant...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
		return append(b, name...)
	}
	gcm := func(key []byte) cipher.AEAD {
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			t.Fatal(err)
		}
		return aead
	}
	wrapKey, err := hkdf.Key(sha256.New, master, nil, "prefect-go/seal v1 data key wrapping", 32)
	if err != nil {
		t.Fatal(err)
	}
	dek, err := gcm(wrapKey).Open(nil, s.WrappedKey[:12], s.WrappedKey[12:], ad('K'))
	if err != nil {
		t.Fatalf("unwrapping the data key: %v", err)
	}
	got, err := gcm(dek).Open(nil, s.Nonce, s.Ciphertext, ad('V'))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("opening the value = %q, %v", got, err)
	}
}

// FuzzOpen: whatever a row holds, Open fails cleanly, never panics, and
// succeeds only for the row as sealed.
func FuzzOpen(f *testing.F) {
	// The row must be the same in every fuzzing process: the golden one.
	k, tenant, name, valid, pt := golden(f)
	f.Add(valid.Version, valid.KeyID, valid.WrappedKey, valid.Nonce, valid.Ciphertext, tenant, name)
	f.Add(valid.Version, valid.KeyID, valid.WrappedKey, valid.Nonce, valid.Ciphertext[:16], tenant, name)
	f.Add(2, valid.KeyID, valid.WrappedKey, valid.Nonce, valid.Ciphertext, tenant, name)
	f.Add(valid.Version, valid.KeyID, valid.WrappedKey, valid.Nonce, valid.Ciphertext, "acm", "eDB_PASSWORD")
	f.Add(1, "", []byte{}, []byte{}, []byte{}, "", "")
	f.Add(-1, strings.Repeat("x", 200), make([]byte, 60), make([]byte, 12), make([]byte, 16), "\x00", "\xff")
	f.Fuzz(func(t *testing.T, version int, keyID string, wrapped, nonce, ct []byte, tenant, name string) {
		s := seal.Sealed{Version: version, KeyID: keyID, WrappedKey: wrapped, Nonce: nonce, Ciphertext: ct}
		got, err := seal.Open(k, tenant, name, s)
		rowOK := tenant == "acme" && name == "DB_PASSWORD"
		isValid := rowOK && version == valid.Version && keyID == valid.KeyID &&
			bytes.Equal(wrapped, valid.WrappedKey) && bytes.Equal(nonce, valid.Nonce) && bytes.Equal(ct, valid.Ciphertext)
		switch {
		case isValid && (err != nil || !bytes.Equal(got, pt)):
			t.Fatalf("the sealed row: Open = %q, %v", got, err)
		case !isValid && err == nil:
			t.Fatalf("Open of an altered row succeeded: %q", got)
		case !isValid && got != nil:
			t.Fatalf("Open returned %d bytes beside its error", len(got))
		case !isValid && !errors.Is(err, seal.ErrOpen) && !errors.Is(err, seal.ErrUnknownKey):
			t.Fatalf("Open error matches neither ErrOpen nor ErrUnknownKey: %v", err)
		}
		if err != nil {
			assertNoLeak(t, err.Error(), pt, k)
		}
		// Rewrap reads the same rows: no panic, and no success unless the
		// wrapped key is intact (Rewrap does not read the value).
		keyIntact := rowOK && version == valid.Version && keyID == valid.KeyID &&
			bytes.Equal(wrapped, valid.WrappedKey) && len(nonce) == 12 && len(ct) >= 16
		if _, err := seal.Rewrap(k, k, tenant, name, s); !keyIntact && err == nil {
			t.Fatal("Rewrap of a row with an altered wrapped key succeeded")
		}
	})
}

// Cost of sealing and opening a 1 KiB value:
//
//	go test -run '^$' -bench . -benchmem ./server/seal/
func BenchmarkSeal(b *testing.B) {
	k := newKey(b)
	pt := make([]byte, 1024)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal.Seal(k, "acme", "DB_PASSWORD", pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := newKey(b)
	s := mustSeal(b, k, "acme", "DB_PASSWORD", make([]byte, 1024))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal.Open(k, "acme", "DB_PASSWORD", s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewrap(b *testing.B) {
	old, new := newKey(b), newKey(b)
	s := mustSeal(b, old, "acme", "DB_PASSWORD", make([]byte, 1024))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal.Rewrap(old, new, "acme", "DB_PASSWORD", s); err != nil {
			b.Fatal(err)
		}
	}
}

package seal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/server/seal"
)

func TestKeyFileFollowsRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	f, created, err := seal.OpenKeyFile(path)
	if err != nil || !created || f.Path() != path {
		t.Fatalf("OpenKeyFile = %v, %v, %v", f, created, err)
	}
	first, err := f.Keyring(false)
	if err != nil {
		t.Fatal(err)
	}
	next, _ := seal.NewMasterKey()
	if err := seal.WriteKeyFile(path, next, first.Current()); err != nil {
		t.Fatal(err)
	}
	// Within the check interval, the keyring held is served as it is.
	if r, err := f.Keyring(false); err != nil || r != first {
		t.Errorf("Keyring(false) right after a change = %v, %v; want the cached %v", r, err, first)
	}
	// Asked to refresh, it reads the new file.
	r, err := f.Keyring(true)
	if err != nil || r.Current().ID() != next.ID() || len(r.Keys()) != 2 {
		t.Fatalf("Keyring(true) = %v, %v; want %s first of two", r, err, next.ID())
	}
	// An unchanged file is not read again.
	if again, err := f.Keyring(true); err != nil || again != r {
		t.Errorf("Keyring(true) of an unchanged file = %v, %v; want the same keyring", again, err)
	}
	// A broken file keeps the last good keyring, with an error.
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad, err := f.Keyring(true)
	if err == nil || bad != r || !strings.Contains(err.Error(), "still opening") {
		t.Errorf("Keyring(true) of a broken file = %v, %v; want the last good keyring and an error", bad, err)
	}
	// The error stays until the file loads again: no caller seals with a
	// keyring the file may have retired.
	if _, err := f.Keyring(false); err == nil {
		t.Error("Keyring(false) after a failed load: no error")
	}
	if err := seal.WriteKeyFile(path, next); err != nil {
		t.Fatal(err)
	}
	if fixed, err := f.Keyring(true); err != nil || len(fixed.Keys()) != 1 || fixed.Current().ID() != next.ID() {
		t.Errorf("Keyring(true) of the fixed file = %v, %v; want %s alone", fixed, err, next.ID())
	}
	if _, err := f.Keyring(false); err != nil {
		t.Errorf("Keyring(false) once fixed: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	a, _ := seal.NewMasterKey()
	b, _ := seal.NewMasterKey()
	ra, rb := seal.NewKeyring(a), seal.NewKeyring(b)
	fp := func(r *seal.Keyring, tenant, data string) string {
		t.Helper()
		s, err := r.Fingerprint(tenant, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	x := fp(ra, "acme", `{"PW":"Summer2024"}`)
	if x != fp(ra, "acme", `{"PW":"Summer2024"}`) {
		t.Error("equal data, unequal fingerprints")
	}
	for what, other := range map[string]string{
		"other data":   fp(ra, "acme", `{"PW":"Summer2025"}`),
		"other tenant": fp(ra, "globex", `{"PW":"Summer2024"}`),
		"other key":    fp(rb, "acme", `{"PW":"Summer2024"}`),
	} {
		if other == x {
			t.Errorf("%s gives the same fingerprint", what)
		}
	}
	if _, err := seal.NewKeyring(seal.MasterKey{}).Fingerprint("acme", nil); err == nil {
		t.Error("a fingerprint without a key")
	}
}

package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/seal"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/store"
)

// A server following a key file reads secrets another process rewrapped
// under a new key at once (an unknown key makes it read the file again),
// and seals under the new key once it has looked.
func TestKeySourceFollowsRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := st.CreateAPIKey(ctx, tn.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	kf, _, err := seal.OpenKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := kf.Keyring(false)
	f := &fixture{}
	f.srv = httptest.NewServer(server.New(st, old, server.WithKeySource(kf)))
	t.Cleanup(f.srv.Close)
	c := newClient(t, f, key)
	if err := c.SetSecret(ctx, "DB", "v1"); err != nil {
		t.Fatal(err)
	}

	// Another process rotates: new key first, every row rewrapped.
	next, _ := seal.NewMasterKey()
	if err := seal.WriteKeyFile(kf.Path(), next, old.Current()); err != nil {
		t.Fatal(err)
	}
	if n, err := store.RewrapAll(ctx, st, seal.NewKeyring(next, old.Current())); err != nil || n != 1 {
		t.Fatalf("RewrapAll = %d, %v", n, err)
	}
	// Drop the old key too: the server must now read with the new one.
	if err := seal.WriteKeyFile(kf.Path(), next); err != nil {
		t.Fatal(err)
	}
	if v, err := c.SecretValue(ctx, "DB"); err != nil || v != "v1" {
		t.Fatalf("after the rotation, DB = %v, %v", v, err)
	}
	if err := c.SetSecret(ctx, "NEW", "v2"); err != nil {
		t.Fatal(err)
	}
	sl, _, err := st.Secret(ctx, tn.ID, "NEW")
	if err != nil || sl.KeyID != next.ID() {
		t.Errorf("a secret set after the server looked is under key %q (%v); want %s", sl.KeyID, err, next.ID())
	}
}

// The API key is checked before the body is read: a caller without one
// gets 401 even for a body far over the limit.
func TestAuthenticateBeforeReadingBody(t *testing.T) {
	f := start(t)
	body := strings.NewReader(`{"query":"` + strings.Repeat("x", 8<<20) + `"}`)
	resp, err := http.Post(f.srv.URL+"/graphql", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an 8 MiB body without a key: HTTP %d, want 401", resp.StatusCode)
	}
}

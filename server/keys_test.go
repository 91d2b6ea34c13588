package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
)

// A server following a key file reads secrets another process rewrapped
// under a new key at once (an unknown key makes it read the file again),
// and seals under the new key once it has looked.
func TestKeySourceFollowsRotation(t *testing.T) {
	ctx := context.Background()
	env := servertest.New(t)
	st, tn, key := env.Store, env.Tenant, env.Key
	kf, _, err := seal.OpenKeyFile(filepath.Join(env.Dir, "master.key"))
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

// While the key file has changed but does not load, the server seals
// nothing (the file may have retired its key) and still opens what it can.
func TestStaleKeyFileRefusesToSeal(t *testing.T) {
	ctx := context.Background()
	env := servertest.New(t)
	st, tn, key := env.Store, env.Tenant, env.Key
	kf, _, err := seal.OpenKeyFile(filepath.Join(env.Dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := kf.Keyring(false)
	f := &fixture{srv: httptest.NewServer(server.New(st, ring, server.WithKeySource(kf)))}
	defer f.srv.Close()
	c := newClient(t, f, key)
	if err := c.SetSecret(ctx, "DB", "v1"); err != nil {
		t.Fatal(err)
	}
	// A rotation leaves a file this server may not read (here: mode 0644,
	// which key files refuse). Once the server looks, it stops sealing.
	next, _ := seal.NewMasterKey()
	if err := seal.WriteKeyFile(kf.Path(), next, ring.Current()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(kf.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.Keyring(true); err == nil {
		t.Fatal("a key file of mode 0644 loaded")
	}
	if err := c.SetSecret(ctx, "NEW", "v2"); err == nil || !strings.Contains(err.Error(), "internal") {
		t.Errorf("set_secret with a stale keyring: %v; want an internal error", err)
	}
	if _, _, err := st.Secret(ctx, tn.ID, "NEW"); err == nil {
		t.Error("a secret was sealed under a key the file may have retired")
	}
	if v, err := c.SecretValue(ctx, "DB"); err != nil || v != "v1" {
		t.Errorf("reading with the stale keyring: %v, %v", v, err)
	}
}

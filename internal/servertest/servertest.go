// Package servertest sets up the secret store server's parts for tests, as
// `prefect server start` does: a real store, a tenant "acme" with an API
// key, and a new master key.
//
//	env := servertest.New(t) // SQLite in t.TempDir(), closed when t ends
//	ts := httptest.NewServer(env.Handler())
//	c, _ := client.New(ts.URL, client.WithAPIKey(env.Key))
package servertest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
)

// Env is a store with a tenant and an API key, and a keyring to serve it.
type Env struct {
	Store  *store.SQL
	Dir    string        // the SQLite database's folder ("" for another store)
	Ring   *seal.Keyring // a new master key
	Tenant store.Tenant  // "acme"
	Key    string        // an API key of Tenant
	KeyID  string        // that key's ID
}

// New opens an SQLite store in a temporary folder, closed when tb ends, and
// sets it up as [On] does.
func New(tb testing.TB) *Env {
	tb.Helper()
	dir := tb.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "server.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	env := On(tb, st)
	env.Dir = dir
	return env
}

// On sets up st, which the caller closes: the tenant "acme", an API key of
// it and a new master key.
func On(tb testing.TB, st *store.SQL) *Env {
	tb.Helper()
	mk, err := seal.NewMasterKey()
	if err != nil {
		tb.Fatal(err)
	}
	env := &Env{Store: st, Ring: seal.NewKeyring(mk)}
	env.Tenant, env.Key, env.KeyID = env.AddTenant(tb, "acme")
	return env
}

// AddTenant creates a tenant and an API key of it.
func (e *Env) AddTenant(tb testing.TB, name string) (t store.Tenant, key, keyID string) {
	tb.Helper()
	ctx := context.Background()
	t, err := e.Store.CreateTenant(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	key, info, err := e.Store.CreateAPIKey(ctx, t.ID, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return t, key, info.ID
}

// Handler returns the server of the store under the keyring.
func (e *Env) Handler(opts ...server.Option) *server.Server {
	return server.New(e.Store, e.Ring, opts...)
}

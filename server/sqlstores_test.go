package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to look at the raw rows

	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/server/store"
)

// sqlFixture is the server over a real SQL store with two tenants.
type sqlFixture struct {
	*fixture
	st         *store.SQL
	env        *servertest.Env // tenant A ("acme"), and the keyring
	keyA, keyB string
	// raw returns every byte the database holds for the server's tables.
	raw func(t *testing.T) []byte
	// reopen opens the same database again: the store of a second server
	// sharing it. Closed when t ends.
	reopen func(t *testing.T) *store.SQL
}

// forEachSQLStore runs test against the server on SQLite and on PostgreSQL
// (see package pgtest).
func forEachSQLStore(t *testing.T, test func(t *testing.T, f *sqlFixture)) {
	setup := func(t *testing.T, st *store.SQL, raw func(t *testing.T) []byte, open func() (*store.SQL, error)) *sqlFixture {
		t.Cleanup(func() { st.Close() })
		env := servertest.On(t, st)
		_, keyB, _ := env.AddTenant(t, "globex")
		srv := httptest.NewServer(env.Handler())
		t.Cleanup(srv.Close)
		reopen := func(t *testing.T) *store.SQL {
			st, err := open()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return &sqlFixture{fixture: &fixture{srv: srv}, st: st, env: env, raw: raw, reopen: reopen, keyA: env.Key, keyB: keyB}
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		open := func() (*store.SQL, error) {
			return store.OpenSQLite(context.Background(), filepath.Join(dir, "server.db"))
		}
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		test(t, setup(t, st, func(t *testing.T) []byte {
			var all []byte
			ents, _ := os.ReadDir(dir)
			for _, e := range ents { // the database, its WAL and shared memory
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			return all
		}, open))
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		open := func() (*store.SQL, error) { return store.OpenPostgres(context.Background(), url) }
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		test(t, setup(t, st, func(t *testing.T) []byte {
			db, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var all []byte
			for _, table := range []string{"tenants", "api_keys", "secrets", "audit", "flows", "flow_runs", "task_runs", "run_logs"} {
				rows, err := db.Query(`SELECT t::text FROM ` + table + ` t`) // bytea as \x hex
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var row string
					if err := rows.Scan(&row); err != nil {
						t.Fatal(err)
					}
					all = append(all, row...)
				}
				rows.Close()
			}
			return all
		}, open))
	})
}

// The SPEC §5 operations as raw HTTP posts, variables as JSON strings the
// way Prefect 1's client sends them, against the real stores: round trip,
// tenant isolation, wrong keys, and no value or key in the database.
func TestSpecOverSQLStores(t *testing.T) {
	forEachSQLStore(t, func(t *testing.T, f *sqlFixture) {
		const value = "plaintext-canary-4b1d"
		set := func(key, name, v string) gqlResponse {
			_, out := f.gql(t, key, opSet, map[string]any{"input": map[string]any{"name": name, "value": v}}, true)
			return out
		}
		if out := set(f.keyA, "DB_PASSWORD", value); string(out.Data["set_secret"]) != `{"success":true}` {
			t.Fatalf("set_secret: %s", out.messages())
		}
		if out := set(f.keyB, "DB_PASSWORD", "globex-own"); len(out.Errors) > 0 {
			t.Fatalf("set_secret of the other tenant: %s", out.messages())
		}
		_, out := f.gql(t, f.keyA, opValue, map[string]any{"name": "DB_PASSWORD"}, true)
		if got := string(out.Data["secret_value"]); got != `"`+value+`"` {
			t.Errorf("secret_value = %s (%s)", got, out.messages())
		}
		_, out = f.gql(t, f.keyB, opValue, map[string]any{"name": "DB_PASSWORD"}, true)
		if got := string(out.Data["secret_value"]); got != `"globex-own"` {
			t.Errorf("the other tenant reads %s (%s)", got, out.messages())
		}
		_, out = f.gql(t, f.keyA, opNames, nil, true)
		if got := string(out.Data["secret_names"]); got != `["DB_PASSWORD"]` {
			t.Errorf("secret_names = %s", got)
		}
		// Deleting in one tenant leaves the other's.
		_, out = f.gql(t, f.keyB, opDelete, map[string]any{"input": map[string]any{"name": "DB_PASSWORD"}}, true)
		if string(out.Data["delete_secret"]) != `{"success":true}` {
			t.Fatalf("delete_secret: %s", out.messages())
		}
		_, out = f.gql(t, f.keyB, opValue, map[string]any{"name": "DB_PASSWORD"}, true)
		if !strings.Contains(out.messages(), "No value found for the requested key") {
			t.Errorf("after the delete: %s", out.messages())
		}
		_, out = f.gql(t, f.keyA, opValue, map[string]any{"name": "DB_PASSWORD"}, true)
		if string(out.Data["secret_value"]) != `"`+value+`"` {
			t.Errorf("the other tenant's delete removed acme's secret: %s", out.messages())
		}
		// Wrong keys.
		for _, key := range []string{f.keyA + "x", "pgo_" + strings.Repeat("A", 43), ""} {
			status, raw, _ := f.post(t, key, "/graphql", `{"query":"{ secret_names }"}`)
			if status != 401 || !strings.Contains(raw, "UNAUTHENTICATED") {
				t.Errorf("key of %d bytes: HTTP %d %s", len(key), status, raw)
			}
		}
		// Nothing in the database holds the value or a key, in any form.
		all := f.raw(t)
		for _, needle := range []string{value, hex.EncodeToString([]byte(value)), f.keyA, f.keyB, strings.TrimPrefix(f.keyA, "pgo_")} {
			if bytes.Contains(all, []byte(needle)) {
				t.Errorf("the database holds a value or an API key in clear (%d-byte needle)", len(needle))
			}
		}
		if !bytes.Contains(all, []byte("DB_PASSWORD")) {
			t.Error("the scan of the database found not even the secret's name: it scans nothing")
		}
	})
}

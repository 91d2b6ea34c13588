// Package pgtest gives each test a PostgreSQL schema of its own, in the
// database that $PREFECT_TEST_DATABASE_URL names.
//
// CI starts a throwaway cluster with .ci/postgres and sets the variable; on
// a machine without it, tests that need PostgreSQL skip, except when
// CI=true, where a missing database fails them:
//
//	dir=$(mktemp -d); export PREFECT_TEST_DATABASE_URL=$(.ci/postgres start "$dir")
//	go test ./...
//	.ci/postgres stop "$dir"
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the URL of the test database.
const EnvURL = "PREFECT_TEST_DATABASE_URL"

// URL returns the URL of a new, empty schema of the test database, which
// the connection's search_path selects, and drops the schema when t ends.
// Without a test database, t skips, or fails when $CI is "true".
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set: .ci/run starts PostgreSQL with .ci/postgres and sets it", EnvURL)
		}
		t.Skipf("no PostgreSQL: set %s (see .ci/postgres) to run this test", EnvURL)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/internal/pgtest"
)

// Servers sharing one database may start at once: the advisory lock lets
// exactly one of them apply each migration.
func TestPostgresConcurrentMigrations(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	const servers = 6
	stores := make([]*SQL, servers)
	errs := make([]error, servers)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		defer stores[i].Close()
		if !stores[i].postgres {
			t.Fatalf("Open(%q) did not open PostgreSQL", url)
		}
	}
	var n int
	if err := stores[0].db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) {
		t.Errorf("%d rows in schema_migrations, want %d", n, len(migrations))
	}
	// What one replica writes, another reads.
	tn := mustTenant(t, stores[0], "acme")
	if got, err := stores[servers-1].Tenant(ctx, "acme"); err != nil || got.ID != tn.ID {
		t.Errorf("second replica reads %+v, %v; want tenant %s", got, err, tn.ID)
	}
}

// A URL's password never reaches an error.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	const pw = "hunter2-CANARY"
	for _, url := range []string{
		"postgres://user:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", // nothing listens on port 1
		"postgres://user:" + pw + "@127.0.0.1:notaport/db",
		"postgresql://user:" + pw + "@[::1/db",
	} {
		s, err := Open(ctx, url)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%d-byte URL) succeeded", len(url))
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error holds the password: %v", err)
		}
		if !strings.Contains(err.Error(), "PostgreSQL") {
			t.Errorf("error does not say what failed: %v", err)
		}
	}
}

func TestIsPostgresURL(t *testing.T) {
	for target, want := range map[string]bool{
		"postgres://h/db":             true,
		"postgresql://u@h:5432/db":    true,
		"/var/lib/prefect/server.db":  false,
		"postgres.db":                 false,
		"./postgres://not-a-url-here": false,
	} {
		if got := IsPostgresURL(target); got != want {
			t.Errorf("IsPostgresURL(%q) = %v, want %v", target, got, want)
		}
	}
}

// A database of an older schema is brought up to date on open, its rows
// kept: here a version 1 audit log gains the count column, 1 for old rows.
func TestUpgradeFromVersion1(t *testing.T) { forEachDB(t, testUpgradeFromVersion1) }

func testUpgradeFromVersion1(t *testing.T, s *SQL, path string) {
	ctx := context.Background()
	// Rebuild the database at version 1 in place.
	for _, stmt := range []string{`DROP TABLE flow_schedules`, `DROP TABLE revoked_api_keys`, `DROP TABLE run_logs`, `DROP TABLE task_runs`, `DROP TABLE flow_runs`, `DROP TABLE flows`, `DROP TABLE audit`, `DROP TABLE secrets`, `DROP TABLE api_keys`, `DROP TABLE tenants`, `DELETE FROM schema_migrations`} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigration(ctx, conn, migrations[0], s.postgres); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO audit (at, tenant_id, key_id, operation, secret_name, outcome) VALUES (1, 'a', 'k', 'get', 'X', 'ok')`); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(ctx); v != 1 {
		t.Fatalf("rebuilt at version %d, want 1", v)
	}
	if err := migrate(ctx, s.db, s.postgres); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(ctx); v != SchemaVersion {
		t.Errorf("after migrating: version %d, want %d", v, SchemaVersion)
	}
	got, err := s.AuditLog(ctx, "a", 0)
	if err != nil || len(got) != 1 || got[0].Count != 1 || got[0].SecretName != "X" {
		t.Errorf("the version 1 row after migrating: %+v, %v", got, err)
	}
}

// isUnique knows each database's unique violation by its code, and
// nothing else for one.
func TestIsUnique(t *testing.T) { forEachDB(t, testIsUnique) }

func testIsUnique(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	ins := `INSERT INTO tenants (id, name, created) VALUES ($1, $2, 0)`
	if _, err := s.db.ExecContext(ctx, ins, "id-1", "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := s.db.ExecContext(ctx, ins, "id-2", "acme")
	if err == nil || !isUnique(err) {
		t.Errorf("a duplicate name: %v; isUnique says no", err)
	}
	if _, err := s.db.ExecContext(ctx, ins, "id-1", "other"); err == nil || !isUnique(err) {
		t.Errorf("a duplicate primary key: %v; isUnique says no", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, name, hash, created) VALUES ('k', 'no-such-tenant', 'n', $1, 0)`, []byte{1})
	if err == nil || isUnique(err) {
		t.Errorf("a foreign key violation: %v; isUnique says yes", err)
	}
	// Many creating one tenant at once: one wins, the others see ErrExists.
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = s.CreateTenant(ctx, "globex") })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrExists):
			t.Errorf("a losing CreateTenant: %v; want ErrExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d CreateTenant calls won, want 1", won)
	}
}

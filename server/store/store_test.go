package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/server/seal"
)

func openTest(t *testing.T) (*SQL, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "secrets.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// forEachDB runs test on a new SQLite store (path is its file) and on a
// new PostgreSQL store (path is ""; see package pgtest).
func forEachDB(t *testing.T, test func(t *testing.T, s *SQL, path string)) {
	t.Run("sqlite", func(t *testing.T) {
		s, path := openTest(t)
		test(t, s, path)
	})
	t.Run("postgres", func(t *testing.T) {
		s, err := OpenPostgres(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		test(t, s, "")
	})
}

func TestTenantsAndKeys(t *testing.T)  { forEachDB(t, testTenantsAndKeys) }
func TestSecretLifecycle(t *testing.T) { forEachDB(t, testSecretLifecycle) }
func TestTenantIsolation(t *testing.T) { forEachDB(t, testTenantIsolation) }
func TestRotation(t *testing.T)        { forEachDB(t, testRotation) }
func TestAuditLog(t *testing.T)        { forEachDB(t, testAuditLog) }
func TestConcurrentPuts(t *testing.T)  { forEachDB(t, testConcurrentPuts) }

func newKey(t *testing.T) seal.MasterKey {
	t.Helper()
	k, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSeal(t *testing.T, k seal.MasterKey, tenant, name, value string) seal.Sealed {
	t.Helper()
	s, err := seal.Seal(k, tenant, name, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustTenant(t *testing.T, s Store, name string) Tenant {
	t.Helper()
	tn, err := s.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// dirBytes returns the contents of every file in dir (database, WAL, SHM).
func dirBytes(t *testing.T, dir string) []byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestOpenMigratesOnceAndRecordsVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new", "dir", "secrets.db")
	for i := range 3 {
		s, err := OpenSQLite(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != SchemaVersion {
			t.Errorf("open %d: schema version %d, want %d", i, v, SchemaVersion)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations) {
			t.Errorf("open %d: %d rows in schema_migrations, want %d", i, n, len(migrations))
		}
		if i == 0 {
			mustTenant(t, s, "acme")
		} else if _, err := s.Tenant(ctx, "acme"); err != nil {
			t.Errorf("open %d: data lost on reopen: %v", i, err)
		}
		var mode string
		if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		var fk int
		if err := s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
		SchemaVersion+1, "from the future", 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := OpenSQLite(ctx, path); err == nil {
		s2.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

func testTenantsAndKeys(t *testing.T, s *SQL, path string) {
	ctx := context.Background()

	acme := mustTenant(t, s, "acme")
	if acme.ID == "" || acme.Created.IsZero() {
		t.Errorf("tenant %+v: missing ID or time", acme)
	}
	if _, err := s.CreateTenant(ctx, "acme"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate tenant: %v, want ErrExists", err)
	}
	if _, err := s.CreateTenant(ctx, ""); err == nil {
		t.Error("empty tenant name accepted")
	}
	got, err := s.Tenant(ctx, "acme")
	if err != nil || got != acme {
		t.Errorf("Tenant(acme) = %+v, %v; want %+v", got, err, acme)
	}
	if _, err := s.Tenant(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tenant(nobody): %v, want ErrNotFound", err)
	}

	key, info, err := s.CreateAPIKey(ctx, acme.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "pgo_") || len(key) != len("pgo_")+43 {
		t.Errorf("key has the wrong form (length %d)", len(key))
	}
	if info.TenantID != acme.ID || info.Name != "ci" || info.ID == "" {
		t.Errorf("KeyInfo = %+v", info)
	}
	key2, _, err := s.CreateAPIKey(ctx, acme.ID, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if key2 == key {
		t.Error("two keys are equal")
	}
	if _, _, err := s.CreateAPIKey(ctx, acme.ID, "ci"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate key name: %v, want ErrExists", err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "no-such-tenant", "ci"); !errors.Is(err, ErrNotFound) {
		t.Errorf("key for unknown tenant: %v, want ErrNotFound", err)
	}

	ai, err := s.Authenticate(ctx, key)
	if err != nil || ai != info {
		t.Errorf("Authenticate = %+v, %v; want %+v", ai, err, info)
	}
	for _, bad := range []string{"", "pgo_", key + "x", key[:len(key)-1], strings.ToUpper(key), "not a key"} {
		_, err := s.Authenticate(ctx, bad)
		if !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(%d-char key): %v, want ErrUnauthenticated", len(bad), err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error quotes the key: %v", err)
		}
	}

	if path == "" {
		return // PostgreSQL: no file to scan
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	all := dirBytes(t, filepath.Dir(path))
	for _, k := range []string{key, key2, strings.TrimPrefix(key, "pgo_")} {
		if bytes.Contains(all, []byte(k)) {
			t.Error("the database files hold a raw API key")
		}
	}
}

func testSecretLifecycle(t *testing.T, s *SQL, path string) {
	ctx := context.Background()
	k := newKey(t)
	acme := mustTenant(t, s, "acme")

	if _, _, err := s.Secret(ctx, acme.ID, "DB"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Secret before put: %v, want ErrNotFound", err)
	}
	before := time.Now()
	sl := mustSeal(t, k, acme.ID, "DB", "hunter2")
	m1, err := s.PutSecret(ctx, acme.ID, "DB", sl)
	if err != nil {
		t.Fatal(err)
	}
	if m1.Name != "DB" || m1.Version != 1 || m1.Created.Before(before.Add(-time.Second)) || !m1.Updated.Equal(m1.Created) {
		t.Errorf("first put: %+v", m1)
	}
	got, gm, err := s.Secret(ctx, acme.ID, "DB")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sl) {
		t.Error("the sealed value did not round-trip byte for byte")
	}
	if gm != m1 {
		t.Errorf("Secret meta = %+v, want %+v", gm, m1)
	}
	if v, err := seal.Open(k, acme.ID, "DB", got); err != nil || string(v) != "hunter2" {
		t.Errorf("opening the stored value: %q, %v", v, err)
	}

	sl2 := mustSeal(t, k, acme.ID, "DB", "correct horse")
	m2, err := s.PutSecret(ctx, acme.ID, "DB", sl2)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Version != 2 || !m2.Created.Equal(m1.Created) || m2.Updated.Before(m1.Updated) {
		t.Errorf("second put: %+v after %+v", m2, m1)
	}
	if got, _, _ := s.Secret(ctx, acme.ID, "DB"); !reflect.DeepEqual(got, sl2) {
		t.Error("update did not replace the sealed value")
	}

	for _, n := range []string{"zeta", "alpha", "Mid"} {
		if _, err := s.PutSecret(ctx, acme.ID, n, mustSeal(t, k, acme.ID, n, "v")); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Secrets(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list {
		names = append(names, fmt.Sprintf("%s@%d", m.Name, m.Version))
	}
	if want := []string{"DB@2", "Mid@1", "alpha@1", "zeta@1"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Secrets = %v, want %v", names, want)
	}

	if err := s.DeleteSecret(ctx, acme.ID, "DB"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, acme.ID, "DB"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Secret(ctx, acme.ID, "DB"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Secret after delete: %v, want ErrNotFound", err)
	}
	m3, err := s.PutSecret(ctx, acme.ID, "DB", sl)
	if err != nil || m3.Version != 1 {
		t.Errorf("put after delete: %+v, %v; want version 1", m3, err)
	}

	if _, err := s.PutSecret(ctx, "no-such-tenant", "DB", sl); !errors.Is(err, ErrNotFound) {
		t.Errorf("put for unknown tenant: %v, want ErrNotFound", err)
	}
	for _, bad := range []seal.Sealed{{}, {Version: 1, KeyID: "k"}} {
		if _, err := s.PutSecret(ctx, acme.ID, "X", bad); err == nil {
			t.Error("incomplete sealed value accepted")
		}
	}
	if _, err := s.PutSecret(ctx, acme.ID, "", sl); err == nil {
		t.Error("empty secret name accepted")
	}
}

func testTenantIsolation(t *testing.T, s *SQL, path string) {
	ctx := context.Background()
	k := newKey(t)
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	sa := mustSeal(t, k, a.ID, "shared", "A's value")
	if _, err := s.PutSecret(ctx, a.ID, "shared", sa); err != nil {
		t.Fatal(err)
	}

	if _, _, err := s.Secret(ctx, b.ID, "shared"); !errors.Is(err, ErrNotFound) {
		t.Errorf("B reads A's secret: %v", err)
	}
	if l, err := s.Secrets(ctx, b.ID); err != nil || len(l) != 0 {
		t.Errorf("B lists %v, %v; want nothing", l, err)
	}
	if err := s.DeleteSecret(ctx, b.ID, "shared"); !errors.Is(err, ErrNotFound) {
		t.Errorf("B deletes A's secret: %v", err)
	}
	mb, err := s.PutSecret(ctx, b.ID, "shared", mustSeal(t, k, b.ID, "shared", "B's value"))
	if err != nil || mb.Version != 1 {
		t.Errorf("B's put: %+v, %v; want its own version 1", mb, err)
	}
	got, ma, err := s.Secret(ctx, a.ID, "shared")
	if err != nil || ma.Version != 1 || !reflect.DeepEqual(got, sa) {
		t.Errorf("A's secret after B's put: %+v, %v", ma, err)
	}
	if err := s.DeleteSecret(ctx, b.ID, "shared"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Secret(ctx, a.ID, "shared"); err != nil {
		t.Errorf("B's delete removed A's secret: %v", err)
	}
	if l, _ := s.Secrets(ctx, a.ID); len(l) != 1 {
		t.Errorf("A lists %d secrets, want 1", len(l))
	}
	if err := s.Record(ctx, Event{TenantID: a.ID, Operation: "get", SecretName: "shared", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.AuditLog(ctx, b.ID, 0); len(l) != 0 {
		t.Errorf("B sees A's audit log: %v", l)
	}
}

func testRotation(t *testing.T, s *SQL, path string) {
	ctx := context.Background()
	oldK, newK := newKey(t), newKey(t)
	ring := seal.NewKeyring(newK, oldK)
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	values := map[[2]string]string{}
	for i, tn := range []Tenant{a, b, a, b, a} {
		name := fmt.Sprintf("S%d", i)
		v := "value " + name
		values[[2]string{tn.ID, name}] = v
		if _, err := s.PutSecret(ctx, tn.ID, name, mustSeal(t, oldK, tn.ID, name, v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutSecret(ctx, b.ID, "fresh", mustSeal(t, newK, b.ID, "fresh", "new")); err != nil {
		t.Fatal(err)
	}
	values[[2]string{b.ID, "fresh"}] = "new"

	// Conflicts: a put after the read, and a delete after the read.
	rows, err := s.SealedNotUnder(ctx, newK.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("SealedNotUnder found %d rows, want 5", len(rows))
	}
	put, del := rows[0], rows[1]
	putNext, err := ring.Rewrap(put.TenantID, put.Name, put.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	values[[2]string{put.TenantID, put.Name}] = "changed"
	if _, err := s.PutSecret(ctx, put.TenantID, put.Name, mustSeal(t, oldK, put.TenantID, put.Name, "changed")); err != nil {
		t.Fatal(err)
	}
	err = s.SwapSealed(ctx, put, putNext)
	if !errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		t.Errorf("swap after a put: %v, want ErrConflict only", err)
	}
	delNext, err := ring.Rewrap(del.TenantID, del.Name, del.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, del.TenantID, del.Name); err != nil {
		t.Fatal(err)
	}
	delete(values, [2]string{del.TenantID, del.Name})
	if err := s.SwapSealed(ctx, del, delNext); !errors.Is(err, ErrConflict) || !errors.Is(err, ErrNotFound) {
		t.Errorf("swap after a delete: %v, want ErrConflict and ErrNotFound", err)
	}

	// Rotate in batches of 2 until none is left.
	for batches := 0; ; batches++ {
		if batches > 10 {
			t.Fatal("rotation does not end")
		}
		rows, err := s.SealedNotUnder(ctx, newK.ID(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 2 {
			t.Fatalf("limit 2 gave %d rows", len(rows))
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if r.Sealed.KeyID == newK.ID() {
				t.Errorf("row %s/%s is under the new key already", r.TenantID, r.Name)
			}
			next, err := ring.Rewrap(r.TenantID, r.Name, r.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SwapSealed(ctx, r, next); err != nil {
				t.Fatal(err)
			}
			// Swapping again from the same read conflicts.
			if err := s.SwapSealed(ctx, r, next); !errors.Is(err, ErrConflict) {
				t.Errorf("repeated swap: %v, want ErrConflict", err)
			}
		}
	}

	for _, tn := range []Tenant{a, b} {
		list, err := s.Secrets(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			sl, gm, err := s.Secret(ctx, tn.ID, m.Name)
			if err != nil {
				t.Fatal(err)
			}
			if gm.Version != m.Version {
				t.Errorf("%s: version changed by the swap", m.Name)
			}
			v, err := seal.Open(newK, tn.ID, m.Name, sl)
			if err != nil {
				t.Fatalf("%s after rotation: %v", m.Name, err)
			}
			if want := values[[2]string{tn.ID, m.Name}]; string(v) != want {
				t.Errorf("%s = %q, want %q", m.Name, v, want)
			}
			delete(values, [2]string{tn.ID, m.Name})
		}
	}
	if len(values) != 0 {
		t.Errorf("secrets missing after rotation: %v", values)
	}
}

func testAuditLog(t *testing.T, s *SQL, path string) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	events := []Event{
		{Time: t0.Add(2 * time.Second), TenantID: "a", KeyID: "k1", Operation: "put", SecretName: "X", Outcome: "ok"},
		{Time: t0, TenantID: "a", KeyID: "k1", Operation: "get", SecretName: "X", Outcome: "not found"},
		{Time: t0.Add(time.Second), TenantID: "b", KeyID: "k2", Operation: "list", Outcome: "ok"},
		{Time: t0.Add(2 * time.Second), TenantID: "a", KeyID: "k2", Operation: "delete", SecretName: "X", Outcome: "ok"},
		{Time: t0.Add(time.Second), TenantID: "a", KeyID: "k1", Operation: "list", Outcome: "ok", Count: 1},
		{Time: t0.Add(time.Minute), Operation: "authenticate", Outcome: "denied", Count: 250},
	}
	for i, e := range events {
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		events[i].Count = max(e.Count, 1) // a zero Count reads back as 1
	}
	if err := s.Record(ctx, Event{TenantID: "a"}); err == nil {
		t.Error("event without an operation accepted")
	}
	tests := []struct {
		tenant string
		limit  int
		want   []Event
	}{
		{"a", 0, []Event{events[3], events[0], events[4], events[1]}}, // same time: later record first
		{"a", 2, []Event{events[3], events[0]}},
		{"b", 10, []Event{events[2]}},
		{"c", 0, nil},
		{"", 0, []Event{events[5]}}, // refused unknown keys, summed up
	}
	for _, tt := range tests {
		got, err := s.AuditLog(ctx, tt.tenant, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("AuditLog(%s, %d) =\n%v\nwant\n%v", tt.tenant, tt.limit, got, tt.want)
		}
	}

	before := time.Now()
	if err := s.Record(ctx, Event{TenantID: "d", Operation: "get"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditLog(ctx, "d", 1)
	if err != nil || len(got) != 1 || got[0].Time.Before(before.Add(-time.Second)) {
		t.Errorf("zero time not set to now: %v, %v", got, err)
	}
}

func testConcurrentPuts(t *testing.T, s *SQL, path string) {
	ctx := context.Background()
	k := newKey(t)
	tn := mustTenant(t, s, "acme")
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("own-%02d", w)
			for i := range each {
				for _, name := range []string{"shared", own} {
					sl, err := seal.Seal(k, tn.ID, name, fmt.Appendf(nil, "%d/%d", w, i))
					if err != nil {
						errs <- err
						return
					}
					if _, err := s.PutSecret(ctx, tn.ID, name, sl); err != nil {
						errs <- err
					}
				}
				if _, err := s.Secrets(ctx, tn.ID); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.Secrets(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != workers+1 {
		t.Fatalf("%d secrets, want %d", len(list), workers+1)
	}
	for _, m := range list {
		want := each
		if m.Name == "shared" {
			want = workers * each
		}
		if m.Version != want {
			t.Errorf("%s: version %d, want %d", m.Name, m.Version, want)
		}
	}
}

// An existing database file or folder open to others is tightened on open.
func TestOpenTightensModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "server.db")
	st, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err = OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}

func TestRewrapAll(t *testing.T) { forEachDB(t, testRewrapAll) }

func testRewrapAll(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	oldKey, nextKey := newKey(t), newKey(t)
	acme, globex := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	const n = rewrapBatch + 7 // more than one batch
	for i := range n {
		tn := acme
		if i%2 == 1 {
			tn = globex
		}
		name := fmt.Sprintf("S%04d", i)
		if _, err := s.PutSecret(ctx, tn.ID, name, mustSeal(t, oldKey, tn.ID, name, "v"+name)); err != nil {
			t.Fatal(err)
		}
	}
	ring := seal.NewKeyring(nextKey, oldKey)
	done, err := RewrapAll(ctx, s, ring)
	if err != nil || done != n {
		t.Fatalf("RewrapAll = %d, %v; want %d", done, err, n)
	}
	if rest, err := s.SealedNotUnder(ctx, nextKey.ID(), 0); err != nil || len(rest) != 0 {
		t.Fatalf("%d rows left under other keys (%v)", len(rest), err)
	}
	// Every value opens under the new key alone, unchanged, same version.
	only := seal.NewKeyring(nextKey)
	for i := range n {
		tn := acme
		if i%2 == 1 {
			tn = globex
		}
		name := fmt.Sprintf("S%04d", i)
		sl, m, err := s.Secret(ctx, tn.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := only.Open(tn.ID, name, sl); err != nil || string(v) != "v"+name || m.Version != 1 {
			t.Fatalf("%s: %q, version %d, %v", name, v, m.Version, err)
		}
	}
	if done, err := RewrapAll(ctx, s, ring); err != nil || done != 0 {
		t.Errorf("a second RewrapAll = %d, %v; want 0", done, err)
	}
	// A row under a key the ring lacks stops the rewrap with an error
	// naming the key; nothing is lost.
	stranger := newKey(t)
	if _, err := s.PutSecret(ctx, acme.ID, "ODD", mustSeal(t, stranger, acme.ID, "ODD", "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := RewrapAll(ctx, s, ring); !errors.Is(err, seal.ErrUnknownKey) || !strings.Contains(err.Error(), stranger.ID()) {
		t.Errorf("a row under an unknown key: %v; want ErrUnknownKey naming %s", err, stranger.ID())
	}
	if _, err := RewrapAll(ctx, s, seal.NewKeyring(seal.MasterKey{})); err == nil {
		t.Error("RewrapAll with an empty keyring succeeded")
	}
}

func TestCountSecrets(t *testing.T) { forEachDB(t, testCountSecrets) }

func testCountSecrets(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	for i, tn := range []Tenant{a, a, a, b} {
		name := fmt.Sprintf("S%d", i)
		if _, err := s.PutSecret(ctx, tn.ID, name, mustSeal(t, k, tn.ID, name, "v")); err != nil {
			t.Fatal(err)
		}
	}
	// The server's own do not count.
	if _, err := s.PutSecret(ctx, a.ID, ".prefect/runs/r/env", mustSeal(t, k, a.ID, ".prefect/runs/r/env", "{}")); err != nil {
		t.Fatal(err)
	}
	for tn, want := range map[string]int{a.ID: 3, b.ID: 1, "nobody": 0} {
		if n, err := s.CountSecrets(ctx, tn); err != nil || n != want {
			t.Errorf("CountSecrets(%s) = %d, %v; want %d", tn, n, err, want)
		}
	}
}

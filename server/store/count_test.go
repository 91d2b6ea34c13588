package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// scanCount counts the tenant's secrets row by row, as CountSecrets did
// before migration 7: what the kept count must equal.
func scanCount(t *testing.T, s *SQL, tenantID string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM secrets
		WHERE tenant_id = $1 AND substr(name, 1, 9) <> '.prefect/'`, tenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSecretCount(t *testing.T) { forEachDB(t, testSecretCount) }

// The kept count follows every put and delete: a new name adds one, a new
// version or the server's own adds none, a delete takes one, a delete of
// nothing none; another tenant's changes leave it be.
func testSecretCount(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	put := func(tn Tenant, name string) func() error {
		return func() error {
			_, err := s.PutSecret(ctx, tn.ID, name, mustSeal(t, k, tn.ID, name, `"v"`))
			return err
		}
	}
	del := func(tn Tenant, name string) func() error {
		return func() error { return s.DeleteSecret(ctx, tn.ID, name) }
	}
	for _, step := range []struct {
		what    string
		do      func() error
		wantErr error
		want    int // acme's count after the step
	}{
		{"a new secret", put(a, "A"), nil, 1},
		{"another", put(a, "B"), nil, 2},
		{"a new version", put(a, "A"), nil, 2},
		{"the server's own", put(a, ".prefect/runs/r/env"), nil, 2},
		// The server reserves ".prefect/" exactly: another case is the
		// tenant's, and counts.
		{"a name like the server's", put(a, ".PREFECT/runs/r/env"), nil, 3},
		{"a name just past the server's", put(a, ".prefect0"), nil, 4},
		{"another tenant's", put(b, "A"), nil, 4},
		{"a delete", del(a, "B"), nil, 3},
		{"a delete of nothing", del(a, "B"), ErrNotFound, 3},
		{"a delete of the server's own", del(a, ".prefect/runs/r/env"), nil, 3},
		{"another tenant's delete", del(b, "A"), nil, 3},
		{"the deleted name again", put(a, "B"), nil, 4},
	} {
		if err := step.do(); !errors.Is(err, step.wantErr) {
			t.Fatalf("%s: %v; want %v", step.what, err, step.wantErr)
		}
		n, err := s.CountSecrets(ctx, a.ID)
		if err != nil || n != step.want {
			t.Errorf("after %s: CountSecrets = %d, %v; want %d", step.what, n, err, step.want)
		}
		if scanned := scanCount(t, s, a.ID); scanned != n {
			t.Errorf("after %s: the kept count %d, the rows %d", step.what, n, scanned)
		}
	}
	if n, err := s.CountSecrets(ctx, b.ID); err != nil || n != 0 {
		t.Errorf("the other tenant's count: %d, %v; want 0", n, err)
	}
}

func TestPutSecretWithin(t *testing.T) { forEachDB(t, testPutSecretWithin) }

// At the limit a new name is refused, with the count and the limit, and
// leaves no trace; a new version, the server's own and a put after a
// delete are not refused.
func testPutSecretWithin(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	tn := mustTenant(t, s, "acme")
	put := func(name string, limit int) error {
		_, err := s.PutSecretWithin(ctx, tn.ID, name, mustSeal(t, k, tn.ID, name, `"v"`), limit)
		return err
	}
	for i := range 3 {
		if err := put(fmt.Sprintf("S%d", i), 3); err != nil {
			t.Fatal(err)
		}
	}
	stamp, err := s.SecretsStamp(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = put("S3", 3)
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) || le.Held != 3 || le.Max != 3 {
		t.Fatalf("a fourth name within 3: %v; want a *LimitError{3, 3}", err)
	}
	if !strings.Contains(err.Error(), `"S3"`) {
		t.Errorf("the refusal does not name the secret: %v", err)
	}
	if _, _, err := s.Secret(ctx, tn.ID, "S3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused secret was stored: %v", err)
	}
	if got, _ := s.SecretsStamp(ctx, tn.ID); got != stamp {
		t.Errorf("a refused put moved the stamp from %d to %d", stamp, got)
	}
	// A lower limit than the tenant holds: the refusal says how many.
	if err := put("S3", 2); !errors.As(err, &le) || le.Held != 3 || le.Max != 2 {
		t.Errorf("a new name within 2: %v; want a *LimitError{3, 2}", err)
	}
	for _, ok := range []struct {
		what, name string
		limit      int
	}{
		{"a new version at the limit", "S0", 3},
		{"the server's own at the limit", ".prefect/flows/f/env", 3},
		{"a new name without a limit", "S3", 0},
	} {
		if err := put(ok.name, ok.limit); err != nil {
			t.Errorf("%s: %v", ok.what, err)
		}
	}
	if err := s.DeleteSecret(ctx, tn.ID, "S3"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, tn.ID, "S1"); err != nil {
		t.Fatal(err)
	}
	if err := put("S4", 3); err != nil {
		t.Errorf("a new name after a delete made room: %v", err)
	}
	if n, err := s.CountSecrets(ctx, tn.ID); err != nil || n != 3 || scanCount(t, s, tn.ID) != 3 {
		t.Errorf("CountSecrets = %d, %v; want 3 as the rows", n, err)
	}
	if _, err := s.PutSecretWithin(ctx, "no-such-tenant", "X", mustSeal(t, k, "no-such-tenant", "X", `"v"`), 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("a put for an unknown tenant: %v; want ErrNotFound", err)
	}
}

func TestConcurrentLimit(t *testing.T) {
	t.Parallel()
	forEachDB(t, testConcurrentLimit)
}

// 64 writers at once put new names into a tenant near its limit, delete
// some of them again and replace a shared one, while a reader counts the
// rows: the tenant never holds more than the limit, the limit is met
// (some puts are refused), and the kept count equals the rows at the end.
func testConcurrentLimit(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	tn := mustTenant(t, s, "acme")
	const writers, each, prefilled, limit = 64, 4, 20, 50
	sealed := mustSeal(t, k, tn.ID, "any", `"v"`) // the store does not open it
	for i := range prefilled {
		if _, err := s.PutSecret(ctx, tn.ID, fmt.Sprintf("pre-%02d", i), sealed); err != nil {
			t.Fatal(err)
		}
	}
	var accepted, refused, deleted, failed atomic.Int64
	fail := func(err error) {
		if failed.Add(1) <= 10 {
			t.Error(err)
		}
	}
	stop := make(chan struct{})
	var most atomic.Int64
	var sampling sync.WaitGroup
	sampling.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM secrets WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil {
				fail(err)
				return
			}
			most.Store(max(most.Load(), n))
		}
	})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%02d-%d", w, i)
				_, err := s.PutSecretWithin(ctx, tn.ID, name, sealed, limit)
				switch {
				case errors.Is(err, ErrLimit):
					refused.Add(1)
				case err != nil:
					fail(err)
				default:
					accepted.Add(1)
					if i%2 == 0 {
						if err := s.DeleteSecret(ctx, tn.ID, name); err != nil {
							fail(err)
						} else {
							deleted.Add(1)
						}
					}
				}
				if _, err := s.PutSecretWithin(ctx, tn.ID, "pre-00", sealed, limit); err != nil {
					fail(fmt.Errorf("replacing a secret at the limit: %w", err))
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sampling.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d writes failed", n)
	}
	if m := most.Load(); m > limit {
		t.Errorf("the tenant held %d secrets at one time; its limit is %d", m, limit)
	}
	if refused.Load() == 0 {
		t.Errorf("no put was refused (%d accepted): the test never met the limit", accepted.Load())
	}
	want := prefilled + int(accepted.Load()-deleted.Load())
	n, err := s.CountSecrets(ctx, tn.ID)
	if err != nil || n != want || scanCount(t, s, tn.ID) != want || n > limit {
		t.Errorf("CountSecrets = %d, %v; rows %d; want %d (at most %d)", n, err, scanCount(t, s, tn.ID), want, limit)
	}
}

func TestSecretsPage(t *testing.T) { forEachDB(t, testSecretsPage) }

// Pages list the tenant's secrets in byte order (upper case before lower,
// punctuation where its byte falls), none twice and none missed, from any
// cursor, whatever the page size; the server's own and other tenants' are
// left out.
func testSecretsPage(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	names := []string{"a", "B", "_x", "A", "a.b", "a/b", "a-b", "aB", "ab", "Z", "~", "a_b", "0",
		".hidden", ".PREFECT/y", ".prefect0", ".prefecT/z", "ab/c/d"}
	for _, n := range append(names, ".prefect/runs/r/env", ".prefect/flows/f/env") {
		if _, err := s.PutSecret(ctx, a.ID, n, mustSeal(t, k, a.ID, n, `"v"`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutSecret(ctx, b.ID, "aa", mustSeal(t, k, b.ID, "aa", `"v"`)); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(names)) // Go's order: bytewise
	for _, limit := range []int{1, 2, 3, 5, len(want) - 1, len(want), len(want) + 1, 1000} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			var got []string
			after, pages := "", 0
			for {
				page, more, err := s.SecretsPage(ctx, a.ID, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page) > limit || (more && len(page) != limit) {
					t.Fatalf("page %d after %q: %d secrets, more %v; limit %d", pages, after, len(page), more, limit)
				}
				for _, m := range page {
					got = append(got, m.Name)
					if m.Version != 1 || m.Created.IsZero() || m.Updated.IsZero() {
						t.Errorf("%s: %+v", m.Name, m)
					}
				}
				if !more {
					break
				}
				after = page[len(page)-1].Name
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages of %d listed\n%q\nwant\n%q", limit, got, want)
			}
			if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
		})
	}
	// From a cursor that is no secret's name, and past the end.
	for _, c := range []struct {
		after string
		want  []string
	}{
		{"a0", []string{"aB", "a_b", "ab"}},
		{"ab", []string{"ab/c/d", "~"}},
		{"~", nil},
		{"~~", nil},
		{".prefect/", []string{".prefect0", "0", "A"}},
	} {
		page, more, err := s.SecretsPage(ctx, a.ID, c.after, 3)
		var got []string
		for _, m := range page {
			got = append(got, m.Name)
		}
		if err != nil || !slices.Equal(got, c.want) || more != (c.after == ".prefect/" || c.after == "a0") {
			t.Errorf("SecretsPage(after %q, 3) = %q, more %v, %v; want %q", c.after, got, more, err, c.want)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, _, err := s.SecretsPage(ctx, a.ID, "", limit); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("limit %d", limit)) {
			t.Errorf("SecretsPage with limit %d: %v; want an error naming it", limit, err)
		}
	}
	if page, more, err := s.SecretsPage(ctx, "no-such-tenant", "", 10); err != nil || len(page) != 0 || more {
		t.Errorf("an unknown tenant's page: %v, %v, %v; want empty", page, more, err)
	}
}

func TestUpgradeCountsSecrets(t *testing.T) { forEachDB(t, testUpgradeCountsSecrets) }

// A database of schema 6 gets each tenant's count of its secrets from its
// rows when it is brought to 7, and on PostgreSQL names that compare byte
// by byte even when the column had a collation that does not (here ICU's
// English, which puts "a" before "B").
func testUpgradeCountsSecrets(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	a, b, c := mustTenant(t, s, "acme"), mustTenant(t, s, "globex"), mustTenant(t, s, "initech")
	for tn, names := range map[Tenant][]string{
		a: {"B", "a", ".PREFECT/x", ".prefect/runs/r/env"},
		b: {"only"},
	} {
		for _, n := range names {
			if _, err := s.PutSecret(ctx, tn.ID, n, mustSeal(t, k, tn.ID, n, `"v"`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Back to schema 6, with the counts gone.
	down := append(undoMigration8, `ALTER TABLE tenants DROP COLUMN secret_count`, `DELETE FROM schema_migrations WHERE version = 7`)
	if s.postgres {
		var icu int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_collation WHERE collname = 'en-x-icu'`).Scan(&icu); err != nil {
			t.Fatal(err)
		}
		collation := `"default"`
		if icu > 0 {
			collation = `"en-x-icu"`
		} else {
			t.Log("PostgreSQL has no ICU collation en-x-icu: the column goes back to the database's default")
		}
		down = append(down, `ALTER TABLE secrets ALTER COLUMN name TYPE TEXT COLLATE `+collation)
	}
	for _, stmt := range down {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if v, _ := s.SchemaVersion(ctx); v != 6 {
		t.Fatalf("taken back to version %d, want 6", v)
	}
	if err := migrate(ctx, s.db, s.postgres); err != nil {
		t.Fatal(err)
	}
	for tn, want := range map[Tenant]int{a: 3, b: 1, c: 0} {
		if n, err := s.CountSecrets(ctx, tn.ID); err != nil || n != want {
			t.Errorf("%s after migrating: CountSecrets = %d, %v; want %d", tn.Name, n, err, want)
		}
	}
	page, _, err := s.SecretsPage(ctx, a.ID, "", 10)
	var got []string
	for _, m := range page {
		got = append(got, m.Name)
	}
	if want := []string{".PREFECT/x", "B", "a"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("after migrating, the page lists %q, %v; want %q", got, err, want)
	}
	if s.postgres {
		var collation string
		if err := s.db.QueryRowContext(ctx, `SELECT collation_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'secrets' AND column_name = 'name'`).Scan(&collation); err != nil || collation != "C" {
			t.Errorf("secrets.name has collation %q, %v; want C", collation, err)
		}
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/state"
)

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	forEachDB(t, testConcurrentWriters)
}

// 64 writers at once, each putting a shared secret and its own, putting
// and deleting a third, recording audit events, and writing its own
// flow run's state, task runs and log lines: every write succeeds, none
// waits long enough to fail (SQLite's 5 s busy timeout), and the final
// state counts each of them exactly.
func testConcurrentWriters(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	tn := mustTenant(t, s, "acme")
	f, _, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "f", Digest: "d", Definition: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 64, 4
	runs := make([]orchestration.FlowRun, writers)
	for w := range runs {
		if runs[w], err = s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: f.ID}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := s.ClaimFlowRuns(ctx, tn.ID, "agent", nil, writers)
	if err != nil || len(claimed) != writers {
		t.Fatalf("claimed %d runs, %v; want %d", len(claimed), err, writers)
	}

	var failed atomic.Int64
	var wg sync.WaitGroup
	fail := func(err error) {
		if failed.Add(1) <= 10 {
			t.Error(err)
		}
	}
	put := func(name, v string) {
		sl, err := seal.Seal(k, tn.ID, name, []byte(v))
		if err == nil {
			_, err = s.PutSecret(ctx, tn.ID, name, sl)
		}
		if err != nil {
			fail(err)
		}
	}
	for w := range writers {
		wg.Go(func() {
			own, gone := fmt.Sprintf("own-%02d", w), fmt.Sprintf("gone-%02d", w)
			run := runs[w].ID
			for i := range each {
				v := fmt.Sprintf(`"%d/%d"`, w, i)
				put("shared", v)
				put(own, v)
				put(gone, v)
				if err := s.DeleteSecret(ctx, tn.ID, gone); err != nil {
					fail(err)
				}
				if err := s.Record(ctx, Event{TenantID: tn.ID, KeyID: own, Operation: orchestration.OpSecretValue, SecretName: own, Outcome: orchestration.OutcomeOK}); err != nil {
					fail(err)
				}
				if err := s.SetTaskRuns(ctx, tn.ID, run, []orchestration.TaskRun{{Slug: "t", MapIndex: i, ID: v, State: state.Success, Seq: 1}}); err != nil {
					fail(err)
				}
				if err := s.AppendLogs(ctx, tn.ID, run, []orchestration.LogLine{{Level: "INFO", Message: v, WriterSeq: int64(i + 1)}}); err != nil {
					fail(err)
				}
				if err := s.Heartbeat(ctx, tn.ID, run); err != nil {
					fail(err)
				}
			}
			// Claimed runs are all at version 2.
			if _, err := s.SetFlowRunState(ctx, tn.ID, run, 2, state.Running, ""); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d writes failed", n)
	}

	list, err := s.Secrets(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != writers+1 {
		t.Fatalf("%d secrets, want %d", len(list), writers+1)
	}
	for _, m := range list {
		if want := map[bool]int{true: writers * each, false: each}[m.Name == "shared"]; m.Version != want {
			t.Errorf("%s: version %d, want %d", m.Name, m.Version, want)
		}
	}
	// The kept count (migration 7) is the rows': each put of a new name
	// added one, each delete took one, none was lost or counted twice.
	if n, err := s.CountSecrets(ctx, tn.ID); err != nil || n != writers+1 {
		t.Errorf("CountSecrets = %d, %v; want %d", n, err, writers+1)
	}
	// Every put and delete took one stamp (migration 5).
	if got, err := s.SecretsStamp(ctx, tn.ID); err != nil || got != int64(writers*each*4) {
		t.Errorf("secrets stamp %d, %v; want %d", got, err, writers*each*4)
	}
	events, err := s.AuditLog(ctx, tn.ID, 0)
	if err != nil || len(events) != writers*each {
		t.Errorf("%d audit events, %v; want %d", len(events), err, writers*each)
	}
	for _, r := range runs {
		got, err := s.FlowRun(ctx, tn.ID, r.ID)
		if err != nil || got.State != state.Running {
			t.Errorf("run %s: %s, %v; want Running", r.ID, got.State, err)
		}
		trs, err := s.TaskRuns(ctx, tn.ID, r.ID)
		if err != nil || len(trs) != each {
			t.Errorf("run %s: %d task runs, %v; want %d", r.ID, len(trs), err, each)
		}
		logs, err := s.Logs(ctx, tn.ID, r.ID, 0, 0)
		if err != nil || len(logs) != each {
			t.Errorf("run %s: %d log lines, %v; want %d", r.ID, len(logs), err, each)
		}
	}
}

// BenchmarkWrites measures puts of secrets per second with 1, 16 and 64
// writers at once, each putting its own secret in turn (one transaction
// each: the tenant's stamp, then the row), on SQLite, on two SQLite stores
// sharing one file (as two servers on one data folder; the writers split
// between them), and, when $PREFECT_TEST_DATABASE_URL is set, PostgreSQL.
// failed counts the puts that returned an error; it must be 0.
//
//	go test -run '^$' -bench Writes -benchtime=2000x ./server/store/
func BenchmarkWrites(b *testing.B) {
	for _, db := range []string{"sqlite", "sqlite-2-stores", "postgres"} {
		for _, writers := range []int{1, 16, 64} {
			if db == "sqlite-2-stores" && writers == 1 {
				continue
			}
			b.Run(fmt.Sprintf("%s/writers=%d", db, writers), func(b *testing.B) {
				ctx := context.Background()
				var stores []*SQL
				switch db {
				case "postgres":
					if os.Getenv(pgtest.EnvURL) == "" {
						b.Skipf("no PostgreSQL: set %s", pgtest.EnvURL)
					}
					s, err := OpenPostgres(ctx, pgtest.URL(b))
					if err != nil {
						b.Fatal(err)
					}
					stores = append(stores, s)
				default:
					path := b.TempDir() + "/server.db"
					for range map[string]int{"sqlite": 1, "sqlite-2-stores": 2}[db] {
						s, err := OpenSQLite(ctx, path)
						if err != nil {
							b.Fatal(err)
						}
						stores = append(stores, s)
					}
				}
				for _, s := range stores {
					defer s.Close()
				}
				benchWrites(b, stores, writers)
			})
		}
	}
}

// benchWrites runs b.N puts from writers goroutines, which take turns
// among stores (all of one database).
func benchWrites(b *testing.B, stores []*SQL, writers int) {
	ctx := context.Background()
	k, err := seal.NewMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	tn, err := stores[0].CreateTenant(ctx, "acme")
	if err != nil {
		b.Fatal(err)
	}
	sealed := make([]seal.Sealed, writers)
	for w := range sealed {
		if sealed[w], err = seal.Seal(k, tn.ID, fmt.Sprintf("S%02d", w), []byte(`"value"`)); err != nil {
			b.Fatal(err)
		}
	}
	var next, failed atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			s, name := stores[w%len(stores)], fmt.Sprintf("S%02d", w)
			for next.Add(1) <= int64(b.N) {
				if _, err := s.PutSecret(ctx, tn.ID, name, sealed[w]); err != nil {
					failed.Add(1)
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if first != nil {
		b.Errorf("%d of %d puts failed; the first: %v", failed.Load(), b.N, first)
	}
	b.ReportMetric(float64(int64(b.N)-failed.Load())/b.Elapsed().Seconds(), "writes/s")
	b.ReportMetric(float64(failed.Load()), "failed")
}

// Two stores on one SQLite file, as two servers on one data folder: their
// writes meet at SQLite's lock, which is polled, not queued, and a write
// that waited the whole busy timeout runs again rather than fail. Every
// write succeeds, and the log stays under its bound.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	a, path := openTest(t)
	b, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn := mustTenant(t, a, "acme")
	k := newKey(t)
	const writers, each = 4, 10
	var failed atomic.Int64
	var first atomic.Value
	fail := func(err error) {
		failed.Add(1)
		first.CompareAndSwap(nil, err)
	}
	var writing, reading sync.WaitGroup
	for si, s := range []*SQL{a, b} {
		for w := range writers {
			writing.Go(func() {
				name := fmt.Sprintf("S%d-%d", si, w)
				for i := range each {
					sl, err := seal.Seal(k, tn.ID, "shared", fmt.Appendf(nil, `"%s/%d"`, name, i))
					if err == nil {
						_, err = s.PutSecret(ctx, tn.ID, "shared", sl)
					}
					if err == nil {
						err = s.Record(ctx, Event{TenantID: tn.ID, Operation: orchestration.OpSetSecret, SecretName: "shared", Outcome: orchestration.OutcomeOK})
					}
					if err != nil {
						fail(err)
					}
				}
			})
		}
		for range 4 {
			reading.Go(func() {
				for ctx.Err() == nil {
					if _, _, err := s.Secret(ctx, tn.ID, "shared"); err != nil && !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
						fail(err)
					}
				}
			})
		}
	}
	var maxWAL int64
	done := make(chan struct{})
	go func() { writing.Wait(); close(done) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
sampling:
	for {
		select {
		case <-done:
			break sampling
		case <-tick.C:
			if fi, err := os.Stat(path + "-wal"); err == nil {
				maxWAL = max(maxWAL, fi.Size())
			}
		}
	}
	cancel()
	reading.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d reads and writes failed; the first: %v", n, first.Load())
	}
	if _, m, err := a.Secret(context.Background(), tn.ID, "shared"); err != nil || m.Version != 2*writers*each {
		t.Errorf("shared: version %d, %v; want %d", m.Version, err, 2*writers*each)
	}
	if maxWAL > walBound {
		t.Errorf("the log reached %.1f MiB, over its bound of %.0f MiB", mib(maxWAL), mib(walBound))
	}
}

// A write that SQLite answers "database is locked" (another process held
// its lock for the whole busy timeout) runs again, until it succeeds or
// its context ends; other errors are not retried.
func TestWriteGateRetriesBusy(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	// A real SQLITE_BUSY: one connection holds the write lock, and another,
	// which does not wait, tries to write.
	holder, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	impatient, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	_, busy := impatient.ExecContext(ctx, `INSERT INTO tenants (id, name, created) VALUES ('x', 'x', 0)`)
	if !isBusy(busy) {
		t.Fatalf("want SQLITE_BUSY, got %v", busy)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}

	calls := 0
	if err := s.writes.do(ctx, func() error {
		if calls++; calls < 3 {
			return busy
		}
		return nil
	}); err != nil || calls != 3 {
		t.Errorf("do = %v after %d calls; want nil after 3", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	if err := s.writes.do(cctx, func() error {
		calls++
		cancel()
		return busy
	}); !isBusy(err) || calls != 1 {
		t.Errorf("do with a context that ended = %v after %d calls; want SQLITE_BUSY after 1", err, calls)
	}
	other := errors.New("not busy")
	calls = 0
	if err := s.writes.do(ctx, func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("do = %v after %d calls; want %v after 1", err, calls, other)
	}
}

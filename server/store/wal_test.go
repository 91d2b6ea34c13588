package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server/seal"
)

// TestWALBounded loads an SQLite store as the server does, 16 clients
// reading secrets (each read: Authenticate, Secret, and its audit row) and
// 2 writing (a put, then a batch of 16 log lines of 2 KiB), and samples
// the files meanwhile: the write-ahead log never holds more than walBound,
// and the database file plus the log never more than the data plus
// walBound. The readers are what kept the log from being reset; the
// writers put bytes through it faster than reads alone (the audit rows of
// 16 clients reading: about 30 MiB a second on 2 cores, 5 MiB under -race),
// so that the test is short.
//
// The load's length is counted in bytes, not seconds: it runs until the
// log has taken in a quarter more than walBound (as the checkpoints count
// it), so that a log that never shrank (as it did not before: 1.3 GiB
// after a minute of reads) would have passed the bound, however fast or
// busy the machine. -short loads half the bound, which still crosses
// walTruncateAt.
func TestWALBounded(t *testing.T) {
	t.Parallel()
	load := int64(walBound + walBound/4)
	if testing.Short() {
		load = walBound / 2
	}
	s, path := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn := mustTenant(t, s, "acme")
	key, _, err := s.CreateAPIKey(ctx, tn.ID, "load")
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	const secrets = 300
	names := make([]string, secrets)
	for i := range names {
		names[i] = fmt.Sprintf("load/secret-%03d", i)
		if _, err := s.PutSecret(ctx, tn.ID, names[i], mustSeal(t, k, tn.ID, names[i], fmt.Sprintf(`"value-%03d"`, i))); err != nil {
			t.Fatal(err)
		}
	}
	f, _, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "f", Digest: "d", Definition: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: f.ID})
	if err != nil {
		t.Fatal(err)
	}

	// Stop when the log has taken in load, or, on a machine too slow to
	// get there, when the test's time is nearly up (the sizes are checked
	// all the same).
	stopAt := time.Now().Add(3 * time.Minute)
	if d, ok := t.Deadline(); ok && time.Until(d) < 4*time.Minute {
		stopAt = time.Now().Add(time.Until(d) / 2)
	}
	var reads, writes, failures atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		if ctx.Err() != nil {
			return // the load is over: the call was cancelled
		}
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i += 16 {
				info, err := s.Authenticate(ctx, key)
				if err != nil {
					fail(err)
					continue
				}
				name := names[i%secrets]
				if _, _, err := s.Secret(ctx, info.TenantID, name); err != nil {
					fail(err)
					continue
				}
				err = s.Record(ctx, Event{TenantID: info.TenantID, KeyID: info.ID, Operation: orchestration.OpSecretValue, SecretName: name, Outcome: orchestration.OutcomeOK})
				if err != nil {
					fail(err)
				}
				reads.Add(1)
			}
		})
	}
	line := strings.Repeat("x", 2<<10)
	for w := range 2 {
		wg.Go(func() {
			lines := make([]orchestration.LogLine, 16)
			for i := 0; ctx.Err() == nil; i++ {
				name := names[(w*7+i)%secrets]
				sl, err := seal.Seal(k, tn.ID, name, fmt.Appendf(nil, `"v%d"`, i))
				if err == nil {
					_, err = s.PutSecret(ctx, tn.ID, name, sl)
				}
				for j := range lines {
					lines[j] = orchestration.LogLine{Level: "INFO", Message: fmt.Sprintf("writer %d batch %d line %d %s", w, i, j, line)}
				}
				if err == nil {
					err = s.AppendLogs(ctx, tn.ID, run.ID, lines)
				}
				if err != nil {
					fail(err)
				}
				writes.Add(1)
			}
		})
	}

	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0 // the log, between a truncation and the next write
		}
		return fi.Size()
	}
	start := time.Now()
	var maxWAL, maxTotal, lastSecond int64
	var second int64 // the largest log of the current second, for the log
	tick := time.NewTicker(5 * time.Millisecond)
	for s.wal.written.Load() < load && time.Now().Before(stopAt) {
		<-tick.C
		w, d := size(path+"-wal"), size(path)
		maxWAL, maxTotal, second = max(maxWAL, w), max(maxTotal, w+d), max(second, w)
		if sec := int64(time.Since(start) / time.Second); sec > lastSecond {
			t.Logf("%2ds: log up to %5.1f MiB, database %5.1f MiB, %d reads, %d writes, %.0f MiB through the log",
				sec, mib(second), mib(d), reads.Load(), writes.Load(), mib(s.wal.written.Load()))
			lastSecond, second = sec, 0
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	cancel()
	wg.Wait()

	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d reads and writes failed; the first: %v", n, reads.Load()+writes.Load(), firstErr.Load())
	}
	var pages, free int64
	if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`PRAGMA freelist_count`).Scan(&free); err != nil {
		t.Fatal(err)
	}
	data := (pages - free) * s.wal.pageSize
	through := s.wal.written.Load()
	t.Logf("%v: %d reads, %d writes, %.0f MiB through the log, %d truncations; largest log %.1f MiB, largest files %.1f MiB for %.1f MiB of data",
		elapsed.Round(time.Millisecond), reads.Load(), writes.Load(), mib(through), s.wal.truncated.Load(), mib(maxWAL), mib(maxTotal), mib(data))
	if maxWAL > walBound {
		t.Errorf("the log reached %.1f MiB, over its bound of %.0f MiB", mib(maxWAL), mib(walBound))
	}
	if maxTotal > data+walBound {
		t.Errorf("the database and its log reached %.1f MiB, over the data (%.1f MiB) plus %.0f MiB", mib(maxTotal), mib(data), mib(walBound))
	}
	if through < load {
		t.Logf("the load put only %.0f MiB through the log in %v, not %.0f MiB: a slow machine", mib(through), elapsed, mib(load))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// A reader that keeps an old snapshot (here, an open transaction on a
// connection of its own, as another process might) keeps the log from
// being reset: writes go on meanwhile, the first that finds the log past
// walHoldAt waiting for it (holdFor, here shortened) and the others not at
// all, and once the reader lets go, the log is truncated.
func TestWALPinnedReader(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	ctx := context.Background()
	const holdFor = time.Second
	s.writes.lock(ctx)
	s.wal.holdFor = holdFor
	s.writes.leave()
	tn := mustTenant(t, s, "acme")
	f, _, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "f", Digest: "d", Definition: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: f.ID})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, `BEGIN DEFERRED`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM flow_runs`).Scan(&n); err != nil {
		t.Fatal(err)
	}

	// 1 MiB a transaction, until the log is well past walHoldAt.
	lines := make([]orchestration.LogLine, 32)
	for i := range lines {
		lines[i] = orchestration.LogLine{Level: "INFO", Message: strings.Repeat("x", 32<<10)}
	}
	size := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	for i := 0; size() < walHoldAt+8<<20; i++ {
		if err := s.AppendLogs(ctx, tn.ID, run.ID, lines); err != nil {
			t.Fatalf("write %d, the log at %.1f MiB: %v", i, mib(size()), err)
		}
	}
	if n := s.wal.gaveUp.Load(); n != 1 || !s.wal.stuck.Load() {
		t.Errorf("%d writes waited %v for a truncation that a reader prevents, and then gave up; want 1", n, holdFor)
	}
	truncated := s.wal.truncated.Load()
	if _, err := reader.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	reader.Close()
	// The keeper truncates the log at its next tick.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.wal.truncated.Load() == truncated {
		<-tick.C
	}
	if n := size(); n > 0 {
		t.Errorf("the log holds %d bytes after its truncation", n)
	}
	if s.wal.stuck.Load() {
		t.Error("after a truncation, writes still do not wait for the next")
	}
}

package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
	"github.com/prefect-go/prefect/state"
)

// benchLine is a 200-byte log line or state message holding no secret.
const benchLine = `2026-01-14T10:32:07.118Z INFO task run "fetch-orders[3]" finished: ` +
	`state=Success duration=1.204s rows=18342 url=https://api.example.com/v2/orders?page=3 ` +
	`retries=0 cache=miss checkpoint=local:/var/lib/`

// maskBench is a server over SQLite whose tenant holds n secrets shaped
// like API tokens, passwords and keys (12 to 39 random bytes, some with a
// prefix), and a Running run of it.
type maskBench struct {
	s      *Server
	st     *store.SQL
	ring   *seal.Keyring
	tenant string
	c      *client.Client
	runID  string
}

// put sets the tenant's secret name to a new value, straight in the store.
func (mb *maskBench) put(b *testing.B, name, value string) {
	sealed, err := mb.ring.Seal(mb.tenant, name, []byte(`"`+value+`"`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mb.st.PutSecret(context.Background(), mb.tenant, name, sealed); err != nil {
		b.Fatal(err)
	}
}

func newMaskBench(b *testing.B, n int) *maskBench {
	b.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "server.db"))
	if err != nil {
		b.Fatal(err)
	}
	return newMaskBenchOn(b, st, n)
}

// newMaskBenchOn is newMaskBench over st, which it closes when b ends.
func newMaskBenchOn(b *testing.B, st *store.SQL, n int) *maskBench {
	b.Helper()
	ctx := context.Background()
	b.Cleanup(func() { st.Close() })
	tn, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		b.Fatal(err)
	}
	key, _, err := st.CreateAPIKey(ctx, tn.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	mk, err := seal.NewMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	ring := seal.NewKeyring(mk)
	r := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range n {
		v := make([]byte, 12+r.IntN(28))
		for j := range v {
			v[j] = alnum[r.IntN(len(alnum))]
		}
		value := string(v)
		switch i % 4 {
		case 0:
			value = "sk_live_" + value
		case 1:
			value = "p@ss w0rd/" + value
		case 3:
			value = fmt.Sprintf("%x", v)
		}
		name := fmt.Sprintf("S%05d", i)
		sealed, err := ring.Seal(tn.ID, name, []byte(`"`+value+`"`))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.PutSecret(ctx, tn.ID, name, sealed); err != nil {
			b.Fatal(err)
		}
	}
	s := New(st, ring, WithMaxSecrets(n+10))
	ts := httptest.NewServer(s)
	b.Cleanup(ts.Close)
	c, err := client.New(ts.URL+"/graphql", client.WithAPIKey(key), client.WithRetries(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.CloseIdleConnections)
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Command: []string{"/srv/etl"}}); err != nil {
		b.Fatal(err)
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl"})
	if err != nil {
		b.Fatal(err)
	}
	claimed, err := c.ClaimFlowRuns(ctx, "agent", nil, 1)
	if err != nil || len(claimed) != 1 {
		b.Fatal(claimed, err)
	}
	if _, err := c.SetFlowRunState(ctx, run.ID, claimed[0].Version, state.Running, ""); err != nil {
		b.Fatal(err)
	}
	mb := &maskBench{s: s, st: st, ring: ring, tenant: tn.ID, c: c, runID: run.ID}
	if _, err := s.masker(ctx, tn.ID); err != nil {
		b.Fatal(err)
	}
	return mb
}

var maskBenchSizes = []int{0, 10, 100, 1000, 10000}

// nearMiss is a 200-byte line holding text shaped like the bench's
// secrets (their prefixes), but none of them.
const nearMiss = `2026-01-14T10:32:07.118Z WARN key sk_live_Zq0aW8pLmN3bV7cX rejected ` +
	`for p@ss w0rd/rotation, retrying with sk_live_Hh4kJ9sD2fG6 url=https://api.example.com/v2/orders ` +
	`retries=1 cache=miss checkpoint=local:/`

// BenchmarkMaskRunText measures what masking adds to a write of a 200-byte
// log line or state message when the tenant's masker is built: the check
// of the tenant's secrets stamp (one read of its row in SQLite) and the
// masking itself ("redact" alone):
//
//	go test -run '^$' -bench MaskRunText -benchtime 2s ./server/
func BenchmarkMaskRunText(b *testing.B) {
	ctx := context.Background()
	for _, n := range maskBenchSizes {
		mb := newMaskBench(b, n)
		m, err := mb.s.masker(ctx, mb.tenant)
		if err != nil {
			b.Fatal(err)
		}
		if got := m.Redact(benchLine); got != benchLine {
			b.Fatalf("the line matched a secret: %s", got)
		}
		b.Run(fmt.Sprintf("secrets=%d/check+redact", n), func(b *testing.B) {
			for b.Loop() {
				m, err := mb.s.masker(ctx, mb.tenant)
				if err != nil {
					b.Fatal(err)
				}
				_ = masked(m, benchLine, maxTextField)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/write")
		})
		b.Run(fmt.Sprintf("secrets=%d/redact", n), func(b *testing.B) {
			for b.Loop() {
				_ = masked(m, benchLine, maxTextField)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/write")
		})
		if got := m.Redact(nearMiss); got != nearMiss {
			b.Fatalf("the near miss matched a secret: %s", got)
		}
		b.Run(fmt.Sprintf("secrets=%d/redact-near-miss", n), func(b *testing.B) {
			for b.Loop() {
				_ = masked(m, nearMiss, maxTextField)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/write")
		})
	}
}

// BenchmarkMaskRunTextPostgres is BenchmarkMaskRunText's check+redact on
// PostgreSQL (see package pgtest), where the check is a round trip:
//
//	PREFECT_TEST_DATABASE_URL=... go test -run '^$' -bench MaskRunTextPostgres ./server/
func BenchmarkMaskRunTextPostgres(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 10000} {
		st, err := store.OpenPostgres(ctx, pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		mb := newMaskBenchOn(b, st, n)
		b.Run(fmt.Sprintf("secrets=%d/check+redact", n), func(b *testing.B) {
			for b.Loop() {
				m, err := mb.s.masker(ctx, mb.tenant)
				if err != nil {
					b.Fatal(err)
				}
				_ = masked(m, benchLine, maxTextField)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/write")
		})
	}
}

// BenchmarkAddToMasker measures the first write after a secret was set
// (by any server): the check of the stamp, the read of what was put since
// (one secret), opening it, adding it to the masker, and masking the line.
// The put itself is not timed:
//
//	go test -run '^$' -bench AddToMasker ./server/
func BenchmarkAddToMasker(b *testing.B) {
	ctx := context.Background()
	for _, n := range maskBenchSizes[1:] {
		mb := newMaskBench(b, n)
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				mb.put(b, fmt.Sprintf("NEW%d", i), fmt.Sprintf("%016x%08x", r.Uint64(), r.Uint32()))
				b.StartTimer()
				m, err := mb.s.masker(ctx, mb.tenant)
				if err != nil {
					b.Fatal(err)
				}
				_ = masked(m, benchLine, maxTextField)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/write")
		})
		mb.s.Close() // waits for a full build in the background
	}
}

// BenchmarkBuildMasker measures building a tenant's masker: reading its
// sealed secrets, opening each, registering it:
//
//	go test -run '^$' -bench BuildMasker ./server/
func BenchmarkBuildMasker(b *testing.B) {
	ctx := context.Background()
	for _, n := range maskBenchSizes[1:] {
		mb := newMaskBench(b, n)
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			var values int
			for b.Loop() {
				bm, err := mb.s.buildMask(ctx, mb.tenant, 0)
				if err != nil {
					b.Fatal(err)
				}
				values = bm.values
			}
			if values != n {
				b.Fatalf("%d values registered, want %d", values, n)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/build")
			// What one masker holds on to.
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			bm, err := mb.s.buildMask(ctx, mb.tenant, 0)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(bm)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "MiB/masker")
		})
	}
}

// BenchmarkStoreRunText measures a whole write of one 200-byte log line,
// and of one task run's state with a 200-byte message, through the Go
// client and HTTP into SQLite, the masker built:
//
//	go test -run '^$' -bench StoreRunText ./server/
func BenchmarkStoreRunText(b *testing.B) {
	ctx := context.Background()
	for _, n := range maskBenchSizes {
		mb := newMaskBench(b, n)
		b.Run(fmt.Sprintf("secrets=%d/log_line", n), func(b *testing.B) {
			for b.Loop() {
				if err := mb.c.WriteRunLogs(ctx, mb.runID, []client.LogLine{{Level: "INFO", Message: benchLine}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/write")
		})
		b.Run(fmt.Sprintf("secrets=%d/task_state", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				tr := client.TaskRun{ID: "t", Slug: "fetch-orders", MapIndex: 3, State: state.Running, Message: benchLine, Seq: i, Updated: time.Now()}
				if err := mb.c.SetTaskRunStates(ctx, mb.runID, []client.TaskRun{tr}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/write")
		})
	}
}

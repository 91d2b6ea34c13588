package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
)

// sqliteBackend is the real handler over an SQLite store in a temporary
// folder, with one tenant and one of its API keys.
type sqliteBackend struct {
	st     *store.SQL
	ring   *seal.Keyring
	h      *server.Server
	tenant string
	key    string
}

func newSQLiteBackend(tb testing.TB, opts ...server.Option) *sqliteBackend {
	tb.Helper()
	env := servertest.New(tb)
	return &sqliteBackend{st: env.Store, ring: env.Ring, h: env.Handler(opts...), tenant: env.Tenant.ID, key: env.Key}
}

// loadServer serves h on a loopback port to a Go client of its own, and
// counts the connections clients open to it.
type loadServer struct {
	*httptest.Server
	client *client.Client // the Go client, as a flow run uses it
	http   *http.Client   // what client sends with
	conns  atomic.Int64
	gate   atomic.Pointer[gate] // holds warm-up requests until all have come
}

// gate opens when left reaches 0.
type gate struct {
	left atomic.Int64
	open chan struct{}
}

// newLoadServer serves h and makes a client with key: no retries (a
// failure is a failure) and an idle connection for each of up to 512
// concurrent callers, so that the figures hold no TCP connection churn.
func newLoadServer(tb testing.TB, h http.Handler, key string) *loadServer {
	tb.Helper()
	s := &loadServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warm-up" {
			g := s.gate.Load()
			if g.left.Add(-1) == 0 {
				close(g.open)
			}
			select {
			case <-g.open:
			case <-time.After(time.Minute): // a warm-up request failed: let the others go
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	tb.Cleanup(s.Close)
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}
	s.http = &http.Client{Transport: tr}
	tb.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(s.URL+"/graphql", client.WithAPIKey(key), client.WithRetries(0, 0), client.WithHTTPClient(s.http))
	if err != nil {
		tb.Fatal(err)
	}
	s.client = c
	return s
}

// warmUp makes the client hold n idle connections to the server: n
// requests that the server holds until all have come, so that each needs
// its own connection.
func (s *loadServer) warmUp(tb testing.TB, n int) {
	tb.Helper()
	g := &gate{open: make(chan struct{})}
	g.left.Store(int64(n))
	s.gate.Store(g)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := s.http.Post(s.URL+"/warm-up", "text/plain", nil)
			if err != nil {
				tb.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
}

// BenchmarkLoad reads secrets (secret_value, through the Go client, over
// loopback HTTP) from the real handler over SQLite, with 1, 16 and 256
// concurrent clients, each reading the next of 300 secrets in turn. Beside
// it, in the same run, two floors:
//
//   - http-floor: the same client and HTTP round trip to a handler that
//     reads the body and answers a constant secret_value;
//   - store-floor: the store's work for one read, without HTTP or GraphQL:
//     Authenticate, Secret, opening the value, and Record (the audit row).
//
// Metrics: reads/s, the reads that succeeded per second of the whole run;
// p50-ms and p99-ms of the latencies of all reads; failed, the reads that
// returned an error (logged with the first error: the benchmark measures,
// it does not stop); new-conns, the TCP connections opened during the run
// after a warm-up that opens one per client (0: no churn).
//
//	go test -run '^$' -bench Load -benchtime=3s -count=3 ./server/
func BenchmarkLoad(b *testing.B) {
	const secrets = 300
	ctx := context.Background()
	be := newSQLiteBackend(b)
	srv := newLoadServer(b, be.h, be.key)
	c := srv.client
	names := make([]string, secrets)
	for i := range names {
		names[i] = fmt.Sprintf("load/secret-%03d", i)
		if err := c.SetSecret(ctx, names[i], fmt.Sprintf("value-%03d-%s", i, "0123456789abcdef0123456789abcdef")); err != nil {
			b.Fatal(err)
		}
	}
	constant := `{"data":{"secret_value":"value-000-0123456789abcdef0123456789abcdef"}}` + "\n"
	floor := newLoadServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, constant)
	}), be.key)
	fc := floor.client

	for _, clients := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("secret_value/clients=%d", clients), func(b *testing.B) {
			runLoad(b, clients, srv, func(i int) error {
				_, err := c.SecretValue(ctx, names[i%secrets])
				return err
			})
		})
		b.Run(fmt.Sprintf("http-floor/clients=%d", clients), func(b *testing.B) {
			runLoad(b, clients, floor, func(i int) error {
				_, err := fc.SecretValue(ctx, names[i%secrets])
				return err
			})
		})
		b.Run(fmt.Sprintf("store-floor/clients=%d", clients), func(b *testing.B) {
			runLoad(b, clients, nil, func(i int) error {
				name := names[i%secrets]
				k, err := be.st.Authenticate(ctx, be.key)
				if err != nil {
					return err
				}
				sl, _, err := be.st.Secret(ctx, k.TenantID, name)
				if err != nil {
					return err
				}
				if _, err := be.ring.Open(k.TenantID, name, sl); err != nil {
					return err
				}
				return be.st.Record(ctx, orchestration.Event{TenantID: k.TenantID, KeyID: k.ID, Operation: orchestration.OpSecretValue, SecretName: name, Outcome: orchestration.OutcomeOK})
			})
		})
	}
}

// runLoad calls read b.N times from clients goroutines, and reports the
// throughput, the latencies' median and 99th percentile and the failures.
// srv, when not nil, is the server read talks to: the client holds a
// connection for each goroutine before the timer starts, and the
// connections opened after are reported. A failed read is logged, as load
// may refuse some.
func runLoad(b *testing.B, clients int, srv *loadServer, read func(i int) error) {
	if failed, first := runOps(b, clients, srv, "reads", read); failed > 0 {
		b.Logf("%d of %d reads failed; the first: %v", failed, b.N, first)
	}
}

// runOps calls op b.N times from clients goroutines, reports the
// operations per second (as unit/s), the latencies' median and 99th
// percentile, the failures and, with srv, the connections opened once
// the timer started; it returns the failures and the first one's error.
func runOps(b *testing.B, clients int, srv *loadServer, unit string, op func(i int) error) (failed int64, firstErr error) {
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		failures  atomic.Int64
	)
	var conns0 int64
	if srv != nil {
		srv.warmUp(b, clients)
		conns0 = srv.conns.Load()
	}
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/clients+1)
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				t0 := time.Now()
				err := op(i)
				mine = append(mine, time.Since(t0))
				if err != nil && failures.Add(1) == 1 {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	failed = failures.Load()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(int64(b.N)-failed)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if srv != nil {
		b.ReportMetric(float64(srv.conns.Load()-conns0), "new-conns")
	}
	return failed, firstErr
}

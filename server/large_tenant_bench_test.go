package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/server"
)

// BenchmarkLargeTenant fills one tenant of the real handler over SQLite
// with 100,000 secrets, its limit raised past that (as `prefect server
// start --max-secrets`), and measures in the same run, through the Go
// client over loopback HTTP:
//
//   - set_secret/held=0 and set_secret/held=100000: new secrets set by 1
//     and by 16 clients at once into the empty tenant, then into the full
//     one; writes/s, p50-ms and p99-ms, failed (must be 0), and held, the
//     secrets the tenant holds when the sub-benchmark ends. A tenant's
//     size should not change the rate: the limit check reads a count.
//   - secrets_page/limit=100 and limit=1000: one page of names, from a
//     random name on; ns/op and answer-bytes, the HTTP answer's size.
//   - secret_names: every name in one answer, as Prefect 1's client asks
//     for them; ns/op and answer-bytes.
//   - web/secrets_page/limit=50 and web/secret_metadata: what the web
//     page asks for now (a page of 50 with versions and times) and asked
//     for before (every secret's); raw HTTP, ns/op and answer-bytes.
//
// The 100,000 are put through the store, 16 at a time, between the two
// set_secret runs (about 40 s on 2 cores), not timed.
//
//	go test -run '^$' -bench LargeTenant -benchtime=2s -timeout 30m ./server/
func BenchmarkLargeTenant(b *testing.B) {
	const total = 100_000
	ctx := context.Background()
	be := newSQLiteBackend(b, server.WithMaxSecrets(10*total))
	srv := newLoadServer(b, be.h, be.key)
	c := srv.client
	var next atomic.Int64 // names of secrets set through the API
	set := func(int) error {
		return c.SetSecret(ctx, fmt.Sprintf("api/secret-%07d", next.Add(1)), "value-0123456789abcdef")
	}
	held := func(b *testing.B) int {
		n, err := be.st.CountSecrets(ctx, be.tenant)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("set_secret/held=0/clients=%d", clients), func(b *testing.B) {
			runWrites(b, clients, srv, set)
			b.ReportMetric(float64(held(b)), "held")
		})
	}

	fillTenant(b, be, total-held(b))
	names, err := c.SecretNames(ctx)
	if err != nil || len(names) < total {
		b.Fatalf("after the fill, secret_names has %d names, %v; want %d", len(names), err, total)
	}
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("set_secret/held=%d/clients=%d", total, clients), func(b *testing.B) {
			runWrites(b, clients, srv, set)
			b.ReportMetric(float64(held(b)), "held")
		})
	}

	names, err = c.SecretNames(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, limit := range []int{server.DefaultPageSize, server.MaxPageSize} {
		b.Run(fmt.Sprintf("secrets_page/limit=%d", limit), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(limit)))
			query := fmt.Sprintf(`{"query":"query($after: String) { secrets_page(limit: %d, after: $after) { names next } }","variables":{"after":%q}}`, limit, names[len(names)/2])
			size := answerSize(b, srv, be.key, query)
			for b.Loop() {
				after := names[rng.IntN(len(names))]
				page, _, err := c.SecretNamesPage(ctx, after, limit)
				if err != nil || len(page) == 0 && after != names[len(names)-1] {
					b.Fatalf("a page after %s: %d names, %v", after, len(page), err)
				}
			}
			b.ReportMetric(float64(size), "answer-bytes") // after the loop, which clears metrics
		})
	}
	// What the web page asks for: one page of 50 with metadata now, every
	// secret's metadata before.
	for _, q := range []struct{ name, body string }{
		{"web/secrets_page/limit=50", fmt.Sprintf(`{"query":"query($after: String) { secrets_page(limit: 50, after: $after) { secrets { name version created updated } next } }","variables":{"after":%q}}`, names[len(names)/2])},
		{"web/secret_metadata", `{"query":"query { secret_metadata { name version created updated } }"}`},
	} {
		b.Run(q.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				size = answerSize(b, srv, be.key, q.body)
			}
			b.ReportMetric(float64(size), "answer-bytes")
		})
	}
	b.Run("secret_names", func(b *testing.B) {
		size := answerSize(b, srv, be.key, `{"query":"query { secret_names }"}`)
		for b.Loop() {
			all, err := c.SecretNames(ctx)
			if err != nil || len(all) < total {
				b.Fatalf("secret_names: %d names, %v", len(all), err)
			}
		}
		b.ReportMetric(float64(size), "answer-bytes")
	})
}

// fillTenant puts n new secrets of be's tenant through the store, 16 at
// a time, each sealed as the server would.
func fillTenant(b *testing.B, be *sqliteBackend, n int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				name := fmt.Sprintf("fill/secret-%07d", i)
				sl, err := be.ring.Seal(be.tenant, name, []byte(`"value-0123456789abcdef"`))
				if err == nil {
					_, err = be.st.PutSecret(ctx, be.tenant, name, sl)
				}
				if err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatalf("filling the tenant: %v", first)
	}
	b.Logf("put %d secrets through the store in %v", n, time.Since(start).Round(time.Second))
}

// answerSize posts body with key and returns the size of the answer,
// which must hold no error.
func answerSize(b *testing.B, srv *loadServer, key, body string) int {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := srv.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(string(raw), `"errors"`) {
		b.Fatalf("HTTP %d, %v: %.300s", resp.StatusCode, err, raw)
	}
	return len(raw)
}

// runWrites calls write b.N times from clients goroutines and reports as
// runLoad does (runOps), in writes/s; a failed write fails the benchmark.
func runWrites(b *testing.B, clients int, srv *loadServer, write func(i int) error) {
	if failed, first := runOps(b, clients, srv, "writes", write); failed > 0 {
		b.Errorf("%d of %d writes failed; the first: %v", failed, b.N, first)
	}
}

package secrets_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/secrets"
)

// What a remote store's cache saves, against a store that takes latency
// per call (the figures against real stores are in secrets/vault and
// secrets/aws):
//
//	go test -run '^$' -bench Cache -benchtime=2s ./secrets/
//
// "uncached" asks the store at every lookup; "warm" is a cache holding the
// secret; "10000 askers" is 10,000 goroutines (a mapped task's children,
// or runs) asking for one secret at once through a cold cache: the store
// is called once.

// slowStore answers every lookup after latency.
type slowStore struct {
	latency time.Duration
	mu      sync.Mutex
	calls   int
}

func (s *slowStore) Lookup(ctx context.Context, name string) (any, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	time.Sleep(s.latency)
	return "value-of-a-realistic-length-0123456789", nil
}

func (s *slowStore) String() string { return "slow store" }

// reportLatencies reports lookups per second and the 99th percentile.
func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkCache(b *testing.B) {
	const latency = time.Millisecond // a store on the same network
	ctx := context.Background()
	b.Run("uncached", func(b *testing.B) {
		src := &slowStore{latency: latency}
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if _, err := src.Lookup(ctx, "TOKEN"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatencies(b, lat)
	})
	b.Run("warm", func(b *testing.B) {
		src := &slowStore{latency: latency}
		c := secrets.NewCache(src, secrets.DefaultCacheOptions)
		if _, err := c.Lookup(ctx, "TOKEN"); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if _, err := c.Lookup(ctx, "TOKEN"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatencies(b, lat)
		b.ReportMetric(float64(src.calls), "store-calls")
	})
	b.Run("10000 askers", func(b *testing.B) {
		const askers = 10000
		var calls int
		lat := make([]time.Duration, 0, b.N*askers)
		var mu sync.Mutex
		for b.Loop() {
			src := &slowStore{latency: latency}
			c := secrets.NewCache(src, secrets.DefaultCacheOptions)
			var wg sync.WaitGroup
			for range askers {
				wg.Go(func() {
					t0 := time.Now()
					if _, err := c.Lookup(ctx, "TOKEN"); err != nil {
						b.Error(err)
					}
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
			wg.Wait()
			calls += src.calls
		}
		reportLatencies(b, lat)
		b.ReportMetric(float64(calls)/float64(b.N), "store-calls/op")
	})
}

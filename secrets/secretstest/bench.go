package secretstest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/secrets"
)

// Bench measures a store's source three ways, for the README's figures,
// each reporting lookups/s, p99-ns and store-calls/op:
//
//   - "uncached": every lookup asks the store;
//   - "warm": a [secrets.Cache] holding the secret (the TTL not over);
//   - "10000 askers": 10,000 goroutines (the children of a mapped task,
//     or runs of one process) asking for the secret at once through a
//     cold cache, which must call the store once.
//
// src must hold the secret called name.
func Bench(b *testing.B, src secrets.Source, name string) {
	ctx := context.Background()
	counted := &counting{src: src}
	b.Run("uncached", func(b *testing.B) {
		counted.n.Store(0)
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if _, err := counted.Lookup(ctx, name); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		report(b, lat, counted.n.Load())
	})
	b.Run("warm", func(b *testing.B) {
		c := secrets.NewCache(counted, secrets.DefaultCacheOptions)
		if _, err := c.Lookup(ctx, name); err != nil {
			b.Fatal(err)
		}
		counted.n.Store(0)
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if _, err := c.Lookup(ctx, name); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		report(b, lat, counted.n.Load())
	})
	b.Run("10000 askers", func(b *testing.B) {
		const askers = 10000
		counted.n.Store(0)
		var mu sync.Mutex
		lat := make([]time.Duration, 0, askers)
		for b.Loop() {
			c := secrets.NewCache(counted, secrets.DefaultCacheOptions)
			var wg sync.WaitGroup
			for range askers {
				wg.Go(func() {
					t0 := time.Now()
					_, err := c.Lookup(ctx, name)
					d := time.Since(t0)
					if err != nil {
						b.Error(err)
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		report(b, lat, counted.n.Load())
	})
}

// counting counts the lookups that reach the store.
type counting struct {
	src secrets.Source
	n   atomic.Int64
}

func (c *counting) Lookup(ctx context.Context, name string) (any, error) {
	c.n.Add(1)
	return c.src.Lookup(ctx, name)
}

func (c *counting) String() string { return c.src.String() }

// report reports lookups per second, the 99th percentile latency and the
// calls that reached the store per b.N.
func report(b *testing.B, lat []time.Duration, calls int64) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(calls)/float64(b.N), "store-calls/op")
}

package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/secretstest"
)

// storeFake is a remote store whose answers a test changes: it holds m,
// fails with fail when set, and counts its lookups; gate, when not nil,
// holds each lookup until it is closed.
type storeFake struct {
	calls atomic.Int32
	mu    sync.Mutex
	m     map[string]any
	fail  error
	gate  chan struct{}
}

var errThrottled = errors.New("ThrottlingException: rate exceeded")

func (s *storeFake) Lookup(ctx context.Context, name string) (any, error) {
	s.calls.Add(1)
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	v, ok := s.m[name]
	if !ok {
		return nil, &secrets.NotFoundError{Name: name, Tried: []string{s.String()}}
	}
	return v, nil
}

func (s *storeFake) String() string { return "fake store" }

func (s *storeFake) set(name string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.m, name)
	} else {
		s.m[name] = v
	}
}

func (s *storeFake) failWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func TestCacheConformance(t *testing.T) {
	secretstest.Run(t, func(t *testing.T, held map[string]any) secrets.Source {
		return secrets.NewCache(secrets.MapSource("map", held), secrets.DefaultCacheOptions)
	})
}

// TestCache checks the cache's rules one by one, on the bubble's clock.
func TestCache(t *testing.T) {
	opts := secrets.CacheOptions{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxStale: 5 * time.Minute}
	ctx := context.Background()
	lookup := func(t *testing.T, c *secrets.Cache, name string) (string, error) {
		t.Helper()
		v, err := c.Lookup(ctx, name)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(v), nil
	}

	t.Run("a value is kept for its TTL", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{"A": "one"}}
			c := secrets.NewCache(src, opts)
			for range 3 {
				if v, err := lookup(t, c, "A"); v != "one" || err != nil {
					t.Fatalf("Lookup = %q, %v", v, err)
				}
			}
			src.set("A", "two")
			time.Sleep(59 * time.Second)
			if v, _ := lookup(t, c, "A"); v != "one" || src.calls.Load() != 1 {
				t.Errorf("within the TTL: %q after %d calls; want the cached value after 1", v, src.calls.Load())
			}
			time.Sleep(time.Second)
			if v, _ := lookup(t, c, "A"); v != "two" || src.calls.Load() != 2 {
				t.Errorf("at the TTL: %q after %d calls; want the store's new value after 2", v, src.calls.Load())
			}
		})
	})

	t.Run("a miss is kept for the negative TTL", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{}}
			c := secrets.NewCache(src, opts)
			if _, err := lookup(t, c, "LATE"); !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "fake store") {
				t.Fatalf("Lookup of a missing secret: %v; want ErrNotFound naming the store", err)
			}
			src.set("LATE", "here")
			time.Sleep(9 * time.Second)
			if _, err := lookup(t, c, "LATE"); !errors.Is(err, secrets.ErrNotFound) || src.calls.Load() != 1 {
				t.Errorf("within the negative TTL: %v after %d calls; want the cached miss after 1", err, src.calls.Load())
			}
			time.Sleep(time.Second)
			if v, err := lookup(t, c, "LATE"); v != "here" || err != nil {
				t.Errorf("past the negative TTL: %q, %v; want the secret set since", v, err)
			}
		})
	})

	t.Run("a failing store serves the last value up to max_stale, logged once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{"A": "last-good", "B": "b"}}
			c := secrets.NewCache(src, opts)
			lookup(t, c, "A")
			lookup(t, c, "B")
			src.failWith(errThrottled)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			time.Sleep(time.Minute) // past the TTL
			for range 3 {
				for _, name := range []string{"A", "B"} {
					v, fromCache, err := c.LookupLogged(ctx, name, log)
					if err != nil || !fromCache {
						t.Fatalf("Lookup(%s) while the store fails, within max_stale: %v (from the cache: %v); want the last value", name, err, fromCache)
					}
					if name == "A" && v != "last-good" {
						t.Errorf("Lookup(A) = another value; want the last good one")
					}
				}
			}
			if n := strings.Count(logs.String(), "secret store failing"); n != 1 {
				t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
			}
			if strings.Contains(logs.String(), "last-good") {
				t.Errorf("the log shows a value:\n%s", logs.String())
			}
			time.Sleep(5 * time.Minute) // past TTL + max_stale
			if _, err := c.Lookup(ctx, "A"); !errors.Is(err, errThrottled) {
				t.Errorf("past max_stale: %v; want the store's failure", err)
			}
			// The store answers again: the next outage is logged again.
			src.failWith(nil)
			lookup(t, c, "A")
			src.failWith(errThrottled)
			time.Sleep(time.Minute)
			c.LookupLogged(ctx, "A", log)
			if n := strings.Count(logs.String(), "secret store failing"); n != 2 {
				t.Errorf("two outages logged %d times, want twice", n)
			}
		})
	})

	t.Run("a secret deleted from the store is not served stale", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{"A": "v"}}
			c := secrets.NewCache(src, opts)
			lookup(t, c, "A")
			src.set("A", nil)
			time.Sleep(time.Minute)
			if _, err := lookup(t, c, "A"); !errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("Lookup after the secret was deleted: %v; want ErrNotFound", err)
			}
		})
	})

	t.Run("one call in flight per secret", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			gate := make(chan struct{})
			src := &storeFake{m: map[string]any{"A": "v"}, gate: gate}
			c := secrets.NewCache(src, opts)
			const askers = 10000
			var wg sync.WaitGroup
			var bad atomic.Int32
			for range askers {
				wg.Go(func() {
					if v, err := c.Lookup(ctx, "A"); err != nil || v != "v" {
						bad.Add(1)
					}
				})
			}
			synctest.Wait()
			close(gate)
			wg.Wait()
			if n := src.calls.Load(); n != 1 || bad.Load() != 0 {
				t.Errorf("%d askers at once: %d calls to the store, %d wrong answers; want 1 call, 0 wrong", askers, n, bad.Load())
			}
		})
	})

	t.Run("askers during a refresh get the stale value at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{"A": "old"}}
			c := secrets.NewCache(src, opts)
			lookup(t, c, "A")
			time.Sleep(time.Minute)
			gate := make(chan struct{})
			src.mu.Lock()
			src.gate, src.m["A"] = gate, "new"
			src.mu.Unlock()
			refreshed := make(chan string)
			go func() {
				v, _ := lookup(t, c, "A")
				refreshed <- v
			}()
			synctest.Wait() // the refresh waits at the store
			if v, err := lookup(t, c, "A"); v != "old" || err != nil {
				t.Errorf("during the refresh: %q, %v; want the stale value at once", v, err)
			}
			close(gate)
			if v := <-refreshed; v != "new" {
				t.Errorf("the refresh got %q, want the new value", v)
			}
		})
	})

	t.Run("Forget asks the store again", func(t *testing.T) {
		src := &storeFake{m: map[string]any{"A": "one"}}
		c := secrets.NewCache(src, opts)
		lookup(t, c, "A")
		src.set("A", "two")
		c.Forget("A")
		if v, _ := lookup(t, c, "A"); v != "two" {
			t.Errorf("after Forget: %q, want the store's value", v)
		}
	})
}

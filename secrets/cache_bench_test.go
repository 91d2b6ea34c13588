package secrets_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/secrets/secretstest"
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

func BenchmarkCache(b *testing.B) {
	// A store on the same network: a millisecond a call.
	secretstest.Bench(b, &slowStore{latency: time.Millisecond}, "TOKEN")
}

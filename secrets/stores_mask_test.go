package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/secrets"
)

// loginStore is a store that logs in: Open hands its first token to
// secrets.Mask, as a real store's login does, and each lookup after
// relogin is set logs in again with a new token.
type loginStore struct {
	storeFake
	relogin atomic.Bool
	logins  atomic.Int32
}

func (s *loginStore) Lookup(ctx context.Context, name string) (any, error) {
	if s.relogin.CompareAndSwap(true, false) {
		secrets.Mask(ctx, secrets.NewValue(fmt.Sprintf("LOGIN-TOKEN-%d", s.logins.Add(1))))
	}
	return s.storeFake.Lookup(ctx, name)
}

var (
	loginMu     sync.Mutex
	loginStores = map[string]*loginStore{}
)

func init() {
	secrets.RegisterStore("loginstore", secrets.StoreKind{
		Credentials: "LOGINSTORE_CREDENTIALS",
		Open: func(ctx context.Context, s secrets.StoreSettings) (secrets.Source, error) {
			ns, _ := s.Settings["namespace"].(string)
			loginMu.Lock()
			src := loginStores[ns]
			loginMu.Unlock()
			if src == nil {
				return nil, fmt.Errorf("no login store %q", ns)
			}
			secrets.Mask(ctx, secrets.NewValue(fmt.Sprintf("LOGIN-TOKEN-%d", src.logins.Add(1))))
			return src, nil
		},
	})
}

// TestStoreSecretsReachEveryRunsMasker checks that the store's credentials
// and the tokens its logins return are registered with the masker of
// every run that uses the store: the run that opened it, later runs that
// share it, and runs after it logged in again.
func TestStoreSecretsReachEveryRunsMasker(t *testing.T) {
	ns := strings.NewReplacer("/", "-").Replace(t.Name())
	src := &loginStore{storeFake: storeFake{m: map[string]any{"X": "xval"}}}
	loginMu.Lock()
	loginStores[ns] = src
	loginMu.Unlock()
	cfg := load(t, []string{`PREFECT__SECRETS__SOURCES=["loginstore"]`, "PREFECT__SECRETS__LOGINSTORE__NAMESPACE=" + ns,
		"PREFECT__SECRETS__LOGINSTORE__CACHE_TTL=0", "PREFECT__CONTEXT__SECRETS__LOGINSTORE_CREDENTIALS=cred-s3cr3t"}, "")
	run := func() []string {
		var mu sync.Mutex
		var got []string
		r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.OnResolve(func(v secrets.Value) {
			mu.Lock()
			got = append(got, v.RevealAll()...)
			mu.Unlock()
		}))
		if v, err := r.Get(context.Background(), "X"); err != nil || v.Reveal() != "xval" {
			t.Fatalf("Get(X) = %v", err)
		}
		return got
	}
	for i, want := range [][]string{
		{"xval", "cred-s3cr3t", "LOGIN-TOKEN-1"}, // the run that opened the store
		{"xval", "cred-s3cr3t", "LOGIN-TOKEN-1"}, // a later run sharing it
	} {
		got := run()
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("run %d registered %q; it lacks %q", i+1, got, w)
			}
		}
	}
	src.relogin.Store(true)
	if got := run(); !slices.Contains(got, "LOGIN-TOKEN-2") || !slices.Contains(got, "LOGIN-TOKEN-1") {
		t.Errorf("a run during which the store logged in again registered %q; want both tokens", got)
	}
}

func TestCacheKeepsNothingWithoutTTL(t *testing.T) {
	src := &storeFake{m: map[string]any{"A": "v"}}
	c := secrets.NewCache(src, secrets.CacheOptions{})
	for range 2 {
		if v, err := c.Lookup(context.Background(), "A"); err != nil || v != "v" {
			t.Fatalf("Lookup = %v, %v", v, err)
		}
	}
	if n := c.Len(); n != 0 || src.calls.Load() != 2 {
		t.Errorf("with no TTL, negative TTL or max_stale the cache holds %d values after %d calls; want none, and a call per lookup", n, src.calls.Load())
	}
	synctest.Test(t, func(t *testing.T) {
		c := secrets.NewCache(&storeFake{m: map[string]any{"A": "v", "B": "w"}}, secrets.CacheOptions{TTL: time.Minute})
		c.Lookup(context.Background(), "A")
		time.Sleep(time.Hour)
		c.Lookup(context.Background(), "B") // a lookup of another secret drops A, which may no longer be served
		if n := c.Len(); n != 1 {
			t.Errorf("an hour past its TTL, the cache still holds %d values; want only B's", n)
		}
	})
}

func TestRefreshPastTheProcessCache(t *testing.T) {
	ns, src := newFakeStore(t, map[string]any{"TOKEN": "v1"})
	cfg := load(t, []string{`PREFECT__SECRETS__SOURCES=["teststore"]`, "PREFECT__SECRETS__TESTSTORE__NAMESPACE=" + ns,
		"PREFECT__SECRETS__TESTSTORE__CACHE_TTL=3600"}, "")
	ctx := context.Background()
	if v, _ := secrets.NewResolver(secrets.WithConfig(cfg)).Get(ctx, "TOKEN"); v.Reveal() != "v1" {
		t.Fatal("first run did not get v1")
	}
	src.set("TOKEN", "v2")
	// A run that asks nothing before Refresh: the store's cache is the
	// process's, and Refresh must pass it too.
	r := secrets.NewResolver(secrets.WithConfig(cfg))
	if v, err := secrets.Refresh(secrets.NewContext(ctx, r), "TOKEN"); err != nil || v.Reveal() != "v2" {
		t.Errorf("Refresh in a fresh run = %q, %v; want the store's v2", v.Reveal(), err)
	}
}

func TestCacheStaleRules(t *testing.T) {
	opts := secrets.CacheOptions{TTL: time.Minute, NegativeTTL: time.Second, MaxStale: time.Hour}
	ctx := context.Background()
	t.Run("Forget keeps the stale fallback", func(t *testing.T) {
		src := &storeFake{m: map[string]any{"A": "old"}}
		c := secrets.NewCache(src, opts)
		c.Lookup(ctx, "A")
		c.Forget("A")
		src.failWith(errThrottled)
		if v, err := c.Lookup(ctx, "A"); err != nil || v != "old" {
			t.Errorf("after Forget, with the store failing: %v, %v; want the last value", v, err)
		}
		if src.calls.Load() != 2 {
			t.Errorf("after Forget the store was not asked again")
		}
	})
	t.Run("a refusal is never served through", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{"A": "old"}}
			c := secrets.NewCache(src, opts)
			c.Lookup(ctx, "A")
			time.Sleep(time.Minute)
			src.failWith(fmt.Errorf("%w: the token was revoked", secrets.ErrAccessDenied))
			if v, err := c.Lookup(ctx, "A"); !errors.Is(err, secrets.ErrAccessDenied) {
				t.Errorf("with access revoked: %v, %v; want the refusal, not the stale value", v, err)
			}
		})
	})
	t.Run("an outage is logged by the first asker with a logger", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &storeFake{m: map[string]any{"A": "old"}}
			c := secrets.NewCache(src, opts)
			c.Lookup(ctx, "A")
			time.Sleep(time.Minute)
			src.failWith(errThrottled)
			c.Lookup(ctx, "A") // no logger: a worker's resolver, say
			var logs bytes.Buffer
			c.LookupLogged(ctx, "A", slog.New(slog.NewTextHandler(&logs, nil)))
			if !strings.Contains(logs.String(), "secret store failing") {
				t.Errorf("the outage was never logged: the asker without a logger took the only mention")
			}
		})
	})
}

package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/store"
)

// forEachStoreEnv runs test on a server's environment over SQLite and over
// PostgreSQL (see package pgtest), in a synctest bubble: the server reads
// the bubble's clock, which time.Sleep moves on at once and to the
// nanosecond. The store is opened in the bubble, as its connections'
// goroutines and channels must belong to it.
func forEachStoreEnv(t *testing.T, test func(t *testing.T, env *servertest.Env)) {
	t.Run("sqlite", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { test(t, servertest.New(t)) })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t) // the schema is made and dropped outside the bubble
		synctest.Test(t, func(t *testing.T) {
			st, err := store.OpenPostgres(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			test(t, servertest.On(t, st))
		})
	})
}

// names asks h for the tenant's secret names with key and returns the HTTP
// status and body. It calls h in process: real network I/O does not block
// durably in a synctest bubble.
func names(t *testing.T, h http.Handler, key string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ secret_names }"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// A key revoked in the store is refused by a running server once its
// cached acceptance is AuthCacheTTL old (or WithAuthCacheTTL's time),
// whoever revoked it, with the answer an unknown key gets.
func TestRevokedKeyRefusedWithinCacheTTL(t *testing.T) {
	forEachStoreEnv(t, testRevokedKeyRefusedWithinCacheTTL)
}

func testRevokedKeyRefusedWithinCacheTTL(t *testing.T, env *servertest.Env) {
	ctx := context.Background()
	for _, tt := range []struct {
		ttl  time.Duration
		opts []server.Option
	}{
		{server.AuthCacheTTL, nil},
		{time.Second, []server.Option{server.WithAuthCacheTTL(time.Second)}},
	} {
		key, id := env.Key, env.KeyID
		if tt.opts != nil {
			var info store.KeyInfo
			var err error
			if key, info, err = env.Store.CreateAPIKey(ctx, env.Tenant.ID, "ttl-"+tt.ttl.String()); err != nil {
				t.Fatal(err)
			}
			id = info.ID
		}
		h := env.Handler(tt.opts...)

		if status, body := names(t, h, key); status != http.StatusOK {
			t.Fatalf("before the revocation: HTTP %d %s", status, body)
		}
		// The revocation comes after the store's answer was cached, as
		// late as it can: the key is trusted until the entry expires.
		if _, err := env.Store.RevokeAPIKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(tt.ttl - time.Nanosecond)
		if status, body := names(t, h, key); status != http.StatusOK {
			// Not a promise, but the cache this test is about.
			t.Fatalf("within the cache's %v: HTTP %d %s; did the cache go?", tt.ttl, status, body)
		}
		time.Sleep(time.Nanosecond)
		status, body := names(t, h, key)
		if status != http.StatusUnauthorized {
			t.Fatalf("%v after the revocation: HTTP %d %s; want 401", tt.ttl, status, body)
		}
		unknownStatus, unknownBody := names(t, h, store.KeyPrefix+strings.Repeat("A", 43))
		if status != unknownStatus || body != unknownBody {
			t.Errorf("a revoked key gets HTTP %d %s; an unknown one HTTP %d %s: they must not differ", status, body, unknownStatus, unknownBody)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// The refusals are on record as unknown keys', in no tenant's log.
	events, err := env.Store.AuditLog(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 || events[0].Operation != orchestration.OpAuthenticate || events[0].Outcome != orchestration.OutcomeDenied || events[0].KeyID != "" {
		t.Errorf("unknown keys' events %+v; want the four refusals", events)
	}
}

// usesCounter counts the store's notes of keys' use.
type usesCounter struct {
	*store.SQL
	mu    sync.Mutex
	notes []time.Time
}

func (c *usesCounter) APIKeyUsed(ctx context.Context, id string, at time.Time) error {
	c.mu.Lock()
	c.notes = append(c.notes, at)
	c.mu.Unlock()
	return c.SQL.APIKeyUsed(ctx, id, at)
}

// The server notes a key's first use and then one a KeyUseInterval, not
// one a request, and the store lists it.
func TestKeyUseNotedOnceAnInterval(t *testing.T) {
	forEachStoreEnv(t, testKeyUseNotedOnceAnInterval)
}

func testKeyUseNotedOnceAnInterval(t *testing.T, env *servertest.Env) {
	ctx := context.Background()
	counter := &usesCounter{SQL: env.Store}
	h := server.New(counter, env.Ring)

	first := time.Now()
	for _, step := range []time.Duration{0, time.Second, server.AuthCacheTTL, server.KeyUseInterval - time.Second - server.AuthCacheTTL - time.Nanosecond, time.Nanosecond} {
		time.Sleep(step)
		for range 10 {
			if status, body := names(t, h, env.Key); status != http.StatusOK {
				t.Fatalf("HTTP %d %s", status, body)
			}
		}
	}
	last := time.Now()
	if last.Sub(first) != server.KeyUseInterval {
		t.Fatalf("the test's steps add up to %v", last.Sub(first))
	}
	if err := h.Close(); err != nil { // waits for the notes
		t.Fatal(err)
	}
	counter.mu.Lock()
	notes := counter.notes
	counter.mu.Unlock()
	if len(notes) != 2 || !notes[0].Equal(first) || !notes[1].Equal(last) {
		t.Errorf("50 requests over %v noted %v; want %v and %v", server.KeyUseInterval, notes, first, last)
	}
	keys, err := env.Store.APIKeys(ctx, env.Tenant.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].LastUsed.Equal(last) {
		t.Errorf("the store lists %+v; want the key last used %v", keys, last)
	}
}

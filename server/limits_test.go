package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
)

func TestMaxSecretsPerTenant(t *testing.T) {
	ctx := context.Background()
	f := start(t, server.WithMaxSecrets(3))
	a, b := newClient(t, f, keyA), newClient(t, f, keyB)
	for i := range 3 {
		if err := a.SetSecret(ctx, fmt.Sprintf("S%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	err := a.SetSecret(ctx, "S3", "v")
	if err == nil || !strings.Contains(err.Error(), "holds 3 secrets, the most it may") {
		t.Fatalf("a fourth secret: %v; want a refusal naming the limit", err)
	}
	if err := a.SetSecret(ctx, "S0", "replaced"); err != nil {
		t.Errorf("replacing a secret at the limit: %v", err)
	}
	if err := b.SetSecret(ctx, "OTHER", "v"); err != nil {
		t.Errorf("another tenant is limited by the first's secrets: %v", err)
	}
	if err := a.DeleteSecret(ctx, "S1"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetSecret(ctx, "S3", "v"); err != nil {
		t.Errorf("after a delete, a new secret: %v", err)
	}
}

// Refused unknown keys are audited one by one up to the rate, then summed
// up in one event when the window ends: none goes unrecorded.
// TestUnknownKeyAuditRate runs in a synctest bubble: the attempts all fall
// in the minute's window however loaded the machine, and the window ends
// when the bubble's clock says so. The handler is called in process, as
// real network I/O does not block durably in a bubble.
func TestUnknownKeyAuditRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		srv := server.New(st, nil)
		defer srv.Close()
		start := time.Now()
		const extra = 25
		for i := range server.UnknownKeyAuditRate + extra {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ secret_names }"}`))
			req.Header.Set("Content-Type", "application/json")
			if i%2 == 1 { // no key at all counts too
				req.Header.Set("Authorization", "Bearer pgo_wrong")
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401", rec.Code)
			}
		}
		count := func() (events, attempts int) {
			for _, e := range st.Events() {
				if e.Operation == orchestration.OpAuthenticate && e.Outcome == orchestration.OutcomeDenied && e.TenantID == "" {
					events++
					attempts += max(e.Count, 1)
				}
			}
			return
		}
		if events, attempts := count(); events != server.UnknownKeyAuditRate || attempts != server.UnknownKeyAuditRate {
			t.Fatalf("before the window ends: %d events for %d attempts; want %d one by one", events, attempts, server.UnknownKeyAuditRate)
		}
		time.Sleep(time.Until(start.Add(time.Minute)) - time.Nanosecond)
		synctest.Wait()
		if events, _ := count(); events != server.UnknownKeyAuditRate {
			t.Fatalf("just before the window ends: %d events; want the sum held back", events)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if events, attempts := count(); events != server.UnknownKeyAuditRate+1 || attempts != server.UnknownKeyAuditRate+extra {
			t.Fatalf("after the window: %d events for %d attempts; want one more event summing up %d", events, attempts, extra)
		}
	})
}

// Close writes the held-back sum at once.
func TestCloseFlushesUnknownKeySum(t *testing.T) {
	st := newMemStore()
	srv := server.New(st, nil) // the window is a minute: only Close can write the sum in time
	f := &fixture{st: st, srv: httptest.NewServer(srv)}
	for range server.UnknownKeyAuditRate + 3 {
		f.post(t, "pgo_wrong", "/graphql", `{"query":"{ secret_names }"}`)
	}
	f.srv.Close()
	srv.Close()
	var sum int
	for _, e := range st.Events() {
		sum += max(e.Count, 1)
	}
	if sum != server.UnknownKeyAuditRate+3 {
		t.Errorf("after Close, the log counts %d attempts; want %d", sum, server.UnknownKeyAuditRate+3)
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/server/seal"
)

func TestSecretsStamp(t *testing.T) { forEachDB(t, testSecretsStamp) }

// The stamp grows with each put and delete of the tenant's secrets, and
// with nothing else: not a rotation's swap, not another tenant's change,
// not a delete of nothing.
func testSecretsStamp(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	stamp := func(tn Tenant) int64 {
		t.Helper()
		n, err := s.SecretsStamp(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	put := func(tn Tenant, name, v string) {
		t.Helper()
		if _, err := s.PutSecret(ctx, tn.ID, name, mustSeal(t, k, tn.ID, name, v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name   string
		do     func()
		growsA bool
	}{
		{"a new secret", func() { put(a, "X", `"1"`) }, true},
		{"a new version", func() { put(a, "X", `"2"`) }, true},
		{"a server's own", func() { put(a, ".prefect/runs/r/env", `{"K":"v"}`) }, true},
		{"another tenant's", func() { put(b, "X", `"3"`) }, false},
		{"a delete", func() {
			if err := s.DeleteSecret(ctx, a.ID, ".prefect/runs/r/env"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a delete of nothing", func() {
			if err := s.DeleteSecret(ctx, a.ID, "NOPE"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("DeleteSecret of nothing: %v", err)
			}
		}, false},
		{"a rotation's swap", func() {
			rows, err := s.SealedNotUnder(ctx, "none", 0)
			if err != nil || len(rows) == 0 {
				t.Fatal(rows, err)
			}
			next, err := seal.Rewrap(k, newKey(t), rows[0].TenantID, rows[0].Name, rows[0].Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SwapSealed(ctx, rows[0], next); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		beforeA, beforeB := stamp(a), stamp(b)
		step.do()
		afterA, afterB := stamp(a), stamp(b)
		if grew := afterA > beforeA; grew != step.growsA {
			t.Errorf("%s: acme's stamp %d -> %d; grows: %v", step.name, beforeA, afterA, step.growsA)
		}
		if step.name != "another tenant's" && afterB != beforeB {
			t.Errorf("%s: globex's stamp changed", step.name)
		}
	}
	if _, err := s.SecretsStamp(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SecretsStamp of an unknown tenant: %v", err)
	}
	if _, err := s.PutSecret(ctx, "nobody", "X", mustSeal(t, k, "nobody", "X", `"v"`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutSecret for an unknown tenant: %v", err)
	}
	if err := s.DeleteSecret(ctx, "nobody", "X"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteSecret for an unknown tenant: %v", err)
	}

	before := stamp(a)
	put(a, ".prefect/flows/f/env", `{"K":"v"}`)
	sealed, st, err := s.SealedSecrets(ctx, a.ID, -1)
	if err != nil || st != stamp(a) || len(sealed) != 2 {
		t.Fatalf("SealedSecrets = %d secrets at stamp %d, %v; want 2 at %d", len(sealed), st, err, stamp(a))
	}
	if _, ok := sealed[".prefect/flows/f/env"]; !ok {
		t.Error("SealedSecrets leaves out the server's own")
	}
	if _, err := seal.Open(k, a.ID, "X", sealed["X"]); err != nil && !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("a secret from SealedSecrets does not open: %v", err)
	}
	// Since a stamp: only what was put after it.
	since, st, err := s.SealedSecrets(ctx, a.ID, before)
	if _, ok := since[".prefect/flows/f/env"]; err != nil || len(since) != 1 || !ok || st != stamp(a) {
		t.Errorf("SealedSecrets since %d = %d secrets at %d, %v; want the one put after", before, len(since), st, err)
	}
	if since, _, err := s.SealedSecrets(ctx, a.ID, stamp(a)); err != nil || len(since) != 0 {
		t.Errorf("SealedSecrets since the stamp = %d secrets, %v; want none", len(since), err)
	}
	if _, _, err := s.SealedSecrets(ctx, "nobody", -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SealedSecrets of an unknown tenant: %v", err)
	}
}

func TestStampedWritesDoNotDeadlock(t *testing.T) { forEachDB(t, testStampedWritesDoNotDeadlock) }

// Puts and deletes of one tenant's secrets at once all go through (they
// lock the tenant's row first, then the secret's), and the stamp counts
// each that changed something.
func testStampedWritesDoNotDeadlock(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	k := newKey(t)
	tn := mustTenant(t, s, "acme")
	var changes atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				name := fmt.Sprintf("S%d", (w+i)%4)
				var err error
				if (w+i)%3 == 0 {
					err = s.DeleteSecret(ctx, tn.ID, name)
				} else {
					var sl seal.Sealed
					if sl, err = seal.Seal(k, tn.ID, name, []byte(`"v"`)); err == nil {
						_, err = s.PutSecret(ctx, tn.ID, name, sl)
					}
				}
				switch {
				case err == nil:
					changes.Add(1)
				case !errors.Is(err, ErrNotFound):
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, err := s.SecretsStamp(ctx, tn.ID); err != nil || got != changes.Load() {
		t.Errorf("stamp %d, %v; want %d, one per change", got, err, changes.Load())
	}
}

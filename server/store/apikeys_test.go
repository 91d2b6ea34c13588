package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAPIKeyLifecycle(t *testing.T)   { forEachDB(t, testAPIKeyLifecycle) }
func TestConcurrentRevokes(t *testing.T) { forEachDB(t, testConcurrentRevokes) }

func mustKey(t *testing.T, s *SQL, tenantID, name string) (string, KeyInfo) {
	t.Helper()
	key, info, err := s.CreateAPIKey(context.Background(), tenantID, name)
	if err != nil {
		t.Fatal(err)
	}
	return key, info
}

func mustKeys(t *testing.T, s *SQL, tenantID string, revoked bool) []APIKey {
	t.Helper()
	keys, err := s.APIKeys(context.Background(), tenantID, revoked)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func keyIDs(keys []APIKey) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func testAPIKeyLifecycle(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	acme, globex := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	keyCI, ci := mustKey(t, s, acme.ID, "ci")
	_, laptop := mustKey(t, s, acme.ID, "laptop")
	_, other := mustKey(t, s, globex.ID, "ci")

	keys := mustKeys(t, s, acme.ID, true)
	if got := keyIDs(keys); len(got) != 2 || got[0] != ci.ID || got[1] != laptop.ID {
		t.Fatalf("acme's keys %v; want ci then laptop (%s, %s)", got, ci.ID, laptop.ID)
	}
	if keys[0].KeyInfo != ci || !keys[0].LastUsed.IsZero() || !keys[0].Revoked.IsZero() {
		t.Errorf("a new key is listed as %+v; want %+v, never used, not revoked", keys[0], ci)
	}
	if got := keyIDs(mustKeys(t, s, "no-such-tenant", true)); got != nil {
		t.Errorf("an unknown tenant has keys %v", got)
	}

	// A use is noted; an earlier one (another server's, late) is not.
	t1 := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	for _, at := range []time.Time{t1, t1.Add(-time.Minute)} {
		if err := s.APIKeyUsed(ctx, ci.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.APIKeyUsed(ctx, "no-such-key", t1); err != nil {
		t.Errorf("the use of an unknown key: %v", err)
	}
	if got := mustKeys(t, s, acme.ID, false)[0].LastUsed; !got.Equal(t1) {
		t.Errorf("ci last used %v; want %v", got, t1)
	}

	before := time.Now()
	info, err := s.RevokeAPIKey(ctx, ci.ID)
	if err != nil || info != ci {
		t.Fatalf("RevokeAPIKey = %+v, %v; want %+v", info, err, ci)
	}
	// A revoked key gets the answer of a key the store never made.
	_, revokedErr := s.Authenticate(ctx, keyCI)
	_, unknownErr := s.Authenticate(ctx, KeyPrefix+strings.Repeat("A", 43))
	if !errors.Is(revokedErr, ErrUnauthenticated) || revokedErr.Error() != unknownErr.Error() {
		t.Errorf("a revoked key: %v; want what an unknown one gets, %v", revokedErr, unknownErr)
	}

	for _, tt := range []struct {
		id   string
		want error
		says []string
	}{
		{ci.ID, ErrRevoked, []string{ci.ID, "ci", "revoked at"}},
		{"no-such-key", ErrNotFound, []string{"no-such-key"}},
	} {
		_, err := s.RevokeAPIKey(ctx, tt.id)
		if !errors.Is(err, tt.want) {
			t.Errorf("RevokeAPIKey(%s): %v; want %v", tt.id, err, tt.want)
			continue
		}
		for _, w := range tt.says {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("RevokeAPIKey(%s): %q does not say %q", tt.id, err, w)
			}
		}
	}

	if got := keyIDs(mustKeys(t, s, acme.ID, false)); len(got) != 1 || got[0] != laptop.ID {
		t.Errorf("acme's keys in use %v; want laptop alone", got)
	}
	all := mustKeys(t, s, acme.ID, true)
	if got := keyIDs(all); len(got) != 2 || got[0] != ci.ID {
		t.Fatalf("acme's keys with the revoked %v; want ci first", got)
	}
	if all[0].KeyInfo != ci || !all[0].LastUsed.Equal(t1) || all[0].Revoked.Before(before.Add(-time.Second)) || !all[1].Revoked.IsZero() {
		t.Errorf("the revoked key is listed as %+v; want %+v, last used %v, revoked since %v", all[0], ci, t1, before)
	}
	if err := s.APIKeyUsed(ctx, ci.ID, t1.Add(time.Hour)); err != nil {
		t.Errorf("a late use of a revoked key: %v", err)
	}
	if got := mustKeys(t, s, acme.ID, true)[0].LastUsed; !got.Equal(t1) {
		t.Errorf("a revoked key's last use moved to %v", got)
	}

	// The name is free again; the other tenant's key of that name lives on.
	if _, again := mustKey(t, s, acme.ID, "ci"); again.ID == ci.ID {
		t.Error("a new key got the revoked key's ID")
	}
	if got := mustKeys(t, s, globex.ID, true); len(got) != 1 || got[0].KeyInfo != other || !got[0].Revoked.IsZero() {
		t.Errorf("globex's keys %+v; want its ci alone, in use", got)
	}
}

// Of many revocations of one key at once, one revokes it and the others
// find it revoked.
func testConcurrentRevokes(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	acme := mustTenant(t, s, "acme")
	_, k := mustKey(t, s, acme.ID, "ci")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = s.RevokeAPIKey(ctx, k.ID) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrRevoked):
			t.Errorf("a concurrent revocation: %v; want ErrRevoked", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d revocations succeeded; want 1", ok)
	}
	if got := mustKeys(t, s, acme.ID, true); len(got) != 1 || got[0].Revoked.IsZero() {
		t.Errorf("after the revocations: %+v; want the key once, revoked", got)
	}
}

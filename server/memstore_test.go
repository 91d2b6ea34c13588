package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
)

// memStore is a Store in memory, for tests.
type memStore struct {
	mu      sync.Mutex
	keys    map[string]orchestration.KeyInfo // by key text
	secrets map[string]map[string]memSecret
	events  []orchestration.Event
	fail    error // returned by every method but Authenticate and Record when set
}

type memSecret struct {
	sealed seal.Sealed
	meta   orchestration.SecretMeta
}

var _ server.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{keys: map[string]orchestration.KeyInfo{}, secrets: map[string]map[string]memSecret{}}
}

// addKey makes key an API key of tenant.
func (m *memStore) addKey(key, tenant string) orchestration.KeyInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := orchestration.KeyInfo{ID: fmt.Sprintf("key-%d", len(m.keys)+1), TenantID: tenant, Name: "test", Created: time.Now()}
	m.keys[key] = k
	return k
}

func (m *memStore) Authenticate(_ context.Context, key string) (orchestration.KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[key]
	if !ok {
		return orchestration.KeyInfo{}, fmt.Errorf("memstore: %w", orchestration.ErrUnauthenticated)
	}
	return k, nil
}

func (m *memStore) PutSecret(_ context.Context, tenant, name string, s seal.Sealed) (orchestration.SecretMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return orchestration.SecretMeta{}, m.fail
	}
	t := m.secrets[tenant]
	if t == nil {
		t = map[string]memSecret{}
		m.secrets[tenant] = t
	}
	now := time.Now()
	old, ok := t[name]
	meta := orchestration.SecretMeta{Name: name, Version: 1, Created: now, Updated: now}
	if ok {
		meta.Version, meta.Created = old.meta.Version+1, old.meta.Created
	}
	t[name] = memSecret{s, meta}
	return meta, nil
}

func (m *memStore) Secret(_ context.Context, tenant, name string) (seal.Sealed, orchestration.SecretMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return seal.Sealed{}, orchestration.SecretMeta{}, m.fail
	}
	s, ok := m.secrets[tenant][name]
	if !ok {
		return seal.Sealed{}, orchestration.SecretMeta{}, fmt.Errorf("memstore: secret %q: %w", name, orchestration.ErrNotFound)
	}
	return s.sealed, s.meta, nil
}

func (m *memStore) DeleteSecret(_ context.Context, tenant, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.secrets[tenant][name]; !ok {
		return fmt.Errorf("memstore: secret %q: %w", name, orchestration.ErrNotFound)
	}
	delete(m.secrets[tenant], name)
	return nil
}

func (m *memStore) Secrets(_ context.Context, tenant string) ([]orchestration.SecretMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []orchestration.SecretMeta
	for _, s := range m.secrets[tenant] {
		out = append(out, s.meta)
	}
	slices.SortFunc(out, func(a, b orchestration.SecretMeta) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memStore) CountSecrets(ctx context.Context, tenant string) (int, error) {
	list, err := m.Secrets(ctx, tenant)
	list = slices.DeleteFunc(list, func(s orchestration.SecretMeta) bool { return strings.HasPrefix(s.Name, orchestration.ReservedPrefix) })
	return len(list), err
}

func (m *memStore) Record(_ context.Context, e orchestration.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

func (m *memStore) AuditLog(_ context.Context, tenant string, limit int) ([]orchestration.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []orchestration.Event
	for i := len(m.events) - 1; i >= 0 && len(out) < limit; i-- {
		if m.events[i].TenantID == tenant {
			out = append(out, m.events[i])
		}
	}
	return out, nil
}

// Events returns a copy of every event recorded.
func (m *memStore) Events() []orchestration.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// Command outside is a program of another module that builds a secret
// server on a store of its own, with the public packages alone; the test
// TestOutsideModule builds and runs it. It prints the value it set and
// read back.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
)

// memory is a server.Store of one tenant in memory.
type memory struct {
	mu      sync.Mutex
	key     string
	secrets map[string]seal.Sealed
	meta    map[string]orchestration.SecretMeta
	events  []orchestration.Event
}

var _ server.Store = (*memory)(nil)

func (m *memory) Authenticate(_ context.Context, key string) (orchestration.KeyInfo, error) {
	if key != m.key {
		return orchestration.KeyInfo{}, fmt.Errorf("memory: %w", orchestration.ErrUnauthenticated)
	}
	return orchestration.KeyInfo{ID: "k1", TenantID: "acme", Name: "mine"}, nil
}

func (m *memory) PutSecret(_ context.Context, tenant, name string, s seal.Sealed) (orchestration.SecretMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	meta := m.meta[name]
	now := time.Now()
	if meta.Version == 0 {
		meta = orchestration.SecretMeta{Name: name, Created: now}
	}
	meta.Version++
	meta.Updated = now
	m.secrets[name], m.meta[name] = s, meta
	return meta, nil
}

func (m *memory) Secret(_ context.Context, tenant, name string) (seal.Sealed, orchestration.SecretMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[name]
	if !ok {
		return seal.Sealed{}, orchestration.SecretMeta{}, fmt.Errorf("memory: secret %q: %w", name, orchestration.ErrNotFound)
	}
	return s, m.meta[name], nil
}

func (m *memory) DeleteSecret(_ context.Context, tenant, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.secrets[name]; !ok {
		return fmt.Errorf("memory: secret %q: %w", name, orchestration.ErrNotFound)
	}
	delete(m.secrets, name)
	delete(m.meta, name)
	return nil
}

func (m *memory) Secrets(_ context.Context, tenant string) ([]orchestration.SecretMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []orchestration.SecretMeta
	for _, meta := range m.meta {
		out = append(out, meta)
	}
	slices.SortFunc(out, func(a, b orchestration.SecretMeta) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memory) CountSecrets(_ context.Context, tenant string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name := range m.secrets {
		if !strings.HasPrefix(name, orchestration.ReservedPrefix) {
			n++
		}
	}
	return n, nil
}

func (m *memory) Record(_ context.Context, e orchestration.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

func (m *memory) AuditLog(_ context.Context, tenant string, limit int) ([]orchestration.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.events)
	slices.Reverse(out)
	return out[:min(limit, len(out))], nil
}

func post(ts *httptest.Server, key, body string) string {
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/graphql", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := ts.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func main() {
	master, err := seal.NewMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	st := &memory{key: "my-key", secrets: map[string]seal.Sealed{}, meta: map[string]orchestration.SecretMeta{}}
	srv := server.New(st, seal.NewKeyring(master))
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	fmt.Println(post(ts, "my-key", `{"query": "mutation($input: set_secret_input!) { set_secret(input: $input) { success } }",
		"variables": {"input": {"name": "TOKEN", "value": "s3cr3t"}}}`))
	fmt.Println(post(ts, "my-key", `{"query": "{ secret_value(name: \"TOKEN\") }"}`))
	fmt.Println(len(st.events) > 0, st.secrets["TOKEN"].KeyID == master.ID())
}

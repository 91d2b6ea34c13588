package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
)

const opPage = `query($limit: Int, $after: String) { secrets_page(limit: $limit, after: $after) { names secrets { name version } next } }`

// pageBackend is the server over one store, with what the page tests need
// of it besides HTTP.
type pageBackend struct {
	f   *fixture
	key string // an API key of the tenant
	// limits is true when the store enforces the limit in the put (a
	// SecretLimiter), so that concurrent sets never pass it.
	limits bool
	// putOwn stores one of the server's own secrets (".prefect/...") for
	// the tenant, as runs do, past the API's refusal of such names.
	putOwn func(t *testing.T, name string)
	events func(t *testing.T) []orchestration.Event // the tenant's audit log
	count  func(t *testing.T) int                   // the store's count of the tenant's secrets
}

// forEachBackend runs test over the in-memory store (a Store only: the
// server lists every secret and cuts the page, and counts before a put)
// and over SQLite and PostgreSQL (a SecretPager and SecretLimiter).
func forEachBackend(t *testing.T, test func(t *testing.T, b *pageBackend), opts ...server.Option) {
	t.Run("memory", func(t *testing.T) {
		f := start(t, opts...)
		test(t, &pageBackend{
			f: f, key: keyA,
			putOwn: func(t *testing.T, name string) {
				if _, err := f.st.PutSecret(context.Background(), "acme", name, seal.Sealed{KeyID: "k"}); err != nil {
					t.Fatal(err)
				}
			},
			events: func(t *testing.T) []orchestration.Event {
				return slices.DeleteFunc(f.st.Events(), func(e orchestration.Event) bool { return e.TenantID != "acme" })
			},
			count: func(t *testing.T) int {
				n, err := f.st.CountSecrets(context.Background(), "acme")
				if err != nil {
					t.Fatal(err)
				}
				return n
			},
		})
	})
	forEachSQLStore(t, func(t *testing.T, sf *sqlFixture) {
		ts := httptest.NewServer(sf.env.Handler(opts...))
		t.Cleanup(ts.Close)
		tenant := sf.env.Tenant.ID
		test(t, &pageBackend{
			f: &fixture{srv: ts}, key: sf.keyA, limits: true,
			putOwn: func(t *testing.T, name string) {
				sl, err := sf.env.Ring.Seal(tenant, name, []byte(`{}`))
				if err == nil {
					_, err = sf.st.PutSecret(context.Background(), tenant, name, sl)
				}
				if err != nil {
					t.Fatal(err)
				}
			},
			events: func(t *testing.T) []orchestration.Event {
				ev, err := sf.st.AuditLog(context.Background(), tenant, 0)
				if err != nil {
					t.Fatal(err)
				}
				slices.Reverse(ev) // oldest first, as the memory store's
				return ev
			},
			count: func(t *testing.T) int {
				n, err := sf.st.CountSecrets(context.Background(), tenant)
				if err != nil {
					t.Fatal(err)
				}
				return n
			},
		})
	})
}

type pageAnswer struct {
	Names   []string `json:"names"`
	Secrets []struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
	} `json:"secrets"`
	Next *string `json:"next"`
}

// page asks for one page; vars as Prefect's client sends them (a string).
func (b *pageBackend) page(t *testing.T, vars map[string]any) (pageAnswer, gqlResponse) {
	t.Helper()
	_, out := b.f.gql(t, b.key, opPage, vars, true)
	var p pageAnswer
	if raw, ok := out.Data["secrets_page"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("secrets_page = %s: %v", raw, err)
		}
	}
	return p, out
}

func (b *pageBackend) set(t *testing.T, name string) gqlResponse {
	t.Helper()
	_, out := b.f.gql(t, b.key, opSet, map[string]any{"input": map[string]any{"name": name, "value": "v"}}, true)
	return out
}

// Pages of every size list what secret_names lists, in its order, each
// name once, the server's own left out; next is the page's last name, and
// null on the last page; secret_names still answers every name at once.
func TestSecretsPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *pageBackend) {
		names := []string{"b", "A", "a/b", "a-b", "Z", "_x", ".PREFECT/y", "a.b", "aB", "ab"}
		for _, n := range names {
			if out := b.set(t, n); len(out.Errors) > 0 {
				t.Fatalf("set %s: %s", n, out.messages())
			}
		}
		if out := b.set(t, "b"); len(out.Errors) > 0 { // b at version 2
			t.Fatal(out.messages())
		}
		b.putOwn(t, ".prefect/runs/r/env")
		b.putOwn(t, ".prefect/flows/f/env")
		want := slices.Sorted(slices.Values(names))

		_, out := b.f.gql(t, b.key, opNames, nil, true)
		var all []string
		if err := json.Unmarshal(out.Data["secret_names"], &all); err != nil || !slices.Equal(all, want) {
			t.Fatalf("secret_names = %s, %v; want %q", out.Data["secret_names"], out.messages(), want)
		}
		for _, limit := range []int{1, 3, len(want), 1000} {
			t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
				var got []string
				vars := map[string]any{"limit": limit}
				for pages := 1; ; pages++ {
					p, out := b.page(t, vars)
					if len(out.Errors) > 0 {
						t.Fatalf("page %d: %s", pages, out.messages())
					}
					if len(p.Names) > limit || len(p.Secrets) != len(p.Names) {
						t.Fatalf("page %d: %d names, %d secrets; limit %d", pages, len(p.Names), len(p.Secrets), limit)
					}
					for i, m := range p.Secrets {
						if m.Name != p.Names[i] || m.Version != map[bool]int{true: 2, false: 1}[m.Name == "b"] {
							t.Errorf("page %d: secret %d is %+v, name %q", pages, i, m, p.Names[i])
						}
					}
					got = append(got, p.Names...)
					if p.Next == nil {
						break
					}
					if *p.Next != p.Names[len(p.Names)-1] {
						t.Fatalf("page %d: next %q, last name %q", pages, *p.Next, p.Names[len(p.Names)-1])
					}
					if pages > len(want) {
						t.Fatalf("more than %d pages", len(want))
					}
					vars["after"] = *p.Next
				}
				if !slices.Equal(got, want) {
					t.Errorf("the pages listed %q, want %q", got, want)
				}
			})
		}
		// A cursor that names no secret; "" and null start at the first.
		for _, c := range []struct {
			vars map[string]any
			want []string
			next bool
		}{
			{map[string]any{"after": "a0", "limit": 2}, []string{"aB", "ab"}, true},
			{map[string]any{"after": "b"}, nil, false},
			{map[string]any{"after": "", "limit": 1}, want[:1], true},
			{map[string]any{"after": nil, "limit": 1}, want[:1], true},
			{nil, want, false},
		} {
			p, out := b.page(t, c.vars)
			if len(out.Errors) > 0 || !slices.Equal(p.Names, c.want) || (p.Next != nil) != c.next {
				t.Errorf("secrets_page(%v) = %q, next %v (%s); want %q, next %v", c.vars, p.Names, p.Next, out.messages(), c.want, c.next)
			}
		}
		ok := 0
		for _, e := range b.events(t) {
			if e.Operation == orchestration.OpSecretsPage && e.Outcome == orchestration.OutcomeOK && e.SecretName == "" {
				ok++
			}
		}
		if ok == 0 {
			t.Errorf("no %s event in the audit log", orchestration.OpSecretsPage)
		}
	})
}

// A page is DefaultPageSize long unless the request says otherwise.
func TestSecretsPageDefaultSize(t *testing.T) {
	f := start(t)
	st := f.st
	for i := range server.DefaultPageSize + 1 {
		if _, err := st.PutSecret(context.Background(), "acme", fmt.Sprintf("S%04d", i), seal.Sealed{KeyID: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	b := &pageBackend{f: f, key: keyA}
	p, out := b.page(t, nil)
	if len(out.Errors) > 0 || len(p.Names) != server.DefaultPageSize || p.Next == nil || *p.Next != fmt.Sprintf("S%04d", server.DefaultPageSize-1) {
		t.Fatalf("a page without a limit: %d names, next %v (%s); want %d and a next", len(p.Names), p.Next, out.messages(), server.DefaultPageSize)
	}
	p, _ = b.page(t, map[string]any{"after": *p.Next})
	if len(p.Names) != 1 || p.Next != nil {
		t.Errorf("the second page: %q, next %v; want the last name alone", p.Names, p.Next)
	}
}

// A limit out of 1..MaxPageSize, or a cursor longer than any name, is
// refused with a message naming the bad value and what is valid, and
// audited; the cursor itself is not quoted.
func TestSecretsPageBadInput(t *testing.T) {
	f := start(t)
	b := &pageBackend{f: f, key: keyA}
	long := strings.Repeat("k", 257)
	for _, c := range []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"limit": 0}, "invalid limit 0: want 1 to " + strconv.Itoa(server.MaxPageSize) + " secrets a page (" + strconv.Itoa(server.DefaultPageSize) + " when not given)"},
		{map[string]any{"limit": -3}, "invalid limit -3: want 1 to 1000"},
		{map[string]any{"limit": server.MaxPageSize + 1}, "invalid limit 1001: want 1 to 1000"},
		{map[string]any{"after": long}, "invalid after: it is 257 bytes long; want the next of the page before, a name of at most 256"},
		{map[string]any{"limit": "ten"}, "into int32"}, // the GraphQL layer refuses a string for an Int
	} {
		p, out := b.page(t, c.vars)
		if len(out.Errors) != 1 || !strings.Contains(out.Errors[0].Message, c.want) || len(p.Names) != 0 {
			t.Errorf("secrets_page(%.40v): %q; want one error with %q", c.vars, out.messages(), c.want)
			continue
		}
		if strings.Contains(out.messages(), long) {
			t.Errorf("the error quotes the cursor")
		}
	}
	for _, ok := range []int{1, server.MaxPageSize} {
		if _, out := b.page(t, map[string]any{"limit": ok}); len(out.Errors) > 0 {
			t.Errorf("limit %d: %s", ok, out.messages())
		}
	}
	invalid := 0
	for _, e := range f.st.Events() {
		if e.Operation == orchestration.OpSecretsPage && e.Outcome == orchestration.OutcomeInvalid {
			invalid++
		}
	}
	if invalid != 4 {
		t.Errorf("%d refused pages audited, want 4", invalid)
	}
	if !strings.Contains(server.Schema, "1 to "+strconv.Itoa(server.MaxPageSize)) || !strings.Contains(server.Schema, strconv.Itoa(server.DefaultPageSize)+" when not given") {
		t.Errorf("the schema's description of secrets_page does not give MaxPageSize and DefaultPageSize")
	}
}

// The limit holds over every store; over the SQL stores it holds however
// many set at once: of 40 new names set at once with room for 10, exactly
// 10 are stored and the others refused naming the limit. A new version and
// a put after a delete still pass.
func TestMaxSecretsConcurrentSets(t *testing.T) {
	const limit, setters = 10, 40
	forEachBackend(t, func(t *testing.T, b *pageBackend) {
		for i := range limit - 1 {
			if out := b.set(t, fmt.Sprintf("pre-%d", i)); len(out.Errors) > 0 {
				t.Fatal(out.messages())
			}
		}
		// A server's own secret takes no room.
		b.putOwn(t, ".prefect/runs/r/env")
		var mu sync.Mutex
		var stored, refused int
		var others []string
		var wg sync.WaitGroup
		for i := range setters {
			wg.Go(func() {
				out := b.set(t, fmt.Sprintf("new-%02d", i))
				mu.Lock()
				defer mu.Unlock()
				switch msg := out.messages(); {
				case msg == "":
					stored++
				case strings.Contains(msg, fmt.Sprintf("the tenant holds %d secrets, the most it may", limit)):
					refused++
				default:
					others = append(others, msg)
				}
			})
		}
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("unexpected errors: %q", others)
		}
		if !b.limits {
			// No SecretLimiter: the server counts first, and may let a few
			// more through; only the count is checked.
			if n := b.count(t); n != limit-1+stored {
				t.Errorf("count %d after %d stored", n, stored)
			}
			return
		}
		if stored != 1 || refused != setters-1 {
			t.Errorf("%d stored and %d refused; want 1 and %d", stored, refused, setters-1)
		}
		if n := b.count(t); n != limit {
			t.Errorf("the store counts %d secrets, want %d", n, limit)
		}
		if out := b.set(t, "pre-0"); len(out.Errors) > 0 {
			t.Errorf("a new version at the limit: %s", out.messages())
		}
		if _, out := b.f.gql(t, b.key, opDelete, map[string]any{"input": map[string]any{"name": "pre-1"}}, true); len(out.Errors) > 0 {
			t.Fatal(out.messages())
		}
		if out := b.set(t, "after-delete"); len(out.Errors) > 0 {
			t.Errorf("a new name after a delete: %s", out.messages())
		}
	}, server.WithMaxSecrets(limit))
}

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/store"
)

var _ server.TenantNamer = (*store.SQL)(nil)

// The documents Prefect 1.4.1's client sends, as its parse_graphql and
// with_args write them (4-space indentation; the fields of a Python set in
// whatever order it iterates).
const (
	// Client._get_auth_tenant, first step of `prefect auth login`.
	p1AuthInfo = "query {\n    auth_info {\n        tenant_id\n    }\n}"
	// TenantView.from_tenant_id, second step of `prefect auth login`; %s is
	// the JSON string of the tenant's ID.
	p1TenantByID = "query {\n    tenant(where: { id: { _eq: %s } }) {\n        slug\n        name\n        id\n    }\n}"
	// Client.get_available_tenants: `prefect auth list-tenants`.
	p1ListTenants = "query {\n    tenant(order_by: {slug: asc}) {\n        slug\n        name\n        id\n    }\n}"
	// Client.switch_tenant(tenant_slug=...): `prefect auth switch-tenants --slug`.
	p1TenantBySlug = "query($slug: String) {\n    tenant(where: {slug: { _eq: $slug } }) {\n        id\n    }\n}"
	// Client._get_default_server_tenant, with Prefect Server's backend.
	p1DefaultTenant = "query {\n    tenant {\n        id\n    }\n}"
)

// p1Request is one request as Prefect 1.4.1's Client._request sends it.
type p1Request struct {
	key, tenant string // the API key and X-PREFECT-TENANT-ID; "" sends none
	query       string
	variables   any  // sent as the string json.dumps(variables): "null" for nil
	noVersion   bool // leave out X-PREFECT-CORE-VERSION, as other clients do
}

// p1Answer is the status and body of an answer, decoded as the client
// decodes it.
type p1Answer struct {
	status int
	raw    string
	body   map[string]any
}

// postP1 sends req to url as requests.Session.post(url, json=params) does.
func postP1(t *testing.T, url string, req p1Request) p1Answer {
	t.Helper()
	vars, err := json.Marshal(req.variables)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal(req.query)
	v, _ := json.Marshal(string(vars))
	// json.dumps's separators: ", " and ": ".
	body := fmt.Sprintf(`{"query": %s, "variables": %s}`, q, v)
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "*/*")
	r.Header.Set("User-Agent", "python-requests/2.28.1")
	if req.key != "" {
		r.Header.Set("Authorization", "Bearer "+req.key)
	}
	if req.tenant != "" {
		r.Header.Set("X-PREFECT-TENANT-ID", req.tenant)
	}
	if !req.noVersion {
		r.Header.Set("X-PREFECT-CORE-VERSION", "1.4.1")
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := p1Answer{status: resp.StatusCode, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return a
}

// authorizationError reports whether the 1.4.1 client raises its
// AuthorizationError for a: raise_for_status passes (HTTP 200), then
// "UNAUTHENTICATED" in str(result["errors"]).
func (a p1Answer) authorizationError() bool {
	errs, ok := a.body["errors"]
	return a.status == http.StatusOK && ok && strings.Contains(fmt.Sprint(errs), "UNAUTHENTICATED")
}

// tenants returns data.tenant, failing t on errors.
func (a p1Answer) tenants(t *testing.T) []map[string]any {
	t.Helper()
	if a.status != http.StatusOK || a.body["errors"] != nil {
		t.Fatalf("HTTP %d: %s", a.status, a.raw)
	}
	data, _ := a.body["data"].(map[string]any)
	list, ok := data["tenant"].([]any)
	if !ok {
		t.Fatalf("no data.tenant list: %s", a.raw)
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i], _ = x.(map[string]any)
	}
	return out
}

// p1Server is a server over SQLite with two tenants, acme (env.Key) and
// globex (keyB).
func p1Server(t *testing.T) (url string, env *servertest.Env, globex store.Tenant, keyB string) {
	t.Helper()
	env = servertest.New(t)
	globex, keyB, _ = env.AddTenant(t, "globex")
	srv := httptest.NewServer(env.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, env, globex, keyB
}

func deniedEvents(t *testing.T, st *store.SQL, tenantID string) int {
	t.Helper()
	events, err := st.AuditLog(context.Background(), tenantID, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Operation == orchestration.OpAuthenticate && e.Outcome == orchestration.OutcomeDenied {
			n += max(e.Count, 1)
		}
	}
	return n
}

// Prefect 1's client gets a refused key as Prefect Cloud answered it (HTTP
// 200, "data": null, an error saying UNAUTHENTICATED), which it raises as
// AuthorizationError; every other caller keeps HTTP 401. Each refusal is
// audited either way.
func TestPrefect1Unauthenticated(t *testing.T) {
	url, env, globex, _ := p1Server(t)
	for _, tc := range []struct {
		desc        string
		key, tenant string
		ownTenant   bool // the refusal is recorded in acme's audit log
	}{
		{"no key", "", "", false},
		{"unknown key", "pgo_not-a-key", "", false},
		{"another tenant's id", env.Key, globex.ID, true},
	} {
		for _, python := range []bool{true, false} {
			name := tc.desc + map[bool]string{true: " from Prefect 1", false: " from another client"}[python]
			t.Run(name, func(t *testing.T) {
				beforeUnknown, beforeOwn := deniedEvents(t, env.Store, ""), deniedEvents(t, env.Store, env.Tenant.ID)
				a := postP1(t, url+"/graphql", p1Request{key: tc.key, tenant: tc.tenant, query: p1AuthInfo, noVersion: !python})
				if python {
					data, hasData := a.body["data"]
					if !a.authorizationError() || !hasData || data != nil {
						t.Errorf("HTTP %d %s, want 200, data null, an error saying UNAUTHENTICATED", a.status, a.raw)
					}
					if errs, _ := a.body["errors"].([]any); len(errs) != 1 || fmt.Sprint(errs[0].(map[string]any)["extensions"]) != "map[code:UNAUTHENTICATED]" {
						t.Errorf("errors %v, want one with extensions.code UNAUTHENTICATED", a.body["errors"])
					}
				} else if a.status != http.StatusUnauthorized || !strings.Contains(a.raw, "UNAUTHENTICATED") {
					t.Errorf("HTTP %d %s, want 401 UNAUTHENTICATED", a.status, a.raw)
				}
				if tc.key != "" && strings.Contains(a.raw, tc.key) {
					t.Error("the answer quotes the key")
				}
				unknown, own := deniedEvents(t, env.Store, "")-beforeUnknown, deniedEvents(t, env.Store, env.Tenant.ID)-beforeOwn
				if want := map[bool]int{true: 0, false: 1}[tc.ownTenant]; unknown != want {
					t.Errorf("%d refusals of unknown keys recorded, want %d", unknown, want)
				}
				if want := map[bool]int{true: 1, false: 0}[tc.ownTenant]; own != want {
					t.Errorf("%d refusals recorded for acme, want %d", own, want)
				}
			})
		}
	}
}

// failingAuth is a store that cannot check keys.
type failingAuth struct{ server.Store }

func (failingAuth) Authenticate(context.Context, string) (orchestration.KeyInfo, error) {
	return orchestration.KeyInfo{}, errors.New("dial tcp 10.0.0.7:5432: connection refused")
}

// A store failing while it checks the key is HTTP 500 for Prefect 1's
// client too: it retries 500 to 504.
func TestPrefect1AuthStoreDown(t *testing.T) {
	env := servertest.New(t)
	srv := httptest.NewServer(server.New(failingAuth{env.Store}, env.Ring))
	t.Cleanup(srv.Close)
	a := postP1(t, srv.URL, p1Request{key: env.Key, query: p1AuthInfo})
	if a.status != http.StatusInternalServerError || !strings.Contains(a.raw, "INTERNAL") || strings.Contains(a.raw, "10.0.0.7") {
		t.Errorf("HTTP %d %s, want 500 INTERNAL, the cause unshown", a.status, a.raw)
	}
}

// The tenant queries of `prefect auth login`, list-tenants,
// switch-tenants and Prefect Server's default tenant, exactly as 1.4.1
// sends them, see the caller's tenant and never another.
func TestPrefect1TenantQueries(t *testing.T) {
	url, env, globex, keyB := p1Server(t)
	acme := map[string]any{"id": env.Tenant.ID, "slug": "acme", "name": "acme"}
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	// prefect auth login -k KEY: auth_info, then the tenant of its id.
	a := postP1(t, url, p1Request{key: env.Key, query: p1AuthInfo})
	if a.status != http.StatusOK || a.raw != fmt.Sprintf(`{"data":{"auth_info":{"tenant_id":"%s"}}}`+"\n", env.Tenant.ID) {
		t.Fatalf("auth_info: HTTP %d %s", a.status, a.raw)
	}

	for _, tc := range []struct {
		desc   string
		req    p1Request
		want   []map[string]any
		onlyID bool // the query asks for the id alone
	}{
		{"login: own id", p1Request{key: env.Key, query: fmt.Sprintf(p1TenantByID, str(env.Tenant.ID))}, []map[string]any{acme}, false},
		{"login: own id, tenant header set", p1Request{key: env.Key, tenant: env.Tenant.ID, query: fmt.Sprintf(p1TenantByID, str(env.Tenant.ID))}, []map[string]any{acme}, false},
		{"another tenant's id", p1Request{key: env.Key, query: fmt.Sprintf(p1TenantByID, str(globex.ID))}, nil, false},
		{"list-tenants", p1Request{key: env.Key, query: p1ListTenants}, []map[string]any{acme}, false},
		{"list-tenants of globex's key", p1Request{key: keyB, query: p1ListTenants}, []map[string]any{{"id": globex.ID, "slug": "globex", "name": "globex"}}, false},
		{"switch-tenants: own slug", p1Request{key: env.Key, query: p1TenantBySlug, variables: map[string]any{"slug": "acme"}}, []map[string]any{acme}, true},
		{"switch-tenants: another tenant's slug", p1Request{key: env.Key, query: p1TenantBySlug, variables: map[string]any{"slug": "globex"}}, nil, true},
		{"switch-tenants: no such slug", p1Request{key: env.Key, query: p1TenantBySlug, variables: map[string]any{"slug": "initech"}}, nil, true},
		{"server's default tenant", p1Request{key: env.Key, query: p1DefaultTenant}, []map[string]any{acme}, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := postP1(t, url, tc.req).tenants(t)
			want := tc.want
			if tc.onlyID {
				want = nil
				for _, w := range tc.want {
					want = append(want, map[string]any{"id": w["id"]})
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("tenant = %v, want %v", got, want)
			}
		})
	}
}

// The where, order_by and limit arguments as Hasura has them, over the
// caller's one tenant.
func TestTenantArguments(t *testing.T) {
	url, env, globex, _ := p1Server(t)
	own, other := `"`+env.Tenant.ID+`"`, `"`+globex.ID+`"`
	for _, tc := range []struct {
		args string
		want bool // the caller's tenant is listed
	}{
		{`where: {}`, true},
		{`where: {name: {_eq: "acme"}}`, true},
		{`where: {name: {_eq: "globex"}}`, false},
		{`where: {slug: {_neq: "acme"}}`, false},
		{`where: {id: {_in: [` + other + `, ` + own + `]}}`, true},
		{`where: {id: {_in: [` + other + `]}}`, false},
		{`where: {id: {_nin: [` + own + `]}}`, false},
		{`where: {id: {_eq: ` + own + `}, slug: {_eq: "globex"}}`, false},
		{`where: {_and: [{id: {_eq: ` + own + `}}, {slug: {_eq: "acme"}}]}`, true},
		{`where: {_and: [{id: {_eq: ` + own + `}}, {slug: {_eq: "globex"}}]}`, false},
		{`where: {_or: [{id: {_eq: ` + other + `}}, {slug: {_eq: "acme"}}]}`, true},
		{`where: {_or: [{id: {_eq: ` + other + `}}, {slug: {_eq: "globex"}}]}`, false},
		{`where: {_not: {slug: {_eq: "acme"}}}`, false},
		{`where: {_not: {slug: {_eq: "globex"}}}`, true},
		{`where: {name: {_eq: null}}`, true},
		{`order_by: [{slug: desc}, {id: asc}]`, true},
		{`order_by: {name: asc_nulls_last}`, true},
		{`limit: 1`, true},
		{`limit: 0`, false},
		{`offset: 1`, false},
		{`where: {slug: {_eq: "acme"}}, order_by: {slug: asc}, limit: 10, offset: 0`, true},
	} {
		got := postP1(t, url, p1Request{key: env.Key, query: `query { tenant(` + tc.args + `) { id } }`}).tenants(t)
		if listed := len(got) == 1 && got[0]["id"] == env.Tenant.ID; listed != tc.want || len(got) > 1 {
			t.Errorf("tenant(%s) = %v, want the caller's tenant: %v", tc.args, got, tc.want)
		}
	}
	for _, args := range []string{`limit: -1`, `offset: -1`, `where: {slug: {_like: "%"}}`, `order_by: {slug: up}`} {
		a := postP1(t, url, p1Request{key: env.Key, query: `query { tenant(` + args + `) { id } }`})
		if a.body["errors"] == nil || strings.Contains(a.raw, env.Tenant.ID) {
			t.Errorf("tenant(%s): HTTP %d %s, want an error", args, a.status, a.raw)
		}
	}
}

// Over a store that does not know tenants' names, the tenant's ID stands
// for its slug and name.
func TestTenantWithoutNames(t *testing.T) {
	f := start(t)
	a := postP1(t, f.srv.URL, p1Request{key: keyA, query: p1ListTenants})
	if got := fmt.Sprint(a.tenants(t)); got != "[map[id:acme name:acme slug:acme]]" {
		t.Errorf("tenant = %s", got)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
)

// The operations exactly as SPEC §5 and the Python client write them.
const (
	opSet    = `mutation($input: set_secret_input!) { set_secret(input: $input) { success } }`
	opDelete = `mutation($input: delete_secret_input!) { delete_secret(input: $input) { success } }`
	opValue  = `query($name: String!) { secret_value(name: $name) }`
	opNames  = `query { secret_names }`
)

const (
	keyA = "key-of-acme"
	keyB = "key-of-globex"
)

type fixture struct {
	st  *memStore
	srv *httptest.Server
}

func start(t *testing.T, opts ...server.Option) *fixture {
	t.Helper()
	mk, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	st.addKey(keyA, "acme")
	st.addKey(keyB, "globex")
	srv := httptest.NewServer(server.New(st, seal.NewKeyring(mk), opts...))
	t.Cleanup(srv.Close)
	return &fixture{st: st, srv: srv}
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r gqlResponse) messages() string {
	var m []string
	for _, e := range r.Errors {
		m = append(m, e.Message)
	}
	return strings.Join(m, "; ")
}

// post sends body with key (none when "") to path and returns the status,
// the raw answer and its decoding.
func (f *fixture) post(t *testing.T, key, path, body string, header ...string) (int, string, gqlResponse) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, string(raw), out
}

// gql posts query and variables, the variables as a JSON string when
// asString, else as an object.
func (f *fixture) gql(t *testing.T, key, query string, vars any, asString bool) (string, gqlResponse) {
	t.Helper()
	v, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"query": query, "variables": json.RawMessage(v)}
	if asString {
		body["variables"] = string(v)
	}
	b, _ := json.Marshal(body)
	status, raw, out := f.post(t, key, "/graphql", string(b))
	if status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", status, raw)
	}
	return raw, out
}

func TestSpecOperations(t *testing.T) {
	for _, asString := range []bool{true, false} {
		name := "variables as object"
		if asString {
			name = "variables as string"
		}
		t.Run(name, func(t *testing.T) {
			f := start(t)
			value := map[string]any{"user": "admin", "n": json.Number("12345678901234567890"), "list": []any{1, "<&>"}}
			_, out := f.gql(t, keyA, opSet, map[string]any{"input": map[string]any{"name": "DB/creds", "value": value}}, asString)
			if got := string(out.Data["set_secret"]); got != `{"success":true}` || len(out.Errors) > 0 {
				t.Fatalf("set_secret: data %s, errors %s", got, out.messages())
			}
			_, out = f.gql(t, keyA, opValue, map[string]any{"name": "DB/creds"}, asString)
			if got, want := string(out.Data["secret_value"]), `{"list":[1,"<&>"],"n":12345678901234567890,"user":"admin"}`; !sameJSON(got, want) {
				t.Fatalf("secret_value = %s, want %s (errors %s)", got, want, out.messages())
			}
			_, out = f.gql(t, keyA, opNames, nil, asString)
			if got := string(out.Data["secret_names"]); got != `["DB/creds"]` {
				t.Fatalf("secret_names = %s (errors %s)", got, out.messages())
			}
			_, out = f.gql(t, keyA, opDelete, map[string]any{"input": map[string]any{"name": "DB/creds"}}, asString)
			if got := string(out.Data["delete_secret"]); got != `{"success":true}` {
				t.Fatalf("delete_secret = %s (errors %s)", got, out.messages())
			}
			for _, q := range []struct {
				op   string
				vars any
			}{
				{opValue, map[string]any{"name": "DB/creds"}},
				{opDelete, map[string]any{"input": map[string]any{"name": "DB/creds"}}},
			} {
				_, out = f.gql(t, keyA, q.op, q.vars, asString)
				if !strings.Contains(out.messages(), "No value found for the requested key") {
					t.Errorf("%s of a missing secret: errors %q", q.op, out.messages())
				}
			}
		})
	}
}

// sameJSON reports whether a and b encode the same JSON value, every
// digit of their numbers included.
func sameJSON(a, b string) bool {
	decode := func(s string) any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return nil
		}
		return v
	}
	va, vb := decode(a), decode(b)
	return va != nil && reflect.DeepEqual(va, vb)
}

func TestVariablesForms(t *testing.T) {
	f := start(t)
	for _, body := range []string{
		`{"query": "query { secret_names }"}`,
		`{"query": "query { secret_names }", "variables": null}`,
		`{"query": "query { secret_names }", "variables": "null"}`,
		`{"query": "query { secret_names }", "variables": "{}"}`,
		`{"query": "query { secret_names }", "variables": {}, "operationName": null}`,
		`{"query": "query Names { secret_names }", "operationName": "Names"}`,
	} {
		status, raw, out := f.post(t, keyA, "/", body)
		if status != http.StatusOK || string(out.Data["secret_names"]) != "[]" {
			t.Errorf("%s: HTTP %d %s", body, status, raw)
		}
	}
	for _, body := range []string{
		`[]`, `{"query": 1}`, `{"query": "query { secret_names }", "variables": "[1]"}`,
		`{"query": "query { secret_names }", "variables": 3}`, `{"query": "{ secret_names }"} x`,
	} {
		status, raw, _ := f.post(t, keyA, "/", body)
		if status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d %s, want 400", body, status, raw)
		}
	}
}

func newClient(t *testing.T, f *fixture, key string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(f.srv.URL, append([]client.Option{client.WithAPIKey(key), client.WithRetries(1, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestClientRoundTrip(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := newClient(t, f, keyA)
	if err := c.SetSecret(ctx, "API_TOKEN", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetSecret(ctx, "CONF", map[string]any{"port": 5432, "ratio": 0.5}); err != nil {
		t.Fatal(err)
	}
	v, err := c.SecretValue(ctx, "API_TOKEN")
	if err != nil || v != "hunter2" {
		t.Fatalf("SecretValue = %v, %v", v, err)
	}
	v, err = c.SecretValue(ctx, "CONF")
	if m, ok := v.(map[string]any); err != nil || !ok || m["port"] != 5432 || m["ratio"] != 0.5 {
		t.Fatalf("SecretValue(CONF) = %#v, %v", v, err)
	}
	names, err := c.SecretNames(ctx)
	if err != nil || !slices.Equal(names, []string{"API_TOKEN", "CONF"}) {
		t.Fatalf("SecretNames = %v, %v", names, err)
	}
	if err := c.DeleteSecret(ctx, "API_TOKEN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SecretValue(ctx, "API_TOKEN"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("SecretValue after delete: %v, want ErrNotFound", err)
	}
	if err := c.DeleteSecret(ctx, "API_TOKEN"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("DeleteSecret after delete: %v, want ErrNotFound", err)
	}

	bad := newClient(t, f, "wrong-key")
	if _, err := bad.SecretNames(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("wrong key: %v, want ErrUnauthenticated", err)
	}
	none := newClient(t, f, "")
	if _, err := none.SecretValue(ctx, "CONF"); !errors.Is(err, client.ErrUnauthenticated) || errors.Is(err, client.ErrNotFound) {
		t.Errorf("no key: %v, want ErrUnauthenticated", err)
	}
	wrongTenant := newClient(t, f, keyA, client.WithTenantID("globex"))
	if _, err := wrongTenant.SecretNames(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("key of another tenant: %v, want ErrUnauthenticated", err)
	}
	rightTenant := newClient(t, f, keyA, client.WithTenantID("acme"))
	if _, err := rightTenant.SecretNames(ctx); err != nil {
		t.Errorf("key with its tenant: %v", err)
	}
}

func TestTenantIsolation(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	a, b := newClient(t, f, keyA), newClient(t, f, keyB)
	if err := a.SetSecret(ctx, "SHARED_NAME", "acme-value"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SecretValue(ctx, "SHARED_NAME"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("other tenant reads: %v, want ErrNotFound", err)
	}
	if err := b.DeleteSecret(ctx, "SHARED_NAME"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("other tenant deletes: %v, want ErrNotFound", err)
	}
	if names, err := b.SecretNames(ctx); err != nil || len(names) != 0 {
		t.Fatalf("other tenant lists %v, %v", names, err)
	}
	if err := b.SetSecret(ctx, "SHARED_NAME", "globex-value"); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[*client.Client]string{a: "acme-value", b: "globex-value"} {
		if v, err := c.SecretValue(ctx, "SHARED_NAME"); err != nil || v != want {
			t.Errorf("SecretValue = %v, %v; want %q", v, err, want)
		}
	}
	// A row copied to another tenant does not open.
	f.st.mu.Lock()
	f.st.secrets["globex"]["COPIED"] = f.st.secrets["acme"]["SHARED_NAME"]
	f.st.mu.Unlock()
	_, out := f.gql(t, keyB, opValue, map[string]any{"name": "COPIED"}, true)
	if len(out.Errors) == 0 || strings.Contains(out.messages(), "acme") || string(out.Data["secret_value"]) != "null" {
		t.Errorf("copied row: data %s, errors %q", out.Data["secret_value"], out.messages())
	}
}

func TestValidation(t *testing.T) {
	f := start(t, server.WithMaxValueSize(64))
	setVars := func(name string, value any) any {
		return map[string]any{"input": map[string]any{"name": name, "value": value}}
	}
	for _, tc := range []struct {
		desc      string
		name      string
		value     any
		want      string // in the error; "" for success
		forbidden string // never in the answer
	}{
		{"ok", "a-Z_0.9/x", "v", "", ""},
		{"longest name", strings.Repeat("n", 256), "v", "", ""},
		{"empty name", "", "v", "1 to 256 characters of ASCII letters, digits, _ - . and /", ""},
		{"long name", strings.Repeat("n", 257), "v", "257 bytes long", ""},
		{"space", "has space-PASTED", "v", "byte 4 is not allowed", "PASTED"},
		{"unicode", "naïve", "v", "byte 3 is not allowed", "naïve"},
		{"value at limit", "fits", strings.Repeat("x", 62), "", ""},
		{"value too large", "big", strings.Repeat("Q", 63), "over the limit of 64 bytes", "QQQQ"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			raw, out := f.gql(t, keyA, opSet, setVars(tc.name, tc.value), true)
			if tc.want == "" {
				if len(out.Errors) > 0 {
					t.Fatalf("errors %q", out.messages())
				}
				return
			}
			if !strings.Contains(out.messages(), tc.want) {
				t.Errorf("errors %q, want %q", out.messages(), tc.want)
			}
			if tc.forbidden != "" && strings.Contains(raw, tc.forbidden) {
				t.Errorf("the answer quotes %q: %s", tc.forbidden, raw)
			}
		})
	}
	// Other operations check names too.
	_, out := f.gql(t, keyA, opValue, map[string]any{"name": "bad name"}, true)
	if !strings.Contains(out.messages(), "invalid secret name") {
		t.Errorf("secret_value of a bad name: %q", out.messages())
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := start(t)
	big := `{"query": "query { secret_names }", "variables": "` + strings.Repeat(" ", 1<<20+256<<10) + `"}`
	status, raw, out := f.post(t, keyA, "/", big)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(out.messages(), "1280 KiB") {
		t.Errorf("HTTP %d %s, want 413", status, raw)
	}
	// A value just under the limit, in a body just under its limit, passes.
	value := strings.Repeat("v", 256<<10-2)
	b, _ := json.Marshal(map[string]any{"query": opSet, "variables": map[string]any{"input": map[string]any{"name": "BIG", "value": value}}})
	status, raw, out = f.post(t, keyA, "/", string(b))
	if status != http.StatusOK || len(out.Errors) > 0 {
		t.Errorf("value of 256 KiB: HTTP %d %.200s", status, raw)
	}
}

func TestUnknownBodyField(t *testing.T) {
	f := start(t)
	status, _, out := f.post(t, keyA, "/", `{"query": "query { secret_names }", "extensions": {}, "zz": 1}`)
	if status != http.StatusBadRequest || !strings.Contains(out.messages(), `2 field(s) other than the allowed query, variables, operationName`) {
		t.Errorf("HTTP %d, errors %q", status, out.messages())
	}
}

func TestMethodAndPath(t *testing.T) {
	f := start(t)
	// GET / is the web page (package web's tests); GET /graphql is not.
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/graphql", "POST"},
		{http.MethodPut, "/", "GET, HEAD, POST"},
	} {
		req, err := http.NewRequest(tc.method, f.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: HTTP %d, Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if status, _, _ := f.post(t, keyA, "/other", `{"query": "query { secret_names }"}`); status != http.StatusNotFound {
		t.Errorf("POST /other: HTTP %d", status)
	}
}

func TestUnauthenticated(t *testing.T) {
	f := start(t)
	for _, tc := range []struct {
		desc, key string
		header    []string
	}{
		{"no key", "", nil},
		{"wrong key", "nope", nil},
		{"basic auth", "", []string{"Authorization", "Basic " + keyA}},
		{"other tenant", keyA, []string{"X-Prefect-Tenant-Id", "globex"}},
	} {
		status, raw, out := f.post(t, tc.key, "/", `{"query": "query { secret_names }"}`, tc.header...)
		if status != http.StatusUnauthorized || !strings.Contains(out.messages(), "UNAUTHENTICATED") || out.Data != nil {
			t.Errorf("%s: HTTP %d %s", tc.desc, status, raw)
		}
		if strings.Contains(raw, keyA) {
			t.Errorf("%s: the answer quotes the key", tc.desc)
		}
	}
	denied := 0
	for _, e := range f.st.Events() {
		if e.Operation == orchestration.OpAuthenticate && e.Outcome == orchestration.OutcomeDenied {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("%d denied attempts recorded, want 4", denied)
	}
}

func TestAuthInfo(t *testing.T) {
	f := start(t)
	_, out := f.gql(t, keyB, `query { auth_info { tenant_id api_key_id } }`, nil, true)
	if got := string(out.Data["auth_info"]); got != `{"tenant_id":"globex","api_key_id":"key-2"}` {
		t.Errorf("auth_info = %s (errors %q)", got, out.messages())
	}
}

// TestNoValueLeaks runs every operation on a secret and checks that its
// value shows only in the answer of secret_value: not in other answers,
// errors, the audit log or the metadata.
func TestNoValueLeaks(t *testing.T) {
	const secret = "s3cr3t-VALUE-7f1c"
	f := start(t)
	var answers []string
	run := func(query string, vars any) gqlResponse {
		raw, out := f.gql(t, keyA, query, vars, true)
		answers = append(answers, raw)
		return out
	}
	run(opSet, map[string]any{"input": map[string]any{"name": "TOKEN", "value": secret}})
	run(opSet, map[string]any{"input": map[string]any{"name": "TOKEN", "value": map[string]any{"k": secret}}})
	raw, out := f.gql(t, keyA, opValue, map[string]any{"name": "TOKEN"}, true)
	if !strings.Contains(raw, secret) {
		t.Fatalf("secret_value = %s (errors %q)", raw, out.messages())
	}
	run(opValue, map[string]any{"name": "MISSING"})
	run(opNames, nil)
	out = run(`query { secret_metadata { name version created updated } }`, nil)
	var metas []map[string]any
	if err := json.Unmarshal(out.Data["secret_metadata"], &metas); err != nil || len(metas) != 1 || metas[0]["version"] != 2.0 {
		t.Errorf("secret_metadata = %s, %v", out.Data["secret_metadata"], err)
	} else if _, err := time.Parse(time.RFC3339, metas[0]["updated"].(string)); err != nil {
		t.Errorf("updated: %v", err)
	}
	// Values in malformed requests are not echoed either.
	run(opSet, map[string]any{"input": secret})
	run(opSet, map[string]any{"input": map[string]any{"name": "TOKEN", "value": secret, "extra": secret}})
	run(`mutation { set_secret(input: {name: "X", value: "`+secret+`", bogus: 1}) { success } }`, nil)
	run(`query($name: String!) { secret_value(name: $name) }`, map[string]any{"name": []any{secret}})
	run(`query($l: Int) { audit_log(limit: $l) { operation } }`, map[string]any{"l": secret})
	run(opDelete, map[string]any{"input": map[string]any{"name": "TOKEN"}})
	out = run(`query { audit_log(limit: 50) { time tenant_id api_key_id operation secret_name outcome } }`, nil)

	for _, a := range answers {
		if strings.Contains(a, secret) {
			t.Errorf("an answer other than secret_value holds the value: %s", a)
		}
	}
	var events []map[string]string
	if err := json.Unmarshal(out.Data["audit_log"], &events); err != nil {
		t.Fatalf("audit_log = %s: %v (errors %q)", out.Data["audit_log"], err, out.messages())
	}
	var ops []string
	for _, e := range events {
		ops = append(ops, e["operation"]+":"+e["secret_name"]+":"+e["outcome"])
		if e["tenant_id"] != "acme" || e["api_key_id"] != "key-1" {
			t.Errorf("event of another caller: %v", e)
		}
	}
	want := []string{
		"delete_secret:TOKEN:ok", "secret_names::ok", "secret_metadata::ok",
		"secret_value:MISSING:not_found", "secret_value:TOKEN:ok", "set_secret:TOKEN:ok", "set_secret:TOKEN:ok",
	}
	slices.Reverse(ops)
	slices.Reverse(want)
	for _, w := range want {
		if !slices.Contains(ops, w) {
			t.Errorf("audit log %v lacks %s", ops, w)
		}
	}
	for _, e := range f.st.Events() {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), secret) {
			t.Errorf("event holds the value: %s", b)
		}
	}
}

func TestStoreErrorsAreGeneric(t *testing.T) {
	f := start(t)
	f.st.fail = errors.New("pq: connection to 10.0.0.7 refused")
	for _, q := range []struct {
		op   string
		vars any
	}{
		{opSet, map[string]any{"input": map[string]any{"name": "A", "value": 1}}},
		{opValue, map[string]any{"name": "A"}},
		{opNames, nil},
		{opDelete, map[string]any{"input": map[string]any{"name": "A"}}},
	} {
		raw, out := f.gql(t, keyA, q.op, q.vars, true)
		if !strings.Contains(out.messages(), "internal error") || strings.Contains(raw, "10.0.0.7") {
			t.Errorf("%s: %s", q.op, raw)
		}
	}
}

// Introspection is off: the schema is not for callers to explore.
func TestNoIntrospection(t *testing.T) {
	f := start(t)
	_, out := f.gql(t, keyA, `query { __schema { types { name } } }`, nil, true)
	if schema := string(out.Data["__schema"]); schema != "" && schema != "null" {
		t.Errorf("introspection answered: data %s, errors %q", out.Data["__schema"], out.messages())
	}
}

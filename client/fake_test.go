package client_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
)

// The operations as the contract writes them; the fake accepts exactly these
// (whitespace aside).
const (
	opSet    = `mutation($input: set_secret_input!) { set_secret(input: $input) { success } }`
	opDelete = `mutation($input: delete_secret_input!) { delete_secret(input: $input) { success } }`
	opValue  = `query($name: String!) { secret_value(name: $name) }`
	opNames  = `query { secret_names }`
	opPage   = `query($limit: Int, $after: String) { secrets_page(limit: $limit, after: $after) { names next } }`
)

// fakeServer is a stand-in for the secret server. It keeps secrets in a map,
// checks the shape of every request (a problem fails the test that started
// it, and gets HTTP 400), and can be told to misbehave.
type fakeServer struct {
	*httptest.Server
	key    string // the API key it accepts; "" accepts any
	tenant string // the tenant ID it wants; "" wants none

	closed   chan struct{} // closed when the fake closes: hung requests end
	requests chan struct{} // one token per request received (never blocks)

	mu       sync.Mutex
	secrets  map[string]any
	attempts int
	failN    int    // answer the next failN requests with failWith
	failWith int    // HTTP status of those answers
	after    string // their Retry-After header, if not ""
	hangN    int    // hang the next hangN requests until the client leaves
	dropN    int    // close the connection of the next dropN requests
	setFails bool   // set_secret answers success: false
	echo     bool   // a set_secret fails, the message quoting the variables
	noPages  bool   // no secrets_page, as Prefect Cloud: refused as Apollo does
	stuck    bool   // secrets_page's next is the cursor it was given
	pages    int    // secrets_page requests answered
	problems []string
}

// newFakeServer starts a fake holding a copy of seed, accepting key.
func newFakeServer(key string, seed map[string]any) *fakeServer {
	f := &fakeServer{
		key:      key,
		closed:   make(chan struct{}),
		requests: make(chan struct{}, 1000),
		secrets:  map[string]any{},
	}
	for k, v := range seed {
		f.secrets[k] = v
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// startFake starts a fake for a test, which closes it and fails on any
// problem the fake saw.
func startFake(t *testing.T, key string, seed map[string]any) *fakeServer {
	t.Helper()
	f := newFakeServer(key, seed)
	t.Cleanup(func() {
		f.Close()
		for _, p := range f.Problems() {
			t.Errorf("the fake server saw a bad request: %s", p)
		}
	})
	return f
}

// Close ends hung requests, then shuts the server down.
func (f *fakeServer) Close() {
	f.mu.Lock()
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
	f.mu.Unlock()
	f.Server.Close()
}

// newClient returns a client of f with f's key, tiny backoff, and any more
// options; the test closes its idle connections.
func newClient(t *testing.T, f *fakeServer, opts ...client.Option) *client.Client {
	t.Helper()
	all := append([]client.Option{client.WithAPIKey(f.key), client.WithRetries(3, time.Millisecond)}, opts...)
	c, err := client.New(f.URL+"/graphql", all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// Attempts returns the number of requests the fake received.
func (f *fakeServer) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// Problems returns what was wrong with the requests received.
func (f *fakeServer) Problems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.problems)
}

// Secrets returns a copy of the secrets held.
func (f *fakeServer) Secrets() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]any{}
	for k, v := range f.secrets {
		out[k] = v
	}
	return out
}

// set changes the fake's behaviour under its lock.
func (f *fakeServer) set(fn func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func reply(w http.ResponseWriter, status int, data any, errs ...gqlError) {
	body := map[string]any{}
	if data != nil {
		body["data"] = data
	}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.attempts++
	// The token goes after the count, so a test that wakes on it and then
	// reads Attempts sees this request counted.
	select {
	case f.requests <- struct{}{}:
	default:
	}
	var mode string
	switch {
	case f.hangN > 0:
		f.hangN--
		mode = "hang"
	case f.dropN > 0:
		f.dropN--
		mode = "drop"
	case f.failN > 0:
		f.failN--
		mode = "fail"
	}
	failWith, after := f.failWith, f.after
	f.mu.Unlock()

	switch mode {
	case "hang":
		select {
		case <-r.Context().Done():
		case <-f.closed:
		}
		return
	case "drop":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case "fail":
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		reply(w, failWith, nil, gqlError{Message: "fake failure " + strconv.Itoa(failWith)})
		return
	}

	data, errs, problem := f.answer(r)
	if problem != "" {
		f.mu.Lock()
		f.problems = append(f.problems, problem)
		f.mu.Unlock()
		reply(w, http.StatusBadRequest, nil, gqlError{Message: "fake: " + problem})
		return
	}
	reply(w, http.StatusOK, data, errs...)
}

// answer checks the request and runs it: data and GraphQL errors for the
// reply, or what is wrong with the request.
func (f *fakeServer) answer(r *http.Request) (data any, errs []gqlError, problem string) {
	if r.Method != http.MethodPost {
		return nil, nil, "method " + r.Method + ", want POST"
	}
	if r.URL.Path != "/" && r.URL.Path != "/graphql" {
		return nil, nil, "path " + r.URL.Path + ", want / or /graphql"
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return nil, nil, "Content-Type " + strconv.Quote(ct) + ", want application/json"
	}
	if got := r.Header.Get("X-Prefect-Tenant-Id"); got != f.tenant {
		return nil, nil, fmt.Sprintf("X-Prefect-Tenant-Id %q, want %q", got, f.tenant)
	}
	auth := r.Header.Get("Authorization")
	if f.key != "" && auth != "Bearer "+f.key {
		// The message quotes the key on purpose: the client must mask it.
		return nil, []gqlError{{
			Message:    fmt.Sprintf("UNAUTHENTICATED: invalid API key %q", strings.TrimPrefix(auth, "Bearer ")),
			Extensions: map[string]any{"code": "UNAUTHENTICATED"},
		}}, ""
	}

	var body map[string]json.RawMessage
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		return nil, nil, "the body is not a JSON object: " + err.Error()
	}
	var query, varsText string
	if err := json.Unmarshal(body["query"], &query); err != nil {
		return nil, nil, "query is not a string"
	}
	if err := json.Unmarshal(body["variables"], &varsText); err != nil {
		return nil, nil, "variables is not a string (Prefect sends a JSON-encoded string): " + string(body["variables"])
	}
	var vars map[string]any
	vd := json.NewDecoder(strings.NewReader(varsText))
	vd.UseNumber()
	if err := vd.Decode(&vars); err != nil {
		return nil, nil, "variables does not decode to a JSON object: " + err.Error()
	}
	for k := range body {
		if k != "query" && k != "variables" {
			return nil, nil, "unexpected field " + strconv.Quote(k)
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	switch strings.Join(strings.Fields(query), " ") {
	case opSet:
		in, ok := vars["input"].(map[string]any)
		name, _ := in["name"].(string)
		value, has := in["value"]
		if !ok || name == "" || !has || value == nil || len(in) != 2 {
			return nil, nil, "set_secret variables " + varsText + ", want {\"input\": {\"name\": NAME, \"value\": VALUE}}"
		}
		if f.echo {
			return nil, []gqlError{{Message: "Variable \"$input\" got invalid value " + varsText}}, ""
		}
		if f.setFails {
			return map[string]any{"set_secret": map[string]any{"success": false}}, nil, ""
		}
		f.secrets[name] = value
		return map[string]any{"set_secret": map[string]any{"success": true}}, nil, ""
	case opDelete:
		in, ok := vars["input"].(map[string]any)
		name, _ := in["name"].(string)
		if !ok || name == "" || len(in) != 1 {
			return nil, nil, "delete_secret variables " + varsText + ", want {\"input\": {\"name\": NAME}}"
		}
		if _, ok := f.secrets[name]; !ok {
			return map[string]any{"delete_secret": nil}, []gqlError{{Message: "No value found for the requested key"}}, ""
		}
		delete(f.secrets, name)
		return map[string]any{"delete_secret": map[string]any{"success": true}}, nil, ""
	case opValue:
		name, ok := vars["name"].(string)
		if !ok || len(vars) != 1 {
			return nil, nil, "secret_value variables " + varsText + ", want {\"name\": NAME}"
		}
		v, ok := f.secrets[name]
		if !ok {
			return map[string]any{"secret_value": nil}, []gqlError{{Message: "No value found for the requested key"}}, ""
		}
		return map[string]any{"secret_value": v}, nil, ""
	case opNames:
		if vars != nil {
			return nil, nil, "secret_names variables " + varsText + ", want null"
		}
		names := make([]string, 0, len(f.secrets))
		for k := range f.secrets {
			names = append(names, k)
		}
		slices.Sort(names)
		return map[string]any{"secret_names": names}, nil, ""
	case opPage:
		return f.page(vars, varsText)
	}
	return nil, nil, "unknown operation " + strconv.Quote(query)
}

// page answers secrets_page as this project's server does: sorted names
// after the cursor, 100 unless limit says 1 to 1000, and the next cursor.
func (f *fakeServer) page(vars map[string]any, varsText string) (data any, errs []gqlError, problem string) {
	if f.noPages {
		return nil, []gqlError{{
			Message:    `Cannot query field "secrets_page" on type "Query".`,
			Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
		}}, ""
	}
	f.pages++
	after, limit := "", 100
	for k, v := range vars {
		switch k {
		case "after":
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, nil, "secrets_page after " + varsText + ", want a non-empty string or none"
			}
			after = s
		case "limit":
			n, err := v.(json.Number).Int64()
			if err != nil || n < 1 || n > 1000 {
				return nil, []gqlError{{Message: "invalid limit " + v.(json.Number).String() + ": want 1 to 1000"}}, ""
			}
			limit = int(n)
		default:
			return nil, nil, "secrets_page variables " + varsText + ", want after and limit"
		}
	}
	names := []string{}
	for k := range f.secrets {
		if k > after {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var next any
	if len(names) > limit {
		names = names[:limit]
		next = names[limit-1]
	}
	if f.stuck {
		next = after
	}
	return map[string]any{"secrets_page": map[string]any{"names": names, "next": next}}, nil, ""
}

// Pages returns the number of secrets_page requests answered.
func (f *fakeServer) Pages() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pages
}

// jsonText returns v as JSON, for comparing values.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "unencodable: " + err.Error()
	}
	return strings.TrimSpace(b.String())
}

package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/server"
)

// canary is what a secret pasted in the wrong place looks like: no answer
// may ever hold it.
const canary = "S3CRET-CANARY-5e1f0c7a"

const (
	badSet    = `mutation($input: set_secret_input!) { set_secret(input: $input) { success } }`
	badValue  = `query($name: String!) { secret_value(name: $name) }`
	badDelete = `mutation($input: delete_secret_input!) { delete_secret(input: $input) { success } }`
)

// gqlBody encodes a request body; vars is left out when nil.
func gqlBody(t *testing.T, query string, vars any) string {
	t.Helper()
	m := map[string]any{"query": query}
	if vars != nil {
		m["variables"] = vars
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func setVars(name, value any) map[string]any {
	return map[string]any{"input": map[string]any{"name": name, "value": value}}
}

// badInputServer is the real handler over SQLite with one secret, KNOWN,
// which every bad request is followed by a read of.
type badInputServer struct {
	srv *httptest.Server
	key string
}

// The server, its store and its connections are gone when the test ends.
func newBadInputServer(t *testing.T) *badInputServer {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // runs last
	be := newSQLiteBackend(t)
	s := &badInputServer{srv: httptest.NewServer(be.h), key: be.key}
	t.Cleanup(s.srv.Close)
	status, raw, _ := s.do(t, http.MethodPost, "/graphql", strings.NewReader(gqlBody(t, badSet, setVars("KNOWN", "known-value"))), -1)
	if status != http.StatusOK || !strings.Contains(raw, `"success":true`) {
		t.Fatalf("setting KNOWN: HTTP %d %s", status, raw)
	}
	return s
}

// badAnswer is an answer's body as GraphQL errors.
type badAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// do sends body (of length size, -1 for chunked) with the API key and
// returns the status, the answer and its header.
func (s *badInputServer) do(t *testing.T, method, path string, body io.Reader, size int64) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(raw), resp.Header
}

// stillWorks fails the test unless a valid read of KNOWN succeeds.
func (s *badInputServer) stillWorks(t *testing.T) {
	t.Helper()
	status, raw, _ := s.do(t, http.MethodPost, "/graphql", strings.NewReader(gqlBody(t, badValue, map[string]any{"name": "KNOWN"})), -1)
	if status != http.StatusOK || !strings.Contains(raw, `"secret_value":"known-value"`) {
		t.Fatalf("after the bad request, a valid read: HTTP %d %s", status, raw)
	}
}

// TestBadInput sends requests that are wrong in every way the API can be
// misused, and checks each answer: the HTTP status, a JSON body whose errors
// say what was wrong, no echo of the canary the request holds, and a server
// that keeps answering. No bad request may create a secret.
// (FuzzDecodeRequest checks that no body makes the decoder panic; this
// checks what the caller is told.)
func TestBadInput(t *testing.T) {
	s := newBadInputServer(t)
	limit := server.DefaultMaxValueSize + 1<<20 // the body may hold 1 MiB beside the value
	// padded returns a request setting a value of more than 256 KiB, padded
	// with white space to n bytes.
	padded := func(n int) string {
		b := gqlBody(t, badSet, setVars("BIG", canary+strings.Repeat("x", 300<<10)))
		return b + strings.Repeat(" ", n-len(b))
	}
	deep := func(n int, open, close, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	varsText := func(v any) string { // variables as Prefect 1 sends them: a JSON string
		b, _ := json.Marshal(v)
		return string(b)
	}
	const (
		notObject = "the request body is not a JSON object"
		noQuery   = "the request has no query: want a non-empty string"
		badVars   = "the request's variables are not a JSON object"
		nameRule  = "a name is 1 to 256 characters of ASCII letters, digits, _ - . and /"
	)
	tests := []struct {
		name    string
		method  string // POST if ""
		path    string // /graphql if ""
		body    string
		chunked bool     // sent without a Content-Length
		status  int      // 200 if 0
		says    []string // in the errors' messages, each
		code    string   // extensions.code of the first error, if not ""
		allow   string   // the Allow header, if not ""
	}{
		// Sizes.
		{name: "body one byte over the limit", body: padded(limit + 1), status: 413,
			says: []string{"larger than the limit of 1280 KiB"}, code: "PAYLOAD_TOO_LARGE"},
		{name: "chunked body over the limit", body: padded(limit + 1), chunked: true, status: 413,
			says: []string{"larger than the limit of 1280 KiB"}, code: "PAYLOAD_TOO_LARGE"},
		{name: "body at the limit is read: its value is too large", body: padded(limit),
			says: []string{`the value of secret "BIG"`, "over the limit of 256 KiB"}, code: "BAD_USER_INPUT"},
		{name: "value one byte over 256 KiB", body: gqlBody(t, badSet, setVars("BIG", canary+strings.Repeat("x", 256<<10-2-len(canary)+1))),
			says: []string{"is 262145 bytes as JSON, over the limit of 256 KiB"}, code: "BAD_USER_INPUT"},
		{name: "query over 4 KiB", body: gqlBody(t, "{ secret_names }"+strings.Repeat(" ", 4<<10), map[string]any{"v": canary}),
			says: []string{"exceeds the maximum allowed query length of 4096 bytes"}},

		// Depth.
		{name: "query nested beyond the depth limit", body: gqlBody(t, "{ "+deep(10, "secret_metadata { ", "} ", "name ")+"}", map[string]any{"v": canary}),
			says: []string{"exceeds max depth 8"}},
		{name: "selections nested a thousand deep", body: gqlBody(t, deep(1000, "{ a ", "} ", ""), nil), status: 400,
			says: []string{"names; at most 64 are allowed"}, code: "BAD_REQUEST"},
		{name: "braces nested two thousand deep", body: gqlBody(t, deep(2000, "{", "}", "secret_names"), nil),
			says: []string{"syntax error"}},
		{name: "variables nested 20,000 deep", body: `{"query": ` + varsText(badSet) + `, "variables": {"input": {"name": "DEEP", "value": ` + deep(20000, "[", "]", `"`+canary+`"`) + `}}}`,
			status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "variables string nested 20,000 deep", body: `{"query": ` + varsText(badSet) + `, "variables": ` + varsText(`{"input": {"name": "DEEP", "value": `+deep(20000, `{"a":`, "}", `"`+canary+`"`)+`}}`) + `}`,
			status: 400, says: []string{badVars}, code: "BAD_REQUEST"},

		// Invalid UTF-8 anywhere is refused (encoding/json would make each bad
		// byte U+FFFD: a value changed without a word).
		{name: "invalid UTF-8 in the query", body: "{\"query\": \"{ secret_\xff\xfevalue(name: \\\"" + canary + "\\\") }\"}",
			status: 400, says: []string{"not valid UTF-8"}, code: "BAD_REQUEST"},
		{name: "invalid UTF-8 in a name in the query", body: "{\"query\": \"{ secret_value(name: \\\"A\xffB\\\") }\", \"variables\": {\"v\": \"" + canary + "\"}}",
			status: 400, says: []string{"not valid UTF-8"}, code: "BAD_REQUEST"},
		{name: "invalid UTF-8 in a name in variables", body: `{"query": ` + varsText(badSet) + `, "variables": {"input": {"name": "AB` + "\xff" + `", "value": "` + canary + `"}}}`,
			status: 400, says: []string{"not valid UTF-8"}, code: "BAD_REQUEST"},
		{name: "invalid UTF-8 in a name in variables as a string", body: `{"query": ` + varsText(badValue) + `, "variables": "{\"name\": \"` + "\xc3" + `\"}"}`,
			status: 400, says: []string{"not valid UTF-8"}, code: "BAD_REQUEST"},
		{name: "invalid UTF-8 in a value", body: `{"query": ` + varsText(badSet) + `, "variables": {"input": {"name": "UTF", "value": "` + canary + "\xff\xfe" + `"}}}`,
			status: 400, says: []string{"not valid UTF-8"}, code: "BAD_REQUEST"},

		// Unknown operations, fields, arguments and operation names.
		{name: "unknown query field", body: gqlBody(t, `{ drop_everything }`, map[string]any{"v": canary}),
			says: []string{`Cannot query field "drop_everything" on type "Query"`}},
		{name: "unknown mutation", body: gqlBody(t, `mutation { drop_everything(x: "`+canary+`") }`, nil),
			says: []string{`Cannot query field "drop_everything" on type "Mutation"`}},
		{name: "unknown argument", body: gqlBody(t, `{ secret_value(name: "KNOWN", extra: "`+canary+`") }`, nil),
			says: []string{`Unknown argument "extra" on field "Query.secret_value"`}},
		{name: "unknown field of the input", body: gqlBody(t, badSet, map[string]any{"input": map[string]any{"name": "A", "value": canary, "extra": canary}}),
			says: []string{`Variable "input" has invalid value`}},
		{name: "unknown field of the body", body: `{"query": "{ secret_names }", "extra": "` + canary + `"}`, status: 400,
			says: []string{`1 field(s) other than the allowed query, variables, operationName`}, code: "BAD_REQUEST"},
		{name: "unknown operationName", body: `{"query": "query A { secret_names }", "operationName": "Missing", "variables": {"v": "` + canary + `"}}`,
			says: []string{`no operation of the name operationName gives`}},
		{name: "two operations and no operationName", body: gqlBody(t, `query A { secret_names } query B { secret_names }`, map[string]any{"v": canary}),
			says: []string{"more than one operation in query document and no operation name given"}},
		{name: "an undeclared variable", body: gqlBody(t, `{ secret_value(name: $name) }`, map[string]any{"name": canary}),
			says: []string{`Variable "$name" is not defined`}},

		// Malformed JSON.
		{name: "empty body", body: "", status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "truncated body", body: `{"query": "{ secret_names }", "variables": {"v": "` + canary, status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "trailing garbage", body: `{"query": "{ secret_names }"} {"v": "` + canary + `"}`, status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "a JSON array", body: `["` + canary + `"]`, status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "a JSON string", body: `"` + canary + `"`, status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "null", body: `null`, status: 400, says: []string{notObject}, code: "BAD_REQUEST"},
		{name: "query is a number", body: `{"query": 1, "variables": {"v": "` + canary + `"}}`, status: 400, says: []string{noQuery}, code: "BAD_REQUEST"},
		{name: "query is null", body: `{"query": null}`, status: 400, says: []string{noQuery}, code: "BAD_REQUEST"},
		{name: "query is a list", body: `{"query": ["{ secret_names }"]}`, status: 400, says: []string{noQuery}, code: "BAD_REQUEST"},
		{name: "query is blank", body: `{"query": " \n\t "}`, status: 400, says: []string{noQuery}, code: "BAD_REQUEST"},
		{name: "query is missing", body: `{"variables": {"v": "` + canary + `"}}`, status: 400, says: []string{noQuery}, code: "BAD_REQUEST"},
		{name: "variables are a number", body: `{"query": "{ secret_names }", "variables": 3}`, status: 400, says: []string{badVars}, code: "BAD_REQUEST"},
		{name: "variables are true", body: `{"query": "{ secret_names }", "variables": true}`, status: 400, says: []string{badVars}, code: "BAD_REQUEST"},
		{name: "variables are a list", body: `{"query": "{ secret_names }", "variables": ["` + canary + `"]}`, status: 400, says: []string{badVars}, code: "BAD_REQUEST"},
		{name: "variables string holds invalid JSON", body: `{"query": ` + varsText(badSet) + `, "variables": "{\"input\": {\"name\": \"A\", \"value\": \"` + canary + `\"}"}`,
			status: 400, says: []string{badVars}, code: "BAD_REQUEST"},
		{name: "variables string holds a list", body: `{"query": "{ secret_names }", "variables": "[\"` + canary + `\"]"}`, status: 400, says: []string{badVars}, code: "BAD_REQUEST"},
		{name: "operationName is a number", body: `{"query": "{ secret_names }", "operationName": 5}`, status: 400,
			says: []string{"the request's operationName is not a string"}, code: "BAD_REQUEST"},

		// Names that break the rule.
		{name: "empty name", body: gqlBody(t, badSet, setVars("", canary)), says: []string{"it is 0 bytes long", nameRule}, code: "BAD_USER_INPUT"},
		{name: "name of 257 bytes", body: gqlBody(t, badSet, setVars(strings.Repeat("n", 257), canary)), says: []string{"it is 257 bytes long", nameRule}, code: "BAD_USER_INPUT"},
		{name: "name with a space", body: gqlBody(t, badSet, setVars("DB PASSWORD", canary)), says: []string{"byte 3 is not allowed", nameRule}, code: "BAD_USER_INPUT"},
		{name: "secret pasted as a name", body: gqlBody(t, badSet, setVars(canary+" x", canary)), says: []string{"byte 23 is not allowed", nameRule}, code: "BAD_USER_INPUT"},
		{name: "name with a newline", body: gqlBody(t, badSet, setVars("A\nB", canary)), says: []string{"byte 2 is not allowed"}, code: "BAD_USER_INPUT"},
		{name: "name with a NUL", body: gqlBody(t, badSet, setVars("\x00A", canary)), says: []string{"byte 1 is not allowed"}, code: "BAD_USER_INPUT"},
		{name: "name with DEL", body: gqlBody(t, badSet, setVars("AB\x7f", canary)), says: []string{"byte 3 is not allowed"}, code: "BAD_USER_INPUT"},
		{name: "name with a tab, read", body: gqlBody(t, badValue, map[string]any{"name": "A\tB"}), says: []string{"invalid secret name: byte 2 is not allowed"}, code: "BAD_USER_INPUT"},
		{name: "name with a slash and a space, deleted", body: gqlBody(t, badDelete, map[string]any{"input": map[string]any{"name": "a/ b"}}),
			says: []string{"invalid secret name: byte 3 is not allowed"}, code: "BAD_USER_INPUT"},
		{name: "name is an object", body: gqlBody(t, badSet, setVars(map[string]any{"v": canary}, canary)),
			says: []string{"could not unmarshal a variable's value (not shown) into string"}},
		{name: "name is true", body: gqlBody(t, badSet, setVars(true, canary)), says: []string{"could not unmarshal a variable's value (not shown) into string: incompatible type: bool"}},
		{name: "name is a list", body: gqlBody(t, badValue, map[string]any{"name": []any{canary}}), says: []string{"could not unmarshal a variable's value (not shown) into string"}},
		{name: "name is null", body: gqlBody(t, badSet, setVars(nil, canary)), says: []string{`Variable "name" has an invalid value (not shown)`}},
		{name: "name is missing", body: gqlBody(t, badSet, map[string]any{"input": map[string]any{"value": canary}}), says: []string{`Variable "name" has an invalid value (not shown)`}},

		// Values.
		{name: "value is null", body: gqlBody(t, badSet, setVars("A", nil)), says: []string{`Variable "value" has an invalid value (not shown)`}},
		{name: "value is missing", body: gqlBody(t, badSet, map[string]any{"input": map[string]any{"name": "A"}}), says: []string{`Variable "value" has an invalid value (not shown)`}},
		{name: "value is null in the query", body: gqlBody(t, `mutation { set_secret(input: {name: "A", value: null}) { success } }`, map[string]any{"v": canary}),
			says: []string{`Expected value of type "JSON!"`}},

		// Methods.
		{name: "GET", method: http.MethodGet, status: 405, says: []string{"method GET not allowed: POST a GraphQL request"}, code: "METHOD_NOT_ALLOWED", allow: "POST"},
		{name: "PUT", method: http.MethodPut, body: gqlBody(t, badSet, setVars("A", canary)), status: 405,
			says: []string{"method PUT not allowed: POST a GraphQL request"}, code: "METHOD_NOT_ALLOWED", allow: "POST"},
		{name: "PUT to the root", method: http.MethodPut, path: "/", body: gqlBody(t, badSet, setVars("A", canary)), status: 405,
			says: []string{"method PUT not allowed"}, code: "METHOD_NOT_ALLOWED", allow: "GET, HEAD, POST"},
		{name: "DELETE", method: http.MethodDelete, status: 405, says: []string{"method DELETE not allowed"}, code: "METHOD_NOT_ALLOWED", allow: "POST"},
		{name: "PATCH", method: http.MethodPatch, body: gqlBody(t, badSet, setVars("A", canary)), status: 405, says: []string{"method PATCH not allowed"}, code: "METHOD_NOT_ALLOWED", allow: "POST"},
		{name: "POST elsewhere", path: "/graphql/" + canary, body: gqlBody(t, badSet, setVars("A", canary)), status: 404,
			says: []string{"no such path: the API is at / and /graphql"}, code: "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, want := tt.method, tt.path, tt.status
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/graphql"
			}
			if want == 0 {
				want = http.StatusOK
			}
			var body io.Reader = strings.NewReader(tt.body)
			size := int64(len(tt.body))
			if tt.chunked {
				body, size = io.MultiReader(body), -1 // hides the length
			}
			status, raw, header := s.do(t, method, path, body, size)
			shown := raw
			if len(shown) > 600 {
				shown = shown[:600] + "..."
			}
			if strings.Contains(raw, canary) || strings.Contains(raw, s.key) {
				t.Errorf("the answer echoes the request's canary or key: %s", shown)
			}
			if status != want {
				t.Errorf("HTTP %d, want %d: %s", status, want, shown)
			}
			if tt.allow != "" && header.Get("Allow") != tt.allow {
				t.Errorf("Allow: %q, want %q", header.Get("Allow"), tt.allow)
			}
			var ans badAnswer
			if err := json.Unmarshal([]byte(raw), &ans); err != nil {
				t.Fatalf("the answer is not a GraphQL JSON response (%v): %s", err, shown)
			}
			if len(ans.Errors) == 0 {
				t.Fatalf("no errors in the answer: %s", shown)
			}
			var msgs []string
			for _, e := range ans.Errors {
				if strings.TrimSpace(e.Message) == "" {
					t.Errorf("an error without a message: %s", shown)
				}
				msgs = append(msgs, e.Message)
			}
			all := strings.Join(msgs, "\n")
			for _, w := range tt.says {
				if !strings.Contains(all, w) {
					t.Errorf("the errors do not say %q: %q", w, all)
				}
			}
			if tt.code != "" && ans.Errors[0].Extensions.Code != tt.code {
				t.Errorf("extensions.code %q, want %q", ans.Errors[0].Extensions.Code, tt.code)
			}
			if d := strings.TrimSpace(string(ans.Data)); d != "" && d != "null" && d != "{}" && !strings.HasSuffix(d, ":null}") {
				t.Errorf("data %s alongside the errors", d)
			}
			s.stillWorks(t)
		})
	}

	// No bad request created a secret.
	status, raw, _ := s.do(t, http.MethodPost, "/graphql", strings.NewReader(`{"query": "{ secret_names }"}`), -1)
	if status != http.StatusOK || !strings.Contains(raw, `{"secret_names":["KNOWN"]}`) {
		t.Errorf("after the bad requests: HTTP %d %s; want KNOWN alone", status, raw)
	}
}

// A value nested thousands deep is JSON like any other: it is kept and
// read back as it was, and the server keeps working. (Past encoding/json's
// depth limit of 10,000 the request is refused; see TestBadInput.)
func TestDeeplyNestedValue(t *testing.T) {
	s := newBadInputServer(t)
	for _, tc := range []struct{ name, value string }{
		{"DEEP_LIST", strings.Repeat("[", 5000) + `"` + canary + `"` + strings.Repeat("]", 5000)},
		{"DEEP_OBJECT", strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat("}", 5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"query": "mutation($input: set_secret_input!) { set_secret(input: $input) { success } }", "variables": {"input": {"name": "` + tc.name + `", "value": ` + tc.value + `}}}`
			status, raw, _ := s.do(t, http.MethodPost, "/graphql", strings.NewReader(body), int64(len(body)))
			if status != http.StatusOK || raw != `{"data":{"set_secret":{"success":true}}}`+"\n" {
				t.Fatalf("set: HTTP %d %.300s", status, raw)
			}
			status, raw, _ = s.do(t, http.MethodPost, "/graphql", strings.NewReader(gqlBody(t, badValue, map[string]any{"name": tc.name})), -1)
			if want := `{"data":{"secret_value":` + tc.value + `}}` + "\n"; status != http.StatusOK || raw != want {
				t.Fatalf("read back: HTTP %d %.300s", status, raw)
			}
			s.stillWorks(t)
		})
	}
}

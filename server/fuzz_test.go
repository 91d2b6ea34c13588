package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeRequest checks that decodeRequest never panics, and that what it
// accepts is a request with a query.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"query": "query { secret_names }", "variables": "null"}`,
		`{"query": "query($name: String!) { secret_value(name: $name) }", "variables": "{\"name\": \"A\"}"}`,
		`{"query": "q", "variables": {"input": {"name": "A", "value": [1, 2.5, 1e400]}}, "operationName": "x"}`,
		`{"query": "q", "variables": 7}`,
		`{"query": "q", "variables": "\"x\""}`,
		`{"query": "q", "extra": 1}`,
		`{"query": "q"} {}`,
		`null`, `[]`, `""`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(body)
		if err != nil {
			if _, ok := err.(requestError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if strings.TrimSpace(req.Query) == "" {
			t.Fatalf("accepted %q without a query", body)
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}

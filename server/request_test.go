package server

import (
	"strings"
	"testing"
)

// Each way a body fails to be a request is told apart, quoting nothing.
func TestDecodeRequestSaysWhy(t *testing.T) {
	for _, tc := range []struct{ body, says string }{
		{``, "the body is empty"},
		{`  `, "the body is empty"},
		{`{"query": "{ secret_names }"`, "the JSON ends early"},
		{`{"query": "{ secret_names }"} x`, "data follows the JSON object"},
		{`[1]`, "it is a JSON array"},
		{`"SECRETISH"`, "it is a JSON string"},
		{`null`, "it is null"},
		{`{"a" 1}`, "invalid JSON at byte 6"},
		{"{\"query\": \"\xff\"}", "not valid UTF-8 (byte 12)"},
		{`{"query": 1}`, "the request has no query"},
		{`{"query": "q", "variables": "{"}`, "variables are not a JSON object"},
	} {
		_, err := decodeRequest([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v; want it to say %q", tc.body, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETISH") {
			t.Errorf("%q: the error quotes the body: %v", tc.body, err)
		}
	}
}

package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Values written into the query text itself, rather than in variables,
// never come back in an error message, whatever is wrong with the query.
func TestQueryLiteralsNotEchoed(t *testing.T) {
	f := start(t)
	const canary = "TOPSECRETCANARY"
	for _, tc := range []struct{ query, says string }{
		{`mutation { set_secret(input: {name: "A", value: "` + canary + `" { success } }`, "syntax error"},
		{`mutation { set_secret(input: {name: "A", value: "` + canary + `"}) { success } } }`, "syntax error"},
		{`query { secret_value(name: "` + canary + `" }`, "syntax error"},
		{`query { secret_value(name: ` + canary + `) }`, "cannot represent"},
		{`query { secret_value(name: 1234567890` + canary[:0] + `) }`, "cannot represent"},
		{`query { secret_value(name: ` + canary + `, extra: "` + canary + `") }`, "extra"},
		{`mutation { set_secret(input: {name: 7, value: "` + canary + `"}) { success } }`, "cannot represent"},
	} {
		body, _ := json.Marshal(map[string]string{"query": tc.query})
		_, raw, out := f.post(t, keyA, "/graphql", string(body))
		if len(out.Errors) == 0 {
			t.Errorf("%s: no error: %s", tc.query, raw)
			continue
		}
		if strings.Contains(raw, canary) || strings.Contains(raw, "1234567890") {
			t.Errorf("%s: the answer echoes a literal: %s", tc.query, raw)
		}
		if !strings.Contains(strings.ToLower(out.messages()), strings.ToLower(tc.says)) {
			t.Errorf("%s: %q does not say %q", tc.query, out.messages(), tc.says)
		}
	}
}

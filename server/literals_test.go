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

// A number is never a name: 65 once read the secret "A" (the GraphQL
// library converts integers to strings as runes). Numbers in values keep
// every digit, and an Int argument still takes a number.
func TestNumbersAreNotNames(t *testing.T) {
	f := start(t)
	_, out := f.gql(t, keyA, opSet, map[string]any{"input": map[string]any{"name": "A", "value": "value-of-A"}}, true)
	if len(out.Errors) > 0 {
		t.Fatal(out.messages())
	}
	for _, asString := range []bool{true, false} {
		for _, vars := range []map[string]any{
			{"name": 65},
			{"name": json.Number("65")},
			{"name": 6.5e1},
			{"name": json.Number("123456789012345678901234567890")},
		} {
			raw, out := f.gql(t, keyA, opValue, vars, asString)
			if len(out.Errors) == 0 || strings.Contains(raw, "value-of-A") {
				t.Errorf("secret_value(name: %v): %s; want a refusal", vars["name"], raw)
			}
		}
		raw, out := f.gql(t, keyA, opSet, map[string]any{"input": map[string]any{"name": 66, "value": "v"}}, asString)
		if len(out.Errors) == 0 {
			t.Errorf("set_secret(name: 66): %s; want a refusal", raw)
		}
	}
	_, out = f.gql(t, keyA, opNames, nil, false)
	if got := string(out.Data["secret_names"]); got != `["A"]` {
		t.Errorf("secret_names = %s; a number made a secret", got)
	}
	_, out = f.gql(t, keyA, `query($n: Int) { audit_log(limit: $n) { operation } }`, map[string]any{"n": 2}, true)
	if len(out.Errors) > 0 || strings.Count(string(out.Data["audit_log"]), "operation") != 2 {
		t.Errorf("audit_log(limit: 2) = %s, %s", out.Data["audit_log"], out.messages())
	}
}

// A comment ended by a carriage return hides nothing from the check of one
// secret_value per request, and the resolvers count too.
func TestOneSecretValuePerRequest(t *testing.T) {
	f := start(t)
	_, out := f.gql(t, keyA, opSet, map[string]any{"input": map[string]any{"name": "A", "value": "v"}}, false)
	if len(out.Errors) > 0 {
		t.Fatal(out.messages())
	}
	for _, q := range []string{
		"{ a: secret_value(name: \"A\") b: secret_value(name: \"A\") }",
		"{ #\r a: secret_value(name: \"A\") b: secret_value(name: \"A\") }",
		"{ #\r\n a: secret_value(name: \"A\") #\r b: secret_value(name: \"A\") }",
	} {
		body, _ := json.Marshal(map[string]string{"query": q})
		_, raw, out := f.post(t, keyA, "/graphql", string(body))
		if !strings.Contains(out.messages(), "one secret_value") || strings.Count(raw, `"v"`) > 1 {
			t.Errorf("%q: %s; want a refusal", q, raw)
		}
	}
}

// Neither an operationName nor a body's field names come back.
func TestRequestPartsNotEchoed(t *testing.T) {
	f := start(t)
	const canary = "S3CRET-CANARY-9f8e"
	for _, body := range []string{
		`{"query":"query A { secret_names }","operationName":"` + canary + `"}`,
		`{"query":"{ secret_names }","` + canary + `":1}`,
	} {
		_, raw, out := f.post(t, keyA, "/graphql", body)
		if len(out.Errors) == 0 || strings.Contains(raw, canary) {
			t.Errorf("%s: %s; want an error that does not echo the request", body, raw)
		}
	}
}

// An invalid input says what the schema expected, never what it found.
func TestInputErrorsSayWhatIsExpected(t *testing.T) {
	f := start(t)
	const canary = "CANARY-INPUT-31"
	for _, tc := range []struct {
		vars map[string]any
		says string
	}{
		{map[string]any{"input": map[string]any{"name": "A", "value": canary, "extra": canary}}, `Field "extra" is not defined by type "set_secret_input"`},
		{map[string]any{"input": map[string]any{"name": nil, "value": canary}}, `Expected type "String!"`},
		{map[string]any{"input": canary}, `Expected type "set_secret_input"`},
	} {
		raw, out := f.gql(t, keyA, opSet, tc.vars, true)
		if !strings.Contains(out.messages(), tc.says) || strings.Contains(raw, canary) {
			t.Errorf("%v: %s; want it to say %q and not echo the value", tc.vars, raw, tc.says)
		}
	}
}

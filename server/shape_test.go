package server

import (
	"strings"
	"testing"
)

// checkQueryShape keeps a single request from decrypting a value hundreds
// of times (aliases) or from spending minutes in validation (fragments).
func TestCheckQueryShape(t *testing.T) {
	many := "{" + strings.Repeat("a: secret_names ", 40) + "}"
	tests := []struct {
		name, query, wantErr string
	}{
		{"set_secret", `mutation($input: set_secret_input!) { set_secret(input: $input) { success } }`, ""},
		{"secret_value", `query($name: String!) { secret_value(name: $name) }`, ""},
		{"dots inside a string", `{ secret_value(name: "a...b") }`, ""},
		{"fragment keyword inside a string", `{ secret_value(name: "fragment") }`, ""},
		{"aliased secret_value", `{ a: secret_value(name: "x") b: secret_value(name: "x") }`, "one secret_value"},
		{"fragment spread", `{ ...F } fragment F on Query { secret_names }`, "fragments"},
		{"too many names", many, "names; at most"},
		{"comment hides nothing", "{ secret_names } # ...\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkQueryShape(tt.query)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v; want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

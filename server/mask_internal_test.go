package server

import (
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/redact"
)

// What each kind of stored value registers: the text a run may write of
// it is masked, and nothing else.
func TestAddStored(t *testing.T) {
	for _, tc := range []struct {
		name, stored string // the secret's name and its stored JSON
		values       int    // values addStored reports
		masked, kept []string
	}{
		{"S", `"s3cr3t-value"`, 1, []string{"s3cr3t-value", `"s3cr3t-value"`, "czNjcjN0LXZhbHVl"}, []string{"s3cr3t"}},
		{"N", `5432`, 1, []string{"port 5432"}, []string{"543"}},
		{"B", `true`, 0, nil, []string{"true", "false"}},
		{"T", `{"password":"tbl-pw-0d9e","pin":"123","port":5432,"user":"tbl-user"}`, 1,
			[]string{"tbl-pw-0d9e", "tbl-user", "5432", `{"password":"tbl-pw-0d9e","pin":"123","port":5432,"user":"tbl-user"}`},
			[]string{"123", "password", "user"}},
		{"L", `["first-item","second-item"]`, 1, []string{"first-item", "second-item"}, []string{"item"}},
		{"JSONText", `"{\"k\": \"inner-value-7\"}"`, 1, []string{"inner-value-7", `{"k": "inner-value-7"}`}, []string{`"k"`}},
		{"PEM", `"-----BEGIN-----\nline-one-a1b2\nline-two-c3d4\n-----END-----"`, 1, []string{"line-two-c3d4", "line-one-a1b2"}, []string{"-----"}},
		{".prefect/runs/r/env", `{"DB_PASSWORD":"pw1","API_TOKEN":"tok-abc","PREFECT__CONTEXT__SECRETS__X":"ctx-secret","REGION":"eu-west-1a","MODE":"prod","PREFECT__LOGGING__LEVEL":"DEBUG","PREFECT__CLOUD__API":"http://api.example.test/graphql"}`,
			3, []string{"pw1", "tok-abc", "ctx-secret"}, []string{"eu-west-1a", "prod", "DEBUG", "http://api.example.test/graphql"}},
		{".prefect/flows/f/env", `"not an environment"`, 1, []string{"not an environment"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := redact.New()
			if n := addStored(m, tc.name, []byte(tc.stored)); n != tc.values {
				t.Errorf("addStored = %d values, want %d", n, tc.values)
			}
			for _, x := range tc.masked {
				if got := m.Redact("<" + x + ">"); strings.Contains(got, x) || !strings.Contains(got, redact.Marker) {
					t.Errorf("%q masked as %q", x, got)
				}
			}
			for _, x := range tc.kept {
				if got := m.Redact(x); got != x {
					t.Errorf("%q masked as %q; want it kept", x, got)
				}
			}
		})
	}
}

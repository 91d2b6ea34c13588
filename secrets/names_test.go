package secrets_test

import (
	"slices"
	"testing"

	"github.com/prefect-go/prefect/secrets"
)

func TestSensitiveName(t *testing.T) {
	for name, want := range map[string]bool{
		"PREFECT__CONTEXT__SECRETS__mY_KeY": true,
		"PREFECT__CONTEXT__SECRETS__A__B":   true,
		"PREFECT__CLOUD__API_KEY":           true,
		"AWS_SECRET_ACCESS_KEY":             true,
		"GITHUB_TOKEN":                      true,
		"PGPASSWORD":                        true,
		"db_password":                       true,
		"LDAP_PASSWD":                       true,
		"GOOGLE_CREDENTIALS":                true,
		"PREFECT__CLOUD__USE_LOCAL_SECRETS": false,
		"PREFECT__CLOUD__API":               false,
		"PREFECT__CONTEXT__FLOW_RUN_ID":     false,
		"HOME":                              false,
	} {
		if got := secrets.SensitiveName(name); got != want {
			t.Errorf("SensitiveName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPieces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"plain", []string{"plain"}},
		// Texts a run decodes (Prefect's rule) to another text it holds.
		{"1e3", []string{"1e3", "1000"}},
		{`"quoted-p4ss"`, []string{`"quoted-p4ss"`, "quoted-p4ss"}},
		{`"esc-\u00e9"`, []string{`"esc-\u00e9"`, "esc-é"}},
		{" 98765 ", []string{" 98765 ", "98765"}},
		{" 12 ", []string{" 12 "}},     // decoded, shorter than four bytes
		{" true ", []string{" true "}}, // true is not worth hiding
		{`"abc"`, []string{`"abc"`}},   // decoded, shorter than four bytes
		{"12345", []string{"12345"}},   // decoded, the same text
		{"not json", []string{"not json"}},
		{` {"user": "alice", "password": "hunter22", "pin": "123", "n": 1234}`,
			[]string{` {"user": "alice", "password": "hunter22", "pin": "123", "n": 1234}`, `{"n":1234,"password":"hunter22","pin":"123","user":"alice"}`, "1234", "hunter22", "alice"}},
		{`["first-piece", "second-piece"]`, []string{`["first-piece", "second-piece"]`, `["first-piece","second-piece"]`, "first-piece", "second-piece"}},
		{`{"broken": `, []string{`{"broken": `}},
	} {
		if got := secrets.Pieces(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Pieces(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

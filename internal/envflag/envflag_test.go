package envflag_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/envflag"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []string
		want    map[string]string
		errs    []string // each must be in the error
	}{
		{"one", []string{"K=V"}, map[string]string{"K": "V"}, nil},
		{"split at the first =", []string{"K=A=B"}, map[string]string{"K": "A=B"}, nil},
		{"empty value", []string{"K="}, map[string]string{"K": ""}, nil},
		{"last duplicate wins", []string{"K=1", "J=x", "K=2"}, map[string]string{"K": "2", "J": "x"}, nil},
		{"none", nil, map[string]string{}, nil},
		{"no =", []string{"K=V", "NOEQUALS"}, nil, []string{`"NOEQUALS"`, "NAME=VALUE"}},
		{"empty name", []string{"=V"}, nil, []string{"empty name", "not shown"}},
		{"NUL", []string{"K=a\x00b"}, nil, []string{"NUL"}},
		{"every bad entry", []string{"A", "=B", "C=ok"}, nil, []string{`"A"`, "empty name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := envflag.Parse(tc.entries)
			if tc.errs == nil {
				if err != nil || !maps.Equal(got, tc.want) {
					t.Fatalf("Parse(%q) = %v, %v; want %v", tc.entries, got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, envflag.ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, %v; want an error matching envflag.ErrInvalid", tc.entries, got, err)
			}
			for _, s := range tc.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

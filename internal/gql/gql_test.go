package gql_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/gql"
)

// answering is a server that answers every request with status and body.
func answering(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// wrapped is what a caller's NewError makes of an API error.
type wrapped struct{ e *gql.Error }

func (w *wrapped) Error() string { return "wrapped: " + w.e.Error() }

func TestSecretValueMissing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		missing bool // a *MissingError
		answer  bool // ... holding the API's error, as NewError made it
		unauth  bool // matches ErrUnauthenticated
	}{
		{"null", 200, `{"data": {"secret_value": null}}`, true, false, false},
		{"not found", 200, `{"errors": [{"message": "` + gql.NotFoundText + `"}]}`, true, true, false},
		{"not found, but unauthenticated", 200, `{"errors": [{"message": "` + gql.NotFoundText + `", "extensions": {"code": "UNAUTHENTICATED"}}]}`, false, false, true},
		{"401", 401, `{}`, false, false, true},
		{"other error", 200, `{"errors": [{"message": "boom"}]}`, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gql.New(answering(t, tc.status, tc.body), gql.Options{NewError: func(e *gql.Error) error { return &wrapped{e} }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SecretValue(context.Background(), "X")
			var miss *gql.MissingError
			if got := errors.As(err, &miss); got != tc.missing {
				t.Fatalf("SecretValue = %v; missing %v, want %v", err, got, tc.missing)
			}
			var w *wrapped
			if tc.missing && (miss.Answer != nil) != tc.answer {
				t.Errorf("MissingError.Answer = %v; want one: %v", miss.Answer, tc.answer)
			}
			if !tc.missing && !errors.As(err, &w) {
				t.Errorf("SecretValue = %v; want the API's error as NewError made it", err)
			}
			if got := w != nil && w.e.Unauthenticated(); got != tc.unauth {
				t.Errorf("unauthenticated = %v, want %v (%v)", got, tc.unauth, err)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    gql.Error
		want string
	}{
		{gql.Error{Status: 200, Messages: []string{"a", "b"}}, "the API answered: a; b"},
		{gql.Error{Status: 200}, "the API answered with an error but no message"},
		{gql.Error{Status: 502}, "the API answered HTTP 502 Bad Gateway"},
		{gql.Error{Status: 200, Codes: []string{"UNAUTHENTICATED"}, Messages: []string{"no"}}, "the API answered: no (" + gql.ErrUnauthenticated.Error() + ")"},
		{gql.Error{Status: 403}, "the API answered HTTP 403 Forbidden (" + gql.ErrUnauthenticated.Error() + ")"},
		{gql.Error{Status: 200, Messages: []string{"Malformed Authorization header"}}, "(" + gql.ErrUnauthenticated.Error() + ")"},
	} {
		if got := tc.e.Error(); !strings.HasSuffix(got, tc.want) {
			t.Errorf("%+v: Error() = %q, want it to end with %q", tc.e, got, tc.want)
		}
		if errors.Is(&tc.e, gql.ErrUnauthenticated) != strings.Contains(tc.want, gql.ErrUnauthenticated.Error()) {
			t.Errorf("%+v: errors.Is(ErrUnauthenticated) disagrees with its text", tc.e)
		}
	}
}

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

// TestSecretValueNull checks that a stored null is a value, as Prefect's
// client returns None for it, not a missing secret; an answer without the
// field at all is malformed.
func TestSecretValueNull(t *testing.T) {
	c, err := gql.New(answering(t, 200, `{"data": {"secret_value": null}}`), gql.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.SecretValue(context.Background(), "X"); v != nil || err != nil {
		t.Errorf("SecretValue of a stored null = %v, %v; want nil, nil", v, err)
	}
	c, err = gql.New(answering(t, 200, `{"data": {}}`), gql.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.SecretValue(context.Background(), "X"); err == nil || !strings.Contains(err.Error(), "no secret_value") {
		t.Errorf("SecretValue of an answer without secret_value = %v, %v; want a malformed-answer error", v, err)
	}
}

// TestErrorsForms checks that errors a server sends in another shape than
// GraphQL's list of objects are read as errors, as Prefect's client reads
// any "errors", never as a malformed answer or as no error.
func TestErrorsForms(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		unauth     bool
	}{
		{`{"errors": "UNAUTHENTICATED: the key is unknown"}`, "UNAUTHENTICATED: the key is unknown", true},
		{`{"data": null, "errors": "something broke"}`, "something broke", false},
		{`{"errors": {"message": "one object", "extensions": {"code": "UNAUTHENTICATED"}}}`, "one object", true},
		{`{"errors": ["first", {"message": "second"}]}`, "first; second", false},
		{`{"data": {"secret_names": []}, "errors": 42}`, "42", false},
	} {
		t.Run(tc.body, func(t *testing.T) {
			c, err := gql.New(answering(t, 200, tc.body), gql.Options{NewError: func(e *gql.Error) error { return &wrapped{e} }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Do(context.Background(), "query { secret_names }", nil, nil)
			var w *wrapped
			if !errors.As(err, &w) || strings.Contains(err.Error(), "malformed") {
				t.Fatalf("Do = %v; want the API's error", err)
			}
			if got := strings.Join(w.e.Messages, "; "); got != tc.want {
				t.Errorf("messages %q, want %q", got, tc.want)
			}
			if w.e.Unauthenticated() != tc.unauth {
				t.Errorf("Unauthenticated() = %v, want %v", w.e.Unauthenticated(), tc.unauth)
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

package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/internal/gql"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/secretstest"
)

const apiKey = "api-key-9d1e-must-not-leak"

// fakeServer answers secret_value and secret_names as Prefect Cloud does:
// the variables arrive as a JSON string, a missing name is a GraphQL error
// saying so, and a wrong key an UNAUTHENTICATED error that quotes it.
type fakeServer struct {
	*httptest.Server
	calls atomic.Int32
}

func newFakeServer(t *testing.T, held map[string]any) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	answer := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, msg, code string) {
		answer(w, map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}}})
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		var body struct{ Query, Variables string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+apiKey {
			fail(w, "UNAUTHENTICATED: refused "+got, "UNAUTHENTICATED")
			return
		}
		switch {
		case strings.Contains(body.Query, "secret_value"):
			var vars struct{ Name string }
			json.Unmarshal([]byte(body.Variables), &vars)
			v, ok := held[vars.Name]
			if !ok {
				fail(w, gql.NotFoundText, "NOT_FOUND")
				return
			}
			answer(w, map[string]any{"data": map[string]any{"secret_value": v}})
		case strings.Contains(body.Query, "secret_names"):
			names := []string{}
			for n := range held {
				names = append(names, n)
			}
			answer(w, map[string]any{"data": map[string]any{"secret_names": names}})
		default:
			http.Error(w, "unexpected operation", http.StatusBadRequest)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// serverEnv is the configuration that sends a lookup missed locally to the
// server at url, with key.
func serverEnv(url, key string) []string {
	return []string{"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CLOUD__API=" + url, "PREFECT__CLOUD__API_KEY=" + key}
}

// The server a resolver reaches by default is a Source like any other.
func TestServerConformance(t *testing.T) {
	secretstest.Run(t, func(t *testing.T, held map[string]any) secrets.Source {
		f := newFakeServer(t, held)
		src, err := secrets.ServerFromConfig(load(t, serverEnv(f.URL, apiKey), ""))
		if err != nil {
			t.Fatal(err)
		}
		return src
	})
}

// TestSecretOutsideRunAsksServer checks that, as Prefect's Secret.get(),
// a lookup outside any run asks the server the configuration names when
// backend = "cloud" and cloud.use_local_secrets = false: Get, Get[T] and
// Exists, with nothing but configuration.
func TestSecretOutsideRunAsksServer(t *testing.T) {
	f := newFakeServer(t, map[string]any{"REMOTE": leak, "PORT": 5432})
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PREFECT__USER_CONFIG_PATH", filepath.Join(home, "none.toml"))
	for _, kv := range serverEnv(f.URL, apiKey) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("PREFECT__CONTEXT__SECRETS__LOCAL", "local-value")
	ctx := context.Background()

	if v, err := secrets.Secret("REMOTE").Get(ctx); err != nil || v.Reveal() != leak {
		t.Errorf("Secret(REMOTE).Get = %v, %v; want the server's value", v, err)
	}
	if port, err := secrets.Get[int](ctx, "PORT"); err != nil || port != 5432 {
		t.Errorf("Get[int](PORT) = %d, %v", port, err)
	}
	for name, want := range map[string]bool{"REMOTE": true, "ABSENT": false, "LOCAL": true} {
		if got, err := secrets.Secret(name).Exists(ctx); got != want || err != nil {
			t.Errorf("Exists(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	_, err := secrets.Secret("ABSENT").Get(ctx)
	var nf *secrets.NotFoundError
	if !errors.As(err, &nf) || !nf.Server || !errors.Is(err, secrets.ErrNotFound) ||
		!strings.Contains(err.Error(), "The secret ABSENT was not found.  Please ensure that it was set correctly in your tenant") {
		t.Errorf("Get(ABSENT) = %v; want Prefect's not-found message for server secrets", err)
	}
	before := f.calls.Load()
	if v, err := secrets.Secret("LOCAL").Get(ctx); err != nil || v.Reveal() != "local-value" || f.calls.Load() != before {
		t.Errorf("Get(LOCAL) = %v, %v after %d requests; want the local value, the server not asked", v, err, f.calls.Load()-before)
	}
}

// A key the server refuses fails the lookup with an error that says so,
// matches ErrUnauthenticated (client.ErrUnauthenticated is the same error)
// rather than ErrNotFound, and never shows the key.
func TestServerRefusesKey(t *testing.T) {
	f := newFakeServer(t, map[string]any{"REMOTE": leak})
	const wrong = "wrong-key-5be0-must-not-leak"
	r := secrets.NewResolver(secrets.WithConfig(load(t, serverEnv(f.URL, wrong), "")))
	_, err := r.Get(context.Background(), "REMOTE")
	if err == nil || !errors.Is(err, gql.ErrUnauthenticated) || errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get with a refused key = %v; want an error matching ErrUnauthenticated only", err)
	}
	if strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "UNAUTHENTICATED") || !strings.Contains(err.Error(), f.URL) {
		t.Errorf("error %q: want the server's answer and URL, never the key", err)
	}
}

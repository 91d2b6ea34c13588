package tasks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// fakeSecretServer answers secret_value the way the Cloud API does: the
// variables arrive as a JSON string, a missing name is a GraphQL error.
func fakeSecretServer(t *testing.T, key string, held map[string]any, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var body struct {
			Query     string `json:"query"`
			Variables string `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+key {
			json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": "UNAUTHENTICATED"}}})
			return
		}
		var vars struct{ Name string }
		json.Unmarshal([]byte(body.Variables), &vars)
		if !strings.Contains(body.Query, "secret_value") {
			http.Error(w, "unexpected operation", http.StatusBadRequest)
			return
		}
		v, ok := held[vars.Name]
		if !ok {
			json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": "No value found for the requested key"}}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"secret_value": v}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A PrefectSecret that is not set locally resolves through the secret
// server named by the configuration, once per run.
func TestPrefectSecretFromServer(t *testing.T) {
	var calls atomic.Int32
	srv := fakeSecretServer(t, "the-api-key", map[string]any{"REMOTE": leak}, &calls)
	env := []string{"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CLOUD__API=" + srv.URL, "PREFECT__CLOUD__API_KEY=the-api-key"}

	f := flow.New("remote")
	s := flow.Add(f, tasks.PrefectSecret("REMOTE"))
	use := flow.Add(f, task.New("use", func(_ context.Context, in credsIn) (bool, error) { return in.Credentials == leak, nil }),
		flow.Bind("credentials", s))
	missing := flow.Add(f, tasks.PrefectSecret("ABSENT"))
	fs, err := runner.Run(context.Background(), f, hermetic(t, env...), runner.WithExecutor(runner.Parallel(2)))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := runner.ResultOf(fs, use); !ok {
		t.Errorf("the task did not receive the server's secret: %v", fs.Of(use))
	}
	st := fs.Of(missing)
	if !st.IsFailed() || !strings.Contains(st.Message, "The secret ABSENT was not found.  Please ensure that it was set correctly in your tenant") ||
		!strings.Contains(st.Message, srv.URL) {
		t.Errorf("missing on the server: %v", st)
	}
	if calls.Load() != 2 {
		t.Errorf("the server was asked %d times; want once per secret", calls.Load())
	}
	// A wrong key is an authentication error, not a missing secret.
	bad := []string{"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CLOUD__API=" + srv.URL, "PREFECT__CLOUD__API_KEY=wrong"}
	f2 := flow.New("remote-bad-key")
	s2 := flow.Add(f2, tasks.PrefectSecret("REMOTE"))
	fs2, _ := runner.Run(context.Background(), f2, hermetic(t, bad...))
	if st := fs2.Of(s2); !st.IsFailed() || !strings.Contains(st.Message, "UNAUTHENTICATED") || strings.Contains(st.Message, "wrong") {
		t.Errorf("wrong key: %v", st)
	}
}

// A flow run's PrefectSecret resolves through the real secret server (its
// GraphQL handler over an SQLite store), set through the Go client.
func TestPrefectSecretThroughRealServer(t *testing.T) {
	ctx := context.Background()
	env := servertest.New(t)
	key := env.Key
	srv := httptest.NewServer(env.Handler())
	defer srv.Close()
	c, err := client.New(srv.URL+"/graphql", client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if err := c.SetSecret(ctx, "MYSECRET", leak); err != nil {
		t.Fatal(err)
	}

	f := flow.New("through-server")
	s := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	use := flow.Add(f, task.New("use", func(_ context.Context, in credsIn) (bool, error) { return in.Credentials == leak, nil }),
		flow.Bind("credentials", s))
	fs, err := runner.Run(ctx, f, hermetic(t, "PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CLOUD__API="+srv.URL+"/graphql", "PREFECT__CLOUD__API_KEY="+key))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := runner.ResultOf(fs, use); !ok || !fs.IsSuccessful() {
		t.Errorf("flow %v, use %v; want the server's secret to reach the task", fs.State, fs.Of(use))
	}
}

// A PrefectSecret's retry asks the server again, as Prefect's does: a
// secret set between attempts (here, by the time the first miss is
// answered) is found, and the run succeeds.
func TestPrefectSecretRetryFindsLateSecret(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": "No value found for the requested key"}}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"secret_value": leak}})
	}))
	t.Cleanup(srv.Close)
	env := []string{"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CLOUD__API=" + srv.URL, "PREFECT__CLOUD__API_KEY=the-api-key"}
	f := flow.New("late")
	s := flow.Add(f, tasks.PrefectSecret("LATE", task.WithRetries(1, time.Millisecond)))
	use := flow.Add(f, task.New("use", func(_ context.Context, in credsIn) (bool, error) { return in.Credentials == leak, nil }),
		flow.Bind("credentials", s))
	fs, err := runner.Run(context.Background(), f, hermetic(t, env...))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := runner.ResultOf(fs, use); !ok || fs.Of(s).RunCount != 2 {
		t.Errorf("secret task %v (run %d times), use %v; want found on its retry", fs.Of(s), fs.Of(s).RunCount, fs.Of(use))
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d server lookups; want 2 (the miss, then the retry's)", n)
	}
}

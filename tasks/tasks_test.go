package tasks_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const leak = "tok-9f8e7d6c5b4a"

// hermetic returns a configuration holding the given environment only.
func hermetic(t *testing.T, env ...string) runner.Option {
	t.Helper()
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return runner.WithConfig(cfg)
}

type credsIn struct {
	Credentials string `prefect:"credentials"`
}

func executors() map[string]runner.Executor {
	return map[string]runner.Executor{"Local": runner.Local(), "Parallel": runner.Parallel(4)}
}

func TestPrefectSecretFeedsDownstream(t *testing.T) {
	for name, ex := range executors() {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			f := flow.New("seed")
			secret := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
			use := flow.Add(f, task.New("use", func(ctx context.Context, in credsIn) (int, error) {
				rc, _ := runner.FromContext(ctx)
				rc.Logger().Info("using "+in.Credentials, "creds", in.Credentials)
				if in.Credentials != leak {
					return 0, errors.New("wrong credentials")
				}
				return len(in.Credentials), nil
			}), flow.Bind("credentials", secret))
			fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex),
				hermetic(t, "PREFECT__CONTEXT__SECRETS__MYSECRET="+leak),
				runner.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if err != nil {
				t.Fatal(err)
			}
			if !fs.IsSuccessful() {
				t.Fatalf("flow %v; tasks %v", fs.State, fs.Tasks)
			}
			if n, _ := runner.ResultOf(fs, use); n != len(leak) {
				t.Errorf("use returned %d", n)
			}
			if fs.Graph.Tasks[secret.ID()].Spec.Name != "MYSECRET" {
				t.Errorf("the secret task is named %q, want the secret's name", fs.Graph.Tasks[secret.ID()].Spec.Name)
			}
			if strings.Contains(logs.String(), leak) {
				t.Errorf("the logs show the secret:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), secrets.Redacted) {
				t.Errorf("the logs show no redaction marker:\n%s", logs.String())
			}
		})
	}
}

func TestMissingSecret(t *testing.T) {
	f := flow.New("seed")
	secret := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	use := flow.Add(f, task.New("use", func(ctx context.Context, in credsIn) (int, error) { return 0, nil }),
		flow.Bind("credentials", secret))
	fs, err := runner.Run(context.Background(), f, hermetic(t))
	if err != nil {
		t.Fatal(err)
	}
	st := fs.Of(secret)
	if !st.IsFailed() || !strings.Contains(st.Message, `Local Secret "MYSECRET" was not found.`) ||
		!errors.Is(st.Err, secrets.ErrNotFound) {
		t.Errorf("secret task: %v (err %v); want Failed with Prefect's message, matching ErrNotFound", st, st.Err)
	}
	if !fs.Of(use).IsTriggerFailed() || !fs.IsFailed() {
		t.Errorf("use %v, flow %v; want TriggerFailed and Failed", fs.Of(use), fs.State)
	}
}

func TestSecretNameFromParameter(t *testing.T) {
	f := flow.New("by-name")
	name := flow.Parameter(f, "secret_name", flow.WithDefault("A"))
	secret := flow.Add(f, tasks.PrefectSecret(""), flow.Bind("name", name))
	fs, err := runner.Run(context.Background(), f, hermetic(t), runner.WithSecrets(map[string]any{"A": "a", "B": "b"}),
		runner.WithParameters(map[string]any{"secret_name": "B"}))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := runner.ResultOf(fs, secret)
	if !ok || v.Reveal() != "b" {
		t.Errorf("got %v (ok %v); want secret B", v.Reveal(), ok)
	}
	// No name at all.
	f2 := flow.New("no-name")
	s2 := flow.Add(f2, tasks.PrefectSecret(""))
	fs2, _ := runner.Run(context.Background(), f2, hermetic(t))
	if st := fs2.Of(s2); !st.IsFailed() || !strings.Contains(st.Message, "A secret name must be provided.") {
		t.Errorf("no name: %v", st)
	}
}

// countingBackend is a secret server that counts lookups.
type countingBackend struct{ calls atomic.Int32 }

func (b *countingBackend) Lookup(ctx context.Context, name string) (any, error) {
	b.calls.Add(1)
	return secrets.MapSource("counting server", map[string]any{"REMOTE": leak}).Lookup(ctx, name)
}
func (b *countingBackend) String() string { return "counting server" }

func TestOneResolutionPerRun(t *testing.T) {
	for name, ex := range executors() {
		t.Run(name, func(t *testing.T) {
			f := flow.New("fan")
			// Two secret nodes for the same secret and a mapped consumer.
			s1 := flow.Add(f, tasks.PrefectSecret("REMOTE"))
			s2 := flow.Add(f, tasks.PrefectSecret("REMOTE"))
			type in struct {
				X int    `prefect:"x"`
				A string `prefect:"a"`
				B string `prefect:"b"`
			}
			m := flow.Map(f, task.New("use", func(ctx context.Context, in in) (bool, error) {
				return in.A == leak && in.B == leak, nil
			}), flow.Const("x", []int{1, 2, 3, 4, 5, 6, 7, 8}), flow.Unmapped(flow.Bind("a", s1)), flow.Unmapped(flow.Bind("b", s2)))
			backend := &countingBackend{}
			fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex), runner.WithSecretBackend(backend),
				hermetic(t, "PREFECT__CLOUD__USE_LOCAL_SECRETS=false"))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := runner.ResultOf(fs, m)
			for i, ok := range got {
				if !ok {
					t.Errorf("child %d did not get the secret", i)
				}
			}
			if backend.calls.Load() != 1 {
				t.Errorf("the server was asked %d times; want once per run", backend.calls.Load())
			}
		})
	}
}

func TestResolveSecretsFirst(t *testing.T) {
	f := flow.New("preflight")
	var ran atomic.Int32
	a := flow.Add(f, tasks.PrefectSecret("A"))
	b := flow.Add(f, tasks.PrefectSecret("B"))
	c := flow.Add(f, tasks.PrefectSecret("C"))
	type in struct{ A, B, C string }
	flow.Add(f, task.New("use", func(context.Context, in) (int, error) { ran.Add(1); return 0, nil }),
		flow.Bind("A", a), flow.Bind("B", b), flow.Bind("C", c))
	_, err := runner.Run(context.Background(), f, hermetic(t), runner.WithSecrets(map[string]any{"B": "b"}),
		runner.WithResolveSecretsFirst())
	if !errors.Is(err, runner.ErrInvalidRun) || !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("err = %v; want ErrInvalidRun and ErrNotFound", err)
	}
	for _, want := range []string{`"A"`, `"C"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `Secret "B"`) {
		t.Errorf("the error names B, which exists: %q", err)
	}
	if ran.Load() != 0 {
		t.Errorf("a task ran although secrets were missing")
	}
}

func TestSecretsAreNotStored(t *testing.T) {
	store := result.NewMemory()
	f := flow.New("store")
	secret := flow.Add(f, tasks.PrefectSecret("S"))
	type in struct {
		S string `prefect:"s"`
	}
	header := flow.Add(f, task.New("header", func(_ context.Context, in in) (string, error) { return "Bearer " + in.S, nil }),
		flow.Bind("s", secret))
	optIn := flow.Add(f, task.New("length", func(_ context.Context, in in) (int, error) { return len(in.S), nil },
		task.WithCheckpoint(true)), flow.Bind("s", secret))
	fs, err := runner.Run(context.Background(), f, hermetic(t), runner.WithSecrets(map[string]any{"S": leak}),
		runner.WithCheckpointing(true), runner.WithResultStore(store))
	if err != nil || !fs.IsSuccessful() {
		t.Fatalf("run: %v %v", fs, err)
	}
	if loc := fs.Of(secret).Location; loc != "" {
		t.Errorf("the secret task was checkpointed at %q", loc)
	}
	if loc := fs.Of(header).Location; loc != "" {
		t.Errorf("a result computed from the secret was checkpointed at %q without asking", loc)
	}
	if loc := fs.Of(optIn).Location; loc == "" {
		t.Errorf("a task that opted in with WithCheckpoint(true) was not checkpointed")
	}
	// A restart runs the secret task again, even when given its state.
	var calls atomic.Int32
	f2 := flow.New("restart")
	s2 := flow.Add(f2, tasks.PrefectSecret("S"))
	flow.Add(f2, task.New("count", func(_ context.Context, in in) (int, error) { calls.Add(1); return 0, nil }), flow.Bind("s", s2))
	prev, _ := runner.Run(context.Background(), f2, hermetic(t), runner.WithSecrets(map[string]any{"S": leak}))
	again, _ := runner.Restart(context.Background(), f2, prev, hermetic(t), runner.WithSecrets(map[string]any{"S": "new"}))
	if v, _ := runner.ResultOf(again, s2); v.Reveal() != "new" {
		t.Errorf("the restart reused the old secret instead of fetching it again")
	}
}

func TestSecretTaskOptionsRefused(t *testing.T) {
	for name, opt := range map[string]task.Option{
		"checkpoint": task.WithCheckpoint(true),
		"cache":      task.WithCacheFor(1e9),
	} {
		f := flow.New("bad")
		flow.Add(f, tasks.PrefectSecret("S", opt))
		if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("%s on a secret task: Validate() = %v; want an error", name, err)
		}
	}
	// A secret baked into a flow as a constant: Prefect's building-time error.
	f := flow.New("const")
	flow.Add(f, task.New("use", func(_ context.Context, in credsIn) (int, error) { return 0, nil }),
		flow.Const("credentials", secrets.NewValue(leak)))
	if err := f.Validate(); !errors.Is(err, secrets.ErrBuildingFlow) || strings.Contains(err.Error(), leak) {
		t.Errorf("Validate() = %v; want ErrBuildingFlow without the value", err)
	}
}

func TestEnvVarSecret(t *testing.T) {
	t.Setenv("PLAIN_VAR", `"7"`)
	f := flow.New("env")
	raw := flow.Add(f, tasks.EnvVarSecret("PLAIN_VAR"))
	cast := flow.Add(f, tasks.EnvVarSecret("PLAIN_VAR", tasks.WithCast(func(s string) (any, error) {
		return strconv.Atoi(strings.Trim(s, `"`))
	})))
	missing := flow.Add(f, tasks.EnvVarSecret("NOT_SET_ANYWHERE_42"))
	raising := flow.Add(f, tasks.EnvVarSecret("NOT_SET_ANYWHERE_42", tasks.WithRaiseIfMissing()))
	fs, err := runner.Run(context.Background(), f, hermetic(t))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := runner.ResultOf(fs, raw); v.Reveal() != `"7"` {
		t.Errorf("raw = %q; want the text as it is, no coercion", v.Reveal())
	}
	if v, _ := runner.ResultOf(fs, cast); v.Reveal() != "7" {
		t.Errorf("cast = %q", v.Reveal())
	}
	if v, ok := runner.ResultOf(fs, missing); !ok || !v.IsZero() {
		t.Errorf("missing = %v (ok %v); want the zero Value", v, ok)
	}
	if st := fs.Of(raising); !st.IsFailed() || !strings.Contains(st.Message, "Environment variable not set: NOT_SET_ANYWHERE_42") ||
		!errors.Is(st.Err, tasks.ErrEnvVarNotSet) {
		t.Errorf("raising = %v", st)
	}
}

func TestBearerRequest(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+leak {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	run := func(secretValue string) *runner.FlowState {
		f := flow.New("api")
		flow.Add(f, task.New("after", func(context.Context, task.None) (int, error) { return 0, nil }),
			flow.After(tasks.AddRequest(f, "call", http.MethodGet, flow.Const("url", srv.URL+"/data"),
				tasks.WithTokenSecret("SERVICE_TOKEN"), tasks.WithHTTPClient(srv.Client()))))
		var logs bytes.Buffer
		fs, err := runner.Run(context.Background(), f, hermetic(t), runner.WithSecrets(map[string]any{"SERVICE_TOKEN": secretValue}),
			runner.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), secretValue) {
			t.Errorf("logs show the token")
		}
		return fs
	}
	fs := run(leak)
	st, _ := fs.Task("call-1")
	resp, ok := st.Result.(tasks.Response)
	if !st.IsSuccessful() || !ok || resp.Status != 200 || string(resp.Body) != `{"ok":true}` {
		t.Fatalf("call: %v %+v", st, resp)
	}
	if _, ok := fs.Task("SERVICE_TOKEN-1"); !ok {
		t.Errorf("no secret task named after the token secret: %v", fs.Graph.Tasks)
	}
	bad := run("wrong-token-value")
	st, _ = bad.Task("call-1")
	if !st.IsFailed() || !strings.Contains(st.Message, "401") || strings.Contains(st.Message, "wrong-token-value") {
		t.Errorf("a rejected token: %v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Bearer "+leak {
		t.Errorf("the server saw %d requests", len(seen))
	}
}

var _ = state.Success

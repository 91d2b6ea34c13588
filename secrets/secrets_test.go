package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/secretstest"
)

const leak = "hunter2-but-longer"

// load returns a configuration read from env and a home folder, hermetically.
func load(t *testing.T, env []string, userFile string) *config.Config {
	t.Helper()
	home := t.TempDir()
	if userFile != "" {
		path := filepath.Join(home, ".prefect", "config.toml")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(userFile), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(home))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		file     string
		run      map[string]any
		secret   string
		want     string // Reveal() of the value, or "" for an error
		wantErr  string // substring of the error
		notFound bool
	}{
		{name: "env", env: []string{"PREFECT__CONTEXT__SECRETS__MYSECRET=abc"}, secret: "MYSECRET", want: "abc"},
		{name: "env keeps case", env: []string{"PREFECT__CONTEXT__SECRETS__mY_KeY=abc"}, secret: "mY_KeY", want: "abc"},
		{name: "case-sensitive", env: []string{"PREFECT__CONTEXT__SECRETS__mY_KeY=abc"}, secret: "MY_KEY",
			wantErr: `Local Secret "MY_KEY" was not found.`, notFound: true},
		{name: "config file", file: "[context.secrets]\nMYSECRET = \"from-file\"\n", secret: "MYSECRET", want: "from-file"},
		{name: "env wins over file", env: []string{"PREFECT__CONTEXT__SECRETS__MYSECRET=from-env"},
			file: "[context.secrets]\nMYSECRET = \"from-file\"\n", secret: "MYSECRET", want: "from-env"},
		{name: "run wins over env", env: []string{"PREFECT__CONTEXT__SECRETS__MYSECRET=from-env"},
			run: map[string]any{"MYSECRET": "from-run"}, secret: "MYSECRET", want: "from-run"},
		{name: "JSON table", file: "[context.secrets]\nCREDS = '{\"x\": 42}'\n", secret: "CREDS", want: `{"x":42}`},
		{name: "quoted number after coercion", env: []string{`PREFECT__CONTEXT__SECRETS__PIN="1234"`}, secret: "PIN", want: "1234"},
		{name: "missing names every source", env: []string{}, secret: "NOPE",
			wantErr: "PREFECT__CONTEXT__SECRETS__NOPE", notFound: true},
		{name: "no name", secret: "", wantErr: "A secret name must be provided."},
		{name: "server asked but none configured", env: []string{"PREFECT__CLOUD__USE_LOCAL_SECRETS=false", "PREFECT__CLOUD__API="},
			secret: "REMOTE", wantErr: `secret "REMOTE": connecting to the secret server: no server configured: set PREFECT__CLOUD__API`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, tt.env, tt.file)
			r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithRunSecrets(tt.run))
			v, err := r.Get(context.Background(), tt.secret)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want it to contain %q", err, tt.wantErr)
				}
				if got := errors.Is(err, secrets.ErrNotFound); got != tt.notFound {
					t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.notFound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Reveal() != tt.want {
				t.Errorf("Reveal() = %q, want %q", v.Reveal(), tt.want)
			}
		})
	}
}

func TestNotFoundNamesSources(t *testing.T) {
	cfg := load(t, nil, "")
	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithRunSecrets(map[string]any{"OTHER": leak}))
	_, err := r.Get(context.Background(), "MISSING")
	for _, want := range []string{`Local Secret "MISSING" was not found.`, "the secrets given to the run",
		"environment variable PREFECT__CONTEXT__SECRETS__MISSING", cfg.UserConfigPath()} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want it to name %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), leak) {
		t.Errorf("the error shows a secret value")
	}
}

// countingSource counts lookups and holds one secret.
type countingSource struct {
	calls atomic.Int32
	m     map[string]any
}

func (s *countingSource) Lookup(ctx context.Context, name string) (any, error) {
	s.calls.Add(1)
	return secrets.MapSource("test server", s.m).Lookup(ctx, name)
}
func (s *countingSource) String() string { return "test server" }

func TestServerFallback(t *testing.T) {
	env := []string{"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}
	src := &countingSource{m: map[string]any{"REMOTE": "from-server"}}
	r := secrets.NewResolver(secrets.WithConfig(load(t, env, "")), secrets.WithBackend(src))
	v, err := r.Get(context.Background(), "REMOTE")
	if err != nil || v.Reveal() != "from-server" {
		t.Fatalf("Get = %v, %v", v.Reveal(), err)
	}
	_, err = r.Get(context.Background(), "ABSENT")
	if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "The secret ABSENT was not found.  Please ensure that it was set correctly in your tenant") ||
		!strings.Contains(err.Error(), "test server") {
		t.Errorf("err = %v; want Prefect's server message naming the server", err)
	}
	// With local secrets allowed (the default), the server is never asked.
	src2 := &countingSource{m: map[string]any{"REMOTE": "x"}}
	r2 := secrets.NewResolver(secrets.WithConfig(load(t, nil, "")), secrets.WithBackend(src2))
	if _, err := r2.Get(context.Background(), "REMOTE"); !errors.Is(err, secrets.ErrNotFound) || src2.calls.Load() != 0 {
		t.Errorf("err = %v, server calls = %d; want a local not-found and no server call", err, src2.calls.Load())
	}
	if ok, err := r.Exists(context.Background(), "REMOTE"); !ok || err != nil {
		t.Errorf("Exists(REMOTE) = %v, %v; want true", ok, err)
	}
	if ok, err := r.Exists(context.Background(), "ABSENT"); ok || err != nil {
		t.Errorf("Exists(ABSENT) = %v, %v; want false", ok, err)
	}
}

// gatedSource answers once open is closed, from a map that may change.
type gatedSource struct {
	open  chan struct{}
	calls atomic.Int32
	mu    sync.Mutex
	m     map[string]any
}

func (s *gatedSource) Lookup(ctx context.Context, name string) (any, error) {
	s.calls.Add(1)
	<-s.open
	s.mu.Lock()
	defer s.mu.Unlock()
	return secrets.MapSource("test server", s.m).Lookup(ctx, name)
}
func (s *gatedSource) String() string { return "test server" }

// TestMissAskedAgain: a miss is not remembered, as in Prefect, where a
// retry of the secret task asks again and finds a secret set in between;
// askers at the same time still share one lookup, and a found value is
// resolved once.
func TestMissAskedAgain(t *testing.T) {
	cfg := load(t, []string{"PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}, "")
	synctest.Test(t, func(t *testing.T) {
		src := &gatedSource{open: make(chan struct{}), m: map[string]any{}}
		r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithBackend(src))
		const askers = 20
		errs := make(chan error, askers)
		for range askers {
			go func() {
				_, err := r.Get(context.Background(), "LATE")
				errs <- err
			}()
		}
		synctest.Wait() // every asker waits: on the lookup, or for it
		close(src.open)
		for range askers {
			if err := <-errs; !errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("Get(LATE) before it was set: %v; want ErrNotFound", err)
			}
		}
		if n := src.calls.Load(); n != 1 {
			t.Errorf("%d lookups for %d askers at once; want 1", n, askers)
		}
		src.mu.Lock()
		src.m["LATE"] = "set-between-attempts"
		src.mu.Unlock()
		for range 3 {
			if v, err := r.Get(context.Background(), "LATE"); err != nil || v.Reveal() != "set-between-attempts" {
				t.Errorf("Get(LATE) after it was set = %v; want it found", err)
			}
		}
		if n := src.calls.Load(); n != 2 {
			t.Errorf("%d lookups; want 2 (the miss, then one for the value found)", n)
		}
	})
}

func TestOneResolutionPerResolver(t *testing.T) {
	env := []string{"PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}
	src := &countingSource{m: map[string]any{"REMOTE": "v"}}
	var registered atomic.Int32
	r := secrets.NewResolver(secrets.WithConfig(load(t, env, "")), secrets.WithBackend(src),
		secrets.OnResolve(func(secrets.Value) { registered.Add(1) }))
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Get(context.Background(), "REMOTE"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if src.calls.Load() != 1 || registered.Load() != 1 {
		t.Errorf("server lookups %d, registrations %d; want 1 each", src.calls.Load(), registered.Load())
	}
}

func TestSecretOutsideRunReadsConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PREFECT__USER_CONFIG_PATH", filepath.Join(home, "none.toml"))
	t.Setenv("PREFECT__CONTEXT__SECRETS__OUTSIDE", `{"a": [1, 2]}`)
	v, err := secrets.Secret("OUTSIDE").Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Reveal() != `{"a":[1,2]}` {
		t.Errorf("Reveal() = %s", v.Reveal())
	}
	got, err := secrets.Get[map[string][]int](context.Background(), "OUTSIDE")
	if err != nil || len(got["a"]) != 2 {
		t.Errorf("Get[map] = %v, %v", got, err)
	}
	// Configuration is read when asked, not frozen at start.
	t.Setenv("PREFECT__CONTEXT__SECRETS__OUTSIDE", "changed")
	if v, _ := secrets.Secret("OUTSIDE").Get(context.Background()); v.Reveal() != "changed" {
		t.Errorf("a changed variable was not seen")
	}
}

func TestMapSourceConformance(t *testing.T) {
	secretstest.Run(t, func(t *testing.T, m map[string]any) secrets.Source {
		return secrets.MapSource("a test map", m)
	})
}

// listingSource counts value lookups and name listings.
type listingSource struct {
	countingSource
	listed atomic.Int32
}

func (s *listingSource) Names(context.Context) ([]string, error) {
	s.listed.Add(1)
	names := make([]string, 0, len(s.m))
	for n := range s.m {
		names = append(names, n)
	}
	return names, nil
}

// Exists asks a server that can list names for the names only, as Prefect
// asks for secret_names, never for a value.
func TestExistsListsNames(t *testing.T) {
	env := []string{"PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}
	src := &listingSource{countingSource: countingSource{m: map[string]any{"REMOTE": leak}}}
	r := secrets.NewResolver(secrets.WithConfig(load(t, env, "")), secrets.WithBackend(src))
	for name, want := range map[string]bool{"REMOTE": true, "ABSENT": false} {
		if got, err := r.Exists(context.Background(), name); got != want || err != nil {
			t.Errorf("Exists(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if src.calls.Load() != 0 || src.listed.Load() != 2 {
		t.Errorf("value lookups %d, listings %d; want 0 and 2", src.calls.Load(), src.listed.Load())
	}
}

// TestOnUse checks that every value handed out under a context made by
// OnUse is counted, cached or not, through every way of getting one, and
// that failures are not.
func TestOnUse(t *testing.T) {
	cfg := load(t, []string{"PREFECT__CONTEXT__SECRETS__A=abcd"}, "")
	r := secrets.NewResolver(secrets.WithConfig(cfg))
	var uses atomic.Int32
	ctx := secrets.NewContext(context.Background(), r)
	plain := ctx
	ctx = secrets.OnUse(ctx, func() { uses.Add(1) })

	steps := []struct {
		name string
		do   func() error
		want int32 // uses counted after the step
	}{
		{"first Get resolves", func() error { _, err := secrets.Secret("A").Get(ctx); return err }, 1},
		{"second Get is cached", func() error { _, err := secrets.Secret("A").Get(ctx); return err }, 2},
		{"Get[T]", func() error { _, err := secrets.Get[string](ctx, "A"); return err }, 3},
		{"Mask", func() error { secrets.Mask(ctx, secrets.NewValue("other")); return nil }, 4},
		{"a missing secret is no use", func() error { _, err := secrets.Secret("NOPE").Get(ctx); return ignoreNotFound(err) }, 4},
		{"Exists hands out nothing", func() error { _, err := secrets.Secret("A").Exists(ctx); return err }, 4},
		{"a context without OnUse", func() error { _, err := secrets.Secret("A").Get(plain); return err }, 4},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := uses.Load(); got != s.want {
			t.Fatalf("after %s: %d uses, want %d", s.name, got, s.want)
		}
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, secrets.ErrNotFound) {
		return nil
	}
	return err
}

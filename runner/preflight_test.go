package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// barrierServer is a secret server whose lookups return only once n of
// them are in flight together: resolved one after another, they would
// never get there, and each gives up after a while with an error saying
// so. It counts the lookups of each name.
type barrierServer struct {
	n      int
	values map[string]any
	mu     sync.Mutex
	calls  map[string]int
	all    chan struct{}
}

func newBarrierServer(n int, values map[string]any) *barrierServer {
	return &barrierServer{n: n, values: values, calls: map[string]int{}, all: make(chan struct{})}
}

func (b *barrierServer) Lookup(ctx context.Context, name string) (any, error) {
	b.mu.Lock()
	b.calls[name]++
	total := 0
	for _, c := range b.calls {
		total += c
	}
	if total == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(20 * time.Second): // a guard against a hang, not a wait
		return nil, fmt.Errorf("lookup of %q: the %d lookups never ran together", name, b.n)
	}
	return secrets.MapSource(b.String(), b.values).Lookup(ctx, name)
}

func (b *barrierServer) String() string { return "the barrier server" }

func serverConfig(t *testing.T) runner.Option {
	t.Helper()
	cfg, err := config.Load(config.WithHome(t.TempDir()),
		config.WithEnv([]string{"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}))
	if err != nil {
		t.Fatal(err)
	}
	return runner.WithConfig(cfg)
}

// WithResolveSecretsFirst resolves the run's secrets at once, one lookup
// per secret however many tasks ask, and reports every one that is
// missing in one error, under a count, with errors.Is and errors.As
// reaching each and no value in it.
func TestResolveSecretsFirstReportsEveryMissingSecret(t *testing.T) {
	const value = "v4lue-of-A"
	f := flow.New("preflight")
	type in struct{ A, A2, B, C, D string }
	var bindings []flow.Binding
	for _, name := range []string{"A", "A2", "B", "C", "D"} {
		secret := name
		if name == "A2" {
			secret = "A" // a second task of the same secret
		}
		bindings = append(bindings, flow.Bind(name, flow.Add(f, tasks.PrefectSecret(secret))))
	}
	ran := false
	flow.Add(f, task.New("use", func(context.Context, in) (int, error) { ran = true; return 0, nil }), bindings...)

	// A, B, C and D: four lookups, which must all be in flight together.
	server := newBarrierServer(4, map[string]any{"A": value, "B": "v4lue-of-B"})
	_, err := runner.Run(t.Context(), f, serverConfig(t), runner.WithSecretBackend(server), runner.WithResolveSecretsFirst())
	if err == nil {
		t.Fatal("Run with two secrets missing returned no error")
	}
	if ran {
		t.Error("a task ran although secrets were missing")
	}
	for name, n := range server.calls {
		if n != 1 {
			t.Errorf("secret %q was looked up %d times; want once per run", name, n)
		}
	}
	if !errors.Is(err, runner.ErrInvalidRun) || !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("err = %v; want it to match ErrInvalidRun and secrets.ErrNotFound", err)
	}
	var list *multierror.Error
	if !errors.As(err, &list) {
		t.Fatalf("err = %T; want a *multierror.Error inside", err)
	}
	var missing []string
	for _, e := range list.WrappedErrors() {
		var nf *secrets.NotFoundError
		if !errors.As(e, &nf) {
			t.Errorf("problem %q is not a *secrets.NotFoundError", e)
			continue
		}
		missing = append(missing, nf.Name)
	}
	if got := strings.Join(missing, " "); got != "C D" {
		t.Errorf("the missing secrets reported are %q; want \"C D\", in that order", got)
	}
	msg := err.Error()
	header := "the flow run cannot start: 2 of the 5 secret tasks resolved before the run failed:\n\t- task "
	if !strings.HasPrefix(msg, header) || strings.Count(msg, "\n\t- ") != 2 {
		t.Errorf("err =\n%s\nwant it to begin %q, then one line per missing secret", msg, header)
	}
	if strings.Contains(msg, value) {
		t.Errorf("the error shows a secret's value: %s", msg)
	}
}

// The problems of Run's options and of its parameters are each reported
// at once, under a count, in the same order every time.
func TestRunReportsEveryProblem(t *testing.T) {
	f := flow.New("f")
	n := flow.Parameter[int](f, "n")
	s := flow.Parameter[string](f, "s")
	type in struct {
		N int
		S string
	}
	flow.Add(f, task.New("use", func(context.Context, in) (int, error) { return 0, nil }),
		flow.Bind("N", n), flow.Bind("S", s))
	cases := []struct {
		name string
		opts []runner.Option
		want string
	}{
		{"options", []runner.Option{runner.WithClock(nil), runner.WithConcurrency(0), runner.WithTagLimit("db", -1)},
			"the flow run cannot start: 3 problems with the run's options:\n" +
				"\t- WithClock was given a nil clock\n" +
				"\t- concurrency limit 0 is not valid: it must be 1 or more\n" +
				"\t- limit -1 for tag \"db\" is not valid: it must be 1 or more"},
		{"one option reads alone", []runner.Option{runner.WithConcurrency(0)},
			"the flow run cannot start: concurrency limit 0 is not valid: it must be 1 or more"},
		{"parameters", []runner.Option{runner.WithParameters(map[string]any{"s": 1, "n": "one", "x": 0})},
			"the flow run cannot start: 3 problems with the parameters of flow \"f\":\n" +
				"\t- Flow.run received the following unexpected parameters: x (flow \"f\" has no parameter \"x\"; its parameters are \"n\", \"s\")\n" +
				"\t- parameter \"n\" wants int, but was given string\n" +
				"\t- parameter \"s\" wants string, but was given int"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 3 { // the parameters are a map: the order must not follow it
				_, err := runner.Run(t.Context(), f, c.opts...)
				if !errors.Is(err, runner.ErrInvalidRun) {
					t.Fatalf("err = %v; want ErrInvalidRun", err)
				}
				if err.Error() != c.want {
					t.Fatalf("err =\n%s\nwant\n%s", err, c.want)
				}
			}
		})
	}
}

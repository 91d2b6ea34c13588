// Package executortest is the conformance suite for executors that call
// tasks elsewhere (with runner.TaskRun's Start and Complete): a run on the
// executor must end as the same run on runner.Local does, task by task.
//
//	func TestMyExecutor(t *testing.T) {
//		for _, c := range executortest.Cases() {
//			t.Run(c.Name, func(t *testing.T) {
//				startWorkers(t, c.Build()) // whatever the executor needs
//				executortest.MatchesLocal(t, c, func(f *flow.Flow) runner.Executor {
//					return myexec.Executor(f)
//				}, nil, nil)
//			})
//		}
//	}
//
// The flows' inputs and results all cross a JSON wire unchanged.
package executortest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// Case is one flow of the suite. Build makes it anew, its counters at
// zero, for each run; Opts are the options its runs need.
type Case struct {
	Name  string
	Build func() *flow.Flow
	Opts  []runner.Option
}

// SecretName is the secret the "secret" case resolves; its Opts give it
// the value SecretValue.
const (
	SecretName  = "EXECUTORTEST_TOKEN"
	SecretValue = "executortest-s3cr3t"
)

// Input structs of the suite's tasks.
type (
	argX struct {
		X int `prefect:"x"`
	}
	argXY struct {
		X int `prefect:"x"`
		Y int `prefect:"y"`
	}
	argValues struct {
		Values []int `prefect:"values"`
	}
	argS struct {
		S string `prefect:"s"`
	}
	argSecret struct {
		Secret string `prefect:"secret"`
	}
)

func value[T any](name string, v T) *task.Task[task.None, T] {
	return task.New(name, func(context.Context, task.None) (T, error) { return v, nil })
}

func double(name string, opts ...task.Option) *task.Task[argX, int] {
	return task.New(name, func(_ context.Context, in argX) (int, error) { return 2 * in.X, nil }, opts...)
}

func sum(name string) *task.Task[argValues, int] {
	return task.New(name, func(_ context.Context, in argValues) (int, error) {
		s := 0
		for _, v := range in.Values {
			s += v
		}
		return s, nil
	})
}

func failing(name string, opts ...task.Option) *task.Task[task.None, int] {
	return task.New(name, func(context.Context, task.None) (int, error) { return 0, errors.New("boom") }, opts...)
}

// Cases returns the suite: a chain, a fan-out, a map, a grid, parameters
// (in a flow whose name holds a space and a dot), retries, every signal, a
// panic, a timeout, state handlers, a secret task and what follows from it,
// tasks downstream of a secret that panic with it, and a mapped flow with
// checkpoints.
func Cases() []Case {
	chain := func() *flow.Flow {
		f := flow.New("chain")
		prev := flow.Add(f, value("root", 1))
		for i := range 5 {
			prev = flow.Add(f, double(fmt.Sprintf("d%d", i)), flow.Bind("x", prev))
		}
		return f
	}
	fanout := func() *flow.Flow {
		f := flow.New("fanout")
		root := flow.Add(f, value("root", 3))
		for i := range 6 {
			flow.Add(f, double(fmt.Sprintf("d%d", i)), flow.Bind("x", root))
		}
		return f
	}
	mapped := func() *flow.Flow {
		f := flow.New("map")
		xs := make([]int, 20)
		for i := range xs {
			xs[i] = i
		}
		list := flow.Add(f, value("list", xs))
		doubled := flow.Map(f, double("double"), flow.Bind("x", list))
		flow.Add(f, sum("sum"), flow.Bind("values", doubled))
		return f
	}
	grid := func() *flow.Flow {
		f := flow.New("grid")
		const width = 3
		add := task.New("add", func(_ context.Context, in argXY) (int, error) { return in.X + in.Y, nil })
		prev := make([]flow.Node[int], width)
		for i := range prev {
			prev[i] = flow.Add(f, value("root", i+1))
		}
		for range 3 {
			next := make([]flow.Node[int], width)
			for i := range next {
				next[i] = flow.Add(f, add, flow.Bind("x", prev[i]), flow.Bind("y", prev[(i+1)%width]))
			}
			prev = next
		}
		return f
	}
	parameters := func() *flow.Flow {
		f := flow.New("with parameters.v1")
		n := flow.Parameter[int](f, "n")
		greet := task.New("greet", func(_ context.Context, in argS) (string, error) { return "hello " + in.S, nil })
		flow.Add(f, double("d"), flow.Bind("x", n))
		flow.Add(f, greet, flow.Const("s", "world"))
		return f
	}
	retries := func() *flow.Flow {
		f := flow.New("retries")
		var calls atomic.Int32
		flaky := task.New("flaky", func(context.Context, task.None) (int, error) {
			if calls.Add(1) < 3 {
				return 0, errors.New("not yet")
			}
			return 7, nil
		}, task.WithRetries(3, 0))
		up := flow.Add(f, flaky)
		flow.Add(f, double("d"), flow.Bind("x", up))
		flow.Add(f, failing("always", task.WithRetries(1, 0)))
		return f
	}
	signals := func() *flow.Flow {
		f := flow.New("signals")
		var retried atomic.Int32
		flow.Add(f, task.New("fail", func(context.Context, task.None) (int, error) { return 0, task.Fail("no good") }))
		skip := flow.Add(f, task.New("skip", func(context.Context, task.None) (int, error) { return 0, task.Skip("skipped on purpose") }))
		flow.Add(f, double("after-skip"), flow.Bind("x", skip))
		flow.Add(f, task.New("retry", func(context.Context, task.None) (int, error) {
			if retried.Add(1) == 1 {
				return 0, task.Retry("once more")
			}
			return 2, nil
		}))
		succeed := flow.Add(f, task.New("succeed", func(context.Context, task.None) (int, error) { return 5, task.Succeed("early") }))
		flow.Add(f, double("after-succeed"), flow.Bind("x", succeed))
		flow.Add(f, task.New("pause", func(context.Context, task.None) (int, error) { return 0, task.Pause("approve me") }))
		return f
	}
	panics := func() *flow.Flow {
		f := flow.New("panics")
		boom := flow.Add(f, task.New("boom", func(context.Context, task.None) (int, error) { panic("boom") }))
		flow.Add(f, double("after"), flow.Bind("x", boom))
		return f
	}
	timeouts := func() *flow.Flow {
		f := flow.New("timeouts")
		flow.Add(f, task.New("slow", func(ctx context.Context, _ task.None) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, task.WithTimeout(time.Millisecond), task.WithRetries(1, 0)))
		return f
	}
	// A task with no timeout or retries of its own, which the run's task
	// defaults (tasks.defaults) bound and retry, wherever it runs.
	defaulted := func() *flow.Flow {
		f := flow.New("task defaults")
		flow.Add(f, task.New("slow", func(ctx context.Context, _ task.None) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}))
		return f
	}
	handlers := func() *flow.Flow {
		f := flow.New("handlers")
		// A handler that turns a failure into a success with a result.
		rescue := func(_ context.Context, _, new state.State) state.State {
			if new.Kind == state.Failed {
				return state.State{Kind: state.Success, Message: "rescued", Result: 9, RunCount: new.RunCount}
			}
			return new
		}
		up := flow.Add(f, failing("rescued", task.WithStateHandlers(rescue)))
		flow.Add(f, double("d", task.WithStateHandlers(rescue)), flow.Bind("x", up))
		return f
	}
	secret := func() *flow.Flow {
		f := flow.New("secret")
		sec := flow.Add(f, tasks.PrefectSecret(SecretName))
		length := task.New("length", func(_ context.Context, in argSecret) (int, error) { return len(in.Secret), nil })
		n := flow.Add(f, length, flow.Bind("secret", sec))
		flow.Add(f, double("d"), flow.Bind("x", n))
		flow.Add(f, value("plain", 4))
		return f
	}
	// Tasks downstream of a secret that panic with it, as bytes, or whose
	// state handler panics with the result holding it: they run here on
	// any executor, and their states are masked alike.
	secretPanics := func() *flow.Flow {
		f := flow.New("secret panics")
		sec := flow.Add(f, tasks.PrefectSecret(SecretName))
		flow.Add(f, task.New("panics", func(_ context.Context, in argSecret) (int, error) {
			panic([]byte(in.Secret))
		}), flow.Bind("secret", sec))
		flow.Add(f, task.New("handler_panics", func(_ context.Context, in argSecret) (string, error) {
			return "Bearer " + in.Secret, nil
		}, task.WithStateHandlers(func(_ context.Context, _, new state.State) state.State {
			if new.Kind == state.Success {
				panic(new.Result)
			}
			return new
		})), flow.Bind("secret", sec))
		flow.Add(f, value("plain", 4))
		return f
	}
	return []Case{
		{"chain", chain, nil},
		{"fanout", fanout, nil},
		{"map", mapped, nil},
		{"grid", grid, nil},
		{"parameters", parameters, []runner.Option{runner.WithParameters(map[string]any{"n": 21})}},
		{"retries", retries, nil},
		{"signals", signals, nil},
		{"panic", panics, nil},
		{"timeout", timeouts, nil},
		{"task defaults", defaulted, []runner.Option{runner.WithTaskDefaults(task.Defaults{MaxRetries: 1, Timeout: time.Millisecond})}},
		{"handlers", handlers, nil},
		{"secret", secret, []runner.Option{runner.WithSecrets(map[string]any{SecretName: SecretValue})}},
		{"secret panics", secretPanics, []runner.Option{runner.WithSecrets(map[string]any{SecretName: SecretValue})}},
		{"checkpoint", mapped, []runner.Option{runner.WithCheckpointing(true)}},
	}
}

// MatchesLocal runs c on runner.Local and on the executor that newExecutor
// makes for a fresh build of c, with one flow run id for both (so that
// checkpoints agree), and fails t unless the flow states agree and every
// task's does ([SameState]). localOpts and executorOpts come after c's, for
// the one run each (a reporter, say). It returns the two final states, for
// more checks.
func MatchesLocal(t *testing.T, c Case, newExecutor func(f *flow.Flow) runner.Executor, localOpts, executorOpts []runner.Option) (local, remote *runner.FlowState) {
	t.Helper()
	opts := append(slices.Clone(c.Opts), runner.WithFlowRunID(uuid.New()))
	local = run(t, runner.Local(), c.Build(), append(slices.Clone(opts), localOpts...))
	f := c.Build()
	remote = run(t, newExecutor(f), f, append(opts, executorOpts...))
	if local.Kind != remote.Kind || local.Message != remote.Message {
		t.Errorf("flow state: executor %v, local %v", remote.State, local.State)
	}
	for i := range local.Tasks {
		SameState(t, local.Graph.Tasks[i].Slug, remote.Tasks[i], local.Tasks[i])
	}
	return local, remote
}

func run(t *testing.T, ex runner.Executor, f *flow.Flow, opts []runner.Option) *runner.FlowState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fs, err := runner.Run(ctx, f, append([]runner.Option{runner.WithExecutor(ex)}, opts...)...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return fs
}

// SameState fails t unless two states agree on all a user sees: kind,
// message, result, run count, whether there is an error, location and
// children, recursively.
func SameState(t testing.TB, what string, got, want state.State) {
	t.Helper()
	if got.Kind != want.Kind || got.Message != want.Message || got.RunCount != want.RunCount ||
		!reflect.DeepEqual(got.Result, want.Result) || (got.Err == nil) != (want.Err == nil) ||
		got.Location != want.Location {
		t.Errorf("%s: executor %v (result %#v, runs %d, err %v, at %q), local %v (result %#v, runs %d, err %v, at %q)",
			what, got, got.Result, got.RunCount, got.Err, got.Location, want, want.Result, want.RunCount, want.Err, want.Location)
	}
	if len(got.Children) != len(want.Children) {
		t.Errorf("%s: %d children, want %d", what, len(got.Children), len(want.Children))
		return
	}
	for j := range want.Children {
		SameState(t, fmt.Sprintf("%s[%d]", what, j), got.Children[j], want.Children[j])
	}
}

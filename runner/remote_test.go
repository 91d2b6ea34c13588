package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/runner/executortest"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// remoteExecutor runs task functions "elsewhere": for each submitted run it
// takes the run's Inputs, puts them through JSON as a wire would, and has a
// "worker" holding the same flow look the task up by slug, call it, and
// answer with its result (through JSON too) and error, which the session
// passes to Complete. Secret runs, and runs downstream of one, are executed
// here, as the rule on TaskRun says.
type remoteExecutor struct {
	g     *flow.Graph
	slots int
	// remote counts the calls the worker made, by slug.
	mu     sync.Mutex
	remote map[string]int
}

func newRemote(t *testing.T, f *flow.Flow) *remoteExecutor {
	t.Helper()
	g, err := f.Graph()
	if err != nil {
		t.Fatalf("Graph: %v", err)
	}
	return &remoteExecutor{g: g, slots: 4, remote: map[string]int{}}
}

func (e *remoteExecutor) Start(context.Context) (runner.Session, error) {
	return &remoteSession{e: e}, nil
}

func (e *remoteExecutor) calls() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.remote)
}

type remoteSession struct {
	e  *remoteExecutor
	wg sync.WaitGroup
}

func (s *remoteSession) Slots() int { return s.e.slots }

func (s *remoteSession) Close() error {
	s.wg.Wait()
	return nil
}

func (s *remoteSession) Submit(run *runner.TaskRun) {
	if run.Secret() || run.FromSecret() {
		run.Execute() // never on the wire
		return
	}
	if !run.Start() {
		return
	}
	wire, err := json.Marshal(encodeArgs(run.Inputs()))
	slug, timeout := run.Slug(), run.Timeout()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err != nil {
			run.Complete(nil, fmt.Errorf("encoding the inputs of %q: %w", slug, err))
			return
		}
		out, err := s.e.work(slug, wire, timeout)
		run.Complete(out, err)
	}()
}

// encodeArgs encodes each input on its own, keeping unbound ones nil.
func encodeArgs(args []any) []json.RawMessage {
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		if a == nil {
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			panic(err) // the test flows' inputs all encode
		}
		raw[i] = b
	}
	return raw
}

// work is the worker: it decodes the inputs into the task's input types,
// calls the task under the run's timeout for it, and sends back its result decoded into
// the task's result type and its error as a wire would carry it.
func (e *remoteExecutor) work(slug string, wire []byte, timeout time.Duration) (any, error) {
	i, ok := e.g.Index(slug)
	if !ok {
		return nil, fmt.Errorf("the worker's flow has no task %q", slug)
	}
	gt := &e.g.Tasks[i]
	e.mu.Lock()
	e.remote[slug]++
	e.mu.Unlock()
	var raw []json.RawMessage
	if err := json.Unmarshal(wire, &raw); err != nil {
		return nil, err
	}
	args := make([]any, len(raw))
	for k, r := range raw {
		if r == nil {
			continue
		}
		v, err := decodeAs(r, gt.Spec.Inputs[k].Type)
		if err != nil {
			return nil, fmt.Errorf("decoding input %q: %w", gt.Spec.Inputs[k].Name, err)
		}
		args[k] = v
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out, err := callTask(ctx, gt.Task, args)
	if timeout > 0 && ctx.Err() != nil {
		err = fmt.Errorf("%w after %v", runner.ErrTimedOut, timeout)
	}
	if out != nil {
		b, jerr := json.Marshal(out)
		if jerr != nil {
			return nil, fmt.Errorf("encoding the result: %w", jerr)
		}
		if out, jerr = decodeAs(b, gt.Spec.Output); jerr != nil {
			return nil, fmt.Errorf("decoding the result: %w", jerr)
		}
	}
	return out, wireError(err)
}

func decodeAs(data []byte, t reflect.Type) (any, error) {
	p := reflect.New(t)
	if err := json.Unmarshal(data, p.Interface()); err != nil {
		return nil, err
	}
	return p.Elem().Interface(), nil
}

// callTask calls the task as the runner does, a panic becoming a
// *runner.PanicError.
func callTask(ctx context.Context, r task.Runnable, args []any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &runner.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return r.Call(ctx, args)
}

// wireError is err as it arrives on the runner's side: a signal keeps its
// kind and message, a timeout stays one, a panic keeps its value's text,
// anything else keeps its text only.
func wireError(err error) error {
	var pe *runner.PanicError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, runner.ErrTimedOut):
		return fmt.Errorf("%w: %s", runner.ErrTimedOut, strings.TrimPrefix(err.Error(), runner.ErrTimedOut.Error()+" "))
	case errors.As(err, &pe):
		return &runner.PanicError{Value: fmt.Sprint(pe.Value)}
	}
	if sig, ok := task.AsSignal(err); ok {
		return &task.Signal{Kind: sig.Kind, Message: sig.Message}
	}
	return errors.New(err.Error())
}

// TestRemoteMatchesLocal runs each flow of the executor suite on Local and
// on an executor that calls every task elsewhere through Start, Inputs and
// Complete: the states, results and reported sequences must be the same.
func TestRemoteMatchesLocal(t *testing.T) {
	for _, c := range executortest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			var ex *remoteExecutor
			localRep, remoteRep := &recReporter{}, &recReporter{}
			_, remote := executortest.MatchesLocal(t, c, func(f *flow.Flow) runner.Executor {
				ex = newRemote(t, f)
				return ex
			}, []runner.Option{runner.WithReporter(localRep)}, []runner.Option{runner.WithReporter(remoteRep)})
			remoteRep.checkContract(t, remote)
			if got, want := remoteRep.sequences(), localRep.sequences(); !maps.Equal(got, want) {
				t.Errorf("reported sequences:\nremote %v\nlocal  %v", got, want)
			}
			calls := ex.calls()
			if len(calls) == 0 {
				t.Error("the worker ran no task")
			}
			for i := range remote.Graph.Tasks {
				gt := &remote.Graph.Tasks[i]
				if (gt.Spec.Secret || gt.FromSecret) && calls[gt.Slug] > 0 {
					t.Errorf("task %q, a secret or downstream of one, ran on the worker", gt.Slug)
				}
			}
		})
	}
}

// TestRemoteCacheHitStaysHere: a cache hit ends the run in Start, which
// returns false; the worker never hears of it.
func TestRemoteCacheHitStaysHere(t *testing.T) {
	store := result.NewMemory()
	var calls atomic.Int32
	build := func() *flow.Flow {
		f := flow.New("cached")
		flow.Add(f, valueTask("v", 6, &calls, task.WithCacheFor(time.Hour)))
		return f
	}
	first := build()
	ex := newRemote(t, first)
	fs := runFlow(t, ex, first, runner.WithResultStore(store))
	wantKind(t, "first run", fs.Tasks[0], state.Success)
	second := build()
	ex2 := newRemote(t, second)
	fs = runFlow(t, ex2, second, runner.WithResultStore(store))
	wantKind(t, "second run", fs.Tasks[0], state.Cached)
	if got := fs.Tasks[0].Result; got != 6 {
		t.Errorf("cached result = %#v, want 6", got)
	}
	if n := ex2.calls()["v-1"]; n != 0 {
		t.Errorf("the worker ran a cache hit %d times", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the task ran %d times, want 1", n)
	}
}

// accessorExecutor records what a remote executor would read of each run
// before executing it here.
type accessorExecutor struct {
	mu   sync.Mutex
	seen []string
}

func (e *accessorExecutor) Start(context.Context) (runner.Session, error) { return e, nil }
func (e *accessorExecutor) Slots() int                                    { return 1 }
func (e *accessorExecutor) Close() error                                  { return nil }
func (e *accessorExecutor) Submit(run *runner.TaskRun) {
	e.mu.Lock()
	e.seen = append(e.seen, fmt.Sprintf("%s %d %s %s run %d inputs %v secret %v/%v",
		run.Slug(), run.MapIndex(), run.FlowRunID(), run.ID(), run.RunCount(), run.Inputs(), run.Secret(), run.FromSecret()))
	e.mu.Unlock()
	run.Execute()
}

// TestTaskRunAccessors: what an executor reads of a run is what the task
// sees in its run context, and its inputs are the arguments of its call.
func TestTaskRunAccessors(t *testing.T) {
	var mu sync.Mutex
	var inside []string
	var attempts atomic.Int32
	probe := task.New("probe", func(ctx context.Context, in argX) (int, error) {
		rc, _ := runner.FromContext(ctx)
		mu.Lock()
		inside = append(inside, fmt.Sprintf("%s %d %s %s run %d inputs [%d] secret false/false",
			rc.TaskSlug, rc.MapIndex, rc.FlowRunID, rc.TaskRunID(), rc.TaskRunCount, in.X))
		mu.Unlock()
		if in.X == 2 && attempts.Add(1) == 1 {
			return 0, errors.New("again")
		}
		return in.X, nil
	}, task.WithRetries(1, 0))
	f := flow.New("accessors")
	list := flow.Add(f, valueTask("list", []int{1, 2}, nil))
	flow.Map(f, probe, flow.Bind("x", list))
	ex := &accessorExecutor{}
	fs := runFlow(t, ex, f)
	wantKind(t, "flow", fs.State, state.Success)
	var seen []string
	for _, r := range ex.seen {
		if strings.HasPrefix(r, "probe-1 ") {
			seen = append(seen, r)
		}
	}
	if !slices.Equal(seen, inside) {
		t.Errorf("executor saw\n%s\ntasks saw\n%s", strings.Join(seen, "\n"), strings.Join(inside, "\n"))
	}
	if len(inside) != 3 {
		t.Errorf("the probe ran %d times, want 3 (one retry)", len(inside))
	}
}

// misuseExecutor calls TaskRun methods out of turn, once per kind of
// misuse, and records the panics; every run still ends properly.
type misuseExecutor struct {
	mu     sync.Mutex
	panics []string
}

func (e *misuseExecutor) Start(context.Context) (runner.Session, error) { return e, nil }
func (e *misuseExecutor) Slots() int                                    { return 1 }
func (e *misuseExecutor) Close() error                                  { return nil }

func (e *misuseExecutor) try(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			e.mu.Lock()
			e.panics = append(e.panics, fmt.Sprint(p))
			e.mu.Unlock()
		}
	}()
	fn()
}

func (e *misuseExecutor) Submit(run *runner.TaskRun) {
	switch run.Slug() {
	case "complete-first-1": // Complete without Start
		e.try(func() { run.Complete(1, nil) })
		run.Execute()
	case "execute-after-start-1":
		run.Start()
		e.try(run.Execute)
		run.Complete(2, nil)
	case "complete-twice-1":
		run.Start()
		run.Complete(3, nil)
		e.try(func() { run.Complete(4, nil) })
		e.try(run.Execute)
	}
}

// TestTaskRunMisusePanics: Execute, Start and Complete out of turn panic
// with a message saying what to call instead, and the run is unharmed.
func TestTaskRunMisusePanics(t *testing.T) {
	f := flow.New("misuse")
	a := flow.Add(f, valueTask("complete-first", 1, nil))
	b := flow.Add(f, valueTask("execute-after-start", 0, nil))
	c := flow.Add(f, valueTask("complete-twice", 0, nil))
	ex := &misuseExecutor{}
	fs := runFlow(t, ex, f)
	wantKind(t, "flow", fs.State, state.Success)
	wantResult(t, fs, a, 1)
	wantResult(t, fs, b, 2)
	wantResult(t, fs, c, 3)
	want := []string{
		"runner: TaskRun.Complete called on a task run that was not started: call Execute, or Start then Complete",
		"runner: TaskRun.Execute called on a task run already started: call Complete, once",
		"runner: TaskRun.Complete called on a task run already handed back: an executor calls Execute, or Start then Complete, exactly once per Submit",
		"runner: TaskRun.Execute called on a task run already handed back: an executor calls Execute, or Start then Complete, exactly once per Submit",
	}
	if !slices.Equal(ex.panics, want) {
		t.Errorf("panics:\n%s\nwant\n%s", strings.Join(ex.panics, "\n"), strings.Join(want, "\n"))
	}
}

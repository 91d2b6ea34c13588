package runner_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

func TestRunSuccessPassesResults(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("arith")
		add := task.New("add", func(_ context.Context, in argXY) (int, error) { return in.X + in.Y, nil })
		three := flow.Add(f, add, flow.Const("x", 1), flow.Const("y", 2))
		six := flow.Add(f, double("double"), flow.Bind("x", three))
		sixteen := flow.Add(f, add, flow.Bind("x", six), flow.Const("y", 10))

		fs := runFlow(t, ex, f)
		wantState(t, "flow", fs.State, state.Success, "All reference tasks succeeded.")
		wantResult(t, fs, three, 3)
		wantResult(t, fs, six, 6)
		wantResult(t, fs, sixteen, 16)
		for i, st := range fs.Tasks {
			wantState(t, fs.Graph.Tasks[i].Slug, st, state.Success, "Task run succeeded.")
			if st.RunCount != 1 {
				t.Errorf("%s: RunCount = %d, want 1", fs.Graph.Tasks[i].Slug, st.RunCount)
			}
		}
		if st, ok := fs.Task("add-2"); !ok || st.Result != 16 {
			t.Errorf(`Task("add-2") = %v, %v (result %v), want the state of the second add`, st, ok, st.Result)
		}
		if _, ok := fs.Task("nope"); ok {
			t.Error(`Task("nope") found a task`)
		}
		if fs.FlowName != "arith" {
			t.Errorf("FlowName = %q, want arith", fs.FlowName)
		}
	})
}

func TestRunTaskError(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("errors")
		wrapped := fmt.Errorf("loading table users: %w", errBoom)
		bad := flow.Add(f, task.New("bad", func(context.Context, task.None) (int, error) { return 0, wrapped }))
		good := flow.Add(f, valueTask("good", 7, nil))

		fs := runFlow(t, ex, f)
		st := fs.Of(bad)
		wantState(t, "bad", st, state.Failed, "Error during execution of task: loading table users: boom")
		if !errors.Is(st.Err, errBoom) {
			t.Errorf("errors.Is(State.Err, errBoom) = false; Err = %v", st.Err)
		}
		if st.RunCount != 1 {
			t.Errorf("RunCount = %d, want 1", st.RunCount)
		}
		if _, ok := runner.ResultOf(fs, bad); ok {
			t.Error("ResultOf reports a result for a failed task")
		}
		wantResult(t, fs, good, 7)
		wantState(t, "flow", fs.State, state.Failed, "Some reference tasks failed.")
	})
}

func TestRunTaskPanic(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("panics")
		bad := flow.Add(f, task.New("bad", func(context.Context, task.None) (int, error) {
			panic("the disk is on fire")
		}))
		after := flow.Add(f, double("after-bad"), flow.Bind("x", bad))
		one := flow.Add(f, valueTask("one", 21, nil))
		two := flow.Add(f, double("two"), flow.Bind("x", one))

		fs := runFlow(t, ex, f)
		st := fs.Of(bad)
		wantKind(t, "bad", st, state.Failed)
		if !strings.Contains(st.Message, "the disk is on fire") || !strings.HasPrefix(st.Message, "Error during execution of task: ") {
			t.Errorf("message = %q, want Prefect's failure message with the panic value", st.Message)
		}
		var pe *runner.PanicError
		if !errors.As(st.Err, &pe) {
			t.Fatalf("Err = %#v, want a *runner.PanicError", st.Err)
		}
		if pe.Value != "the disk is on fire" {
			t.Errorf("PanicError.Value = %v", pe.Value)
		}
		if len(pe.Stack) == 0 {
			t.Error("PanicError.Stack is empty")
		}
		wantKind(t, "after-bad", fs.Of(after), state.TriggerFailed)
		wantResult(t, fs, two, 42)
		wantState(t, "flow", fs.State, state.Failed, "Some reference tasks failed.")
	})
}

func TestRunSignals(t *testing.T) {
	tests := []struct {
		name       string
		fn         func(ctx context.Context) (int, error)
		wantKind   state.Kind
		wantMsg    string
		wantResult any
		wantRuns   int
		wantFlow   state.Kind
	}{
		{
			name:     "Fail",
			fn:       func(context.Context) (int, error) { return 0, task.Fail("the data is bad") },
			wantKind: state.Failed, wantMsg: "the data is bad", wantRuns: 1, wantFlow: state.Failed,
		},
		{
			name:     "Skip",
			fn:       func(context.Context) (int, error) { return 0, task.Skip("nothing new today") },
			wantKind: state.Skipped, wantMsg: "nothing new today", wantRuns: 1, wantFlow: state.Success,
		},
		{
			name:     "Succeed with a result",
			fn:       func(context.Context) (int, error) { return 99, task.Succeed("done early") },
			wantKind: state.Success, wantMsg: "done early", wantResult: 99, wantRuns: 1, wantFlow: state.Success,
		},
		{
			name: "Retry without retries configured",
			fn: func(ctx context.Context) (int, error) {
				rc, _ := runner.FromContext(ctx)
				if rc.TaskRunCount < 3 {
					return 0, task.Retry("not yet")
				}
				return 3, nil
			},
			wantKind: state.Success, wantMsg: "Task run succeeded.", wantResult: 3, wantRuns: 3, wantFlow: state.Success,
		},
		{
			name:     "Pause",
			fn:       func(context.Context) (int, error) { return 0, task.Pause("waiting for sign-off") },
			wantKind: state.Paused, wantMsg: "waiting for sign-off", wantRuns: 1, wantFlow: state.Paused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("signals")
				var calls atomic.Int32
				n := flow.Add(f, task.New("signal", func(ctx context.Context, _ task.None) (int, error) {
					calls.Add(1)
					return tt.fn(ctx)
				}))
				fs := runFlow(t, ex, f)
				st := fs.Of(n)
				wantState(t, "signal", st, tt.wantKind, tt.wantMsg)
				if tt.wantResult != nil && st.Result != tt.wantResult {
					t.Errorf("result = %v, want %v", st.Result, tt.wantResult)
				}
				if got := int(calls.Load()); got != tt.wantRuns || st.RunCount != tt.wantRuns {
					t.Errorf("function ran %d times, RunCount %d; want %d", got, st.RunCount, tt.wantRuns)
				}
				wantKind(t, "flow", fs.State, tt.wantFlow)
				if tt.wantKind == state.Failed {
					if sig, ok := task.AsSignal(st.Err); !ok || sig.Kind != state.Failed {
						t.Errorf("Err = %v, want the Fail signal", st.Err)
					}
				}
			})
		})
	}
}

func TestRunPauseSignalHoldsDownstream(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("pause")
		p := flow.Add(f, task.New("approve", func(context.Context, task.None) (int, error) {
			return 0, task.Pause("needs approval")
		}))
		var ran atomic.Int32
		d := flow.Add(f, task.New("deploy", func(_ context.Context, in argX) (int, error) {
			ran.Add(1)
			return in.X, nil
		}), flow.Bind("x", p))

		fs := runFlow(t, ex, f)
		wantState(t, "approve", fs.Of(p), state.Paused, "needs approval")
		wantState(t, "deploy", fs.Of(d), state.Pending, state.MsgWaitingOnPaused)
		if ran.Load() != 0 {
			t.Error("a task downstream of a paused one ran")
		}
		wantState(t, "flow", fs.State, state.Paused, state.MsgFlowPaused)
	})
}

func TestRunSkipPropagation(t *testing.T) {
	tests := []struct {
		name    string
		noSkip  bool
		wantMid state.State
		wantEnd state.State
	}{
		{"skip on upstream skip (default)", false,
			state.New(state.Skipped, state.MsgUpstreamSkipped), state.New(state.Skipped, state.MsgUpstreamSkipped)},
		{"WithSkipOnUpstreamSkip(false)", true,
			state.New(state.Success, state.MsgTaskSucceeded), state.New(state.Success, state.MsgTaskSucceeded)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("skips")
				var midRuns atomic.Int32
				src := flow.Add(f, skippingTask("source"))
				mid := flow.Add(f, task.New("mid", func(_ context.Context, in argX) (int, error) {
					midRuns.Add(1)
					return in.X + 1, nil
				}, task.WithSkipOnUpstreamSkip(!tt.noSkip)), flow.Bind("x", src))
				end := flow.Add(f, double("end"), flow.Bind("x", mid))

				fs := runFlow(t, ex, f)
				wantState(t, "source", fs.Of(src), state.Skipped, "skipped on purpose")
				wantState(t, "mid", fs.Of(mid), tt.wantMid.Kind, tt.wantMid.Message)
				wantState(t, "end", fs.Of(end), tt.wantEnd.Kind, tt.wantEnd.Message)
				if tt.noSkip {
					if midRuns.Load() != 1 {
						t.Errorf("mid ran %d times, want 1", midRuns.Load())
					}
					// The skipped task passes no result: mid sees x's zero value.
					wantResult(t, fs, mid, 1)
					wantResult(t, fs, end, 2)
				} else if midRuns.Load() != 0 {
					t.Errorf("mid ran %d times, want 0", midRuns.Load())
				}
				// Skipped counts as successful.
				wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			})
		})
	}
}

func TestRunReferenceTasks(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("default: terminal tasks, all succeed", func(t *testing.T) {
			f := flow.New("ref")
			a := flow.Add(f, valueTask("a", 1, nil))
			flow.Add(f, double("b"), flow.Bind("x", a))
			flow.Add(f, valueTask("c", 3, nil))
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Success, "All reference tasks succeeded.")
			if got, want := fs.Graph.Reference, []int{1, 2}; !reflect.DeepEqual(got, want) {
				t.Errorf("Reference = %v, want the terminal tasks %v", got, want)
			}
		})
		t.Run("default: a failed terminal task fails the flow", func(t *testing.T) {
			f := flow.New("ref")
			a := flow.Add(f, valueTask("a", 1, nil))
			flow.Add(f, double("b"), flow.Bind("x", a))
			flow.Add(f, failingTask("c", nil))
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Failed, "Some reference tasks failed.")
		})
		t.Run("default: a failure upstream fails the flow through TriggerFailed", func(t *testing.T) {
			f := flow.New("ref")
			a := flow.Add(f, failingTask("a", nil))
			flow.Add(f, double("b"), flow.Bind("x", a))
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Failed, "Some reference tasks failed.")
		})
		t.Run("SetReferenceTasks on a task that succeeds", func(t *testing.T) {
			f := flow.New("ref")
			ok := flow.Add(f, valueTask("ok", 1, nil))
			flow.Add(f, failingTask("bad", nil))
			f.SetReferenceTasks(ok)
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Success, "All reference tasks succeeded.")
		})
		t.Run("SetReferenceTasks on a task that fails", func(t *testing.T) {
			f := flow.New("ref")
			flow.Add(f, valueTask("ok", 1, nil))
			bad := flow.Add(f, failingTask("bad", nil))
			f.SetReferenceTasks(bad)
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Failed, "Some reference tasks failed.")
		})
		t.Run("mapped reference task with a failed child", func(t *testing.T) {
			f := flow.New("ref")
			m := flow.Map(f, task.New("check", func(_ context.Context, in argX) (int, error) {
				if in.X == 2 {
					return 0, errBoom
				}
				return in.X, nil
			}), flow.Const("x", []int{1, 2, 3}))
			ok := flow.Add(f, valueTask("ok", 1, nil))
			f.SetReferenceTasks(m, ok)
			fs := runFlow(t, ex, f)
			wantKind(t, "check", fs.Of(m), state.Mapped)
			wantState(t, "flow", fs.State, state.Failed, "Some reference tasks failed.")
		})
	})
}

// paramRunner returns a function that runs a flow with one parameter p of
// type T, given the value given, and returns p's value.
func paramRunner[T any]() func(given any) (any, error) {
	return func(given any) (any, error) {
		f := flow.New("conv")
		p := flow.Parameter[T](f, "p")
		fs, err := runner.Run(context.Background(), f, runner.WithParameters(map[string]any{"p": given}))
		if err != nil {
			return nil, err
		}
		v, ok := runner.ResultOf(fs, p)
		if !ok {
			return nil, fmt.Errorf("parameter state %v, result %#v", fs.Of(p), fs.Of(p).Result)
		}
		return v, nil
	}
}

func TestRunParameterConversion(t *testing.T) {
	tests := []struct {
		name    string
		run     func(any) (any, error)
		given   any
		want    any
		wantErr []string
	}{
		{"int to int", paramRunner[int](), 3, 3, nil},
		{"whole float64 to int", paramRunner[int](), 3.0, 3, nil},
		{"fractional float64 to int", paramRunner[int](), 3.5, nil, []string{`"p"`, "int", "float64"}},
		{"int to float64", paramRunner[float64](), 2, 2.0, nil},
		{"int64 to int", paramRunner[int](), int64(4), 4, nil},
		{"string to int", paramRunner[int](), "3", nil, []string{`"p"`, "int", "string"}},
		{"out of range for int8", paramRunner[int8](), 300, nil, []string{`"p"`, "int8", "int"}},
		{"negative to uint", paramRunner[uint](), -1, nil, []string{`"p"`, "uint", "int"}},
		{"nil to int", paramRunner[int](), nil, nil, []string{`"p"`, "int", "nil"}},
		{"nil to slice", paramRunner[[]int](), nil, []int(nil), nil},
		{"string to string", paramRunner[string](), "x", "x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.run(tt.given)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("parameter value = %#v, want %#v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Run accepted %#v (value %#v); want an error", tt.given, got)
			}
			if !errors.Is(err, runner.ErrInvalidRun) {
				t.Errorf("errors.Is(err, ErrInvalidRun) = false: %v", err)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

func TestRunParameters(t *testing.T) {
	build := func() (*flow.Flow, flow.Node[string]) {
		f := flow.New("greet")
		n := flow.Parameter[int](f, "n")
		name := flow.Parameter(f, "name", flow.WithDefault("world"))
		type in struct {
			N    int    `prefect:"n"`
			Name string `prefect:"name"`
		}
		out := flow.Add(f, task.New("greet", func(_ context.Context, in in) (string, error) {
			return strings.Repeat("hello "+in.Name+" ", in.N), nil
		}), flow.Bind("n", n), flow.Bind("name", name))
		return f, out
	}
	tests := []struct {
		name    string
		params  map[string]any
		want    string
		wantErr []string
	}{
		{"default used", map[string]any{"n": 1}, "hello world ", nil},
		{"given values", map[string]any{"n": 2, "name": "go"}, "hello go hello go ", nil},
		{"JSON number", map[string]any{"n": 1.0}, "hello world ", nil},
		{"unknown parameter", map[string]any{"n": 1, "bogus": true},
			"", []string{"Flow.run received the following unexpected parameters: bogus (", `"bogus"`, `its parameters are "n", "name"`}},
		{"missing required", map[string]any{"name": "x"}, "", []string{"Flow.run did not receive the following required parameters: n (", `required parameter "n" not given`}},
		{"missing and unknown", map[string]any{"nme": "x"}, "", []string{"unexpected parameters: nme (", "required parameters: n (", `"nme"`, `"n" not given`}},
		{"wrong type", map[string]any{"n": 1, "name": 5}, "", []string{`parameter "name" wants string, but was given int`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f, out := build()
				fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex), runner.WithParameters(tt.params))
				if tt.wantErr != nil {
					if err == nil {
						t.Fatalf("Run started with parameters %v; want an error", tt.params)
					}
					if fs != nil {
						t.Errorf("Run returned a FlowState with its error: %v", fs.State)
					}
					if !errors.Is(err, runner.ErrInvalidRun) {
						t.Errorf("errors.Is(err, ErrInvalidRun) = false: %v", err)
					}
					for _, s := range tt.wantErr {
						if !strings.Contains(err.Error(), s) {
							t.Errorf("error %q does not contain %s", err, s)
						}
					}
					return
				}
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				wantResult(t, fs, out, tt.want)
			})
		})
	}
	t.Run("flow without parameters", func(t *testing.T) {
		f := flow.New("plain")
		flow.Add(f, valueTask("a", 1, nil))
		_, err := runner.Run(context.Background(), f, runner.WithParameters(map[string]any{"x": 1}))
		if err == nil || !errors.Is(err, runner.ErrInvalidRun) || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), "it has none") {
			t.Errorf("err = %v, want an ErrInvalidRun naming \"x\" and saying the flow has no parameters", err)
		}
	})
}

func TestRunInvalidFlow(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		f := flow.New("loop")
		a := flow.Add(f, valueTask("a", 1, nil))
		b := flow.Add(f, valueTask("b", 2, nil))
		f.SetUpstream(a, b)
		f.SetUpstream(b, a)
		var ran atomic.Int32
		flow.Add(f, valueTask("c", 3, &ran))
		fs, err := runner.Run(context.Background(), f)
		if !errors.Is(err, flow.ErrCycle) || !errors.Is(err, runner.ErrInvalidRun) {
			t.Fatalf("err = %v, want one matching flow.ErrCycle and runner.ErrInvalidRun", err)
		}
		if fs != nil || ran.Load() != 0 {
			t.Errorf("an invalid flow ran (fs %v, %d calls)", fs, ran.Load())
		}
	})
	t.Run("unbound input", func(t *testing.T) {
		f := flow.New("unbound")
		flow.Add(f, double("d"))
		_, err := runner.Run(context.Background(), f)
		if !errors.Is(err, runner.ErrInvalidRun) || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("err = %v, want an ErrInvalidRun naming the unbound input", err)
		}
	})
	t.Run("task option error", func(t *testing.T) {
		f := flow.New("options")
		flow.Add(f, valueTask("a", 1, nil, task.WithMaxRetries(2)))
		_, err := runner.Run(context.Background(), f)
		if !errors.Is(err, runner.ErrInvalidRun) || !errors.Is(err, task.ErrRetryDelayRequired) {
			t.Errorf("err = %v, want ErrInvalidRun wrapping ErrRetryDelayRequired", err)
		}
	})
}

// probe is what a task saw of its run context.
type probe struct {
	FlowName, FlowRunName, TaskName, TaskSlug, TaskRunName string
	FlowRunID                                              uuid.UUID
	TaskRunCount, MapIndex                                 int
	Parameters                                             map[string]any
	Scheduled                                              time.Time
	Dates                                                  [6]string
	TaskRunID, TaskRunIDAgain                              uuid.UUID
}

func probeOf(ctx context.Context) (probe, bool) {
	rc, ok := runner.FromContext(ctx)
	if !ok {
		return probe{}, false
	}
	return probe{
		FlowName: rc.FlowName, FlowRunName: rc.FlowRunName, TaskName: rc.TaskName,
		TaskSlug: rc.TaskSlug, TaskRunName: rc.TaskRunName, FlowRunID: rc.FlowRunID,
		TaskRunCount: rc.TaskRunCount, MapIndex: rc.MapIndex, Parameters: rc.Parameters,
		Scheduled: rc.ScheduledStartTime,
		Dates:     [6]string{rc.Today(), rc.Yesterday(), rc.Tomorrow(), rc.TodayNoDash(), rc.YesterdayNoDash(), rc.TomorrowNoDash()},
		TaskRunID: rc.TaskRunID(), TaskRunIDAgain: rc.TaskRunID(),
	}, true
}

// probeTask returns a task that records its run context in *into.
func probeTask(name string, into *probe, opts ...task.Option) *task.Task[task.None, int] {
	return task.New(name, func(ctx context.Context, _ task.None) (int, error) {
		p, ok := probeOf(ctx)
		if !ok {
			return 0, errors.New("no run context")
		}
		*into = p
		return 0, nil
	}, opts...)
}

func TestRunContext(t *testing.T) {
	if _, ok := runner.FromContext(context.Background()); ok {
		t.Error("FromContext found a run context outside a task run")
	}
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("given ids, names, parameters and dates", func(t *testing.T) {
			f := flow.New("nightly-etl")
			flow.Parameter(f, "region", flow.WithDefault("eu"))
			flow.Parameter[int](f, "limit")
			var a, b probe
			flow.Add(f, probeTask("extract", &a, task.WithSlug("extract-users")))
			flow.Add(f, probeTask("load", &b))
			id := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
			when := time.Date(2024, 3, 1, 1, 30, 0, 0, time.UTC)
			fs := runFlow(t, ex, f,
				runner.WithFlowRunID(id), runner.WithFlowRunName("nightly-etl-march"),
				runner.WithScheduledStartTime(when), runner.WithParameters(map[string]any{"limit": 10}))
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			if fs.FlowRunID != id || fs.FlowRunName != "nightly-etl-march" {
				t.Errorf("FlowState id/name = %v/%q", fs.FlowRunID, fs.FlowRunName)
			}
			want := probe{
				FlowName: "nightly-etl", FlowRunName: "nightly-etl-march", TaskName: "extract",
				TaskSlug: "extract-users", TaskRunName: "extract-users", FlowRunID: id,
				TaskRunCount: 1, MapIndex: -1, Parameters: map[string]any{"region": "eu", "limit": 10},
				Scheduled: when,
				Dates:     [6]string{"2024-03-01", "2024-02-29", "2024-03-02", "20240301", "20240229", "20240302"},
				TaskRunID: a.TaskRunID, TaskRunIDAgain: a.TaskRunID,
			}
			if !reflect.DeepEqual(a, want) {
				t.Errorf("run context of extract:\n got %+v\nwant %+v", a, want)
			}
			if b.TaskName != "load" || b.TaskSlug != "load-1" {
				t.Errorf("load saw task name %q, slug %q", b.TaskName, b.TaskSlug)
			}
			if a.TaskRunID == uuid.Nil || a.TaskRunID != a.TaskRunIDAgain {
				t.Errorf("TaskRunID not stable within a task run: %v then %v", a.TaskRunID, a.TaskRunIDAgain)
			}
			if a.TaskRunID == b.TaskRunID {
				t.Errorf("two tasks share TaskRunID %v", a.TaskRunID)
			}
		})
		t.Run("defaults", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				f := flow.New("defaults")
				var a probe
				flow.Add(f, probeTask("a", &a))
				fs := runFlow(t, ex, f)
				if fs.FlowRunID == uuid.Nil {
					t.Fatal("FlowRunID is nil")
				}
				if a.FlowRunID != fs.FlowRunID {
					t.Errorf("task saw FlowRunID %v, FlowState has %v", a.FlowRunID, fs.FlowRunID)
				}
				if want := "defaults-" + fs.FlowRunID.String()[:8]; fs.FlowRunName != want || a.FlowRunName != want {
					t.Errorf("FlowRunName = %q (task saw %q), want %q", fs.FlowRunName, a.FlowRunName, want)
				}
				if !a.Scheduled.Equal(start) {
					t.Errorf("ScheduledStartTime = %v, want the time the run started, %v", a.Scheduled, start)
				}
				if a.Parameters == nil || len(a.Parameters) != 0 {
					t.Errorf("Parameters = %#v, want an empty map", a.Parameters)
				}
				fs2 := runFlow(t, ex, f)
				if fs2.FlowRunID == fs.FlowRunID {
					t.Error("two runs got the same FlowRunID")
				}
			})
		})
		t.Run("TaskRunID is the same on every attempt of a task run", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := flow.New("ids")
				var mu sync.Mutex
				var ids []uuid.UUID
				flow.Add(f, task.New("flaky", func(ctx context.Context, _ task.None) (int, error) {
					rc, _ := runner.FromContext(ctx)
					mu.Lock()
					ids = append(ids, rc.TaskRunID())
					mu.Unlock()
					if rc.TaskRunCount < 3 {
						return 0, errBoom
					}
					return 1, nil
				}, task.WithRetries(2, time.Second)))
				fs := runFlow(t, ex, f)
				wantKind(t, "flow", fs.State, state.Success)
				if len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] {
					t.Errorf("TaskRunID per attempt = %v, want one id for the task run's 3 attempts", ids)
				}
			})
		})
		t.Run("run name template", func(t *testing.T) {
			f := flow.New("names")
			type urlIn struct {
				URL string `prefect:"x"`
			}
			var mu sync.Mutex
			names := map[int]string{}
			m := flow.Map(f, task.New("fetch", func(ctx context.Context, in urlIn) (string, error) {
				rc, _ := runner.FromContext(ctx)
				mu.Lock()
				names[rc.MapIndex] = rc.TaskRunName
				mu.Unlock()
				return in.URL, nil
			}, task.WithRunName("fetch-{x}-{map_index}-{task_run_count}-{unknown}")), flow.Const("x", []string{"a.com", "b.org"}))
			var single string
			flow.Add(f, task.New("load", func(ctx context.Context, _ task.None) (int, error) {
				rc, _ := runner.FromContext(ctx)
				single = rc.TaskRunName
				return 0, nil
			}, task.WithRunName("{task_name}@{flow_name}/{task_slug}")))
			fs := runFlow(t, ex, f)
			wantKind(t, "fetch", fs.Of(m), state.Mapped)
			want := map[int]string{0: "fetch-a.com-0-1-{unknown}", 1: "fetch-b.org-1-1-{unknown}"}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("run names = %v, want %v", names, want)
			}
			if single != "load@names/load-1" {
				t.Errorf("run name = %q, want load@names/load-1", single)
			}
		})
	})
}

func TestRunStateHandlers(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("every transition, old and new", func(t *testing.T) {
			f := flow.New("handlers")
			var log transitionLog
			n := flow.Add(f, valueTask("a", 5, nil, task.WithStateHandlers(log.handler)))
			fs := runFlow(t, ex, f)
			wantResult(t, fs, n, 5)
			got := log.transitions()
			if len(got) != 2 {
				t.Fatalf("transitions = %v, want Pending -> Running -> Success", got)
			}
			if got[0].Old.Kind != state.Pending || got[0].New.Kind != state.Running || got[0].New.RunCount != 1 {
				t.Errorf("first transition = %v (run count %d), want Pending -> Running, run 1", got[0], got[0].New.RunCount)
			}
			if got[1].Old.Kind != state.Running || got[1].New.Kind != state.Success || got[1].New.Result != 5 {
				t.Errorf("second transition = %v (result %v), want Running -> Success with result 5", got[1], got[1].New.Result)
			}
		})
		t.Run("states decided without a run", func(t *testing.T) {
			f := flow.New("handlers")
			var tfLog, skipLog transitionLog
			var calls atomic.Int32
			bad := flow.Add(f, failingTask("bad", nil))
			tf := flow.Add(f, valueTask("tf", 1, &calls, task.WithStateHandlers(tfLog.handler)), flow.After(bad))
			sk := flow.Add(f, skippingTask("skip"))
			skipped := flow.Add(f, valueTask("skipped", 1, &calls, task.WithStateHandlers(skipLog.handler)), flow.After(sk))
			fs := runFlow(t, ex, f)
			wantKind(t, "tf", fs.Of(tf), state.TriggerFailed)
			wantKind(t, "skipped", fs.Of(skipped), state.Skipped)
			if got := tfLog.kinds(); !reflect.DeepEqual(got, []string{"Pending->TriggerFailed"}) {
				t.Errorf("transitions of the TriggerFailed task = %v, want [Pending->TriggerFailed]", got)
			}
			if got := skipLog.kinds(); !reflect.DeepEqual(got, []string{"Pending->Skipped"}) {
				t.Errorf("transitions of the skipped task = %v, want [Pending->Skipped]", got)
			}
			if calls.Load() != 0 {
				t.Errorf("tasks that should not run ran %d times", calls.Load())
			}
		})
		t.Run("handlers run in order, each seeing the one before", func(t *testing.T) {
			f := flow.New("handlers")
			var log transitionLog
			relabel := func(_ context.Context, _, new state.State) state.State {
				if new.Kind == state.Success {
					new.Message = "relabelled"
				}
				return new
			}
			n := flow.Add(f, valueTask("a", 5, nil, task.WithStateHandlers(relabel, log.handler)))
			fs := runFlow(t, ex, f)
			wantState(t, "a", fs.Of(n), state.Success, "relabelled")
			if tr := log.transitions(); len(tr) != 2 || tr[1].New.Message != "relabelled" {
				t.Errorf("second handler saw %v", tr)
			}
		})
		t.Run("a handler replaces a failure", func(t *testing.T) {
			f := flow.New("handlers")
			rescue := func(_ context.Context, _, new state.State) state.State {
				if new.IsFailed() {
					return state.State{Kind: state.Success, Message: "rescued", Result: 21}
				}
				return new
			}
			bad := flow.Add(f, failingTask("bad", nil, task.WithStateHandlers(rescue)))
			d := flow.Add(f, double("d"), flow.Bind("x", bad))
			fs := runFlow(t, ex, f)
			wantState(t, "bad", fs.Of(bad), state.Success, "rescued")
			wantResult(t, fs, d, 42)
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
		})
		t.Run("a handler stops a run before it starts", func(t *testing.T) {
			f := flow.New("handlers")
			var calls atomic.Int32
			veto := func(_ context.Context, _, new state.State) state.State {
				if new.Kind == state.Running {
					return state.New(state.Skipped, "vetoed")
				}
				return new
			}
			n := flow.Add(f, valueTask("a", 5, &calls, task.WithStateHandlers(veto)))
			fs := runFlow(t, ex, f)
			wantState(t, "a", fs.Of(n), state.Skipped, "vetoed")
			if calls.Load() != 0 {
				t.Errorf("the function ran %d times after its handler vetoed the run", calls.Load())
			}
		})
		t.Run("a panicking handler fails the task", func(t *testing.T) {
			f := flow.New("handlers")
			boom := func(_ context.Context, _, new state.State) state.State {
				if new.Kind == state.Success {
					panic("handler bug")
				}
				return new
			}
			n := flow.Add(f, valueTask("a", 5, nil, task.WithStateHandlers(boom)))
			d := flow.Add(f, double("d"), flow.Bind("x", n))
			other := flow.Add(f, valueTask("other", 1, nil))
			fs := runFlow(t, ex, f)
			st := fs.Of(n)
			wantKind(t, "a", st, state.Failed)
			var pe *runner.PanicError
			if !errors.As(st.Err, &pe) || !strings.Contains(st.Message, "handler bug") {
				t.Errorf("state %v, Err %v: want a failure naming the handler's panic", st, st.Err)
			}
			wantKind(t, "d", fs.Of(d), state.TriggerFailed)
			wantResult(t, fs, other, 1)
		})
	})
}

func TestRunOnFailure(t *testing.T) {
	tests := []struct {
		name      string
		failUntil int // the function fails on runs before this one
		retries   int
		want      int32
	}{
		{"success", 1, 0, 0},
		{"failure", 99, 0, 1},
		{"failure after retries", 99, 2, 1},
		{"success after retries", 3, 2, 0},
		{"trigger failed", 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("onfailure")
				var fired atomic.Int32
				var seen state.State
				opts := []task.Option{task.WithOnFailure(func(_ context.Context, failed state.State) {
					fired.Add(1)
					seen = failed
				})}
				if tt.retries > 0 {
					opts = append(opts, task.WithRetries(tt.retries, time.Second))
				}
				var after []flow.Binding
				if tt.failUntil == 0 { // fails through its trigger, without a run
					after = append(after, flow.After(flow.Add(f, failingTask("upstream", nil))))
				}
				n := flow.Add(f, task.New("t", func(ctx context.Context, _ task.None) (int, error) {
					rc, _ := runner.FromContext(ctx)
					if rc.TaskRunCount < tt.failUntil {
						return 0, errBoom
					}
					return 1, nil
				}, opts...), after...)
				fs := runFlow(t, ex, f)
				if got := fired.Load(); got != tt.want {
					t.Errorf("OnFailure fired %d times, want %d (final state %v)", got, tt.want, fs.Of(n))
				}
				if tt.want > 0 && !seen.IsFailed() {
					t.Errorf("OnFailure saw %v, want the failure", seen)
				}
				if tt.want > 0 && tt.failUntil > 0 && !errors.Is(seen.Err, errBoom) {
					t.Errorf("OnFailure saw %v (Err %v), want the failure", seen, seen.Err)
				}
			})
		})
	}
}

func TestRunLogging(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("records carry the run and task attributes", func(t *testing.T) {
			var rec logRecorder
			f := flow.New("logged")
			var taskRunID string
			a := flow.Add(f, task.New("a", func(ctx context.Context, _ task.None) (int, error) {
				rc, _ := runner.FromContext(ctx)
				taskRunID = rc.TaskRunID().String()
				rc.Logger().Info("hello from a", slog.Int("rows", 3))
				return 1, nil
			}))
			flow.Add(f, failingTask("b", nil), flow.After(a))
			flow.Map(f, double("m"), flow.Const("x", []int{1, 2}))
			fs := runFlow(t, ex, f, runner.WithLogger(rec.logger()))
			records := rec.all()
			if len(records) == 0 {
				t.Fatal("no records were logged")
			}
			// Prefect's task runner lines, by the task's full name: its
			// name, with [i] for a mapped child.
			finished, starting, exceptions := map[string]logRecord{}, map[string]logRecord{}, map[string]logRecord{}
			var own *logRecord
			for i, r := range records {
				if r.Attrs["flow_run.flow_name"] != "logged" || r.Attrs["flow_run.flow_run_id"] != fs.FlowRunID.String() {
					t.Errorf("record %q lacks the flow run attributes: %v", r.Msg, r.Attrs)
				}
				name, rest, _ := strings.Cut(strings.TrimPrefix(r.Msg, "Task '"), "': ")
				switch {
				case strings.HasPrefix(rest, "Finished task run"):
					finished[name] = r
				case rest == "Starting task run...":
					starting[name] = r
				case rest == "Exception encountered during task execution!":
					exceptions[name] = r
				}
				if r.Msg == "hello from a" {
					own = &records[i]
				}
			}
			for _, want := range []struct{ name, slug, mapIndex, state string }{
				{"a", "a-1", "-1", "Success"},
				{"b", "b-1", "-1", "Failed"},
				{"m[0]", "m-1", "0", "Success"},
				{"m[1]", "m-1", "1", "Success"},
				{"m", "m-1", "-1", "Mapped"},
			} {
				r, ok := finished[want.name]
				if !ok {
					t.Errorf("no \"Finished task run\" record for %s", want.name)
					continue
				}
				if msg := "Task '" + want.name + "': Finished task run for task with final state: '" + want.state + "'"; r.Msg != msg || r.Level != slog.LevelInfo {
					t.Errorf("record %v %q, want INFO %q", r.Level, r.Msg, msg)
				}
				if r.Attrs["task_run.task_slug"] != want.slug || r.Attrs["task_run.map_index"] != want.mapIndex || r.Attrs["task_run.state"] != want.state {
					t.Errorf("record %q has task_slug %q, map_index %q, state %q; want %q, %q, %q", r.Msg,
						r.Attrs["task_run.task_slug"], r.Attrs["task_run.map_index"], r.Attrs["task_run.state"], want.slug, want.mapIndex, want.state)
				}
				if want.name == "m" {
					continue // the mapped parent's function is not called
				}
				if r, ok := starting[want.name]; !ok || r.Level != slog.LevelInfo || r.Attrs["task_run.task_slug"] != want.slug {
					t.Errorf("no INFO \"Task '%s': Starting task run...\" record with task_slug %s: %+v", want.name, want.slug, r)
				}
			}
			if len(exceptions) != 1 {
				t.Errorf("exception records for %v, want for b alone", slices.Collect(maps.Keys(exceptions)))
			}
			if r, ok := exceptions["b"]; !ok || r.Level != slog.LevelError || r.Attrs["err"] != errBoom.Error() || r.Attrs["task_run.task_slug"] != "b-1" {
				t.Errorf("the failing task's exception record is %+v; want ERROR with err=%q and task_slug b-1", r, errBoom)
			}
			if own == nil {
				t.Fatal("the task's own record was not logged")
			}
			want := map[string]string{
				"rows":                    "3",
				"flow_run.flow_name":      "logged",
				"flow_run.flow_run_id":    fs.FlowRunID.String(),
				"flow_run.flow_run_name":  fs.FlowRunName,
				"task_run.task_slug":      "a-1",
				"task_run.task_run_id":    taskRunID,
				"task_run.map_index":      "-1",
				"task_run.task_run_count": "1",
			}
			for k, v := range want {
				if own.Attrs[k] != v {
					t.Errorf("task record attr %s = %q, want %q", k, own.Attrs[k], v)
				}
			}
		})
		t.Run("silent by default", func(t *testing.T) {
			var rec logRecorder
			old := slog.Default()
			slog.SetDefault(rec.logger())
			t.Cleanup(func() { slog.SetDefault(old) })
			f := flow.New("quiet")
			n := flow.Add(f, task.New("a", func(ctx context.Context, _ task.None) (int, error) {
				rc, _ := runner.FromContext(ctx)
				rc.Logger().Error("nobody hears this")
				return 1, nil
			}))
			flow.Add(f, failingTask("b", nil))
			fs := runFlow(t, ex, f)
			wantResult(t, fs, n, 1)
			if r := rec.all(); len(r) != 0 {
				t.Errorf("a run without a logger logged %d records to slog's default, e.g. %q", len(r), r[0].Msg)
			}
		})
	})
}

func TestRunBigGraphs(t *testing.T) {
	t.Run("fan-out of 10000", func(t *testing.T) {
		const n = 10_000
		f := flow.New("fanout")
		root := flow.Add(f, valueTask("root", 3, nil))
		mul := task.New("mul", func(_ context.Context, in argXY) (int, error) { return in.X * in.Y, nil })
		leaves := make([]flow.Node[int], n)
		for i := range leaves {
			leaves[i] = flow.Add(f, mul, flow.Bind("x", root), flow.Const("y", i))
		}
		eachExecutor(t, func(t *testing.T, ex runner.Executor) {
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			bad := 0
			for i, leaf := range leaves {
				if got, ok := runner.ResultOf(fs, leaf); !ok || got != 3*i {
					if bad++; bad <= 5 {
						t.Errorf("leaf %d = %v (%v), want %d", i, got, fs.Of(leaf), 3*i)
					}
				}
			}
		})
	})
	t.Run("grid of 100x100", func(t *testing.T) {
		const w, mod = 100, 1_000_000_007
		type cellIn struct {
			Up   int `prefect:"up,optional"`
			Left int `prefect:"left,optional"`
		}
		f := flow.New("grid")
		cell := task.New("cell", func(_ context.Context, in cellIn) (int, error) { return (in.Up + in.Left) % mod, nil })
		var nodes [w][w]flow.Node[int]
		var want [w][w]int
		for r := range w {
			for c := range w {
				switch {
				case r == 0 && c == 0:
					nodes[r][c] = flow.Add(f, valueTask("origin", 1, nil))
					want[r][c] = 1
				case r == 0:
					nodes[r][c] = flow.Add(f, cell, flow.Bind("left", nodes[r][c-1]))
					want[r][c] = want[r][c-1]
				case c == 0:
					nodes[r][c] = flow.Add(f, cell, flow.Bind("up", nodes[r-1][c]))
					want[r][c] = want[r-1][c]
				default:
					nodes[r][c] = flow.Add(f, cell, flow.Bind("up", nodes[r-1][c]), flow.Bind("left", nodes[r][c-1]))
					want[r][c] = (want[r-1][c] + want[r][c-1]) % mod
				}
			}
		}
		eachExecutor(t, func(t *testing.T, ex runner.Executor) {
			fs := runFlow(t, ex, f)
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			bad := 0
			for r := range w {
				for c := range w {
					if got, ok := runner.ResultOf(fs, nodes[r][c]); !ok || got != want[r][c] {
						if bad++; bad <= 5 {
							t.Errorf("cell (%d,%d) = %v (%v), want %d", r, c, got, fs.Of(nodes[r][c]), want[r][c])
						}
					}
				}
			}
		})
	})
}

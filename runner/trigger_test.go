package runner_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// outcome is how an upstream task of a trigger test ends.
type outcome string

const (
	succeeds outcome = "ok"
	fails    outcome = "fail"
	skips    outcome = "skip"
)

func outcomeTask(o outcome, i int) *task.Task[task.None, int] {
	name := fmt.Sprintf("up%d-%s", i, o)
	switch o {
	case fails:
		return failingTask(name, nil)
	case skips:
		return skippingTask(name)
	}
	return valueTask(name, i, nil)
}

func TestTriggers(t *testing.T) {
	const ran = "Task run succeeded."
	tests := []struct {
		name     string
		trigger  task.Trigger
		up       []outcome
		noSkip   bool // WithSkipOnUpstreamSkip(false)
		wantKind state.Kind
		wantMsg  string
	}{
		{"all_successful/all ok", task.AllSuccessful, []outcome{succeeds, succeeds}, false, state.Success, ran},
		{"all_successful/one failed", task.AllSuccessful, []outcome{succeeds, fails}, false,
			state.TriggerFailed, `Trigger was "all_successful" but some of the upstream tasks failed.`},
		{"all_successful/one skipped", task.AllSuccessful, []outcome{succeeds, skips}, false, state.Skipped, state.MsgUpstreamSkipped},
		{"all_successful/one skipped, no skip on upstream skip", task.AllSuccessful, []outcome{succeeds, skips}, true, state.Success, ran},
		{"all_successful/no upstream", task.AllSuccessful, nil, false, state.Success, ran},

		{"all_failed/all failed", task.AllFailed, []outcome{fails, fails}, false, state.Success, ran},
		{"all_failed/one ok", task.AllFailed, []outcome{fails, succeeds}, false,
			state.TriggerFailed, `Trigger was "all_failed" but some of the upstream tasks succeeded.`},
		{"all_failed/one skipped, no skip on upstream skip", task.AllFailed, []outcome{fails, skips}, true,
			state.TriggerFailed, `Trigger was "all_failed" but some of the upstream tasks succeeded.`},

		{"any_successful/one ok", task.AnySuccessful, []outcome{fails, succeeds}, false, state.Success, ran},
		{"any_successful/none ok", task.AnySuccessful, []outcome{fails, fails}, false,
			state.TriggerFailed, `Trigger was "any_successful" but none of the upstream tasks succeeded.`},
		{"any_successful/skip counts as success", task.AnySuccessful, []outcome{fails, skips}, true, state.Success, ran},

		{"any_failed/one failed", task.AnyFailed, []outcome{succeeds, fails}, false, state.Success, ran},
		{"any_failed/none failed", task.AnyFailed, []outcome{succeeds, succeeds}, false,
			state.TriggerFailed, `Trigger was "any_failed" but none of the upstream tasks failed.`},

		{"all_finished/all failed", task.AllFinished, []outcome{fails, fails}, false, state.Success, ran},
		{"all_finished/mixed", task.AllFinished, []outcome{succeeds, fails}, false, state.Success, ran},
		{"always_run/mixed", task.AlwaysRun, []outcome{fails, succeeds}, false, state.Success, ran},
		{"all_finished/skipped upstream skips", task.AllFinished, []outcome{fails, skips}, false, state.Skipped, state.MsgUpstreamSkipped},
		{"all_finished/skipped upstream, no skip on upstream skip", task.AllFinished, []outcome{fails, skips}, true, state.Success, ran},

		{"not_all_skipped/all skipped", task.NotAllSkipped, []outcome{skips, skips}, true, state.Skipped, "All upstreams were skipped"},
		{"not_all_skipped/one ok", task.NotAllSkipped, []outcome{skips, succeeds}, true, state.Success, ran},
		{"not_all_skipped/one failed", task.NotAllSkipped, []outcome{succeeds, fails}, true,
			state.TriggerFailed, `Trigger was "not_all_skipped" but some of the upstream tasks failed.`},

		{"some_successful/at least 2 met", task.SomeSuccessful(task.AtLeast(2)), []outcome{succeeds, succeeds, fails}, false, state.Success, ran},
		{"some_successful/at least 2 not met", task.SomeSuccessful(task.AtLeast(2)), []outcome{succeeds, fails, fails}, false,
			state.TriggerFailed, `Trigger was "some_successful" but thresholds were not met.`},
		{"some_successful/at least half met", task.SomeSuccessful(task.AtLeast(0.5)), []outcome{succeeds, fails}, false, state.Success, ran},
		{"some_successful/at least half not met", task.SomeSuccessful(task.AtLeast(0.5)), []outcome{succeeds, fails, fails}, false,
			state.TriggerFailed, `Trigger was "some_successful" but thresholds were not met.`},
		{"some_failed/at most 1 met", task.SomeFailed(task.AtMost(1)), []outcome{succeeds, fails}, false, state.Success, ran},
		{"some_failed/at most 1 not met", task.SomeFailed(task.AtMost(1)), []outcome{fails, fails}, false,
			state.TriggerFailed, `Trigger was "some_failed" but thresholds were not met.`},

		{"manual_only", task.ManualOnly, []outcome{succeeds}, false, state.Paused, `Trigger function is "manual_only"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("triggers")
				after := make([]flow.Ref, len(tt.up))
				for i, o := range tt.up {
					after[i] = flow.Add(f, outcomeTask(o, i))
				}
				var calls atomic.Int32
				down := flow.Add(f, valueTask("down", 1, &calls,
					task.WithTrigger(tt.trigger), task.WithSkipOnUpstreamSkip(!tt.noSkip)), flow.After(after...))

				fs := runFlow(t, ex, f)
				st := fs.Of(down)
				wantState(t, "down", st, tt.wantKind, tt.wantMsg)
				wantRuns := int32(0)
				if tt.wantKind == state.Success {
					wantRuns = 1
				}
				if got := calls.Load(); got != wantRuns {
					t.Errorf("down ran %d times, want %d", got, wantRuns)
				}
				if st.Kind == state.TriggerFailed && st.Err == nil {
					t.Error("a TriggerFailed state has no Err")
				}
			})
		})
	}
}

func TestTriggerFailedPropagates(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("propagate")
		a := flow.Add(f, failingTask("a", nil))
		var calls atomic.Int32
		b := flow.Add(f, task.New("b", func(_ context.Context, in argX) (int, error) {
			calls.Add(1)
			return in.X, nil
		}), flow.Bind("x", a))
		c := flow.Add(f, double("c"), flow.Bind("x", b))
		fin := flow.Add(f, valueTask("cleanup", 1, &calls, task.WithTrigger(task.AllFinished)), flow.After(c))
		alert := flow.Add(f, valueTask("alert", 1, nil, task.WithTrigger(task.AnyFailed)), flow.After(c))
		f.SetReferenceTasks(c)

		fs := runFlow(t, ex, f)
		wantKind(t, "a", fs.Of(a), state.Failed)
		msg := `Trigger was "all_successful" but some of the upstream tasks failed.`
		wantState(t, "b", fs.Of(b), state.TriggerFailed, msg)
		wantState(t, "c", fs.Of(c), state.TriggerFailed, msg)
		wantState(t, "cleanup", fs.Of(fin), state.Success, state.MsgTaskSucceeded)
		wantState(t, "alert", fs.Of(alert), state.Success, state.MsgTaskSucceeded)
		if got := calls.Load(); got != 1 {
			t.Errorf("b and cleanup ran %d times in all, want only cleanup's 1", got)
		}
		wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
	})
}

func TestAllFinishedRunsAfterFailures(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("cleanup")
		a := flow.Add(f, failingTask("a", nil))
		b := flow.Add(f, valueTask("b", 2, nil))
		var calls atomic.Int32
		c := flow.Add(f, valueTask("cleanup", 3, &calls, task.WithTrigger(task.AllFinished)), flow.After(a, b))

		fs := runFlow(t, ex, f)
		wantResult(t, fs, c, 3)
		if calls.Load() != 1 {
			t.Errorf("cleanup ran %d times, want 1", calls.Load())
		}
		// The terminal task, cleanup, succeeded, so the flow did.
		wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
	})
}

func TestManualOnlyPausesUntilResumed(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("approval")
		var prepCalls, approveCalls, deployCalls atomic.Int32
		prep := flow.Add(f, valueTask("prepare", 10, &prepCalls))
		approve := flow.Add(f, task.New("approve", func(_ context.Context, in argX) (int, error) {
			approveCalls.Add(1)
			return in.X + 1, nil
		}, task.WithTrigger(task.ManualOnly)), flow.Bind("x", prep))
		deploy := flow.Add(f, task.New("deploy", func(_ context.Context, in argX) (int, error) {
			deployCalls.Add(1)
			return in.X * 2, nil
		}), flow.Bind("x", approve))

		fs := runFlow(t, ex, f)
		wantResult(t, fs, prep, 10)
		wantState(t, "approve", fs.Of(approve), state.Paused, `Trigger function is "manual_only"`)
		wantState(t, "deploy", fs.Of(deploy), state.Pending, state.MsgWaitingOnPaused)
		wantState(t, "flow", fs.State, state.Paused, state.MsgFlowPaused)
		if approveCalls.Load() != 0 || deployCalls.Load() != 0 {
			t.Fatalf("paused tasks ran: approve %d, deploy %d", approveCalls.Load(), deployCalls.Load())
		}

		// Restarting without resuming pauses again.
		again, err := runner.Restart(context.Background(), f, fs, runner.WithExecutor(ex))
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, "flow after a restart without resume", again.State, state.Paused)

		resumed, err := runner.Restart(context.Background(), f, fs, runner.WithExecutor(ex), runner.WithResume(approve.Slug()))
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, "flow", resumed.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, resumed, approve, 11)
		wantResult(t, resumed, deploy, 22)
		if prepCalls.Load() != 1 || approveCalls.Load() != 1 || deployCalls.Load() != 1 {
			t.Errorf("calls: prepare %d, approve %d, deploy %d; want 1 each (prepare reused)",
				prepCalls.Load(), approveCalls.Load(), deployCalls.Load())
		}
	})
}

func TestCaseMerge(t *testing.T) {
	tests := []struct {
		cond        bool
		wantMerge   string
		taken, skip string // slugs of the branch taken and of the one skipped
	}{
		{true, "took yes", "yes-branch-1", "no-branch-1"},
		{false, "took no", "no-branch-1", "yes-branch-1"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.cond), func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("branches")
				cond := flow.Parameter[bool](f, "cond")
				yes := flow.Case(f, cond, true)
				no := flow.Case(f, cond, false)
				var calls atomic.Int32
				a := flow.Add(f, valueTask("yes-branch", "took yes", &calls), flow.After(yes))
				b := flow.Add(f, valueTask("no-branch", "took no", &calls), flow.After(no))
				shout := task.New("shout", func(_ context.Context, in argS) (string, error) { return in.S + "!", nil })
				aNext := flow.Add(f, shout, flow.Bind("s", a))
				bNext := flow.Add(f, shout, flow.Bind("s", b))
				m := flow.Merge(f, a, b)
				final := flow.Add(f, shout, flow.Bind("s", m))

				fs := runFlow(t, ex, f, runner.WithParameters(map[string]any{"cond": tt.cond}))
				wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
				taken, _ := fs.Task(tt.taken)
				skipped, _ := fs.Task(tt.skip)
				wantState(t, tt.taken, taken, state.Success, state.MsgTaskSucceeded)
				wantState(t, tt.skip, skipped, state.Skipped, state.MsgUpstreamSkipped)
				if calls.Load() != 1 {
					t.Errorf("branch tasks ran %d times, want only the taken one", calls.Load())
				}
				wantResult(t, fs, m, tt.wantMerge)
				wantResult(t, fs, final, tt.wantMerge+"!")
				takenNext, skippedNext := aNext, bNext
				caseTaken, caseSkipped := yes, no
				if !tt.cond {
					takenNext, skippedNext = bNext, aNext
					caseTaken, caseSkipped = no, yes
				}
				wantResult(t, fs, takenNext, tt.wantMerge+"!")
				wantKind(t, "downstream of the skipped branch", fs.Of(skippedNext), state.Skipped)
				wantResult(t, fs, caseTaken, true)
				wantKind(t, "case not taken", fs.Of(caseSkipped), state.Skipped)
			})
		})
	}
}

func TestManualOnlyMappedTask(t *testing.T) {
	// Prefect checks a mapped task's trigger child by child, and a flow whose
	// terminal mapped task has paused children is not finished.
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("approve-each")
		var calls atomic.Int32
		xs := flow.Add(f, valueTask("xs", []int{1, 2}, nil))
		m := flow.Map(f, task.New("approve", func(_ context.Context, in argX) (int, error) {
			calls.Add(1)
			return in.X, nil
		}, task.WithTrigger(task.ManualOnly)), flow.Bind("x", xs))

		fs := runFlow(t, ex, f)
		st := fs.Of(m)
		if len(st.Children) != 2 {
			t.Fatalf("approve: %v with %d children, want 2", st, len(st.Children))
		}
		for _, c := range st.Children {
			wantState(t, "child", c, state.Paused, `Trigger function is "manual_only"`)
		}
		if calls.Load() != 0 {
			t.Errorf("paused children ran %d times", calls.Load())
		}
		wantState(t, "flow", fs.State, state.Paused, state.MsgFlowPaused)

		resumed, err := runner.Restart(context.Background(), f, fs, runner.WithExecutor(ex), runner.WithResume(m.Slug()))
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, "resumed flow", resumed.State, state.Success, state.MsgFlowSucceeded)
		wantSlice(t, resumed, m, []int{1, 2})
		if calls.Load() != 2 {
			t.Errorf("children ran %d times after the resume, want 2", calls.Load())
		}
	})
}

package runner_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

type runOutcome struct {
	fs  *runner.FlowState
	err error
}

// startRun runs f on its own goroutine; the outcome arrives on the channel.
func startRun(ctx context.Context, f *flow.Flow, opts ...runner.Option) <-chan runOutcome {
	out := make(chan runOutcome, 1)
	go func() {
		fs, err := runner.Run(ctx, f, opts...)
		out <- runOutcome{fs, err}
	}()
	return out
}

// awaitRun waits for a run that was cancelled to return. The bound is only a
// guard against a hang: a correct runner returns as soon as its task runs do.
func awaitRun(t *testing.T, ch <-chan runOutcome) *runner.FlowState {
	t.Helper()
	select {
	case o := <-ch:
		if o.err != nil {
			t.Fatalf("Run: %v", o.err)
		}
		return o.fs
	case <-testwait.Context(t).Done():
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

// awaitSignals receives n signals from ch, or fails the test after a guard.
func awaitSignals(t *testing.T, ch <-chan int, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-ch:
		case <-testwait.Context(t).Done():
			t.Fatalf("only %d of %d task runs started", i, n)
		}
	}
}

// blockingTask signals on started, then waits for its context to end.
func blockingTask(name string, started chan<- int, calls *atomic.Int32) *task.Task[argX, int] {
	return task.New(name, func(ctx context.Context, in argX) (int, error) {
		calls.Add(1)
		started <- in.X
		<-ctx.Done()
		return 0, ctx.Err()
	})
}

// startedOn is how many of the blocking task runs start before the cancel:
// Local runs one at a time; Parallel(4) runs up to four.
func startedOn(ex runner.Executor, ready int) int {
	if ex == runner.Local() {
		return 1
	}
	return min(ready, 4)
}

func TestCancelWhileRunning(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		const blockers = 2
		f := flow.New("cancel")
		started := make(chan int, blockers)
		var calls, afterCalls atomic.Int32
		var refs []flow.Ref
		for i := range blockers {
			refs = append(refs, flow.Add(f, blockingTask("block", started, &calls), flow.Const("x", i)))
		}
		after := flow.Add(f, valueTask("after", 1, &afterCalls), flow.After(refs...))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := startRun(ctx, f, runner.WithExecutor(ex))
		want := startedOn(ex, blockers)
		awaitSignals(t, started, want)
		cancel()
		fs := awaitRun(t, done)

		wantState(t, "flow", fs.State, state.Cancelled, state.MsgFlowCancelled)
		if int(calls.Load()) != want || afterCalls.Load() != 0 {
			t.Errorf("blocking task ran %d times, after %d; want %d and 0", calls.Load(), afterCalls.Load(), want)
		}
		for i, ref := range refs {
			st := fs.Of(ref)
			if i < want {
				wantState(t, fmt.Sprintf("running task %d", i), st, state.Cancelled, state.MsgTaskCancelled)
				if !errors.Is(st.Err, context.Canceled) {
					t.Errorf("running task %d: Err = %v, want context.Canceled", i, st.Err)
				}
			} else {
				wantState(t, fmt.Sprintf("task %d", i), st, state.Cancelled, "Flow run was cancelled before this task started.")
			}
		}
		wantState(t, "after", fs.Of(after), state.Cancelled, "Flow run was cancelled before this task started.")
	})
}

func TestCancelMappedChildren(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		const n = 8
		f := flow.New("cancel-map")
		started := make(chan int, n)
		var calls atomic.Int32
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i
		}
		m := flow.Map(f, blockingTask("block", started, &calls), flow.Const("x", xs))
		after := flow.Add(f, sumTask("sum"), flow.Bind("values", m))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := startRun(ctx, f, runner.WithExecutor(ex))
		want := startedOn(ex, n)
		awaitSignals(t, started, want)
		cancel()
		fs := awaitRun(t, done)

		wantState(t, "flow", fs.State, state.Cancelled, state.MsgFlowCancelled)
		st := fs.Of(m)
		wantKind(t, "mapped", st, state.Cancelled)
		if len(st.Children) != n {
			t.Fatalf("%d children, want %d", len(st.Children), n)
		}
		for j, c := range st.Children {
			if j < want {
				wantState(t, fmt.Sprintf("child %d", j), c, state.Cancelled, state.MsgTaskCancelled)
			} else {
				wantState(t, fmt.Sprintf("child %d", j), c, state.Cancelled, state.MsgNotStarted)
			}
		}
		if int(calls.Load()) != want {
			t.Errorf("%d children ran, want %d", calls.Load(), want)
		}
		wantState(t, "sum", fs.Of(after), state.Cancelled, state.MsgNotStarted)
	})
}

func TestCancelPendingRetry(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("cancel-retry")
		var calls, afterCalls atomic.Int32
		// ok runs first (flaky waits for it), so it has surely finished when
		// the runner waits for flaky's retry.
		ok := flow.Add(f, valueTask("ok", 1, &afterCalls))
		n := flow.Add(f, failingTask("flaky", &calls, task.WithRetries(3, time.Hour)), flow.After(ok))
		after := flow.Add(f, double("after"), flow.Bind("x", n))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := startRun(ctx, f, runner.WithExecutor(ex))
		// A nanosecond short of the retry's hour, the runner still waits:
		// the bubble's goroutines are all blocked, the retry not run.
		time.Sleep(time.Hour - time.Nanosecond)
		synctest.Wait()
		if calls.Load() != 1 {
			t.Fatalf("the task ran %d times before its retry delay was over, want 1", calls.Load())
		}
		cancel()
		o := <-done // in a bubble, a run that never returns fails as a deadlock
		if o.err != nil {
			t.Fatalf("Run: %v", o.err)
		}
		fs := o.fs

		wantState(t, "flow", fs.State, state.Cancelled, state.MsgFlowCancelled)
		st := fs.Of(n)
		wantState(t, "flaky", st, state.Cancelled, state.MsgNotStarted)
		if st.RunCount != 1 || calls.Load() != 1 {
			t.Errorf("RunCount %d, calls %d; want 1 (the retry never ran)", st.RunCount, calls.Load())
		}
		wantState(t, "after", fs.Of(after), state.Cancelled, state.MsgNotStarted)
		// A task that finished keeps its state.
		wantResult(t, fs, ok, 1)
	})
}

func TestCancelBeforeStart(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("cancel-early")
		var calls atomic.Int32
		p := flow.Parameter(f, "n", flow.WithDefault(1))
		a := flow.Add(f, valueTask("a", 1, &calls))
		b := flow.Add(f, double("b"), flow.Bind("x", p), flow.After(a))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		fs, err := runner.Run(ctx, f, runner.WithExecutor(ex))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		wantState(t, "flow", fs.State, state.Cancelled, state.MsgFlowCancelled)
		if calls.Load() != 0 {
			t.Errorf("a task ran %d times in a cancelled run", calls.Load())
		}
		wantState(t, "a", fs.Of(a), state.Cancelled, state.MsgNotStarted)
		wantState(t, "b", fs.Of(b), state.Cancelled, state.MsgNotStarted)
	})
}

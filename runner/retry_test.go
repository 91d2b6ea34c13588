package runner_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// flakyTask fails on its first failures runs, then returns its run count.
// It records the run count it saw on each call.
func flakyTask(name string, failures int, counts *[]int, mu *sync.Mutex, opts ...task.Option) *task.Task[task.None, int] {
	return task.New(name, func(ctx context.Context, _ task.None) (int, error) {
		rc, ok := runner.FromContext(ctx)
		if !ok {
			return 0, errors.New("no run context")
		}
		mu.Lock()
		*counts = append(*counts, rc.TaskRunCount)
		mu.Unlock()
		if rc.TaskRunCount <= failures {
			return 0, errBoom
		}
		return rc.TaskRunCount, nil
	}, opts...)
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("retry")
		var mu sync.Mutex
		var counts []int
		var log transitionLog
		n := flow.Add(f, flakyTask("flaky", 2, &counts, &mu,
			task.WithRetries(3, time.Minute), task.WithStateHandlers(log.handler)))
		d := flow.Add(f, double("d"), flow.Bind("x", n))
		start := time.Now()

		fs := runFlow(t, ex, f)
		st := fs.Of(n)
		wantState(t, "flaky", st, state.Success, state.MsgTaskSucceeded)
		if st.RunCount != 3 {
			t.Errorf("RunCount = %d, want 3", st.RunCount)
		}
		wantResult(t, fs, n, 3)
		wantResult(t, fs, d, 6)
		if !reflect.DeepEqual(counts, []int{1, 2, 3}) {
			t.Errorf("TaskRunCount per call = %v, want [1 2 3]", counts)
		}
		if got := time.Since(start); got != 2*time.Minute {
			t.Errorf("the run took %v, want 2m (two retry delays)", got)
		}
		wantKinds := []string{
			"Pending->Running", "Running->Retrying",
			"Retrying->Running", "Running->Retrying",
			"Retrying->Running", "Running->Success",
		}
		if got := log.kinds(); !reflect.DeepEqual(got, wantKinds) {
			t.Errorf("transitions = %v, want %v", got, wantKinds)
		}
		trs := log.transitions()
		if len(trs) == len(wantKinds) {
			for i, want := range map[int]string{1: "Retrying Task (after attempt 1 of 4)", 3: "Retrying Task (after attempt 2 of 4)"} {
				if got := trs[i].New.Message; got != want {
					t.Errorf("transition %d message = %q, want %q", i, got, want)
				}
			}
			r := trs[1].New
			if !errors.Is(r.Err, errBoom) {
				t.Errorf("Retrying state Err = %v, want errBoom", r.Err)
			}
			if want := start.Add(time.Minute); !r.StartTime.Equal(want) {
				t.Errorf("Retrying StartTime = %v, want %v (one retry delay later)", r.StartTime, want)
			}
			if trs[2].New.RunCount != 2 || trs[4].New.RunCount != 3 {
				t.Errorf("Running run counts = %d, %d; want 2, 3", trs[2].New.RunCount, trs[4].New.RunCount)
			}
		}
	})
}

func TestRetryExhausted(t *testing.T) {
	tests := []struct {
		name    string
		fn      func(context.Context, task.None) (int, error)
		max     int
		wantMsg string
	}{
		{"error", func(context.Context, task.None) (int, error) { return 0, errBoom }, 2,
			"Error during execution of task: boom"},
		{"Fail signal", func(context.Context, task.None) (int, error) { return 0, task.Fail("bad rows") }, 1,
			"bad rows"},
		{"panic", func(context.Context, task.None) (int, error) { panic("oops") }, 1,
			"Error during execution of task: panic: oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("exhaust")
				var calls atomic.Int32
				n := flow.Add(f, task.New("always", func(ctx context.Context, in task.None) (int, error) {
					calls.Add(1)
					return tt.fn(ctx, in)
				}, task.WithRetries(tt.max, time.Minute)))
				start := time.Now()
				fs := runFlow(t, ex, f)
				st := fs.Of(n)
				wantState(t, "always", st, state.Failed, tt.wantMsg)
				if st.RunCount != tt.max+1 || int(calls.Load()) != tt.max+1 {
					t.Errorf("RunCount %d, calls %d; want %d", st.RunCount, calls.Load(), tt.max+1)
				}
				if got, want := time.Since(start), time.Duration(tt.max)*time.Minute; got != want {
					t.Errorf("the run took %v, want %v", got, want)
				}
				wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
			})
		})
	}
}

func TestRetryMappedChildren(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("retry-children")
		var mu sync.Mutex
		calls := map[int]int{}
		m := flow.Map(f, task.New("flaky", func(ctx context.Context, in argX) (int, error) {
			rc, _ := runner.FromContext(ctx)
			mu.Lock()
			calls[rc.MapIndex]++
			mu.Unlock()
			// Child i fails on its first i runs.
			if rc.TaskRunCount <= rc.MapIndex {
				return 0, errBoom
			}
			return in.X * 10, nil
		}, task.WithRetries(2, time.Minute)), flow.Const("x", []int{0, 1, 2, 3}))
		total := flow.Add(f, sumTask("sum"), flow.Bind("values", m))

		fs := runFlow(t, ex, f)
		st := fs.Of(m)
		if len(st.Children) != 4 {
			t.Fatalf("%d children, want 4", len(st.Children))
		}
		for i, want := range []struct {
			kind state.Kind
			runs int
		}{{state.Success, 1}, {state.Success, 2}, {state.Success, 3}, {state.Failed, 3}} {
			c := st.Children[i]
			wantKind(t, "child", c, want.kind)
			if c.RunCount != want.runs || calls[i] != want.runs {
				t.Errorf("child %d: RunCount %d, calls %d; want %d", i, c.RunCount, calls[i], want.runs)
			}
		}
		wantKind(t, "sum", fs.Of(total), state.TriggerFailed)
		if res, _ := st.Result.([]int); !reflect.DeepEqual(res, []int{0, 10, 20, 0}) {
			t.Errorf("mapped result = %#v, want [0 10 20 0]", st.Result)
		}
		wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
	})
}

func TestRetryWaitsForTheDelayOnTheClock(t *testing.T) {
	// Two retrying tasks one after the other: the runner waits on the clock
	// for each retry delay, once, and for nothing else.
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("delays")
		var mu sync.Mutex
		var c1, c2 []int
		a := flow.Add(f, flakyTask("a", 1, &c1, &mu, task.WithRetries(1, time.Minute)))
		b := flow.Add(f, flakyTask("b", 1, &c2, &mu, task.WithRetries(1, 5*time.Minute)), flow.After(a))
		clock := &recordingClock{}
		fs := runFlow(t, ex, f, runner.WithClock(clock))
		wantResult(t, fs, a, 2)
		wantResult(t, fs, b, 2)
		clock.mu.Lock()
		waits := append([]time.Duration(nil), clock.waits...)
		clock.mu.Unlock()
		if want := []time.Duration{time.Minute, 5 * time.Minute}; !reflect.DeepEqual(waits, want) {
			t.Errorf("the runner waited %v on the clock, want %v", waits, want)
		}
	})
}

func TestTimeouts(t *testing.T) {
	const short = 20 * time.Millisecond
	waitForDeadline := func(ctx context.Context, _ task.None) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	tests := []struct {
		name     string
		fn       func(ctx context.Context, in task.None) (int, error)
		opts     []task.Option
		wantKind state.Kind
		wantMsg  string
		wantRuns int
	}{
		{"times out", waitForDeadline, []task.Option{task.WithTimeout(short)},
			state.TimedOut, "Task timed out during execution.", 1},
		{"ignores the error it returns after the deadline", func(ctx context.Context, _ task.None) (int, error) {
			<-ctx.Done()
			return 1, nil
		}, []task.Option{task.WithTimeout(short)}, state.TimedOut, "Task timed out during execution.", 1},
		{"fast task", func(context.Context, task.None) (int, error) { return 1, nil },
			[]task.Option{task.WithTimeout(time.Minute)}, state.Success, state.MsgTaskSucceeded, 1},
		{"retries a timeout", func(ctx context.Context, in task.None) (int, error) {
			if rc, _ := runner.FromContext(ctx); rc.TaskRunCount == 1 {
				return waitForDeadline(ctx, in)
			}
			return 1, nil
		}, []task.Option{task.WithTimeout(short), task.WithRetries(1, time.Minute)}, state.Success, state.MsgTaskSucceeded, 2},
		{"times out after its retries", waitForDeadline,
			[]task.Option{task.WithTimeout(short), task.WithRetries(1, time.Minute)}, state.TimedOut, "Task timed out during execution.", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("timeouts")
				var calls atomic.Int32
				n := flow.Add(f, task.New("t", func(ctx context.Context, in task.None) (int, error) {
					calls.Add(1)
					return tt.fn(ctx, in)
				}, tt.opts...))
				other := flow.Add(f, valueTask("other", 2, nil))
				fs := runFlow(t, ex, f)
				st := fs.Of(n)
				wantState(t, "t", st, tt.wantKind, tt.wantMsg)
				if st.RunCount != tt.wantRuns || int(calls.Load()) != tt.wantRuns {
					t.Errorf("RunCount %d, calls %d; want %d", st.RunCount, calls.Load(), tt.wantRuns)
				}
				if tt.wantKind == state.TimedOut {
					if !errors.Is(st.Err, context.DeadlineExceeded) {
						t.Errorf("Err = %v, want one matching context.DeadlineExceeded", st.Err)
					}
					if !st.IsFailed() {
						t.Error("TimedOut does not count as failed")
					}
					wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
				}
				wantResult(t, fs, other, 2)
			})
		})
	}
}

package runner_test

// Regression tests for the fixes of the second review (commit "Fixes from
// the second review").

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// regGuard returns a context bounding how long a test waits for something
// that a correct runner does at once (testwait.Context). It only turns a
// hang into a failure; no test relies on it for ordering.
func regGuard(t *testing.T) context.Context { return testwait.Context(t) }

// regLocalStore returns a result store over a fresh temporary folder.
func regLocalStore(t *testing.T) *result.Local {
	t.Helper()
	store, err := result.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// regWithoutResults returns st as if it had been loaded from disk: every
// Result (its own and its children's) is dropped, Locations are kept. st
// itself is left untouched.
func regWithoutResults(st state.State) state.State {
	st.Result = nil
	if st.Children != nil {
		children := make([]state.State, len(st.Children))
		for j, c := range st.Children {
			children[j] = regWithoutResults(c)
		}
		st.Children = children
	}
	return st
}

// regNoPanic runs fn and fails the test, instead of crashing the test
// binary, if it panics.
func regNoPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v", what, p)
		}
	}()
	fn()
}

// regRestart is runner.Restart that fails the test if the run cannot start.
func regRestart(t *testing.T, ctx context.Context, f *flow.Flow, prev *runner.FlowState, opts ...runner.Option) *runner.FlowState {
	t.Helper()
	fs, err := runner.Restart(ctx, f, prev, opts...)
	if err != nil {
		t.Fatalf("Restart: %v", err)
	}
	return fs
}

// 1. A Mapped state restored from checkpoints rebuilds its result from its
// children's locations.
func TestRegressRestoreMappedFromCheckpoints(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		store := regLocalStore(t)
		f := flow.New("restore-mapped")
		var numsCalls, squareCalls, sumCalls atomic.Int32
		nums := flow.Add(f, valueTask("nums", []int{1, 2, 3, 4}, &numsCalls))
		sq := flow.Map(f, task.New("square", func(_ context.Context, in argX) (int, error) {
			squareCalls.Add(1)
			return in.X * in.X, nil
		}), flow.Bind("x", nums))
		total := flow.Add(f, task.New("sum", func(_ context.Context, in argValues) (int, error) {
			sumCalls.Add(1)
			s := 0
			for _, v := range in.Values {
				s += v
			}
			return s, nil
		}), flow.Bind("values", sq))
		opts := []runner.Option{runner.WithCheckpointing(true), runner.WithResultStore(store)}

		first := runFlow(t, ex, f, opts...)
		wantState(t, "first run", first.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, first, total, 30)
		sqState := first.Of(sq)
		if sqState.Kind != state.Mapped || len(sqState.Children) != 4 {
			t.Fatalf("square: %v with %d children, want Mapped with 4", sqState, len(sqState.Children))
		}
		for j, c := range sqState.Children {
			if c.Location == "" {
				t.Fatalf("square[%d] has no Location: %v", j, c)
			}
		}
		if first.Of(nums).Location == "" {
			t.Fatal("nums has no Location")
		}

		given := map[string]state.State{}
		for i, st := range first.Tasks {
			if slug := first.Graph.Tasks[i].Slug; slug != total.Slug() {
				given[slug] = regWithoutResults(st)
			}
		}
		if given[sq.Slug()].Result != nil || given[sq.Slug()].Children[0].Result != nil {
			t.Fatal("the given states still carry results")
		}

		second := runFlow(t, ex, f, append(opts, runner.WithTaskStates(given))...)
		wantState(t, "second run", second.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, second, total, 30)
		wantSlice(t, second, sq, []int{1, 4, 9, 16})
		wantKind(t, "square", second.Of(sq), state.Mapped)
		if n, s, m := numsCalls.Load(), squareCalls.Load(), sumCalls.Load(); n != 1 || s != 4 || m != 2 {
			t.Errorf("calls nums %d, square %d, sum %d; want 1, 4, 2: only sum runs again", n, s, m)
		}
	})
}

// 2. A cache hit is checkpointed, and the hit does not extend the cache
// entry's expiry.
func TestRegressCacheHitIsCheckpointed(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		store := regLocalStore(t)
		f := flow.New("cache-ckpt")
		var calls atomic.Int32
		n := flow.Add(f, valueTask("expensive", 42, &calls, task.WithCacheFor(time.Hour)))
		d := flow.Add(f, double("d"), flow.Bind("x", n))
		opts := []runner.Option{runner.WithCheckpointing(true), runner.WithResultStore(store)}

		// t0: the task runs and fills the cache, which expires at t0+60m.
		first := runFlow(t, ex, f, opts...)
		wantState(t, "first run", first.Of(n), state.Success, state.MsgTaskSucceeded)
		if first.Of(n).Location == "" {
			t.Error("first run: the task has no Location")
		}

		// t0+50m: a hit, checkpointed in this run.
		time.Sleep(50 * time.Minute)
		second := runFlow(t, ex, f, opts...)
		hit := second.Of(n)
		wantState(t, "cache hit", hit, state.Cached, state.MsgCachedResult)
		wantResult(t, second, n, 42)
		wantResult(t, second, d, 84)
		if hit.Location == "" {
			t.Error("the cache hit has no Location: it was not checkpointed")
		} else {
			if got := readJSON[int](t, store, hit.Location); got != 42 {
				t.Errorf("checkpoint of the cache hit = %v, want 42", got)
			}
			if !strings.Contains(hit.Location, second.FlowRunID.String()) {
				t.Errorf("the cache hit's Location %q is not in its own run's checkpoints", hit.Location)
			}
		}
		if calls.Load() != 1 {
			t.Errorf("the task ran %d times, want 1", calls.Load())
		}

		// t0+70m: the entry expired at t0+60m; the hit at t0+50m must not
		// have pushed that to t0+110m.
		time.Sleep(20 * time.Minute)
		third := runFlow(t, ex, f, opts...)
		wantState(t, "run after expiry", third.Of(n), state.Success, state.MsgTaskSucceeded)
		wantResult(t, third, n, 42)
		if calls.Load() != 2 {
			t.Errorf("the task ran %d times in all, want 2: the cache hit extended the entry's expiry", calls.Load())
		}
	})
}

// 3. A restart takes the parameters given to it, not the earlier run's.
func TestRegressRestartWithNewParameters(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("restart-params")
		n := flow.Parameter[int](f, "n")
		var calls atomic.Int32
		var seen atomic.Int64
		b := flow.Add(f, task.New("b", func(ctx context.Context, in argX) (int, error) {
			if rc, ok := runner.FromContext(ctx); ok {
				if v, ok := rc.Parameters["n"].(int); ok {
					seen.Store(int64(v))
				}
			}
			if calls.Add(1) == 1 {
				return 0, errBoom // fails on the first run only
			}
			return in.X * 2, nil
		}), flow.Bind("x", n))

		first := runFlow(t, ex, f, runner.WithParameters(map[string]any{"n": 5}))
		wantState(t, "first run", first.State, state.Failed, state.MsgFlowFailed)
		wantResult(t, first, n, 5)

		second := regRestart(t, context.Background(), f, first,
			runner.WithExecutor(ex), runner.WithParameters(map[string]any{"n": 100}))
		wantState(t, "restarted run", second.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, second, n, 100)
		wantResult(t, second, b, 200)
		if got := seen.Load(); got != 100 {
			t.Errorf("the run context's parameter n = %d, want 100", got)
		}
	})
}

// regPanicky is a result whose JSON encoding panics.
type regPanicky struct{ V int }

func (regPanicky) MarshalJSON() ([]byte, error) { panic("cannot encode regPanicky") }

// 4. A panic outside the task function (here, while checkpointing its
// result) fails the task run and nothing else.
func TestRegressPanicInMarshalJSON(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("marshal-panic")
		bad := flow.Add(f, valueTask("bad", regPanicky{1}, nil))
		var afterCalls atomic.Int32
		after := flow.Add(f, valueTask("after-bad", 0, &afterCalls), flow.After(bad))
		one := flow.Add(f, valueTask("one", 21, nil))
		two := flow.Add(f, double("two"), flow.Bind("x", one))

		fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex), runner.WithCheckpointing(true))
		if err != nil {
			t.Fatalf("Run returned an error instead of failing the task: %v", err)
		}
		st := fs.Of(bad)
		wantKind(t, "bad", st, state.Failed)
		var pe *runner.PanicError
		if !errors.As(st.Err, &pe) {
			t.Fatalf("Err = %#v, want a *runner.PanicError", st.Err)
		}
		if pe.Value != "cannot encode regPanicky" {
			t.Errorf("PanicError.Value = %v", pe.Value)
		}
		if !strings.Contains(st.Message, "cannot encode regPanicky") {
			t.Errorf("message %q does not carry the panic value", st.Message)
		}
		wantKind(t, "after-bad", fs.Of(after), state.TriggerFailed)
		if afterCalls.Load() != 0 {
			t.Error("the task downstream of the failed one ran")
		}
		wantResult(t, fs, one, 21)
		wantResult(t, fs, two, 42)
		if fs.Of(two).Location == "" {
			t.Error("two was not checkpointed")
		}
		wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
	})
}

// 5. A freed tag slot is not left idle while a waiter that could use it
// waits: W (tag A) runs while Y (tag B) is still blocked, though Z (tags A,
// B), ahead of W in the queue, cannot run until Y is done.
func TestRegressTagLimitFreedSlotNotIdle(t *testing.T) {
	f := flow.New("tag-slots")
	release := make(chan struct{})
	wStarted := make(chan struct{})
	var zEarly atomic.Bool
	y := flow.Add(f, task.New("Y", func(ctx context.Context, _ task.None) (int, error) {
		select {
		case <-release:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, task.WithTags("B")))
	x := flow.Add(f, valueTask("X", 2, nil, task.WithTags("A")))
	z := flow.Add(f, task.New("Z", func(context.Context, task.None) (int, error) {
		select {
		case <-release:
		default:
			zEarly.Store(true) // Y still holds B: the limit on B was broken
		}
		return 3, nil
	}, task.WithTags("A", "B")))
	w := flow.Add(f, task.New("W", func(context.Context, task.None) (int, error) {
		close(wStarted)
		return 4, nil
	}, task.WithTags("A")))

	ctx, cancel := context.WithCancel(regGuard(t))
	defer cancel()
	done := startRun(ctx, f, runner.WithExecutor(runner.Parallel(4)),
		runner.WithTagLimit("A", 1), runner.WithTagLimit("B", 1))
	select {
	case <-wStarted:
	case <-regGuard(t).Done():
		t.Error("W did not start while Y was blocked: the slot X freed on tag A stayed idle")
	}
	close(release)
	fs := awaitRun(t, done)
	wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
	wantResult(t, fs, y, 1)
	wantResult(t, fs, x, 2)
	wantResult(t, fs, z, 3)
	wantResult(t, fs, w, 4)
	if zEarly.Load() {
		t.Error("Z ran while Y held the only slot of tag B")
	}
}

// 5b. A tag given twice takes one slot, not two. (The limit-1 case also
// passed before the fix, which counted the tag twice on both sides; it
// guards against the count and the release disagreeing. The limit-2 case
// fails with the tag counted twice.)
func TestRegressDuplicateTagTakesOneSlot(t *testing.T) {
	t.Run("limit 1", func(t *testing.T) {
		eachExecutor(t, func(t *testing.T, ex runner.Executor) {
			f := flow.New("dup-tag")
			a := flow.Add(f, valueTask("a", 1, nil, task.WithTags("db", "db")))
			m := flow.Map(f, double("m", task.WithTags("db", "db")), flow.Const("x", []int{1, 2, 3}))
			ctx, cancel := context.WithCancel(regGuard(t))
			defer cancel()
			fs, err := runner.Run(ctx, f, runner.WithExecutor(ex), runner.WithTagLimit("db", 1))
			if err != nil {
				t.Fatal(err)
			}
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			wantResult(t, fs, a, 1)
			wantSlice(t, fs, m, []int{2, 4, 6})
		})
	})
	t.Run("limit 2 lets two such tasks run at once", func(t *testing.T) {
		// Both tasks wait at a barrier for each other: they finish only if
		// they run at the same time, which a limit of 2 allows unless each
		// takes two slots.
		f := flow.New("dup-tag-2")
		b := newGroupBarrier(2, 2)
		meet := task.New("meet", func(ctx context.Context, in argX) (int, error) {
			if err := b.wait(ctx); err != nil {
				return 0, err
			}
			return in.X, nil
		}, task.WithTags("db", "db"))
		p := flow.Add(f, meet, flow.Const("x", 1))
		q := flow.Add(f, meet, flow.Const("x", 2))
		ctx, cancel := context.WithCancel(regGuard(t))
		defer cancel()
		fs, err := runner.Run(ctx, f, runner.WithExecutor(runner.Parallel(4)), runner.WithTagLimit("db", 2))
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, fs, p, 1)
		wantResult(t, fs, q, 2)
	})
}

// 6. A root task's trigger is consulted: manual_only pauses it.
func TestRegressRootManualOnly(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("root-manual")
		var calls, deployCalls atomic.Int32
		approve := flow.Add(f, valueTask("approve", 7, &calls, task.WithTrigger(task.ManualOnly)))
		deploy := flow.Add(f, task.New("deploy", func(_ context.Context, in argX) (int, error) {
			deployCalls.Add(1)
			return in.X * 2, nil
		}), flow.Bind("x", approve))

		fs := runFlow(t, ex, f)
		wantState(t, "approve", fs.Of(approve), state.Paused, `Trigger function is "manual_only"`)
		wantState(t, "deploy", fs.Of(deploy), state.Pending, state.MsgWaitingOnPaused)
		wantState(t, "flow", fs.State, state.Paused, state.MsgFlowPaused)
		if calls.Load() != 0 || deployCalls.Load() != 0 {
			t.Fatalf("paused tasks ran: approve %d, deploy %d", calls.Load(), deployCalls.Load())
		}

		resumed := regRestart(t, context.Background(), f, fs, runner.WithExecutor(ex), runner.WithResume(approve.Slug()))
		wantState(t, "resumed flow", resumed.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, resumed, approve, 7)
		wantResult(t, resumed, deploy, 14)
		if calls.Load() != 1 || deployCalls.Load() != 1 {
			t.Errorf("calls approve %d, deploy %d; want 1 each", calls.Load(), deployCalls.Load())
		}

		// A fresh run resumed from the start runs it too.
		fresh := runFlow(t, ex, f, runner.WithResume(approve.Slug()))
		wantState(t, "fresh resumed flow", fresh.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, fresh, deploy, 14)
	})
}

// 7. A signal for a state no signal may ask for fails the task.
func TestRegressInvalidSignalKind(t *testing.T) {
	for _, kind := range []state.Kind{state.Running, state.Pending, state.Scheduled, state.Mapped, state.Cached, state.Cancelled, state.TimedOut} {
		t.Run(kind.String(), func(t *testing.T) {
			eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("bad-signal")
				var calls atomic.Int32
				n := flow.Add(f, task.New("signal", func(context.Context, task.None) (int, error) {
					calls.Add(1)
					return 0, &task.Signal{Kind: kind, Message: "x"}
				}))
				after := flow.Add(f, double("after"), flow.Bind("x", n))
				fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex)) // in a bubble: a hang fails as a deadlock
				if err != nil {
					t.Fatal(err)
				}
				st := fs.Of(n)
				wantKind(t, "signal", st, state.Failed)
				if !strings.HasPrefix(st.Message, "Error during execution of task: ") {
					t.Errorf("message %q is not Prefect's failure message", st.Message)
				}
				for _, s := range []string{kind.String(), "task.Fail", "task.Skip", "task.Retry", "task.Succeed", "task.Pause"} {
					if !strings.Contains(st.Message, s) {
						t.Errorf("message %q does not mention %s", st.Message, s)
					}
				}
				if st.Err == nil {
					t.Error("the failed state has no Err")
				}
				if calls.Load() != 1 {
					t.Errorf("the task ran %d times, want 1", calls.Load())
				}
				wantKind(t, "after", fs.Of(after), state.TriggerFailed)
				wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
			})
		})
	}
}

// regCancelledMap runs, on ex, a flow whose mapped task square over 0..5 has
// children 0-2 succeed while children 3-5 block until the run is cancelled
// (on Local, only 3 starts); it cancels the run once 0-2 have returned and 3
// has started, and returns the flow, its nodes, the cancelled run and a
// counter of calls per index, reset for the next run.
func regCancelledMap(t *testing.T, ex runner.Executor) (*flow.Flow, flow.Node[[]int], flow.Node[int], *runner.FlowState, *[6]atomic.Int32) {
	t.Helper()
	f := flow.New("restart-cancelled-map")
	calls := new([6]atomic.Int32)
	var firstRun atomic.Bool
	firstRun.Store(true)
	// started hears from children 3-5 as they block; finished from
	// children 0-2 as they return.
	started, finished := make(chan int, 6), make(chan int, 6)
	sq := flow.Map(f, task.New("square", func(ctx context.Context, in argX) (int, error) {
		calls[in.X].Add(1)
		if firstRun.Load() {
			if in.X >= 3 {
				started <- in.X
				<-ctx.Done()
				return 0, ctx.Err()
			}
			finished <- in.X
		}
		return in.X * in.X, nil
	}), flow.Const("x", []int{0, 1, 2, 3, 4, 5}))
	total := flow.Add(f, sumTask("sum"), flow.Bind("values", sq))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startRun(ctx, f, runner.WithExecutor(ex))
	// Cancel once children 0-2 have returned and child 3 is running (on
	// Parallel, 4 and 5 may be running too).
	for got, child3 := 0, false; got < 3 || !child3; {
		select {
		case <-finished:
			got++
		case i := <-started:
			child3 = child3 || i == 3
		case <-regGuard(t).Done():
			cancel()
			awaitRun(t, done)
			t.Fatalf("children 0-2 did not all return (%d did) or child 3 never started (%v)", got, child3)
		}
	}
	cancel()
	first := awaitRun(t, done)
	firstRun.Store(false)

	wantState(t, "cancelled run", first.State, state.Cancelled, state.MsgFlowCancelled)
	st := first.Of(sq)
	if len(st.Children) != 6 {
		t.Fatalf("square: %v with %d children, want 6", st, len(st.Children))
	}
	for j, c := range st.Children {
		if j < 3 {
			wantState(t, fmt.Sprintf("square[%d]", j), c, state.Success, state.MsgTaskSucceeded)
		} else {
			wantKind(t, fmt.Sprintf("square[%d]", j), c, state.Cancelled)
		}
	}
	for j := range 3 {
		if got := calls[j].Load(); got != 1 {
			t.Fatalf("square[%d] ran %d times in the cancelled run, want 1", j, got)
		}
	}
	for j := range calls {
		calls[j].Store(0)
	}
	return f, sq, total, first, calls
}

// 8. A restart after a cancellation reruns only the mapped children that
// did not succeed.
func TestRegressRestartAfterCancelledMap(t *testing.T) {
	check := func(t *testing.T, fs *runner.FlowState, sq flow.Node[[]int], total flow.Node[int], calls *[6]atomic.Int32) {
		t.Helper()
		wantState(t, "restarted run", fs.State, state.Success, state.MsgFlowSucceeded)
		wantSlice(t, fs, sq, []int{0, 1, 4, 9, 16, 25})
		wantResult(t, fs, total, 55)
		var got [6]int32
		for j := range calls {
			got[j] = calls[j].Load()
		}
		if got != [6]int32{0, 0, 0, 1, 1, 1} {
			t.Errorf("calls per index in the restart = %v, want [0 0 0 1 1 1]: only the children that did not succeed run again", got)
		}
	}
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("Restart", func(t *testing.T) {
			f, sq, total, first, calls := regCancelledMap(t, ex)
			second := regRestart(t, context.Background(), f, first, runner.WithExecutor(ex))
			check(t, second, sq, total, calls)
		})
		t.Run("WithTaskStates", func(t *testing.T) {
			f, sq, total, first, calls := regCancelledMap(t, ex)
			given := map[string]state.State{sq.Slug(): first.Of(sq)}
			second := runFlow(t, ex, f, runner.WithTaskStates(given))
			check(t, second, sq, total, calls)
		})
	})
}

// 9. Nil arguments are errors or defaults, never panics.
func TestRegressNilArguments(t *testing.T) {
	newFlow := func(calls *atomic.Int32) *flow.Flow {
		f := flow.New("nils")
		flow.Add(f, valueTask("a", 1, calls))
		return f
	}
	t.Run("nil flow", func(t *testing.T) {
		regNoPanic(t, "Run(ctx, nil)", func() {
			fs, err := runner.Run(context.Background(), nil)
			if !errors.Is(err, runner.ErrInvalidRun) || fs != nil {
				t.Errorf("Run(ctx, nil) = %v, %v; want nil and ErrInvalidRun", fs, err)
			}
		})
	})
	for _, tc := range []struct {
		name, want string
		opt        runner.Option
	}{
		{"nil executor", "WithExecutor", runner.WithExecutor(nil)},
		{"nil clock", "WithClock", runner.WithClock(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			f := newFlow(&calls)
			regNoPanic(t, tc.want+"(nil)", func() {
				fs, err := runner.Run(context.Background(), f, tc.opt)
				if !errors.Is(err, runner.ErrInvalidRun) {
					t.Fatalf("err = %v, want ErrInvalidRun", err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not name %s", err, tc.want)
				}
				if fs != nil || calls.Load() != 0 {
					t.Error("the run started")
				}
			})
		})
	}
	t.Run("nil task in the flow", func(t *testing.T) {
		var calls atomic.Int32
		f := newFlow(&calls)
		regNoPanic(t, "running a flow with a nil task", func() {
			flow.Add(f, (*task.Task[task.None, int])(nil))
			fs, err := runner.Run(context.Background(), f)
			if !errors.Is(err, runner.ErrInvalidRun) || !strings.Contains(err.Error(), "nil") {
				t.Errorf("err = %v, want an ErrInvalidRun mentioning nil", err)
			}
			if fs != nil || calls.Load() != 0 {
				t.Error("the run started")
			}
		})
	})
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		// Already true before the fix; kept so that it stays true.
		t.Run("nil logger and nil store take the defaults", func(t *testing.T) {
			var calls atomic.Int32
			f := newFlow(&calls)
			regNoPanic(t, "WithLogger(nil), WithResultStore(nil)", func() {
				fs := runFlow(t, ex, f, runner.WithLogger(nil), runner.WithResultStore(nil), runner.WithCheckpointing(true))
				wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
				st, _ := fs.Task("a-1")
				if st.Result != 1 || st.Location == "" {
					t.Errorf("a: %v (result %v, location %q), want result 1 checkpointed in the default store", st, st.Result, st.Location)
				}
			})
			if calls.Load() != 1 {
				t.Errorf("a ran %d times, want 1", calls.Load())
			}
		})
	})
}

// 10. A task that pauses itself goes on when resumed: the run context says so.
func TestRegressPauseThenResumed(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("pause-resume")
		var prepCalls, gateCalls atomic.Int32
		var downstreamResumed atomic.Bool
		prep := flow.Add(f, valueTask("prepare", 3, &prepCalls))
		gate := flow.Add(f, task.New("gate", func(ctx context.Context, in argX) (int, error) {
			gateCalls.Add(1)
			rc, ok := runner.FromContext(ctx)
			if !ok || !rc.Resumed {
				return 0, task.Pause("waiting for approval")
			}
			return in.X * 10, nil
		}), flow.Bind("x", prep))
		after := flow.Add(f, task.New("after", func(ctx context.Context, in argX) (int, error) {
			if rc, ok := runner.FromContext(ctx); ok && rc.Resumed {
				downstreamResumed.Store(true)
			}
			return in.X + 1, nil
		}), flow.Bind("x", gate))

		first := runFlow(t, ex, f)
		wantState(t, "gate", first.Of(gate), state.Paused, "waiting for approval")
		wantState(t, "after", first.Of(after), state.Pending, state.MsgWaitingOnPaused)
		wantState(t, "first run", first.State, state.Paused, state.MsgFlowPaused)

		second := regRestart(t, context.Background(), f, first, runner.WithExecutor(ex), runner.WithResume(gate.Slug()))
		wantState(t, "resumed run", second.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, second, gate, 30)
		wantResult(t, second, after, 31)
		if prepCalls.Load() != 1 || gateCalls.Load() != 2 {
			t.Errorf("calls prepare %d, gate %d; want 1 and 2", prepCalls.Load(), gateCalls.Load())
		}
		if downstreamResumed.Load() {
			t.Error("a task the run was not told to resume saw Resumed set")
		}
	})
}

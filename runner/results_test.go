package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// readJSON reads the JSON at loc in store into a value of type T.
func readJSON[T any](t *testing.T, store result.Store, loc string) T {
	t.Helper()
	var v T
	data, err := store.Read(context.Background(), loc)
	if err != nil {
		t.Fatalf("reading %q: %v", loc, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %q (%s): %v", loc, data, err)
	}
	return v
}

func TestCheckpointing(t *testing.T) {
	type row struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("on: every result is written at its Location", func(t *testing.T) {
			f := flow.New("ckpt")
			rows := flow.Add(f, valueTask("rows", []row{{1, "ada"}, {2, "grace"}}, nil))
			n := flow.Add(f, task.New("count", func(_ context.Context, in struct {
				Rows []row `prefect:"rows"`
			}) (int, error) {
				return len(in.Rows), nil
			}), flow.Bind("rows", rows))
			m := flow.Map(f, double("double"), flow.Const("x", []int{5, 6}))
			store := result.NewMemory()

			fs := runFlow(t, ex, f, runner.WithCheckpointing(true), runner.WithResultStore(store))
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			for _, ref := range []flow.Ref{rows, n} {
				if fs.Of(ref).Location == "" {
					t.Errorf("%s has no Location", fs.Graph.Tasks[ref.ID()].Slug)
				}
			}
			if got := readJSON[[]row](t, store, fs.Of(rows).Location); len(got) != 2 || got[1] != (row{2, "grace"}) {
				t.Errorf("checkpoint of rows = %v", got)
			}
			if got := readJSON[int](t, store, fs.Of(n).Location); got != 2 {
				t.Errorf("checkpoint of count = %v, want 2", got)
			}
			if a, b := fs.Of(rows).Location, fs.Of(n).Location; a == b {
				t.Errorf("two tasks share the location %q", a)
			}
			if loc := fs.Of(n).Location; !strings.Contains(loc, fs.FlowRunID.String()) || !strings.Contains(loc, "count-1") {
				t.Errorf("location %q does not name the flow run and the task", loc)
			}
			for j, c := range fs.Of(m).Children {
				if c.Location == "" {
					t.Errorf("child %d has no Location", j)
					continue
				}
				if got := readJSON[int](t, store, c.Location); got != 10+2*j {
					t.Errorf("checkpoint of child %d = %v, want %d", j, got, 10+2*j)
				}
			}
		})
		t.Run("a task opts out", func(t *testing.T) {
			f := flow.New("ckpt")
			kept := flow.Add(f, valueTask("kept", 1, nil))
			secret := flow.Add(f, valueTask("secret", "s3cr3t", nil, task.WithCheckpoint(false)))
			store := result.NewMemory()
			fs := runFlow(t, ex, f, runner.WithCheckpointing(true), runner.WithResultStore(store))
			if fs.Of(kept).Location == "" {
				t.Error("kept has no Location")
			}
			if loc := fs.Of(secret).Location; loc != "" {
				t.Errorf("secret was checkpointed at %q", loc)
			}
			wantResult(t, fs, secret, "s3cr3t")
			guess := strings.Replace(fs.Of(kept).Location, "kept-1", "secret-1", 1)
			if ok, _ := store.Exists(context.Background(), guess); ok {
				t.Errorf("secret's result was written to %q", guess)
			}
		})
		t.Run("a task opts in when the run does not", func(t *testing.T) {
			f := flow.New("ckpt")
			plain := flow.Add(f, valueTask("plain", 1, nil))
			wanted := flow.Add(f, valueTask("wanted", 2, nil, task.WithCheckpoint(true)))
			store := result.NewMemory()
			fs := runFlow(t, ex, f, runner.WithResultStore(store))
			if loc := fs.Of(plain).Location; loc != "" {
				t.Errorf("plain was checkpointed at %q", loc)
			}
			if got := readJSON[int](t, store, fs.Of(wanted).Location); got != 2 {
				t.Errorf("checkpoint of wanted = %v, want 2", got)
			}
		})
		t.Run("off by default", func(t *testing.T) {
			f := flow.New("ckpt")
			a := flow.Add(f, valueTask("a", 1, nil))
			m := flow.Map(f, double("m"), flow.Const("x", []int{1}))
			fs := runFlow(t, ex, f, runner.WithResultStore(result.NewMemory()))
			if loc := fs.Of(a).Location; loc != "" {
				t.Errorf("a was checkpointed at %q with checkpointing off", loc)
			}
			if loc := fs.Of(m).Children[0].Location; loc != "" {
				t.Errorf("a mapped child was checkpointed at %q with checkpointing off", loc)
			}
		})
		t.Run("a result JSON cannot encode", func(t *testing.T) {
			f := flow.New("ckpt")
			ch := flow.Add(f, task.New("channel", func(context.Context, task.None) (chan int, error) {
				return make(chan int), nil
			}))
			fn := flow.Add(f, task.New("func", func(context.Context, task.None) (func(), error) {
				return func() {}, nil
			}))
			fs := runFlow(t, ex, f, runner.WithCheckpointing(true))
			for _, tc := range []struct {
				ref  flow.Ref
				slug string
				typ  string
			}{{ch, "channel-1", "chan int"}, {fn, "func-1", "func()"}} {
				st := fs.Of(tc.ref)
				wantKind(t, tc.slug, st, state.Failed)
				for _, s := range []string{"Error during execution of task: ", tc.slug, "JSON", tc.typ} {
					if !strings.Contains(st.Message, s) {
						t.Errorf("%s: message %q does not mention %q", tc.slug, st.Message, s)
					}
				}
				var je *json.UnsupportedTypeError
				if !errors.As(st.Err, &je) {
					t.Errorf("%s: Err = %v, want it to wrap the *json.UnsupportedTypeError", tc.slug, st.Err)
				}
			}
			wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
		})
	})
}

func TestCaching(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("cache")
		var calls atomic.Int32
		n := flow.Add(f, valueTask("expensive", 42, &calls, task.WithCacheFor(time.Hour)))
		d := flow.Add(f, double("d"), flow.Bind("x", n))
		store := result.NewMemory()
		opts := []runner.Option{runner.WithResultStore(store)}

		first := runFlow(t, ex, f, opts...)
		wantState(t, "first run", first.Of(n), state.Success, state.MsgTaskSucceeded)
		wantResult(t, first, d, 84)

		time.Sleep(59 * time.Minute)
		second := runFlow(t, ex, f, opts...)
		wantState(t, "second run", second.Of(n), state.Cached, state.MsgCachedResult)
		wantResult(t, second, n, 42)
		wantResult(t, second, d, 84)
		if calls.Load() != 1 {
			t.Errorf("the cached task ran %d times, want 1", calls.Load())
		}

		time.Sleep(2 * time.Minute)
		third := runFlow(t, ex, f, opts...)
		wantState(t, "run after expiry", third.Of(n), state.Success, state.MsgTaskSucceeded)
		wantResult(t, third, n, 42)
		if calls.Load() != 2 {
			t.Errorf("the task ran %d times in all, want 2 (once more after the cache expired)", calls.Load())
		}

		// Each run has its own in-memory store by default: no cache to share.
		fresh := runFlow(t, ex, f)
		wantState(t, "run with its own store", fresh.Of(n), state.Success, state.MsgTaskSucceeded)
		if calls.Load() != 3 {
			t.Errorf("the task ran %d times in all, want 3", calls.Load())
		}
	})
}

func TestCachingMappedChildren(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("cache-map")
		var calls atomic.Int32
		m := flow.Map(f, task.New("sq", func(_ context.Context, in argX) (int, error) {
			calls.Add(1)
			return in.X * in.X, nil
		}, task.WithCacheFor(time.Hour)), flow.Const("x", []int{2, 3, 4}))
		opts := []runner.Option{runner.WithResultStore(result.NewMemory())}
		first := runFlow(t, ex, f, opts...)
		second := runFlow(t, ex, f, opts...)
		wantSlice(t, first, m, []int{4, 9, 16})
		wantSlice(t, second, m, []int{4, 9, 16})
		for _, c := range second.Of(m).Children {
			wantState(t, "child", c, state.Cached, state.MsgCachedResult)
		}
		if calls.Load() != 3 {
			t.Errorf("children ran %d times, want 3", calls.Load())
		}
	})
}

func TestRestart(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("restart")
		var aCalls, bCalls, cCalls, dCalls atomic.Int32
		a := flow.Add(f, valueTask("a", 2, &aCalls))
		b := flow.Add(f, task.New("b", func(_ context.Context, in argX) (int, error) {
			if bCalls.Add(1) == 1 {
				return 0, errBoom // fails on the first run only
			}
			return in.X * 10, nil
		}), flow.Bind("x", a))
		c := flow.Add(f, task.New("c", func(_ context.Context, in argX) (int, error) {
			cCalls.Add(1)
			return in.X + 1, nil
		}), flow.Bind("x", b))
		d := flow.Add(f, valueTask("d", 5, &dCalls))

		first := runFlow(t, ex, f)
		wantState(t, "first run", first.State, state.Failed, state.MsgFlowFailed)
		wantKind(t, "b", first.Of(b), state.Failed)
		wantKind(t, "c", first.Of(c), state.TriggerFailed)

		second, err := runner.Restart(context.Background(), f, first, runner.WithExecutor(ex))
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, "restarted run", second.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, second, a, 2)
		wantResult(t, second, b, 20)
		wantResult(t, second, c, 21)
		wantResult(t, second, d, 5)
		calls := [4]int32{aCalls.Load(), bCalls.Load(), cCalls.Load(), dCalls.Load()}
		if calls != [4]int32{1, 2, 1, 1} {
			t.Errorf("calls a, b, c, d = %v, want [1 2 1 1]: only the failed task and its downstream run again", calls)
		}
		if second.FlowRunID == first.FlowRunID {
			t.Error("the restarted run kept the first run's id")
		}
	})
}

func TestRestartMappedWithFailedChild(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("restart-map")
		var calls [3]atomic.Int32
		m := flow.Map(f, task.New("flaky", func(ctx context.Context, in argX) (int, error) {
			rc, _ := runner.FromContext(ctx)
			if calls[rc.MapIndex].Add(1) == 1 && rc.MapIndex == 1 {
				return 0, errBoom // child 1 fails on the first run only
			}
			return in.X * 10, nil
		}), flow.Const("x", []int{1, 2, 3}))
		total := flow.Add(f, sumTask("sum"), flow.Bind("values", m))

		first := runFlow(t, ex, f)
		wantState(t, "first run", first.State, state.Failed, state.MsgFlowFailed)

		second, err := runner.Restart(context.Background(), f, first, runner.WithExecutor(ex))
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, "restarted run", second.State, state.Success, state.MsgFlowSucceeded)
		wantResult(t, second, total, 60)
		if got := calls[1].Load(); got != 2 {
			t.Errorf("the failed child ran %d times in all, want 2", got)
		}
	})
}

func TestWithTaskStates(t *testing.T) {
	build := func(aCalls *atomic.Int32) (*flow.Flow, flow.Node[int], flow.Node[int]) {
		f := flow.New("given")
		a := flow.Add(f, valueTask("a", 21, aCalls))
		b := flow.Add(f, double("b"), flow.Bind("x", a))
		return f, a, b
	}
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("result read back from a Location", func(t *testing.T) {
			dir := t.TempDir()
			store, err := result.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			var aCalls atomic.Int32
			f, a, b := build(&aCalls)
			first := runFlow(t, ex, f, runner.WithCheckpointing(true), runner.WithResultStore(store))
			loc := first.Of(a).Location
			if loc == "" {
				t.Fatal("a has no Location")
			}

			// A new store over the same folder: the result comes from disk.
			again, err := result.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			given := map[string]state.State{a.Slug(): {Kind: state.Success, Location: loc}}
			second := runFlow(t, ex, f, runner.WithTaskStates(given), runner.WithResultStore(again))
			if aCalls.Load() != 1 {
				t.Errorf("a ran %d times, want 1: its given state should be used", aCalls.Load())
			}
			wantResult(t, second, a, 21)
			wantResult(t, second, b, 42)
		})
		t.Run("result given in the state", func(t *testing.T) {
			var aCalls atomic.Int32
			f, a, b := build(&aCalls)
			given := map[string]state.State{a.Slug(): {Kind: state.Success, Result: 4}}
			fs := runFlow(t, ex, f, runner.WithTaskStates(given))
			wantResult(t, fs, b, 8)
			if aCalls.Load() != 0 {
				t.Errorf("a ran %d times", aCalls.Load())
			}
		})
		t.Run("a given failure fails downstream without a run", func(t *testing.T) {
			var aCalls atomic.Int32
			f, a, b := build(&aCalls)
			given := map[string]state.State{a.Slug(): state.New(state.Failed, "failed earlier")}
			fs := runFlow(t, ex, f, runner.WithTaskStates(given))
			wantState(t, "a", fs.Of(a), state.Failed, "failed earlier")
			wantKind(t, "b", fs.Of(b), state.TriggerFailed)
			if aCalls.Load() != 0 {
				t.Errorf("a ran %d times", aCalls.Load())
			}
		})
		t.Run("a Location that cannot be read runs the task again", func(t *testing.T) {
			var aCalls atomic.Int32
			f, a, b := build(&aCalls)
			given := map[string]state.State{a.Slug(): {Kind: state.Success, Location: "given/nowhere/a-1.json"}}
			fs := runFlow(t, ex, f, runner.WithTaskStates(given))
			if aCalls.Load() != 1 {
				t.Errorf("a ran %d times, want 1", aCalls.Load())
			}
			wantResult(t, fs, b, 42)
		})
	})
	t.Run("unknown slug", func(t *testing.T) {
		var aCalls atomic.Int32
		f, _, _ := build(&aCalls)
		given := map[string]state.State{"no-such-task": state.New(state.Success, "")}
		fs, err := runner.Run(context.Background(), f, runner.WithTaskStates(given))
		if !errors.Is(err, runner.ErrInvalidRun) || !strings.Contains(err.Error(), `"no-such-task"`) {
			t.Errorf("err = %v, want an ErrInvalidRun naming \"no-such-task\"", err)
		}
		if fs != nil || aCalls.Load() != 0 {
			t.Error("the run started")
		}
	})
}

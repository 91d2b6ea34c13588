package runner_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// wantSlice fails the test unless n succeeded with the list want.
func wantSlice[T any](t *testing.T, fs *runner.FlowState, n flow.Node[[]T], want []T) {
	t.Helper()
	got, ok := runner.ResultOf(fs, n)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("result of %s = %#v (ok %v, state %v), want %#v", n.Slug(), got, ok, fs.Of(n), want)
	}
}

func TestMapSources(t *testing.T) {
	tests := []struct {
		name string
		src  func(f *flow.Flow) flow.Binding
		opts []runner.Option
	}{
		{"parameter default", func(f *flow.Flow) flow.Binding {
			return flow.Bind("x", flow.Parameter(f, "xs", flow.WithDefault([]int{1, 2, 3})))
		}, nil},
		{"parameter given", func(f *flow.Flow) flow.Binding {
			return flow.Bind("x", flow.Parameter[[]int](f, "xs"))
		}, []runner.Option{runner.WithParameters(map[string]any{"xs": []int{1, 2, 3}})}},
		{"upstream task", func(f *flow.Flow) flow.Binding {
			return flow.Bind("x", flow.Add(f, valueTask("list", []int{1, 2, 3}, nil)))
		}, nil},
		{"constant", func(*flow.Flow) flow.Binding { return flow.Const("x", []int{1, 2, 3}) }, nil},
		{"array", func(*flow.Flow) flow.Binding { return flow.Const("x", [3]int{1, 2, 3}) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("map")
				m := flow.Map(f, double("double"), tt.src(f))
				total := flow.Add(f, sumTask("sum"), flow.Bind("values", m))
				fs := runFlow(t, ex, f, tt.opts...)
				wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
				st := fs.Of(m)
				wantState(t, "double", st, state.Mapped, state.MsgMapped)
				if len(st.Children) != 3 {
					t.Fatalf("%d children, want 3", len(st.Children))
				}
				for j, c := range st.Children {
					wantState(t, fmt.Sprintf("child %d", j), c, state.Success, state.MsgTaskSucceeded)
					if c.Result != 2*(j+1) || c.RunCount != 1 {
						t.Errorf("child %d: result %v, run count %d", j, c.Result, c.RunCount)
					}
				}
				wantSlice(t, fs, m, []int{2, 4, 6})
				wantResult(t, fs, total, 12)
			})
		})
	}
}

func TestMapBindings(t *testing.T) {
	add := func() *task.Task[argXY, int] {
		return task.New("add", func(_ context.Context, in argXY) (int, error) { return in.X + in.Y, nil })
	}
	tests := []struct {
		name  string
		build func(f *flow.Flow) flow.Node[[]int]
		want  []int
	}{
		{"unmapped upstream", func(f *flow.Flow) flow.Node[[]int] {
			ten := flow.Add(f, valueTask("ten", 10, nil))
			xs := flow.Add(f, valueTask("xs", []int{1, 2, 3}, nil))
			return flow.Map(f, add(), flow.Bind("x", xs), flow.Unmapped(flow.Bind("y", ten)))
		}, []int{11, 12, 13}},
		{"unmapped constant list", func(f *flow.Flow) flow.Node[[]int] {
			type in struct {
				X  int   `prefect:"x"`
				Ys []int `prefect:"ys"`
			}
			t := task.New("scale", func(_ context.Context, in in) (int, error) { return in.X * len(in.Ys), nil })
			return flow.Map(f, t, flow.Const("x", []int{1, 2}), flow.Unmapped(flow.Const("ys", []int{7, 7, 7})))
		}, []int{3, 6}},
		{"unmapped mapped upstream", func(f *flow.Flow) flow.Node[[]int] {
			type in struct {
				X  int   `prefect:"x"`
				Ys []int `prefect:"ys"`
			}
			ys := flow.Map(f, double("ys"), flow.Const("x", []int{1, 2, 3}))
			t := task.New("sum-with", func(_ context.Context, in in) (int, error) {
				s := in.X
				for _, y := range in.Ys {
					s += y
				}
				return s, nil
			})
			return flow.Map(f, t, flow.Const("x", []int{100, 200}), flow.Unmapped(flow.Bind("ys", ys)))
		}, []int{112, 212}},
		{"flatten a mapped upstream", func(f *flow.Flow) flow.Node[[]int] {
			ranges := flow.Map(f, task.New("range", func(_ context.Context, in argX) ([]int, error) {
				out := make([]int, in.X)
				for i := range out {
					out[i] = i
				}
				return out, nil
			}), flow.Const("x", []int{2, 0, 3}))
			return flow.Map(f, double("double"), flow.Flatten(flow.Bind("x", ranges)))
		}, []int{0, 2, 0, 2, 4}},
		{"shortest input decides", func(f *flow.Flow) flow.Node[[]int] {
			xs := flow.Add(f, valueTask("xs", []int{1, 2, 3, 4}, nil))
			return flow.Map(f, add(), flow.Bind("x", xs), flow.Const("y", []int{10, 20}))
		}, []int{11, 22}},
		{"flatten", func(f *flow.Flow) flow.Node[[]int] {
			nested := flow.Add(f, valueTask("nested", [][]int{{1, 2}, {3}, {}, nil, {4, 5}}, nil))
			return flow.Map(f, double("double"), flow.Flatten(flow.Bind("x", nested)))
		}, []int{2, 4, 6, 8, 10}},
		{"flatten with an unmapped input", func(f *flow.Flow) flow.Node[[]int] {
			nested := flow.Add(f, valueTask("nested", [][]int{{1}, {2, 3}}, nil))
			return flow.Map(f, add(), flow.Flatten(flow.Bind("x", nested)), flow.Unmapped(flow.Const("y", 100)))
		}, []int{101, 102, 103}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("bindings")
				m := tt.build(f)
				fs := runFlow(t, ex, f)
				wantKind(t, "mapped", fs.Of(m), state.Mapped)
				if n := len(fs.Of(m).Children); n != len(tt.want) {
					t.Errorf("%d children, want %d", n, len(tt.want))
				}
				wantSlice(t, fs, m, tt.want)
			})
		})
	}
}

func TestMapEmptyList(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		f := flow.New("empty")
		xs := flow.Add(f, valueTask("xs", []int{}, nil))
		var calls atomic.Int32
		m := flow.Map(f, task.New("double", func(_ context.Context, in argX) (int, error) {
			calls.Add(1)
			return 2 * in.X, nil
		}), flow.Bind("x", xs))
		var got []int
		total := flow.Add(f, task.New("sum", func(_ context.Context, in argValues) (int, error) {
			got = in.Values
			return len(in.Values), nil
		}), flow.Bind("values", m))

		fs := runFlow(t, ex, f)
		st := fs.Of(m)
		wantState(t, "double", st, state.Mapped, state.MsgMapped)
		if len(st.Children) != 0 || calls.Load() != 0 {
			t.Errorf("%d children, %d calls; want none", len(st.Children), calls.Load())
		}
		res, ok := runner.ResultOf(fs, m)
		if !ok || res == nil || len(res) != 0 {
			t.Errorf("result = %#v (ok %v), want an empty, non-nil []int", res, ok)
		}
		wantResult(t, fs, total, 0)
		if got == nil {
			t.Error("the downstream task got a nil list, want the empty one")
		}
		wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
	})
}

func TestMapOverMapped(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("child by child", func(t *testing.T) {
			f := flow.New("chain")
			first := flow.Map(f, double("first"), flow.Const("x", []int{1, 2, 3}))
			second := flow.Map(f, double("second"), flow.Bind("x", first))
			third := flow.Map(f, double("third"), flow.Bind("x", second))
			fs := runFlow(t, ex, f)
			wantSlice(t, fs, third, []int{8, 16, 24})
			if n := len(fs.Of(second).Children); n != 3 {
				t.Errorf("second has %d children, want 3", n)
			}
		})
		t.Run("a failed child fails only its own downstream child", func(t *testing.T) {
			f := flow.New("chain")
			first := flow.Map(f, task.New("first", func(_ context.Context, in argX) (int, error) {
				if in.X == 2 {
					return 0, errBoom
				}
				return in.X * 10, nil
			}), flow.Const("x", []int{1, 2, 3}))
			var mu sync.Mutex
			seen := map[int]int{}
			second := flow.Map(f, task.New("second", func(ctx context.Context, in argX) (int, error) {
				rc, _ := runner.FromContext(ctx)
				mu.Lock()
				seen[rc.MapIndex] = in.X
				mu.Unlock()
				return in.X + 1, nil
			}), flow.Bind("x", first))
			reduce := flow.Add(f, sumTask("sum"), flow.Bind("values", second))

			fs := runFlow(t, ex, f)
			fc, sc := fs.Of(first).Children, fs.Of(second).Children
			if len(fc) != 3 || len(sc) != 3 {
				t.Fatalf("children: first %d (%v), second %d (%v); want 3 each", len(fc), fs.Of(first), len(sc), fs.Of(second))
			}
			wantKind(t, "first[1]", fc[1], state.Failed)
			wantState(t, "second[0]", sc[0], state.Success, state.MsgTaskSucceeded)
			wantState(t, "second[1]", sc[1], state.TriggerFailed, `Trigger was "all_successful" but some of the upstream tasks failed.`)
			wantState(t, "second[2]", sc[2], state.Success, state.MsgTaskSucceeded)
			if want := map[int]int{0: 10, 2: 30}; !reflect.DeepEqual(seen, want) {
				t.Errorf("second's children ran with %v, want %v", seen, want)
			}
			wantKind(t, "second", fs.Of(second), state.Mapped)
			if res, _ := fs.Of(second).Result.([]int); len(res) != 3 || res[0] != 11 || res[2] != 31 {
				t.Errorf("second's result = %#v, want 11 and 31 at 0 and 2", fs.Of(second).Result)
			}
			// A reduce over a list with a failed element does not run.
			wantKind(t, "sum", fs.Of(reduce), state.TriggerFailed)
			wantState(t, "flow", fs.State, state.Failed, state.MsgFlowFailed)
		})
		t.Run("a skipped child skips only its own downstream child", func(t *testing.T) {
			f := flow.New("chain")
			first := flow.Map(f, task.New("first", func(_ context.Context, in argX) (int, error) {
				if in.X == 2 {
					return 0, task.Skip("two is skipped")
				}
				return in.X * 10, nil
			}), flow.Const("x", []int{1, 2, 3}))
			var calls atomic.Int32
			second := flow.Map(f, task.New("second", func(_ context.Context, in argX) (int, error) {
				calls.Add(1)
				return in.X + 1, nil
			}), flow.Bind("x", first))

			fs := runFlow(t, ex, f)
			wantKind(t, "first[1]", fs.Of(first).Children[1], state.Skipped)
			st := fs.Of(second)
			wantKind(t, "second", st, state.Mapped)
			if len(st.Children) != 3 {
				t.Fatalf("second: %v with %d children, want Mapped with 3 (Prefect skips child by child)", st, len(st.Children))
			}
			wantState(t, "second[1]", st.Children[1], state.Skipped, state.MsgUpstreamSkipped)
			wantKind(t, "second[0]", st.Children[0], state.Success)
			wantKind(t, "second[2]", st.Children[2], state.Success)
			if calls.Load() != 2 {
				t.Errorf("second's children ran %d times, want 2", calls.Load())
			}
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
		})
	})
}

func TestMapChildrenRunContext(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		const n = 50
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i * i
		}
		f := flow.New("children")
		type seenRun struct {
			name string
			x    int
		}
		var mu sync.Mutex
		seen := map[int]seenRun{}
		m := flow.Map(f, task.New("sq", func(ctx context.Context, in argX) (string, error) {
			rc, ok := runner.FromContext(ctx)
			if !ok {
				return "", fmt.Errorf("no run context")
			}
			mu.Lock()
			seen[rc.MapIndex] = seenRun{rc.TaskRunName, in.X}
			mu.Unlock()
			return fmt.Sprint(in.X), nil
		}, task.WithSlug("square")), flow.Const("x", xs))

		fs := runFlow(t, ex, f)
		want := make([]string, n)
		for i := range n {
			want[i] = fmt.Sprint(i * i)
			if got := seen[i]; got.name != fmt.Sprintf("square[%d]", i) || got.x != i*i {
				t.Errorf("child %d saw run name %q and x %d", i, got.name, got.x)
			}
		}
		if len(seen) != n {
			t.Errorf("%d children ran, want %d", len(seen), n)
		}
		wantSlice(t, fs, m, want)
	})
}

func TestMapUpstreamProblems(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		t.Run("failed upstream", func(t *testing.T) {
			f := flow.New("map-failed")
			xs := flow.Add(f, task.New("xs", func(context.Context, task.None) ([]int, error) { return nil, errBoom }))
			var calls atomic.Int32
			m := flow.Map(f, task.New("double", func(_ context.Context, in argX) (int, error) {
				calls.Add(1)
				return in.X, nil
			}), flow.Bind("x", xs))
			fs := runFlow(t, ex, f)
			wantKind(t, "double", fs.Of(m), state.TriggerFailed)
			if calls.Load() != 0 {
				t.Errorf("children ran %d times over a failed upstream", calls.Load())
			}
		})
		t.Run("skipped upstream", func(t *testing.T) {
			f := flow.New("map-skipped")
			xs := flow.Add(f, task.New("xs", func(context.Context, task.None) ([]int, error) { return nil, task.Skip("no data") }))
			m := flow.Map(f, double("double"), flow.Bind("x", xs))
			fs := runFlow(t, ex, f)
			wantState(t, "double", fs.Of(m), state.Skipped, state.MsgUpstreamSkipped)
		})
		t.Run("not a list at run time", func(t *testing.T) {
			f := flow.New("map-scalar")
			v := flow.Add(f, valueTask[any]("v", 5, nil))
			m := flow.Map(f, double("double"), flow.Bind("x", v))
			fs := runFlow(t, ex, f)
			wantState(t, "double", fs.Of(m), state.Failed,
				"Error during execution of task: cannot map over a value of type int: it is not a list")
		})
	})
}

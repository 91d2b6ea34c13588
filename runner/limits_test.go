package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// meteredTask enters meter, waits at barrier (when not nil), and leaves.
func meteredTask(name string, m *concurrencyMeter, b *groupBarrier, opts ...task.Option) *task.Task[argX, int] {
	return task.New(name, func(ctx context.Context, in argX) (int, error) {
		m.enter()
		defer m.leave()
		if b != nil {
			if err := b.wait(ctx); err != nil {
				return 0, err
			}
		}
		return in.X, nil
	}, opts...)
}

func TestLimits(t *testing.T) {
	// Each case runs its tasks on Parallel(8), most with a lower limit. The
	// tasks meet at a barrier in groups of the limit's size, so the runs in
	// flight reach the limit for sure; the limit must stop them going beyond.
	plain := func(n int) func(f *flow.Flow, m *concurrencyMeter, b *groupBarrier) []flow.Ref {
		return func(f *flow.Flow, m *concurrencyMeter, b *groupBarrier) []flow.Ref {
			var refs []flow.Ref
			for i := range n {
				refs = append(refs, flow.Add(f, meteredTask("work", m, b), flow.Const("x", i)))
			}
			return refs
		}
	}
	tests := []struct {
		name  string
		limit int
		tasks int
		opt   runner.Option
		build func(f *flow.Flow, m *concurrencyMeter, b *groupBarrier) []flow.Ref
	}{
		{"Parallel(8) alone", 8, 24, nil, plain(24)},
		{"tag limit on tasks", 2, 20, runner.WithTagLimit("db", 2),
			func(f *flow.Flow, m *concurrencyMeter, b *groupBarrier) []flow.Ref {
				var refs []flow.Ref
				for i := range 20 {
					refs = append(refs, flow.Add(f, meteredTask("query", m, b, task.WithTags("io", "db")), flow.Const("x", i)))
				}
				// Tasks without the tag are not held back by it.
				for i := range 4 {
					refs = append(refs, flow.Add(f, valueTask("free", i, nil, task.WithTags("io"))))
				}
				return refs
			}},
		{"tag limit on mapped children", 2, 20, runner.WithTagLimit("db", 2),
			func(f *flow.Flow, m *concurrencyMeter, b *groupBarrier) []flow.Ref {
				xs := make([]int, 20)
				return []flow.Ref{flow.Map(f, meteredTask("query", m, b, task.WithTags("db")), flow.Const("x", xs))}
			}},
		{"concurrency limit", 3, 21, runner.WithConcurrency(3), plain(21)},
		{"concurrency limit above the workers", 8, 16, runner.WithConcurrency(100), plain(16)},
		{"concurrency limit on mapped children", 3, 21, runner.WithConcurrency(3),
			func(f *flow.Flow, m *concurrencyMeter, b *groupBarrier) []flow.Ref {
				xs := make([]int, 21)
				return []flow.Ref{flow.Map(f, meteredTask("work", m, b), flow.Const("x", xs))}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := flow.New("limits")
			var m concurrencyMeter
			b := newGroupBarrier(tt.limit, tt.tasks)
			refs := tt.build(f, &m, b)
			// The deadline only breaks a hang, should the runner hold back a
			// run the barrier waits for.
			ctx, cancel := context.WithCancel(testwait.Context(t))
			defer cancel()
			opts := []runner.Option{runner.WithExecutor(runner.Parallel(8))}
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			fs, err := runner.Run(ctx, f, opts...)
			if err != nil {
				t.Fatal(err)
			}
			wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
			for _, r := range refs {
				if st := fs.Of(r); !st.IsSuccessful() {
					t.Errorf("%s: %v", fs.Graph.Tasks[r.ID()].Slug, st)
				}
			}
			if got := m.max.Load(); got != int32(tt.limit) {
				t.Errorf("at most %d task runs at once, want exactly the limit %d", got, tt.limit)
			}
		})
	}
}

func TestLimitLocalNeverOverlaps(t *testing.T) {
	f := flow.New("local")
	var m concurrencyMeter
	xs := make([]int, 10)
	flow.Map(f, meteredTask("mapped", &m, nil, task.WithTags("db")), flow.Const("x", xs))
	for i := range 10 {
		flow.Add(f, meteredTask("plain", &m, nil, task.WithTags("db")), flow.Const("x", i))
	}
	fs, err := runner.Run(context.Background(), f, runner.WithExecutor(runner.Local()), runner.WithTagLimit("db", 5), runner.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "flow", fs.State, state.Success, state.MsgFlowSucceeded)
	if got := m.max.Load(); got != 1 {
		t.Errorf("Local ran %d tasks at once, want 1", got)
	}
}

func TestLimitsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts []runner.Option
		want string
	}{
		{"zero concurrency", []runner.Option{runner.WithConcurrency(0)}, "concurrency limit 0"},
		{"negative concurrency", []runner.Option{runner.WithConcurrency(-2)}, "concurrency limit -2"},
		{"zero tag limit", []runner.Option{runner.WithTagLimit("db", 0)}, `tag "db"`},
		{"negative tag limit", []runner.Option{runner.WithTagLimit("db", 2), runner.WithTagLimit("api", -1)}, `tag "api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := flow.New("invalid")
			var m concurrencyMeter
			flow.Add(f, meteredTask("a", &m, nil, task.WithTags("db")), flow.Const("x", 1))
			fs, err := runner.Run(context.Background(), f, tt.opts...)
			if !errors.Is(err, runner.ErrInvalidRun) {
				t.Fatalf("err = %v, want ErrInvalidRun", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %s", err, tt.want)
			}
			if fs != nil || m.max.Load() != 0 {
				t.Error("a run with an invalid limit ran")
			}
		})
	}
}

func TestLocalOrderIsDeterministic(t *testing.T) {
	f := flow.New("order")
	var order []string
	rec := func(name string) *task.Task[task.None, int] {
		return task.New(name, func(ctx context.Context, _ task.None) (int, error) {
			rc, _ := runner.FromContext(ctx)
			order = append(order, rc.TaskSlug)
			return 0, nil
		})
	}
	a := flow.Add(f, rec("a"))
	b := flow.Add(f, rec("b"), flow.After(a))
	c := flow.Add(f, rec("c"), flow.After(a))
	d := flow.Add(f, rec("d"), flow.After(b, c))
	flow.Add(f, rec("e"))
	flow.Add(f, rec("f"), flow.After(d))
	var runs [][]string
	for range 3 {
		order = nil
		fs, err := runner.Run(context.Background(), f, runner.WithExecutor(runner.Local()))
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, "flow", fs.State, state.Success)
		runs = append(runs, order)
	}
	want := []string{"a-1", "e-1", "b-1", "c-1", "d-1", "f-1"}
	for i, got := range runs {
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("run %d ran %v, want the order tasks became ready: %v", i, got, want)
		}
	}
}

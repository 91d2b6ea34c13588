package runner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// A run cancelled while its last task runs ends Cancelled on every
// executor, not Failed.
func TestCancelDuringLastTask(t *testing.T) {
	for _, ex := range []runner.Executor{runner.Local(), runner.Parallel(2)} {
		f := flow.New("last")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		flow.Add(f, task.New("only", func(ctx context.Context, _ task.None) (int, error) {
			cancel()
			<-ctx.Done()
			return 0, ctx.Err()
		}))
		fs, err := runner.Run(ctx, f, runner.WithExecutor(ex))
		if err != nil {
			t.Fatal(err)
		}
		if fs.Kind != state.Cancelled {
			t.Errorf("%T: flow %v; want Cancelled", ex, fs.State)
		}
	}
}

func TestLookupsCheckTheFlow(t *testing.T) {
	one := task.New("one", func(context.Context, task.None) (int, error) { return 1, nil })
	two := task.New("two", func(context.Context, task.None) (int, error) { return 2, nil })
	f, g := flow.New("f"), flow.New("g")
	flow.Add(f, one)
	other := flow.Add(g, two)
	fs, err := runner.Run(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := runner.ResultOf(fs, other); ok || v != 0 {
		t.Errorf("ResultOf a node of another flow = %v, %v; want 0, false", v, ok)
	}
	if st := fs.Of(nil); st.Kind != state.Pending || st.Message != "" {
		t.Errorf("Of(nil) = %v; want the zero state", st)
	}
	if _, err := runner.Restart(context.Background(), f, nil); !errors.Is(err, runner.ErrInvalidRun) {
		t.Errorf("Restart with nil = %v; want ErrInvalidRun", err)
	}
}

func TestZeroValuesAreUsable(t *testing.T) {
	var f flow.Flow
	flow.Add(&f, task.New("t", func(context.Context, task.None) (int, error) { return 3, nil }))
	var store result.Memory
	if err := store.Write(context.Background(), "a/b.json", []byte("1")); err != nil {
		t.Errorf("zero Memory: %v", err)
	}
	var empty task.Trigger
	if err := empty.Check(nil); err == nil {
		t.Errorf("a zero Trigger passed its check")
	}
	one := task.New("one", func(context.Context, task.None) (int, error) { return 1, nil })
	if _, err := one.Call(context.Background(), []any{1}); err == nil {
		t.Errorf("Call with more args than inputs succeeded")
	}
}

package runner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
)

type nIn struct {
	N int `prefect:"n"`
}
type xIn struct {
	X int `prefect:"x"`
}
type valsIn struct {
	Values []int `prefect:"values"`
}

func TestSmoke(t *testing.T) {
	f := flow.New("smoke")
	n := flow.Parameter(f, "n", flow.Default(3))
	nums := flow.Add(f, task.New("numbers", func(ctx context.Context, in nIn) ([]int, error) {
		out := make([]int, in.N)
		for i := range out {
			out[i] = i + 1
		}
		return out, nil
	}), flow.Bind("n", n))
	attempts := 0
	sq := flow.Map(f, task.New("square", func(ctx context.Context, in xIn) (int, error) {
		rc, _ := runner.FromContext(ctx)
		if rc.MapIndex == 1 && rc.TaskRunCount == 1 {
			attempts++
			return 0, errors.New("flaky")
		}
		return in.X * in.X, nil
	}, task.WithRetries(2, time.Millisecond)), flow.Bind("x", nums))
	sum := flow.Add(f, task.New("sum", func(ctx context.Context, in valsIn) (int, error) {
		s := 0
		for _, v := range in.Values {
			s += v
		}
		return s, nil
	}), flow.Bind("values", sq))
	for _, ex := range []runner.Executor{runner.Local(), runner.Parallel(4)} {
		fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex), runner.WithParameters(map[string]any{"n": 4}))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := runner.ResultOf(fs, sum)
		t.Log(fs.State, got, ok, fs.Of(sq).Children)
		if got != 30 {
			t.Fatalf("sum = %d", got)
		}
	}
	t.Log(f.DOT(), f.Mermaid())
}

package flow_test

// Regression tests for the fixes of the second review: a nil task added to a
// flow is a validation error, not a panic.

import (
	"strings"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// noPanic runs fn and fails the test, instead of crashing the test binary,
// if it panics.
func noPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v", what, p)
		}
	}()
	fn()
}

func TestRegressNilTask(t *testing.T) {
	tests := []struct {
		name string
		add  func(f *flow.Flow)
	}{
		{"Add", func(f *flow.Flow) {
			n := flow.Add(f, (*task.Task[task.None, int])(nil))
			// The node stays usable for later bindings.
			flow.Add(f, inc, flow.Bind("x", n))
		}},
		{"Map", func(f *flow.Flow) {
			n := flow.Map(f, (*task.Task[xIn, int])(nil), flow.Const("x", []int{1, 2}))
			flow.Add(f, sum, flow.Bind("values", n))
		}},
		{"AddRunnable", func(f *flow.Flow) {
			flow.AddRunnable[int](f, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := flow.New("nil-task")
			flow.Add(f, one)
			noPanic(t, tt.name+" of a nil task", func() {
				tt.add(f)
				err := f.Validate()
				if err == nil {
					t.Fatal("Validate accepted a flow with a nil task")
				}
				if !strings.Contains(err.Error(), "nil") {
					t.Errorf("Validate error %q does not mention nil", err)
				}
				if _, gerr := f.Graph(); gerr == nil {
					t.Error("Graph accepted a flow with a nil task")
				}
			})
		})
	}
}

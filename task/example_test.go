package task_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// A task is a function of one struct of named inputs. Its spec lists the
// inputs a flow binds by name; Call runs the function with values in that
// order, as the runner does.
func ExampleNew() {
	type addIn struct {
		X     int    `prefect:"x"`
		Y     int    `prefect:"y,optional"` // may be left unbound: stays 0
		Debug string `prefect:"-"`          // not an input
	}
	add := task.New("add", func(ctx context.Context, in addIn) (int, error) {
		return in.X + in.Y, nil
	})

	for _, in := range add.Spec().Inputs {
		fmt.Printf("input %s %v optional=%v\n", in.Name, in.Type, in.Optional)
	}
	sum, err := add.Call(context.Background(), []any{2, 3})
	fmt.Println(sum, err)
	_, err = add.Call(context.Background(), []any{"two"})
	fmt.Println(err)
	// Output:
	// input x int optional=false
	// input y int optional=true
	// 5 <nil>
	// task "add": input "x" wants int but was given string
}

// Options that make no sense do not panic: the task records the problem in
// its spec, and a flow reports it when validated.
func ExampleWithMaxRetries() {
	fetch := task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
		return "page", nil
	}, task.WithMaxRetries(3)) // missing: task.WithRetryDelay

	err := fetch.Spec().Err
	fmt.Println(err)
	fmt.Println(errors.Is(err, task.ErrRetryDelayRequired))

	fixed := task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
		return "page", nil
	}, task.WithRetries(3, 10*time.Second))
	fmt.Println(fixed.Spec().Err)
	// Output:
	// task "fetch": A time.Duration `retry_delay` must be provided if max_retries > 0
	// true
	// <nil>
}

// A task ends in the state of the signal its function returns, even when
// the signal is wrapped.
func ExampleSkip() {
	err := fmt.Errorf("checking input: %w", task.Skip("nothing new today"))
	if sig, ok := task.AsSignal(err); ok {
		fmt.Println(sig.Kind, sig.Message)
	}
	// Output:
	// Skipped nothing new today
}

// SomeFailed and SomeSuccessful take bounds as counts, or as fractions of the
// upstream tasks when between 0 and 1.
func ExampleSomeFailed() {
	tolerant := task.SomeFailed(task.AtMost(0.25))
	upstream := []state.State{
		state.New(state.Success, ""),
		state.New(state.Success, ""),
		state.New(state.Success, ""),
		state.New(state.Failed, "boom"),
	}
	fmt.Println(tolerant.Check(upstream))
	fmt.Println(tolerant.Check(upstream[2:]))
	// Output:
	// <nil>
	// Trigger was "some_failed" but thresholds were not met.
}

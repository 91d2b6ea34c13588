package task_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// A constructor building on New reports its own bad option values through
// WithOptionError, beside the task's, each naming the task.
func TestWithOptionError(t *testing.T) {
	errBad := errors.New("tasks.WithMaxBody(0): the limit must be positive")
	err := task.New("req", echo[task.None], task.WithOptionError(errBad), task.WithOptionError(nil), task.WithTimeout(-1)).Spec().Err
	if !errors.Is(err, errBad) {
		t.Fatalf("Spec().Err = %v; want it to match the option's error", err)
	}
	for _, want := range []string{`task "req"`, `tasks.WithMaxBody(0): the limit must be positive`, `timeout is -1ns`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Spec().Err = %q\nwant it to contain %q", err, want)
		}
	}
	if err := task.New("ok", echo[task.None], task.WithOptionError(nil)).Spec().Err; err != nil {
		t.Errorf("WithOptionError(nil): Spec().Err = %v; want nil", err)
	}
}

// The former names of options do what their With* names do.
func TestDeprecatedOptionNames(t *testing.T) {
	if s := task.New("s", echo[task.None], task.AsSecret()).Spec(); !s.Secret {
		t.Error("AsSecret did not mark the result secret")
	}
	if s := task.New("s", echo[task.None], task.WithSecretResult()).Spec(); !s.Secret {
		t.Error("WithSecretResult did not mark the result secret")
	}
	s := task.New("f", echo[task.None], task.OnFailure(func(context.Context, state.State) {})).Spec()
	if len(s.StateHandlers) != 1 || s.Err != nil {
		t.Errorf("OnFailure: %d handlers, %v; want 1 and no error", len(s.StateHandlers), s.Err)
	}
	if err := task.New("f", echo[task.None], task.OnFailure(nil)).Spec().Err; err == nil {
		t.Error("OnFailure(nil) recorded no error")
	}
}

package task_test

import (
	"errors"
	"strings"
	"testing"

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

package task_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/task"
)

// A task's several problems are one list under its name, errors.Is
// reaching each; one problem reads alone.
func TestSpecErrListsEveryProblem(t *testing.T) {
	fn := func(context.Context, task.None) (int, error) { return 0, nil }
	cases := []struct {
		name string
		spec *task.Spec
		is   []error
		want string
	}{
		{"one", task.New("r", fn, task.WithMaxRetries(1)).Spec(), []error{task.ErrRetryDelayRequired},
			`task "r": ` + task.ErrRetryDelayRequired.Error()},
		{"two", task.New("r", fn, task.WithMaxRetries(1), task.WithTimeout(-time.Second)).Spec(), []error{task.ErrRetryDelayRequired},
			"2 problems with task \"r\":\n\t- " + task.ErrRetryDelayRequired.Error() +
				"\n\t- timeout is -1s; it must be positive, or 0 for none"},
		{"the prefix kept when one lacks it", task.New[task.None, int]("nil", nil, task.WithRetryDelay(time.Second)).Spec(),
			[]error{task.ErrMaxRetriesRequired},
			"2 problems with task \"nil\":\n\t- task \"nil\" has a nil function\n\t- task \"nil\": " + task.ErrMaxRetriesRequired.Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Err
			if err == nil || err.Error() != c.want {
				t.Fatalf("Spec().Err =\n%v\nwant\n%s", err, c.want)
			}
			for _, target := range c.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(Spec().Err, %v) = false", target)
				}
			}
			var list *multierror.Error
			if !errors.As(err, &list) {
				t.Errorf("Spec().Err = %T; want a *multierror.Error", err)
			}
		})
	}
}

package problems_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/internal/problems"
)

var inFlow = problems.Format(func(n int) string { return fmt.Sprintf("%d problems in flow %q", n, "etl") }, `flow "etl": `)

func TestFormat(t *testing.T) {
	a := errors.New(`flow "etl": slug "x" is used twice`)
	b := fmt.Errorf(`flow "etl": task "y": %w`, fs.ErrNotExist)
	other := errors.New("a flow needs a name")
	multi := errors.New("flow \"etl\": task \"z\": two things:\nfirst\nsecond")
	cases := []struct {
		name string
		errs []error
		want string
	}{
		{"one reads as itself", []error{a}, `flow "etl": slug "x" is used twice`},
		{"nils dropped", []error{nil, a, nil}, `flow "etl": slug "x" is used twice`},
		{"common prefix cut", []error{a, b},
			"2 problems in flow \"etl\":\n\t- slug \"x\" is used twice\n\t- task \"y\": file does not exist"},
		{"prefix kept when one lacks it", []error{other, a},
			"2 problems in flow \"etl\":\n\t- a flow needs a name\n\t- flow \"etl\": slug \"x\" is used twice"},
		{"lines of a problem indented", []error{a, multi},
			"2 problems in flow \"etl\":\n\t- slug \"x\" is used twice\n\t- task \"z\": two things:\n\t  first\n\t  second"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := problems.Join(inFlow, c.errs...)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %q\nwant %q", err, c.want)
			}
		})
	}
}

func TestJoinNone(t *testing.T) {
	if err := problems.Join(inFlow); err != nil {
		t.Errorf("Join() = %v; want nil", err)
	}
	if err := problems.Join(inFlow, nil, nil); err != nil {
		t.Errorf("Join(nil, nil) = %v; want nil", err)
	}
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprint("code ", e.code) }

// errors.Is and errors.As reach every problem, not only the first.
func TestReachEach(t *testing.T) {
	first, second := errors.New("first"), &codeError{7}
	err := fmt.Errorf("outer: %w", problems.Join(inFlow, first, fmt.Errorf("wrapped: %w", fs.ErrPermission), second))
	for _, target := range []error{first, fs.ErrPermission} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) = false", target)
		}
	}
	var ce *codeError
	if !errors.As(err, &ce) || ce.code != 7 {
		t.Errorf("errors.As(err, *codeError) = %v", ce)
	}
	var m *multierror.Error
	if !errors.As(err, &m) || len(m.WrappedErrors()) != 3 {
		t.Errorf("errors.As(err, *multierror.Error) = %v", m)
	}
}

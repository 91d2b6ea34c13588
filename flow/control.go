package flow

import (
	"context"
	"fmt"
	"reflect"
	"strconv"

	"github.com/prefect-go/prefect/task"
)

// builtin is a task the flow package makes itself, for shapes a typed
// task.Task cannot express: a variadic merge, a comparison with a value.
type builtin struct {
	spec task.Spec
	call func(args []any) (any, error)
}

func (b *builtin) Spec() *task.Spec { return &b.spec }
func (b *builtin) Call(_ context.Context, args []any) (any, error) {
	if b.call == nil {
		return nil, fmt.Errorf("task %q has nothing to run", b.spec.Name)
	}
	return b.call(args)
}

// Case starts a conditional branch, Prefect's `with case(cond, value)`. It
// adds a task that compares cond's result with value and is Skipped when they
// differ. Give each task of the branch an After(branch) binding: when the
// comparison skips, so do they, and so does everything downstream of them
// that skips on upstream skip. [Merge] joins branches again.
func Case[T comparable](f *Flow, cond Node[T], value T) Node[bool] {
	b := &builtin{spec: task.Spec{
		Name:               fmt.Sprintf("case(%v)", value),
		Inputs:             []task.Input{{Name: "value", Type: reflect.TypeFor[T]()}},
		Output:             reflect.TypeFor[bool](),
		Trigger:            task.AllSuccessful,
		SkipOnUpstreamSkip: true,
	}}
	b.call = func(args []any) (any, error) {
		if v, ok := args[0].(T); ok && v == value {
			return true, nil
		}
		return nil, task.Skip("Provided value did not match the case's value")
	}
	return AddRunnable[bool](f, b, Bind("value", cond))
}

// Merge returns a task whose result is the result of the first of branches
// that was not skipped, Prefect's merge: its trigger is not_all_skipped and it
// does not skip on upstream skip, so it joins the branches of a [Case].
func Merge[T any](f *Flow, branches ...Node[T]) Node[T] {
	b := &builtin{spec: task.Spec{
		Name:               "Merge",
		Output:             reflect.TypeFor[T](),
		Trigger:            task.NotAllSkipped,
		SkipOnUpstreamSkip: false,
	}}
	bindings := make([]Binding, len(branches))
	for i, br := range branches {
		key := "task" + strconv.Itoa(i+1)
		b.spec.Inputs = append(b.spec.Inputs, task.Input{Name: key, Type: reflect.TypeFor[T](), Optional: true})
		bindings[i] = Bind(key, br)
	}
	b.call = func(args []any) (any, error) {
		for _, a := range args {
			if a != nil {
				return a, nil
			}
		}
		var zero T
		return zero, nil
	}
	return AddRunnable[T](f, b, bindings...)
}

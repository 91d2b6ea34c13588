// Package task turns a Go function into a task: a node of a flow with the
// options that tell the runner how to run it (retries, timeout, trigger,
// caching, checkpointing, state handlers).
//
// A task's function takes a context and one struct of named inputs, Prefect's
// keyword arguments, and returns a result and an error:
//
//	type addIn struct {
//		X int `prefect:"x"`
//		Y int `prefect:"y"`
//	}
//	add := task.New("add", func(ctx context.Context, in addIn) (int, error) {
//		return in.X + in.Y, nil
//	}, task.WithMaxRetries(2), task.WithRetryDelay(time.Second))
//
// Each exported field of the input struct is one input. Its name is the
// field's `prefect` tag, or the field name when there is no tag; `prefect:"-"`
// leaves a field out, and `prefect:"x,optional"` lets a flow leave input x
// unbound (it then keeps its zero value). A task that needs no input takes
// [None]. The flow package binds inputs by these names and checks every
// binding's type when the flow is validated.
//
// A task ends in the state its function chooses: returning nil succeeds,
// returning an error fails (and retries, if the task allows), and returning a
// [Signal] ([Fail], [Skip], [Retry], [Succeed], [Pause]) ends in that signal's
// state. A panic is recovered and fails the task with the panic's message.
//
// Configuration problems (a retry count without a delay, a negative timeout)
// do not panic: the task records them, and adding it to a flow reports them
// when the flow is validated.
//
// Options are named With*: [WithRetries], [WithTrigger], [WithOnFailure]
// (Prefect's on_failure). The one exception is a trigger's bounds,
// [AtLeast] and [AtMost]: they are not options of a task but the arguments
// of [SomeSuccessful] and [SomeFailed], named as Prefect's at_least and
// at_most keywords, so that task.SomeFailed(task.AtMost(0.5)) reads as the
// rule it states.
package task

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/secrets/sensitive"
)

// None is the input type of a task that takes no inputs, and the result type
// of a task that returns nothing useful.
type None = struct{}

// Input describes one named input of a task.
type Input struct {
	// Name is the name a flow binds the input by.
	Name string
	// Type is the input's Go type.
	Type reflect.Type
	// Optional inputs may be left unbound.
	Optional bool
}

// Runnable is what a flow and the runner see of any task, whatever its Go
// types. *[Task] implements it; so do the few built-in nodes whose shape a
// typed function cannot express (a flow's Merge, say).
type Runnable interface {
	// Spec returns the task's name, options, inputs and result type. The
	// runner treats it as read-only.
	Spec() *Spec
	// Call runs the task's function once. args holds one value per input,
	// in the order of Spec().Inputs; a nil arg leaves that input's zero value.
	// Call must neither modify args nor keep it after returning: every
	// attempt of a task run passes the same slice, and the runner reuses it
	// once the run is over.
	Call(ctx context.Context, args []any) (any, error)
}

// Task is a Go function with the options that say how to run it. Build one
// with [New]; a Task is immutable after that and may be added to any number of
// flows, any number of times.
type Task[In, Out any] struct {
	spec   Spec
	fn     func(context.Context, In) (Out, error)
	fields []field // where each input goes, parallel to spec.Inputs
	// fast is set when every input has a type storeKind knows: the input
	// struct is then filled on the stack, without reflection.
	fast bool
	// ins recycles the *In that reflection fills, so a call allocates nothing
	// for its inputs.
	ins sync.Pool
}

var _ Runnable = (*Task[None, None])(nil)

// New returns a task called name that runs fn. In must be a struct type whose
// exported fields are the task's inputs (see the package doc); Out is the
// result type downstream tasks receive.
func New[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), opts ...Option) *Task[In, Out] {
	t := &Task[In, Out]{fn: fn}
	t.spec.Name = name
	t.spec.Trigger = AllSuccessful
	t.spec.SkipOnUpstreamSkip = true
	t.spec.Output = reflect.TypeFor[Out]()
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("a task needs a name"))
	}
	if fn == nil {
		errs = append(errs, fmt.Errorf("task %q has a nil function", name))
	}
	inputs, fields, err := inputsOf(reflect.TypeFor[In]())
	if err != nil {
		errs = append(errs, fmt.Errorf("task %q: %w", name, err))
	}
	t.spec.Inputs, t.fields = inputs, fields
	t.fast = len(fields) > 0
	for _, f := range fields {
		t.fast = t.fast && f.kind != slowKind
	}
	for _, opt := range opts {
		opt(&t.spec)
	}
	errs = append(errs, t.spec.check()...)
	// Several problems read as a list under the task's name; a flow lists
	// each of them as its own.
	t.spec.Err = problems.Join(problems.Format(func(n int) string {
		return fmt.Sprintf("%d problems with task %q", n, name)
	}, fmt.Sprintf("task %q: ", name)), errs...)
	return t
}

// Spec returns the task's name, options, inputs and result type.
func (t *Task[In, Out]) Spec() *Spec { return &t.spec }

// Call runs the task's function with args bound to its inputs in order.
// An arg whose type does not fit its input is an error naming both types.
func (t *Task[In, Out]) Call(ctx context.Context, args []any) (any, error) {
	if t.fn == nil {
		return nil, fmt.Errorf("task %q has a nil function", t.spec.Name)
	}
	if len(args) > len(t.fields) {
		return nil, fmt.Errorf("task %q takes %d inputs, not the %d given", t.spec.Name, len(t.fields), len(args))
	}
	var in In
	slow := !t.fast && len(t.fields) > 0
	if t.fast {
		base := unsafe.Pointer(&in)
		for i, a := range args {
			if a != nil && !storeKind(t.fields[i].kind, unsafe.Add(base, t.fields[i].offset), a) {
				// Another type assignable to the field's (a named type
				// with the same underlying type, say): reflection decides.
				slow = true
				break
			}
		}
	}
	if slow {
		p, _ := t.ins.Get().(*In)
		if p == nil {
			p = new(In)
		}
		err := t.fill(p, args)
		in = *p
		*p = *new(In) // drop references before recycling
		t.ins.Put(p)
		if err != nil {
			return nil, err
		}
	}
	return t.fn(ctx, in)
}

// field says where one input goes in the input struct.
type field struct {
	index  int
	offset uintptr
	kind   fastKind
}

// fastKind names the input types flows pass most, which Call stores with a
// typed assignment instead of reflection.
type fastKind uint8

const (
	slowKind fastKind = iota
	intKind
	int64Kind
	float64Kind
	stringKind
	boolKind
	bytesKind
	intsKind
	stringsKind
	anysKind
	mapKind
	anyKind
)

var fastKinds = map[reflect.Type]fastKind{
	reflect.TypeFor[int]():            intKind,
	reflect.TypeFor[int64]():          int64Kind,
	reflect.TypeFor[float64]():        float64Kind,
	reflect.TypeFor[string]():         stringKind,
	reflect.TypeFor[bool]():           boolKind,
	reflect.TypeFor[[]byte]():         bytesKind,
	reflect.TypeFor[[]int]():          intsKind,
	reflect.TypeFor[[]string]():       stringsKind,
	reflect.TypeFor[[]any]():          anysKind,
	reflect.TypeFor[map[string]any](): mapKind,
	reflect.TypeFor[any]():            anyKind,
}

// storeKind stores a at p, the address of a field of kind k, and reports
// whether a had the field's type.
func storeKind(k fastKind, p unsafe.Pointer, a any) bool {
	switch k {
	case intKind:
		return store[int](p, a)
	case int64Kind:
		return store[int64](p, a)
	case float64Kind:
		return store[float64](p, a)
	case stringKind:
		return store[string](p, a)
	case boolKind:
		return store[bool](p, a)
	case bytesKind:
		return store[[]byte](p, a)
	case intsKind:
		return store[[]int](p, a)
	case stringsKind:
		return store[[]string](p, a)
	case anysKind:
		return store[[]any](p, a)
	case mapKind:
		return store[map[string]any](p, a)
	case anyKind:
		*(*any)(p) = a
		return true
	}
	return false
}

func store[T any](p unsafe.Pointer, a any) bool {
	v, ok := a.(T)
	if ok {
		*(*T)(p) = v
	}
	return ok
}

// fill sets the input fields of *p from args.
func (t *Task[In, Out]) fill(p *In, args []any) error {
	v := reflect.ValueOf(p).Elem()
	for i, a := range args {
		if a == nil {
			continue
		}
		f := v.Field(t.fields[i].index)
		av := reflect.ValueOf(a)
		if sv, ok := a.(sensitive.Value); ok && !secretType.AssignableTo(f.Type()) {
			// A secret goes to an input of another type decoded, as the
			// input asks: a string, a number, a struct.
			p := reflect.New(f.Type())
			if err := sv.Decode(p.Interface()); err != nil {
				return fmt.Errorf("task %q: input %q: %w", t.spec.Name, t.spec.Inputs[i].Name, err)
			}
			f.Set(p.Elem())
			continue
		}
		if !av.Type().AssignableTo(f.Type()) {
			return &InputTypeError{Task: t.spec.Name, Input: t.spec.Inputs[i].Name, Want: f.Type(), Got: av.Type()}
		}
		f.Set(av)
	}
	return nil
}

var secretType = reflect.TypeFor[sensitive.Value]()

// InputTypeError reports a value whose type does not fit the input it is bound to.
type InputTypeError struct {
	// Task and Input name the task and the input.
	Task, Input string
	// Want is the input's type; Got is the type of the value given.
	Want, Got reflect.Type
}

// Error names the task, the input and both types.
func (e *InputTypeError) Error() string {
	return fmt.Sprintf("task %q: input %q wants %v but was given %v", e.Task, e.Input, e.Want, e.Got)
}

// inputsOf lists the inputs of an input struct type.
func inputsOf(t reflect.Type) ([]Input, []field, error) {
	if t.Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("input type %v is not a struct; use a struct with one field per input, or task.None", t)
	}
	var inputs []Input
	var fields []field
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("prefect"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("input type %v names input %q twice", t, name)
		}
		seen[name] = true
		inputs = append(inputs, Input{Name: name, Type: f.Type, Optional: opts == "optional"})
		fields = append(fields, field{index: i, offset: f.Offset, kind: fastKinds[f.Type]})
	}
	return inputs, fields, nil
}

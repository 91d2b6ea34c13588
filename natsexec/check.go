package natsexec

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/secrets"
)

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
)

// Check reports what of f cannot cross the wire as JSON and come back as
// the same Go value: the inputs and results of every task whose runs go to
// workers (all but secret tasks and those downstream of one, which run in
// the runner's process), and the parameters, which every job carries for
// the run context (but for those that can hold a secret, which stay
// here). What does not: channels, functions, complex numbers, unsafe
// pointers, interfaces (an `any` decodes to maps and float64s, not to what
// was sent), and maps whose keys are not strings, integers or
// encoding.TextMarshalers. Types that marshal and unmarshal themselves
// (json.Marshaler and json.Unmarshaler) are trusted. Executor runs it when
// a flow run starts, before any task runs; call it when the flow is built
// to know sooner. Every problem is reported, each naming the task or
// parameter, the input and the type.
func Check(f *flow.Flow) error {
	g, err := f.Graph()
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range g.Tasks {
		if p := t.Param; p != nil {
			// Every job carries the parameters (for the run context), but
			// for those that can hold a secret, which stay here.
			if why := wireProblem(p.Type, map[reflect.Type]bool{}); why != "" && !secrets.CanHold(p.Type) {
				errs = append(errs, fmt.Errorf("parameter %q of type %s cannot cross the wire as JSON: %s", p.Name, p.Type, why))
			}
			continue
		}
		if t.Spec.Secret || t.FromSecret {
			continue
		}
		for _, in := range t.Spec.Inputs {
			if why := wireProblem(in.Type, map[reflect.Type]bool{}); why != "" {
				errs = append(errs, fmt.Errorf("task %s: input %q of type %s cannot cross the wire as JSON: %s", t.Slug, in.Name, in.Type, why))
			}
		}
		if t.Spec.Output != nil {
			if why := wireProblem(t.Spec.Output, map[reflect.Type]bool{}); why != "" {
				errs = append(errs, fmt.Errorf("task %s: its result of type %s cannot cross the wire as JSON: %s", t.Slug, t.Spec.Output, why))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("natsexec: flow %q cannot run on workers: %w", g.Name, problems.Join(wireProblems, errs...))
	}
	return nil
}

// wireProblems prints Check's problems: one alone follows "cannot run on
// workers: "; several, their count, then one per line.
var wireProblems = problems.Format(func(n int) string { return fmt.Sprintf("%d problems", n) }, "")

// wireProblem says why values of type t do not survive a JSON round trip,
// or "" if they do.
func wireProblem(t reflect.Type, seen map[reflect.Type]bool) string {
	if t == nil || seen[t] {
		return ""
	}
	seen[t] = true
	if t.Implements(jsonMarshaler) && reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return ""
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return "a " + t.Kind().String() + " has no JSON form"
	case reflect.Complex64, reflect.Complex128:
		return "complex numbers have no JSON form"
	case reflect.Interface:
		return "an interface decodes to maps, slices, strings and float64s, not to the value sent; use a concrete type"
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return wireProblem(t.Elem(), seen)
	case reflect.Map:
		k := t.Key()
		switch {
		case k.Kind() == reflect.String, k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr, k.Implements(textMarshaler):
		default:
			return "its map keys (" + k.String() + ") are not strings, integers or encoding.TextMarshalers"
		}
		return wireProblem(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			if why := wireProblem(f.Type, seen); why != "" {
				return "field " + f.Name + ": " + why
			}
		}
	}
	return ""
}

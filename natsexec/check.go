package natsexec

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/prefect-go/prefect/flow"
)

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
)

// Check reports, for every task of f whose runs go to workers (all but
// secret tasks and those downstream of one, which run in the runner's
// process), the inputs and results whose types cannot cross the wire as
// JSON and come back as the same Go value: channels, functions, complex
// numbers, unsafe pointers, interfaces (an `any` decodes to maps and
// float64s, not to what was sent), and maps whose keys are not strings,
// integers or encoding.TextMarshalers. Types that marshal and unmarshal
// themselves (json.Marshaler and json.Unmarshaler) are trusted. Executor
// runs it when a flow run starts, before any task runs; call it when the
// flow is built to know sooner. Every problem is reported, each naming the
// task, the input and the type.
func Check(f *flow.Flow) error {
	g, err := f.Graph()
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range g.Tasks {
		if t.Param != nil || t.Spec.Secret || t.FromSecret {
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
		return fmt.Errorf("natsexec: flow %q cannot run on workers: %w", g.Name, errors.Join(errs...))
	}
	return nil
}

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

// Package sensitive holds [Value], a secret that never shows itself: fmt,
// encoding/json, log/slog and text/template all print it as [Redacted],
// and only an explicit [Value.Reveal], [Value.Decode] or [As] hands out
// what it holds.
//
// Most code should not import this package: package secrets re-exports
// every name here (secrets.Value is this Value, as os.FileInfo is
// io/fs.FileInfo), and it is secrets that resolves a secret by name. This
// package exists so that the bottom of the engine stays light: package
// task decodes a Value into a task's string input, and package flow
// refuses a Value bound as a constant ([ErrBuildingFlow]) and asks which
// types can hold one ([CanHold]); with the type here, neither links what
// resolving needs (the configuration, TOML, HTTP). It imports only the
// standard library and the run masker's markers.
//
//	v := sensitive.NewValue("hunter2")
//	fmt.Println(v)       // ********
//	token := v.Reveal()  // "hunter2": call it only where the secret is used
//
// [Find] walks a value for the Values inside it, as the runner does to
// mask every secret a task returns.
package sensitive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"sync"

	"github.com/prefect-go/prefect/internal/redact"
)

// ErrBuildingFlow is Prefect's error for a secret used while building a
// flow; flow validation reports it for a secret bound as a constant.
var ErrBuildingFlow = errors.New("Secrets should only be retrieved during a Flow run, not while building a Flow.")

// Redacted is what a [Value] shows wherever it is printed, encoded or logged.
const Redacted = redact.Marker

// Value holds a secret. It cannot leak by accident: fmt with any verb
// (%v %+v %#v %s %q %x ...), encoding/json, encoding.TextMarshaler users,
// log/slog and text/template all show [Redacted]. The secret itself comes
// only from an explicit call: [Value.Reveal], [Value.Decode] or [As].
//
// The zero Value holds nothing ([Value.IsZero]).
type Value struct {
	// The secret sits behind two pointers: fmt prints fields it cannot call
	// methods on (an unexported Value field, the %p verb) as they are, and
	// for a pointer to a pointer that is always an address, never the
	// secret (a single pointer to a struct can print as &{secret} when a
	// verb does not suit it).
	b **box
}

type box struct{ v any }

// NewValue wraps v as a secret value.
func NewValue(v any) Value {
	b := &box{v}
	return Value{b: &b}
}

// IsZero reports whether the value holds nothing.
func (v Value) IsZero() bool { return v.b == nil }

// raw returns what the value holds.
func (v Value) raw() any {
	if v.b == nil || *v.b == nil {
		return nil
	}
	return (*v.b).v
}

// Reveal returns the secret as text: a string as it is, anything else (a
// number, a table) as JSON. Call it only where the secret is used.
func (v Value) Reveal() string {
	switch x := v.raw().(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v.raw())
	if err != nil {
		return fmt.Sprint(v.raw())
	}
	return string(b)
}

// Decode stores the secret in the variable dst points to: a string, a
// number, a map or a struct, converted through JSON when the types differ.
// Its errors name the types, never the secret, and begin "secrets:", the
// package users know the type from.
func (v Value) Decode(dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("secrets: Decode needs a non-nil pointer, not %T", dst)
	}
	x := v.raw()
	if x != nil {
		if src := reflect.ValueOf(x); src.Type().AssignableTo(rv.Elem().Type()) {
			rv.Elem().Set(src)
			return nil
		}
	}
	if s, ok := x.(string); ok && rv.Elem().Kind() == reflect.String {
		rv.Elem().SetString(s)
		return nil
	}
	b, err := json.Marshal(x)
	if err == nil {
		err = json.Unmarshal(b, dst)
	}
	if err != nil {
		// The error must not quote the secret: name only the types.
		return fmt.Errorf("secrets: a secret of type %s cannot be decoded into %s", typeName(x), rv.Elem().Type())
	}
	return nil
}

// As returns the secret as a T; see [Value.Decode].
func As[T any](v Value) (T, error) {
	var t T
	err := v.Decode(&t)
	return t, err
}

// RevealAll returns every piece of text the secret consists of: its text
// form and, for tables, lists and structs, each value inside (pieces shorter
// than four bytes are left out: hiding every "a" or "1" of a run's output
// would wreck it and, by the pattern of masks, give the piece away). Like
// Reveal it hands out the secret; it exists for maskers, which must hide
// each piece wherever it turns up.
func (v Value) RevealAll() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(v.Reveal())
	piece := func(s string) {
		if len(s) >= 4 {
			add(s)
		}
	}
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case nil:
		case string:
			piece(t)
		case json.Number:
			piece(t.String())
		case Value:
			for _, s := range t.RevealAll() {
				piece(s)
			}
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k])
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		case bool:
			// true and false are not worth hiding: masking them would
			// wreck every log line and hide nothing.
		case int, int64, float64:
			piece(fmt.Sprint(t))
		default:
			// A Go map, struct or slice: walk its JSON form.
			var plain any
			if b, err := json.Marshal(t); err == nil && json.Unmarshal(b, &plain) == nil {
				walk(plain) // JSON gives only the kinds handled above
				return
			}
			piece(fmt.Sprint(t))
		}
	}
	walk(v.raw())
	return out
}

func typeName(x any) string {
	if x == nil {
		return "null"
	}
	return reflect.TypeOf(x).String()
}

// Format writes [Redacted] for every verb.
func (v Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(Redacted))
		return
	}
	io.WriteString(f, Redacted)
}

// String returns [Redacted].
func (v Value) String() string { return Redacted }

// GoString returns [Redacted].
func (v Value) GoString() string { return Redacted }

// MarshalJSON encodes the value as the JSON string "********".
func (v Value) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText returns [Redacted], for encoders that use encoding.TextMarshaler.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue makes log/slog show [Redacted].
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

var (
	_ fmt.GoStringer = Value{}
	_ fmt.Formatter  = Value{}
	_ fmt.Stringer   = Value{}
	_ json.Marshaler = Value{}
	_ slog.LogValuer = Value{}
)

// Find calls fn for every Value in x: x itself, or one held in a struct
// field, a map, a slice, an array or behind a pointer or interface, a few
// levels deep. Types that cannot hold a Value are not looked into, so it is
// cheap on plain data. The runner uses it to mask every secret a task
// returns, wherever the secret sits in the result.
func Find(x any, fn func(Value)) {
	if fn == nil {
		return
	}
	if v, ok := x.(Value); ok {
		fn(v)
		return
	}
	if x == nil {
		return
	}
	find(reflect.ValueOf(x), fn, 0)
}

var valueType = reflect.TypeFor[Value]()

// mayHold caches, per type, whether a value of the type can hold a Value.
var mayHold sync.Map // reflect.Type -> bool

// CanHold reports whether a value of type t can be or hold a Value, so that
// callers can skip [Find] for types that cannot.
func CanHold(t reflect.Type) bool { return t != nil && canHold(t) }

func canHold(t reflect.Type) bool {
	if b, ok := mayHold.Load(t); ok {
		return b.(bool)
	}
	mayHold.Store(t, false) // breaks cycles of recursive types; corrected below
	b := computeCanHold(t)
	mayHold.Store(t, b)
	return b
}

func computeCanHold(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Struct:
		if t == valueType {
			return true
		}
		for i := range t.NumField() {
			if canHold(t.Field(i).Type) {
				return true
			}
		}
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return canHold(t.Elem())
	case reflect.Map:
		return canHold(t.Elem()) || canHold(t.Key())
	}
	return false
}

func find(v reflect.Value, fn func(Value), depth int) {
	if !v.IsValid() || depth > 8 || !canHold(v.Type()) {
		return
	}
	if v.Type() == valueType {
		if v.CanInterface() {
			fn(v.Interface().(Value))
		} else {
			// An unexported field: read it without calling methods.
			b := v.Field(0)
			if !b.IsNil() {
				fn(Value{b: (**box)(b.UnsafePointer())})
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			find(v.Elem(), fn, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			find(v.Field(i), fn, depth+1)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			find(v.Index(i), fn, depth+1)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			find(it.Key(), fn, depth+1)
			find(it.Value(), fn, depth+1)
		}
	}
}

package secrets

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strconv"

	"github.com/prefect-go/prefect/internal/redact"
)

// Redacted is what a [Value] shows wherever it is printed, encoded or logged.
const Redacted = redact.Marker

// Value holds a secret. It cannot leak by accident: fmt with any verb
// (%v %+v %#v %s %q %x ...), encoding/json, encoding.TextMarshaler users,
// log/slog and text/template all show [Redacted]. The secret itself comes
// only from an explicit call: [Value.Reveal], [Value.Decode] or [As].
//
// The zero Value holds nothing ([Value.IsZero]).
type Value struct {
	v   any
	set bool
}

// NewValue wraps v as a secret value.
func NewValue(v any) Value { return Value{v: v, set: true} }

// IsZero reports whether the value holds nothing.
func (v Value) IsZero() bool { return !v.set }

// Reveal returns the secret as text: a string as it is, anything else (a
// number, a table) as JSON. Call it only where the secret is used.
func (v Value) Reveal() string {
	switch x := v.v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v.v)
	if err != nil {
		return fmt.Sprint(v.v)
	}
	return string(b)
}

// Decode stores the secret in the variable dst points to: a string, a
// number, a map or a struct, converted through JSON when the types differ.
func (v Value) Decode(dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("secrets: Decode needs a non-nil pointer, not %T", dst)
	}
	if v.v != nil {
		if src := reflect.ValueOf(v.v); src.Type().AssignableTo(rv.Elem().Type()) {
			rv.Elem().Set(src)
			return nil
		}
	}
	if s, ok := v.v.(string); ok && rv.Elem().Kind() == reflect.String {
		rv.Elem().SetString(s)
		return nil
	}
	b, err := json.Marshal(v.v)
	if err == nil {
		err = json.Unmarshal(b, dst)
	}
	if err != nil {
		// The error must not quote the secret: name only the types.
		return fmt.Errorf("secrets: a secret of type %s cannot be decoded into %s", typeName(v.v), rv.Elem().Type())
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
// form and, for tables and lists, each value inside. It exists for maskers,
// which must hide each piece wherever it turns up.
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
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case nil:
		case string:
			add(t)
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
			add(fmt.Sprint(t))
		default:
			add(NewValue(t).Reveal())
		}
	}
	walk(v.v)
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
	_ fmt.Formatter  = Value{}
	_ fmt.Stringer   = Value{}
	_ json.Marshaler = Value{}
	_ slog.LogValuer = Value{}
)

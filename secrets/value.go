package secrets

import (
	"reflect"

	"github.com/prefect-go/prefect/secrets/sensitive"
)

// The value type lives in package sensitive, which imports nothing that
// resolving needs (configuration, TOML, HTTP), so that packages task and
// flow can handle secrets without linking it; these names make it, as
// before, part of package secrets. Each is the same type, value or
// function as the one in sensitive: a secrets.Value is a sensitive.Value.

// Redacted is what a [Value] shows wherever it is printed, encoded or logged.
const Redacted = sensitive.Redacted

// Value holds a secret. It cannot leak by accident: fmt with any verb
// (%v %+v %#v %s %q %x ...), encoding/json, encoding.TextMarshaler users,
// log/slog and text/template all show [Redacted]. The secret itself comes
// only from an explicit call: [Value.Reveal], [Value.Decode] or [As].
//
// The zero Value holds nothing ([Value.IsZero]). See [sensitive.Value].
type Value = sensitive.Value

// ErrBuildingFlow is Prefect's error for a secret used while building a
// flow; flow validation reports it for a secret bound as a constant.
var ErrBuildingFlow = sensitive.ErrBuildingFlow

// NewValue wraps v as a secret value.
func NewValue(v any) Value { return sensitive.NewValue(v) }

// As returns the secret as a T; see [Value.Decode].
func As[T any](v Value) (T, error) { return sensitive.As[T](v) }

// Find calls fn for every Value in x: x itself, or one held in a struct
// field, a map, a slice, an array or behind a pointer or interface, a few
// levels deep. Types that cannot hold a Value are not looked into, so it is
// cheap on plain data. The runner uses it to mask every secret a task
// returns, wherever the secret sits in the result.
func Find(x any, fn func(Value)) { sensitive.Find(x, fn) }

// CanHold reports whether a value of type t can be or hold a Value, so that
// callers can skip [Find] for types that cannot.
func CanHold(t reflect.Type) bool { return sensitive.CanHold(t) }

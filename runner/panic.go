package runner

import (
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"strconv"

	"github.com/prefect-go/prefect/internal/redact"
)

// PanicError is the error of a task whose function (or a trigger, state
// handler or result encoder it uses) panicked.
//
// A PanicError the runner hands out (in a state's Err, through errors.As)
// never shows a secret of its run, whatever was passed to panic:
//
//   - when the run has secrets and the panic value shows one, in any way fmt
//     prints it (%v, %+v, %#v, %s, %q, %x, its Error or String method) or,
//     for a []byte, as text, Value is replaced by its masked text, a string
//     (or by its type and the Marker, "main.creds(********)", when the text
//     fmt prints for %v holds the secret in no form the masker knows);
//     so is Stack when it holds one;
//   - the check is made again when the run ends, for secrets resolved after
//     the panic;
//   - Error and fmt print (with any verb) text masked with the run's
//     secrets as they are when it is printed, as the masked errors of
//     states are.
//
// A PanicError made outside a run (by an executor, say) is plain until it
// reaches one.
type PanicError struct {
	// Value is what was passed to panic, or its masked text (see above).
	Value any
	// Stack is the stack of the panicking goroutine.
	Stack []byte

	// m is the masker of the run that handed the error out; nil for one
	// made elsewhere and not yet seen by a run.
	m *redact.Masker
}

var (
	_ error         = (*PanicError)(nil)
	_ fmt.Formatter = (*PanicError)(nil)
)

// Error returns "panic: " and the panic value, masked (the whole text: a
// secret may be as short as the space after the colon).
func (e *PanicError) Error() string { return e.mask("panic: " + e.valueText()) }

// Format prints the error's text, masked, with any verb and flags: %+v
// adds the stack on the following lines, %#v is GoString.
func (e *PanicError) Format(f fmt.State, verb rune) {
	var text string
	switch {
	case verb == 'v' && f.Flag('#'):
		text = e.GoString()
	case verb == 'v' && f.Flag('+'):
		text = e.Error()
		if len(e.Stack) > 0 {
			text += "\n" + e.mask(string(e.Stack))
		}
	default:
		text = fmt.Sprintf(fmt.FormatString(f, verb), e.Error())
	}
	// Quoting or hex could make a registered form out of masked text:
	// mask what is written too.
	_, _ = io.WriteString(f, e.mask(text))
}

// GoString is what %#v prints: the error's type and its panic value in Go
// syntax, or the value's masked text, quoted, when it shows a secret. The
// stack is left out.
func (e *PanicError) GoString() string {
	v := fmt.Sprintf("%#v", e.Value)
	if e.m != nil {
		if text, hidden := hiddenText(e.m, e.Value); hidden {
			v = strconv.Quote(text)
		}
	}
	return e.mask("&runner.PanicError{Value:" + v + "}")
}

// valueText is the panic value as Error prints it.
func (e *PanicError) valueText() string {
	if e.m != nil {
		if text, hidden := hiddenText(e.m, e.Value); hidden {
			return text
		}
	}
	return fmt.Sprint(e.Value)
}

func (e *PanicError) mask(s string) string {
	if e.m == nil {
		return s
	}
	return e.m.Redact(s)
}

// hiddenText reports whether v shows a secret registered with m in any way
// fmt can print it, and, if so, the text that stands for it: its masked %v
// text (its masked text, for bytes), or its type and the Marker when that
// text holds the secret in a form m does not know (another verb, or the
// String method, showed it).
//
// fmt turns a method that panics into text, so printing user values here
// cannot panic.
func hiddenText(m *redact.Masker, v any) (string, bool) {
	if m.Empty() || v == nil {
		return "", false
	}
	text := fmt.Sprint(v)
	b, isBytes := bytesOf(v)
	if isBytes {
		text = string(b)
	}
	shows := m.Contains(text)
	for _, verb := range [...]string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if shows {
			break
		}
		shows = m.Contains(fmt.Sprintf(verb, v))
	}
	if s, ok := v.(fmt.Stringer); ok && !shows {
		// fmt prefers Error to String: ask String on its own.
		shows = m.Contains(fmt.Sprint(stringer{s}))
	}
	if !shows {
		return "", false
	}
	// A string is its own text: masking it is all there is to do (an
	// already masked one may still "show" a secret made of '*').
	if _, isString := v.(string); isString {
		return m.Redact(text), true
	}
	if masked := m.Redact(text); masked != text {
		return masked, true
	}
	// Masked too: a type's name may hold a short secret ("main").
	return m.Redact(fmt.Sprintf("%T(%s)", v, redact.Marker)), true
}

// stringer hides every method of a Stringer but String.
type stringer struct{ s fmt.Stringer }

func (s stringer) String() string { return s.s.String() }

// bytesOf returns the bytes of a byte slice or array of any named type.
func bytesOf(v any) ([]byte, bool) {
	if b, ok := v.([]byte); ok {
		return b, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return rv.Bytes(), true
		}
	case reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return b, true
		}
	}
	return nil, false
}

// newPanic returns the error for a panic with value p recovered by the
// runner, guarded (see guardPanic).
func (d *driver) newPanic(p any) *PanicError {
	pe := &PanicError{Value: p, Stack: debug.Stack()}
	d.guardPanic(pe)
	return pe
}

// guardPanic makes pe safe to hand out: it masks with the run's masker
// from now on, and what it holds is hidden when it shows a secret. The run
// keeps it, to look again when it ends (hidePanics). Any goroutine may call
// it.
func (d *driver) guardPanic(pe *PanicError) {
	if d.masker == nil {
		return
	}
	if pe.m != d.masker {
		pe.m = d.masker
		d.panicMu.Lock()
		d.panics = append(d.panics, pe)
		d.panicMu.Unlock()
	}
	d.hidePanic(pe)
}

// hidePanic replaces pe's value and stack by their masked text when they
// show a secret registered by now.
func (d *driver) hidePanic(pe *PanicError) {
	if d.masker.Empty() {
		return
	}
	if text, hidden := hiddenText(d.masker, pe.Value); hidden {
		pe.Value = text
	}
	if len(pe.Stack) > 0 && d.masker.Contains(string(pe.Stack)) {
		pe.Stack = []byte(d.masker.Redact(string(pe.Stack)))
	}
}

// hidePanics looks again at every panic of the run, once it is over, for
// the secrets resolved after them.
func (d *driver) hidePanics() {
	d.panicMu.Lock()
	defer d.panicMu.Unlock()
	for _, pe := range d.panics {
		d.hidePanic(pe)
	}
}

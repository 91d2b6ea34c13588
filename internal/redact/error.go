package redact

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
)

// Error returns err wrapped so that its text is masked: Error, and fmt with
// any verb (%v, %+v, %s, %q, %x, %#v), print only masked text. The text is
// masked each time it is printed, with the secrets registered by then, so an
// error kept in a state and printed later is masked for secrets resolved
// after it was wrapped.
//
// errors.Is sees the chain of err and still matches. errors.As finds an
// error only if it shows no secret: when the value it would hand back (the
// first in the chain that fits the target) prints a registered form through
// its Error method, fmt's %+v or %#v, As reports false and leaves the
// target as it was, since the caller would print it next. The wrapper has no Unwrap method, so errors.Unwrap cannot
// hand back the unmasked error either.
//
// nil stays nil, and an error Error already wrapped is returned as is.
func (m *Masker) Error(err error) error {
	if err == nil {
		return nil
	}
	if me, ok := err.(*maskedError); ok && me.m == m {
		return err
	}
	return &maskedError{m: m, err: err}
}

type maskedError struct {
	m   *Masker
	err error
}

var _ interface {
	error
	fmt.Formatter
	fmt.GoStringer
	Is(error) bool
	As(any) bool
} = (*maskedError)(nil)

func (e *maskedError) Error() string { return e.m.Redact(errorText(e.err)) }

// Format prints the masked text with any verb. %+v masks what the wrapped
// error prints for %+v (a stack trace, say), which may say more than its
// Error text; %#v is GoString. The result is masked once more after the
// verb's flags are applied: quoting, hex or padding could otherwise make a
// registered form out of masked text.
func (e *maskedError) Format(f fmt.State, verb rune) {
	var text string
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, e.GoString())
		return
	case verb == 'v' && f.Flag('+'):
		text = e.m.Redact(fmt.Sprintf("%+v", e.err))
	default:
		text = e.Error()
	}
	switch verb {
	case 'v', 's', 'q', 'x', 'X':
		text = fmt.Sprintf(fmt.FormatString(f, verb), text)
	default:
		text = "%!" + string(verb) + "(error=" + text + ")"
	}
	_, _ = io.WriteString(f, e.m.Redact(text))
}

// GoString is what %#v prints: the wrapped error's type and its masked
// text, never its fields.
func (e *maskedError) GoString() string {
	return e.m.Redact(fmt.Sprintf("&redact.maskedError{err: %T(%s)}", e.err, strconv.Quote(e.Error())))
}

func (e *maskedError) Is(target error) bool { return errors.Is(e.err, target) }

// As finds target in the chain of err, and refuses it (reporting false and
// restoring target) when it shows a registered form.
func (e *maskedError) As(target any) bool {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return errors.As(e.err, target) // panics as errors.As does
	}
	old := reflect.New(v.Elem().Type()).Elem()
	old.Set(v.Elem())
	if !errors.As(e.err, target) {
		return false
	}
	if e.m.shows(v.Elem().Interface()) {
		v.Elem().Set(old)
		return false
	}
	return true
}

// shows reports whether x prints a registered form through its Error
// method, or fmt's %+v or %#v: whether masking would change the text. (A
// form made of '*' is part of every Marker, and text already masked shows
// it without showing anything.) fmt turns a method that panics into text,
// the panic value included.
func (m *Masker) shows(x any) bool {
	masks := func(s string) bool { return m.Contains(s) && m.Redact(s) != s }
	if err, ok := x.(error); ok && masks(errorText(err)) {
		return true
	}
	return masks(fmt.Sprintf("%+v", x)) || masks(fmt.Sprintf("%#v", x))
}

// errorText returns err.Error(), or, when Error panics, text that says so
// (and which the caller masks: the panic value may hold the secret).
func errorText(err error) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("%%!v(PANIC=Error method: %v)", r)
		}
	}()
	return err.Error()
}

package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// codeError shows no secret, however it is printed.
type codeError struct{ Code int }

func (e *codeError) Error() string { return "code " + strconv.Itoa(e.Code) }

// leakyError shows the secret in its Error text.
type leakyError struct{ token string }

func (e *leakyError) Error() string { return "bad token " + e.token }

// fieldError hides the secret from Error, not from %#v.
type fieldError struct{ token string }

func (e *fieldError) Error() string { return "bad token" }

// stackError prints the secret for %+v only, as an error with a trace of
// the arguments might.
type stackError struct{ token string }

func (e stackError) Error() string { return "bad token" }

func (e stackError) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('+') {
		fmt.Fprintf(f, "bad token\n\tat login(%s)", e.token)
		return
	}
	fmt.Fprint(f, e.Error())
}

var errSentinel = errors.New("sentinel hunter2")

func TestError(t *testing.T) {
	m := New()
	m.Add("hunter2")
	if m.Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
	base := fmt.Errorf("login as admin with hunter2: %w", errors.Join(errSentinel, &codeError{42}))
	err := m.Error(base)

	if got, want := err.Error(), "login as admin with ********: sentinel ********\ncode 42"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, errSentinel) {
		t.Error("errors.Is(err, sentinel) = false")
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is(err, fs.ErrNotExist) = true")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		t.Error("errors.As(err, *fs.PathError) = true")
	}
	if u := errors.Unwrap(err); u != nil {
		t.Errorf("errors.Unwrap(err) = %v, want nil", u)
	}
	if _, ok := err.(interface{ Unwrap() error }); ok {
		t.Error("the wrapper has Unwrap() error")
	}
	if _, ok := err.(interface{ Unwrap() []error }); ok {
		t.Error("the wrapper has Unwrap() []error")
	}
	if m.Error(err) != err {
		t.Error("Error wrapped its own wrapper again")
	}
	outer := fmt.Errorf("run failed: %w", err)
	if !errors.Is(outer, errSentinel) || strings.Contains(outer.Error(), "hunter2") {
		t.Errorf("wrapping the wrapper: %v", outer)
	}
}

// TestErrorFormat: fmt prints only masked text, whatever the verb, and
// whatever the wrapped error prints for it.
func TestErrorFormat(t *testing.T) {
	m := New()
	m.Add("hunter2")
	errs := map[string]error{
		"wrapped":   fmt.Errorf("login with %q: %w", "hunter2", fs.ErrPermission),
		"struct":    &fieldError{"hunter2"},
		"stack":     stackError{"hunter2"},
		"panicky":   panickyError{"hunter2"},
		"joined":    errors.Join(&leakyError{"hunter2"}, stackError{"hunter2"}),
		"in fmt %w": fmt.Errorf("outer: %w", stackError{"hunter2"}),
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%+q", "%#q", "%x", "% X", "%20s", "%-30v|", "%.5s", "%d", "%T"}
	forms := wantForms("hunter2")
	for name, base := range errs {
		err := m.Error(base)
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, err)
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("%s: fmt %s prints %q: form %q", name, verb, out, f)
				}
			}
		}
	}
	// The masked text itself, for the common verbs.
	err := m.Error(errs["stack"])
	for verb, want := range map[string]string{
		"%v":    "bad token",
		"%s":    "bad token",
		"%+v":   "bad token\n\tat login(********)",
		"%q":    `"bad token"`,
		"%12s|": "   bad token|",
		"%#v":   `&redact.maskedError{err: redact.stackError("bad token")}`,
		"%d":    "%!d(error=bad token)",
	} {
		if got := fmt.Sprintf(verb, err); got != want {
			t.Errorf("fmt %s = %q, want %q", verb, got, want)
		}
	}
}

// panickyError panics with the secret in its Error method.
type panickyError struct{ token string }

func (e panickyError) Error() string { panic("no " + e.token) }

// TestErrorAs: errors.As hands back an error of the chain only if it shows
// no secret; errors.Is matches either way.
func TestErrorAs(t *testing.T) {
	m := New()
	m.Add("hunter2")
	code := &codeError{42}
	leaky := &leakyError{"hunter2"}
	field := &fieldError{"hunter2"}
	stack := stackError{"hunter2"}
	err := m.Error(fmt.Errorf("wrapped: %w", errors.Join(code, leaky, field, stack)))

	var ce *codeError
	if !errors.As(err, &ce) || ce != code {
		t.Errorf("errors.As(*codeError) = %v, %v; want the error, which shows no secret", ce != nil, ce)
	}
	var le *leakyError
	if errors.As(err, &le) || le != nil {
		t.Errorf("errors.As(*leakyError) found an error whose Error shows the secret: %v", le)
	}
	var fe *fieldError
	if errors.As(err, &fe) || fe != nil {
		t.Errorf("errors.As(*fieldError) found an error whose %%#v shows the secret: %v", fe)
	}
	se := stackError{"untouched"}
	if errors.As(err, &se) || se.token != "untouched" {
		t.Errorf("errors.As(stackError) found an error whose %%+v shows the secret, or changed the target: %q", se.token)
	}
	// An interface target the masked error satisfies gets the masked error.
	var coder interface{ Error() string }
	if !errors.As(err, &coder) || coder != err {
		t.Errorf("errors.As(interface) = %v, want the masked error itself", coder)
	}
	// Only the first match is looked at: one that shows the secret hides
	// a clean one further down the chain.
	two := m.Error(errors.Join(&leakyError{"hunter2"}, &leakyError{"nothing"}))
	if errors.As(two, &le) {
		t.Errorf("errors.As(*leakyError) = %v, want the first match refused", le)
	}
	for _, target := range []error{code, leaky, field, stack} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %T) = false", target)
		}
	}
	var pe panickyError
	if errors.As(m.Error(panickyError{"hunter2"}), &pe) {
		t.Error("errors.As(panickyError) found an error whose Error panics with the secret")
	}
	// A secret of '*' is in every Marker: an error whose text is masked
	// already shows nothing.
	star := New()
	star.Add("**")
	masked := &leakyError{Marker}
	if !errors.As(star.Error(masked), &le) || le != masked {
		t.Errorf("errors.As(*leakyError) refused an error that shows only a Marker")
	}
	// A secret registered after the error was wrapped counts too.
	late := m.Error(&codeError{7})
	m.Add("code 7")
	if errors.As(late, &ce) {
		t.Error("errors.As found an error that shows a secret registered later")
	}
}

// TestErrorLateSecret: an error wrapped before a secret was registered is
// masked for it when printed afterwards.
func TestErrorLateSecret(t *testing.T) {
	m := New()
	err := m.Error(errors.New("token tok-123 rejected"))
	m.Add("tok-123")
	if got := err.Error(); got != "token ******** rejected" {
		t.Fatalf("Error() = %q", got)
	}
	if got := fmt.Sprintf("%#v", err); got != `&redact.maskedError{err: *errors.errorString("token ******** rejected")}` {
		t.Fatalf("%%#v = %q", got)
	}
}

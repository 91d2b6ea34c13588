package runner_test

// Leak tests for the edges of a run, where a secret reaches text the
// runner makes from values it does not own: panic values of every type
// (a []byte, a struct holding one, an error or Stringer that shows the
// secret under one verb only), state handlers and triggers that panic with
// what they are handed, signals, store failures quoting the data they were
// given, triggers quoting upstream messages, and the errors Run returns.
// The corpus and the narrowing are leak_test.go's (see its comment); the
// channels checked, on both in-process executors:
//
//   - log output, from a slog.JSONHandler and a slog.TextHandler;
//   - every state: Message, Err's Error (and errors.Unwrap's chain), Err
//     printed with %v %+v %#v %s %q %x;
//   - every *runner.PanicError errors.As finds in a state: its Error, the
//     error printed with %v %+v %#v %s %q %x, its Value printed with the
//     same verbs (and as text, for bytes), its Stack;
//   - the states handed to state handlers, and everything a Reporter hears;
//   - the result store, but for the tasks that ask for their checkpoint
//     (task.WithCheckpoint(true)): their results are stored as they are, on
//     purpose.
//
// Forms checked, from which length (pieces shorter than four bytes inside
// a table are not masked on their own: see the README):
//
//   - the value and the forms leak_test.go checks: for a value of three
//     characters or more; for one of one or two, its derived forms of four
//     bytes or more;
//   - the forms fmt gives a []byte ("83 117 112" of %v, "0x53, 0x75" of
//     %#v, "53 75 70" of % x): for pieces of four bytes or more. The runner
//     keeps them out of what it makes from a panic value by itself; in text
//     a task writes (a log line with a []byte), they are the masker's to
//     find (leak_masker_test.go).
//
// What a task's own error value shows through errors.As (a *task.Signal,
// a custom error type) and %#v of a state's Err around a custom error
// value are the masker's (package internal/redact), not the runner's:
// leak_masker_test.go checks them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// Panic values of many kinds, each showing the secret some way.
type (
	tokenBytes []byte
	bytesCreds struct {
		User string
		Key  []byte
	}
	strCreds struct{ User, Token string }
	// tokenErr hides the token in its Error text; %#v shows it.
	tokenErr struct{ tok string }
	// shownStringer shows the token through String.
	shownStringer struct{ tok string }
	// hiddenStringer hides it in String; %#v shows it.
	hiddenStringer struct{ tok string }
	// errStringer hides it in Error, which fmt prefers, and shows it in String.
	errStringer struct{ tok string }
	// hexOnly shows it only when printed with %x.
	hexOnly struct{ tok string }
)

func (e tokenErr) Error() string        { return "the token was refused" }
func (s shownStringer) String() string  { return "token " + s.tok }
func (s hiddenStringer) String() string { return "a token" }
func (e errStringer) Error() string     { return "refused" }
func (e errStringer) String() string    { return "token " + e.tok }
func (h hexOnly) Format(f fmt.State, verb rune) {
	if verb == 'x' {
		_, _ = io.WriteString(f, h.tok)
		return
	}
	_, _ = io.WriteString(f, "hexOnly")
}

// panicValues are what the edge flow's tasks panic with, made from the
// secret's text.
var panicValues = []struct {
	name  string
	value func(s string) any
}{
	{"bytes", func(s string) any { return []byte(s) }},
	{"named_bytes", func(s string) any { return tokenBytes(s) }},
	{"byte_array", func(s string) any {
		var a [4]byte
		copy(a[:], s)
		return a
	}},
	{"struct_bytes", func(s string) any { return bytesCreds{"admin", []byte(s)} }},
	{"struct_string", func(s string) any { return strCreds{"admin", s} }},
	{"struct_pointer", func(s string) any { return &strCreds{"admin", s} }},
	{"error_value", func(s string) any { return tokenErr{s} }},
	{"error_pointer", func(s string) any { return &tokenErr{s} }},
	{"wrapped_error", func(s string) any { return fmt.Errorf("calling the API: %w", errors.New("token "+s)) }},
	{"shown_stringer", func(s string) any { return shownStringer{s} }},
	{"hidden_stringer", func(s string) any { return hiddenStringer{s} }},
	{"error_stringer", func(s string) any { return errStringer{s} }},
	{"hex_only", func(s string) any { return hexOnly{s} }},
	{"map", func(s string) any { return map[string]any{"token": s, "n": 1} }},
	{"list", func(s string) any { return []string{"a", s} }},
	{"any_list", func(s string) any { return []any{[]byte(s), 7} }},
}

// edgeTask is one task of the edge flow and how it must end.
type edgeTask struct {
	name  string
	ref   flow.Ref
	kind  state.Kind
	panic bool // its state (or each child's) holds a *runner.PanicError
}

type edgeFlow struct {
	f     *flow.Flow
	rec   *leakRecorder
	tasks []edgeTask
}

func (ef *edgeFlow) want(name string, ref flow.Ref, kind state.Kind, panics bool) {
	ef.tasks = append(ef.tasks, edgeTask{name: name, ref: ref, kind: kind, panic: panics})
}

// panicWith returns a state handler that panics with what pick takes from
// the state it is handed, on the change to when.
func panicWith(when state.Kind, pick func(st state.State) any) task.Option {
	return task.WithStateHandlers(func(ctx context.Context, old, new state.State) state.State {
		if new.Kind == when {
			panic(pick(new))
		}
		return new
	})
}

func newEdgeFlow() *edgeFlow {
	ef := &edgeFlow{f: flow.New("edge"), rec: &leakRecorder{}}
	f, h := ef.f, ef.rec.handler()
	secret := flow.Add(f, tasks.PrefectSecret(leakSecretName))
	reveal := flow.Add(f, task.New("reveal", func(ctx context.Context, in secretIn) (string, error) {
		return in.Secret.Reveal(), nil
	}, h), flow.Bind("secret", secret))
	text := flow.Bind("secret", reveal)
	ef.want("reveal", reveal, state.Success, false)
	none := func(ctx context.Context, in textIn) (task.None, error) { return task.None{}, nil }
	echo := func(ctx context.Context, in textIn) (string, error) { return in.Secret, nil }

	for _, pv := range panicValues {
		ef.want("panic_"+pv.name, flow.Add(f, task.New("panic_"+pv.name, func(ctx context.Context, in textIn) (task.None, error) {
			panic(pv.value(in.Secret))
		}, h), text), state.Failed, true)
	}
	ef.want("panic_retried", flow.Add(f, task.New("panic_retried", func(ctx context.Context, in textIn) (task.None, error) {
		panic(tokenBytes(in.Secret))
	}, h, task.WithRetries(1, 0)), text), state.Failed, true)
	list := flow.Add(f, task.New("list", func(ctx context.Context, in textIn) ([]string, error) {
		return []string{in.Secret, "x" + in.Secret}, nil
	}, h), text)
	ef.want("panic_mapped", flow.Map(f, task.New("panic_mapped", func(ctx context.Context, in itemIn) (task.None, error) {
		panic([]byte(in.Item))
	}, h), flow.Bind("item", list)), state.Mapped, true)

	// State handlers that panic with what they are handed: the result
	// (the secret), the state (whose %#v shows the result), its bytes.
	ef.want("handler_panics_result", flow.Add(f, task.New("handler_panics_result", echo, h,
		panicWith(state.Success, func(st state.State) any { return st.Result })), text), state.Failed, true)
	ef.want("handler_panics_state", flow.Add(f, task.New("handler_panics_state", echo, h,
		panicWith(state.Success, func(st state.State) any { return st })), text), state.Failed, true)
	ef.want("handler_panics_bytes", flow.Add(f, task.New("handler_panics_bytes", echo, h,
		panicWith(state.Success, func(st state.State) any { return []byte(st.Result.(string)) })), text), state.Failed, true)
	// A handler that fetches the secret itself on the way to Running.
	ef.want("handler_fetches", flow.Add(f, task.New("handler_fetches", func(ctx context.Context, _ task.None) (task.None, error) {
		return task.None{}, nil
	}, h, task.WithStateHandlers(func(ctx context.Context, old, new state.State) state.State {
		if new.Kind == state.Running {
			v, err := secrets.Secret(leakSecretName).Get(ctx)
			if err != nil {
				panic(err)
			}
			panic(bytesCreds{"handler", []byte(v.Reveal())})
		}
		return new
	}))), state.Failed, true)

	// Triggers: one panics with an upstream result, one quotes it, one
	// quotes an upstream failure's message.
	ef.want("trigger_panics", flow.Add(f, task.New("trigger_panics", none, h, task.WithTrigger(task.NewTrigger("panics", func(up []state.State) error {
		panic([]byte(up[0].Result.(string)))
	}))), text), state.TriggerFailed, true)
	ef.want("trigger_quotes", flow.Add(f, task.New("trigger_quotes", none, h, task.WithTrigger(task.NewTrigger("quotes", func(up []state.State) error {
		return fmt.Errorf("upstream %v said %q and returned %v", up[0].Kind, up[0].Message, up[0].Result)
	}))), text), state.TriggerFailed, false)
	failing := flow.Add(f, task.New("fails_quoting", func(ctx context.Context, in textIn) (task.None, error) {
		return task.None{}, fmt.Errorf("refused %s", in.Secret)
	}, h), text)
	ef.want("fails_quoting", failing, state.Failed, false)
	ef.want("trigger_quotes_failure", flow.Add(f, task.New("trigger_quotes_failure", func(ctx context.Context, _ task.None) (task.None, error) {
		return task.None{}, nil
	}, h, task.WithTrigger(task.NewTrigger("quotes_failure", func(up []state.State) error {
		return errors.New("upstream said: " + up[0].Message + " / " + fmt.Sprint(up[0].Err))
	}))), flow.After(failing)), state.TriggerFailed, false)

	// Signals and a task's own error value.
	ef.want("signal_fail", flow.Add(f, task.New("signal_fail", func(ctx context.Context, in textIn) (task.None, error) {
		return task.None{}, task.Fail("cannot log in with " + in.Secret)
	}, h), text), state.Failed, false)
	ef.want("value_error", flow.Add(f, task.New("value_error", func(ctx context.Context, in textIn) (task.None, error) {
		return task.None{}, tokenErr{in.Secret}
	}, h), text), state.Failed, false)

	// Store failures: the error quotes the data the store was given (a
	// result that holds the secret, since the task asks to be stored).
	ef.want("write_fails", flow.Add(f, task.New("write_fails", func(ctx context.Context, in textIn) (string, error) {
		return "Bearer " + in.Secret, nil
	}, h, task.WithCheckpoint(true)), text), state.Failed, false)
	ef.want("cache_fails", flow.Add(f, task.New("cache_fails", func(ctx context.Context, in textIn) (string, error) {
		return "Bearer " + in.Secret, nil
	}, h, task.WithCheckpoint(true), task.WithCacheFor(time.Hour), task.WithCacheKey("cache-fails")), text), state.Success, false)
	return ef
}

// failingStore is a recordingStore whose writes for write_fails and for
// cache entries fail with an error quoting the data; failed writes are not
// recorded.
type failingStore struct{ *recordingStore }

func (s failingStore) Write(ctx context.Context, location string, data []byte) error {
	if strings.Contains(location, "write_fails") || strings.HasPrefix(location, "cache/") {
		return fmt.Errorf("disk full: cannot write %s = %s", location, data)
	}
	return s.recordingStore.Write(ctx, location, data)
}

// optedIn reports whether a location is a checkpoint of a task that asked
// for it, whose data is stored as it is.
func optedIn(location string) bool { return strings.Contains(location, "cache_fails") }

// byteForms returns the forms fmt gives the bytes of each piece of four
// bytes or more (see the file comment).
func byteForms(pieces []string) []form {
	var out []form
	for _, p := range pieces {
		if len(p) < 4 {
			continue
		}
		b := []byte(p)
		list := strings.Trim(fmt.Sprint(b), "[]")
		goSyntax := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", b), "[]byte{"), "}")
		out = append(out,
			form{"Go %v of []byte of " + excerpt(p), list},
			form{"Go %#v of []byte of " + excerpt(p), goSyntax},
			form{"Go % x of " + excerpt(p), fmt.Sprintf("% x", b)},
		)
	}
	return out
}

// edgeForms returns the forms checked here: checkedForms and byteForms,
// less, for a secret of '*' only, those that occur in a form of the Marker
// itself ("2a2a" of "**" is in "2a2a2a2a2a2a2a2a", which %x of any masked
// text shows).
func edgeForms(pieces []string) []form {
	forms := append(checkedForms(pieces), byteForms(pieces)...)
	var marker []form
	for _, p := range pieces {
		if strings.Trim(p, "*") == "" {
			marker = derivedForms(secrets.Redacted)
		}
	}
	return slices.DeleteFunc(forms, func(f form) bool {
		return slices.ContainsFunc(marker, func(m form) bool { return strings.Contains(m.text, f.text) })
	})
}

// edgeVerbs are the verbs errors and panic values are printed with.
var edgeVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x"}

// TestSecretsNeverLeakAtEdges runs the edge flow once per value of the
// corpus, on the Local and on the Parallel executor.
func TestSecretsNeverLeakAtEdges(t *testing.T) {
	values := leakValues()
	for _, ex := range leakExecutors {
		t.Run(ex.name, func(t *testing.T) {
			report := &leakReport{}
			for _, v := range values {
				runEdgeFlow(t, ex.new(), v, report)
			}
			report.report(t)
		})
	}
}

// FuzzSecretsNeverLeakAtEdges runs the edge flow with any secret: `go test
// -fuzz FuzzSecretsNeverLeakAtEdges ./runner/`. Without -fuzz it runs its
// seeds, a few values of each kind.
func FuzzSecretsNeverLeakAtEdges(f *testing.F) {
	for _, s := range []string{"s3cr3t-token-1234", "pässwörd-秘密-🔑", "line1\nline2\r\n", `C:\a"b'c`, "x", pemLike(3)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || strings.Trim(s, "*") == "" {
			t.Skip("an empty secret is no secret; one of '*' only is part of every Marker")
		}
		report := &leakReport{}
		runEdgeFlow(t, runner.Local(), leakValue{"fuzz", s}, report)
		report.report(t)
	})
}

func runEdgeFlow(t *testing.T, exec runner.Executor, v leakValue, report *leakReport) {
	t.Helper()
	pieces := piecesOf(t, v.raw)
	forms := edgeForms(pieces)
	ef := newEdgeFlow()
	var jsonOut, textOut syncbuf.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}
	logger := slog.New(teeHandler{slog.NewJSONHandler(&jsonOut, opts), slog.NewTextHandler(&textOut, opts)})
	store := failingStore{newRecordingStore()}
	rep := &recReporter{}
	fs, err := runner.Run(t.Context(), ef.f,
		runner.WithExecutor(exec),
		runner.WithFlowRunID(reporterLeakRunID), runner.WithFlowRunName("edge-leak"),
		runner.WithSecrets(map[string]any{leakSecretName: v.raw}),
		runner.WithLogger(logger),
		runner.WithReporter(rep),
		runner.WithCheckpointing(true),
		runner.WithResultStore(store))
	if err != nil {
		t.Fatalf("secret %s: Run: %v", excerpt(v.raw), err)
	}
	where := fmt.Sprintf("secret %s (%s)", excerpt(v.raw), v.class)
	slugOf := map[string]edgeTask{}
	for _, et := range ef.tasks {
		st := fs.Of(et.ref)
		if st.Kind != et.kind {
			t.Errorf("%s: task %s ended %v, want %v", where, et.name, st, et.kind)
		}
		slugOf[fs.Graph.Tasks[et.ref.ID()].Slug] = et
	}

	// Logs.
	for _, val := range logValuesJSON(t, jsonOut.Bytes()) {
		report.check("log output (slog.JSONHandler)", v, forms, val)
	}
	for _, val := range logValuesText(t, textOut.Bytes()) {
		report.check("log output (slog.TextHandler)", v, forms, val)
	}

	// States, their errors printed every way, and the panics in them.
	var panics int
	for name, st := range allStates(fs) {
		et := slugOf[strings.Split(name, "[")[0]]
		report.check("state Message", v, forms, name+": "+st.Message)
		for _, e := range errorTexts(st.Err) {
			report.check("State.Err.Error() (errors.Unwrap chain)", v, forms, name+": "+e)
		}
		if st.Err != nil {
			for _, verb := range edgeVerbs {
				if verb == "%#v" && ownErrValue(st.Err) {
					continue // the masker's: see the file comment
				}
				report.check("State.Err printed with "+verb, v, forms, name+": "+fmt.Sprintf(verb, st.Err))
			}
		}
		report.check("state printed with fmt %+v", v, forms, fmt.Sprintf("%+v", st))
		if !et.panic || st.Kind == state.Mapped {
			continue
		}
		var pe *runner.PanicError
		if !errors.As(st.Err, &pe) {
			t.Errorf("%s: %s: errors.As(state.Err, *runner.PanicError) finds nothing in %v", where, name, st)
			continue
		}
		panics++
		checkPanicError(report, v, forms, name, pe)
	}
	if panics == 0 {
		t.Errorf("%s: no PanicError was checked", where)
	}

	// What state handlers were handed.
	ef.rec.mu.Lock()
	for _, st := range ef.rec.handed {
		report.check("state handed to a state handler (Message)", v, forms, st.Message)
		if st.Err != nil {
			for _, verb := range edgeVerbs {
				if verb == "%#v" && ownErrValue(st.Err) {
					continue // the masker's: see the file comment
				}
				report.check("state handed to a state handler (Err printed with "+verb+")", v, forms, fmt.Sprintf(verb, st.Err))
			}
		}
		var pe *runner.PanicError
		if errors.As(st.Err, &pe) {
			checkPanicError(report, v, forms, "handed", pe)
		}
	}
	ef.rec.mu.Unlock()

	// The Reporter. (Its contract is report_test.go's: here slugs holding
	// a one-character secret are masked once it is resolved, and no longer
	// match those reported Pending before.)
	rep.mu.Lock()
	if len(rep.tasks) == 0 || len(rep.logs) == 0 {
		t.Errorf("%s: the Reporter heard of %d task states and %d log records", where, len(rep.tasks), len(rep.logs))
	}
	checkReported(rep, v, forms, report)
	rep.mu.Unlock()

	// The result store, but for what a task asked to store as it is.
	store.mu.Lock()
	for loc, data := range store.writes {
		if !optedIn(loc) {
			report.check("result store (written)", v, forms, loc+" = "+string(data))
		}
	}
	store.mu.Unlock()

	flowForms := forms
	for _, m := range flowMessages {
		if fs.Message == m {
			flowForms = slicesDeleteIn(forms, m)
		}
	}
	report.check("FlowState printed with fmt %+v", v, flowForms, fmt.Sprintf("%+v", *fs))
}

// ownErrValue reports whether err holds a task's own error of a value type,
// which %#v of the masked error around it prints field by field: the
// masker's to hide (see the file comment). A masker that refuses to hand
// such a value back through errors.As has it checked like any other.
func ownErrValue(err error) bool {
	var te tokenErr
	return errors.As(err, &te)
}

// checkPanicError checks everything a PanicError shows.
func checkPanicError(report *leakReport, v leakValue, forms []form, name string, pe *runner.PanicError) {
	report.check("PanicError.Error()", v, forms, name+": "+pe.Error())
	for _, verb := range edgeVerbs {
		report.check("PanicError printed with "+verb, v, forms, name+": "+fmt.Sprintf(verb, pe))
		report.check("PanicError.Value printed with "+verb, v, forms, name+": "+fmt.Sprintf(verb, pe.Value))
	}
	if b, ok := pe.Value.([]byte); ok {
		report.check("PanicError.Value as text", v, forms, name+": "+string(b))
	}
	if b, ok := pe.Value.(tokenBytes); ok {
		report.check("PanicError.Value as text", v, forms, name+": "+string(b))
	}
	report.check("PanicError.Stack", v, forms, name+": "+string(pe.Stack))
}

// A panic value, or an error, that shows a secret resolved only after the
// task ended: the state's Err and the PanicError mask it when they are
// printed, and the PanicError has its Value replaced when the run ends.
func TestErrorsBeforeTheirSecretIsResolved(t *testing.T) {
	const tok = "late-s3cr3t-0123456789"
	v := leakValue{"late", tok}
	forms := edgeForms([]string{tok})
	for _, ex := range leakExecutors {
		t.Run(ex.name, func(t *testing.T) {
			f := flow.New("late")
			boom := flow.Add(f, task.New("boom", func(ctx context.Context, _ task.None) (task.None, error) {
				panic(bytesCreds{"admin", []byte(tok)})
			}))
			fails := flow.Add(f, task.New("fails", func(ctx context.Context, _ task.None) (task.None, error) {
				return task.None{}, fmt.Errorf("refused %s", tok)
			}))
			flow.Add(f, task.New("mask_later", func(ctx context.Context, _ task.None) (task.None, error) {
				secrets.Mask(ctx, secrets.NewValue(tok))
				return task.None{}, nil
			}, task.WithTrigger(task.AlwaysRun)), flow.After(boom, fails))
			fs, err := runner.Run(t.Context(), f, runner.WithExecutor(ex.new()))
			if err != nil {
				t.Fatal(err)
			}
			report := &leakReport{}
			for _, ref := range []flow.Ref{boom, fails} {
				st := fs.Of(ref)
				for _, verb := range edgeVerbs {
					report.check("State.Err printed with "+verb, v, forms, fmt.Sprintf(verb, st.Err))
				}
			}
			var pe *runner.PanicError
			if !errors.As(fs.Of(boom).Err, &pe) {
				t.Fatalf("errors.As finds no PanicError in %v", fs.Of(boom))
			}
			checkPanicError(report, v, forms, "boom", pe)
			report.report(t)
			if _, still := pe.Value.(bytesCreds); still {
				t.Errorf("PanicError.Value is still the panic value %T; want its masked text", pe.Value)
			}
		})
	}
}

// Errors Run returns: a secret resolved first that fails quoting another
// secret, an executor that fails to start quoting one, and a panic in a
// result store the runner reads from on its own goroutine.
func TestRunErrorsNeverShowSecret(t *testing.T) {
	const tok = "run-error-s3cr3t-42"
	v := leakValue{"run error", tok}
	forms := edgeForms([]string{tok})
	cases := []struct {
		name string
		run  func(t *testing.T) error
	}{
		{"secret resolved first", func(t *testing.T) error {
			f := flow.New("first")
			flow.Add(f, task.New("bad_secret", func(ctx context.Context, _ task.None) (secrets.Value, error) {
				s, err := secrets.Secret(leakSecretName).Get(ctx)
				if err != nil {
					return secrets.Value{}, err
				}
				return secrets.Value{}, tokenErr{s.Reveal()}
			}, task.WithSecretResult()))
			flow.Add(f, task.New("bad_secret_2", func(ctx context.Context, _ task.None) (secrets.Value, error) {
				s, err := secrets.Secret(leakSecretName).Get(ctx)
				if err != nil {
					return secrets.Value{}, err
				}
				return secrets.Value{}, fmt.Errorf("secret %q does not decode", []byte(s.Reveal()))
			}, task.WithSecretResult()))
			_, err := runner.Run(t.Context(), f, runner.WithResolveSecretsFirst(),
				runner.WithSecrets(map[string]any{leakSecretName: tok}))
			return err
		}},
		{"executor fails to start", func(t *testing.T) error {
			f := flow.New("exec")
			flow.Add(f, task.New("t", func(ctx context.Context, _ task.None) (task.None, error) { return task.None{}, nil }))
			_, err := runner.Run(t.Context(), f, runner.WithExecutor(secretExecutor{}),
				runner.WithSecrets(map[string]any{leakSecretName: tok}))
			return err
		}},
		{"result store panics", func(t *testing.T) error {
			f := flow.New("store")
			key := flow.Parameter[secrets.Value](f, "key")
			flow.Add(f, task.New("t", func(ctx context.Context, _ task.None) (string, error) { return "", nil }), flow.After(key))
			_, err := runner.Run(t.Context(), f,
				runner.WithParameters(map[string]any{"key": secrets.NewValue(tok)}),
				runner.WithResultStore(panickingStore{tok}),
				runner.WithTaskStates(map[string]state.State{"t-1": {Kind: state.Success, Location: "somewhere"}}))
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(t)
			if err == nil {
				t.Fatal("Run returned no error")
			}
			if !strings.Contains(err.Error(), secrets.Redacted) {
				t.Errorf("Run's error %q shows no %s: the case did not reach the secret", err, secrets.Redacted)
			}
			report := &leakReport{}
			for _, e := range errorTexts(err) {
				report.check("Run's error (errors.Unwrap chain)", v, forms, e)
			}
			for _, verb := range edgeVerbs {
				report.check("Run's error printed with "+verb, v, forms, fmt.Sprintf(verb, err))
			}
			var pe *runner.PanicError
			if errors.As(err, &pe) {
				checkPanicError(report, v, forms, "Run", pe)
			}
			report.report(t)
		})
	}
}

// secretExecutor fails to start, quoting a secret it resolved.
type secretExecutor struct{}

func (secretExecutor) Start(ctx context.Context) (runner.Session, error) {
	s, err := secrets.Secret(leakSecretName).Get(ctx)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("cannot connect with token %s (%x)", s.Reveal(), []byte(s.Reveal()))
}

// panickingStore panics on every read with its secret.
type panickingStore struct{ tok string }

func (s panickingStore) Write(context.Context, string, []byte) error { return nil }
func (s panickingStore) Read(context.Context, string) ([]byte, error) {
	panic(bytesCreds{"store", []byte(s.tok)})
}
func (s panickingStore) Exists(context.Context, string) (bool, error) { return true, nil }

// pemLike returns a PEM-like multi-line secret of n body lines.
func pemLike(n int) string {
	var b strings.Builder
	b.WriteString("-----BEGIN TEST PRIVATE KEY-----\n")
	for i := range n {
		line := strings.Repeat(strconv.Itoa(i)+"Qk1Ab+/x", 8)
		b.WriteString(line[:64] + "\n")
	}
	b.WriteString("-----END TEST PRIVATE KEY-----\n")
	return b.String()
}

package runner_test

// Leak tests of the forms and places the masker (package internal/redact)
// covers in text a task writes itself, run end to end: a run's logs (whole
// lines, keys included), states and Reporter payloads, on both in-process
// executors, with leak_test.go's corpus. Each assertion is one the README
// promises:
//
//   - fmt's forms of a []byte a task writes itself ("83 117 112" of %v,
//     "0x53, 0x75" of %#v, "53 75 70" of % x), for pieces of 4 bytes or
//     more;
//   - \u escapes: strconv.QuoteToASCII's (%+q: \u00e9, \U0001f511) and
//     JSON's as Python's json.dumps writes it (every non-ASCII rune as \u,
//     surrogate pairs past U+FFFF), lower and upper case, for pieces of 4
//     bytes or more that hold a non-ASCII rune or a control character;
//   - base64 of a text holding the secret ("user:" + secret, an
//     Authorization: Basic header): the run of characters that depends on
//     the secret alone, at each of the three alignments, standard and
//     URL-safe, for secrets of 5 bytes or more;
//   - each line of a multi-line secret (a PEM key) on its own, for lines of
//     4 bytes or more;
//   - slog keys and group names in the output of the handler given with
//     runner.WithLogger;
//   - %#v of a state's Err around a task's own error value, and what
//     errors.As hands back of a task's own error values (*task.Signal, a
//     custom type): refused, or printing no secret.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// pythonJSON returns s as the body of a JSON string Python's json.dumps
// writes (ensure_ascii), with lower- or upper-case hex.
func pythonJSON(s string, upper bool) string {
	hexd := "0123456789abcdef"
	if upper {
		hexd = "0123456789ABCDEF"
	}
	u := func(b *strings.Builder, r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hexd[r>>shift&15])
		}
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			u(&b, r)
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			u(&b, r1)
			u(&b, r2)
		default:
			u(&b, r)
		}
	}
	return b.String()
}

// base64Cores returns, for each alignment of s inside a longer text, the
// characters of its base64 that depend on s alone.
func base64Cores(s string, enc *base64.Encoding) []string {
	var out []string
	for a := range 3 {
		e := enc.EncodeToString(append(make([]byte, a), s...))
		lo, hi := (8*a+5)/6, 8*(a+len(s))/6
		if hi > lo {
			out = append(out, e[lo:hi])
		}
	}
	return out
}

// maskerForms returns the forms listed in the file comment.
func maskerForms(pieces []string) []form {
	var out []form
	for _, p := range pieces {
		if len(p) < 4 {
			continue
		}
		name := func(what string) string { return what + " of " + excerpt(p) }
		if strings.ContainsFunc(p, func(r rune) bool { return r >= utf8.RuneSelf || r < ' ' || r == 0x7f }) {
			q := strconv.QuoteToASCII(p)
			out = append(out,
				form{name("strconv.QuoteToASCII body"), q[1 : len(q)-1]},
				form{name("JSON with \\u escapes"), pythonJSON(p, false)},
				form{name("JSON with \\U escapes"), pythonJSON(p, true)})
		}
		if len(p) >= 5 {
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				for _, c := range base64Cores(p, enc) {
					out = append(out, form{name("base64 inside a longer text"), c})
				}
			}
		}
		if strings.Contains(p, "\n") {
			for line := range strings.Lines(p) {
				line = strings.TrimRight(line, "\r\n")
				if len(line) >= 4 && strings.TrimSpace(line) != "" {
					out = append(out, form{name("line " + strconv.Quote(line)), line})
				}
			}
		}
	}
	return append(out, byteForms(pieces)...)
}

func newMaskerFlow() (*flow.Flow, map[string]state.Kind) {
	f := flow.New("masker forms")
	secret := flow.Add(f, tasks.PrefectSecret(leakSecretName))
	reveal := flow.Add(f, task.New("reveal", func(ctx context.Context, in secretIn) (string, error) {
		return in.Secret.Reveal(), nil
	}), flow.Bind("secret", secret))
	text := flow.Bind("secret", reveal)
	logs := func(name string, fn func(log *slog.Logger, s string)) {
		flow.Add(f, task.New(name, func(ctx context.Context, in textIn) (task.None, error) {
			rc, _ := runner.FromContext(ctx)
			fn(rc.Logger(), in.Secret)
			return task.None{}, nil
		}), text)
	}
	logs("logs_bytes", func(log *slog.Logger, s string) {
		b := []byte(s)
		log.Info(fmt.Sprintf("bytes %v / %#v / % x / % X", b, b, b, b), slog.Any("raw", b), slog.String("list", fmt.Sprint(b)))
		log.Info("in a struct", slog.Any("creds", bytesCreds{"admin", b}), slog.String("printed", fmt.Sprintf("%+v", bytesCreds{"admin", b})))
	})
	logs("logs_ascii", func(log *slog.Logger, s string) {
		log.Info("ascii "+strconv.QuoteToASCII(s), slog.String("plus_q", fmt.Sprintf("%+q", s)),
			slog.String("python", pythonJSON(s, false)), slog.String("jackson", pythonJSON(s, true)))
	})
	logs("logs_basic", func(log *slog.Logger, s string) {
		for _, user := range []string{"u:", "us:", "usr:"} {
			log.Info("Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(user+s)),
				slog.String("url", base64.URLEncoding.EncodeToString([]byte(user+s+"@host"))))
		}
	})
	logs("logs_lines", func(log *slog.Logger, s string) {
		for line := range strings.Lines(s) {
			log.Info("a line: "+line, slog.String("line", line))
		}
	})
	logs("logs_keys", func(log *slog.Logger, s string) {
		log.WithGroup(s).Info("a secret as a key", s, "value", slog.Group(s, slog.String(s, "v")))
	})
	flow.Add(f, task.New("value_error", func(ctx context.Context, in textIn) (task.None, error) {
		return task.None{}, fmt.Errorf("calling: %w", tokenErr{in.Secret})
	}), text)
	flow.Add(f, task.New("signal_fail", func(ctx context.Context, in textIn) (task.None, error) {
		return task.None{}, task.Fail("cannot log in with " + in.Secret)
	}), text)
	return f, map[string]state.Kind{"value_error-1": state.Failed, "signal_fail-1": state.Failed, "logs_keys-1": state.Success}
}

func TestSecretsNeverLeakMaskerForms(t *testing.T) {
	values := leakValues()
	for _, ex := range leakExecutors {
		t.Run(ex.name, func(t *testing.T) {
			report := &leakReport{}
			for _, v := range values {
				runMaskerFlow(t, ex.new(), v, report)
			}
			report.report(t)
		})
	}
}

func runMaskerFlow(t *testing.T, exec runner.Executor, v leakValue, report *leakReport) {
	t.Helper()
	pieces := piecesOf(t, v.raw)
	forms := append(edgeForms(pieces), maskerForms(pieces)...)
	f, kinds := newMaskerFlow()
	var jsonOut, textOut syncbuf.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: dropTime}
	rep := &recReporter{}
	fs, err := runner.Run(t.Context(), f, runner.WithExecutor(exec),
		runner.WithFlowRunID(reporterLeakRunID), runner.WithFlowRunName("masker-leak"),
		runner.WithSecrets(map[string]any{leakSecretName: v.raw}),
		runner.WithReporter(rep),
		runner.WithLogger(slog.New(teeHandler{slog.NewJSONHandler(&jsonOut, opts), slog.NewTextHandler(&textOut, opts)})))
	if err != nil {
		t.Fatal(err)
	}
	where := fmt.Sprintf("secret %s (%s)", excerpt(v.raw), v.class)
	for slug, k := range kinds {
		if st, _ := fs.Task(slug); st.Kind != k {
			t.Errorf("%s: %s ended %v, want %v", where, slug, st, k)
		}
	}
	// Whole lines, keys included; the level names and fixed keys are
	// constants a piece of four bytes or more is not part of.
	for _, line := range strings.Split(string(jsonOut.Bytes()), "\n") {
		report.check("raw log line (slog.JSONHandler), keys included", v, forms, line)
	}
	for _, line := range strings.Split(string(textOut.Bytes()), "\n") {
		report.check("raw log line (slog.TextHandler), keys included", v, forms, line)
	}
	for name, st := range allStates(fs) {
		report.check("state Message", v, forms, name+": "+st.Message)
		if st.Err == nil {
			continue
		}
		for _, verb := range edgeVerbs {
			report.check("State.Err printed with "+verb, v, forms, name+": "+fmt.Sprintf(verb, st.Err))
		}
		var te tokenErr
		if errors.As(st.Err, &te) {
			for _, verb := range edgeVerbs {
				report.check("a task's own error value through errors.As, printed with "+verb, v, forms, name+": "+fmt.Sprintf(verb, te))
			}
		}
		var sig *task.Signal
		if errors.As(st.Err, &sig) {
			for _, verb := range edgeVerbs {
				report.check("a *task.Signal through errors.As, printed with "+verb, v, forms, name+": "+fmt.Sprintf(verb, sig))
			}
		}
	}
	rep.mu.Lock()
	checkReported(rep, v, forms, report)
	rep.mu.Unlock()
}

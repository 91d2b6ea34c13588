package runner_test

// Leak tests for secrets: a secret resolved in a run must not show, in its
// value or in any form derived from it, in anything the run produces. These
// tests stay in CI: every channel below is a promise of the README
// ("What never shows a secret's value").
//
// What is checked, for every value of a corpus (fixed values plus values
// generated from a fixed seed) and on both executors:
//
//   - log output, from a slog.JSONHandler and a slog.TextHandler;
//   - every task state (mapped children too): Message, Err.Error() and the
//     Error() of everything errors.Unwrap reaches, fmt %v and %+v;
//   - the states the tasks' state handlers are handed;
//   - task run names, seen from state handlers and from inside the task;
//   - the result store: every write, and every Location of every state;
//   - the FlowState printed with %v and %+v.
//
// What is NOT counted as a leak, on purpose:
//
//   - runner.ResultOf / State.Result of a task that computed a string from
//     the secret: it is the user's own data, returned to the caller of Run.
//   - a typed error of the task's own chain (a *task.Signal, a custom
//     error type) reached through errors.As on State.Err: an explicit
//     extraction of the task's own value, which the masker may refuse.
//     State.Err.Error() and the printed state, which is what gets logged or
//     shown, must be masked, and are checked. The *runner.PanicError
//     errors.As finds is the runner's: edge_leak_test.go checks everything
//     it shows, its Value and Stack included.
//
// The forms checked are those the README lists: the value itself, standard
// and URL-safe base64 (padded and raw), url.QueryEscape, url.PathEscape, the
// body of a JSON string (with and without HTML escaping), hex (lower and
// upper case), plus the body of a Go %q quoting, which the masker also
// hides. A JSON secret (`{"user": "u"}`) is decoded by the resolver; every
// piece the run can see (its text and each value inside, Value.RevealAll) is
// checked, and so is the text as given.
//
// Where a check would test the text around the secret rather than the
// secret, it is narrowed, never dropped:
//
//   - a secret of one or two characters ("x", "7", "%$") occurs by chance
//     in every key, level name and fixed message; for those, only derived
//     forms of four bytes or more are checked ("x" is checked as "eA==",
//     "78"... are not);
//   - a form made only of '*', up to 8 of them, is part of the Marker
//     itself: the masker's documented limit (package internal/redact);
//   - log lines are parsed, and only values are checked: keys and level
//     names are constants written by slog, not by anything the secret can
//     reach. The record time is dropped (ReplaceAttr): slog writes it
//     unmasked, and "2026" is the hex of " &";
//   - the flow's own message is one of Prefect's constants ("Some reference
//     tasks failed."), which a short secret such as "ask" may be part of.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

const leakSecretName = "MYSECRET"

// leakValue is one secret value of the corpus and the class it stands for.
type leakValue struct {
	class string
	raw   string
}

// leakSeedCorpus holds the values every run of the test checks, whatever the
// generator does: one or more per class of text that escaping, quoting or
// masking could get wrong.
var leakSeedCorpus = []leakValue{
	{"plain", "s3cr3t-token-1234"},
	{"spaces", "correct horse battery staple"},
	{"spaces", " leading and trailing "},
	{"quotes", `he said "hi" and 'bye'`},
	{"quotes", `"`},
	{"newlines", "line1\nline2\r\nline3"},
	{"newlines", "\n"},
	{"dollar", "$HOME$$${PATH}$"},
	{"percent", "100%!d%s%%v%"},
	{"backslash", `C:\path\to\n\x00\\`},
	{"unicode", "pässwörd-秘密-🔑"},
	{"unicode", "nbsp\u00a0line\u2028sep\u2029end"},
	{"control", "tab\there\x01bell\x7f"},
	{"html", "<script>&amp;</script>"},
	{"url", "a/b?c=d&e=f g+h#frag"},
	{"json", `{"user": "admin-user", "pass": "hunter2-p4ss", "port": 5432}`},
	{"json", `"a-json-string-secret"`},
	{"json", `[1234567, "list-item-secret", {"deep": "nested-secret"}]`},
	{"json", "31415926"},
	{"1-char", "x"},
	{"1-char", "*"},
	{"1-char", "7"},
	{"1-char", "é"},
	{"1-char", " "},
	{"2-char", "ab"},
	{"2-char", "%$"},
	{"2-char", "**"},
	{"star", "a*b"},
	{"star", "***"},
	{"star", "********"},
	{"star", "*********x"},
	{"star", "*wild*card*"},
	{"4KiB", strings.Repeat("0123456789abcdef", 256)},
	{"emoji", "🔑🗝️🔐"},
	{"cjk", "中文密码"},
	{"pem", pemLike(4)},
	{"pem", "-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAA\r\n-----END OPENSSH PRIVATE KEY-----"},
}

// leakGenerated is how many values the generator adds to the corpus: enough
// to cover each class several times, few enough to keep the test under a few
// seconds with -race.
const leakGenerated = 56

// leakValues returns the fixed corpus and leakGenerated values generated
// from a fixed seed, each distinct.
func leakValues() []leakValue {
	r := rand.New(rand.NewPCG(0x5eed, 2026))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	word := func(min, max int) string {
		b := make([]byte, min+r.IntN(max-min+1))
		for i := range b {
			b[i] = alnum[r.IntN(len(alnum))]
		}
		return string(b)
	}
	// sprinkle returns alphanumeric text with runes from specials mixed in,
	// at least one of them.
	sprinkle := func(specials []string) string {
		n := 3 + r.IntN(30)
		var b strings.Builder
		b.WriteString(specials[r.IntN(len(specials))])
		for b.Len() < n {
			if r.IntN(3) == 0 {
				b.WriteString(specials[r.IntN(len(specials))])
			} else {
				b.WriteString(word(1, 4))
			}
		}
		// Move the forced special away from the front half the time.
		s := []rune(b.String())
		if r.IntN(2) == 0 {
			r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		}
		return string(s)
	}
	short := []string{"a", "Z", "9", "*", "%", "$", `\`, `"`, "'", " ", "\n", "é", "秘", "🔑", "<", "&", "=", "/", "+", "{"}
	gens := []struct {
		class string
		gen   func() string
	}{
		{"spaces", func() string { return sprinkle([]string{" ", "  ", "\t"}) }},
		{"quotes", func() string { return sprinkle([]string{`"`, "'", "`", `\"`}) }},
		{"newlines", func() string { return sprinkle([]string{"\n", "\r\n", "\r"}) }},
		{"dollar", func() string { return sprinkle([]string{"$", "${", "}", "$$"}) }},
		{"percent", func() string { return sprinkle([]string{"%", "%s", "%d", "%!", "%%"}) }},
		{"backslash", func() string { return sprinkle([]string{`\`, `\n`, `\\`, `\u0041`}) }},
		{"unicode", func() string {
			return sprinkle([]string{"é", "ß", "中", "秘", "🔑", "Ω", "\u00a0", "\u2028", "ü"})
		}},
		{"json", func() string {
			m := map[string]any{}
			for range 1 + r.IntN(3) {
				if r.IntN(4) == 0 {
					m[word(2, 6)] = 1000 + r.IntN(1_000_000)
				} else {
					m[word(2, 6)] = word(4, 12)
				}
			}
			var b []byte
			if r.IntN(2) == 0 {
				b, _ = json.Marshal(m)
			} else {
				b, _ = json.MarshalIndent(m, "", " ")
			}
			return string(b)
		}},
		{"1-char", func() string { return short[r.IntN(len(short))] }},
		{"2-char", func() string { return short[r.IntN(len(short))] + short[r.IntN(len(short))] }},
		{"4KiB", func() string {
			b := make([]byte, 4096)
			for i := range b {
				b[i] = byte(0x20 + r.IntN(0x7f-0x20)) // printable ASCII, '*' and '"' included
			}
			return string(b)
		}},
		{"star", func() string { return sprinkle([]string{"*", "**", "***"}) }},
		{"pem", func() string { return pemLike(1 + r.IntN(6)) }},
		// Any length from 1 to 4096 bytes (log-uniform, so short ones are
		// as common as long), of every kind of rune mixed.
		{"any length", func() string {
			n := 1 << r.IntN(13)
			n += r.IntN(n)
			n = min(n, 4096)
			pick := []string{"a", "Z", "7", "é", "中文", "🔑", `"`, `\`, "'", "\n", "\r\n", " ", "\t", "*", "%", "<&>", "=", "+/"}
			var b strings.Builder
			for b.Len() < n {
				if r.IntN(2) == 0 {
					b.WriteString(word(1, 8))
				} else {
					b.WriteString(pick[r.IntN(len(pick))])
				}
			}
			s := b.String()
			for len(s) > n && n > 0 {
				_, size := utf8.DecodeLastRuneInString(s)
				s = s[:len(s)-size]
			}
			if s == "" {
				s = "q"
			}
			return s
		}},
	}
	seen := map[string]bool{}
	out := make([]leakValue, 0, len(leakSeedCorpus)+leakGenerated)
	for _, v := range leakSeedCorpus {
		seen[v.raw] = true
		out = append(out, v)
	}
	for i := 0; len(out) < len(leakSeedCorpus)+leakGenerated; i++ {
		g := gens[i%len(gens)]
		s := g.gen()
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, leakValue{"generated " + g.class, s})
	}
	return out
}

// A form is one text the secret may take once printed or passed on.
type form struct {
	name string
	text string
}

// derivedForms returns s and the forms derived from it that the README says
// never show.
func derivedForms(s string) []form {
	b := []byte(s)
	q := strconv.Quote(s)
	return []form{
		{"value", s},
		{"base64", base64.StdEncoding.EncodeToString(b)},
		{"base64 URL-safe", base64.URLEncoding.EncodeToString(b)},
		{"base64 raw", base64.RawStdEncoding.EncodeToString(b)},
		{"base64 URL-safe raw", base64.RawURLEncoding.EncodeToString(b)},
		{"url.QueryEscape", url.QueryEscape(s)},
		{"url.PathEscape", url.PathEscape(s)},
		{"JSON string body", jsonBody(s, true)},
		{"JSON string body without HTML escaping", jsonBody(s, false)},
		{"hex", hex.EncodeToString(b)},
		{"HEX", strings.ToUpper(hex.EncodeToString(b))},
		{"Go %q body", q[1 : len(q)-1]},
	}
}

func jsonBody(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	body := strings.TrimSuffix(buf.String(), "\n")
	return body[1 : len(body)-1]
}

// checkedForms returns the forms of the pieces of a secret that the test
// asserts on, each once (see the file comment for what is left out and why).
func checkedForms(pieces []string) []form {
	seen := map[string]bool{}
	var out []form
	for _, p := range pieces {
		short := utf8.RuneCountInString(p) <= 2
		for _, f := range derivedForms(p) {
			if f.text == "" || seen[f.text] {
				continue
			}
			// One or two characters occur by chance in any text: check
			// the derived forms that are long enough to mean something.
			if short && (f.name == "value" || len(f.text) < 4) {
				continue
			}
			// Up to eight '*' are part of every Marker.
			if strings.Trim(f.text, "*") == "" && len(f.text) <= len(secrets.Redacted) {
				continue
			}
			seen[f.text] = true
			f.name = fmt.Sprintf("%s of %s", f.name, excerpt(p))
			out = append(out, f)
		}
	}
	return out
}

func excerpt(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:24]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// leak is one secret form seen where it must not be.
type leak struct {
	channel string
	value   leakValue
	form    form
	where   string
}

// leakReport gathers the leaks of many runs, to report them by channel.
type leakReport struct {
	mu    sync.Mutex
	leaks []leak
}

func (r *leakReport) add(l leak) {
	r.mu.Lock()
	r.leaks = append(r.leaks, l)
	r.mu.Unlock()
}

// check records a leak for each form found in text.
func (r *leakReport) check(channel string, v leakValue, forms []form, text string) {
	for _, f := range forms {
		if i := strings.Index(text, f.text); i >= 0 {
			lo, hi := max(0, i-60), min(len(text), i+len(f.text)+60)
			r.add(leak{channel, v, f, text[lo:hi]})
		}
	}
}

// report fails t once per channel, naming the classes of values that leaked
// there and showing the first leak in full.
func (r *leakReport) report(t *testing.T) {
	t.Helper()
	byChannel := map[string][]leak{}
	var channels []string
	for _, l := range r.leaks {
		if byChannel[l.channel] == nil {
			channels = append(channels, l.channel)
		}
		byChannel[l.channel] = append(byChannel[l.channel], l)
	}
	sort.Strings(channels)
	for _, ch := range channels {
		ls := byChannel[ch]
		classes := map[string]int{}
		for _, l := range ls {
			classes[l.value.class]++
		}
		var cs []string
		for c, n := range classes {
			cs = append(cs, fmt.Sprintf("%s (%d)", c, n))
		}
		sort.Strings(cs)
		first := ls[0]
		t.Errorf("LEAK via %s: %d occurrence(s); value classes: %s\n\tfirst: class %s, secret %s, form %s = %s\n\tseen in: %q",
			ch, len(ls), strings.Join(cs, ", "), first.value.class, excerpt(first.value.raw), first.form.name, excerpt(first.form.text), first.where)
	}
}

// recordingStore is a result.Store that keeps a copy of every write, so
// the test sees everything the run stored, wherever.
type recordingStore struct {
	*result.Memory
	mu     sync.Mutex
	writes map[string][]byte
}

func newRecordingStore() *recordingStore {
	return &recordingStore{Memory: result.NewMemory(), writes: map[string][]byte{}}
}

func (s *recordingStore) Write(ctx context.Context, location string, data []byte) error {
	s.mu.Lock()
	s.writes[location] = append([]byte(nil), data...)
	s.mu.Unlock()
	return s.Memory.Write(ctx, location, data)
}

// leakRecorder keeps what state handlers and task bodies saw: task run names
// and the states handed to handlers.
type leakRecorder struct {
	mu       sync.Mutex
	runNames []string
	handed   []state.State
}

func (r *leakRecorder) runName(ctx context.Context) {
	rc, ok := runner.FromContext(ctx)
	if !ok {
		return
	}
	r.mu.Lock()
	r.runNames = append(r.runNames, rc.TaskRunName)
	r.mu.Unlock()
}

func (r *leakRecorder) handler() task.Option {
	return task.WithStateHandlers(func(ctx context.Context, old, new state.State) state.State {
		r.runName(ctx)
		r.mu.Lock()
		r.handed = append(r.handed, old, new)
		r.mu.Unlock()
		return new
	})
}

type (
	secretIn struct {
		Secret secrets.Value `prefect:"secret"`
	}
	textIn struct {
		Secret string `prefect:"secret"`
	}
	itemIn struct {
		Item string `prefect:"item"`
	}
)

// withSecret is the struct a task logs with %v: a credentials struct as
// users write them.
type withSecret struct {
	User  string
	Token string
}

// plainResult is the result of the task with no secret upstream.
const plainResult = "nothing secret"

var fmtVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"}

// leakFlow is a flow whose tasks do every wrong thing with a secret they
// receive from tasks.PrefectSecret.
type leakFlow struct {
	f   *flow.Flow
	rec *leakRecorder

	secret                                                   flow.Node[secrets.Value]
	reveal, derived, plain                                   flow.Node[string]
	logs, fails, fmtErr, panicStr, panicErr, fail, skip, run flow.Node[task.None]
	retry, afterFail                                         flow.Node[task.None]
	mapped                                                   flow.Node[[]task.None]
}

func newLeakFlow() *leakFlow {
	lf := &leakFlow{f: flow.New("leak"), rec: &leakRecorder{}}
	f, h := lf.f, lf.rec.handler()
	lf.secret = flow.Add(f, tasks.PrefectSecret(leakSecretName))
	bind := flow.Bind("secret", lf.secret)

	// reveal returns the secret as text: its result is the user's own
	// data (not a leak), but it must not be checkpointed.
	lf.reveal = flow.Add(f, task.New("reveal", func(ctx context.Context, in secretIn) (string, error) {
		return in.Secret.Reveal(), nil
	}, h), bind)
	lf.derived = flow.Add(f, task.New("derived", func(ctx context.Context, in textIn) (string, error) {
		return "derived from " + in.Secret, nil
	}, h), flow.Bind("secret", lf.reveal))
	// plain has no secret upstream: it is checkpointed, which shows the
	// run does checkpoint.
	lf.plain = flow.Add(f, task.New("plain", func(ctx context.Context, _ task.None) (string, error) {
		return plainResult, nil
	}, h))

	lf.logs = flow.Add(f, task.New("logs", func(ctx context.Context, in secretIn) (task.None, error) {
		s := in.Secret.Reveal()
		rc, _ := runner.FromContext(ctx)
		log := rc.Logger()
		log.Info("connecting with " + s)
		log.Info("as a string attribute", slog.String("token", s))
		log.Info("as an error attribute", slog.Any("error", fmt.Errorf("auth with %s refused", s)))
		log.Info("as a struct attribute", slog.Any("creds", withSecret{"admin", s}))
		log.Info(fmt.Sprintf("a struct formatted with %%v: %v", withSecret{"admin", s}))
		log.Info("in a group", slog.Group("creds", slog.String("token", s), slog.Any("list", []string{s})))
		log.With("bound", s).Info("in an attribute bound with With")
		log.Info("the Value itself", slog.Any("value", in.Secret), slog.String("text", fmt.Sprint(in.Secret)))
		for _, verb := range fmtVerbs {
			log.Info(fmt.Sprintf("verb %s: "+verb, verb, s), slog.String("formatted", fmt.Sprintf(verb, s)))
		}
		js, err := json.Marshal(withSecret{"admin", s})
		if err != nil {
			return task.None{}, err
		}
		jsString, _ := json.Marshal(s)
		log.Info("json: "+string(js), slog.String("json", string(jsString)))
		return task.None{}, nil
	}, h), bind)

	lf.fails = flow.Add(f, task.New("fails", func(ctx context.Context, in secretIn) (task.None, error) {
		s := in.Secret.Reveal()
		return task.None{}, fmt.Errorf("outer: %w", fmt.Errorf("dial tcp: token %s refused", s))
	}, h), bind)
	lf.fmtErr = flow.Add(f, task.New("fmt_error", func(ctx context.Context, in secretIn) (task.None, error) {
		s := in.Secret.Reveal()
		var parts []string
		for _, verb := range fmtVerbs {
			parts = append(parts, fmt.Sprintf(verb, s))
		}
		js, _ := json.Marshal(s)
		return task.None{}, errors.New(strings.Join(parts, " | ") + " | " + string(js))
	}, h), bind)
	lf.panicStr = flow.Add(f, task.New("panic_string", func(ctx context.Context, in secretIn) (task.None, error) {
		panic("boom with " + in.Secret.Reveal())
	}, h), bind)
	lf.panicErr = flow.Add(f, task.New("panic_error", func(ctx context.Context, in secretIn) (task.None, error) {
		panic(fmt.Errorf("boom with %q", in.Secret.Reveal()))
	}, h), bind)
	lf.fail = flow.Add(f, task.New("signal_fail", func(ctx context.Context, in secretIn) (task.None, error) {
		return task.None{}, task.Fail("cannot log in with " + in.Secret.Reveal())
	}, h), bind)
	lf.skip = flow.Add(f, task.New("signal_skip", func(ctx context.Context, in secretIn) (task.None, error) {
		return task.None{}, task.Skip("skipping " + in.Secret.Reveal())
	}, h), bind)
	// retry fails with the secret in its error, is retried at once (a zero
	// delay: nothing waits), then fails with a signal quoting it.
	lf.retry = flow.Add(f, task.New("retry", func(ctx context.Context, in secretIn) (task.None, error) {
		rc, _ := runner.FromContext(ctx)
		if rc.TaskRunCount == 1 {
			return task.None{}, fmt.Errorf("attempt 1 with %s", in.Secret.Reveal())
		}
		return task.None{}, task.Fail("attempt 2 with " + in.Secret.Reveal())
	}, h, task.WithRetries(1, 0)), bind)
	lf.afterFail = flow.Add(f, task.New("after_fail", func(ctx context.Context, _ task.None) (task.None, error) {
		return task.None{}, nil
	}, h), flow.After(lf.fails))

	lf.run = flow.Add(f, task.New("run_name", func(ctx context.Context, in textIn) (task.None, error) {
		lf.rec.runName(ctx)
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("running " + rc.TaskRunName)
		return task.None{}, nil
	}, h, task.WithRunName("run-{secret}")), flow.Bind("secret", lf.reveal))

	list := flow.Add(f, task.New("list", func(ctx context.Context, in textIn) ([]string, error) {
		return []string{in.Secret, "other " + in.Secret}, nil
	}, h), flow.Bind("secret", lf.reveal))
	lf.mapped = flow.Map(f, task.New("mapped", func(ctx context.Context, in itemIn) (task.None, error) {
		lf.rec.runName(ctx)
		return task.None{}, fmt.Errorf("item %s failed", in.Item)
	}, h, task.WithRunName("map-{item}")), flow.Bind("item", list))
	return lf
}

// allStates returns every state of the run with a name, mapped children
// included.
func allStates(fs *runner.FlowState) map[string]state.State {
	out := map[string]state.State{}
	for i, gt := range fs.Graph.Tasks {
		st := fs.Tasks[i]
		out[gt.Slug] = st
		for j, c := range st.Children {
			out[gt.Slug+"["+strconv.Itoa(j)+"]"] = c
		}
	}
	return out
}

// errorTexts returns the Error text of err and of everything errors.Unwrap
// reaches from it (both Unwrap forms).
func errorTexts(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			out = append(out, err.Error())
			if m, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range m.Unwrap() {
					walk(e)
				}
				return
			}
			err = errors.Unwrap(err)
		}
	}
	walk(err)
	return out
}

// logValues returns every value written by a slog.JSONHandler: the
// strings and numbers of each line, keys left out.
func logValuesJSON(t *testing.T, out []byte) []string {
	t.Helper()
	var vals []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		case string:
			vals = append(vals, x)
		case json.Number:
			vals = append(vals, x.String())
		case bool:
			vals = append(vals, strconv.FormatBool(x))
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("JSON log line does not parse: %v\n%s", err, sc.Bytes())
		}
		delete(rec, slog.LevelKey)
		walk(rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vals
}

// logValuesText returns every value written by a slog.TextHandler: each
// key=value pair's value, unquoted.
func logValuesText(t *testing.T, out []byte) []string {
	t.Helper()
	var vals []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Text()
		for line != "" {
			eq := strings.IndexByte(line, '=')
			if eq < 0 {
				t.Fatalf("text log line has a key without a value: %q", line)
			}
			key := line[:eq]
			line = line[eq+1:]
			var val string
			if strings.HasPrefix(line, `"`) {
				q, err := strconv.QuotedPrefix(line)
				if err != nil {
					t.Fatalf("text log line has a bad quoted value: %v: %q", err, line)
				}
				if val, err = strconv.Unquote(q); err != nil {
					t.Fatal(err)
				}
				line = line[len(q):]
			} else {
				end := strings.IndexByte(line, ' ')
				if end < 0 {
					end = len(line)
				}
				val, line = line[:end], line[end:]
			}
			line = strings.TrimPrefix(line, " ")
			if key != slog.LevelKey {
				vals = append(vals, val)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vals
}

// piecesOf returns what a run can see of a secret given as raw, the text
// the tasks get first: the text of the Value the resolver makes of it
// (Reveal), raw itself and, for a JSON secret, each string and number inside
// of four bytes or more, found here independently of Value.RevealAll (and
// united with it). Shorter pieces inside a table or list are not hidden by
// design (see Value.RevealAll): hiding every "a" or "1" would wreck the
// output and give the piece away.
func piecesOf(t *testing.T, raw string) []string {
	t.Helper()
	r := secrets.NewResolver(secrets.WithRunSecrets(map[string]any{leakSecretName: raw}))
	v, err := r.Get(t.Context(), leakSecretName)
	if err != nil {
		t.Fatalf("resolving %s: %v", excerpt(raw), err)
	}
	pieces := []string{v.Reveal(), raw}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var decoded any
	if dec.Decode(&decoded) == nil {
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string:
				pieces = append(pieces, x)
			case json.Number:
				pieces = append(pieces, x.String())
			}
		}
		if _, top := decoded.(string); !top { // a JSON string is Reveal's text
			walk(decoded)
		}
	}
	pieces = append(pieces, v.RevealAll()...)
	out := slices.Clone(pieces[:2])
	for _, p := range pieces[2:] {
		if len(p) >= 4 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if out[1] == out[0] {
		out = out[1:]
	}
	return out
}

// leakExecutors are the executors the leak flows run on.
var leakExecutors = []struct {
	name string
	new  func() runner.Executor
}{
	{"Local", runner.Local},
	{"Parallel4", func() runner.Executor { return runner.Parallel(4) }},
}

// TestSecretsNeverLeak runs the leak flow once per value of the corpus, on
// the Local and on the Parallel executor, and looks for every form of the
// secret in everything the run produced.
func TestSecretsNeverLeak(t *testing.T) {
	values := leakValues()
	for _, ex := range leakExecutors {
		t.Run(ex.name, func(t *testing.T) {
			report := &leakReport{}
			for _, v := range values {
				runLeakFlow(t, ex.new(), v, report)
			}
			report.report(t)
		})
	}
}

// dropTime removes the record time, which slog writes unmasked and which
// no secret reaches (see the file comment).
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// teeHandler hands every record to each of its handlers.
type teeHandler []slog.Handler

func (hs teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range hs {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (hs teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range hs {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (hs teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(teeHandler, len(hs))
	for i, h := range hs {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (hs teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(hs))
	for i, h := range hs {
		out[i] = h.WithGroup(name)
	}
	return out
}

// flowMessages are the flow run's own messages: Prefect's constants, never
// derived from a task's output.
var flowMessages = []string{state.MsgFlowSucceeded, state.MsgFlowFailed, state.MsgFlowCancelled, state.MsgFlowPaused}

func runLeakFlow(t *testing.T, exec runner.Executor, v leakValue, report *leakReport) {
	t.Helper()
	pieces := piecesOf(t, v.raw)
	text := pieces[0] // what Reveal gives the tasks
	forms := checkedForms(pieces)
	if len(forms) == 0 {
		t.Fatalf("no form of %s is checked", excerpt(v.raw))
	}

	lf := newLeakFlow()
	var jsonOut, textOut syncbuf.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}
	logger := slog.New(teeHandler{slog.NewJSONHandler(&jsonOut, opts), slog.NewTextHandler(&textOut, opts)})
	store := newRecordingStore()
	fs, err := runner.Run(t.Context(), lf.f,
		runner.WithExecutor(exec),
		runner.WithSecrets(map[string]any{leakSecretName: v.raw}),
		runner.WithLogger(logger),
		runner.WithCheckpointing(true),
		runner.WithResultStore(store))
	if err != nil {
		t.Fatalf("secret %s: Run: %v", excerpt(v.raw), err)
	}

	// The run did what the flow asks: otherwise the checks below would
	// prove nothing.
	where := fmt.Sprintf("secret %s (%s)", excerpt(v.raw), v.class)
	wantKinds := []struct {
		name string
		ref  flow.Ref
		kind state.Kind
	}{
		{"secret", lf.secret, state.Success}, {"reveal", lf.reveal, state.Success},
		{"derived", lf.derived, state.Success}, {"plain", lf.plain, state.Success},
		{"logs", lf.logs, state.Success}, {"fails", lf.fails, state.Failed},
		{"fmt_error", lf.fmtErr, state.Failed}, {"panic_string", lf.panicStr, state.Failed},
		{"panic_error", lf.panicErr, state.Failed}, {"signal_fail", lf.fail, state.Failed},
		{"signal_skip", lf.skip, state.Skipped}, {"retry", lf.retry, state.Failed},
		{"after_fail", lf.afterFail, state.TriggerFailed}, {"run_name", lf.run, state.Success},
		{"mapped", lf.mapped, state.Mapped},
	}
	for _, w := range wantKinds {
		if got := fs.Of(w.ref).Kind; got != w.kind {
			t.Errorf("%s: task %s ended %v, want %v: %v", where, w.name, got, w.kind, fs.Of(w.ref))
		}
	}
	if st := fs.Of(lf.retry); st.RunCount != 2 {
		t.Errorf("%s: retry ran %d times, want 2", where, st.RunCount)
	}
	if st := fs.Of(lf.mapped); len(st.Children) != 2 || !st.Children[0].IsFailed() {
		t.Errorf("%s: mapped children %v, want 2 Failed", where, st.Children)
	}
	if fs.Kind != state.Failed {
		t.Errorf("%s: flow ended %v, want Failed", where, fs.State)
	}

	// Known exception 1: the result of a task that computed text from the
	// secret is the user's own data, handed back to the caller of Run.
	if got, ok := runner.ResultOf(fs, lf.reveal); !ok || got != text {
		t.Errorf("%s: ResultOf(reveal) = %s, %v; want the secret's text", where, excerpt(got), ok)
	}
	// The *PanicError is found by errors.As (edge_leak_test.go checks what
	// it shows).
	var pe *runner.PanicError
	if !errors.As(fs.Of(lf.panicStr).Err, &pe) {
		t.Errorf("%s: errors.As(panic_string's Err, *PanicError) finds nothing", where)
	}

	// Logs.
	jsonBytes, textBytes := jsonOut.Bytes(), textOut.Bytes()
	if !bytes.Contains(jsonBytes, []byte(secrets.Redacted)) || !bytes.Contains(textBytes, []byte(secrets.Redacted)) {
		t.Errorf("%s: the logs show no %s: the tasks' log lines are missing\n%s", where, secrets.Redacted, jsonBytes)
	}
	for _, val := range logValuesJSON(t, jsonBytes) {
		report.check("log output (slog.JSONHandler)", v, forms, val)
	}
	for _, val := range logValuesText(t, textBytes) {
		report.check("log output (slog.TextHandler)", v, forms, val)
	}

	// States, their errors and their printed forms.
	for slug, st := range allStates(fs) {
		report.check("state Message", v, forms, slug+": "+st.Message)
		for _, e := range errorTexts(st.Err) {
			report.check("State.Err.Error() (errors.Unwrap chain)", v, forms, slug+": "+e)
		}
		report.check("state printed with fmt %v", v, forms, fmt.Sprintf("%v", st))
		report.check("state printed with fmt %+v", v, forms, fmt.Sprintf("%+v", st))
	}
	lf.rec.mu.Lock()
	handed, runNames := lf.rec.handed, lf.rec.runNames
	lf.rec.mu.Unlock()
	for _, st := range handed {
		report.check("state handed to a state handler (Message)", v, forms, st.Message)
		for _, e := range errorTexts(st.Err) {
			report.check("state handed to a state handler (Err.Error())", v, forms, e)
		}
	}
	if len(runNames) == 0 {
		t.Errorf("%s: no task run name was recorded", where)
	}
	for _, name := range runNames {
		report.check("task run name", v, forms, name)
	}

	// The result store: every write, and every location a state names.
	store.mu.Lock()
	writes := store.writes
	store.mu.Unlock()
	// plain is checkpointed, unless its result holds a piece of the secret
	// (a one-character secret such as `"` is in every JSON string): then the
	// runner rightly stores nothing.
	plainJSON, _ := json.Marshal(plainResult)
	if st := fs.Of(lf.plain); !slices.ContainsFunc(pieces, func(p string) bool { return strings.Contains(string(plainJSON), p) }) &&
		(st.Location == "" || writes[st.Location] == nil) {
		t.Errorf("%s: plain was not checkpointed (Location %q): checkpointing is off", where, st.Location)
	}
	for loc, data := range writes {
		report.check("result store (written)", v, forms, loc+" = "+string(data))
	}
	for slug, st := range allStates(fs) {
		if st.Location == "" {
			continue
		}
		data, err := store.Read(t.Context(), st.Location)
		if err != nil {
			t.Errorf("%s: %s: reading its Location %q: %v", where, slug, st.Location, err)
			continue
		}
		report.check("result store (Location of a state)", v, forms, slug+": "+string(data))
	}

	// The flow state printed: its message is one of Prefect's constants,
	// which a short secret may be part of; everything else must be clean.
	flowForms := forms
	for _, m := range flowMessages {
		if fs.Message == m {
			flowForms = slicesDeleteIn(forms, m)
		}
	}
	report.check("FlowState printed with fmt %v", v, flowForms, fmt.Sprintf("%v", fs))
	report.check("FlowState printed with fmt %+v", v, flowForms, fmt.Sprintf("%+v", fs))
	report.check("FlowState printed with fmt %v", v, flowForms, fmt.Sprintf("%v", *fs))
	report.check("FlowState printed with fmt %+v", v, flowForms, fmt.Sprintf("%+v", *fs))
}

// slicesDeleteIn returns the forms that do not occur in s.
func slicesDeleteIn(forms []form, s string) []form {
	var out []form
	for _, f := range forms {
		if !strings.Contains(s, f.text) {
			out = append(out, f)
		}
	}
	return out
}

// syncExecutor runs each task run inside Submit, on the runner's goroutine,
// yet, unlike Local, hands it back through the runner's channel as a remote
// executor does; the Session contract allows it ("executes run, now or
// later, here or elsewhere"). A task that cancels the run then leaves the
// runner with a finished run to take back and a cancellation to see at the
// same time, and the runner's select picks either, at random.
type syncExecutor struct{ slots int }

func (e syncExecutor) Start(context.Context) (runner.Session, error) { return syncSession(e), nil }

type syncSession struct{ slots int }

func (s syncSession) Slots() int                 { return s.slots }
func (s syncSession) Submit(run *runner.TaskRun) { run.Execute() }
func (s syncSession) Close() error               { return nil }

// A run cancelled while a task is in flight: the task's error (an HTTP
// client's `Get "https://...?token=...": context canceled` is the common
// case) must be masked like any other.
func TestSecretsNeverLeakOnCancel(t *testing.T) {
	v := leakValue{"plain", "cancel-s3cr3t-value"}
	cases := []struct {
		name  string
		build cancelFlow
	}{
		{"task in flight", func(cancel context.CancelFunc) *flow.Flow {
			f := flow.New("cancel")
			sec := flow.Add(f, tasks.PrefectSecret(leakSecretName))
			flow.Add(f, task.New("call_api", func(ctx context.Context, in secretIn) (task.None, error) {
				cancel()
				return task.None{}, fmt.Errorf("Get %q: %w", "https://api.example/v1?token="+in.Secret.Reveal(), ctx.Err())
			}), flow.Bind("secret", sec))
			flow.Add(f, task.New("other", func(ctx context.Context, in secretIn) (task.None, error) {
				return task.None{}, nil
			}), flow.Bind("secret", sec))
			return f
		}},
		{"mapped child in flight", func(cancel context.CancelFunc) *flow.Flow {
			f := flow.New("cancel-mapped")
			sec := flow.Add(f, tasks.PrefectSecret(leakSecretName))
			list := flow.Add(f, task.New("list", func(ctx context.Context, in secretIn) ([]string, error) {
				return []string{in.Secret.Reveal(), in.Secret.Reveal()}, nil
			}), flow.Bind("secret", sec))
			flow.Map(f, task.New("call_api", func(ctx context.Context, in itemIn) (task.None, error) {
				cancel()
				return task.None{}, fmt.Errorf("Get %q: %w", "https://api.example/v1?token="+in.Item, ctx.Err())
			}), flow.Bind("item", list))
			return f
		}},
	}
	// Which the runner sees first, the finished run or the cancellation,
	// is up to its select: with the synchronous executor each run goes
	// either way at random; with Parallel the runner, parked in its
	// select, nearly always wakes on the cancellation first. Each case is
	// run cancelRuns times, so a path that leaks fails the test all but
	// surely, and once every path masks, every run passes.
	executors := []struct {
		name string
		new  func() runner.Executor
	}{
		{"sync", func() runner.Executor { return syncExecutor{slots: 2} }},
		{"Parallel2", func() runner.Executor { return runner.Parallel(2) }},
	}
	for _, c := range cases {
		for _, ex := range executors {
			t.Run(c.name+"/"+ex.name, func(t *testing.T) {
				testCancelLeak(t, ex.new, c.build, v)
			})
		}
	}
}

// cancelFlow builds a flow whose task calls cancel and returns an error
// quoting the secret.
type cancelFlow func(cancel context.CancelFunc) *flow.Flow

// cancelRuns is how many times each cancellation case runs.
const cancelRuns = 20

func testCancelLeak(t *testing.T, newExec func() runner.Executor, build cancelFlow, v leakValue) {
	forms := checkedForms([]string{v.raw})
	report := &leakReport{}
	for range cancelRuns {
		cancelRun(t, newExec(), build, v, forms, report)
	}
	report.report(t)
}

func cancelRun(t *testing.T, exec runner.Executor, build cancelFlow, v leakValue, forms []form, report *leakReport) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := build(cancel)
	var logs syncbuf.Buffer
	fs, err := runner.Run(ctx, f,
		runner.WithExecutor(exec),
		runner.WithSecrets(map[string]any{leakSecretName: v.raw}),
		runner.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	// The flow ends Cancelled, or Failed when every task run was back
	// before the runner saw the cancellation; either way the task's error,
	// context.Canceled at its end, is in a state.
	if fs.Kind != state.Cancelled && fs.Kind != state.Failed {
		t.Fatalf("flow ended %v, want Cancelled or Failed", fs.State)
	}
	var withErr bool
	for slug, st := range allStates(fs) {
		withErr = withErr || errors.Is(st.Err, context.Canceled)
		report.check("state Message (cancelled run)", v, forms, slug+": "+st.Message)
		for _, e := range errorTexts(st.Err) {
			report.check("State.Err.Error() of a task in flight when the run was cancelled", v, forms, slug+": "+e)
		}
		report.check("state printed with fmt %v (cancelled run)", v, forms, fmt.Sprintf("%v", st))
	}
	if !withErr {
		t.Fatalf("no task state holds the task's error:\n%v", allStates(fs))
	}
	report.check("log output (cancelled run)", v, forms, string(logs.Bytes()))
}

// The checks above would pass vacuously if they looked at nothing: each one
// must see a secret placed where it looks.
func TestLeakChecksSeeLeaks(t *testing.T) {
	const secret = "checker-s3cr3t \"x\"\n<&>"
	v := leakValue{"self-test", secret}
	forms := checkedForms([]string{secret})
	var jsonOut, textOut bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: dropTime}
	for _, h := range []slog.Handler{slog.NewJSONHandler(&jsonOut, opts), slog.NewTextHandler(&textOut, opts)} {
		slog.New(h).Info("msg", slog.Group("g", slog.String("k", "before "+secret+" after")))
	}
	for name, vals := range map[string][]string{"json": logValuesJSON(t, jsonOut.Bytes()), "text": logValuesText(t, textOut.Bytes())} {
		report := &leakReport{}
		for _, val := range vals {
			report.check(name, v, forms, val)
		}
		if len(report.leaks) == 0 {
			t.Errorf("%s log values %q: the secret was not found", name, vals)
		}
	}
	for _, f := range derivedForms(secret) {
		report := &leakReport{}
		report.check("text", v, forms, "x"+f.text+"y")
		if len(report.leaks) == 0 {
			t.Errorf("form %s (%q) is not checked", f.name, f.text)
		}
	}
	// Short secrets: only derived forms of four bytes or more.
	if got := checkedForms([]string{"x"}); len(got) == 0 || slices.ContainsFunc(got, func(f form) bool { return len(f.text) < 4 }) {
		t.Errorf("forms checked for \"x\": %v, want only forms of 4 bytes or more", got)
	}
	if got := checkedForms([]string{"***"}); slices.ContainsFunc(got, func(f form) bool { return f.text == "***" }) {
		t.Errorf("forms checked for \"***\" include the value, which every Marker holds")
	}
}

type (
	tokenIn struct {
		Token secrets.Value `prefect:"token"`
	}
	tokenMapIn struct {
		Tokens map[string]secrets.Value `prefect:"tokens"`
	}
	credentials struct {
		User  string
		Token secrets.Value
	}
	credentialsIn struct {
		Creds credentials `prefect:"creds"`
	}
)

// A task that fetches a secret itself (a token from an OAuth exchange, say)
// and returns it as a secrets.Value has it registered with the run's masker
// (runner/driver.go, register), so the tasks downstream that use it cannot
// show it. The same must hold when the Value comes inside the result: a list
// of tokens, a map of them, a credentials struct.
func TestSecretsReturnedByTasksNeverLeak(t *testing.T) {
	const tok = "fetched-token-0123456789"
	v := leakValue{"returned by a task", tok}
	use := func(ctx context.Context, s string) (task.None, error) {
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("calling the API with " + s)
		return task.None{}, fmt.Errorf("API refused %s", s)
	}
	cases := []struct {
		name  string
		build func(f *flow.Flow)
	}{
		{"a Value (control)", func(f *flow.Flow) {
			fetch := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (secrets.Value, error) {
				return secrets.NewValue(tok), nil
			}))
			flow.Add(f, task.New("use", func(ctx context.Context, in tokenIn) (task.None, error) {
				return use(ctx, in.Token.Reveal())
			}), flow.Bind("token", fetch))
		}},
		{"a list of Values", func(f *flow.Flow) {
			fetch := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) ([]secrets.Value, error) {
				return []secrets.Value{secrets.NewValue(tok)}, nil
			}))
			flow.Map(f, task.New("use", func(ctx context.Context, in tokenIn) (task.None, error) {
				return use(ctx, in.Token.Reveal())
			}), flow.Bind("token", fetch))
		}},
		{"a map of Values", func(f *flow.Flow) {
			fetch := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (map[string]secrets.Value, error) {
				return map[string]secrets.Value{"api": secrets.NewValue(tok)}, nil
			}))
			flow.Add(f, task.New("use", func(ctx context.Context, in tokenMapIn) (task.None, error) {
				return use(ctx, in.Tokens["api"].Reveal())
			}), flow.Bind("tokens", fetch))
		}},
		{"a struct holding a Value", func(f *flow.Flow) {
			fetch := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (credentials, error) {
				return credentials{"admin", secrets.NewValue(tok)}, nil
			}))
			flow.Add(f, task.New("use", func(ctx context.Context, in credentialsIn) (task.None, error) {
				return use(ctx, in.Creds.Token.Reveal())
			}), flow.Bind("creds", fetch))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := flow.New("returned")
			c.build(f)
			var logs syncbuf.Buffer
			fs, err := runner.Run(t.Context(), f, runner.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			forms := checkedForms([]string{tok})
			report := &leakReport{}
			var failed bool
			for slug, st := range allStates(fs) {
				failed = failed || st.IsFailed()
				report.check("state Message (secret returned by a task: "+c.name+")", v, forms, slug+": "+st.Message)
				for _, e := range errorTexts(st.Err) {
					report.check("State.Err.Error() (secret returned by a task: "+c.name+")", v, forms, slug+": "+e)
				}
			}
			if !failed {
				t.Fatalf("no task failed: %v", fs.Tasks)
			}
			for _, val := range logValuesJSON(t, logs.Bytes()) {
				report.check("log output (secret returned by a task: "+c.name+")", v, forms, val)
			}
			report.report(t)
		})
	}
}

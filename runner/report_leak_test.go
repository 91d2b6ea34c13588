package runner_test

// Leak tests for the Reporter: nothing a Reporter is given may show a
// secret resolved in the run, in any of the forms leak_test.go checks (the
// value, base64, URL escaping, JSON and %q bodies, hex), with the same
// corpus and the same narrowing (see that file's comment). The leak flow
// is the one of leak_test.go: secrets in log messages and attributes,
// errors, fmt verbs, panics, signals, retries, run names and mapping.
//
// What is checked, of everything the Reporter heard of:
//
//   - TaskReport: Slug, State.Message, State.Location, State.Err's Error
//     (and anything errors.Unwrap reaches), the State printed with %v and
//     %+v; State.Result must be nil;
//   - LogReport: Message, TaskSlug, every key and value of Attrs;
//   - the flow states: Message (narrowed as in leak_test.go, for a short
//     secret inside one of Prefect's own messages).
//
// Times and TaskRunIDs are not text and are not checked.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// TestSecretsNeverReachReporter runs the leak flow with a Reporter once per
// value of the corpus, on the Local and on the Parallel executor.
func TestSecretsNeverReachReporter(t *testing.T) {
	values := leakValues()
	for _, ex := range leakExecutors {
		t.Run(ex.name, func(t *testing.T) {
			report := &leakReport{}
			for i, v := range values {
				// Every other run also has a logger of its own, at Debug:
				// the Reporter must hear of the same masked records.
				runReporterLeakFlow(t, ex.new(), v, i%2 == 1, report)
			}
			report.report(t)
		})
	}
}

// reporterLeakRunID is the flow run id of every run of the leak flow here.
var reporterLeakRunID = uuid.NewSHA1(uuid.NameSpaceOID, []byte("prefect-go runner reporter leak test"))

func runReporterLeakFlow(t *testing.T, exec runner.Executor, v leakValue, withLogger bool, report *leakReport) {
	t.Helper()
	pieces := piecesOf(t, v.raw)
	forms := checkedForms(pieces)
	lf := newLeakFlow()
	// Keys and group names are masked for a Reporter too (a logger's
	// handler writes them as they are).
	flow.Add(lf.f, task.New("secret_keys", func(ctx context.Context, in secretIn) (task.None, error) {
		rc, _ := runner.FromContext(ctx)
		s := in.Secret.Reveal()
		rc.Logger().WithGroup(s).Info("a secret as a key", s, "value", slog.Group(s, slog.String(s, s)))
		return task.None{}, nil
	}), flow.Bind("secret", lf.secret))
	rep := &recReporter{}
	opts := []runner.Option{
		// The flow run's id and name are fixed: records made before the
		// secret is resolved show them as they are, and a random id holds
		// a short piece of the corpus ("5432") now and then by chance.
		runner.WithFlowRunID(reporterLeakRunID),
		runner.WithFlowRunName("reporter-leak"),
		runner.WithExecutor(exec),
		runner.WithSecrets(map[string]any{leakSecretName: v.raw}),
		runner.WithReporter(rep),
		runner.WithCheckpointing(true),
		runner.WithResultStore(result.NewMemory()),
	}
	if withLogger {
		var out syncbuf.Buffer
		opts = append(opts, runner.WithLogger(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	fs, err := runner.Run(t.Context(), lf.f, opts...)
	if err != nil {
		t.Fatalf("secret %s: Run: %v", excerpt(v.raw), err)
	}
	where := fmt.Sprintf("secret %s (%s)", excerpt(v.raw), v.class)
	if fs.Of(lf.logs).Kind != state.Success || fs.Of(lf.retry).Kind != state.Failed || fs.Of(lf.panicStr).Kind != state.Failed {
		t.Errorf("%s: the leak flow did not run as planned: logs %v, retry %v, panic_string %v",
			where, fs.Of(lf.logs), fs.Of(lf.retry), fs.Of(lf.panicStr))
	}
	rep.checkContract(t, fs)

	rep.mu.Lock()
	defer rep.mu.Unlock()
	// The Reporter heard of the secret, masked: otherwise the checks below
	// would prove nothing.
	var maskedState, maskedLog, retrying bool
	for _, tr := range rep.tasks {
		maskedState = maskedState || strings.Contains(tr.State.Message, secrets.Redacted)
		retrying = retrying || tr.State.Kind == state.Retrying
	}
	for _, lr := range rep.logs {
		maskedLog = maskedLog || strings.Contains(lr.Message, secrets.Redacted)
	}
	if !maskedState || !maskedLog || !retrying {
		t.Errorf("%s: the Reporter heard of no masked state message (%v), no masked log message (%v) or no Retrying state (%v)",
			where, maskedState, maskedLog, retrying)
	}
	checkReported(rep, v, forms, report)
}

// checkReported checks everything rep heard of; rep.mu is held.
func checkReported(rep *recReporter, v leakValue, forms []form, report *leakReport) {
	for _, tr := range rep.tasks {
		k := runKey(tr.Slug, tr.MapIndex) + ": "
		report.check("Reporter: TaskReport.Slug", v, forms, tr.Slug)
		report.check("Reporter: TaskReport.State.Message", v, forms, k+tr.State.Message)
		report.check("Reporter: TaskReport.State.Location", v, forms, k+tr.State.Location)
		for _, e := range errorTexts(tr.State.Err) {
			report.check("Reporter: TaskReport.State.Err.Error() (errors.Unwrap chain)", v, forms, k+e)
		}
		report.check("Reporter: TaskReport.State printed with fmt %v", v, forms, fmt.Sprintf("%v", tr.State))
		report.check("Reporter: TaskReport.State printed with fmt %+v", v, forms, fmt.Sprintf("%+v", tr.State))
		if tr.State.Result != nil {
			report.check("Reporter: TaskReport.State.Result (must be nil)", v, forms, fmt.Sprintf("%+v", tr.State.Result))
		}
	}
	for _, lr := range rep.logs {
		report.check("Reporter: LogReport.Message", v, forms, lr.Message)
		report.check("Reporter: LogReport.TaskSlug", v, forms, lr.TaskSlug)
		for key, val := range lr.Attrs {
			report.check("Reporter: LogReport.Attrs key", v, forms, key)
			report.check("Reporter: LogReport.Attrs value", v, forms, val)
		}
	}
	for _, s := range rep.flows {
		flowForms := forms
		for _, m := range flowMessages {
			if s.Message == m {
				flowForms = slicesDeleteIn(forms, m)
			}
		}
		report.check("Reporter: flow state Message", v, flowForms, s.Message)
		for _, e := range errorTexts(s.Err) {
			report.check("Reporter: flow state Err", v, forms, e)
		}
	}
}

// A run cancelled while a task that quotes the secret in its error is in
// flight: the states the cancellation settles are reported masked too.
func TestSecretsNeverReachReporterOnCancel(t *testing.T) {
	v := leakValue{"plain", "cancel-s3cr3t-for-the-reporter"}
	forms := checkedForms([]string{v.raw})
	executors := []struct {
		name string
		new  func() runner.Executor
	}{
		{"sync", func() runner.Executor { return syncExecutor{slots: 2} }},
		{"Parallel2", func() runner.Executor { return runner.Parallel(2) }},
	}
	for _, ex := range executors {
		t.Run(ex.name, func(t *testing.T) {
			report := &leakReport{}
			for range cancelRuns {
				ctx, cancel := context.WithCancel(t.Context())
				f := flow.New("cancel")
				sec := flow.Add(f, tasks.PrefectSecret(leakSecretName))
				list := flow.Add(f, task.New("list", func(ctx context.Context, in secretIn) ([]string, error) {
					return []string{in.Secret.Reveal(), in.Secret.Reveal()}, nil
				}), flow.Bind("secret", sec))
				flow.Map(f, task.New("call_api", func(ctx context.Context, in itemIn) (task.None, error) {
					cancel()
					return task.None{}, fmt.Errorf("Get %q: %w", "https://api.example/v1?token="+in.Item, ctx.Err())
				}, task.WithRetries(1, 0)), flow.Bind("item", list))
				rep := &recReporter{}
				fs, err := runner.Run(ctx, f, runner.WithExecutor(ex.new()), runner.WithReporter(rep),
					runner.WithSecrets(map[string]any{leakSecretName: v.raw}))
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				rep.checkContract(t, fs)
				rep.mu.Lock()
				checkReported(rep, v, forms, report)
				rep.mu.Unlock()
			}
			report.report(t)
		})
	}
}

// The checks above would pass vacuously if they looked at nothing: each
// field they read must be seen to leak when a secret is put there.
func TestReporterLeakChecksSeeLeaks(t *testing.T) {
	const secret = "checker-s3cr3t \"x\"\n<&>"
	v := leakValue{"self-test", secret}
	forms := checkedForms([]string{secret})
	plant := []struct {
		field string
		rep   *recReporter
	}{
		{"Slug", &recReporter{tasks: []runner.TaskReport{{Slug: secret}}}},
		{"State.Message", &recReporter{tasks: []runner.TaskReport{{State: state.New(state.Failed, secret)}}}},
		{"State.Location", &recReporter{tasks: []runner.TaskReport{{State: state.State{Location: secret}}}}},
		{"State.Err", &recReporter{tasks: []runner.TaskReport{{State: state.State{Err: fmt.Errorf("x: %w", fmt.Errorf("%s", secret))}}}}},
		{"State.Result", &recReporter{tasks: []runner.TaskReport{{State: state.State{Result: []string{secret}}}}}},
		{"LogReport.Message", &recReporter{logs: []runner.LogReport{{Message: secret}}}},
		{"LogReport.TaskSlug", &recReporter{logs: []runner.LogReport{{TaskSlug: secret}}}},
		{"LogReport.Attrs key", &recReporter{logs: []runner.LogReport{{Attrs: map[string]string{secret: "v"}}}}},
		{"LogReport.Attrs value", &recReporter{logs: []runner.LogReport{{Attrs: map[string]string{"k": secret}}}}},
		{"flow Message", &recReporter{flows: []state.State{state.New(state.Failed, secret)}}},
	}
	for _, p := range plant {
		report := &leakReport{}
		checkReported(p.rep, v, forms, report)
		if len(report.leaks) == 0 {
			t.Errorf("a secret in %s is not seen", p.field)
		}
	}
}

package program_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

const secretValue = "hunter2-CANARY-program"

type useIn struct {
	Credentials string `prefect:"credentials"`
	N           int    `prefect:"n"`
}

func pipeline(extra bool) *flow.Flow {
	f := flow.New("pipeline")
	s := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	n := flow.Parameter(f, "n", flow.WithDefault(1))
	flow.Add(f, task.New("use", func(ctx context.Context, in useIn) (int, error) {
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("using", "credentials", in.Credentials)
		if in.Credentials != secretValue {
			return 0, errors.New("wrong credentials")
		}
		return in.N * 2, nil
	}), flow.Bind("credentials", s), flow.Bind("n", n))
	if extra {
		flow.Add(f, task.New("extra", func(context.Context, struct{}) (int, error) { return 1, nil }))
	}
	return f
}

type fixture struct {
	url, key string
	c        *client.Client
}

func start(t *testing.T) *fixture {
	env := servertest.New(t)
	ts := httptest.NewServer(env.Handler())
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL+"/graphql", client.WithAPIKey(env.Key), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return &fixture{url: ts.URL + "/graphql", key: env.Key, c: c}
}

// cfg is the configuration a run launched by an agent sees.
func (f *fixture) cfg(t *testing.T, runID string, extra ...string) *config.Config {
	env := append([]string{"PREFECT__CLOUD__API=" + f.url, "PREFECT__CLOUD__API_KEY=" + f.key,
		"PREFECT__CONTEXT__FLOW_RUN_ID=" + runID, "PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}, extra...)
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// claimed creates a run of the flow and claims it, as an agent would
// before launching the program.
func (f *fixture) claimed(t *testing.T, r client.NewFlowRun) client.FlowRun {
	t.Helper()
	ctx := context.Background()
	run, err := f.c.CreateFlowRun(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.c.ClaimFlowRuns(ctx, "test-agent", []string{"local"}, 1)
	if err != nil || len(got) != 1 || got[0].ID != run.ID {
		t.Fatalf("claiming the run: %v, %v", got, err)
	}
	return got[0]
}

func (f *fixture) register(t *testing.T, fl *flow.Flow) {
	t.Setenv("PREFECT__CLOUD__API", f.url)
	t.Setenv("PREFECT__CLOUD__API_KEY", f.key)
	t.Setenv("HOME", t.TempDir())
	var out, errOut bytes.Buffer
	if code := program.Run(context.Background(), []string{"register", "--label", "local"}, &out, &errOut, fl); code != 0 {
		t.Fatalf("register: exit %d: %s", code, errOut.String())
	}
}

// A run executed as an agent launches it: Running, the parameters and the
// forwarded secret reach the task, every task state and the (redacted)
// log reach the server, and the run ends Success.
func TestExecute(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	fl := pipeline(false)
	f.register(t, fl)
	run := f.claimed(t, client.NewFlowRun{FlowName: "pipeline", Parameters: map[string]any{"n": 21}})
	var logs bytes.Buffer
	err := program.Execute(ctx, f.c, f.cfg(t, run.ID, "PREFECT__CONTEXT__SECRETS__MYSECRET="+secretValue),
		map[string]*flow.Flow{"pipeline": fl}, &logs)
	if err != nil {
		t.Fatalf("Execute: %v\n%s", err, logs.String())
	}
	got, err := f.c.FlowRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != state.Success {
		t.Errorf("run state %s %q; want Success", got.State, got.Message)
	}
	states := map[string]string{}
	for _, tr := range got.TaskRuns {
		states[tr.Slug] = tr.State.String()
	}
	if states["MYSECRET-1"] != "Success" || states["use-1"] != "Success" || states["n"] != "Success" {
		t.Errorf("task runs on the server: %v", states)
	}
	lines, err := f.c.FlowRunLogs(ctx, run.ID, "", 1000)
	if err != nil || len(lines) == 0 {
		t.Fatalf("logs: %v, %v", lines, err)
	}
	var all strings.Builder
	for _, l := range lines {
		all.WriteString(l.Message + "\n")
	}
	if strings.Contains(all.String(), secretValue) || strings.Contains(logs.String(), secretValue) {
		t.Error("the secret reached a log")
	}
	if !strings.Contains(all.String(), "using credentials=********") {
		t.Errorf("the server's log lacks the task's line with its (masked) attribute:\n%s", all.String())
	}
}

// A program whose flow is not the registered version fails the run with a
// message saying so; it does not run the wrong flow.
func TestExecuteRefusesAnotherVersion(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	f.register(t, pipeline(false))
	run := f.claimed(t, client.NewFlowRun{FlowName: "pipeline"})
	var logs bytes.Buffer
	err := program.Execute(ctx, f.c, f.cfg(t, run.ID), map[string]*flow.Flow{"pipeline": pipeline(true)}, &logs)
	if err == nil || !strings.Contains(err.Error(), "not the registered version 1") {
		t.Fatalf("Execute of another version: %v", err)
	}
	got, _ := f.c.FlowRun(ctx, run.ID)
	if got.State != state.Failed || !strings.Contains(got.Message, "register this program again") {
		t.Errorf("run %s %q; want Failed saying to register again", got.State, got.Message)
	}
	if len(got.TaskRuns) != 0 {
		t.Errorf("tasks of the wrong version ran: %v", got.TaskRuns)
	}
}

// flaky fails every report while down is set, as a server away does.
type flaky struct {
	program.RunAPI
	down  atomic.Bool
	fails atomic.Int64
}

func (f *flaky) SetFlowRunState(ctx context.Context, id string, v int, s state.Kind, m string) (int, error) {
	if f.down.Load() && s != state.Running {
		f.fails.Add(1)
		return 0, errors.New("connection refused")
	}
	return f.RunAPI.SetFlowRunState(ctx, id, v, s, m)
}

func (f *flaky) SetTaskRunStates(ctx context.Context, id string, trs []client.TaskRun) error {
	if f.down.Load() {
		f.fails.Add(1)
		return errors.New("connection refused")
	}
	return f.RunAPI.SetTaskRunStates(ctx, id, trs)
}

func (f *flaky) WriteRunLogs(ctx context.Context, id string, l []client.LogLine) error {
	if f.down.Load() {
		f.fails.Add(1)
		return errors.New("connection refused")
	}
	return f.RunAPI.WriteRunLogs(ctx, id, l)
}

// A server away during the run loses neither the task states nor the
// final state: they are kept and sent when it is back.
func TestExecuteSurvivesServerOutage(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	fl := pipeline(false)
	f.register(t, fl)
	run := f.claimed(t, client.NewFlowRun{FlowName: "pipeline"})
	api := &flaky{RunAPI: f.c}
	api.down.Store(true)
	go func() {
		for api.fails.Load() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		api.down.Store(false) // the server comes back
	}()
	var logs bytes.Buffer
	if err := program.Execute(ctx, api, f.cfg(t, run.ID, "PREFECT__CONTEXT__SECRETS__MYSECRET="+secretValue),
		map[string]*flow.Flow{"pipeline": fl}, &logs); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	got, _ := f.c.FlowRun(ctx, run.ID)
	if got.State != state.Success || len(got.TaskRuns) != 3 {
		t.Errorf("after the outage: %s with %d task runs; want Success with 3", got.State, len(got.TaskRuns))
	}
	if api.fails.Load() < 3 {
		t.Errorf("the outage refused only %d calls", api.fails.Load())
	}
}

// Only a run an agent claimed is executed; one cancelled before the
// program starts ends Cancelled without running.
func TestExecuteOnlyClaimedRuns(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	fl := pipeline(false)
	f.register(t, fl)
	scheduled, err := f.c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "pipeline"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := program.Execute(ctx, f.c, f.cfg(t, scheduled.ID), map[string]*flow.Flow{"pipeline": fl}, &logs); err == nil || !strings.Contains(err.Error(), "not Submitted") {
		t.Errorf("executing an unclaimed run: %v", err)
	}
	if _, err := f.c.CancelFlowRun(ctx, scheduled.ID); err != nil {
		t.Fatal(err)
	}
	run := f.claimed(t, client.NewFlowRun{FlowName: "pipeline"})
	if _, err := f.c.CancelFlowRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if err := program.Execute(ctx, f.c, f.cfg(t, run.ID), map[string]*flow.Flow{"pipeline": fl}, &logs); err == nil {
		t.Error("a run cancelled before it started was executed")
	}
	got, _ := f.c.FlowRun(ctx, run.ID)
	if got.State != state.Cancelled || len(got.TaskRuns) != 0 {
		t.Errorf("the cancelled run: %s with %d task runs; want Cancelled with none", got.State, len(got.TaskRuns))
	}
}

// A run logging more than one request can carry gets all its lines to
// the server, in batches, and ends as it should.
func TestExecuteLogsInBatches(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	fl := flow.New("chatty")
	flow.Add(fl, task.New("talk", func(ctx context.Context, _ struct{}) (int, error) {
		rc, _ := runner.FromContext(ctx)
		line := strings.Repeat("€", 1000) // 3,000 bytes
		for i := range 600 {
			rc.Logger().Info(line, "i", i)
		}
		return 0, nil
	}))
	f.register(t, fl)
	run := f.claimed(t, client.NewFlowRun{FlowName: "chatty"})
	var logs bytes.Buffer
	if err := program.Execute(ctx, f.c, f.cfg(t, run.ID), map[string]*flow.Flow{"chatty": fl}, &logs); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	var n int
	for after := ""; ; {
		lines, err := f.c.FlowRunLogs(ctx, run.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) == 0 {
			break
		}
		for _, l := range lines {
			if strings.HasPrefix(l.Message, "€€€") {
				n++
			}
		}
		after = lines[len(lines)-1].Seq
	}
	if n != 600 {
		t.Errorf("the server has %d of the 600 long lines", n)
	}
	if got, _ := f.c.FlowRun(ctx, run.ID); got.State != state.Success {
		t.Errorf("run %s, want Success", got.State)
	}
}

// countingExecutor is runner.Local that counts the task runs submitted.
type countingExecutor struct{ n *atomic.Int32 }

func (e countingExecutor) Start(ctx context.Context) (runner.Session, error) {
	s, err := runner.Local().Start(ctx)
	return countingSession{s, e.n}, err
}

type countingSession struct {
	runner.Session
	n *atomic.Int32
}

func (s countingSession) Submit(run *runner.TaskRun) { s.n.Add(1); s.Session.Submit(run) }

// A Program's RunOptions apply to the runs execute runs, and what they
// hold is released once the run is over.
func TestProgramRunOptions(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	fl := pipeline(false)
	f.register(t, fl)
	run := f.claimed(t, client.NewFlowRun{FlowName: "pipeline", Parameters: map[string]any{"n": 2}})
	var submitted, released atomic.Int32
	p := program.Program{Flows: []*flow.Flow{fl},
		RunOptions: func(_ context.Context, _ *config.Config, got *flow.Flow) ([]runner.Option, func(), error) {
			if got != fl {
				t.Errorf("RunOptions for flow %q, want the program's", got.Name())
			}
			return []runner.Option{runner.WithExecutor(countingExecutor{&submitted})}, func() { released.Add(1) }, nil
		}}
	var logs bytes.Buffer
	if err := p.Execute(ctx, f.c, f.cfg(t, run.ID, "PREFECT__CONTEXT__SECRETS__MYSECRET="+secretValue), &logs); err != nil {
		t.Fatalf("Execute: %v\n%s", err, logs.String())
	}
	if got, _ := f.c.FlowRun(ctx, run.ID); got.State != state.Success {
		t.Errorf("run state %s %q; want Success", got.State, got.Message)
	}
	if submitted.Load() < 2 || released.Load() != 1 {
		t.Errorf("%d task runs went through the program's executor, released %d times; want every one, released once",
			submitted.Load(), released.Load())
	}

	// RunOptions failing fails the run, saying why.
	run = f.claimed(t, client.NewFlowRun{FlowName: "pipeline"})
	p.RunOptions = func(context.Context, *config.Config, *flow.Flow) ([]runner.Option, func(), error) {
		return nil, nil, errors.New("no queue to run on")
	}
	if err := p.Execute(ctx, f.c, f.cfg(t, run.ID), &logs); err == nil || !strings.Contains(err.Error(), "no queue to run on") {
		t.Errorf("Execute with failing RunOptions: %v", err)
	}
	if got, _ := f.c.FlowRun(ctx, run.ID); got.State != state.Failed || !strings.Contains(got.Message, "no queue to run on") {
		t.Errorf("run state %s %q; want Failed saying why", got.State, got.Message)
	}
}

// A Program's own subcommands run with their arguments and the flows, show
// in the usage, and a UsageError from one exits 2.
func TestProgramCommands(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	fl := pipeline(false)
	var gotArgs []string
	var gotFlows []*flow.Flow
	p := program.Program{Flows: []*flow.Flow{fl}, Commands: []program.Command{{
		Name: "hello", Usage: "[--loud]",
		Run: func(_ context.Context, _ *config.Config, args []string, stdout, _ io.Writer, flows []*flow.Flow) error {
			gotArgs, gotFlows = args, flows
			if len(args) > 0 && args[0] == "--bad" {
				return program.UsageError("hello: %s is not a flag of hello", args[0])
			}
			fmt.Fprintln(stdout, "hello")
			return nil
		}}}}
	var out, errOut bytes.Buffer
	if code := p.Run(context.Background(), []string{"hello", "--loud"}, &out, &errOut); code != 0 || out.String() != "hello\n" {
		t.Errorf("hello: exit %d, out %q, err %q", code, out.String(), errOut.String())
	}
	if !slices.Equal(gotArgs, []string{"--loud"}) || len(gotFlows) != 1 || gotFlows[0] != fl {
		t.Errorf("hello got args %q and %d flows", gotArgs, len(gotFlows))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hello", "--bad"}, "error: hello: --bad is not a flag of hello"},
		{[]string{"nope"}, `unknown subcommand "nope"; valid ones are register, execute, hello`},
		{nil, "expected a subcommand: register, execute, hello"},
	} {
		errOut.Reset()
		code := p.Run(context.Background(), tc.args, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) || !strings.Contains(errOut.String(), "| hello [--loud]") {
			t.Errorf("%q: exit %d, stderr %q; want 2, %q and the usage with hello", tc.args, code, errOut.String(), tc.want)
		}
	}
}

// TestHelp: -h and --help, on the program and on each of its commands
// (a Command's own too, whether it parses with ParseFlags or passes the
// flag set's error to UsageError), and the help command print the usage
// to stdout, print nothing to stderr and exit 0: asking for help is not a
// mistake.
func TestHelp(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	quiet := func(context.Context, *config.Config, []string, io.Writer, io.Writer, []*flow.Flow) error { return nil }
	p := program.Program{Flows: []*flow.Flow{pipeline(false)}, Commands: []program.Command{
		{Name: "hello", Usage: "[--loud]", Summary: "Says hello.",
			Run: func(_ context.Context, _ *config.Config, args []string, _, _ io.Writer, _ []*flow.Flow) error {
				fs := flag.NewFlagSet("hello", flag.ContinueOnError)
				fs.Bool("loud", false, "say it loud")
				fs.String("via", "nats://user:hunter2@127.0.0.1:4222", "the `URL` to say it on")
				return program.ParseFlags(fs, args)
			}},
		{Name: "bye", Usage: "[--soft]",
			Run: func(_ context.Context, _ *config.Config, args []string, _, _ io.Writer, _ []*flow.Flow) error {
				fs := flag.NewFlagSet("bye", flag.ContinueOnError)
				fs.SetOutput(io.Discard)
				fs.Bool("soft", false, "say it softly")
				if err := fs.Parse(args); err != nil {
					return program.UsageError("%v", err)
				}
				return nil
			}},
		{Name: "quiet", Run: quiet},
	}}
	for _, tc := range []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"-h"}, []string{"usage: ", "register [--label L]...", "execute", "hello [--loud]\n        Says hello.", "bye [--soft]", "help [COMMAND]", "flows: pipeline"}},
		{[]string{"--help"}, []string{"usage: ", "hello [--loud]"}},
		{[]string{"help"}, []string{"usage: ", "hello [--loud]"}},
		{[]string{"register", "-h"}, []string{" register [--label L]... [--env K=V]... [--working-dir D] [--no-schedule]\n", "Registers", "--label label\n", "--env KEY=VAL\n", "--working-dir directory\n"}},
		{[]string{"register", "--label", "x", "--help"}, []string{" register [--label L]"}},
		{[]string{"help", "register"}, []string{" register [--label L]", "--working-dir directory"}},
		{[]string{"execute", "-h"}, []string{" execute\n", "PREFECT__CONTEXT__FLOW_RUN_ID"}},
		{[]string{"execute", "--help"}, []string{" execute\n"}},
		{[]string{"hello", "-h"}, []string{" hello [--loud]\n", "Says hello.", "--loud\n        say it loud\n", "--via URL\n", "nats://user:xxxxx@127.0.0.1:4222"}},
		{[]string{"hello", "--help"}, []string{" hello [--loud]\n"}},
		{[]string{"bye", "-h"}, []string{" bye [--soft]\n"}},
		{[]string{"bye", "--help"}, []string{" bye [--soft]\n"}},
		{[]string{"help", "bye"}, []string{" bye [--soft]\n"}},
		{[]string{"help", "help"}, []string{" help [COMMAND]\n"}},
		{[]string{"help", "-h"}, []string{" help [COMMAND]\n"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := p.Run(context.Background(), tc.args, &out, &errOut)
			if code != 0 || errOut.Len() != 0 {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "hunter2") {
				t.Errorf("the help shows a default URL's password:\n%s", out.String())
			}
		})
	}
	// Help for what is not a command is a mistake.
	for _, args := range [][]string{{"help", "nope"}, {"help", "register", "execute"}, {"nope", "-h"}} {
		var out, errOut bytes.Buffer
		if code := p.Run(context.Background(), args, &out, &errOut); code != 2 || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q; want 2 and nothing", args, code, out.String())
		}
	}
}

// lossy writes every log batch, but loses the answer of the first: the
// reporter sends that batch again.
type lossy struct {
	program.RunAPI
	writes atomic.Int32
}

func (l *lossy) WriteRunLogs(ctx context.Context, id string, lines []client.LogLine) error {
	err := l.RunAPI.WriteRunLogs(ctx, id, lines)
	if err == nil && l.writes.Add(1) == 1 {
		return errors.New("read tcp 127.0.0.1:4200: connection reset by peer")
	}
	return err
}

// A log batch sent again after its answer was lost is on the server once.
func TestExecuteLogsOnceAfterLostAnswer(t *testing.T) {
	ctx := context.Background()
	f := start(t)
	fl := pipeline(false)
	f.register(t, fl)
	run := f.claimed(t, client.NewFlowRun{FlowName: "pipeline"})
	api := &lossy{RunAPI: f.c}
	var logs bytes.Buffer
	if err := program.Execute(ctx, api, f.cfg(t, run.ID, "PREFECT__CONTEXT__SECRETS__MYSECRET="+secretValue),
		map[string]*flow.Flow{"pipeline": fl}, &logs); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if api.writes.Load() < 2 {
		t.Fatalf("%d log batches written; the test needs the first one sent again", api.writes.Load())
	}
	lines, err := f.c.FlowRunLogs(ctx, run.ID, "", 1000)
	if err != nil || len(lines) == 0 {
		t.Fatalf("logs: %v, %v", lines, err)
	}
	seen := map[string]int{}
	for _, l := range lines {
		key := l.Time.String() + " " + l.Message
		if seen[key]++; seen[key] == 2 {
			t.Errorf("the server's log has this line twice: %s", l.Message)
		}
	}
}

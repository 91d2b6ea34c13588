//go:build unix

package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/state"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// started is an agent running in the background.
type started struct {
	a      *Agent
	log    *syncbuf.Buffer
	cancel context.CancelFunc // cancels Run's context
	stop   func() error       // cancels Run's context and returns what Run returned
}

// start starts an agent on f with a short poll interval, logging at Debug
// into a buffer; the test stops it when it ends, if it has not.
func start(t *testing.T, f *fake, opts ...Option) *started {
	t.Helper()
	buf := &syncbuf.Buffer{}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]Option{WithPollInterval(5 * time.Millisecond), WithLogger(log)}, opts...)
	a, err := New(f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return &started{a: a, log: buf, cancel: cancel, stop: stop}
}

// TestEnvReachesTheChild runs a real child that writes out its environment:
// every source of BuildEnv reaches it, a secret passed with --env among
// them, and the agent logs the variables' names, never their values.
func TestEnvReachesTheChild(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	flags, err := ParseEnv([]string{"PREFECT__CONTEXT__SECRETS__MYSECRET=s3cr3t-from-flag", "FLAG_VAR=flag-value=with-equals"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	cmd, env := childCommand("env", out)
	env["RUN_VAR"] = "run-value"
	f.add(FlowRun{ID: "run-env", FlowName: "etl", Command: cmd, Env: env})
	s := start(t, f,
		WithEnv(flags),
		WithLoggingLevel("DEBUG"),
		WithForcedEnv(func(run FlowRun) map[string]string {
			return map[string]string{"PREFECT__CLOUD__API": "http://127.0.0.1:4200/graphql", "PREFECT__CLOUD__API_KEY": "pgo_forced_key"}
		}),
		func(a *Agent) error {
			a.environ = func() []string { return append(os.Environ(), "AGENT_VAR=agent-value") }
			return nil
		},
	)
	f.waitState(t, "run-env", state.Failed) // it exits 0 without reporting Success
	s.stop()

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(string(b), "\n")
	want := []string{
		"PREFECT__CONTEXT__SECRETS__MYSECRET=s3cr3t-from-flag",
		"FLAG_VAR=flag-value=with-equals",
		"RUN_VAR=run-value",
		"AGENT_VAR=agent-value",
		"PREFECT__LOGGING__LEVEL=DEBUG",
		"PREFECT__CLOUD__API=http://127.0.0.1:4200/graphql",
		"PREFECT__CLOUD__API_KEY=pgo_forced_key",
		"PREFECT__BACKEND=cloud",
		"PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CONTEXT__FLOW_RUN_ID=run-env",
		"PREFECT__CONTEXT__FLOW_ID=etl",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("the child's environment lacks %s", w)
		}
	}

	log := s.log.String()
	for _, name := range []string{"PREFECT__CONTEXT__SECRETS__MYSECRET", "FLAG_VAR", "RUN_VAR", "PREFECT__CLOUD__API_KEY"} {
		if !strings.Contains(log, name) {
			t.Errorf("the agent's log does not name %s", name)
		}
	}
	for _, value := range []string{"s3cr3t-from-flag", "flag-value", "run-value", "agent-value", "pgo_forced_key", "127.0.0.1:4200"} {
		if strings.Contains(log, value) {
			t.Errorf("the agent's log shows the value %q:\n%s", value, log)
		}
	}
}

// TestFailure runs children that fail and checks the run's final state and
// message.
func TestFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    string
		args    []string
		want    []string // in the message
		notWant []string // not in the message
	}{
		{
			name:    "exit 3 with its last lines",
			mode:    "exit",
			args:    []string{"3", "30"},
			want:    []string{"exit status 3", "last 20 lines", "\nline 11\n", "\nline 12\n", "\nline 30"},
			notWant: []string{"line 10\n"},
		},
		{
			name: "exit 0 without a final state",
			mode: "exit",
			args: []string{"0", "0"},
			want: []string{"exit status 0 before the flow run reached a final state", "It wrote no output."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			cmd, env := childCommand(tc.mode, tc.args...)
			f.add(FlowRun{ID: "r", Command: cmd, Env: env})
			start(t, f)
			r := f.waitState(t, "r", state.Failed)
			for _, w := range tc.want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q lacks %q", r.Message, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.Message, w) {
					t.Errorf("message %q has %q", r.Message, w)
				}
			}
		})
	}
}

// TestFailureMessageMasksSecrets: a failing child prints secrets it was
// given; the message carries its output with them masked.
func TestFailureMessageMasksSecrets(t *testing.T) {
	f := newFake()
	names := []string{"PREFECT__CONTEXT__SECRETS__MYSECRET", "PREFECT__CLOUD__API_KEY", "PREFECT__CONTEXT__SECRETS__CREDS", "PLAIN"}
	cmd, env := childCommand("printenv", append([]string{"1"}, names...)...)
	env["PREFECT__CONTEXT__SECRETS__CREDS"] = `{"password": "json-piece-secret"}`
	f.add(FlowRun{ID: "r", Command: cmd, Env: env})
	flags := map[string]string{"PREFECT__CONTEXT__SECRETS__MYSECRET": "s3cr3t-printed", "PLAIN": "plain-printed"}
	start(t, f, WithEnv(flags), WithForcedEnv(func(FlowRun) map[string]string {
		return map[string]string{"PREFECT__CLOUD__API_KEY": "pgo_printed_key"}
	}))
	r := f.waitState(t, "r", state.Failed)
	for _, secret := range []string{"s3cr3t-printed", "pgo_printed_key", "json-piece-secret"} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(r.Message, form) {
				t.Errorf("message shows %q:\n%s", form, r.Message)
			}
		}
	}
	// Values forwarded on purpose (--env, the run's environment) are
	// masked whatever their names.
	if !strings.Contains(r.Message, "PLAIN is "+redact.Marker) || !strings.Contains(r.Message, "MYSECRET is "+redact.Marker) {
		t.Errorf("message does not show the output, masked where it must be:\n%s", r.Message)
	}
}

// TestKilledBySignal: a child killed from outside fails its run, naming
// the signal.
func TestKilledBySignal(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	f := newFake()
	cmd, env := childCommand("sleep", pidFile)
	f.add(FlowRun{ID: "r", Command: cmd, Env: env})
	start(t, f)
	pid := readPIDs(t, pidFile)[0]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := f.waitState(t, "r", state.Failed)
	if !strings.Contains(r.Message, "signal: killed") {
		t.Errorf("message %q does not name the signal", r.Message)
	}
}

// TestCancel: a run set Cancelling has its whole process group killed, a
// grandchild too, and ends Cancelled.
func TestCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	f := newFake()
	cmd, env := childCommand("spawn", pidFile)
	f.add(FlowRun{ID: "r", Command: cmd, Env: env})
	start(t, f)
	pids := readPIDs(t, pidFile)
	f.set("r", state.Running) // as the flow process would
	f.set("r", state.Cancelling)
	r := f.waitState(t, "r", state.Cancelled)
	for _, pid := range pids {
		gone(t, pid)
	}
	if !strings.Contains(r.Message, "cancelled") || !strings.Contains(r.Message, "signal: killed") {
		t.Errorf("message = %q", r.Message)
	}
	if want := []state.Kind{state.Scheduled, state.Submitted, state.Running, state.Cancelling, state.Cancelled}; !slices.Equal(r.History, want) {
		t.Errorf("states %v, want %v", r.History, want)
	}
}

// TestShutdownKillsAfterGrace: when Run's context ends with a run still
// running past the grace period, its processes are killed and the run is
// marked Failed, saying the agent stopped.
func TestShutdownKillsAfterGrace(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	f := newFake()
	cmd, env := childCommand("spawn", pidFile)
	f.add(FlowRun{ID: "r", Command: cmd, Env: env})
	s := start(t, f, WithName("edge-1"), WithGracePeriod(20*time.Millisecond))
	pids := readPIDs(t, pidFile)
	f.set("r", state.Running)
	if err := s.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	r := f.get("r") // Run has returned: the run is settled
	if r.State != state.Failed || !strings.Contains(r.Message, `The agent "edge-1" stopped and killed`) {
		t.Errorf("run is %s(%q), want Failed saying the agent stopped", r.State, r.Message)
	}
	for _, pid := range pids {
		gone(t, pid)
	}
}

// TestShutdownWaitsForRuns: a run that ends within the grace period is
// left to end, and no run is claimed after the context ends.
func TestShutdownWaitsForRuns(t *testing.T) {
	dir := t.TempDir()
	pidFile, doneFile := filepath.Join(dir, "pid"), filepath.Join(dir, "done")
	f := newFake()
	cmd, env := childCommand("waitfile", pidFile, doneFile)
	f.add(FlowRun{ID: "r", Command: cmd, Env: env})
	s := start(t, f, WithGracePeriod(time.Minute))
	pid := readPIDs(t, pidFile)[0]

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	eventually(t, "the agent says it is stopping", func() bool { return strings.Contains(s.log.String(), "agent stopping") })
	f.add(FlowRun{ID: "late", Command: cmd, Env: env})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned %v while a run was running", err)
	default:
	}
	if !alive(pid) {
		t.Fatal("the run's process was killed within the grace period")
	}
	f.set("r", state.Success) // as the flow process would
	writeFile(t, doneFile, "")
	if err := <-stopped; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if r := f.get("r"); r.State != state.Success {
		t.Errorf("run is %s(%q), want Success", r.State, r.Message)
	}
	if r := f.get("late"); r.State != state.Scheduled {
		t.Errorf("a run added during shutdown is %s, want Scheduled (not claimed)", r.State)
	}
}

// TestLaunchFailure: a run whose process cannot start is Failed, saying
// why.
func TestLaunchFailure(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "flow")
	writeFile(t, notExecutable, "#!/bin/sh\n")
	for _, tc := range []struct {
		name string
		run  FlowRun
		want string
	}{
		{"not in PATH", FlowRun{Command: []string{"prefect-go-no-such-command"}}, `could not start the flow run's process: exec: "prefect-go-no-such-command": executable file not found in $PATH`},
		{"no such file", FlowRun{Command: []string{"/nonexistent/flow", "execute"}}, "/nonexistent/flow: no such file or directory"},
		{"not executable", FlowRun{Command: []string{notExecutable}}, notExecutable + ": permission denied"},
		{"no working dir", FlowRun{Command: []string{"/bin/sh"}, WorkingDir: "/nonexistent/dir"}, "working directory /nonexistent/dir: stat /nonexistent/dir: no such file or directory"},
		{"working dir a file", FlowRun{Command: []string{"/bin/sh"}, WorkingDir: notExecutable}, "working directory " + notExecutable + " is not a directory"},
		{"no command", FlowRun{}, "has no command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			tc.run.ID = "r"
			f.add(tc.run)
			start(t, f)
			r := f.waitState(t, "r", state.Failed)
			if !strings.Contains(r.Message, tc.want) {
				t.Errorf("message %q lacks %q", r.Message, tc.want)
			}
		})
	}
}

// countingLauncher wraps LocalLauncher, counts launches per run and
// processes at once, and sets a run Success when its process exits 0, as
// the flow would.
type countingLauncher struct {
	f *fake

	mu       sync.Mutex
	launches map[string]int
	now, max int
}

func (l *countingLauncher) Launch(ctx context.Context, spec LaunchSpec) (Process, error) {
	p, err := LocalLauncher{}.Launch(ctx, spec)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.launches[spec.RunID]++
	l.now++
	l.max = max(l.max, l.now)
	return &countedProcess{Process: p, l: l, runID: spec.RunID}, nil
}

type countedProcess struct {
	Process
	l     *countingLauncher
	runID string
	once  sync.Once
}

func (p *countedProcess) Wait() (Exit, error) {
	exit, err := p.Process.Wait()
	p.once.Do(func() {
		if err == nil && exit.Success() {
			p.l.f.set(p.runID, state.Success)
		}
		p.l.mu.Lock()
		p.l.now--
		p.l.mu.Unlock()
	})
	return exit, err
}

// TestManyAgents: four agents with at most three runs each share 200 runs;
// every run is launched exactly once, and no agent runs more than three at
// once.
func TestManyAgents(t *testing.T) {
	const agents, runs, maxRuns = 4, 200, 3
	f := newFake()
	cmd, env := childCommand("exit", "0", "0")
	for i := range runs {
		f.add(FlowRun{ID: fmt.Sprintf("run-%03d", i), Command: cmd, Env: env})
	}
	var launchers []*countingLauncher
	for i := range agents {
		l := &countingLauncher{f: f, launches: map[string]int{}}
		launchers = append(launchers, l)
		start(t, f, WithName(fmt.Sprintf("agent-%d", i)), WithMaxRuns(maxRuns), WithLauncher(l), WithPollInterval(time.Millisecond))
	}
	t.Cleanup(func() {
		if t.Failed() {
			counts := map[string]int{}
			f.mu.Lock()
			for _, r := range f.runs {
				counts[r.State.String()+" "+r.Message]++
			}
			f.mu.Unlock()
			t.Log(counts)
		}
	})
	f.waitFor(t, "every run succeeds", func() bool {
		for _, r := range f.runs {
			if r.State != state.Success {
				return false
			}
		}
		return true
	})
	total := map[string]int{}
	for i, l := range launchers {
		l.mu.Lock()
		for id, n := range l.launches {
			total[id] += n
		}
		if l.max > maxRuns {
			t.Errorf("agent %d ran %d runs at once, more than %d", i, l.max, maxRuns)
		}
		t.Logf("agent %d: %d runs, at most %d at once", i, len(l.launches), l.max)
		l.mu.Unlock()
	}
	for i := range runs {
		id := fmt.Sprintf("run-%03d", i)
		if total[id] != 1 {
			t.Errorf("run %s was launched %d times", id, total[id])
		}
		if h := f.get(id).History; !slices.Equal(h, []state.Kind{state.Scheduled, state.Submitted, state.Success}) {
			t.Errorf("run %s went through %v", id, h)
		}
	}
}

// TestClaimErrors: the agent logs a failed claim and polls on.
func TestClaimErrors(t *testing.T) {
	f := newFake()
	var mu sync.Mutex
	fails := 3
	f.onClaim = func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return errors.New("server unavailable")
		}
		return nil
	}
	cmd, env := childCommand("exit", "0", "0")
	f.add(FlowRun{ID: "r", Command: cmd, Env: env})
	s := start(t, f)
	f.waitState(t, "r", state.Failed)
	if n := strings.Count(s.log.String(), "server unavailable"); n != 3 {
		t.Errorf("the log shows %d failed claims, want 3", n)
	}
}

// TestGiveBack: runs claimed as the context ends are not started but set
// back to Scheduled.
func TestGiveBack(t *testing.T) {
	f := newFake()
	cmd, env := childCommand("exit", "0", "0")
	f.add(FlowRun{ID: "a", Command: cmd, Env: env})
	f.add(FlowRun{ID: "b", Command: cmd, Env: env})
	l := &countingLauncher{f: f, launches: map[string]int{}}
	var s *started
	ready := make(chan struct{})    // s is set
	claiming := make(chan struct{}) // the context ended during a claim
	var once sync.Once
	f.onClaim = func(string) error {
		<-ready
		once.Do(func() {
			s.cancel()
			close(claiming)
		})
		return nil
	}
	s = start(t, f, WithLauncher(l))
	close(ready)
	<-claiming
	if err := s.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	for _, id := range []string{"a", "b"} {
		if r := f.get(id); r.State != state.Scheduled || !strings.Contains(r.Message, "scheduled again") {
			t.Errorf("run %s is %s(%q), want Scheduled again", id, r.State, r.Message)
		}
	}
	if len(l.launches) != 0 {
		t.Errorf("launched %v", l.launches)
	}
}

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Orchestrator
		opts []Option
		want string
	}{
		{"nil orchestrator", nil, nil, "orchestrator is nil"},
		{"negative max runs", newFake(), []Option{WithMaxRuns(-1)}, "max runs is -1"},
		{"zero poll interval", newFake(), []Option{WithPollInterval(0)}, "poll interval is 0s"},
		{"negative grace", newFake(), []Option{WithGracePeriod(-time.Second)}, "grace period is -1s"},
		{"nil launcher", newFake(), []Option{WithLauncher(nil)}, "launcher is nil"},
		{"empty name", newFake(), []Option{WithName("")}, "name is empty"},
		{"every error", newFake(), []Option{WithMaxRuns(-1), WithName("")}, "max runs is -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error with %q", err, tc.want)
			}
		})
	}
	// Every problem, under a count, each reached by errors.As.
	_, err := New(nil, WithMaxRuns(-1), WithName(""))
	want := "agent: 3 problems with the options:\n" +
		"\t- the orchestrator is nil\n" +
		"\t- max runs is -1: it must be 0 (no limit) or more\n" +
		"\t- the agent's name is empty"
	if err == nil || err.Error() != want {
		t.Errorf("New = %v, want\n%s", err, want)
	}
	var list *multierror.Error
	if !errors.As(err, &list) || len(list.WrappedErrors()) != 3 {
		t.Errorf("New = %v; want a *multierror.Error of 3", err)
	}
	a, err := New(newFake(), WithName("n"), WithID("id-1"))
	if err != nil || a.Name() != "n" || a.ID() != "id-1" {
		t.Errorf("New = %v, %v", a, err)
	}
}

func TestRunTwice(t *testing.T) {
	s := start(t, newFake())
	eventually(t, "the agent runs", s.a.running.Load)
	if err := s.a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v", err)
	}
}

// TestCrashMasksSecretsTheProcessResolved: the child resolves a secret the
// agent never saw (its value comes from a file, as it would from the
// secret server), prints it and dies of a panic holding it. The run's
// message carries the output with the value masked: the child handed it
// to the agent on its mask pipe before it used it.
func TestCrashMasksSecretsTheProcessResolved(t *testing.T) {
	for _, tc := range []struct{ name, secret, shown string }{
		{"plain", "only-the-child-knows-this", "only-the-child-knows-this"},
		// A value read from a file saved with CRLF line ends, less its
		// last "\n" ($(cat file), a shell's read): printed, its line reads
		// "...\r\n", which the tail's lines end without the "\r".
		{"trailing CR", "crlf-file-secret-value\r", "crlf-file-secret-value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(file, []byte(tc.secret), 0o600); err != nil {
				t.Fatal(err)
			}
			f := newFake()
			cmd, env := childCommand("crash", file)
			f.add(FlowRun{ID: "r", Command: cmd, Env: env})
			start(t, f)
			r := f.waitState(t, "r", state.Failed)
			if !strings.Contains(r.Message, "auth failed for token "+redact.Marker) || !strings.Contains(r.Message, "panic: lost the connection holding "+redact.Marker) {
				t.Errorf("message does not show the output, masked:\n%s", r.Message)
			}
			if strings.Contains(r.Message, tc.shown) || strings.Contains(r.Message, base64.StdEncoding.EncodeToString([]byte(tc.secret))) {
				t.Errorf("message shows the secret:\n%s", r.Message)
			}
		})
	}
}

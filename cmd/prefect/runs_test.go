package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/state"
)

// cliExit runs the binary and returns its output and exit status.
func cliExit(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	out, errOut, err := cliRun(bin, env, args...)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("prefect %s: %v", strings.Join(args, " "), err)
	}
	return out, errOut, code
}

// settle takes run id, the only Scheduled run of the server, through
// Submitted and Running to final, as an agent and its flow program would,
// reporting tasks and log lines while it runs.
func settle(t *testing.T, c *client.Client, id string, final state.Kind, tasks []client.TaskRun, logs []client.LogLine) {
	t.Helper()
	ctx := testwait.Context(t)
	claimed, err := c.ClaimFlowRuns(ctx, "test-agent", nil, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("claiming flow run %s: %v, %v", id, claimed, err)
	}
	v, err := c.SetFlowRunStateAs(ctx, "test-agent", id, claimed[0].Version, state.Running, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetTaskRunStates(ctx, id, tasks); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRunLogs(ctx, id, logs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetFlowRunStateAs(ctx, "test-agent", id, v, final, ""); err != nil {
		t.Fatal(err)
	}
}

// TestRunsCommands drives runs through the server binary, as an agent
// would, and checks what prefect run, runs list, runs cancel and run
// --watch's printing make of them.
func TestRunsCommands(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	url, key, _ := startTestServer(t, bin)
	env := cliEnv(t, "PREFECT__CLOUD__API="+url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
	c := newTestClient(t, url, key)
	ctx := testwait.Context(t)
	def, err := json.Marshal(program.Definition{Name: "needs-dt", Tasks: []program.TaskDef{}, Reference: []string{},
		Parameters: []program.ParameterDef{{Name: "dt", Type: "time.Time", Required: true}, {Name: "n", Type: "int"}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range map[string]json.RawMessage{"needs-dt": def, "undescribed": nil} {
		if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: name, Definition: def, Command: []string{"/bin/true"}}); err != nil {
			t.Fatal(err)
		}
	}
	noRuns := func(t *testing.T) {
		t.Helper()
		if runs, err := c.FlowRuns(ctx, 500); err != nil || len(runs) != 0 {
			t.Errorf("the server has runs %v (%v); want none", runs, err)
		}
	}

	t.Run("parameters are checked before the run is made", func(t *testing.T) {
		for _, tc := range []struct {
			args      []string
			want, not []string
		}{
			{[]string{"--param", "nope=1", "--param", "dt=2024-01-01T00:00:00Z"},
				[]string{`Flow.run received the following unexpected parameters: nope (flow "needs-dt" has no parameter "nope"; its parameters are "dt", "n")`, "no run was created"},
				[]string{"did not receive"}},
			{nil,
				[]string{`Flow.run did not receive the following required parameters: dt (flow "needs-dt": required parameter "dt" not given)`},
				[]string{"unexpected"}},
			{[]string{"--param", "zz=1", "--param", "nope=2", "--param", "n=3"},
				[]string{"Flow.run received the following unexpected parameters: nope, zz ", "Flow.run did not receive the following required parameters: dt "},
				nil},
		} {
			out, errOut, code := cliExit(t, bin, env, append([]string{"run", "--name", "needs-dt"}, tc.args...)...)
			if code != 1 || out != "" {
				t.Errorf("run %q: exit %d, stdout %q; want 1 and nothing\n%s", tc.args, code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("run %q: stderr lacks %q:\n%s", tc.args, w, errOut)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(errOut, w) {
					t.Errorf("run %q: stderr has %q:\n%s", tc.args, w, errOut)
				}
			}
		}
		noRuns(t)
		// Right parameters make a run; a flow registered without its
		// parameters is not checked (its runner still is).
		for _, args := range [][]string{
			{"--name", "needs-dt", "--param", "dt=2024-01-01T00:00:00Z"},
			{"--name", "undescribed", "--param", "anything=1"},
		} {
			id := strings.TrimSpace(prefectCLI(t, bin, env, append([]string{"run"}, args...)...))
			// Cancelling a Scheduled run cancels it at once, exit 0.
			if _, errOut, code := cliExit(t, bin, env, "runs", "cancel", id); code != 0 || !strings.Contains(errOut, ": Cancelled") {
				t.Errorf("runs cancel of a Scheduled run: exit %d\n%s", code, errOut)
			}
			// Cancelling it again: what was asked for holds, exit 0.
			if _, errOut, code := cliExit(t, bin, env, "runs", "cancel", id); code != 0 || !strings.Contains(errOut, "flow run "+id+" is already Cancelled") {
				t.Errorf("runs cancel of a Cancelled run: exit %d\n%s", code, errOut)
			}
		}
	})

	t.Run("a watch shows the outcome after the task states and logs", func(t *testing.T) {
		run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "undescribed"})
		if err != nil {
			t.Fatal(err)
		}
		// Slugs in the other order than their times: the server lists
		// task runs by slug.
		t0 := time.Now().Add(-10 * time.Second)
		settle(t, c, run.ID, state.Success,
			[]client.TaskRun{
				{ID: "a", Slug: "a-task", MapIndex: -1, State: state.Success, Updated: t0.Add(3 * time.Second)},
				{ID: "z", Slug: "z-task", MapIndex: -1, State: state.Success, Updated: t0.Add(time.Second)},
			},
			[]client.LogLine{
				{Level: "INFO", Message: "between-the-tasks", Time: t0.Add(2 * time.Second)},
				{Level: "INFO", Message: "after-the-tasks", Time: t0.Add(4 * time.Second)},
			})
		// The run has ended before the watch's first look: the case where
		// everything is printed at once.
		var out bytes.Buffer
		if err := watchRun(ctx, c, run.ID, &out); err != nil {
			t.Fatalf("watchRun: %v\n%s", err, out.String())
		}
		last := -1
		for _, want := range []string{"z-task", "between-the-tasks", "a-task", "after-the-tasks", "flow run " + run.Name + ": Success"} {
			i := strings.Index(out.String(), want)
			if i <= last {
				t.Errorf("the watch shows %q out of order (want z-task, the first log line, a-task, the second, then the outcome):\n%s", want, out.String())
				break
			}
			last = i
		}

		// A run that succeeded has nothing to cancel: said, exit 1, and it
		// stays Success.
		_, errOut, code := cliExit(t, bin, env, "runs", "cancel", run.ID)
		if code != 1 || !strings.Contains(errOut, "flow run "+run.ID+" already ended Success: nothing to cancel") {
			t.Errorf("runs cancel of a Success run: exit %d; want 1 saying nothing was cancelled\n%s", code, errOut)
		}
		if st, _, err := c.FlowRunState(ctx, run.ID); err != nil || st != state.Success {
			t.Errorf("after runs cancel the run is %v (%v); want Success", st, err)
		}
	})

	t.Run("runs list --state in any case", func(t *testing.T) {
		run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "undescribed"})
		if err != nil {
			t.Fatal(err)
		}
		settle(t, c, run.ID, state.Failed, nil, nil)
		for _, st := range []string{"failed", "FAILED", "Failed", "fAiLeD"} {
			if list := prefectCLI(t, bin, env, "runs", "list", "--state", st); !strings.Contains(list, run.ID) {
				t.Errorf("runs list --state %s lacks the Failed run:\n%s", st, list)
			}
		}
		if list := prefectCLI(t, bin, env, "runs", "list", "--state", "success"); strings.Contains(list, run.ID) {
			t.Errorf("runs list --state success lists the Failed run:\n%s", list)
		}
		_, errOut, code := cliExit(t, bin, env, "runs", "list", "--state", "done")
		if code != 2 || !strings.Contains(errOut, `--state "done" is not a flow run's state: want one of Scheduled, Submitted, Running, Success, Failed, Cancelling, Cancelled`) {
			t.Errorf("runs list --state done: exit %d\n%s", code, errOut)
		}
		if _, errOut, code := cliExit(t, bin, env, "runs", "cancel", run.ID); code != 1 || !strings.Contains(errOut, "already ended Failed: nothing to cancel") {
			t.Errorf("runs cancel of a Failed run: exit %d\n%s", code, errOut)
		}
	})
}

// TestServerNotConfigured: with cloud.api left at its default (Prefect
// Cloud's address), a command fails at once, naming the setting, without
// a request (nothing here leaves the machine); with a server that does not
// answer, the error names the setting too.
func TestServerNotConfigured(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String() // nothing listens there once closed
	l.Close()
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"the default", cliEnv(t),
			[]string{"cloud.api is https://api.prefect.io", "set cloud.api in ~/.prefect/config.toml or PREFECT__CLOUD__API to your server, e.g. http://127.0.0.1:4200/graphql"}},
		{"backend cloud given", cliEnv(t, "PREFECT__BACKEND=cloud"),
			[]string{"cloud.api is https://api.prefect.io"}},
		{"a closed port", cliEnv(t, "PREFECT__CLOUD__API=http://"+closed+"/graphql"),
			[]string{"connection refused", "is the server running? If it runs elsewhere, set cloud.api in ~/.prefect/config.toml or PREFECT__CLOUD__API"}},
	} {
		for _, args := range [][]string{{"flows", "list"}, {"runs", "list"}, {"secrets", "get", "X"}, {"run", "--name", "f"}} {
			out, errOut, code := cliExit(t, bin, tc.env, args...)
			if code != 1 || out != "" {
				t.Errorf("%s: prefect %s: exit %d, stdout %q; want 1 and nothing\n%s", tc.name, strings.Join(args, " "), code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("%s: prefect %s: stderr lacks %q:\n%s", tc.name, strings.Join(args, " "), w, errOut)
				}
			}
		}
	}
}

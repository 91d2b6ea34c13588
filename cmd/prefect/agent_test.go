package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/prefect-go/prefect/internal/gobuild"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildDeploy builds examples/deploy, the flow program of the README's
// walkthrough.
func buildDeploy(t *testing.T) string {
	t.Helper()
	return gobuild.Build(t, "../../examples/deploy", "deploy")
}

// process is a long-running command of a test, stopped with SIGTERM when
// the test ends.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startProcess(t testing.TB, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop on SIGTERM\n%s", filepath.Base(bin), p)
		}
	})
	return p
}

// showAll is the logs of a test's processes, for a failure message.
func showAll(logs []fmt.Stringer) string {
	var b strings.Builder
	for i, l := range logs {
		fmt.Fprintf(&b, "\n--- log %d:\n%s", i+1, l)
	}
	return b.String()
}

// runWatch runs `prefect run args... --watch`, which must succeed within
// a minute, and returns the run's id (its stdout) and what the watch
// showed (its stderr); a failure shows the logs of procs too.
func runWatch(t *testing.T, bin string, env []string, procs []fmt.Stringer, args ...string) (id, watched string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, bin, append(append([]string{"run"}, args...), "--watch")...)
	c.Env = env
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		t.Fatalf("prefect run %q --watch: %v\n%s\n%s", args, err, errOut.String(), showAll(procs))
	}
	return strings.TrimSpace(out.String()), errOut.String()
}

// TestAgentWalkthrough is the README's walkthrough with the real binaries:
// the server, a flow program registered with it, an agent started with
// --env PREFECT__CONTEXT__SECRETS__MYSECRET=..., and `prefect run --watch`:
// the forwarded secret reaches the task, the run succeeds, and the value
// shows nowhere: not in the run's log on the server, not in the agent's.
func TestAgentWalkthrough(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, deploy := buildBinary(t), buildDeploy(t)
	url, key, _ := startTestServer(t, bin)
	env := cliEnv(t, "PREFECT__CLOUD__API="+url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
	const secret = "s3cr3t-CANARY-walkthrough"

	if out, errOut, err := cliRun(deploy, env, "register"); err != nil || !strings.Contains(out, "registered as version 1") {
		t.Fatalf("deploy register: %v\n%s%s", err, out, errOut)
	}
	if out, _, err := cliRun(deploy, env, "register"); err != nil || !strings.Contains(out, "unchanged, still version 1") {
		t.Errorf("registering again: %v\n%s", err, out)
	}
	flows := prefectCLI(t, bin, env, "flows", "list")
	if !strings.Contains(flows, "secret-pipeline") {
		t.Errorf("flows list:\n%s", flows)
	}

	ag := startProcess(t, bin, env, "agent", "local", "start", "--poll-interval", "100ms",
		"--env", "PREFECT__CONTEXT__SECRETS__MYSECRET="+secret)

	id, watched := runWatch(t, bin, env, []fmt.Stringer{ag}, "--name", "secret-pipeline", "--param", "n=2")
	for _, want := range []string{"Success", "use_credentials-1", "MYSECRET-1"} {
		if !strings.Contains(watched, want) {
			t.Errorf("the watch does not show %q:\n%s", want, watched)
		}
	}
	show := prefectCLI(t, bin, env, "runs", "show", id)
	if !regexp.MustCompile(`state\s+Success`).MatchString(show) || !strings.Contains(show, "use_credentials-1") {
		t.Errorf("runs show:\n%s", show)
	}
	logs := prefectCLI(t, bin, env, "runs", "logs", id)
	if !strings.Contains(logs, "connecting") {
		t.Errorf("runs logs lacks the task's line:\n%s", logs)
	}
	for what, text := range map[string]string{"the watch": watched, "the run's log": logs, "runs show": show, "the agent's log": ag.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the secret", what)
		}
	}
	if !strings.Contains(ag.String(), "PREFECT__CONTEXT__SECRETS__MYSECRET") {
		t.Errorf("the agent's log does not name the variables it forwards:\n%s", ag)
	}
	list := prefectCLI(t, bin, env, "runs", "list")
	if !strings.Contains(list, id) || !strings.Contains(list, "Success") {
		t.Errorf("runs list:\n%s", list)
	}
	if list := prefectCLI(t, bin, env, "runs", "list", "--state", "Success"); !strings.Contains(list, id) {
		t.Errorf("runs list --state Success:\n%s", list)
	}
	if list := prefectCLI(t, bin, env, "runs", "list", "--state", "Scheduled"); strings.Contains(list, id) {
		t.Errorf("runs list --state Scheduled lists the finished run:\n%s", list)
	}
	_, errOut, err := cliRun(bin, env, "runs", "list", "--state", "Done")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(errOut, `--state "Done" is not a flow run's state: want one of Scheduled, Submitted, Running, Success, Failed, Cancelling, Cancelled`) {
		t.Errorf("runs list --state Done: %v\n%s", err, errOut)
	}
}

//go:build linux

package main

// End-to-end tests of the local agent with the real binaries: the server,
// `prefect agent local start` processes, and the flow program of
// testdata/agentflows, built by the test. Linux only: they read /proc and
// make the test process a child subreaper.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/gobuild"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/state"
)

// agentFlowsBin is testdata/agentflows, the flow program of these tests,
// built once for all the tests of the process.
var agentFlowsBin = gobuild.NewOnce("./testdata/agentflows", "agentflows")

// buildFlows builds testdata/agentflows, once per test process, and
// returns its path.
func buildFlows(tb testing.TB) string {
	tb.Helper()
	return agentFlowsBin.Path(tb)
}

// register registers the flows of the flow program flows with the server
// env names, with args (--env K=V, ...).
func register(tb testing.TB, flows string, env []string, args ...string) {
	tb.Helper()
	out, errOut, err := cliRun(flows, env, append([]string{"register"}, args...)...)
	if err != nil || !strings.Contains(out, "flow append:") {
		tb.Fatalf("agentflows register %q: %v\n%s%s", args, err, out, errOut)
	}
}

// waitRun polls run id until cond holds and returns the run; the test fails
// at testwait.Deadline, showing logs (the agents' output, say).
func waitRun(tb testing.TB, c *client.Client, id string, what string, cond func(client.FlowRun) bool, logs ...fmt.Stringer) client.FlowRun {
	tb.Helper()
	ctx := testwait.Context(tb)
	var last client.FlowRun
	var err error
	for {
		if last, err = c.FlowRun(ctx, id); err == nil && cond(last) {
			return last
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("flow run %s: timed out waiting until %s; last seen %s %q (%v)%s", id, what, last.State, last.Message, err, showAll(logs))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// createRun runs `prefect run` with args and returns the run's ID.
func createRun(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(prefectCLI(t, bin, env, append([]string{"run"}, args...)...))
}

// agentFixture is a server with the test flow program registered, and the
// environment of the CLI, the flow program and the agents.
type agentFixture struct {
	bin, flows string
	url, key   string
	env        []string // HOME, PATH, PREFECT__CLOUD__API and _KEY
	c          *client.Client
}

func newAgentFixture(t *testing.T) *agentFixture {
	t.Helper()
	f := &agentFixture{bin: buildBinary(t), flows: buildFlows(t)}
	f.url, f.key, _ = startTestServer(t, f.bin)
	f.env = cliEnv(t, "PREFECT__CLOUD__API="+f.url+"/graphql", "PREFECT__CLOUD__API_KEY="+f.key)
	f.c = newTestClient(t, f.url, f.key)
	register(t, f.flows, f.env)
	return f
}

// agent starts `prefect agent local start` polling every 100ms with args,
// with the fixture's environment plus extraEnv as its own. It is stopped
// (SIGTERM) when the test ends.
func (f *agentFixture) agent(t *testing.T, extraEnv []string, args ...string) *process {
	t.Helper()
	env := append(slices.Clone(f.env), extraEnv...)
	return startProcess(t, f.bin, env, append([]string{"agent", "local", "start", "--poll-interval", "100ms"}, args...)...)
}

// TestAgentEnvPrecedence runs a flow that reports its environment, one
// step of the order of SPEC §6 (agent.BuildEnv) a subtest, later wins: the
// agent's own environment, the logging level (--log-level), --env values,
// the run config's env (register --env) merged with the run's own (prefect
// run --env, which wins), then the values the agent forces.
func TestAgentEnvPrecedence(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	f := newAgentFixture(t)
	const unset = "\x00unset" // want: the variable is not in the environment
	for _, tc := range []struct {
		name        string
		agentEnv    []string // the agent's own environment, beside the fixture's
		agentArgs   []string // of agent local start
		registerEnv []string // the run config's env: agentflows register --env
		runEnv      []string // the run's own: prefect run --env
		want        map[string]string
	}{{
		name:     "the agent's own environment",
		agentEnv: []string{"PRECEDENCE_A=agent", "PRECEDENCE_EMPTY="},
		want: map[string]string{"PRECEDENCE_A": "agent", "PRECEDENCE_EMPTY": "", "PRECEDENCE_B": unset,
			// no --log-level: the agent's configuration's logging.level
			"PREFECT__LOGGING__LEVEL": "INFO"},
	}, {
		name:      "the logging level over the agent's environment",
		agentEnv:  []string{"PREFECT__LOGGING__LEVEL=WARNING", "PRECEDENCE_A=agent"},
		agentArgs: []string{"--log-level", "DEBUG"},
		want:      map[string]string{"PREFECT__LOGGING__LEVEL": "DEBUG", "PRECEDENCE_A": "agent"},
	}, {
		name:     "the logging level defaults to the agent's configuration",
		agentEnv: []string{"PREFECT__LOGGING__LEVEL=WARNING"},
		want:     map[string]string{"PREFECT__LOGGING__LEVEL": "WARNING"},
	}, {
		name:     "--env over the logging level and the agent's environment",
		agentEnv: []string{"PRECEDENCE_A=agent", "PRECEDENCE_D=agent"},
		agentArgs: []string{"--log-level", "DEBUG", "--env", "PREFECT__LOGGING__LEVEL=ERROR", "--env", "PRECEDENCE_A=flag",
			"-e", "PRECEDENCE_B=x=y", "--env", "PRECEDENCE_C=first", "--env", "PRECEDENCE_C=last"},
		want: map[string]string{"PREFECT__LOGGING__LEVEL": "ERROR", "PRECEDENCE_A": "flag",
			"PRECEDENCE_B": "x=y", "PRECEDENCE_C": "last", "PRECEDENCE_D": "agent"},
	}, {
		name: "cloud.agent.env_vars without --env, as Prefect's agents",
		agentEnv: []string{"PRECEDENCE_A=agent", "PRECEDENCE_D=agent",
			`PREFECT__CLOUD__AGENT__ENV_VARS={"PRECEDENCE_A": "config", "PRECEDENCE_B": 8080}`},
		want: map[string]string{"PRECEDENCE_A": "config", "PRECEDENCE_B": "8080", "PRECEDENCE_D": "agent"},
	}, {
		name:      "--env instead of cloud.agent.env_vars",
		agentEnv:  []string{`PREFECT__CLOUD__AGENT__ENV_VARS={"PRECEDENCE_A": "config"}`},
		agentArgs: []string{"--env", "PRECEDENCE_C=flag"},
		want:      map[string]string{"PRECEDENCE_A": unset, "PRECEDENCE_C": "flag"},
	}, {
		name:        "the run config's env over --env",
		agentEnv:    []string{"PRECEDENCE_C=agent"},
		agentArgs:   []string{"--env", "PRECEDENCE_A=flag", "--env", "PRECEDENCE_B=flag", "--env", "PREFECT__LOGGING__LEVEL=ERROR"},
		registerEnv: []string{"PRECEDENCE_A=runconfig", "PRECEDENCE_C=runconfig", "PREFECT__LOGGING__LEVEL=DEBUG"},
		want: map[string]string{"PRECEDENCE_A": "runconfig", "PRECEDENCE_B": "flag", "PRECEDENCE_C": "runconfig",
			"PREFECT__LOGGING__LEVEL": "DEBUG"},
	}, {
		name:        "the run's own env over the run config's, merged",
		agentArgs:   []string{"--env", "PRECEDENCE_A=flag", "--env", "PRECEDENCE_C=flag"},
		registerEnv: []string{"PRECEDENCE_A=runconfig", "PRECEDENCE_B=runconfig"},
		runEnv:      []string{"PRECEDENCE_A=run", "PRECEDENCE_D=run"},
		want: map[string]string{"PRECEDENCE_A": "run", "PRECEDENCE_B": "runconfig", "PRECEDENCE_C": "flag",
			"PRECEDENCE_D": "run"},
	}, {
		// The run succeeds only if it talked to the real server with the
		// agent's key, which every source below tried to replace.
		name: "forced values over everything",
		agentEnv: []string{"PREFECT__CONTEXT__FLOW_RUN_ID=agent-bogus", "PREFECT__BACKEND=server",
			"PREFECT__CLOUD__USE_LOCAL_SECRETS=true"},
		agentArgs: []string{"--env", "PREFECT__CONTEXT__FLOW_RUN_ID=flag-bogus", "--env", "PREFECT__CLOUD__API=http://127.0.0.1:1/graphql",
			"--env", "PREFECT__CLOUD__API_KEY=pgo_bogus-flag", "--env", "PREFECT__CLOUD__TENANT_ID=bogus",
			"--env", "PREFECT__CONTEXT__FLOW_ID=bogus", "--env", "PREFECT__BACKEND=server"},
		registerEnv: []string{"PREFECT__CONTEXT__FLOW_RUN_ID=00000000-0000-0000-0000-000000000001",
			"PREFECT__CLOUD__USE_LOCAL_SECRETS=true", "PREFECT__CLOUD__API_KEY=pgo_bogus-runconfig"},
		runEnv: []string{"PREFECT__CONTEXT__FLOW_RUN_ID=00000000-0000-0000-0000-000000000002",
			"PREFECT__CLOUD__API=http://127.0.0.1:2/graphql", "PREFECT__CLOUD__API_KEY=pgo_bogus-run", "PREFECT__BACKEND=server"},
		want: map[string]string{"PREFECT__CONTEXT__FLOW_RUN_ID": "{run}", "PREFECT__CLOUD__API": "{api}",
			"PREFECT__BACKEND": "cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false", "PREFECT__CONTEXT__FLOW_ID": "env-report",
			// The agent has no tenant ID, so it forces the variable away.
			"PREFECT__CLOUD__TENANT_ID": unset},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var regArgs []string
			for _, e := range tc.registerEnv {
				regArgs = append(regArgs, "--env", e)
			}
			register(t, f.flows, f.env, regArgs...)
			ag := f.agent(t, tc.agentEnv, tc.agentArgs...)
			out := filepath.Join(t.TempDir(), "env.json")
			runArgs := []string{"--name", "env-report", "--param", "out=" + out}
			for _, e := range tc.runEnv {
				runArgs = append(runArgs, "--env", e)
			}
			id := createRun(t, f.bin, f.env, runArgs...)
			run := waitRun(t, f.c, id, "it ends", func(r client.FlowRun) bool { return r.State.IsFinished() }, ag)
			if run.State != state.Success {
				t.Fatalf("the run ended %s: %s\nagent:\n%s", run.State, run.Message, ag)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]struct {
				Set   bool
				Value string
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			for _, name := range slices.Sorted(maps.Keys(tc.want)) {
				want := strings.NewReplacer("{run}", id, "{api}", f.url+"/graphql").Replace(tc.want[name])
				switch g := got[name]; {
				case want == unset && g.Set:
					t.Errorf("%s = %q in the run; want it unset", name, g.Value)
				case want != unset && (!g.Set || g.Value != want):
					t.Errorf("%s = %q (set: %v) in the run; want %q", name, g.Value, g.Set, want)
				}
			}
			// The task's INFO line reaches the server with its attributes,
			// unless the run's logging level is above INFO. (Records below
			// INFO are never reported, whatever the level.)
			if a := got["PRECEDENCE_A"]; a.Set && a.Value != "" {
				logs := prefectCLI(t, f.bin, f.env, "runs", "logs", id)
				line := "environment reported PRECEDENCE_A=" + a.Value
				if lvl := got["PREFECT__LOGGING__LEVEL"]; lvl.Set && (lvl.Value == "ERROR" || lvl.Value == "WARNING") {
					if strings.Contains(logs, line) {
						t.Errorf("runs logs %s shows an INFO line at level %s:\n%s", id, lvl.Value, logs)
					}
				} else if !strings.Contains(logs, line) {
					t.Errorf("runs logs %s does not show PRECEDENCE_A=%s:\n%s", id, a.Value, logs)
				}
			}
		})
	}
}

// readPIDFile waits for a task of agentflows to write path and returns the
// process IDs in it.
func readPIDFile(t *testing.T, path string, logs ...fmt.Stringer) []int {
	t.Helper()
	deadline := testwait.Deadline(t)
	for {
		if b, err := os.ReadFile(path); err == nil {
			var pids []int
			for f := range strings.FieldsSeq(string(b)) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				pids = append(pids, pid)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("no task wrote %s within 30s%s", path, showAll(logs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procStat is what /proc/PID/stat says of a process: its state letter,
// parent and process group.
type procStat struct {
	state       byte
	ppid, pgrp  int
	description string
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || len(strings.Fields(s[i+1:])) < 3 {
		return procStat{}, fmt.Errorf("/proc/%d/stat reads %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp, description: strings.TrimSpace(s)}, nil
}

// TestAgentRunKilled: a flow-run process killed mid-way (SIGKILL, as the
// OOM killer would) leaves a Failed run whose message gives the signal.
func TestAgentRunKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	f := newAgentFixture(t)
	ag := f.agent(t, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	id := createRun(t, f.bin, f.env, "--name", "nap", "--param", "pidfile="+pidFile, "--param", "ms=60000")
	pid := readPIDFile(t, pidFile, ag)[0]
	if st, err := readProcStat(pid); err != nil || st.ppid != ag.cmd.Process.Pid {
		t.Fatalf("the task's process %d: %+v, %v; want a child of the agent (%d)", pid, st, err, ag.cmd.Process.Pid)
	}
	waitRun(t, f.c, id, "the server sees it Running", func(r client.FlowRun) bool { return r.State == state.Running }, ag)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, f.c, id, "it ends", func(r client.FlowRun) bool { return r.State.IsFinished() }, ag)
	if run.State != state.Failed || !strings.Contains(run.Message, "signal: killed") {
		t.Errorf("a killed run ended %s %q; want Failed, with signal: killed in the message\nagent:\n%s", run.State, run.Message, ag)
	}
	show := prefectCLI(t, f.bin, f.env, "runs", "show", id)
	if !regexp.MustCompile(`state\s+Failed .*signal: killed`).MatchString(show) {
		t.Errorf("runs show:\n%s", show)
	}
	for _, tr := range run.TaskRuns {
		if tr.Slug == "wake-1" && tr.State == state.Success {
			t.Errorf("the task after the killed one ran: %+v", tr)
		}
	}
}

// dead reports whether process pid is gone: no process has that ID, or it
// is a zombie (dead, its exit status not yet collected). The test process
// is a subreaper while the cancel test runs, so the run's orphans are its
// children: dead collects them, as PID 1 on some machines never does.
func dead(pid int) bool {
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	st, err := readProcStat(pid)
	return err != nil || st.state == 'Z'
}

// liveInGroup returns the processes of group pgid that are not zombies.
func liveInGroup(pgid int) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.pgrp == pgid && st.state != 'Z' {
			out = append(out, st.description)
		}
	}
	return out
}

// becomeSubreaper makes the test process the parent of the processes its
// descendants orphan (PR_SET_CHILD_SUBREAPER), until the test ends.
func becomeSubreaper(t *testing.T) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v (orphans are left to PID 1; zombies count as dead)", errno)
		return
	}
	t.Cleanup(func() { syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0) })
}

// TestAgentCancelKillsProcessGroup: cancelling a run whose task started a
// grandchild (`sleep 60`) makes the agent kill the run's whole process
// group: no process of the run remains, and the run ends Cancelled.
func TestAgentCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	becomeSubreaper(t)
	f := newAgentFixture(t)
	ag := f.agent(t, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	id := createRun(t, f.bin, f.env, "--name", "nap", "--param", "pidfile="+pidFile, "--param", "ms=60000", "--param", "spawn=true")
	pids := readPIDFile(t, pidFile, ag)
	if len(pids) != 2 {
		t.Fatalf("the task wrote %v; want its PID and its grandchild's", pids)
	}
	t.Cleanup(func() { // should the test fail before the agent kills them
		if t.Failed() {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
				dead(pid)
			}
		}
	})
	flowPID := pids[0]
	for _, pid := range pids {
		if st, err := readProcStat(pid); err != nil || st.pgrp != flowPID || st.state == 'Z' {
			t.Fatalf("process %d: %+v, %v; want it alive in the run's process group %d", pid, st, err, flowPID)
		}
	}
	waitRun(t, f.c, id, "the server sees it Running", func(r client.FlowRun) bool { return r.State == state.Running }, ag)

	_, errOut, err := cliRun(f.bin, f.env, "runs", "cancel", id)
	if err != nil || !strings.Contains(errOut, "Cancelling") {
		t.Fatalf("runs cancel: %v\n%s", err, errOut)
	}
	run := waitRun(t, f.c, id, "it ends", func(r client.FlowRun) bool { return r.State.IsFinished() }, ag)
	if run.State != state.Cancelled || !strings.Contains(run.Message, "signal: killed") {
		t.Errorf("the cancelled run ended %s %q; want Cancelled, its process killed\nagent:\n%s", run.State, run.Message, ag)
	}
	deadline := testwait.Deadline(t)
	for i, pid := range pids {
		for !dead(pid) {
			if time.Now().After(deadline) {
				st, _ := readProcStat(pid)
				t.Fatalf("the %s (%d) of the cancelled run is still there: %s", []string{"flow program", "grandchild"}[i], pid, st.description)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if live := liveInGroup(flowPID); len(live) > 0 {
		t.Errorf("processes of the run's group remain: %q", live)
	}
	if !strings.Contains(ag.String(), "flow run cancelled: killing its processes") {
		t.Errorf("the agent's log does not say it killed the run's processes:\n%s", ag)
	}
}

// waitAllFinished polls the server until every run of ids has a final state
// and returns them by ID.
func waitAllFinished(tb testing.TB, c *client.Client, ids []string, logs ...fmt.Stringer) map[string]client.FlowRun {
	tb.Helper()
	ctx := testwait.Context(tb)
	for {
		runs, err := c.FlowRuns(ctx, 500)
		got := map[string]client.FlowRun{}
		for _, r := range runs {
			got[r.ID] = r
		}
		pending := 0
		for _, id := range ids {
			if !got[id].State.IsFinished() {
				pending++
			}
		}
		if err == nil && pending == 0 {
			return got
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("timed out: %d of %d runs without a final state (%v)%s", pending, len(ids), err, showAll(logs))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// launchedRE finds the runs an agent launched in its log.
var launchedRE = regexp.MustCompile(`msg="launching flow run" .*?flow_run=([0-9a-f-]{36})`)

// TestAgentsClaimEachRunOnce: four agents poll one server for 200 runs of
// a flow whose task appends its run's ID to a file. Every run is executed
// exactly once (one line each, one launch each in the agents' logs) and
// ends Success.
func TestAgentsClaimEachRunOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	const (
		runs    = 200
		agents  = 4
		maxRuns = 4
	)
	f := newAgentFixture(t)
	out := filepath.Join(t.TempDir(), "executed")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	ids := make([]string, runs)
	for i := range ids {
		r, err := f.c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "append", Parameters: map[string]any{"out": out}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID
	}
	created := time.Since(start)
	var logs []fmt.Stringer
	for i := range agents {
		logs = append(logs, f.agent(t, nil, "--name", fmt.Sprintf("agent-%d", i+1), "--max-runs", strconv.Itoa(maxRuns)))
	}
	got := waitAllFinished(t, f.c, ids, logs...)
	elapsed := time.Since(start)

	byAgent := map[string]int{}
	for _, id := range ids {
		r := got[id]
		if r.State != state.Success {
			t.Errorf("run %s ended %s: %s", id, r.State, r.Message)
		}
		byAgent[r.AgentID]++
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	executed := map[string]int{}
	for line := range strings.Lines(string(b)) {
		id, _, _ := strings.Cut(line, " ")
		executed[id]++
	}
	launched := map[string]int{}
	for _, l := range logs {
		for _, m := range launchedRE.FindAllStringSubmatch(l.String(), -1) {
			launched[m[1]]++
		}
	}
	for _, id := range ids {
		if executed[id] != 1 || launched[id] != 1 {
			t.Errorf("run %s: executed %d times, launched %d times; want once", id, executed[id], launched[id])
		}
		delete(executed, id)
	}
	if len(executed) > 0 {
		t.Errorf("runs nobody created were executed: %v", executed)
	}
	if len(byAgent) < 2 {
		t.Errorf("one agent ran every run (%v): the agents did not compete", byAgent)
	}
	t.Logf("%d runs, %d agents (--max-runs %d, --poll-interval 100ms): created in %v, all Success %v after the first was created; runs per agent: %v",
		runs, agents, maxRuns, created.Round(time.Millisecond), elapsed.Round(time.Millisecond), slices.Sorted(maps.Values(byAgent)))
}

// TestAgentServerRestart stops the server (SIGKILL, SIGTERM) while flow
// runs are in their tasks and restarts it on the same data folder and port
// after their tasks have ended: the flow programs keep their reports until
// the server is back, so every run ends Success with its task states, and
// the agent rides out the outage and runs what comes next.
func TestAgentServerRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, flows := buildBinary(t), buildFlows(t)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			const (
				runs   = 6
				napFor = 2 * time.Second
				outage = 3 * time.Second // longer than what is left of the naps
			)
			data := t.TempDir()
			env := cliEnv(t)
			prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
			key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
			srv := startServerOn(t, bin, data, env)
			u, err := url.Parse(srv.url)
			if err != nil {
				t.Fatal(err)
			}
			env = append(env, "PREFECT__CLOUD__API="+srv.url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
			c := newTestClient(t, srv.url, key)
			register(t, flows, env)
			ag := startProcess(t, bin, env, "agent", "local", "start", "--poll-interval", "100ms")

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ids := make([]string, runs)
			for i := range ids {
				r, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "nap", Parameters: map[string]any{"ms": napFor.Milliseconds()}})
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = r.ID
			}
			for _, id := range ids {
				waitRun(t, c, id, "the server sees its nap task Running", func(r client.FlowRun) bool {
					return r.State == state.Running && slices.ContainsFunc(r.TaskRuns, func(tr client.TaskRun) bool {
						return tr.Slug == "nap-1" && tr.State == state.Running
					})
				}, ag)
			}
			c.CloseIdleConnections()
			stopped := time.Now()
			if sig == syscall.SIGKILL {
				srv.kill(t)
			} else {
				srv.stop(t)
			}
			// The outage: the naps end, and the flow programs try to report
			// their task states and final states to a server that is away.
			time.Sleep(outage - time.Since(stopped))
			srv = launchServer(t, bin, cliEnv(t), "--port", u.Port(), "--data-dir", data)
			restarted := time.Now()

			got := waitAllFinished(t, c, ids, ag, srv.log)
			for _, id := range ids {
				r, err := c.FlowRun(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got[id].State != state.Success || r.State != state.Success {
					t.Errorf("run %s ended %s: %s", id, r.State, r.Message)
				}
				states := map[string]state.Kind{}
				for _, tr := range r.TaskRuns {
					states[tr.Slug] = tr.State
					// The task states carry the flow program's time: the
					// run ended while the server was away, as planned.
					if tr.Slug == "wake-1" && (tr.Updated.Before(stopped) || tr.Updated.After(restarted)) {
						t.Errorf("run %s: wake-1 ended at %v, not during the outage (%v to %v)", id, tr.Updated, stopped, restarted)
					}
				}
				if states["nap-1"] != state.Success || states["wake-1"] != state.Success {
					t.Errorf("run %s: task states on the server %v; want nap-1 and wake-1 Success", id, states)
				}
			}
			t.Logf("every run ended %v after the restart", time.Since(restarted).Round(time.Millisecond))

			select {
			case <-ag.done:
				t.Fatalf("the agent exited during the outage: %v\n%s", ag.cmd.ProcessState, ag)
			default:
			}
			// The agent goes on claiming runs.
			r, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "nap"})
			if err != nil {
				t.Fatal(err)
			}
			if after := waitRun(t, c, r.ID, "it ends", func(r client.FlowRun) bool { return r.State.IsFinished() }, ag); after.State != state.Success {
				t.Errorf("a run created after the restart ended %s: %s", after.State, after.Message)
			}
			srv.stop(t)
		})
	}
}

// TestAgentConfigErrors checks that the agent reads cloud.agent.labels and
// cloud.agent.env_vars when given no --label or --env (as Prefect's agents
// do), by the errors a bad one gives, and ignores them when given flags.
func TestAgentConfigErrors(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	api := "PREFECT__CLOUD__API=http://127.0.0.1:1/graphql"
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"PREFECT__CLOUD__AGENT__LABELS=gpu"}, "cloud.agent.labels is a string; it must be a list of labels"},
		{[]string{"PREFECT__CLOUD__AGENT__ENV_VARS=[1]"}, "cloud.agent.env_vars is a list; it must be a table"},
	} {
		_, errOut, code := cliExit(t, bin, cliEnv(t, append(tc.env, api)...), "agent", "local", "start", "--max-runs", "1")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: agent local start: exit %d, stderr %q; want 1 and %q", tc.env, code, errOut, tc.want)
		}
	}
}

package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/gobuild"
	"github.com/prefect-go/prefect/internal/natstest"
)

// TestAgentRunsTasksOnNATSWorkers is the two walkthroughs together, with
// the real binaries: a flow program whose tasks run on NATS workers
// (examples/distributed) is registered with the server; a worker serves the
// queue; an agent started with --env PREFECT__NATS__URL=... launches the
// run, whose tasks the worker calls; the run succeeds, and the tally its
// last task logged on the worker is in the run's log on the server.
func TestAgentRunsTasksOnNATSWorkers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, spread := buildBinary(t), gobuild.Build(t, "../../examples/distributed", "spread")
	url, key, _ := startTestServer(t, bin)
	queue := natstest.Start(t).URL
	env := cliEnv(t, "PREFECT__CLOUD__API="+url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)

	if out, errOut, err := cliRun(spread, env, "register"); err != nil || !strings.Contains(out, "flow spread: registered as version 1") {
		t.Fatalf("spread register: %v\n%s%s", err, out, errOut)
	}
	worker := startProcess(t, spread, env, "worker", "--nats", queue, "--name", "w1")
	ag := startProcess(t, bin, env, "agent", "local", "start", "--poll-interval", "100ms", "--env", "PREFECT__NATS__URL="+queue)

	id, _ := runWatch(t, bin, env, []fmt.Stringer{ag, worker}, "--name", "spread", "--param", "n=50")
	if show := prefectCLI(t, bin, env, "runs", "show", id); !regexp.MustCompile(`state\s+Success`).MatchString(show) {
		t.Errorf("runs show:\n%s", show)
	}
	logs := prefectCLI(t, bin, env, "runs", "logs", id)
	if !strings.Contains(logs, "tally") || !strings.Contains(logs, "worker=w1") || !strings.Contains(logs, "task_runs=50") {
		t.Errorf("the run's log lacks the tally logged on worker w1 (50 task runs):\n%s", logs)
	}
	if !strings.Contains(ag.String(), "PREFECT__NATS__URL") {
		t.Errorf("the agent's log does not name the variable it forwards:\n%s", ag)
	}
}

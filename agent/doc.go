// Package agent runs flow runs that an orchestration server schedules, each
// as a process of its own, as Prefect 1's `prefect agent local start` does.
//
//	env, err := agent.ParseEnv(envFlags) // --env KEY=VALUE, repeatable
//	if err != nil {
//		return err // errors.Is(err, agent.ErrInvalidEnv): a usage error
//	}
//	a, err := agent.New(orchestrator,
//		agent.WithLabels("etl", hostname),
//		agent.WithEnv(env),
//		agent.WithMaxRuns(4),
//		agent.WithForcedEnv(func(agent.FlowRun) map[string]string {
//			return map[string]string{"PREFECT__CLOUD__API": api, "PREFECT__CLOUD__API_KEY": key}
//		}))
//	err = a.Run(ctx) // until ctx is done (SIGTERM); then it shuts down
//
// Every poll interval the agent asks its [Orchestrator] to Claim as many
// Scheduled runs as it has room for ([WithMaxRuns]), runs whose labels are
// all among its own. Claim marks them Submitted, atomically: several agents
// may share one server and no run is started twice. The agent starts each
// run's registered command through its [Launcher] ([LocalLauncher]: a
// local process in a process group of its own) with the environment
// [BuildEnv] makes: the agent's own environment, then the logging level,
// the --env values, the flow's run-config environment, and last the values
// the agent always sets (backend, API, flow run ID, ...). A secret passed
// as PREFECT__CONTEXT__SECRETS__NAME becomes a local secret of the run.
//
// The flow process sets its run Running and then its final state. The
// agent watches each run until its process ends:
//
//   - If the process ends and the run has no final state (the process
//     crashed, was killed, or exited before reporting), the agent sets it
//     Failed, with the exit status ("exit status 3", "signal: killed") and
//     the last 20 lines the process wrote.
//   - If the run is set Cancelling, the agent kills the process group at its
//     next poll and sets the run Cancelled.
//   - If the process cannot start (no such command, no such working
//     directory), the run is set Failed saying why.
//
// When Run's context ends, the agent claims nothing more and waits up to
// its grace period ([WithGracePeriod], 5 s by default) for its runs to end;
// then it kills the process groups of those still running and sets those
// runs Failed with a message saying the agent stopped. Run returns when
// every run it claimed is settled, so no run is left Running with nobody
// watching it, and no process is left behind. (Only an agent killed
// outright, SIGKILL, leaves its runs to the server to notice; on Linux
// their processes die with it.)
//
// # What the agent shows
//
// Logs name the environment variables a run gets, never their values. A
// failure message carries the raw end of the process's output, which the
// runner's masking never saw. Before it is sent, the agent masks in it
// (with the masker of package secrets' runs: also the base64, URL, JSON and
// hex forms) the value of every variable named PREFECT__CONTEXT__SECRETS__*
// or ending in KEY, TOKEN, SECRET, PASSWORD, PASSWD or CREDENTIALS (so the
// API key the agent forces in), each value inside such a value that is a
// JSON table, each line of a multi-line one, and every secret of the
// configuration the run will load (context.secrets, cloud.api_key). Output
// that prints a secret's fragment, or transforms it otherwise, is not
// masked: flows should print no secrets.
package agent

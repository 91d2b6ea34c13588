package agent

import (
	"context"
	"errors"

	"github.com/prefect-go/prefect/state"
)

// A FlowRun is a scheduled flow run as the agent receives it from
// [Orchestrator.Claim].
type FlowRun struct {
	ID          string
	FlowName    string
	FlowVersion int
	// Version is the version of the run's state that Claim wrote
	// (Submitted), for the optimistic check of [Orchestrator.SetState].
	Version int
	Labels  []string
	// Command is the argv registered with the flow, such as
	// ["/srv/flows/etl", "execute"]. A run without one is marked Failed.
	Command []string
	// WorkingDir is the directory the process starts in; "" is the agent's.
	WorkingDir string
	// Env is the flow's run-config environment, already merged with the
	// run's own extra variables (the run's win). See [BuildEnv] for where it
	// stands among the other sources.
	Env map[string]string
}

// The states the agent reads and writes are package state's kinds. Claim
// moves a run from Scheduled to Submitted; the flow process itself sets
// Running and its final state; a user cancels a running run by setting
// Cancelling, which the agent turns into Cancelled once the run's
// processes are dead. Any kind that [state.Kind.IsFinished] reports
// (Success, Failed, Cancelled, TimedOut, ...) counts as finished.

// ErrConflict is the error [Orchestrator.SetState] returns when the run's
// state is no longer at the version given. An implementation may return it
// wrapped (fmt.Errorf("...: %w", agent.ErrConflict)) or return an error of
// its own whose Is method reports true for it; the agent tests with
// errors.Is, then reads the state again and decides again.
var ErrConflict = errors.New("the flow run's state changed since it was read")

// Orchestrator is what an agent needs of the orchestration server. The Go
// client implements it over the API; tests implement it in memory.
//
// Every method may be called from several goroutines at once. The agent
// never retries Claim within one poll, and retries RunState and SetState a
// few times when a run ends (see [Agent.Run]).
type Orchestrator interface {
	// Claim atomically takes up to n Scheduled runs whose labels are all
	// among labels (a run without labels fits every agent), sets each to
	// Submitted on behalf of agentID and returns them, Version being that
	// of the Submitted state. Two calls, from this agent or another, never
	// return the same run. Claiming nothing is not an error.
	Claim(ctx context.Context, agentID string, labels []string, n int) ([]FlowRun, error)

	// RunState returns the run's current state and its version.
	RunState(ctx context.Context, runID string) (st state.Kind, version int, err error)

	// SetState sets the run's state to to with message if the state's
	// version is still version, and returns the new version; otherwise it
	// returns an error matching [ErrConflict] and changes nothing. It must
	// allow the agent's moves: Submitted or Running to Failed; Cancelling
	// to Cancelled; Submitted back to Scheduled.
	SetState(ctx context.Context, runID string, version int, to state.Kind, message string) (int, error)
}

// Package state defines the states a task run or flow run moves through, the
// same family Prefect 1 users know from prefect.engine.state.
//
// A run starts Pending, becomes Running, and ends Finished (or stays Paused,
// or Pending behind a paused task, until a run resumes it). The kinds form
// a small hierarchy; the predicates on [Kind] and [State] answer questions about
// a whole branch of it, so code rarely needs to compare kinds directly:
//
//	Pending        (Scheduled, Paused, Retrying)
//	Running
//	Finished
//	  Success      (Cached, Mapped, Skipped)  IsSuccessful
//	  Failed       (TimedOut, TriggerFailed)  IsFailed
//	  Cancelled
//
// Skipped counts as successful, as in Prefect: a skipped branch does not fail
// the flow. A Mapped state is the parent of mapped child runs; its children's
// states are in [State.Children].
package state

import (
	"strconv"
	"time"
)

// Kind names one state of the hierarchy in the package doc.
type Kind uint8

// The kinds, in the order of the hierarchy.
const (
	Pending       Kind = iota // not yet run
	Scheduled                 // waiting for its start time
	Paused                    // waiting for approval (manual_only, Pause)
	Retrying                  // failed, to run again after its retry delay
	Running                   // running now
	Success                   // finished well
	Cached                    // finished with a result reused from the cache
	Mapped                    // the parent of mapped child runs
	Skipped                   // finished without running; counts as successful
	Failed                    // finished with an error
	TimedOut                  // failed by running past its timeout
	TriggerFailed             // not run: its trigger failed
	Cancelled                 // stopped, or never started, because the run was cancelled
)

var kindNames = [...]string{
	Pending:       "Pending",
	Scheduled:     "Scheduled",
	Paused:        "Paused",
	Retrying:      "Retrying",
	Running:       "Running",
	Success:       "Success",
	Cached:        "Cached",
	Mapped:        "Mapped",
	Skipped:       "Skipped",
	Failed:        "Failed",
	TimedOut:      "TimedOut",
	TriggerFailed: "TriggerFailed",
	Cancelled:     "Cancelled",
}

// String returns the kind's Prefect name, such as "TriggerFailed".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the kind whose name is s, as written by [Kind.String].
func ParseKind(s string) (Kind, bool) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// IsPending reports whether k is Pending, Scheduled, Paused or Retrying.
func (k Kind) IsPending() bool { return k <= Retrying }

// IsRunning reports whether k is Running.
func (k Kind) IsRunning() bool { return k == Running }

// IsFinished reports whether k is a final kind: successful, failed or Cancelled.
func (k Kind) IsFinished() bool { return k >= Success && k <= Cancelled }

// IsSuccessful reports whether k is Success, Cached, Mapped or Skipped.
func (k Kind) IsSuccessful() bool { return k >= Success && k <= Skipped }

// IsFailed reports whether k is Failed, TimedOut or TriggerFailed.
func (k Kind) IsFailed() bool { return k >= Failed && k <= TriggerFailed }

// IsSkipped reports whether k is Skipped.
func (k Kind) IsSkipped() bool { return k == Skipped }

// IsCancelled reports whether k is Cancelled.
func (k Kind) IsCancelled() bool { return k == Cancelled }

// State is the state of one task run or flow run.
//
// A State is a plain value: copying it is cheap and safe. Result holds the
// value a successful task returned and is never printed by [State.String],
// so logging a state cannot reveal what a task computed.
type State struct {
	// Kind is where in the hierarchy this state sits.
	Kind Kind
	// Message says why, in Prefect's words where Prefect has them, for
	// example "Trigger was "all_successful" but some of the upstream tasks failed.".
	Message string
	// Result is what the task returned, for successful states.
	Result any
	// Err is the error that failed the task, for failed states; it wraps the
	// task's own error so errors.Is and errors.As see through it.
	Err error
	// RunCount is how many times the task's function was called in this run.
	RunCount int
	// Location is where the result was checkpointed, if it was.
	Location string
	// StartTime is when a Retrying or Scheduled run is due to start.
	StartTime time.Time
	// Children holds the states of a Mapped task's child runs, in map order.
	Children []State
}

// New returns a state of the given kind with a message.
func New(k Kind, message string) State { return State{Kind: k, Message: message} }

// IsPending reports whether s is Pending, Scheduled, Paused or Retrying.
func (s State) IsPending() bool { return s.Kind.IsPending() }

// IsRunning reports whether s is Running.
func (s State) IsRunning() bool { return s.Kind.IsRunning() }

// IsFinished reports whether s is final: successful, failed or Cancelled.
func (s State) IsFinished() bool { return s.Kind.IsFinished() }

// IsSuccessful reports whether s is Success, Cached, Mapped or Skipped.
func (s State) IsSuccessful() bool { return s.Kind.IsSuccessful() }

// IsFailed reports whether s is Failed, TimedOut or TriggerFailed.
func (s State) IsFailed() bool { return s.Kind.IsFailed() }

// IsSkipped reports whether s is Skipped.
func (s State) IsSkipped() bool { return s.Kind == Skipped }

// IsMapped reports whether s is Mapped.
func (s State) IsMapped() bool { return s.Kind == Mapped }

// IsCached reports whether s is Cached.
func (s State) IsCached() bool { return s.Kind == Cached }

// IsRetrying reports whether s is Retrying.
func (s State) IsRetrying() bool { return s.Kind == Retrying }

// IsPaused reports whether s is Paused.
func (s State) IsPaused() bool { return s.Kind == Paused }

// IsTimedOut reports whether s is TimedOut.
func (s State) IsTimedOut() bool { return s.Kind == TimedOut }

// IsTriggerFailed reports whether s is TriggerFailed.
func (s State) IsTriggerFailed() bool { return s.Kind == TriggerFailed }

// IsCancelled reports whether s is Cancelled.
func (s State) IsCancelled() bool { return s.Kind == Cancelled }

// String returns the kind and message, as in `Failed("Some reference tasks
// failed.")`. It never includes the result.
func (s State) String() string {
	if s.Message == "" {
		return s.Kind.String()
	}
	return s.Kind.String() + "(" + strconv.Quote(s.Message) + ")"
}

// Messages Prefect 1 uses, kept word for word so logs read the same.
const (
	MsgFlowSucceeded    = "All reference tasks succeeded."                                                                                                   // a flow whose reference tasks succeeded
	MsgFlowFailed       = "Some reference tasks failed."                                                                                                     // a flow with a failed reference task
	MsgTaskSucceeded    = "Task run succeeded."                                                                                                              // a task that returned without error
	MsgUpstreamSkipped  = "Upstream task was skipped; if this was not the intended behavior, consider changing `skip_on_upstream_skip=False` for this task." // a task skipped because an upstream was
	MsgTimedOut         = "Task timed out during execution."                                                                                                 // a task that ran past its timeout
	MsgMapped           = "Ready to proceed with mapping."                                                                                                   // a mapped parent
	MsgCachedResult     = "Task run retrieved from cache."                                                                                                   // a task whose result came from the cache
	MsgCycle            = "Cycle found; flows must be acyclic!"                                                                                              // a flow with a cycle (flow.ErrCycle's text)
	MsgFlowCancelled    = "Flow run was cancelled."                                                                                                          // a cancelled flow run
	MsgTaskCancelled    = "Task run was cancelled before it finished."                                                                                       // a task whose run was cancelled
	MsgNotStarted       = "Flow run was cancelled before this task started."                                                                                 // a task a cancelled run never started
	MsgFlowPaused       = "Some tasks are paused, waiting for approval; restart the run with them resumed to go on."                                         // a flow run stopped by paused tasks
	MsgWaitingOnPaused  = "Waiting on an upstream task that is paused."                                                                                      // a task behind a paused one
	errorDuringTaskText = "Error during execution of task: "
)

// ErrorMessage returns Prefect's failure message for a task that returned err:
// "Error during execution of task: <err>".
func ErrorMessage(err error) string {
	if err == nil {
		return errorDuringTaskText + "<nil>"
	}
	return errorDuringTaskText + err.Error()
}

// RetryMessage returns Prefect's message for a retry after attempt n of m:
// "Retrying Task (after attempt n of m)".
func RetryMessage(n, m int) string {
	return "Retrying Task (after attempt " + strconv.Itoa(n) + " of " + strconv.Itoa(m) + ")"
}

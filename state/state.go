// Package state defines the states a task run or flow run moves through, the
// same family Prefect 1 users know from prefect.engine.state, under the same
// names.
//
// A task run starts Pending, becomes Running, and ends Finished (or stays
// Paused, or Pending behind a paused task, until a run resumes it). A flow
// run kept by a server (package server) goes from Scheduled to Submitted
// (an agent claimed it), Running, and Success, Failed or Cancelled; asked
// to stop while it runs, it is Cancelling until its agent has stopped it.
//
// The kinds form a small hierarchy, Prefect's class tree; the predicates on
// [Kind] and [State] answer questions about a whole branch of it, so code
// rarely needs to compare kinds directly:
//
//	Pending        (Scheduled, Paused, Resume, Retrying)       IsPending
//	Submitted, Queued, ClientFailed                            meta states
//	Running        (Cancelling)                                IsRunning
//	Finished                                                   IsFinished
//	  Looped
//	  Success      (Cached, Mapped, Skipped)                   IsSuccessful
//	  Failed       (TimedOut, TriggerFailed, ValidationFailed) IsFailed
//	  Cancelled                                                IsCancelled
//
// Skipped counts as successful, as in Prefect: a skipped branch does not fail
// the flow. A Mapped state is the parent of mapped child runs; its children's
// states are in [State.Children]. The meta states say where a run stands
// with the orchestration rather than how it went: Submitted (claimed by an
// agent, not yet running), Queued (waiting for a resource) and
// ClientFailed (its state could not be reported); none of them is pending,
// running or finished. This package's runner never gives a task Submitted,
// Queued, ClientFailed, Resume, Cancelling, Looped or ValidationFailed: they
// are here so that every name Prefect 1 writes parses.
//
// A Kind is written by its Prefect name ([Kind.String]) wherever it leaves
// the program: JSON and text encoders use [Kind.MarshalText], and
// [ParseKind] and [Kind.UnmarshalText] read the name back, refusing any
// other with an error that names the valid ones.
package state

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind names one state of the hierarchy in the package doc. Its values are
// stable: kinds added later come after the last.
type Kind uint8

// The kinds. Those Prefect 1 added beside the runner's first thirteen
// (from Submitted on) come last, so that no kind's value changed.
const (
	Pending       Kind = iota // not yet run
	Scheduled                 // waiting for its start time, or, for a flow run, for an agent
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

	Submitted        // a meta state: claimed by an agent, which is starting it
	Cancelling       // running, asked to stop: its agent is stopping it
	Queued           // a meta state: waiting for a resource (a concurrency limit) before it runs
	ClientFailed     // a meta state: its state could not be reported to the server
	Resume           // pending: a Paused run approved, to run again
	Looped           // finished one iteration of a looping task, to run the next
	ValidationFailed // failed: its result did not pass validation
)

var kindNames = [...]string{
	Pending:          "Pending",
	Scheduled:        "Scheduled",
	Paused:           "Paused",
	Retrying:         "Retrying",
	Running:          "Running",
	Success:          "Success",
	Cached:           "Cached",
	Mapped:           "Mapped",
	Skipped:          "Skipped",
	Failed:           "Failed",
	TimedOut:         "TimedOut",
	TriggerFailed:    "TriggerFailed",
	Cancelled:        "Cancelled",
	Submitted:        "Submitted",
	Cancelling:       "Cancelling",
	Queued:           "Queued",
	ClientFailed:     "ClientFailed",
	Resume:           "Resume",
	Looped:           "Looped",
	ValidationFailed: "ValidationFailed",
}

// Kinds returns every kind, in the order of their values.
func Kinds() []Kind {
	out := make([]Kind, len(kindNames))
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// ErrUnknownKind is matched by the error of [ParseKind] and
// [Kind.UnmarshalText] for a name that is not a kind's, and of
// [Kind.MarshalText] for a value that is not a kind.
var ErrUnknownKind = errors.New("unknown state")

// String returns the kind's Prefect name, such as "TriggerFailed".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the kind whose name is s, as written by [Kind.String]
// (the case matters, as in Prefect's class names). For any other s the
// error matches [ErrUnknownKind] and lists the names it knows.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("%w %.64q: want one of %s", ErrUnknownKind, s, strings.Join(kindNames[:], ", "))
}

// MarshalText returns the kind's name, so that encoding/json and other
// encoders write "Success" rather than a number. A value that is no kind
// is an error matching [ErrUnknownKind].
func (k Kind) MarshalText() ([]byte, error) {
	if int(k) >= len(kindNames) {
		return nil, fmt.Errorf("state: encoding %v: %w", k, ErrUnknownKind)
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText sets k to the kind named by text; see [ParseKind].
func (k *Kind) UnmarshalText(text []byte) error {
	got, err := ParseKind(string(text))
	if err != nil {
		return err
	}
	*k = got
	return nil
}

// IsPending reports whether k is Pending, Scheduled, Paused, Resume or
// Retrying.
func (k Kind) IsPending() bool {
	switch k {
	case Pending, Scheduled, Paused, Resume, Retrying:
		return true
	}
	return false
}

// IsRunning reports whether k is Running or Cancelling.
func (k Kind) IsRunning() bool { return k == Running || k == Cancelling }

// IsFinished reports whether k is a final kind: Looped, successful, failed
// or Cancelled.
func (k Kind) IsFinished() bool {
	return k.IsSuccessful() || k.IsFailed() || k == Cancelled || k == Looped
}

// IsSuccessful reports whether k is Success, Cached, Mapped or Skipped.
func (k Kind) IsSuccessful() bool { return k >= Success && k <= Skipped }

// IsFailed reports whether k is Failed, TimedOut, TriggerFailed or
// ValidationFailed.
func (k Kind) IsFailed() bool { return k >= Failed && k <= TriggerFailed || k == ValidationFailed }

// IsSkipped reports whether k is Skipped.
func (k Kind) IsSkipped() bool { return k == Skipped }

// IsCancelled reports whether k is Cancelled.
func (k Kind) IsCancelled() bool { return k == Cancelled }

// IsMeta reports whether k is one of Prefect's meta states, Submitted,
// Queued or ClientFailed, which say where a run stands with the
// orchestration: neither pending, running nor finished.
func (k Kind) IsMeta() bool { return k == Submitted || k == Queued || k == ClientFailed }

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

// IsPending reports whether s is Pending, Scheduled, Paused, Resume or
// Retrying.
func (s State) IsPending() bool { return s.Kind.IsPending() }

// IsRunning reports whether s is Running or Cancelling.
func (s State) IsRunning() bool { return s.Kind.IsRunning() }

// IsFinished reports whether s is final: Looped, successful, failed or
// Cancelled.
func (s State) IsFinished() bool { return s.Kind.IsFinished() }

// IsSuccessful reports whether s is Success, Cached, Mapped or Skipped.
func (s State) IsSuccessful() bool { return s.Kind.IsSuccessful() }

// IsFailed reports whether s is Failed, TimedOut, TriggerFailed or
// ValidationFailed.
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

// String returns the kind and message as Prefect 1 prints a state, as in
// `<Failed: "Some reference tasks failed.">`, or `<Success>` without a
// message. The message is shown as it is, not escaped, so a person reads
// Prefect's sentence as Prefect prints it. It never includes the result.
func (s State) String() string {
	if s.Message == "" {
		return "<" + s.Kind.String() + ">"
	}
	return "<" + s.Kind.String() + `: "` + s.Message + `">`
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

package task

import (
	"errors"

	"github.com/prefect-go/prefect/state"
)

// Signal is an error a task returns to end its run in a chosen state, as
// Prefect's signals (FAIL, SKIP, RETRY, SUCCESS, PAUSE) do when raised.
// Build one with [Fail], [Skip], [Retry], [Succeed] or [Pause].
type Signal struct {
	// Kind is the state the run ends in.
	Kind state.Kind
	// Message becomes the state's message.
	Message string
}

// Error returns the signal's kind and message.
func (s *Signal) Error() string { return s.Kind.String() + " signal: " + s.Message }

// Fail ends the run Failed with message; retries still apply.
func Fail(message string) error { return &Signal{state.Failed, message} }

// Skip ends the run Skipped; downstream tasks that skip on upstream skip
// (the default) are skipped too.
func Skip(message string) error { return &Signal{state.Skipped, message} }

// Retry ends the run Retrying: it runs again after the task's retry delay,
// even when its retries are used up, as Prefect's RETRY does. Use the run
// count in the run context to stop.
func Retry(message string) error { return &Signal{state.Retrying, message} }

// Succeed ends the run Success with message; the result the function returned
// with it is the task's result.
func Succeed(message string) error { return &Signal{state.Success, message} }

// Pause ends the run Paused, waiting for approval. A run resumed with the
// runner's WithResume option tells the task so in its run context
// (the Resumed field of the context runner.FromContext returns), so that it
// can go on instead.
func Pause(message string) error { return &Signal{state.Paused, message} }

// AsSignal returns the signal in err's chain, if there is one.
func AsSignal(err error) (*Signal, bool) {
	var s *Signal
	ok := errors.As(err, &s)
	return s, ok
}

package orchestration_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/state"
)

// TestCanMove pins the moves of the package doc's table, and that no other
// move is allowed.
func TestCanMove(t *testing.T) {
	allowed := map[[2]state.Kind]bool{
		{state.Scheduled, state.Submitted}:  true, // a claim
		{state.Submitted, state.Scheduled}:  true, // given back
		{state.Submitted, state.Running}:    true, // the flow program starts
		{state.Running, state.Success}:      true,
		{state.Submitted, state.Failed}:     true,
		{state.Running, state.Failed}:       true,
		{state.Submitted, state.Cancelling}: true,
		{state.Running, state.Cancelling}:   true,
		{state.Scheduled, state.Cancelled}:  true,
		{state.Submitted, state.Cancelled}:  true,
		{state.Running, state.Cancelled}:    true,
		{state.Cancelling, state.Cancelled}: true,
	}
	for _, from := range state.Kinds() {
		for _, to := range state.Kinds() {
			if got, want := orchestration.CanMove(from, to), allowed[[2]state.Kind{from, to}]; got != want {
				t.Errorf("CanMove(%v, %v) = %v, want %v", from, to, got, want)
			}
		}
	}
}

// TestFlowRunStates checks that every move is between flow run states, and
// that only Success, Failed and Cancelled are final.
func TestFlowRunStates(t *testing.T) {
	runStates := orchestration.FlowRunStates()
	in := map[state.Kind]bool{}
	for _, k := range runStates {
		in[k] = true
		if k.IsFinished() != (k == state.Success || k == state.Failed || k == state.Cancelled) {
			t.Errorf("%v: IsFinished() = %v", k, k.IsFinished())
		}
	}
	if len(in) != 7 {
		t.Errorf("FlowRunStates() = %v, want 7 states", runStates)
	}
	for _, from := range state.Kinds() {
		for _, to := range state.Kinds() {
			if orchestration.CanMove(from, to) && (!in[from] || !in[to] || from.IsFinished()) {
				t.Errorf("CanMove(%v, %v) is true", from, to)
			}
		}
	}
	runStates[0] = state.Pending // the caller's copy
	if orchestration.FlowRunStates()[0] != state.Scheduled {
		t.Error("FlowRunStates returns a slice its callers can change")
	}
}

func TestLimitError(t *testing.T) {
	err := fmt.Errorf("store: setting secret %q: %w", "S", &orchestration.LimitError{Held: 10, Max: 10})
	if !errors.Is(err, orchestration.ErrLimit) {
		t.Errorf("errors.Is(%v, ErrLimit) = false", err)
	}
	var le *orchestration.LimitError
	if !errors.As(err, &le) || le.Held != 10 || le.Max != 10 {
		t.Errorf("errors.As(%v) = %+v", err, le)
	}
	if got, want := err.Error(), `store: setting secret "S": the tenant holds 10 secrets, the most it may is 10`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

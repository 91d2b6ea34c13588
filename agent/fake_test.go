//go:build unix

package agent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/state"
)

// fake is an Orchestrator in memory. Claim takes the lock for the whole
// claim, so that two agents never get the same run.
type fake struct {
	mu      sync.Mutex
	runs    map[string]*fakeRun
	order   []string      // IDs in the order added: Claim hands out the oldest first
	changed chan struct{} // closed, and replaced, on every change
	// onClaim, when set, is called (without the lock) before each claim;
	// an error fails the claim.
	onClaim func(agentID string) error
}

// A fakeRun is a run as the fake keeps it.
type fakeRun struct {
	FlowRun
	State   state.Kind
	Message string
	Agent   string       // who claimed it
	History []state.Kind // every state it was in, in order
}

func newFake() *fake {
	return &fake{runs: map[string]*fakeRun{}, changed: make(chan struct{})}
}

// notify wakes the waiters; f.mu is held.
func (f *fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// add adds a Scheduled run.
func (f *fake) add(run FlowRun) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.runs[run.ID]; dup {
		panic("fake: run " + run.ID + " added twice")
	}
	f.runs[run.ID] = &fakeRun{FlowRun: run, State: state.Scheduled, History: []state.Kind{state.Scheduled}}
	f.order = append(f.order, run.ID)
	f.notify()
}

func (f *fake) Claim(ctx context.Context, agentID string, labels []string, n int) ([]FlowRun, error) {
	if f.onClaim != nil {
		if err := f.onClaim(agentID); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FlowRun
	for _, id := range f.order {
		if len(out) == n {
			break
		}
		r := f.runs[id]
		if r.State != state.Scheduled || !subset(r.Labels, labels) {
			continue
		}
		r.State, r.Agent = state.Submitted, agentID
		r.Version++
		r.History = append(r.History, state.Submitted)
		out = append(out, r.FlowRun)
	}
	if len(out) > 0 {
		f.notify()
	}
	return out, nil
}

func subset(xs, of []string) bool {
	for _, x := range xs {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

func (f *fake) RunState(ctx context.Context, runID string) (state.Kind, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[runID]
	if !ok {
		return 0, 0, fmt.Errorf("no flow run %q", runID)
	}
	return r.State, r.Version, nil
}

func (f *fake) SetState(ctx context.Context, runID string, version int, to state.Kind, message string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[runID]
	if !ok {
		return 0, fmt.Errorf("no flow run %q", runID)
	}
	if r.Version != version {
		return 0, fmt.Errorf("flow run %q is at version %d, not %d: %w", runID, r.Version, version, ErrConflict)
	}
	f.setLocked(r, to, message)
	return r.Version, nil
}

// set sets a run's state as its flow process or a user would.
func (f *fake) set(runID string, to state.Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(f.runs[runID], to, "set by the test")
}

func (f *fake) setLocked(r *fakeRun, to state.Kind, message string) {
	r.State, r.Message = to, message
	r.Version++
	r.History = append(r.History, to)
	f.notify()
}

// get returns a copy of a run.
func (f *fake) get(runID string) fakeRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := *f.runs[runID]
	r.History = slices.Clone(r.History)
	return r
}

// waitFor waits until cond, called with the lock held, holds.
func (f *fake) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := testwait.Context(t)
	for {
		f.mu.Lock()
		ok, ch := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.Done():
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// waitState waits until run runID is in one of states and returns it.
func (f *fake) waitState(t *testing.T, runID string, states ...state.Kind) fakeRun {
	t.Helper()
	f.waitFor(t, fmt.Sprintf("run %s is %v", runID, states), func() bool {
		return slices.Contains(states, f.runs[runID].State)
	})
	return f.get(runID)
}

var _ Orchestrator = (*fake)(nil)

package task_test

import (
	"errors"
	"testing"

	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// The upstream state sets every trigger is checked against.
const (
	setEmpty          = iota // no upstream tasks
	setAllSuccess            // Success, Success
	setMixed                 // Success, Failed
	setAllFailed             // Failed, Failed
	setAllSkipped            // Skipped, Skipped
	setSuccessSkipped        // Success, Skipped
	setWithPending           // Success, Pending
	setWithTrigFailed        // Success, TriggerFailed
	setCachedMapped          // Cached, Mapped
	setFailedKinds           // Failed, TimedOut, TriggerFailed
	setWithCancelled         // Success, Cancelled
	setThreeOfFour           // Success, Success, Success, Failed
	numSets
)

func states(kinds ...state.Kind) []state.State {
	out := make([]state.State, len(kinds))
	for i, k := range kinds {
		out[i] = state.New(k, "")
	}
	return out
}

var upstreamSets = [numSets]struct {
	name   string
	states []state.State
}{
	setEmpty:          {"empty", nil},
	setAllSuccess:     {"all success", states(state.Success, state.Success)},
	setMixed:          {"success+failed", states(state.Success, state.Failed)},
	setAllFailed:      {"all failed", states(state.Failed, state.Failed)},
	setAllSkipped:     {"all skipped", states(state.Skipped, state.Skipped)},
	setSuccessSkipped: {"success+skipped", states(state.Success, state.Skipped)},
	setWithPending:    {"success+pending", states(state.Success, state.Pending)},
	setWithTrigFailed: {"success+trigger failed", states(state.Success, state.TriggerFailed)},
	setCachedMapped:   {"cached+mapped", states(state.Cached, state.Mapped)},
	setFailedKinds:    {"failed+timed out+trigger failed", states(state.Failed, state.TimedOut, state.TriggerFailed)},
	setWithCancelled:  {"success+cancelled", states(state.Success, state.Cancelled)},
	setThreeOfFour:    {"3 success+1 failed", states(state.Success, state.Success, state.Success, state.Failed)},
}

// outcome is what a trigger does with a set of upstream states.
type outcome uint8

const (
	unset outcome = iota // the table forgot this set
	run                  // Check returns nil
	fail                 // Check returns the trigger's message, not a signal: TriggerFailed
	skip                 // Check returns a Skip signal
	pause                // Check returns a Pause signal
)

func (o outcome) String() string {
	return [...]string{"unset", "run", "fail", "skip", "pause"}[o]
}

func TestTriggers(t *testing.T) {
	const (
		allSuccessfulMsg  = `Trigger was "all_successful" but some of the upstream tasks failed.`
		allFailedMsg      = `Trigger was "all_failed" but some of the upstream tasks succeeded.`
		anySuccessfulMsg  = `Trigger was "any_successful" but none of the upstream tasks succeeded.`
		anyFailedMsg      = `Trigger was "any_failed" but none of the upstream tasks failed.`
		allFinishedMsg    = `Trigger was "all_finished" but some of the upstream tasks were not finished.`
		notAllSkippedMsg  = `Trigger was "not_all_skipped" but some of the upstream tasks failed.`
		someSuccessfulMsg = `Trigger was "some_successful" but thresholds were not met.`
		someFailedMsg     = `Trigger was "some_failed" but thresholds were not met.`
		manualOnlyMsg     = `Trigger function is "manual_only"`
		allSkippedMsg     = "All upstreams were skipped"
	)
	// Each row says, for every upstream set, what the trigger does. As in
	// Prefect, Skipped, Cached and Mapped count as successful; TimedOut and
	// TriggerFailed as failed; Cancelled as finished but neither; and a
	// some_* trigger passes when there are no upstream tasks at all.
	tests := []struct {
		name    string
		trigger task.Trigger
		trName  string // Trigger.Name()
		msg     string // the message of a fail
		want    [numSets]outcome
	}{
		{"AllSuccessful", task.AllSuccessful, "all_successful", allSuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: fail, setAllFailed: fail, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: fail, setWithTrigFailed: fail, setCachedMapped: run,
			setFailedKinds: fail, setWithCancelled: fail, setThreeOfFour: fail}},
		{"AllFailed", task.AllFailed, "all_failed", allFailedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: fail, setMixed: fail, setAllFailed: run, setAllSkipped: fail,
			setSuccessSkipped: fail, setWithPending: fail, setWithTrigFailed: fail, setCachedMapped: fail,
			setFailedKinds: run, setWithCancelled: fail, setThreeOfFour: fail}},
		{"AnySuccessful", task.AnySuccessful, "any_successful", anySuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: run, setAllFailed: fail, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: run, setWithTrigFailed: run, setCachedMapped: run,
			setFailedKinds: fail, setWithCancelled: run, setThreeOfFour: run}},
		{"AnyFailed", task.AnyFailed, "any_failed", anyFailedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: fail, setMixed: run, setAllFailed: run, setAllSkipped: fail,
			setSuccessSkipped: fail, setWithPending: fail, setWithTrigFailed: run, setCachedMapped: fail,
			setFailedKinds: run, setWithCancelled: fail, setThreeOfFour: run}},
		{"AllFinished", task.AllFinished, "all_finished", allFinishedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: run, setAllFailed: run, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: fail, setWithTrigFailed: run, setCachedMapped: run,
			setFailedKinds: run, setWithCancelled: run, setThreeOfFour: run}},
		{"AlwaysRun", task.AlwaysRun, "all_finished", allFinishedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: run, setAllFailed: run, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: fail, setWithTrigFailed: run, setCachedMapped: run,
			setFailedKinds: run, setWithCancelled: run, setThreeOfFour: run}},
		{"ManualOnly", task.ManualOnly, "manual_only", "", [numSets]outcome{
			setEmpty: pause, setAllSuccess: pause, setMixed: pause, setAllFailed: pause, setAllSkipped: pause,
			setSuccessSkipped: pause, setWithPending: pause, setWithTrigFailed: pause, setCachedMapped: pause,
			setFailedKinds: pause, setWithCancelled: pause, setThreeOfFour: pause}},
		{"NotAllSkipped", task.NotAllSkipped, "not_all_skipped", notAllSkippedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: fail, setAllFailed: fail, setAllSkipped: skip,
			setSuccessSkipped: run, setWithPending: fail, setWithTrigFailed: fail, setCachedMapped: run,
			setFailedKinds: fail, setWithCancelled: fail, setThreeOfFour: fail}},
		{"SomeSuccessful no bounds", task.SomeSuccessful(), "some_successful", someSuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: run, setAllFailed: run, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: run, setWithTrigFailed: run, setCachedMapped: run,
			setFailedKinds: run, setWithCancelled: run, setThreeOfFour: run}},
		// 1 is a count, not the fraction 100%.
		{"SomeSuccessful AtLeast(1)", task.SomeSuccessful(task.AtLeast(1)), "some_successful", someSuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: run, setAllFailed: fail, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: run, setWithTrigFailed: run, setCachedMapped: run,
			setFailedKinds: fail, setWithCancelled: run, setThreeOfFour: run}},
		{"SomeSuccessful AtMost(1)", task.SomeSuccessful(task.AtMost(1)), "some_successful", someSuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: fail, setMixed: run, setAllFailed: run, setAllSkipped: fail,
			setSuccessSkipped: fail, setWithPending: run, setWithTrigFailed: run, setCachedMapped: fail,
			setFailedKinds: run, setWithCancelled: run, setThreeOfFour: fail}},
		// 0.75 is a fraction: 1 of 2 is too few, 3 of 4 enough.
		{"SomeSuccessful AtLeast(0.75)", task.SomeSuccessful(task.AtLeast(0.75)), "some_successful", someSuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: fail, setAllFailed: fail, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: fail, setWithTrigFailed: fail, setCachedMapped: run,
			setFailedKinds: fail, setWithCancelled: fail, setThreeOfFour: run}},
		{"SomeSuccessful exactly half", task.SomeSuccessful(task.AtLeast(0.5), task.AtMost(0.5)), "some_successful", someSuccessfulMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: fail, setMixed: run, setAllFailed: fail, setAllSkipped: fail,
			setSuccessSkipped: fail, setWithPending: run, setWithTrigFailed: run, setCachedMapped: fail,
			setFailedKinds: fail, setWithCancelled: run, setThreeOfFour: fail}},
		{"SomeFailed AtLeast(1)", task.SomeFailed(task.AtLeast(1)), "some_failed", someFailedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: fail, setMixed: run, setAllFailed: run, setAllSkipped: fail,
			setSuccessSkipped: fail, setWithPending: fail, setWithTrigFailed: run, setCachedMapped: fail,
			setFailedKinds: run, setWithCancelled: fail, setThreeOfFour: run}},
		{"SomeFailed AtMost(0.25)", task.SomeFailed(task.AtMost(0.25)), "some_failed", someFailedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: run, setMixed: fail, setAllFailed: fail, setAllSkipped: run,
			setSuccessSkipped: run, setWithPending: run, setWithTrigFailed: fail, setCachedMapped: run,
			setFailedKinds: fail, setWithCancelled: run, setThreeOfFour: run}},
		{"SomeFailed exactly 2", task.SomeFailed(task.AtLeast(2), task.AtMost(2)), "some_failed", someFailedMsg, [numSets]outcome{
			setEmpty: run, setAllSuccess: fail, setMixed: fail, setAllFailed: run, setAllSkipped: fail,
			setSuccessSkipped: fail, setWithPending: fail, setWithTrigFailed: fail, setCachedMapped: fail,
			setFailedKinds: fail, setWithCancelled: fail, setThreeOfFour: fail}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.trigger.Name(); got != tc.trName {
				t.Errorf("Name() = %q, want %q", got, tc.trName)
			}
			if got := tc.trigger.String(); got != tc.trName {
				t.Errorf("String() = %q, want %q", got, tc.trName)
			}
			for i, set := range upstreamSets {
				want := tc.want[i]
				if want == unset {
					t.Fatalf("the table gives no outcome for %q", set.name)
				}
				err := tc.trigger.Check(set.states)
				got, msg := classify(err)
				if got != want {
					t.Errorf("%s: Check = %v (%v), want %v", set.name, got, err, want)
					continue
				}
				wantMsg := map[outcome]string{run: "", fail: tc.msg, skip: allSkippedMsg, pause: manualOnlyMsg}[want]
				if msg != wantMsg {
					t.Errorf("%s: message = %q, want %q", set.name, msg, wantMsg)
				}
			}
		})
	}
}

// classify says what a trigger's error means to the runner, and its message.
func classify(err error) (outcome, string) {
	if err == nil {
		return run, ""
	}
	sig, ok := task.AsSignal(err)
	switch {
	case !ok:
		return fail, err.Error()
	case sig.Kind == state.Skipped:
		return skip, sig.Message
	case sig.Kind == state.Paused:
		return pause, sig.Message
	}
	return unset, err.Error()
}

// TestTriggerDoesNotKeepState checks a trigger can be reused: the same
// threshold trigger gives the same answer however often it is asked.
func TestTriggerDoesNotKeepState(t *testing.T) {
	tr := task.SomeFailed(task.AtMost(1))
	for range 3 {
		if err := tr.Check(states(state.Failed, state.Success)); err != nil {
			t.Fatalf("1 failure of 2: %v", err)
		}
		if err := tr.Check(states(state.Failed, state.Failed)); err == nil {
			t.Fatal("2 failures of 2 passed AtMost(1)")
		}
	}
}

func TestThresholdBoundaries(t *testing.T) {
	ten := func(successes int) []state.State {
		out := make([]state.State, 10)
		for i := range out {
			out[i] = state.New(state.Failed, "")
			if i < successes {
				out[i] = state.New(state.Success, "")
			}
		}
		return out
	}
	tests := []struct {
		name      string
		trigger   task.Trigger
		successes int
		pass      bool
	}{
		{"fraction at the bound", task.SomeSuccessful(task.AtLeast(0.3)), 3, true},
		{"fraction below the bound", task.SomeSuccessful(task.AtLeast(0.3)), 2, false},
		{"fraction AtMost at the bound", task.SomeSuccessful(task.AtMost(0.3)), 3, true},
		{"fraction AtMost above the bound", task.SomeSuccessful(task.AtMost(0.3)), 4, false},
		{"count 1 is not 100%", task.SomeSuccessful(task.AtLeast(1)), 1, true},
		{"count 5", task.SomeSuccessful(task.AtLeast(5)), 4, false},
		{"count 5 met", task.SomeSuccessful(task.AtLeast(5)), 5, true},
		{"AtMost(0) means none", task.SomeSuccessful(task.AtMost(0)), 0, true},
		{"AtMost(0) with one", task.SomeSuccessful(task.AtMost(0)), 1, false},
		{"count beyond the upstreams", task.SomeSuccessful(task.AtLeast(11)), 10, false},
		{"failures counted", task.SomeFailed(task.AtLeast(0.5)), 5, true},
		{"failures too few", task.SomeFailed(task.AtLeast(0.5)), 6, false},
	}
	for _, tc := range tests {
		err := tc.trigger.Check(ten(tc.successes))
		if (err == nil) != tc.pass {
			t.Errorf("%s: %d of 10 successful: Check = %v, want pass=%v", tc.name, tc.successes, err, tc.pass)
		}
	}
}

func TestNewTrigger(t *testing.T) {
	var seen []state.State
	errNo := errors.New("no")
	tr := task.NewTrigger("mine", func(up []state.State) error {
		seen = up
		return errNo
	})
	up := states(state.Success, state.Failed)
	if err := tr.Check(up); !errors.Is(err, errNo) {
		t.Errorf("Check = %v, want %v", err, errNo)
	}
	if len(seen) != 2 || seen[1].Kind != state.Failed {
		t.Errorf("the check function saw %v", seen)
	}
	if tr.Name() != "mine" || tr.String() != "mine" {
		t.Errorf("Name, String = %q, %q", tr.Name(), tr.String())
	}
}

// TestIsAllSuccessful checks the runner's fast path is taken for the default
// trigger only: a custom trigger that happens to share its name must still
// have its own check run.
func TestIsAllSuccessful(t *testing.T) {
	tests := []struct {
		name    string
		trigger task.Trigger
		want    bool
	}{
		{"AllSuccessful", task.AllSuccessful, true},
		{"default of New", task.New("t", echo[task.None]).Spec().Trigger, true},
		{"AllFinished", task.AllFinished, false},
		{"NotAllSkipped", task.NotAllSkipped, false},
		{"custom named all_successful", task.NewTrigger("all_successful", func([]state.State) error {
			return errors.New("custom rule")
		}), false},
	}
	for _, tc := range tests {
		if got := tc.trigger.IsAllSuccessful(); got != tc.want {
			t.Errorf("%s: IsAllSuccessful() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package task

import (
	"errors"

	"github.com/prefect-go/prefect/state"
)

// Trigger decides, from the states of a task's upstream tasks, whether the
// task runs. A mapped upstream counts as its children's states. The runner
// consults it for every task, root tasks (no upstream states) included.
//
// Check returns nil to run the task; a [Signal] (Skip, Pause) to end it in
// that state; any other error to end it TriggerFailed with the error's text.
type Trigger struct {
	name  string
	check func(upstream []state.State) error
	// allSuccessful marks the built-in AllSuccessful, which the runner
	// evaluates inline.
	allSuccessful bool
}

// NewTrigger returns a trigger called name that runs check.
func NewTrigger(name string, check func(upstream []state.State) error) Trigger {
	return Trigger{name: name, check: check}
}

// Name returns the trigger's name, such as "all_successful".
func (t Trigger) Name() string { return t.name }

// String returns the trigger's name.
func (t Trigger) String() string { return t.name }

// Check applies the trigger to the upstream states.
func (t Trigger) Check(upstream []state.State) error {
	if t.check == nil {
		return errors.New("the trigger has no check; use one of the task package's triggers or task.NewTrigger")
	}
	return t.check(upstream)
}

// IsAllSuccessful reports whether t is the default trigger, [AllSuccessful];
// the runner takes a faster path for it.
func (t Trigger) IsAllSuccessful() bool { return t.allSuccessful }

func every(states []state.State, pred func(state.State) bool) bool {
	for _, s := range states {
		if !pred(s) {
			return false
		}
	}
	return true
}

func count(states []state.State, pred func(state.State) bool) int {
	n := 0
	for _, s := range states {
		if pred(s) {
			n++
		}
	}
	return n
}

// The triggers of Prefect 1, with its names and its failure messages.
var (
	// AllSuccessful runs when every upstream task succeeded (the default).
	AllSuccessful = Trigger{name: "all_successful", allSuccessful: true, check: func(up []state.State) error {
		if !every(up, state.State.IsSuccessful) {
			return errors.New(`Trigger was "all_successful" but some of the upstream tasks failed.`)
		}
		return nil
	}}
	// AllFailed runs when every upstream task failed.
	AllFailed = NewTrigger("all_failed", func(up []state.State) error {
		if !every(up, state.State.IsFailed) {
			return errors.New(`Trigger was "all_failed" but some of the upstream tasks succeeded.`)
		}
		return nil
	})
	// AnySuccessful runs when at least one upstream task succeeded, or there are none.
	AnySuccessful = NewTrigger("any_successful", func(up []state.State) error {
		if len(up) > 0 && count(up, state.State.IsSuccessful) == 0 {
			return errors.New(`Trigger was "any_successful" but none of the upstream tasks succeeded.`)
		}
		return nil
	})
	// AnyFailed runs when at least one upstream task failed, or there are none.
	AnyFailed = NewTrigger("any_failed", func(up []state.State) error {
		if len(up) > 0 && count(up, state.State.IsFailed) == 0 {
			return errors.New(`Trigger was "any_failed" but none of the upstream tasks failed.`)
		}
		return nil
	})
	// AllFinished runs once every upstream task finished, however it ended.
	AllFinished = NewTrigger("all_finished", func(up []state.State) error {
		if !every(up, state.State.IsFinished) {
			return errors.New(`Trigger was "all_finished" but some of the upstream tasks were not finished.`)
		}
		return nil
	})
	// AlwaysRun is AllFinished, under Prefect's other name for it.
	AlwaysRun = AllFinished
	// ManualOnly pauses the task until a run resumes it (the runner's
	// WithResume option), a root task included.
	ManualOnly = NewTrigger("manual_only", func([]state.State) error {
		return Pause(`Trigger function is "manual_only"`)
	})
	// NotAllSkipped runs when every upstream task succeeded and not all were
	// skipped; it skips when all were.
	NotAllSkipped = NewTrigger("not_all_skipped", func(up []state.State) error {
		if len(up) > 0 && every(up, state.State.IsSkipped) {
			return Skip("All upstreams were skipped")
		}
		if !every(up, state.State.IsSuccessful) {
			return errors.New(`Trigger was "not_all_skipped" but some of the upstream tasks failed.`)
		}
		return nil
	})
)

// Threshold bounds how many upstream tasks a [SomeSuccessful] or [SomeFailed]
// trigger counts. A bound between 0 and 1 (exclusive) is a fraction of the
// upstream tasks; any other value is a count.
type Threshold func(*thresholds)

type thresholds struct {
	atLeast, atMost       float64
	hasAtLeast, hasAtMost bool
}

// AtLeast requires at least n (or the fraction n) of the upstream tasks.
func AtLeast(n float64) Threshold {
	return func(t *thresholds) { t.atLeast, t.hasAtLeast = n, true }
}

// AtMost allows at most n (or the fraction n) of the upstream tasks.
func AtMost(n float64) Threshold {
	return func(t *thresholds) { t.atMost, t.hasAtMost = n, true }
}

// SomeSuccessful runs when the number of successful upstream tasks is within
// the thresholds.
func SomeSuccessful(bounds ...Threshold) Trigger {
	return some("some_successful", state.State.IsSuccessful, bounds)
}

// SomeFailed runs when the number of failed upstream tasks is within the thresholds.
func SomeFailed(bounds ...Threshold) Trigger {
	return some("some_failed", state.State.IsFailed, bounds)
}

func some(name string, pred func(state.State) bool, bounds []Threshold) Trigger {
	var t thresholds
	for _, b := range bounds {
		if b != nil {
			b(&t)
		}
	}
	scale := func(bound float64, total int) float64 {
		if bound > 0 && bound < 1 {
			return bound * float64(total)
		}
		return bound
	}
	failed := errors.New(`Trigger was "` + name + `" but thresholds were not met.`)
	return NewTrigger(name, func(up []state.State) error {
		if len(up) == 0 {
			return nil // Prefect: no upstream tasks, nothing to count
		}
		n := float64(count(up, pred))
		if t.hasAtLeast && n < scale(t.atLeast, len(up)) {
			return failed
		}
		if t.hasAtMost && n > scale(t.atMost, len(up)) {
			return failed
		}
		return nil
	})
}

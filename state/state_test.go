package state_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/state"
)

// allKinds lists every kind with its Prefect name, in declaration order.
var allKinds = []struct {
	kind state.Kind
	name string
}{
	{state.Pending, "Pending"},
	{state.Scheduled, "Scheduled"},
	{state.Paused, "Paused"},
	{state.Retrying, "Retrying"},
	{state.Running, "Running"},
	{state.Success, "Success"},
	{state.Cached, "Cached"},
	{state.Mapped, "Mapped"},
	{state.Skipped, "Skipped"},
	{state.Failed, "Failed"},
	{state.TimedOut, "TimedOut"},
	{state.TriggerFailed, "TriggerFailed"},
	{state.Cancelled, "Cancelled"},
}

func TestKindStringParseRoundTrip(t *testing.T) {
	if len(allKinds) != 13 {
		t.Fatalf("the table has %d kinds; the hierarchy has 13", len(allKinds))
	}
	seen := map[string]bool{}
	for _, tc := range allKinds {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.kind.String(); got != tc.name {
				t.Errorf("Kind(%d).String() = %q, want %q", uint8(tc.kind), got, tc.name)
			}
			k, ok := state.ParseKind(tc.name)
			if !ok || k != tc.kind {
				t.Errorf("ParseKind(%q) = %v, %v; want %v, true", tc.name, k, ok, tc.kind)
			}
			if seen[tc.name] {
				t.Errorf("two kinds are called %q", tc.name)
			}
			seen[tc.name] = true
		})
	}
}

func TestKindStringOutOfRange(t *testing.T) {
	k := state.Cancelled + 1
	if got, want := k.String(), "Kind(13)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if k.IsPending() || k.IsRunning() || k.IsFinished() || k.IsSuccessful() || k.IsFailed() || k.IsSkipped() || k.IsCancelled() {
		t.Errorf("an unknown kind %v answers true to a predicate", k)
	}
}

func TestParseKindRejects(t *testing.T) {
	for _, s := range []string{"", "pending", "SUCCESS", "Kind(13)", "Success ", "Finished", "Resume"} {
		if k, ok := state.ParseKind(s); ok {
			t.Errorf("ParseKind(%q) = %v, true; want false", s, k)
		}
	}
}

// predicates is one row of the hierarchy table: what each predicate answers.
type predicates struct {
	pending, running, finished, successful, failed, skipped, cancelled bool
	mapped, cached, retrying, paused, timedOut, triggerFailed          bool
}

func TestPredicates(t *testing.T) {
	want := map[state.Kind]predicates{
		state.Pending:       {pending: true},
		state.Scheduled:     {pending: true},
		state.Paused:        {pending: true, paused: true},
		state.Retrying:      {pending: true, retrying: true},
		state.Running:       {running: true},
		state.Success:       {finished: true, successful: true},
		state.Cached:        {finished: true, successful: true, cached: true},
		state.Mapped:        {finished: true, successful: true, mapped: true},
		state.Skipped:       {finished: true, successful: true, skipped: true},
		state.Failed:        {finished: true, failed: true},
		state.TimedOut:      {finished: true, failed: true, timedOut: true},
		state.TriggerFailed: {finished: true, failed: true, triggerFailed: true},
		state.Cancelled:     {finished: true, cancelled: true},
	}
	if len(want) != len(allKinds) {
		t.Fatalf("the table covers %d kinds, want %d", len(want), len(allKinds))
	}
	for _, tc := range allKinds {
		t.Run(tc.name, func(t *testing.T) {
			w := want[tc.kind]
			k := tc.kind
			kindGot := predicates{
				pending: k.IsPending(), running: k.IsRunning(), finished: k.IsFinished(),
				successful: k.IsSuccessful(), failed: k.IsFailed(), skipped: k.IsSkipped(),
				cancelled: k.IsCancelled(),
			}
			kindWant := predicates{
				pending: w.pending, running: w.running, finished: w.finished,
				successful: w.successful, failed: w.failed, skipped: w.skipped,
				cancelled: w.cancelled,
			}
			if kindGot != kindWant {
				t.Errorf("Kind predicates of %v = %+v, want %+v", k, kindGot, kindWant)
			}
			s := state.New(k, "why")
			stateGot := predicates{
				pending: s.IsPending(), running: s.IsRunning(), finished: s.IsFinished(),
				successful: s.IsSuccessful(), failed: s.IsFailed(), skipped: s.IsSkipped(),
				cancelled: s.IsCancelled(), mapped: s.IsMapped(), cached: s.IsCached(),
				retrying: s.IsRetrying(), paused: s.IsPaused(), timedOut: s.IsTimedOut(),
				triggerFailed: s.IsTriggerFailed(),
			}
			if stateGot != w {
				t.Errorf("State predicates of %v = %+v, want %+v", k, stateGot, w)
			}
			// The three branches of Finished are disjoint and cover it.
			branches := 0
			for _, b := range []bool{w.successful, w.failed, w.cancelled} {
				if b {
					branches++
				}
			}
			if w.finished != (branches == 1) || branches > 1 {
				t.Errorf("%v: finished=%v but sits in %d branches of Finished", k, w.finished, branches)
			}
		})
	}
}

func TestNew(t *testing.T) {
	s := state.New(state.Retrying, "again")
	if s.Kind != state.Retrying || s.Message != "again" {
		t.Errorf("New(Retrying, %q) = %+v", "again", s)
	}
	if s.Result != nil || s.Err != nil || s.RunCount != 0 || s.Location != "" || !s.StartTime.IsZero() || s.Children != nil {
		t.Errorf("New set fields besides Kind and Message: %+v", s)
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    state.State
		want string
	}{
		{state.State{Kind: state.Success}, "Success"},
		{state.New(state.Failed, state.MsgFlowFailed), `Failed("Some reference tasks failed.")`},
		{state.New(state.TriggerFailed, `Trigger was "all_successful" but some of the upstream tasks failed.`),
			`TriggerFailed("Trigger was \"all_successful\" but some of the upstream tasks failed.")`},
		{state.New(state.Skipped, "two\nlines"), `Skipped("two\nlines")`},
		{state.New(state.Cancelled+1, "x"), `Kind(13)("x")`},
	}
	for _, tc := range tests {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

// TestStateStringHidesResult checks that printing a state in any of the
// usual ways never shows what the task computed.
func TestStateStringHidesResult(t *testing.T) {
	const secret = "s3cr3t-result-value"
	states := []state.State{
		{Kind: state.Success, Result: secret},
		{Kind: state.Success, Message: state.MsgTaskSucceeded, Result: secret},
		{Kind: state.Cached, Message: state.MsgCachedResult, Result: []string{secret}},
		{Kind: state.Mapped, Message: state.MsgMapped, Result: secret,
			Children: []state.State{{Kind: state.Success, Result: secret}}},
	}
	for _, s := range states {
		for _, out := range []string{
			s.String(),
			fmt.Sprint(s),
			fmt.Sprintf("%v", s),
			fmt.Sprintf("%+v", s),
			fmt.Sprintf("%s", s),
			fmt.Sprint(&s),
		} {
			if strings.Contains(out, secret) {
				t.Errorf("printing %v shows the result: %s", s.Kind, out)
			}
			if !strings.HasPrefix(out, s.Kind.String()) {
				t.Errorf("printing a %v state gives %q, which does not start with its kind", s.Kind, out)
			}
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("boom"), "Error during execution of task: boom"},
		{fmt.Errorf("fetch: %w", errors.New("timeout")), "Error during execution of task: fetch: timeout"},
		{errors.New(""), "Error during execution of task: "},
	}
	for _, tc := range tests {
		if got := state.ErrorMessage(tc.err); got != tc.want {
			t.Errorf("ErrorMessage(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRetryMessage(t *testing.T) {
	tests := []struct {
		n, m int
		want string
	}{
		{1, 3, "Retrying Task (after attempt 1 of 3)"},
		{2, 3, "Retrying Task (after attempt 2 of 3)"},
		{10, 11, "Retrying Task (after attempt 10 of 11)"},
	}
	for _, tc := range tests {
		if got := state.RetryMessage(tc.n, tc.m); got != tc.want {
			t.Errorf("RetryMessage(%d, %d) = %q, want %q", tc.n, tc.m, got, tc.want)
		}
	}
}

// TestPrefectMessages pins the messages Prefect users grep their logs for.
func TestPrefectMessages(t *testing.T) {
	tests := []struct{ got, want string }{
		{state.MsgFlowSucceeded, "All reference tasks succeeded."},
		{state.MsgFlowFailed, "Some reference tasks failed."},
		{state.MsgTaskSucceeded, "Task run succeeded."},
		{state.MsgTimedOut, "Task timed out during execution."},
		{state.MsgMapped, "Ready to proceed with mapping."},
		{state.MsgCachedResult, "Task run retrieved from cache."},
		{state.MsgCycle, "Cycle found; flows must be acyclic!"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("message = %q, want %q", tc.got, tc.want)
		}
	}
}

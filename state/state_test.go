package state_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	{state.Submitted, "Submitted"},
	{state.Cancelling, "Cancelling"},
	{state.Queued, "Queued"},
	{state.ClientFailed, "ClientFailed"},
	{state.Resume, "Resume"},
	{state.Looped, "Looped"},
	{state.ValidationFailed, "ValidationFailed"},
}

// prefectStates are the concrete state classes of Prefect 1.4.1's
// prefect/engine/state.py (all but the bases State, Finished and
// _MetaState): every one must be a kind.
var prefectStates = []string{
	"Pending", "Scheduled", "Paused", "ClientFailed", "Submitted", "Queued", "Resume", "Retrying",
	"Running", "Cancelling", "Looped", "Success", "Cached", "Mapped", "Cancelled", "Failed",
	"TimedOut", "TriggerFailed", "ValidationFailed", "Skipped",
}

func TestEveryPrefectState(t *testing.T) {
	for _, name := range prefectStates {
		if _, err := state.ParseKind(name); err != nil {
			t.Errorf("Prefect 1 has %s: %v", name, err)
		}
	}
	if len(prefectStates) != len(allKinds) {
		t.Errorf("Prefect 1 has %d states, the kinds are %d", len(prefectStates), len(allKinds))
	}
}

// TestKindValues pins the values of the kinds of the first version, which
// kinds added later must not move.
func TestKindValues(t *testing.T) {
	for i, tc := range allKinds[:13] {
		if int(tc.kind) != i {
			t.Errorf("%s = %d, want %d", tc.name, tc.kind, i)
		}
	}
}

func TestKindStringParseRoundTrip(t *testing.T) {
	if len(allKinds) != 20 {
		t.Fatalf("the table has %d kinds; the hierarchy has 20", len(allKinds))
	}
	seen := map[string]bool{}
	for _, tc := range allKinds {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.kind.String(); got != tc.name {
				t.Errorf("Kind(%d).String() = %q, want %q", uint8(tc.kind), got, tc.name)
			}
			k, err := state.ParseKind(tc.name)
			if err != nil || k != tc.kind {
				t.Errorf("ParseKind(%q) = %v, %v; want %v, nil", tc.name, k, err, tc.kind)
			}
			text, err := tc.kind.MarshalText()
			if err != nil || string(text) != tc.name {
				t.Errorf("MarshalText() = %q, %v; want %q", text, err, tc.name)
			}
			var back state.Kind
			if err := back.UnmarshalText(text); err != nil || back != tc.kind {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, tc.kind)
			}
			if seen[tc.name] {
				t.Errorf("two kinds are called %q", tc.name)
			}
			seen[tc.name] = true
		})
	}
}

func TestKinds(t *testing.T) {
	got := state.Kinds()
	if len(got) != len(allKinds) {
		t.Fatalf("Kinds() has %d kinds, want %d", len(got), len(allKinds))
	}
	for i, tc := range allKinds {
		if got[i] != tc.kind {
			t.Errorf("Kinds()[%d] = %v, want %v", i, got[i], tc.kind)
		}
	}
}

func TestKindStringOutOfRange(t *testing.T) {
	k := state.ValidationFailed + 1
	if got, want := k.String(), "Kind(20)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if k.IsPending() || k.IsRunning() || k.IsFinished() || k.IsSuccessful() || k.IsFailed() || k.IsSkipped() || k.IsCancelled() || k.IsMeta() {
		t.Errorf("an unknown kind %v answers true to a predicate", k)
	}
	if text, err := k.MarshalText(); !errors.Is(err, state.ErrUnknownKind) {
		t.Errorf("MarshalText() = %q, %v; want an error matching ErrUnknownKind", text, err)
	}
}

func TestParseKindRejects(t *testing.T) {
	for _, s := range []string{"", "pending", "SUCCESS", "Kind(13)", "Success ", "Finished", "State", "_MetaState"} {
		k, err := state.ParseKind(s)
		if !errors.Is(err, state.ErrUnknownKind) {
			t.Errorf("ParseKind(%q) = %v, %v; want an error matching ErrUnknownKind", s, k, err)
			continue
		}
		// The error names what was refused and what is valid.
		for _, want := range []string{strconv.Quote(s), "Pending", "Submitted", "Cancelling", "ValidationFailed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("ParseKind(%q): %q does not say %s", s, err, want)
			}
		}
		var into state.Kind = state.Running
		if err := into.UnmarshalText([]byte(s)); !errors.Is(err, state.ErrUnknownKind) || into != state.Running {
			t.Errorf("UnmarshalText(%q) = %v leaving %v; want ErrUnknownKind leaving Running", s, err, into)
		}
	}
}

// TestKindJSON checks that a Kind travels as its name in JSON, as the
// server's API and Prefect write it.
func TestKindJSON(t *testing.T) {
	type run struct {
		State state.Kind `json:"state"`
	}
	b, err := json.Marshal(run{state.Cancelling})
	if err != nil || string(b) != `{"state":"Cancelling"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var got run
	if err := json.Unmarshal([]byte(`{"state":"Submitted"}`), &got); err != nil || got.State != state.Submitted {
		t.Errorf("Unmarshal = %v, %v; want Submitted", got.State, err)
	}
	if err := json.Unmarshal([]byte(`{"state":"Done"}`), &got); !errors.Is(err, state.ErrUnknownKind) {
		t.Errorf("Unmarshal of an unknown name: %v, want an error matching ErrUnknownKind", err)
	}
	if err := json.Unmarshal([]byte(`{"state":3}`), &got); err == nil {
		t.Errorf("Unmarshal of a number: no error, got %v", got.State)
	}
}

// predicates is one row of the hierarchy table: what each predicate answers.
type predicates struct {
	pending, running, finished, successful, failed, skipped, cancelled, meta bool
	mapped, cached, retrying, paused, timedOut, triggerFailed                bool
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
		// Added with Prefect 1's other states: none of them changes what
		// the predicates answer for the kinds above.
		state.Submitted:        {meta: true},
		state.Cancelling:       {running: true},
		state.Queued:           {meta: true},
		state.ClientFailed:     {meta: true},
		state.Resume:           {pending: true},
		state.Looped:           {finished: true},
		state.ValidationFailed: {finished: true, failed: true},
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
				cancelled: k.IsCancelled(), meta: k.IsMeta(),
			}
			kindWant := predicates{
				pending: w.pending, running: w.running, finished: w.finished,
				successful: w.successful, failed: w.failed, skipped: w.skipped,
				cancelled: w.cancelled, meta: w.meta,
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
				triggerFailed: s.IsTriggerFailed(), meta: s.Kind.IsMeta(),
			}
			if stateGot != w {
				t.Errorf("State predicates of %v = %+v, want %+v", k, stateGot, w)
			}
			// The four branches of Finished are disjoint and cover it.
			branches := 0
			for _, b := range []bool{w.successful, w.failed, w.cancelled, k == state.Looped} {
				if b {
					branches++
				}
			}
			if w.finished != (branches == 1) || branches > 1 {
				t.Errorf("%v: finished=%v but sits in %d branches of Finished", k, w.finished, branches)
			}
			// Pending, meta, Running and Finished are disjoint and cover
			// every kind.
			tops := 0
			for _, b := range []bool{w.pending, w.meta, w.running, w.finished} {
				if b {
					tops++
				}
			}
			if tops != 1 {
				t.Errorf("%v sits in %d of Pending, the meta states, Running and Finished; want 1", k, tops)
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
		{state.State{Kind: state.Success}, "<Success>"},
		{state.New(state.Failed, state.MsgFlowFailed), `<Failed: "Some reference tasks failed.">`},
		{state.New(state.TriggerFailed, `Trigger was "all_successful" but some of the upstream tasks failed.`),
			`<TriggerFailed: "Trigger was "all_successful" but some of the upstream tasks failed.">`},
		{state.New(state.Skipped, "two\nlines"), "<Skipped: \"two\nlines\">"},
		{state.New(state.Cancelling, "cancelled by request"), `<Cancelling: "cancelled by request">`},
		{state.New(state.ValidationFailed+1, "x"), `<Kind(20): "x">`},
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
			if !strings.HasPrefix(out, "<"+s.Kind.String()) {
				t.Errorf("printing a %v state gives %q, which does not start with <kind", s.Kind, out)
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

package natsexec

import (
	"testing"
	"time"
)

// TestWaitNotice: a run whose task runs wait says so once the grace
// period (three heartbeats: 3 s with the default 30 s ack wait, not an ack
// wait) has passed with no worker heard, once per wait however many task
// runs wait and however many ticks pass, and again only after a worker was
// heard and then went quiet. The clock is the test's.
func TestWaitNotice(t *testing.T) {
	const grace = 3 * time.Second
	if o := newOptions(nil); 3*o.heartbeat() != grace {
		t.Fatalf("the default grace is %v, want %v", 3*o.heartbeat(), grace)
	}
	type step struct {
		at      time.Duration // since the start
		heard   bool          // a worker said something (or the first task run was queued)
		pending bool          // task runs wait, at a tick
		want    bool          // the tick says it
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"no worker: said once, early", []step{
			{at: 0, heard: true},
			{at: time.Second, pending: true},
			{at: 2 * time.Second, pending: true},
			{at: 3 * time.Second, pending: true, want: true},
			{at: 4 * time.Second, pending: true},
			{at: 30 * time.Second, pending: true},
			{at: time.Hour, pending: true},
		}},
		{"workers answering: never said", []step{
			{at: 0, heard: true},
			{at: 2 * time.Second, heard: true},
			{at: 4 * time.Second, pending: true},
			{at: 4 * time.Second, heard: true},
			{at: 6 * time.Second, pending: true},
		}},
		{"nothing pending: never said", []step{
			{at: 0, heard: true},
			{at: time.Minute, pending: false},
		}},
		{"workers gone: said again", []step{
			{at: 0, heard: true},
			{at: 3 * time.Second, pending: true, want: true},
			{at: 5 * time.Second, heard: true},
			{at: 7 * time.Second, pending: true},
			{at: 8 * time.Second, pending: true, want: true},
			{at: 9 * time.Second, pending: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			w := waitNotice{grace: grace}
			for i, st := range tc.steps {
				now := start.Add(st.at)
				if st.heard {
					w.heard(now)
					continue
				}
				if _, said := w.due(now, st.pending); said != st.want {
					t.Errorf("step %d (at %v, pending %v): said %v, want %v", i, st.at, st.pending, said, st.want)
				}
			}
		})
	}
}

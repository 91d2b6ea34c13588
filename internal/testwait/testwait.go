// Package testwait gives tests one rule for how long to wait for what they
// expect: until shortly before the test binary's own deadline (go test's
// -timeout, 10 minutes unless told otherwise). A fixed wait of a few
// seconds passes on a quiet machine and fails on a busy 2-core one, where
// the suite runs beside other work; a failure mistaken that way looks like
// a bug in the engine. Waiting up to the binary's deadline costs nothing
// when the test passes (it stops waiting the moment what it expects
// happens), and a real failure is still reported by the test, with its
// message, Margin before go test would kill the binary without one.
//
// Waits that assert that something does not happen (no second delivery
// within 50 ms, say) are not this package's: they are as long as the claim
// they make.
package testwait

import (
	"context"
	"testing"
	"time"
)

// Margin is the time left, after a wait gives up, for the test to report
// its failure and clean up before the binary's deadline.
const Margin = 30 * time.Second

// NoDeadline is how long a wait lasts when the binary has no deadline
// (go test -timeout 0).
const NoDeadline = 10 * time.Minute

// minimum is the least a wait lasts, however close the binary's deadline.
const minimum = 5 * time.Second

// Deadline returns the time until which tb may wait: Margin before the
// binary's deadline, or NoDeadline from now without one (and for
// benchmarks, which have none).
func Deadline(tb testing.TB) time.Time {
	now := time.Now()
	if t, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := t.Deadline(); ok {
			if end := d.Add(-Margin); end.After(now.Add(minimum)) {
				return end
			}
			return now.Add(minimum)
		}
	}
	return now.Add(NoDeadline)
}

// Context returns a context that ends at Deadline(tb), or when tb's own
// context ends (just before its cleanup functions run).
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithDeadline(tb.Context(), Deadline(tb))
	tb.Cleanup(cancel)
	return ctx
}

// Until calls cond every few milliseconds until it holds, and fails tb,
// naming what it waited for, if it does not by Deadline(tb). It is for
// what a test cannot be told of, such as a process ending.
func Until(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := Deadline(tb)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

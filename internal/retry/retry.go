// Package retry holds what this module's retry loops share: the wait before
// each retry, exponential with jitter, and a sleep that a context cuts short.
//
// The loops themselves stay with their callers, which differ in what they
// retry (a status, a conflict, a timeout), how many times, and what they
// report when they give up; a loop written out says all of that where it is
// read.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff: the wait before retry i (from 0) is
// Base doubled i times, at most Max (or Base, if longer), with jitter in its
// upper half so that clients failed together retry apart. The zero Backoff
// never waits.
type Backoff struct {
	// Base is the wait before the first retry.
	Base time.Duration
	// Max bounds the wait; it is Base when shorter.
	Max time.Duration
}

// Delay returns the wait before retry i (from 0): a random duration between
// half of Base*2^i (capped) and all of it. It costs O(i) at most, and never
// overflows.
func (b Backoff) Delay(i int) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	limit := max(b.Max, b.Base)
	d := b.Base
	for ; i > 0 && d < limit; i-- {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits for d, or until ctx ends, when it returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package natsexec

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestRetryAPI: a JetStream request whose answer did not come in time is
// tried again, up to three times; any other error is final at once.
func TestRetryAPI(t *testing.T) {
	lost := fmt.Errorf("natsexec: looking up stream: %w", context.DeadlineExceeded)
	other := errors.New("stream config mismatch")
	for _, tc := range []struct {
		name     string
		errs     []error // what the attempts return, in turn; nil after
		want     error
		attempts int
	}{
		{"answered", nil, nil, 1},
		{"lost twice", []error{lost, lost}, nil, 3},
		{"lost thrice", []error{lost, lost, lost, nil}, context.DeadlineExceeded, 3},
		{"refused", []error{other, nil}, other, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			v, err := retryAPI(context.Background(), func(ctx context.Context) (int, error) {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("an attempt without a deadline")
				}
				n++
				if n <= len(tc.errs) && tc.errs[n-1] != nil {
					return 0, tc.errs[n-1]
				}
				return 7, nil
			})
			if n != tc.attempts || !errors.Is(err, tc.want) || (err == nil && v != 7) {
				t.Errorf("%d attempts, %v, %v; want %d attempts and %v", n, v, err, tc.attempts, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	if _, err := retryAPI(ctx, func(context.Context) (int, error) { n++; return 0, lost }); err == nil || n != 1 {
		t.Errorf("with the caller's context ended: %d attempts, %v; want 1 and the error", n, err)
	}
}

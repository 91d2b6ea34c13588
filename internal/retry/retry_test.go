package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/internal/retry"
)

func TestDelay(t *testing.T) {
	tests := []struct {
		name     string
		b        retry.Backoff
		i        int
		min, max time.Duration
	}{
		{"first", retry.Backoff{Base: 100 * time.Millisecond, Max: time.Second}, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{"doubled twice", retry.Backoff{Base: 100 * time.Millisecond, Max: time.Second}, 2, 200 * time.Millisecond, 400 * time.Millisecond},
		{"capped", retry.Backoff{Base: 100 * time.Millisecond, Max: time.Second}, 10, 500 * time.Millisecond, time.Second},
		{"no overflow", retry.Backoff{Base: time.Hour, Max: 2 * time.Hour}, 1 << 20, time.Hour, 2 * time.Hour},
		{"base longer than max", retry.Backoff{Base: time.Minute, Max: time.Second}, 3, 30 * time.Second, time.Minute},
		{"zero never waits", retry.Backoff{}, 5, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 200 {
				if d := tt.b.Delay(tt.i); d < tt.min || d > tt.max {
					t.Fatalf("Delay(%d) = %v; want it in [%v, %v]", tt.i, d, tt.min, tt.max)
				}
			}
		})
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := retry.Sleep(context.Background(), time.Minute); err != nil || time.Since(start) != time.Minute {
			t.Errorf("Sleep(1m) = %v after %v; want nil after 1m", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if err := retry.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("Sleep(1h) with a 1s context = %v after %v; want DeadlineExceeded after 1s", err, time.Since(start))
		}
	})
}

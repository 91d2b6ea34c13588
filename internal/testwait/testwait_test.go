package testwait_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/testwait"
)

func TestDeadlineLeavesAMargin(t *testing.T) {
	got := testwait.Deadline(t)
	if d, ok := t.Deadline(); ok {
		if want := d.Add(-testwait.Margin); time.Until(d) > testwait.Margin+10*time.Second && !got.Equal(want) {
			t.Errorf("Deadline = %v; the binary's is %v, want %v before it", got, d, testwait.Margin)
		}
	} else if want := time.Now().Add(testwait.NoDeadline); got.Sub(want).Abs() > time.Second {
		t.Errorf("Deadline = %v without a binary deadline, want about %v", got, want)
	}
}

func TestContextEndsWithTheTest(t *testing.T) {
	ctx := testwait.Context(t)
	if _, ok := ctx.Deadline(); !ok {
		t.Fatal("Context has no deadline")
	}
	if ctx.Err() != nil {
		t.Fatalf("Context ended at once: %v", ctx.Err())
	}
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	testwait.Until(t, "the third call", func() bool { return n.Add(1) == 3 })
	if got := n.Load(); got != 3 {
		t.Errorf("cond called %d times, want 3", got)
	}
}

package runner_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// scheduledFlow is a flow whose one task records when it started, the
// run's scheduled start time and its parameter "who", and takes work.
type scheduledFlow struct {
	mu     sync.Mutex
	starts []time.Duration // since t0
	sched  []time.Duration
	who    []string
	t0     time.Time
}

func (sf *scheduledFlow) build(t *testing.T, work time.Duration, opts ...flow.Option) *flow.Flow {
	t.Helper()
	type in struct {
		Who string `prefect:"who"`
	}
	f := flow.New("scheduled", opts...)
	who := flow.Parameter(f, "who", flow.WithDefault("flow default"))
	flow.Add(f, task.New("work", func(ctx context.Context, in in) (int, error) {
		rc, _ := runner.FromContext(ctx)
		sf.mu.Lock()
		sf.starts = append(sf.starts, time.Since(sf.t0))
		sf.sched = append(sf.sched, rc.ScheduledStartTime.Sub(sf.t0))
		sf.who = append(sf.who, in.Who)
		sf.mu.Unlock()
		select {
		case <-time.After(work):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}), flow.Bind("who", who))
	return f
}

func minutes(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Minutes()
	}
	return out
}

func TestRunScheduled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		work    time.Duration
		overlap runner.Overlap
		stopAt  time.Duration
		want    []float64 // minutes after t0 at which runs started
	}{
		// An event every minute from t0+1m.
		{"runs at each event", 10 * time.Second, runner.SkipMissed, 3*time.Minute + 30*time.Second, []float64{1, 2, 3}},
		{"a long run skips the events it overlapped", 150 * time.Second, runner.SkipMissed, 8 * time.Minute, []float64{1, 4, 7}},
		{"a long run queues one", 150 * time.Second, runner.QueueOne, 8 * time.Minute, []float64{1, 3.5, 7}},
		{"runs overlap when asked", 150 * time.Second, runner.Concurrent, 3*time.Minute + 30*time.Second, []float64{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := &scheduledFlow{t0: time.Now()}
				s := schedule.Must(schedule.Interval(time.Minute, schedule.WithStart(sf.t0)))
				f := sf.build(t, tc.work, flow.WithSchedule(s))
				ctx, cancel := context.WithTimeout(context.Background(), tc.stopAt)
				defer cancel()
				var logs bytes.Buffer
				var mu sync.Mutex
				var states []state.Kind
				err := runner.RunScheduled(ctx, f, runner.WithOverlap(tc.overlap),
					runner.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
					runner.OnScheduledRun(func(ev schedule.Event, fs *runner.FlowState, err error) {
						mu.Lock()
						defer mu.Unlock()
						if err == nil {
							states = append(states, fs.Kind)
						}
					}))
				if err != nil {
					t.Fatalf("RunScheduled: %v", err)
				}
				if got := minutes(sf.starts); !equalFloats(got, tc.want) {
					t.Errorf("runs started at minutes %v, want %v", got, tc.want)
				}
				if len(states) != len(tc.want) {
					t.Errorf("OnScheduledRun heard of %d runs, want %d", len(states), len(tc.want))
				}
				// Each run's scheduled start is its event's time.
				for i, d := range sf.sched {
					if d%time.Minute != 0 || d > sf.starts[i] {
						t.Errorf("run %d: scheduled start at %v, started at %v; want its event's minute", i, d, sf.starts[i])
					}
				}
				if want := "Waiting for next scheduled run at " + sf.t0.Add(time.Minute).Format("2006-01-02T15:04:05-07:00"); !strings.Contains(logs.String(), want) {
					t.Errorf("the log lacks %q:\n%s", want, logs.String())
				}
			})
		})
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunScheduledParameters checks that an event's parameter defaults
// fill in the run's parameters, under those the run is given.
func TestRunScheduledParameters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := &scheduledFlow{t0: time.Now()}
		a, err := schedule.NewIntervalClock(2*time.Minute, schedule.WithStart(sf.t0.Add(time.Minute)), schedule.WithParameterDefaults(map[string]any{"who": "clock a"}))
		if err != nil {
			t.Fatal(err)
		}
		b, err := schedule.NewIntervalClock(2*time.Minute, schedule.WithStart(sf.t0.Add(2*time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		s := schedule.Must(schedule.New([]schedule.Clock{a, b}))
		f := sf.build(t, time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+30*time.Second)
		defer cancel()
		if err := runner.RunScheduled(ctx, f, runner.WithSchedule(s)); err != nil {
			t.Fatal(err)
		}
		if want := []string{"clock a", "flow default"}; strings.Join(sf.who, ",") != strings.Join(want, ",") {
			t.Errorf("who = %q, want %q", sf.who, want)
		}

		sf2 := &scheduledFlow{t0: time.Now()}
		ctx, cancel = context.WithTimeout(context.Background(), 80*time.Second) // one event: clock a's at t0+3m (clock b's at t0+4m is past the end)
		defer cancel()
		err = runner.RunScheduled(ctx, sf2.build(t, time.Second), runner.WithSchedule(s),
			runner.WithParameters(map[string]any{"who": "the caller"}))
		if err != nil || len(sf2.who) != 1 || sf2.who[0] != "the caller" {
			t.Errorf("with the run's own parameter: who = %q, %v; want the caller's, over the clock's default", sf2.who, err)
		}
	})
}

func TestRunScheduledRefuses(t *testing.T) {
	ctx := context.Background()
	sf := &scheduledFlow{t0: time.Now()}
	past := schedule.Must(schedule.New([]schedule.Clock{must(schedule.NewDatesClock([]time.Time{time.Now().Add(-time.Hour)}))}))
	for _, tc := range []struct {
		name string
		f    *flow.Flow
		opts []runner.Option
		is   error
		want string
	}{
		{"no schedule", sf.build(t, 0), nil, runner.ErrInvalidRun, `flow "scheduled" has no schedule`},
		{"no more events", sf.build(t, 0, flow.WithSchedule(past)), nil, runner.ErrNoMoreRuns, "Flow has no more scheduled runs."},
		{"a nil schedule", sf.build(t, 0, flow.WithSchedule(nil)), nil, runner.ErrInvalidRun, "flow.WithSchedule was given a nil schedule"},
		{"a bad overlap", sf.build(t, 0, flow.WithSchedule(past)), []runner.Option{runner.WithOverlap(7)}, runner.ErrInvalidRun, "WithOverlap was given Overlap(7)"},
		{"an unknown parameter, refused before the first wait", sf.build(t, 0, flow.WithSchedule(schedule.Must(schedule.Interval(time.Hour)))),
			[]runner.Option{runner.WithParameters(map[string]any{"nope": 1})}, runner.ErrInvalidRun, "Flow.run received the following unexpected parameters: nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runner.RunScheduled(ctx, tc.f, tc.opts...)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RunScheduled: %v; want %v saying %q", err, tc.is, tc.want)
			}
		})
	}
}

func must(c schedule.Clock, err error) schedule.Clock {
	if err != nil {
		panic(err)
	}
	return c
}

// TestRunScheduledAdjusted checks that an adjustment moving events before
// their clock time (schedule.Add with a negative duration) runs each event
// once, in order, rather than the same clock event again and again.
func TestRunScheduledAdjusted(t *testing.T) {
	for _, overlap := range []runner.Overlap{runner.SkipMissed, runner.QueueOne, runner.Concurrent} {
		t.Run(overlap.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := &scheduledFlow{t0: time.Now()}
				c, err := schedule.NewIntervalClock(time.Minute, schedule.WithStart(sf.t0))
				if err != nil {
					t.Fatal(err)
				}
				s := schedule.Must(schedule.New([]schedule.Clock{c}, schedule.WithAdjustments(schedule.Add(-30*time.Second))))
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+10*time.Second)
				defer cancel()
				if err := runner.RunScheduled(ctx, sf.build(t, time.Second), runner.WithSchedule(s), runner.WithOverlap(overlap)); err != nil {
					t.Fatal(err)
				}
				if got, want := minutes(sf.starts), []float64{0.5, 1.5, 2.5}; !equalFloats(got, want) {
					t.Errorf("runs started at minutes %v, want %v", got, want)
				}
			})
		})
	}
}

// TestDatesInUTC checks that the run context's date strings are the
// scheduled start's date in UTC, as Prefect's are, whatever the zone of
// the schedule that planned it: 00:30 in Berlin on March 1 is still
// February 28 in UTC.
func TestDatesInUTC(t *testing.T) {
	berlin, err := schedule.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	f := flow.New("dates")
	flow.Add(f, task.New("d", func(ctx context.Context, _ task.None) (int, error) {
		rc, _ := runner.FromContext(ctx)
		got = []string{rc.Today(), rc.Yesterday(), rc.Tomorrow(), rc.TodayNoDash()}
		return 0, nil
	}))
	runFlow(t, runner.Local(), f, runner.WithScheduledStartTime(time.Date(2026, 3, 1, 0, 30, 0, 0, berlin)))
	if want := []string{"2026-02-28", "2026-02-27", "2026-03-01", "20260228"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dates %q, want %q", got, want)
	}
}

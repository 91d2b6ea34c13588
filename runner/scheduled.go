package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/schedule"
)

// Overlap says what [RunScheduled] does when a run is still going at its
// schedule's next event.
type Overlap int

const (
	// SkipMissed runs one run at a time and skips the events that passed
	// while a run went on: the next run is at the first event after the
	// run ended. It is the default, and what Prefect 1's flow.run does
	// with a schedule.
	SkipMissed Overlap = iota
	// QueueOne runs one run at a time; when events passed while a run
	// went on, one run (for the first of them) starts as soon as it ends,
	// and the schedule resumes after that.
	QueueOne
	// Concurrent starts a run at every event, whether or not the runs
	// before it have ended.
	Concurrent
)

// String returns the policy's name, as its constant is spelled.
func (o Overlap) String() string {
	switch o {
	case SkipMissed:
		return "SkipMissed"
	case QueueOne:
		return "QueueOne"
	case Concurrent:
		return "Concurrent"
	}
	return fmt.Sprintf("Overlap(%d)", int(o))
}

// WithOverlap sets what [RunScheduled] does when a run is still going at
// the next event; the default is [SkipMissed].
func WithOverlap(p Overlap) Option {
	return func(o *options) {
		if p < SkipMissed || p > Concurrent {
			o.errs = append(o.errs, fmt.Errorf("WithOverlap was given %v; use runner.SkipMissed, runner.QueueOne or runner.Concurrent", p))
		}
		o.overlap = p
	}
}

// WithSchedule runs [RunScheduled] on s instead of the flow's own schedule
// (flow.WithSchedule).
func WithSchedule(s *schedule.Schedule) Option {
	return func(o *options) {
		if s == nil {
			o.errs = append(o.errs, errors.New("runner.WithSchedule was given a nil schedule"))
		}
		o.schedule = s
	}
}

// OnScheduledRun calls fn after each run [RunScheduled] makes, with the
// event it ran for and what [Run] returned. Under [Concurrent] it may be
// called from several goroutines at once.
func OnScheduledRun(fn func(ev schedule.Event, fs *FlowState, err error)) Option {
	return func(o *options) {
		if fn == nil {
			o.errs = append(o.errs, errors.New("runner.OnScheduledRun was given a nil function"))
		}
		o.onScheduled = fn
	}
}

// ErrNoMoreRuns is matched by RunScheduled's error for a schedule with no
// event after now: Prefect's "Flow has no more scheduled runs."
var ErrNoMoreRuns = errors.New("Flow has no more scheduled runs.")

// RunScheduled runs f at each event of its schedule (flow.WithSchedule, or
// [WithSchedule]) until ctx ends or the schedule has no more events, as
// Prefect 1's flow.run does for a flow with a schedule. Before each run it
// logs, at INFO, Prefect's "Waiting for next scheduled run at TIME".
//
// Each run is [Run] with opts, the event's time as its scheduled start
// time (the run context's date helpers read it) and its parameters: the
// event's parameter defaults (schedule.WithParameterDefaults), overridden
// by those given with [WithParameters]. A run still going at the next
// event is handled as [WithOverlap] says, by default [SkipMissed].
// [OnScheduledRun] hears of each run.
//
// It returns nil when ctx ends (after the run in progress, which ctx
// cancels, has ended) or when the schedule has no more events after a
// run; [ErrNoMoreRuns] when it has none at all; and an error matching
// [ErrInvalidRun] when the flow, the schedule or the options are wrong,
// found before the first wait, or when a run is refused (its parameters,
// say), which would be refused at every event.
func RunScheduled(ctx context.Context, f *flow.Flow, opts ...Option) error {
	o := options{clock: realClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	invalid := func(err error) error { return fmt.Errorf("%w: %w", ErrInvalidRun, err) }
	if f == nil {
		return invalid(errors.New("the flow is nil; build one with flow.New"))
	}
	if err := problems.Join(optionProblems, o.errs...); err != nil {
		return invalid(err)
	}
	g, err := f.Graph()
	if err != nil {
		return invalid(err)
	}
	s := o.schedule
	if s == nil {
		s = f.Schedule()
	}
	if s == nil {
		return invalid(fmt.Errorf("flow %q has no schedule; give it one with flow.WithSchedule or runner.WithSchedule", f.Name()))
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sr := scheduledRunner{ctx: ctx, f: f, opts: opts, o: &o}
	defer sr.wg.Wait()

	after := o.clock.Now()
	first := true
	queued := false // QueueOne: a missed event runs next, at once
	// last is the start of the event run last: an adjustment (schedule.Add
	// with a negative duration) can put an event before the clock time
	// Next counts from, and no event runs twice or out of order.
	var last time.Time
	for {
		evs := nextAfter(s, after, last)
		if len(evs) == 0 {
			if first {
				return ErrNoMoreRuns
			}
			return nil
		}
		ev := evs[0]
		if first {
			// Parameters the flow refuses are refused now, not at the
			// first event (an hour away, say).
			if _, err := checkParams(g, eventParams(ev, o.params)); err != nil {
				return invalid(err)
			}
			first = false
		}
		last = ev.Start
		if wait := ev.Start.Sub(o.clock.Now()); wait > 0 {
			log.InfoContext(ctx, "Waiting for next scheduled run at "+ev.Start.Format(prefectTime),
				slog.Group("flow_run", slog.String("flow_name", f.Name())))
			select {
			case <-ctx.Done():
				return nil
			case <-o.clock.After(wait):
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if o.overlap == Concurrent {
			sr.wg.Go(func() { sr.run(ev) })
			after = ev.Start
			continue
		}
		if err := sr.run(ev); err != nil {
			return err
		}
		now := o.clock.Now()
		switch {
		case o.overlap == QueueOne && !queued:
			// The first event missed during this run, if any, runs at
			// once; those after it are skipped.
			after, queued = ev.Start, true
			if next := nextAfter(s, ev.Start, ev.Start); len(next) == 0 || !next[0].Start.Before(now) {
				after, queued = now, false
			}
		default:
			after, queued = now, false
		}
		if after.Before(ev.Start) {
			after = ev.Start
		}
	}
}

// eventParams returns a run's parameters for ev: the event's parameter
// defaults, under the run's own.
func eventParams(ev schedule.Event, own map[string]any) map[string]any {
	params := maps.Clone(ev.ParameterDefaults)
	if params == nil {
		params = map[string]any{}
	}
	maps.Copy(params, own)
	return params
}

// nextAfter returns the first event of s after after whose start is also
// after last (none or one event).
func nextAfter(s *schedule.Schedule, after, last time.Time) []schedule.Event {
	for ev := range s.Events(after) {
		if ev.Start.After(last) {
			return []schedule.Event{ev}
		}
	}
	return nil
}

// prefectTime is how Prefect (pendulum) prints a time in its log lines.
const prefectTime = "2006-01-02T15:04:05.999999-07:00"

// scheduledRunner makes RunScheduled's runs.
type scheduledRunner struct {
	ctx  context.Context
	f    *flow.Flow
	opts []Option
	o    *options
	wg   sync.WaitGroup
}

// run makes one run for ev, and returns an error only when the run was
// refused as invalid (which every later event would repeat).
func (sr *scheduledRunner) run(ev schedule.Event) error {
	opts := append(sr.opts[:len(sr.opts):len(sr.opts)], WithParameters(eventParams(ev, sr.o.params)), WithScheduledStartTime(ev.Start))
	fs, err := Run(sr.ctx, sr.f, opts...)
	if sr.o.onScheduled != nil {
		sr.o.onScheduled(ev, fs, err)
	}
	if errors.Is(err, ErrInvalidRun) {
		return err
	}
	return nil
}

package schedule

import (
	"fmt"
	"iter"
	"reflect"
	"slices"
	"time"
)

// Option configures a Schedule. All are optional.
type Option func(*options)

type options struct {
	filters, orFilters, notFilters []Filter
	adjustments                    []Adjustment
}

// WithFilters adds filters that must all match (Prefect's filters).
func WithFilters(f ...Filter) Option {
	return func(o *options) { o.filters = append(o.filters, f...) }
}

// WithOrFilters adds filters of which at least one must match (Prefect's
// or_filters). With none, this test passes.
func WithOrFilters(f ...Filter) Option {
	return func(o *options) { o.orFilters = append(o.orFilters, f...) }
}

// WithNotFilters adds filters none of which may match (Prefect's
// not_filters).
func WithNotFilters(f ...Filter) Option {
	return func(o *options) { o.notFilters = append(o.notFilters, f...) }
}

// WithAdjustments adds adjustments, applied in order to each event that
// passes the filters (Prefect's adjustments).
func WithAdjustments(a ...Adjustment) Option {
	return func(o *options) { o.adjustments = append(o.adjustments, a...) }
}

// MaxChecked is how many clock events Next and Events examine before they
// stop, however few have passed the filters and whether or not there are
// any: Prefect's limit of 10,000, which keeps filters that never match from
// looping forever.
const MaxChecked = 10000

// Schedule merges its clocks' events in time order, keeps those that pass
// the filters, then applies the adjustments (Prefect's Schedule). A Schedule
// is immutable and safe for concurrent use.
type Schedule struct {
	clocks []Clock
	opts   options
}

// New returns a schedule of one or more clocks. It checks every filter's
// arguments; the first bad one is the error, matching ErrInvalid.
func New(clocks []Clock, opts ...Option) (*Schedule, error) {
	if len(clocks) == 0 {
		return nil, invalidf("no clocks (a schedule needs at least one, e.g. from NewIntervalClock or NewCronClock)")
	}
	for i, c := range clocks {
		if c == nil || reflect.ValueOf(c).Kind() == reflect.Pointer && reflect.ValueOf(c).IsNil() {
			return nil, invalidf("clock %d is nil (make clocks with NewIntervalClock, NewCronClock or NewDatesClock and check their errors)", i)
		}
	}
	s := &Schedule{clocks: slices.Clone(clocks)}
	for _, opt := range opts {
		if opt != nil {
			opt(&s.opts)
		}
	}
	for _, f := range slices.Concat(s.opts.filters, s.opts.orFilters, s.opts.notFilters) {
		if err := f.check(); err != nil {
			return nil, err
		}
	}
	for i, a := range s.opts.adjustments {
		if a.kind == "" {
			return nil, invalidf("adjustment %d is the zero Adjustment (make adjustments with Add or NextWeekday)", i)
		}
	}
	return s, nil
}

// Interval returns a schedule of one interval clock (Prefect's
// IntervalSchedule); see NewIntervalClock.
func Interval(every time.Duration, opts ...ClockOption) (*Schedule, error) {
	c, err := NewIntervalClock(every, opts...)
	if err != nil {
		return nil, err
	}
	return New([]Clock{c})
}

// Cron returns a schedule of one cron clock (Prefect's CronSchedule); see
// NewCronClock.
func Cron(expr string, opts ...ClockOption) (*Schedule, error) {
	c, err := NewCronClock(expr, opts...)
	if err != nil {
		return nil, err
	}
	return New([]Clock{c})
}

// Must returns s, or panics with err. It is for package-level variables
// whose arguments are constants:
//
//	var nightly = schedule.Must(schedule.Cron("0 2 * * *"))
func Must(s *Schedule, err error) *Schedule {
	if err != nil {
		panic(err)
	}
	return s
}

// Clocks returns the schedule's clocks.
func (s *Schedule) Clocks() []Clock { return slices.Clone(s.clocks) }

// Next returns the next n events strictly after `after`, in time order:
// fewer when the clocks end, or when MaxChecked clock events have been
// examined. The bound counts clock events examined, whether or not the
// schedule has filters, so Next(20000, t) returns at most 10,000 events
// (ask again after the last one for more). n <= 0 gives none.
//
// A zero `after` means from the clocks' beginning (their start dates, or
// 1677 for a cron clock without one), not now as Prefect's after=None
// does: for the next runs from now, pass time.Now().
func (s *Schedule) Next(n int, after time.Time) []Event {
	if n <= 0 {
		return nil
	}
	var out []Event
	for e := range s.Events(after) {
		out = append(out, e)
		if len(out) == n {
			break
		}
	}
	return out
}

// Events yields the schedule's events strictly after `after`, in time order,
// without Next's count; it stops after examining MaxChecked clock events,
// filters or not, so a loop over it ends even when the filters never match
// (and yields at most 10,000 events; range again from the last one for
// more). A zero `after` means from the clocks' beginning, not now: pass
// time.Now() for the runs to come.
func (s *Schedule) Events(after time.Time) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		checked := 0
		for e := range s.merged(after) {
			checked++
			if s.pass(e.Start) {
				for _, a := range s.opts.adjustments {
					e.Start = a.Apply(e.Start)
				}
				if !yield(e) {
					return
				}
			}
			if checked >= MaxChecked {
				return
			}
		}
	}
}

// pass applies the filters in Prefect's order: all filters, then at least
// one or-filter, then no not-filter.
func (s *Schedule) pass(t time.Time) bool {
	for _, f := range s.opts.filters {
		if !f.Match(t) {
			return false
		}
	}
	if len(s.opts.orFilters) > 0 && !slices.ContainsFunc(s.opts.orFilters, func(f Filter) bool { return f.Match(t) }) {
		return false
	}
	return !slices.ContainsFunc(s.opts.notFilters, func(f Filter) bool { return f.Match(t) })
}

// merged yields the clocks' events in time order, ties in clock order. Like
// Prefect it drops an event equal to one already yielded (same instant, same
// parameter defaults, same labels), so two clocks that agree fire once, while
// two that fire at the same time with different parameters fire twice.
func (s *Schedule) merged(after time.Time) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		type source struct {
			next func() (Event, bool)
			head Event
			ok   bool
		}
		srcs := make([]*source, len(s.clocks))
		for i, c := range s.clocks {
			next, stop := iter.Pull(c.Events(after))
			defer stop()
			src := &source{next: next}
			src.head, src.ok = next()
			srcs[i] = src
		}
		var same []Event // events yielded at the current instant
		for {
			var min *source
			for _, src := range srcs {
				if src.ok && (min == nil || src.head.Start.Before(min.head.Start)) {
					min = src
				}
			}
			if min == nil {
				return
			}
			e := min.head
			min.head, min.ok = min.next()
			if len(same) > 0 && !same[0].Start.Equal(e.Start) {
				same = same[:0]
			}
			if slices.ContainsFunc(same, func(o Event) bool { return sameEvent(o, e) }) {
				continue
			}
			same = append(same, e)
			if !yield(e) {
				return
			}
		}
	}
}

func sameEvent(a, b Event) bool {
	return a.Start.Equal(b.Start) &&
		len(a.ParameterDefaults) == len(b.ParameterDefaults) &&
		(len(a.ParameterDefaults) == 0 || reflect.DeepEqual(a.ParameterDefaults, b.ParameterDefaults)) &&
		slices.Equal(a.Labels, b.Labels)
}

// String describes the schedule, for logs.
func (s *Schedule) String() string {
	return fmt.Sprintf("schedule(%d clocks, %d filters, %d or filters, %d not filters, %d adjustments)",
		len(s.clocks), len(s.opts.filters), len(s.opts.orFilters), len(s.opts.notFilters), len(s.opts.adjustments))
}

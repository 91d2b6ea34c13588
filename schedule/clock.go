package schedule

import (
	"fmt"
	"iter"
	"maps"
	"math/big"
	"slices"
	"sort"
	"time"
)

// Event is one time a schedule fires, with what its clock adds to the run.
type Event struct {
	// Start is when the run is due, in the clock's location.
	Start time.Time
	// ParameterDefaults are the clock's parameter defaults (nil for none):
	// the run's parameters unless the caller gives others. Each event has
	// its own copy.
	ParameterDefaults map[string]any
	// Labels are the clock's labels, applied to the run. Each event has its
	// own copy.
	Labels []string
}

// Clock produces events. The clocks of this package are made by
// NewIntervalClock, NewCronClock and NewDatesClock; only those can be stored
// as JSON (see Schedule.MarshalJSON).
type Clock interface {
	// Events yields, in time order, the clock's events strictly after
	// `after` (Prefect: "the first result will be after this date"), none
	// before the clock's start and none after its end. The sequence is
	// infinite for interval and cron clocks without an end; stop ranging
	// when you have enough. A zero `after` means from the clock's first
	// event, not now (Prefect's after=None): pass time.Now() for the
	// runs to come. No event is outside years 1678-2262.
	Events(after time.Time) iter.Seq[Event]
}

// ClockOption configures a clock. All are optional.
type ClockOption func(*clockOptions)

type clockOptions struct {
	start, end time.Time
	hasStart   bool
	hasEnd     bool
	params     map[string]any
	labels     []string
	dayOr      *bool
	loc        *time.Location
	locSet     bool
}

// WithStart sets the clock's start date: no event is earlier. It must be
// within years 1678-2262 (where time.Time.UnixNano is defined), as must
// WithEnd's and NewDatesClock's dates. Its Location
// is the clock's location unless WithLocation says otherwise: the zone
// events are reported in, an interval clock of a day or more keeps its wall
// time in, and a cron expression is read in. An interval clock counts its
// intervals from the start (without one, from 2019-01-01 00:00 in the
// clock's location, as Prefect does).
func WithStart(t time.Time) ClockOption {
	return func(o *clockOptions) { o.start, o.hasStart = t, true }
}

// WithEnd sets the clock's end date: no event is later (an event at the end
// itself fires).
func WithEnd(t time.Time) ClockOption {
	return func(o *clockOptions) { o.end, o.hasEnd = t, true }
}

// WithParameterDefaults sets the parameter values runs from this clock get
// unless the caller gives others (Prefect's parameter_defaults). The map is
// copied.
func WithParameterDefaults(p map[string]any) ClockOption {
	return func(o *clockOptions) { o.params = maps.Clone(p) }
}

// WithLabels sets labels applied to every run from this clock.
func WithLabels(labels ...string) ClockOption {
	return func(o *clockOptions) { o.labels = slices.Clone(labels) }
}

// WithDayOr sets how a cron clock combines a restricted day-of-month and a
// restricted day-of-week: true (the default, as in cron and Prefect) fires on
// days matching either, false only on days matching both, so "0 0 1-7 * 2"
// with WithDayOr(false) is the first Tuesday of each month. When either field
// is "*" both must match whatever this says. It is an error on other clocks.
func WithDayOr(on bool) ClockOption {
	return func(o *clockOptions) { o.dayOr = &on }
}

// WithLocation sets the clock's location: the zone a cron expression is read
// in, the zone an interval clock of a day or more keeps its wall time in, and
// the zone events are reported in. Without it the location is the start's
// (as in Prefect, where the start date's time zone rules), or UTC when there
// is no start. With both, WithLocation wins and the start is only an
// instant. A nil location is an error.
func WithLocation(loc *time.Location) ClockOption {
	return func(o *clockOptions) { o.loc, o.locSet = loc, true }
}

// clockBase is what every clock of this package shares.
type clockBase struct {
	start, end time.Time // zero when unset
	loc        *time.Location
	params     map[string]any
	labels     []string
}

func buildOptions(kind string, opts []ClockOption) (clockOptions, clockBase, error) {
	var o clockOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	b := clockBase{params: o.params, labels: o.labels, loc: time.UTC}
	if o.locSet && o.loc == nil {
		return o, b, invalidf("%s clock: nil location (load one with time.LoadLocation or schedule.LoadLocation, e.g. \"Europe/Berlin\", or use time.UTC)", kind)
	}
	if o.hasStart && o.start.IsZero() {
		return o, b, invalidf("%s clock: zero start time (give a start date, or leave WithStart out)", kind)
	}
	if o.hasEnd && o.end.IsZero() {
		return o, b, invalidf("%s clock: zero end time (give an end date, or leave WithEnd out)", kind)
	}
	if err := checkSpan(kind+" clock", o.start, o.end); err != nil {
		return o, b, err
	}
	if o.dayOr != nil && kind != "cron" {
		return o, b, invalidf("%s clock: WithDayOr applies only to cron clocks", kind)
	}
	switch {
	case o.locSet:
		b.loc = o.loc
	case o.hasStart:
		b.loc = o.start.Location()
	}
	if o.hasStart {
		b.start = o.start.In(b.loc)
	}
	if o.hasEnd {
		b.end = o.end.In(b.loc)
	}
	return o, b, nil
}

func (b *clockBase) event(t time.Time) Event {
	return Event{Start: t, ParameterDefaults: maps.Clone(b.params), Labels: slices.Clone(b.labels)}
}

// pastEnd reports whether t is after the clock's end.
func (b *clockBase) pastEnd(t time.Time) bool { return !b.end.IsZero() && t.After(b.end) }

// intervalClock fires every `every`, counted from its start.
type intervalClock struct {
	clockBase
	every  time.Duration
	anchor time.Time // the start, or Prefect's default 2019-01-01 00:00
}

// NewIntervalClock returns a clock that fires at its start and every `every`
// after it (Prefect's IntervalClock). Without WithStart it counts from
// 2019-01-01 00:00 in the clock's location (UTC unless WithLocation), as
// Prefect does, so an hourly clock fires on the hour.
//
// Daylight saving time, as Prefect documents it: an interval of 24 hours or
// more keeps its wall-clock time in the clock's location, so a daily clock
// that starts at 09:00 fires at 09:00 local time on both sides of a change
// (its whole days are calendar days; any remainder is added as elapsed
// time). An interval under 24 hours steps in elapsed time: an hourly clock
// fires every UTC hour, so when the clocks go back two runs read 01:00 local
// time, and when they go forward none reads 02:00. A daily wall time that
// does not exist that day (02:30 on spring-forward day) fires an hour later
// by the wall clock (03:30), the same instant as 02:30 would have been;
// one that exists twice fires at its first occurrence (pendulum's default,
// which Prefect uses).
//
// every must be positive.
func NewIntervalClock(every time.Duration, opts ...ClockOption) (Clock, error) {
	if every <= 0 {
		return nil, invalidf("interval clock: interval %v is not positive (want a duration greater than 0, e.g. time.Hour)", every)
	}
	_, b, err := buildOptions("interval", opts)
	if err != nil {
		return nil, err
	}
	c := &intervalClock{clockBase: b, every: every, anchor: b.start}
	if c.anchor.IsZero() {
		c.anchor = time.Date(2019, 1, 1, 0, 0, 0, 0, b.loc)
	}
	return c, nil
}

const day = 24 * time.Hour

// at returns the k-th event time: k intervals after the anchor, whole days
// by the calendar in the clock's location and the rest in elapsed time, as
// Prefect's pendulum start_date.add(days=..., seconds=...) does. The
// arithmetic is exact (big integers), not time.Duration's, which saturates
// at about 292 years.
func (c *intervalClock) at(k int64) time.Time {
	total := new(big.Int).Mul(big.NewInt(k), big.NewInt(int64(c.every)))
	if c.every < day {
		return addNanos(c.anchor, total)
	}
	days, rest := new(big.Int).DivMod(total, big.NewInt(int64(day)), new(big.Int))
	if !days.IsInt64() || days.Int64() > 1<<20 { // far past the supported range
		return maxTime.Add(time.Nanosecond)
	}
	n := naive(c.anchor, c.loc).AddDate(0, 0, int(days.Int64()))
	return resolve(n, c.loc, earlier).Add(time.Duration(rest.Int64()))
}

// first returns the index of an event at or before the first event after
// `after`: the number of whole intervals from the anchor to `after`, less a
// margin. It is exact for any anchor and `after` in the supported range.
// For intervals of a day or more it counts on wall-clock (naive) readings,
// as at does, and steps back two intervals, which covers any difference
// between the two readings' UTC offsets (a day at most, as when a
// zone skips a calendar day).
func (c *intervalClock) first(after time.Time) int64 {
	if !after.After(c.anchor) {
		return 0
	}
	var d *big.Int
	if c.every < day {
		d = nanosBetween(c.anchor, after)
	} else {
		d = nanosBetween(naive(c.anchor, c.loc), naive(after, c.loc))
	}
	k := d.Quo(d, big.NewInt(int64(c.every)))
	if !k.IsInt64() {
		return 0
	}
	if k := k.Int64() - 2; k > 0 {
		return k
	}
	return 0
}

// Events implements Clock.
func (c *intervalClock) Events(after time.Time) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		if after.After(maxTime) {
			return // no event after the supported range
		}
		// Jump straight to just before `after` rather than stepping from
		// the anchor, so that the loop skips at most a few intervals.
		for k := c.first(after); ; k++ {
			t := c.at(k)
			if t.After(maxTime) || c.pastEnd(t) {
				return
			}
			if !t.After(after) || t.Before(c.anchor) {
				continue
			}
			if !yield(c.event(t)) {
				return
			}
		}
	}
}

// datesClock fires at a fixed list of times.
type datesClock struct {
	clockBase
	dates  []time.Time // sorted
	locSet bool        // WithLocation was given: dates are reported in loc
}

// NewDatesClock returns a clock that fires at each of dates (Prefect's
// DatesClock), in time order whatever their order in the list. The list
// must not be empty. Each event is reported in its date's location, or in
// WithLocation's if given. WithStart and WithEnd, which Prefect's DatesClock
// does not take, bound the dates as they bound other clocks.
func NewDatesClock(dates []time.Time, opts ...ClockOption) (Clock, error) {
	if len(dates) == 0 {
		return nil, invalidf("dates clock: no dates (give at least one time)")
	}
	o, b, err := buildOptions("dates", opts)
	if err != nil {
		return nil, err
	}
	c := &datesClock{clockBase: b, dates: make([]time.Time, 0, len(dates)), locSet: o.locSet}
	for i, d := range dates {
		if d.IsZero() {
			return nil, invalidf("dates clock: date %d is the zero time (give a real date)", i)
		}
		if err := checkRange(fmt.Sprintf("dates clock: date %d,", i), d); err != nil {
			return nil, err
		}
		if o.locSet {
			d = d.In(b.loc)
		}
		c.dates = append(c.dates, d)
	}
	sort.SliceStable(c.dates, func(i, j int) bool { return c.dates[i].Before(c.dates[j]) })
	return c, nil
}

// Events implements Clock.
func (c *datesClock) Events(after time.Time) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for _, d := range c.dates {
			if !d.After(after) || (!c.start.IsZero() && d.Before(c.start)) {
				continue
			}
			if c.pastEnd(d) {
				return
			}
			if !yield(c.event(d)) {
				return
			}
		}
	}
}

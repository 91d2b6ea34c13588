package schedule

import (
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronClock fires when the wall clock in its location matches a cron
// expression.
type cronClock struct {
	clockBase
	expr  string
	dayOr bool
	spec  *cron.SpecSchedule // evaluated on naive (UTC-stored) wall times
}

// starBit is robfig/cron v3.0.1's marker for a field written "*" (spec.go).
// Its dayMatches ORs day-of-month and day-of-week only when neither carries
// it, so setting it on day-of-month turns the OR into Prefect's day_or=False
// AND without touching which days match.
const starBit = 1 << 63

// NewCronClock returns a clock that fires whenever the wall clock in the
// clock's location matches expr (Prefect's CronClock). expr is a standard
// five-field cron expression, "minute hour day-of-month month day-of-week"
// (names such as JAN and MON allowed), or one of the descriptors @yearly,
// @annually, @monthly, @weekly, @daily, @midnight and @hourly, as
// robfig/cron's ParseStandard reads them. "@every 1h" is not a cron time: use
// NewIntervalClock. The zone comes from WithLocation or WithStart (UTC
// without either), not from a CRON_TZ= prefix. croniter syntax beyond that
// (L, W, #, 7 as Sunday, a sixth field, H and R) is an error saying it is
// not supported; the package documentation lists what is.
//
// An expression that no date can match (February 30, April 31) is an
// error; one that matches rarely ("0 0 29 2 1" with WithDayOr(false), a
// leap day that is a Monday) is searched for up to the clock's end or
// 2262, beyond robfig/cron's own five years.
//
// Daylight saving time: cron times are wall-clock times, so a clock that
// fires at 09:00 fires at 09:00 local time on both sides of a change, and an
// hourly clock fires on every new wall-clock hour, not every elapsed hour. At
// a change the clock neither skips nor doubles a run:
//   - a time in the hour skipped when clocks go forward fires as far past the
//     change as it was meant to be past the hour: "30 2 * * *" fires at 03:30
//     on spring-forward day in New York, the instant 02:30 EST would have
//     been. A time that lands on another run ("0 2 * * *" and "0 3 * * *"
//     both at 03:00) fires once.
//   - a time in the hour repeated when clocks go back fires once, at its
//     second occurrence (standard time), as Prefect 1.4.1's tests observe
//     (test_cron_clock_hourly_daylight_savings_time_backward: an hourly
//     clock fires at 00:00 EDT, 01:00 EST, 02:00 EST, a two-hour pause after
//     midnight). Prefect's docstring describes the first occurrence; its
//     tests and croniter do otherwise, and this package follows the tests.
//
// robfig/cron's own Next skips the first case and doubles the second, so the
// clock uses the library for parsing and for matching on DST-free wall
// times only, and maps wall times to instants itself.
//
// Like Prefect, the clock respects sub-second starts: with a start of
// 00:00:00.000001 a daily midnight clock first fires the next day.
func NewCronClock(expr string, opts ...ClockOption) (Clock, error) {
	o, b, err := buildOptions("cron", opts)
	if err != nil {
		return nil, err
	}
	spec, err := parseCron(expr)
	if err != nil {
		return nil, err
	}
	c := &cronClock{clockBase: b, expr: expr, dayOr: true, spec: spec}
	if o.dayOr != nil {
		c.dayOr = *o.dayOr
	}
	if !c.dayOr {
		c.spec.Dom |= starBit
	}
	// An expression can parse yet never fire ("0 0 30 2 *"); say so now, not
	// when the first run is due. The Gregorian calendar repeats, weekdays
	// included, every 400 years, so a day that matches is in 2000-2399 if
	// anywhere ("0 0 29 2 1" with WithDayOr(false) fires in 2016 and 2044).
	if !c.matchesSomeDay() {
		return nil, invalidf("cron expression %q never fires (no date matches its day-of-month, month and day-of-week)", expr)
	}
	return c, nil
}

const cronHelp = "minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly, @yearly"

func parseCron(expr string) (*cron.SpecSchedule, error) {
	trimmed := strings.TrimSpace(expr)
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, invalidf("cron expression %q: a time zone prefix is not accepted (give the zone with WithLocation or WithStart)", expr)
	}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		if what := unsupportedCron(trimmed); what != "" {
			return nil, invalidWrap(err, "cron expression %q: %s is not supported (%s; see the package documentation for the supported syntax)", expr, what, cronHelp)
		}
		return nil, invalidWrap(err, "cron expression %q: %v (%s)", expr, err, cronHelp)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok { // @every
		return nil, invalidf("cron expression %q: @every is an interval, not a cron time (use NewIntervalClock or Interval)", expr)
	}
	// The spec is evaluated on naive wall times stored in UTC (see Events).
	cp := *spec
	cp.Location = time.UTC
	return &cp, nil
}

// dstSlack is how far before `after`'s wall time the search starts: a wall
// time up to this much earlier can still be a later instant, when clocks go
// back. No zone shifts by more than this.
const dstSlack = 3 * time.Hour

// Events implements Clock.
func (c *cronClock) Events(after time.Time) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		// Prefect: "advance to at least one second before the start (so
		// that the start date itself will be registered)". The start is
		// inclusive, `after` exclusive: the lower bound is whichever is
		// later.
		last := after
		if !c.start.IsZero() && c.start.Add(-time.Nanosecond).After(last) {
			last = c.start.Add(-time.Nanosecond)
		}
		if last.Before(minTime) { // no event before the supported range
			last = minTime.Add(-time.Nanosecond)
		}
		if last.After(maxTime) {
			return // no event after the supported range
		}
		// The search ends at the clock's end, or at the end of the
		// supported range (2262-04-11).
		limit := maxTime
		if !c.end.IsZero() && c.end.Before(limit) {
			limit = c.end
		}
		limitN := naive(limit, c.loc).Add(dstSlack)
		n := naive(last, c.loc).Add(-dstSlack)
		// Walk wall times in the clock's location, free of DST, and map
		// each to an instant. Mapped instants are not always increasing
		// (the wall times of a skipped hour map onto the hour after it),
		// so keep only those past the last one yielded: that neither
		// repeats nor reorders a run.
		for {
			n = c.next(n, limitN)
			if n.IsZero() { // no match before the limit
				return
			}
			t := resolve(n, c.loc, later)
			if !t.After(last) {
				continue
			}
			if t.After(limit) {
				return
			}
			last = t
			if !yield(c.event(t)) {
				return
			}
		}
	}
}

// next returns the first wall time after n that matches the spec, or the
// zero time when there is none up to limit. robfig/cron's Next gives up
// after five years ("0 0 29 2 *" after 2097-03-01 next fires in 2104); next
// repeats its search from where it gave up (it has searched at least five
// years past n) until limit.
func (c *cronClock) next(n, limit time.Time) time.Time {
	for !n.After(limit) {
		if m := c.spec.Next(n); !m.IsZero() {
			if m.After(limit) {
				return time.Time{}
			}
			return m
		}
		n = n.AddDate(5, 0, 0)
	}
	return time.Time{}
}

// matchesSomeDay reports whether any date matches the spec's day-of-month,
// month and day-of-week (combined as robfig/cron's dayMatches does: both
// when either carries starBit, else either). It checks a whole 400-year
// Gregorian cycle, after which dates and weekdays repeat.
func (c *cronClock) matchesSomeDay() bool {
	s := c.spec
	for y := 2000; y < 2400; y++ {
		for m := time.January; m <= time.December; m++ {
			if s.Month&(1<<uint(m)) == 0 {
				continue
			}
			first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
			days := first.AddDate(0, 1, -1).Day()
			wd := first.Weekday()
			for d := 1; d <= days; d++ {
				dom := s.Dom&(1<<uint(d)) != 0
				dow := s.Dow&(1<<uint((int(wd)+d-1)%7)) != 0
				if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
					if dom && dow {
						return true
					}
				} else if dom || dow {
					return true
				}
			}
		}
	}
	return false
}

// unsupportedCron names croniter (Prefect) syntax that robfig/cron does not
// read, so that the error says so rather than quoting strconv; "" when the
// expression uses none.
func unsupportedCron(expr string) string {
	f := strings.Fields(strings.ToUpper(expr))
	if len(f) == 0 || strings.HasPrefix(f[0], "@") {
		return ""
	}
	if len(f) == 6 || len(f) == 7 {
		return fmt.Sprintf("a %d-field expression (a seconds or year field)", len(f))
	}
	if len(f) != 5 {
		return ""
	}
	dom, dow := f[2], f[4]
	switch {
	case strings.Contains(dom, "#") || strings.Contains(dow, "#"):
		return "'#' (the nth weekday of the month, as in 1#2)"
	case strings.Contains(dom, "L") || strings.Contains(dow, "L"):
		return "'L' (the last day of the month or the last weekday, as in L or 5L)"
	case strings.Contains(dom, "W"):
		return "'W' (the nearest weekday, as in 15W)"
	case strings.ContainsAny(f[0]+f[1]+dom, "HR"): // fields without names
		return "'H' or 'R' (hashed or random values)"
	}
	for _, tok := range strings.FieldsFunc(dow, func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
		if tok == "7" {
			return "7 as Sunday in the day-of-week field (use 0 or SUN)"
		}
	}
	return ""
}

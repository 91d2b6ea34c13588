package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// filterKind names a filter; the names are Prefect's (prefect.schedules.filters)
// and are what a stored schedule records.
type filterKind string

const (
	kindOnDatetime       filterKind = "on_datetime"
	kindOnDate           filterKind = "on_date"
	kindAtTime           filterKind = "at_time"
	kindIsWeekday        filterKind = "is_weekday"
	kindIsWeekend        filterKind = "is_weekend"
	kindIsMonthStart     filterKind = "is_month_start"
	kindIsMonthEnd       filterKind = "is_month_end"
	kindBetweenDatetimes filterKind = "between_datetimes"
	kindBetweenTimes     filterKind = "between_times"
	kindBetweenDates     filterKind = "between_dates"
)

// Filter decides whether a clock event fires. It is data (a kind and its
// arguments), not a func, so that a Schedule can be stored as JSON and read
// back. Make one with OnDatetime, OnDate, AtTime, IsWeekday, IsWeekend,
// IsMonthStart, IsMonthEnd, BetweenDatetimes, BetweenTimes or BetweenDates;
// a constructor given a bad argument records the error, which New reports.
// Filters read dates and times of day in the event's location (the clock's).
type Filter struct {
	kind       filterKind
	t1, t2     time.Time     // on_datetime, between_datetimes
	m1, m2     time.Month    // on_date, between_dates
	d1, d2     int           // on_date, between_dates
	tod1, tod2 time.Duration // at_time, between_times: time of day
	s1, s2     string        // between_times: the text given, kept for JSON
	err        error
}

// OnDatetime matches events at exactly t (the same instant, in any zone).
func OnDatetime(t time.Time) Filter {
	f := Filter{kind: kindOnDatetime, t1: t}
	if t.IsZero() {
		f.err = invalidf("filter on_datetime: zero time (give the instant to match)")
	} else {
		f.err = checkRange("filter on_datetime: time", t)
	}
	return f
}

// OnDate matches events on the given month and day in any year.
func OnDate(month time.Month, day int) Filter {
	return Filter{kind: kindOnDate, m1: month, d1: day, err: checkDate("on_date", month, day)}
}

// AtTime matches events at exactly hour:minute:second (and no fraction of a
// second), read in the event's location: AtTime(4, 0, 0) allows only runs at
// 04:00.
func AtTime(hour, minute, second int) Filter {
	f := Filter{kind: kindAtTime, tod1: tod(hour, minute, second)}
	if hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 {
		f.err = invalidf("filter at_time: %d:%d:%d is not a time of day (want hour 0-23, minute 0-59, second 0-59)", hour, minute, second)
	}
	return f
}

// IsWeekday matches events on Monday to Friday.
func IsWeekday() Filter { return Filter{kind: kindIsWeekday} }

// IsWeekend matches events on Saturday and Sunday.
func IsWeekend() Filter { return Filter{kind: kindIsWeekend} }

// IsMonthStart matches events on the first day of a month.
func IsMonthStart() Filter { return Filter{kind: kindIsMonthStart} }

// IsMonthEnd matches events on the last day of a month.
func IsMonthEnd() Filter { return Filter{kind: kindIsMonthEnd} }

// BetweenDatetimes matches events from start to end, both included. end
// before start is an error.
func BetweenDatetimes(start, end time.Time) Filter {
	f := Filter{kind: kindBetweenDatetimes, t1: start, t2: end}
	if start.IsZero() || end.IsZero() {
		f.err = invalidf("filter between_datetimes: zero time (give both the start and the end)")
	} else {
		f.err = checkSpan("filter between_datetimes", start, end)
	}
	return f
}

// BetweenTimes matches events whose time of day is from start to end, both
// included, read in the event's location. Times are "15:04" or "15:04:05".
// When start is after end the range wraps past midnight, as Prefect's does:
// BetweenTimes("22:00", "06:00") matches nights.
func BetweenTimes(start, end string) Filter {
	f := Filter{kind: kindBetweenTimes, s1: start, s2: end}
	var err1, err2 error
	f.tod1, err1 = parseTimeOfDay("between_times", start)
	f.tod2, err2 = parseTimeOfDay("between_times", end)
	if err1 != nil {
		f.err = err1
	} else if err2 != nil {
		f.err = err2
	}
	return f
}

// BetweenDates matches events from startMonth/startDay to endMonth/endDay in
// any year, both included. When the start month is after the end month the
// range wraps past the new year, as Prefect's does: BetweenDates(time.October,
// 15, time.March, 31) matches October 15 to March 31.
func BetweenDates(startMonth time.Month, startDay int, endMonth time.Month, endDay int) Filter {
	f := Filter{kind: kindBetweenDates, m1: startMonth, d1: startDay, m2: endMonth, d2: endDay}
	if f.err = checkDate("between_dates start", startMonth, startDay); f.err == nil {
		f.err = checkDate("between_dates end", endMonth, endDay)
	}
	return f
}

// Match reports whether t passes the filter. A filter whose constructor was
// given a bad argument (New rejects it) and the zero Filter match nothing.
func (f Filter) Match(t time.Time) bool {
	if f.err != nil {
		return false
	}
	switch f.kind {
	case kindOnDatetime:
		return t.Equal(f.t1)
	case kindOnDate:
		return t.Month() == f.m1 && t.Day() == f.d1
	case kindAtTime:
		return timeOfDay(t) == f.tod1
	case kindIsWeekday:
		return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
	case kindIsWeekend:
		return t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
	case kindIsMonthStart:
		return t.Day() == 1
	case kindIsMonthEnd:
		return t.AddDate(0, 0, 1).Month() != t.Month()
	case kindBetweenDatetimes:
		return !t.Before(f.t1) && !t.After(f.t2)
	case kindBetweenTimes:
		d := timeOfDay(t)
		if f.tod1 <= f.tod2 {
			return d >= f.tod1 && d <= f.tod2
		}
		return d >= f.tod1 || d <= f.tod2
	case kindBetweenDates:
		d := monthDay(t.Month(), t.Day())
		start, end := monthDay(f.m1, f.d1), monthDay(f.m2, f.d2)
		if f.m1 <= f.m2 {
			return d >= start && d <= end
		}
		return d >= start || d <= end
	}
	return false
}

// String describes the filter in Prefect's terms, e.g.
// between_times(09:00, 17:00).
func (f Filter) String() string {
	switch f.kind {
	case kindOnDatetime:
		return fmt.Sprintf("%s(%s)", f.kind, f.t1.Format(time.RFC3339Nano))
	case kindOnDate:
		return fmt.Sprintf("%s(%s %d)", f.kind, f.m1, f.d1)
	case kindAtTime:
		return fmt.Sprintf("%s(%s)", f.kind, formatTimeOfDay(f.tod1))
	case kindBetweenDatetimes:
		return fmt.Sprintf("%s(%s, %s)", f.kind, f.t1.Format(time.RFC3339Nano), f.t2.Format(time.RFC3339Nano))
	case kindBetweenTimes:
		return fmt.Sprintf("%s(%s, %s)", f.kind, f.s1, f.s2)
	case kindBetweenDates:
		return fmt.Sprintf("%s(%s %d, %s %d)", f.kind, f.m1, f.d1, f.m2, f.d2)
	case "":
		return "<zero Filter>"
	}
	return string(f.kind)
}

// check returns the error a constructor recorded, or one for the zero Filter.
func (f Filter) check() error {
	if f.kind == "" {
		return invalidf("zero Filter (make filters with IsWeekday, BetweenTimes, ...)")
	}
	return f.err
}

func monthDay(m time.Month, d int) int { return int(m)*100 + d }

// daysIn is the most days a month has in any year (February: 29, so that
// OnDate(time.February, 29) matches leap days).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func checkDate(what string, m time.Month, d int) error {
	if m < time.January || m > time.December {
		return invalidf("filter %s: month %d is not a month (want 1-12, or time.January ... time.December)", what, int(m))
	}
	if d < 1 || d > daysIn[m] {
		return invalidf("filter %s: day %d is not a day of %s (want 1-%d)", what, d, m, daysIn[m])
	}
	return nil
}

func tod(h, m, s int) time.Duration {
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
}

func timeOfDay(t time.Time) time.Duration {
	return tod(t.Hour(), t.Minute(), t.Second()) + time.Duration(t.Nanosecond())
}

func formatTimeOfDay(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

// parseTimeOfDay reads "15:04" or "15:04:05".
func parseTimeOfDay(filter, s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, invalidf("filter %s: %q is not a time of day (want \"HH:MM\" or \"HH:MM:SS\", 00:00 to 23:59:59, e.g. \"09:00\" or \"17:30:00\")", filter, s)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 2 && len(parts) != 3 {
		return bad()
	}
	var v [3]int
	for i, p := range parts {
		if len(p) != 2 {
			return bad()
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return bad()
		}
		v[i] = n
	}
	if v[0] > 23 || v[1] > 59 || v[2] > 59 {
		return bad()
	}
	return tod(v[0], v[1], v[2]), nil
}

type adjustmentKind string

const (
	kindAdd         adjustmentKind = "add"
	kindNextWeekday adjustmentKind = "next_weekday"
)

// Adjustment moves an event's time after it has passed the filters. Like
// Filter it is data, so that a Schedule can be stored. Make one with Add or
// NextWeekday.
type Adjustment struct {
	kind adjustmentKind
	d    time.Duration
}

// Add moves events by d in elapsed time (d may be negative).
func Add(d time.Duration) Adjustment { return Adjustment{kind: kindAdd, d: d} }

// NextWeekday moves an event on a Saturday or Sunday to the same wall time
// on the next Monday, in the event's location; weekday events are unchanged.
func NextWeekday() Adjustment { return Adjustment{kind: kindNextWeekday} }

// Apply returns t adjusted. The zero Adjustment returns t.
func (a Adjustment) Apply(t time.Time) time.Time {
	switch a.kind {
	case kindAdd:
		return t.Add(a.d)
	case kindNextWeekday:
		for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
			t = resolve(naive(t, t.Location()).AddDate(0, 0, 1), t.Location(), earlier)
		}
	}
	return t
}

// String describes the adjustment in Prefect's terms, e.g. add(1h0m0s).
func (a Adjustment) String() string {
	switch a.kind {
	case kindAdd:
		return fmt.Sprintf("add(%v)", a.d)
	case "":
		return "<zero Adjustment>"
	}
	return string(a.kind)
}

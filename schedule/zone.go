package schedule

import "time"

// A wall-clock time (a date and a time of day read in a zone) names zero,
// one or two instants: none in the hour skipped when clocks go forward, two
// in the hour repeated when they go back. Go's time.Date leaves the choice
// unspecified, so the clocks resolve wall times with this function and a
// rule they document.

// ambiguity says which instant a repeated wall time resolves to.
type ambiguity int

const (
	earlier ambiguity = iota // the first occurrence (daylight time, before the change)
	later                    // the second occurrence (standard time, after the change)
)

// naive returns t's wall-clock reading in loc, stored as the same reading in
// UTC, where there is no DST and so arithmetic on it is plain calendar
// arithmetic.
func naive(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// resolve returns the instant at which the wall clock in loc reads n's
// (UTC-stored) reading. A reading in a skipped hour resolves as if the
// clocks had not changed yet, so that it lands as far past the change as it
// was meant to be past the hour (02:30 on spring-forward day in New York is
// 03:30 EDT); a repeated reading resolves to the occurrence amb chooses.
func resolve(n time.Time, loc *time.Location, amb ambiguity) time.Time {
	// The offsets in force a day either side cover every transition in
	// practice; a zone does not change its offset twice within two days.
	_, before := n.Add(-24 * time.Hour).In(loc).Zone()
	_, after := n.Add(24 * time.Hour).In(loc).Zone()
	var found []time.Time
	for _, off := range []int{before, after} {
		c := n.Add(-time.Duration(off) * time.Second).In(loc)
		if _, o := c.Zone(); o == off && (len(found) == 0 || !found[0].Equal(c)) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0: // skipped: read it with the offset from before the change
		return n.Add(-time.Duration(before) * time.Second).In(loc)
	case 1:
		return found[0]
	}
	a, b := found[0], found[1]
	if b.Before(a) {
		a, b = b, a
	}
	if amb == later {
		return b
	}
	return a
}

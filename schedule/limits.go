package schedule

import (
	"math"
	"math/big"
	"time"
)

// The supported range of times: where time.Time.UnixNano is defined
// (1677-09-21 to 2262-04-11), since the server stores planned starts as
// UnixNano. A clock's start, end and dates, and a filter's instants, must
// lie in it; a clock's events end at its end.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// checkRange returns an error matching ErrInvalid naming t and the
// supported range when t is outside it.
func checkRange(what string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return invalidf("%s %s is outside the supported range %s to %s (years 1678-2262, where time.Time.UnixNano is defined)",
			what, t.Format(time.RFC3339Nano), minTime.Format(time.RFC3339Nano), maxTime.Format(time.RFC3339Nano))
	}
	return nil
}

// checkSpan checks a start and an end, either zero when absent: each must be
// in the supported range, and the end not before the start. what prefixes
// the error, e.g. "cron clock" or "filter between_datetimes".
func checkSpan(what string, start, end time.Time) error {
	if !start.IsZero() {
		if err := checkRange(what+": start", start); err != nil {
			return err
		}
	}
	if !end.IsZero() {
		if err := checkRange(what+": end", end); err != nil {
			return err
		}
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return invalidf("%s: end %s is before start %s (the end must be at or after the start)", what, end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return nil
}

var bigBillion = big.NewInt(1e9)

// nanosBetween returns b - a in nanoseconds, exactly, whatever the span.
func nanosBetween(a, b time.Time) *big.Int {
	d := new(big.Int).Mul(big.NewInt(b.Unix()-a.Unix()), bigBillion)
	return d.Add(d, big.NewInt(int64(b.Nanosecond()-a.Nanosecond())))
}

// addNanos returns t plus n nanoseconds, exactly (time.Time.Add saturates
// at about 292 years), in t's location.
func addNanos(t time.Time, n *big.Int) time.Time {
	sec, ns := new(big.Int).DivMod(n, bigBillion, new(big.Int))
	if !sec.IsInt64() {
		return maxTime.Add(time.Nanosecond)
	}
	return time.Unix(t.Unix()+sec.Int64(), int64(t.Nanosecond())+ns.Int64()).In(t.Location())
}

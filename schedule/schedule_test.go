package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the host's zoneinfo
)

// The tests port Prefect 1.4.1's tests/schedules (test_clocks.py,
// test_schedules.py, test_filters.py, test_adjustments.py); each case names
// the Prefect test it comes from.

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(y int, m time.Month, d int, hms ...int) time.Time {
	hms = append(hms, 0, 0, 0, 0)
	return time.Date(y, m, d, hms[0], hms[1], hms[2], hms[3], time.UTC)
}

func take(c Clock, after time.Time, n int) []time.Time {
	var out []time.Time
	for e := range c.Events(after) {
		if len(out) == n {
			break
		}
		out = append(out, e.Start)
	}
	return out
}

func hours(ts []time.Time, loc *time.Location) []int {
	var out []int
	for _, t := range ts {
		out = append(out, t.In(loc).Hour())
	}
	return out
}

func sameInstants(t *testing.T, got, want []time.Time) {
	t.Helper()
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// sameHours checks the hours of got read in loc and in UTC.
func sameHours(t *testing.T, got []time.Time, loc *time.Location, wantLocal, wantUTC []int) {
	t.Helper()
	if h := hours(got, loc); !slices.Equal(h, wantLocal) {
		t.Errorf("local hours %v, want %v (%v)", h, wantLocal, got)
	}
	if h := hours(got, time.UTC); !slices.Equal(h, wantUTC) {
		t.Errorf("UTC hours %v, want %v (%v)", h, wantUTC, got)
	}
}

func mustClock(t *testing.T) func(Clock, error) Clock {
	return func(c Clock, err error) Clock {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func TestIntervalClock(t *testing.T) {
	start := utc(2018, 1, 1)
	tests := []struct {
		name  string // Prefect test
		every time.Duration
		opts  []ClockOption
		after time.Time
		n     int
		want  []time.Time
	}{
		{"events_with_after_argument", day, []ClockOption{WithStart(start)}, utc(2025, 1, 5, 1), 3,
			[]time.Time{utc(2025, 1, 6), utc(2025, 1, 7), utc(2025, 1, 8)}},
		{"end_date", day, []ClockOption{WithStart(start), WithEnd(utc(2018, 1, 2))}, start, 3,
			[]time.Time{utc(2018, 1, 2)}},
		{"end_date: after past the end", day, []ClockOption{WithStart(start), WithEnd(utc(2018, 1, 2))}, utc(2018, 2, 1), 3, nil},
		{"respects_after_in_middle_of_interval", time.Hour, []ClockOption{WithStart(start)}, start.Add(time.Microsecond), 2,
			[]time.Time{utc(2018, 1, 1, 1), utc(2018, 1, 1, 2)}},
		{"doesnt_compute_dates_before_start_date", time.Hour, []ClockOption{WithStart(start)}, utc(2000, 1, 1), 3,
			[]time.Time{start, utc(2018, 1, 1, 1), utc(2018, 1, 1, 2)}},
		{"respects_microseconds", time.Hour, []ClockOption{WithStart(utc(2018, 1, 1, 0, 0, 0, 1000))}, utc(2010, 1, 1), 3,
			[]time.Time{utc(2018, 1, 1, 0, 0, 0, 1000), utc(2018, 1, 1, 1, 0, 0, 1000), utc(2018, 1, 1, 2, 0, 0, 1000)}},
		{"no start: counts from 2019-01-01 UTC (test_create_schedule)", day, nil, utc(2019, 1, 1), 3,
			[]time.Time{utc(2019, 1, 2), utc(2019, 1, 3), utc(2019, 1, 4)}},
		{"after exactly on an event is excluded", time.Hour, []ClockOption{WithStart(start)}, utc(2018, 1, 1, 5), 1,
			[]time.Time{utc(2018, 1, 1, 6)}},
		{"36h: a calendar day plus 12 elapsed hours", 36 * time.Hour, []ClockOption{WithStart(start)}, start, 2,
			[]time.Time{utc(2018, 1, 2, 12), utc(2018, 1, 4)}},
		// More than time.Duration's 292 years from the start to `after`,
		// or between events: the arithmetic must not saturate or wrap.
		{"hourly from 1700, after 2026", time.Hour, []ClockOption{WithStart(utc(1700, 1, 1))}, utc(2026, 12, 8, 2, 30), 2,
			[]time.Time{utc(2026, 12, 8, 3), utc(2026, 12, 8, 4)}},
		{"daily from 1700, after 2200", day, []ClockOption{WithStart(utc(1700, 1, 1, 9))}, utc(2200, 6, 1, 12), 2,
			[]time.Time{utc(2200, 6, 2, 9), utc(2200, 6, 3, 9)}},
		{"daily in Berlin from 1700, after 2200", day, []ClockOption{WithStart(time.Date(1700, 1, 1, 9, 0, 0, 0, zone(t, "Europe/Berlin")))}, utc(2200, 6, 1, 12), 1,
			[]time.Time{time.Date(2200, 6, 2, 9, 0, 0, 0, zone(t, "Europe/Berlin"))}},
		{"200-year interval in order, ending at 2262", 73000 * day, []ClockOption{WithStart(utc(1700, 1, 1))}, time.Time{}, 5,
			[]time.Time{utc(1700, 1, 1), utc(1700, 1, 1+73000), utc(1700, 1, 1+146000)}},
		{"daily, after 2400: none", day, nil, utc(2400, 1, 1), 1, nil},
		{"daily ends at 2262-04-11", day, []ClockOption{WithStart(utc(2262, 4, 9))}, time.Time{}, 5,
			[]time.Time{utc(2262, 4, 9), utc(2262, 4, 10), utc(2262, 4, 11)}},
		{"hourly ends at 2262-04-11 23:00", time.Hour, nil, utc(2262, 4, 11, 21, 30), 5,
			[]time.Time{utc(2262, 4, 11, 22), utc(2262, 4, 11, 23)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustClock(t)(NewIntervalClock(tt.every, tt.opts...))
			sameInstants(t, take(c, tt.after, tt.n), tt.want)
		})
	}
}

// test_interval_clock_always_has_the_right_offset: a short interval long
// after a start in a DST zone never yields a time at or before `after`.
func TestIntervalClockAlwaysAfter(t *testing.T) {
	start := time.Unix(1582002945, 964696000).In(zone(t, "US/Pacific"))
	after := time.Unix(1593643144, 233938000).UTC()
	c := mustClock(t)(NewIntervalClock(75*time.Second, WithStart(start)))
	for _, e := range take(c, after, 4) {
		if !e.After(after) {
			t.Errorf("event %v is not after %v", e, after)
		}
	}
}

func TestIntervalClockDST(t *testing.T) {
	ny, berlin := zone(t, "America/New_York"), zone(t, "Europe/Berlin")
	tests := []struct {
		name          string // Prefect test (test_interval_clock_...), or ours
		every         time.Duration
		start         time.Time
		loc           *time.Location
		wantLocal     []int
		wantUTC       []int
		wantLocalDays []int
	}{
		{"hourly_daylight_savings_time_forward_with_UTC", time.Hour, time.Date(2018, 3, 10, 23, 0, 0, 0, ny).UTC(), ny,
			[]int{0, 1, 3, 4}, []int{5, 6, 7, 8}, nil},
		{"hourly_daylight_savings_time_forward", time.Hour, time.Date(2018, 3, 10, 23, 0, 0, 0, ny), ny,
			[]int{0, 1, 3, 4}, []int{5, 6, 7, 8}, nil},
		{"hourly_daylight_savings_time_backward", time.Hour, time.Date(2018, 11, 3, 23, 0, 0, 0, ny), ny,
			[]int{0, 1, 1, 2}, []int{4, 5, 6, 7}, nil},
		{"daily_start_daylight_savings_time_forward", day, time.Date(2018, 3, 8, 9, 0, 0, 0, ny), ny,
			[]int{9, 9, 9, 9}, []int{14, 14, 13, 13}, nil},
		{"daily_start_daylight_savings_time_backward", day, time.Date(2018, 11, 1, 9, 0, 0, 0, ny), ny,
			[]int{9, 9, 9, 9}, []int{13, 13, 14, 14}, nil},
		// Europe/Berlin: forward 2018-03-25 02:00 CET -> 03:00 CEST; back
		// 2018-10-28 03:00 CEST -> 02:00 CET.
		{"Berlin hourly forward", time.Hour, time.Date(2018, 3, 25, 0, 0, 0, 0, berlin), berlin,
			[]int{1, 3, 4, 5}, []int{0, 1, 2, 3}, nil},
		{"Berlin hourly backward", time.Hour, time.Date(2018, 10, 28, 1, 0, 0, 0, berlin), berlin,
			[]int{2, 2, 3, 4}, []int{0, 1, 2, 3}, nil},
		{"Berlin daily forward", day, time.Date(2018, 3, 23, 9, 0, 0, 0, berlin), berlin,
			[]int{9, 9, 9, 9}, []int{8, 7, 7, 7}, nil},
		{"Berlin daily backward", day, time.Date(2018, 10, 26, 9, 0, 0, 0, berlin), berlin,
			[]int{9, 9, 9, 9}, []int{7, 8, 8, 8}, nil},
		// A daily wall time that does not exist on spring-forward day fires
		// at the instant it would have been (03:30 EDT); one that exists
		// twice fires once, at its first occurrence.
		{"daily 02:30 on spring-forward day", day, time.Date(2018, 3, 10, 2, 30, 0, 0, ny), ny,
			[]int{3, 2, 2, 2}, []int{7, 6, 6, 6}, []int{11, 12, 13, 14}},
		{"daily 01:30 on fall-back day", day, time.Date(2018, 11, 3, 1, 30, 0, 0, ny), ny,
			[]int{1, 1, 1, 1}, []int{5, 6, 6, 6}, []int{4, 5, 6, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustClock(t)(NewIntervalClock(tt.every, WithStart(tt.start)))
			got := take(c, tt.start, 4)
			sameHours(t, got, tt.loc, tt.wantLocal, tt.wantUTC)
			if tt.wantLocalDays != nil {
				var days []int
				for _, g := range got {
					days = append(days, g.In(tt.loc).Day())
				}
				if !slices.Equal(days, tt.wantLocalDays) {
					t.Errorf("local days %v, want %v", days, tt.wantLocalDays)
				}
			}
		})
	}
}

func TestCronClock(t *testing.T) {
	tests := []struct {
		name  string // Prefect test (test_cron_clock_...), or ours
		expr  string
		opts  []ClockOption
		after time.Time
		n     int
		want  []time.Time
	}{
		{"events_with_after_argument", "0 0 * * *", nil, utc(2018, 1, 1), 3,
			[]time.Time{utc(2018, 1, 2), utc(2018, 1, 3), utc(2018, 1, 4)}},
		{"start_date", "0 0 * * *", []ClockOption{WithStart(utc(2050, 1, 1))}, utc(2024, 1, 1), 3,
			[]time.Time{utc(2050, 1, 1), utc(2050, 1, 2), utc(2050, 1, 3)}},
		{"end_date", "0 0 * * *", []ClockOption{WithStart(utc(2050, 1, 1)), WithEnd(utc(2050, 1, 2))}, utc(2024, 1, 1), 3,
			[]time.Time{utc(2050, 1, 1), utc(2050, 1, 2)}},
		{"when_start_date_doesnt_align_with_schedule", "0 0 * * *", []ClockOption{WithStart(utc(2050, 1, 1, 6))}, utc(2024, 1, 1), 1,
			[]time.Time{utc(2050, 1, 2)}},
		{"when_start_date_and_after_doesnt_align_with_schedule", "0 0 * * *", []ClockOption{WithStart(utc(2050, 1, 1, 6))}, utc(2050, 1, 1, 7), 1,
			[]time.Time{utc(2050, 1, 2)}},
		{"respects_microseconds", "0 0 * * *", []ClockOption{WithStart(utc(2050, 1, 1, 0, 0, 0, 1000))}, utc(2024, 1, 1), 1,
			[]time.Time{utc(2050, 1, 2)}},
		{"start_daylight_savings_time: no start reads cron in UTC", "0 * * * *", nil, time.Date(2018, 3, 11, 0, 0, 0, 0, zone(t, "America/New_York")), 4,
			[]time.Time{utc(2018, 3, 11, 6), utc(2018, 3, 11, 7), utc(2018, 3, 11, 8), utc(2018, 3, 11, 9)}},
		{"end_daylight_savings_time", "0 * * * *", nil, time.Date(2018, 11, 4, 0, 0, 0, 0, zone(t, "America/New_York")), 4,
			[]time.Time{utc(2018, 11, 4, 5), utc(2018, 11, 4, 6), utc(2018, 11, 4, 7), utc(2018, 11, 4, 8)}},
		{"events_with_day_or: first Tuesday of the month", "0 0 1-7 * 2", []ClockOption{WithDayOr(false)}, utc(2024, 1, 1), 3,
			[]time.Time{utc(2024, 1, 2), utc(2024, 2, 6), utc(2024, 3, 5)}},
		{"day_or default: the 1st-7th or any Tuesday", "0 0 1-7 * 2", nil, utc(2024, 1, 6), 3,
			[]time.Time{utc(2024, 1, 7), utc(2024, 1, 9), utc(2024, 1, 16)}},
		{"descriptor @hourly", "@hourly", nil, utc(2024, 1, 1, 0, 30), 2,
			[]time.Time{utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)}},
		{"WithLocation reads cron in that zone", "0 9 * * *", []ClockOption{WithLocation(zone(t, "Europe/Berlin"))}, utc(2024, 1, 1), 1,
			[]time.Time{utc(2024, 1, 1, 8)}},
		{"leap day", "0 0 29 2 *", nil, utc(2024, 3, 1), 1, []time.Time{utc(2028, 2, 29)}},
		// robfig/cron searches five years ahead; the clock searches on.
		{"leap day after 2097: 2104", "0 0 29 2 *", nil, utc(2097, 3, 1), 2, []time.Time{utc(2104, 2, 29), utc(2108, 2, 29)}},
		{"leap day after 2097, ending 2100: none", "0 0 29 2 *", []ClockOption{WithEnd(utc(2100, 1, 1))}, utc(2097, 3, 1), 1, nil},
		{"leap day on a Monday (day_or false)", "0 0 29 2 1", []ClockOption{WithDayOr(false)}, utc(2000, 1, 1), 3,
			[]time.Time{utc(2016, 2, 29), utc(2044, 2, 29), utc(2072, 2, 29)}},
		{"ends at 2262-04-11", "0 0 * * *", nil, utc(2262, 4, 9, 12), 5, []time.Time{utc(2262, 4, 10), utc(2262, 4, 11)}},
		{"after 2400: none", "0 0 * * *", nil, utc(2400, 1, 1), 1, nil},
		{"? as in croniter (documented as supported)", "0 0 ? * MON", nil, utc(2024, 1, 1), 1, []time.Time{utc(2024, 1, 8)}},
		{"zero after, no start: from 1677-09-22", "0 0 * * *", nil, time.Time{}, 1, []time.Time{utc(1677, 9, 22)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustClock(t)(NewCronClock(tt.expr, tt.opts...))
			sameInstants(t, take(c, tt.after, tt.n), tt.want)
		})
	}
}

func TestCronClockDST(t *testing.T) {
	ny, berlin := zone(t, "America/New_York"), zone(t, "Europe/Berlin")
	tests := []struct {
		name      string // Prefect test (test_cron_clock_...), or ours
		expr      string
		start     time.Time
		loc       *time.Location
		after     time.Time // zero: the start
		wantLocal []int
		wantUTC   []int
	}{
		{"hourly_daylight_savings_time_forward_ignored_with_UTC", "0 * * * *", time.Date(2018, 3, 10, 23, 0, 0, 0, ny).UTC(), ny,
			time.Date(2018, 3, 10, 23, 0, 0, 0, ny), []int{0, 1, 3, 4}, []int{5, 6, 7, 8}},
		{"hourly_daylight_savings_time_forward", "0 * * * *", time.Date(2018, 3, 10, 23, 0, 0, 0, ny), ny,
			time.Time{}, []int{0, 1, 3, 4}, []int{5, 6, 7, 8}},
		{"hourly_daylight_savings_time_backward", "0 * * * *", time.Date(2018, 11, 3, 23, 0, 0, 0, ny), ny,
			time.Time{}, []int{0, 1, 2, 3}, []int{4, 6, 7, 8}},
		{"daily_start_daylight_savings_time_forward", "0 9 * * *", time.Date(2018, 3, 8, 9, 0, 0, 0, ny), ny,
			time.Time{}, []int{9, 9, 9, 9}, []int{14, 14, 13, 13}},
		{"daily_start_daylight_savings_time_backward", "0 9 * * *", time.Date(2018, 11, 1, 9, 0, 0, 0, ny), ny,
			time.Time{}, []int{9, 9, 9, 9}, []int{13, 13, 14, 14}},
		// The skipped and the repeated hour: once each, never skipped,
		// never doubled (robfig/cron's own Next skips the first and
		// doubles the second).
		{"02:30 on spring-forward day fires at 03:30 EDT", "30 2 * * *", time.Date(2018, 3, 9, 0, 0, 0, 0, ny), ny,
			time.Time{}, []int{2, 2, 3, 2}, []int{7, 7, 7, 6}},
		{"01:30 on fall-back day fires once, at 01:30 EST", "30 1 * * *", time.Date(2018, 11, 2, 0, 0, 0, 0, ny), ny,
			time.Time{}, []int{1, 1, 1, 1}, []int{5, 5, 6, 6}},
		{"01:30 on fall-back day, after the first 01:30", "30 1 * * *", time.Date(2018, 11, 2, 0, 0, 0, 0, ny), ny,
			time.Date(2018, 11, 4, 1, 40, 0, 0, ny) /* 01:40 EDT */, []int{1, 1, 1, 1}, []int{6, 6, 6, 6}},
		{"*/30 across spring-forward", "*/30 * * * *", time.Date(2018, 3, 11, 1, 0, 0, 0, ny), ny,
			time.Time{}, []int{1, 3, 3, 4}, []int{6, 7, 7, 8}},
		{"Berlin hourly forward", "0 * * * *", time.Date(2018, 3, 25, 0, 0, 0, 0, berlin), berlin,
			time.Time{}, []int{1, 3, 4, 5}, []int{0, 1, 2, 3}},
		{"Berlin hourly backward", "0 * * * *", time.Date(2018, 10, 28, 1, 0, 0, 0, berlin), berlin,
			time.Time{}, []int{2, 3, 4, 5}, []int{1, 2, 3, 4}},
		{"Berlin 02:30 on spring-forward day", "30 2 * * *", time.Date(2018, 3, 24, 3, 0, 0, 0, berlin), berlin,
			time.Time{}, []int{3, 2, 2, 2}, []int{1, 0, 0, 0}},
		{"Berlin 02:30 on fall-back day", "30 2 * * *", time.Date(2018, 10, 27, 3, 0, 0, 0, berlin), berlin,
			time.Time{}, []int{2, 2, 2, 2}, []int{1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustClock(t)(NewCronClock(tt.expr, WithStart(tt.start), WithLocation(tt.loc)))
			after := tt.after
			if after.IsZero() {
				after = tt.start
			}
			got := take(c, after, 4)
			sameHours(t, got, tt.loc, tt.wantLocal, tt.wantUTC)
		})
	}
}

// test_cron_clock_santiago: midnight does not exist on 2022-09-04 in
// America/Santiago (clocks go forward at 00:00); croniter looped there.
func TestCronClockSantiago(t *testing.T) {
	scl := zone(t, "America/Santiago")
	start := time.Date(2022, 8, 21, 10, 0, 0, 0, scl)
	c := mustClock(t)(NewCronClock("0 0 * * 0", WithStart(start)))
	var days []int
	for _, e := range take(c, start, 4) {
		days = append(days, e.In(scl).Day())
	}
	if want := []int{28, 4, 11, 18}; !slices.Equal(days, want) {
		t.Errorf("days %v, want %v", days, want)
	}
}

func TestDatesClock(t *testing.T) {
	d := utc(2030, 1, 2)
	tests := []struct {
		name  string // Prefect test (test_dates_clock_...)
		dates []time.Time
		after time.Time
		want  []time.Time
	}{
		{"events_with_after_argument: a second before", []time.Time{d}, d.Add(-time.Second), []time.Time{d}},
		{"events_with_after_argument: a day before", []time.Time{d}, d.AddDate(0, 0, -1), []time.Time{d}},
		{"events_with_after_argument: a day after", []time.Time{d}, d.AddDate(0, 0, 1), nil},
		{"events_with_after_argument: at the date", []time.Time{d}, d, nil},
		{"sorted_events", []time.Time{d.AddDate(0, 0, 1), d.AddDate(0, 0, 2), d}, utc(2024, 1, 1),
			[]time.Time{d, d.AddDate(0, 0, 1), d.AddDate(0, 0, 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustClock(t)(NewDatesClock(tt.dates))
			sameInstants(t, take(c, tt.after, 3), tt.want)
		})
	}
}

// test_*_clock_events with params and labels: every event carries the
// clock's parameter defaults and labels, each its own copy.
func TestClockEventsCarryParametersAndLabels(t *testing.T) {
	params := map[string]any{"x": 1}
	clocks := map[string]Clock{
		"interval": mustClock(t)(NewIntervalClock(day, WithParameterDefaults(params), WithLabels("dev"))),
		"cron":     mustClock(t)(NewCronClock("0 0 * * *", WithParameterDefaults(params), WithLabels("dev"))),
		"dates":    mustClock(t)(NewDatesClock([]time.Time{utc(2030, 1, 1)}, WithParameterDefaults(params), WithLabels("dev"))),
	}
	for name, c := range clocks {
		t.Run(name, func(t *testing.T) {
			n := 0
			for e := range c.Events(utc(2029, 12, 30)) {
				if e.ParameterDefaults["x"] != 1 || !slices.Equal(e.Labels, []string{"dev"}) {
					t.Errorf("event %+v lacks the clock's parameters or labels", e)
				}
				e.ParameterDefaults["x"] = 2 // must not reach the clock
				e.Labels[0] = "prod"
				if n++; n == 2 {
					break
				}
			}
			if n == 0 {
				t.Fatal("no events")
			}
		})
	}
	if params["x"] != 1 {
		t.Error("the caller's map was changed")
	}
}

func TestErrors(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	bad := func(c Clock, err error) error { return err }
	badS := func(s *Schedule, err error) error { return err }
	ok := mustClock(t)(NewIntervalClock(time.Hour))
	tests := []struct {
		name string
		err  error
		want string // a substring of the message
	}{
		{"cron: too few fields", bad(NewCronClock("* * *")), `schedule: cron expression "* * *": expected exactly 5 fields, found 3: [* * *] (minute hour day-of-month month day-of-week, or @hourly, @daily`},
		{"cron: one field (test_create_cron_clock_with_invalid_cron_string_raises_error)", bad(NewCronClock("*")), `cron expression "*"`},
		{"cron: words", bad(NewCronClock("hello world")), `cron expression "hello world"`},
		{"cron: day 32", bad(NewCronClock("* * 32 1 1")), `cron expression "* * 32 1 1"`},
		{"cron: never fires", bad(NewCronClock("0 0 30 2 *")), "never fires"},
		{"cron: April 31 never fires", bad(NewCronClock("0 0 31 4 *")), "never fires"},
		{"cron: L", bad(NewCronClock("0 0 L * *")), `cron expression "0 0 L * *": 'L' (the last day of the month or the last weekday, as in L or 5L) is not supported`},
		{"cron: 5L", bad(NewCronClock("0 0 * * 5L")), "'L' (the last day of the month or the last weekday, as in L or 5L) is not supported"},
		{"cron: #", bad(NewCronClock("0 0 * * 1#2")), "'#' (the nth weekday of the month, as in 1#2) is not supported"},
		{"cron: W", bad(NewCronClock("0 0 15W * *")), "'W' (the nearest weekday, as in 15W) is not supported"},
		{"cron: 7 as Sunday", bad(NewCronClock("0 0 * * 5-7")), "7 as Sunday in the day-of-week field (use 0 or SUN) is not supported"},
		{"cron: 6 fields", bad(NewCronClock("0 0 0 * * *")), "a 6-field expression (a seconds or year field) is not supported"},
		{"cron: H", bad(NewCronClock("H 0 * * *")), "'H' or 'R' (hashed or random values) is not supported"},
		{"cron: Feb 30 on Mondays never fires (day_or false)", bad(NewCronClock("0 0 30 2 1", WithDayOr(false))), "never fires"},
		{"cron: @every", bad(NewCronClock("@every 1h")), "use NewIntervalClock"},
		{"cron: zone prefix", bad(NewCronClock("CRON_TZ=Europe/Berlin 0 9 * * *")), "WithLocation"},
		{"interval zero (test_interval_clock_interval_must_be_positive)", bad(NewIntervalClock(0)), "interval 0s is not positive"},
		{"interval negative", bad(NewIntervalClock(-time.Hour)), "interval -1h0m0s is not positive"},
		{"end before start", bad(NewIntervalClock(time.Hour, WithStart(utc(2020, 1, 2)), WithEnd(utc(2020, 1, 1)))), "is before start"},
		{"nil location", bad(NewCronClock("* * * * *", WithLocation(nil))), "nil location"},
		{"day_or on an interval clock", bad(NewIntervalClock(time.Hour, WithDayOr(false))), "only to cron clocks"},
		{"empty dates", bad(NewDatesClock(nil)), "no dates"},
		{"no clocks", badS(New(nil)), "no clocks"},
		{"nil clock", badS(New([]Clock{nil})), "clock 0 is nil"},
		{"month 13", badS(New([]Clock{ok}, WithFilters(OnDate(13, 1)))), "month 13 is not a month (want 1-12"},
		{"day 32", badS(New([]Clock{ok}, WithOrFilters(BetweenDates(1, 32, 2, 1)))), "day 32 is not a day of January (want 1-31)"},
		{"April 31", badS(New([]Clock{ok}, WithFilters(OnDate(time.April, 31)))), "day 31 is not a day of April"},
		{"25:00", badS(New([]Clock{ok}, WithNotFilters(BetweenTimes("25:00", "26:00")))), `"25:00" is not a time of day`},
		{"at_time 24", badS(New([]Clock{ok}, WithFilters(AtTime(24, 0, 0)))), "is not a time of day"},
		{"zero filter", badS(New([]Clock{ok}, WithFilters(Filter{}))), "zero Filter"},
		{"between_datetimes reversed", badS(New([]Clock{ok}, WithFilters(BetweenDatetimes(utc(2020, 1, 2), utc(2020, 1, 1))))), "is before start"},
		{"unknown zone", func() error { _, err := LoadLocation("Mars/Olympus"); return err }(), `unknown time zone "Mars/Olympus"`},
		{"interval shorthand", badS(Interval(0)), "not positive"},
		{"cron shorthand", badS(Cron("nope", WithLocation(ny))), `cron expression "nope"`},
		{"start before 1678", bad(NewIntervalClock(time.Hour, WithStart(utc(1600, 1, 1)))), "start 1600-01-01T00:00:00Z is outside the supported range 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"},
		{"end after 2262", bad(NewCronClock("0 0 * * *", WithEnd(utc(2300, 1, 1)))), "end 2300-01-01T00:00:00Z is outside the supported range"},
		{"date after 2262", bad(NewDatesClock([]time.Time{utc(2020, 1, 1), utc(2263, 1, 1)})), "date 1, 2263-01-01T00:00:00Z is outside the supported range"},
		{"on_datetime before 1678", badS(New([]Clock{ok}, WithFilters(OnDatetime(utc(1500, 1, 1))))), "on_datetime: time 1500-01-01T00:00:00Z is outside the supported range"},
		{"between_datetimes after 2262", badS(New([]Clock{ok}, WithFilters(BetweenDatetimes(utc(2020, 1, 1), utc(2300, 1, 1))))), "end 2300-01-01T00:00:00Z is outside the supported range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", tt.err)
			}
			if !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", tt.err, tt.want)
			}
		})
	}
}

func TestMustPanics(t *testing.T) {
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, ErrInvalid) {
			t.Errorf("Must panicked with %v, want an ErrInvalid error", err)
		}
	}()
	Must(Cron("* * *"))
}

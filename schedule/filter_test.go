package schedule

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Ported from Prefect 1.4.1 tests/schedules/test_filters.py and
// test_adjustments.py.
func TestFilters(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		t    time.Time
		want bool
	}{
		{"on_datetime_0", OnDatetime(utc(2019, 1, 2, 3, 4, 5)), utc(2019, 1, 2, 3, 4, 5), true},
		{"on_datetime_1", OnDatetime(utc(2019, 1, 2)), utc(2019, 1, 2), true},
		{"on_datetime_2", OnDatetime(utc(2019, 1, 2, 3, 4)), utc(2019, 1, 2, 3, 4, 5), false},
		{"on_datetime_3", OnDatetime(utc(2019, 1, 2, 3, 4, 5)), utc(2019, 1, 2, 3, 4), false},
		{"on_datetime: same instant, other zone", OnDatetime(utc(2019, 1, 2, 12)), utc(2019, 1, 2, 12).In(time.FixedZone("X", 3600)), true},
		{"between_datetimes 0", BetweenDatetimes(utc(2019, 1, 1), utc(2019, 1, 2)), utc(2019, 1, 1, 6), true},
		{"between_datetimes 1", BetweenDatetimes(utc(2019, 1, 1), utc(2019, 1, 1)), utc(2019, 1, 1, 6), false},
		{"between_datetimes 2", BetweenDatetimes(utc(2019, 1, 2), utc(2019, 1, 2)), utc(2019, 1, 1, 6), false},
		{"between_datetimes 3", BetweenDatetimes(utc(2019, 1, 1, 6), utc(2019, 1, 1, 6)), utc(2019, 1, 1, 6), true},
		{"between_datetimes 4", BetweenDatetimes(utc(2019, 1, 1, 5, 59), utc(2019, 1, 1, 6, 1)), utc(2019, 1, 1, 6), true},
		{"on_date 2019-03-04", OnDate(3, 4), utc(2019, 3, 4), true},
		{"on_date 2019-03-05", OnDate(3, 4), utc(2019, 3, 5), false},
		{"on_date 2019-03-04 05:06", OnDate(3, 4), utc(2019, 3, 4, 5, 6), true},
		{"on_date 2034-03-04", OnDate(3, 4), utc(2034, 3, 4), true},
		{"on_date 2034-04-04", OnDate(3, 4), utc(2034, 4, 4), false},
		{"between_dates 1/1-12/31", BetweenDates(1, 1, 12, 31), utc(2019, 6, 1), true},
		{"between_dates 6/1-6/1", BetweenDates(6, 1, 6, 1), utc(2019, 6, 1), true},
		{"between_dates 5/31-6/2", BetweenDates(5, 31, 6, 2), utc(2019, 6, 1), true},
		{"between_dates 6/2-5/31", BetweenDates(6, 2, 5, 31), utc(2019, 6, 1), false},
		{"between_dates 6/2-7/1", BetweenDates(6, 2, 7, 1), utc(2019, 6, 1), false},
		{"between_dates 11/1-7/1 wraps", BetweenDates(11, 1, 7, 1), utc(2019, 6, 1), true},
		{"at_time 04:30", AtTime(3, 30, 0), utc(2019, 1, 2, 4, 30), false},
		{"at_time 03:30", AtTime(3, 30, 0), utc(2019, 1, 2, 3, 30), true},
		{"at_time 2020 03:30", AtTime(3, 30, 0), utc(2020, 1, 2, 3, 30), true},
		{"at_time 03:30:01", AtTime(3, 30, 0), utc(2019, 4, 5, 3, 30, 1), false},
		{"at_time in the event's zone", AtTime(9, 0, 0), time.Date(2019, 1, 2, 9, 0, 0, 0, time.FixedZone("X", -5*3600)), true},
		{"between_times 05-07", BetweenTimes("05:00", "07:00"), utc(2019, 6, 1, 6), true},
		{"between_times 06-06", BetweenTimes("06:00", "06:00:00"), utc(2019, 6, 1, 6), true},
		{"between_times 07-05 wraps", BetweenTimes("07:00", "05:00"), utc(2019, 6, 1, 6), false},
		{"between_times 07-06 wraps", BetweenTimes("07:00", "06:00"), utc(2019, 6, 1, 6), true},
		{"between_times 22-06 at 23:30", BetweenTimes("22:00", "06:00"), utc(2019, 6, 1, 23, 30), true},
		{"is_month_end Jan 20", IsMonthEnd(), utc(2019, 1, 20), false},
		{"is_month_end Jan 31", IsMonthEnd(), utc(2019, 1, 31), true},
		{"is_month_end Feb 27", IsMonthEnd(), utc(2019, 2, 27), false},
		{"is_month_end Feb 28", IsMonthEnd(), utc(2019, 2, 28), true},
		{"is_month_end leap Feb 28", IsMonthEnd(), utc(2020, 2, 28), false},
		{"is_month_end leap Feb 29", IsMonthEnd(), utc(2020, 2, 29), true},
		{"is_month_start 1st", IsMonthStart(), utc(2019, 7, 1), true},
		{"is_month_start 2nd", IsMonthStart(), utc(2019, 7, 2), false},
		{"is_month_start 28th", IsMonthStart(), utc(2019, 7, 28), false},
		{"a bad filter matches nothing", BetweenTimes("25:00", "26:00"), utc(2019, 1, 1), false},
		{"the zero filter matches nothing", Filter{}, utc(2019, 1, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.t); got != tt.want {
				t.Errorf("%v.Match(%v) = %v, want %v", tt.f, tt.t, got, tt.want)
			}
		})
	}
}

// test_is_weekday, test_is_weekend: 2019-01-01 was a Tuesday.
func TestWeekdayWeekend(t *testing.T) {
	for d := 1; d < 10; d++ {
		dt := utc(2019, 1, d)
		weekend := d == 5 || d == 6
		if IsWeekday().Match(dt) == weekend || IsWeekend().Match(dt) != weekend {
			t.Errorf("%v (%v): weekday %v, weekend %v", dt, dt.Weekday(), IsWeekday().Match(dt), IsWeekend().Match(dt))
		}
	}
}

func TestAdjustments(t *testing.T) {
	now := utc(2019, 1, 1, 12)
	for _, d := range []time.Duration{day, 0, -day, time.Microsecond} { // test_add
		if got := Add(d).Apply(now); !got.Equal(now.Add(d)) {
			t.Errorf("Add(%v) = %v", d, got)
		}
	}
	for d := 1; d < 10; d++ { // test_next_weekday
		dt := utc(2019, 1, d, 9)
		got := NextWeekday().Apply(dt)
		switch {
		case IsWeekday().Match(dt) && !got.Equal(dt):
			t.Errorf("NextWeekday moved weekday %v to %v", dt, got)
		case IsWeekend().Match(dt) && (got.Weekday() != time.Monday || !got.After(dt) || got.Hour() != 9):
			t.Errorf("NextWeekday(%v) = %v, want the next Monday at 09:00", dt, got)
		}
	}
	if (Adjustment{}).Apply(now) != now {
		t.Error("the zero Adjustment moved the time")
	}
}

func TestScheduleNext(t *testing.T) {
	dt := utc(2019, 1, 1)
	hourly := mustClock(t)(NewIntervalClock(time.Hour))
	at := func(days, h, m int) time.Time {
		return dt.AddDate(0, 0, days).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	tests := []struct {
		name   string // Prefect test (test_create_schedule_...)
		clocks []Clock
		opts   []Option
		after  time.Time
		n      int
		want   []time.Time
	}{
		{"create_schedule", []Clock{mustClock(t)(NewIntervalClock(day))}, nil, dt, 3,
			[]time.Time{at(1, 0, 0), at(2, 0, 0), at(3, 0, 0)}},
		{"multiple_overlapping_clocks", []Clock{mustClock(t)(NewIntervalClock(day)), mustClock(t)(NewIntervalClock(12*time.Hour, WithStart(utc(2019, 1, 3))))}, nil, dt, 6,
			[]time.Time{at(1, 0, 0), at(2, 0, 0), at(2, 12, 0), at(3, 0, 0), at(3, 12, 0), at(4, 0, 0)}},
		{"filters", []Clock{hourly}, []Option{WithFilters(BetweenTimes("09:00", "10:00"))}, dt, 6,
			[]time.Time{at(0, 9, 0), at(0, 10, 0), at(1, 9, 0), at(1, 10, 0), at(2, 9, 0), at(2, 10, 0)}},
		{"filters_2", []Clock{mustClock(t)(NewIntervalClock(15 * time.Minute))}, []Option{WithFilters(AtTime(2, 45, 0))}, dt, 3,
			[]time.Time{at(0, 2, 45), at(1, 2, 45), at(2, 2, 45)}},
		{"multiple_exclusive_filters: the 10,000 limit ends the search", []Clock{hourly},
			[]Option{WithFilters(BetweenTimes("09:00", "10:00"), BetweenTimes("15:00", "16:00"))}, dt, 6, nil},
		{"or_filters", []Clock{hourly}, []Option{WithOrFilters(BetweenTimes("09:00", "09:00"), BetweenTimes("15:00", "15:00"))}, dt, 4,
			[]time.Time{at(0, 9, 0), at(0, 15, 0), at(1, 9, 0), at(1, 15, 0)}},
		{"not_filters", []Clock{hourly}, []Option{WithNotFilters(BetweenTimes("00:00", "08:00"), BetweenTimes("10:00", "14:00"), BetweenTimes("16:00", "23:00"))}, dt, 6,
			[]time.Time{at(0, 9, 0), at(0, 15, 0), at(1, 9, 0), at(1, 15, 0), at(2, 9, 0), at(2, 15, 0)}},
		// Jan 3 2019 was a Thursday.
		{"multiple_filters", []Clock{hourly}, []Option{
			WithFilters(IsWeekday()),
			WithOrFilters(BetweenTimes("09:00", "09:00"), BetweenTimes("15:00", "15:00")),
			WithNotFilters(BetweenDates(1, 8, 1, 8)),
		}, utc(2019, 1, 3), 8, []time.Time{at(2, 9, 0), at(2, 15, 0), at(3, 9, 0), at(3, 15, 0), at(6, 9, 0), at(6, 15, 0), at(8, 9, 0), at(8, 15, 0)}},
		{"adjustments", []Clock{hourly}, []Option{
			WithFilters(IsWeekday()),
			WithOrFilters(BetweenTimes("09:00", "09:00"), BetweenTimes("15:00", "15:00")),
			WithNotFilters(BetweenDates(1, 8, 1, 8)),
			WithAdjustments(Add(3 * time.Hour)),
		}, utc(2019, 1, 3), 4, []time.Time{at(2, 12, 0), at(2, 18, 0), at(3, 12, 0), at(3, 18, 0)}},
		{"dates clocks end: fewer than n", []Clock{mustClock(t)(NewDatesClock([]time.Time{at(5, 0, 0)}))}, nil, dt, 3, []time.Time{at(5, 0, 0)}},
		{"n = 0", []Clock{hourly}, nil, dt, 0, nil},
		{"n < 0", []Clock{hourly}, nil, dt, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.clocks, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Time
			for _, e := range s.Next(tt.n, tt.after) {
				got = append(got, e.Start)
			}
			sameInstants(t, got, tt.want)
		})
	}
}

// test_create_schedule_multiple_overlapping_clocks_distinguishes_parameters
// and ..._emit_events_with_correct_parameters.
func TestScheduleDeduplicates(t *testing.T) {
	special := utc(2020, 3, 1)
	dates := func(opts ...ClockOption) Clock { return mustClock(t)(NewDatesClock([]time.Time{special}, opts...)) }
	if got := Must(New([]Clock{dates(), dates()})).Next(2, utc(2019, 1, 1)); len(got) != 1 {
		t.Errorf("two equal clocks gave %d events, want 1", len(got))
	}
	got := Must(New([]Clock{
		dates(WithParameterDefaults(map[string]any{"a": 1})),
		dates(WithParameterDefaults(map[string]any{"a": 2})),
	})).Next(2, utc(2019, 1, 1))
	if len(got) != 2 || got[0].ParameterDefaults["a"] != 1 || got[1].ParameterDefaults["a"] != 2 {
		t.Errorf("clocks with different parameters gave %+v, want both", got)
	}

	s := Must(New([]Clock{
		mustClock(t)(NewIntervalClock(day, WithParameterDefaults(map[string]any{"x": 0}))),
		mustClock(t)(NewIntervalClock(12*time.Hour, WithParameterDefaults(map[string]any{"x": 1}))),
	}))
	var xs []any
	for _, e := range s.Next(6, utc(2019, 1, 1)) {
		xs = append(xs, e.ParameterDefaults["x"])
	}
	if want := []any{1, 0, 1, 1, 0, 1}; !slices.Equal(xs, want) {
		t.Errorf("parameters %v, want %v", xs, want)
	}
}

// test_with_clocks_with_different_timezones.
func TestScheduleZones(t *testing.T) {
	east := mustClock(t)(NewCronClock("0 9 * * 1-5", WithStart(time.Date(2019, 3, 14, 0, 0, 0, 0, zone(t, "US/Eastern")))))
	west := mustClock(t)(NewCronClock("30 6 * * 1-5", WithStart(time.Date(2019, 3, 14, 0, 0, 0, 0, zone(t, "US/Pacific")))))
	after := utc(2019, 5, 1)
	e, w := take(east, after, 3), take(west, after, 3)
	var got []time.Time
	for _, ev := range Must(New([]Clock{east, west})).Next(6, after) {
		got = append(got, ev.Start)
	}
	sameInstants(t, got, []time.Time{e[0], w[0], e[1], w[1], e[2], w[2]})
}

func TestJSONRoundTrip(t *testing.T) {
	ny := zone(t, "America/New_York")
	s := Must(New([]Clock{
		mustClock(t)(NewIntervalClock(day, WithStart(time.Date(2018, 3, 8, 9, 0, 0, 0, ny)), WithEnd(time.Date(2019, 1, 1, 0, 0, 0, 0, ny)),
			WithParameterDefaults(map[string]any{"x": "a"}), WithLabels("dev"))),
		mustClock(t)(NewCronClock("0 0 1-7 * 2", WithLocation(zone(t, "Europe/Berlin")), WithDayOr(false))),
		mustClock(t)(NewDatesClock([]time.Time{utc(2018, 6, 1)})),
	},
		WithFilters(IsWeekday(), AtTime(9, 0, 0)),
		WithOrFilters(OnDate(3, 12), BetweenTimes("09:00", "17:30:00"), BetweenDates(10, 15, 3, 31), IsMonthStart(), IsMonthEnd(), IsWeekend()),
		WithNotFilters(OnDatetime(utc(2018, 3, 13, 13)), BetweenDatetimes(utc(2018, 4, 1), utc(2018, 5, 1))),
		WithAdjustments(Add(15*time.Minute), NextWeekday()),
	))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Errorf("round trip changed the JSON:\n%s\n%s", b, b2)
	}
	// The stored schedule keeps New York's DST rules: the daily clock
	// stays at 09:00 local across 2018-03-11.
	after := time.Date(2018, 3, 8, 9, 0, 0, 0, ny)
	a, c := s.Next(5, after), back.Next(5, after)
	if len(a) != 5 || len(c) != 5 {
		t.Fatalf("got %d and %d events, want 5:\n%s", len(a), len(c), b)
	}
	for i := range a {
		if !a[i].Start.Equal(c[i].Start) || a[i].Start.Location().String() != c[i].Start.Location().String() {
			t.Errorf("event %d: %v before storing, %v after", i, a[i].Start, c[i].Start)
		}
	}
}

func TestJSONErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    *Schedule
		want string // a substring of the message
	}{
		{"fixed zone", Must(Interval(time.Hour, WithLocation(time.FixedZone("", 3600)))), "not an IANA zone name"},
		{"Local start", Must(Interval(time.Hour, WithStart(time.Now()))), `location Local cannot be stored: a schedule stored in time.Local would be read back in the reading machine's zone; name the zone (schedule.WithLocation(schedule.LoadLocation("Europe/Berlin"))) or use UTC (time.Now().UTC())`},
		{"Local location", Must(Cron("0 9 * * *", WithLocation(time.Local))), "location Local cannot be stored"},
	} {
		if _, err := json.Marshal(tt.s); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("storing %s: %v, want ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
	// A clock in time.Local still computes its events locally.
	if got := Must(Interval(time.Hour, WithStart(time.Now()))).Next(2, time.Now()); len(got) != 2 {
		t.Errorf("Local clock: Next(2) gave %d events", len(got))
	}
	for _, in := range []string{
		`{"clocks":[]}`,
		`{"clocks":[{"type":"cron","cron":"* * *"}]}`,
		`{"clocks":[{"type":"interval","interval":"-1h"}]}`,
		`{"clocks":[{"type":"interval","interval":"1h","location":"Mars/Olympus"}]}`,
		`{"clocks":[{"type":"sundial"}]}`,
		`{"clocks":[{"type":"interval","interval":"1h"}],"filters":[{"kind":"on_date","month":13,"day":1}]}`,
		`{"clocks":[{"type":"interval","interval":"1h"}],"filters":[{"kind":"between_times","start":"25:00","end":"01:00"}]}`,
		`{"clocks":[{"type":"interval","interval":"1h"}],"filters":[{"kind":"full_moon"}]}`,
		`{"clocks":[{"type":"interval","interval":"1h"}],"adjustments":[{"kind":"add","duration":"soon"}]}`,
		`[1,2]`,
		`{"clocks":[{"type":"interval","interval":"1h","location":"Local"}]}`,
		`{"clocks":[{"type":"interval","interval":"1h","start_date":"2300-01-01T00:00:00Z"}]}`,
		`{"clocks":[{"type":"dates","dates":["1600-01-01T00:00:00Z"]}]}`,
		`{"clocks":[{"type":"interval","interval":"1h"}],"filters":[{"kind":"on_datetime","time":"2300-01-01T00:00:00Z"}]}`,
	} {
		var s Schedule
		err := json.Unmarshal([]byte(in), &s)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", in, err)
		}
		if strings.Contains(in, `"Local"`) && (err == nil || !strings.Contains(err.Error(), "time.Now().UTC()")) {
			t.Errorf("%s: error %v does not say to name the zone or use UTC", in, err)
		}
	}
}

// A dates clock without WithLocation stores its dates with their offsets,
// so a start in a zone without a name (or in Local) must not drop its start,
// end, parameter defaults or labels.
func TestJSONDatesClockKeepsOptions(t *testing.T) {
	for _, loc := range []*time.Location{time.FixedZone("", 3600), time.Local} {
		start := time.Date(2018, 1, 1, 0, 0, 0, 0, loc)
		s := Must(New([]Clock{mustClock(t)(NewDatesClock([]time.Time{utc(2018, 6, 1)},
			WithStart(start), WithParameterDefaults(map[string]any{"x": "a"}), WithLabels("dev")))}))
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"start_date"`, `"parameter_defaults":{"x":"a"}`, `"labels":["dev"]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%v: %s lacks %s", loc, b, want)
			}
		}
	}
}

// MaxChecked bounds the clock events examined whether or not the schedule
// has filters: Next(20000) gives 10,000.
func TestNextMaxChecked(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    *Schedule
		n    int
		want int
	}{
		{"no filters", Must(Interval(time.Minute)), 20000, MaxChecked},
		{"filter matching all", Must(New([]Clock{mustClock(t)(NewIntervalClock(time.Minute))}, WithNotFilters(OnDate(2, 29)))), 20000, MaxChecked},
		{"fewer than the bound", Must(Interval(time.Minute)), 5, 5},
	} {
		if got := len(tt.s.Next(tt.n, utc(2020, 1, 1))); got != tt.want {
			t.Errorf("%s: Next(%d) gave %d events, want %d", tt.name, tt.n, got, tt.want)
		}
	}
}

package schedule

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The stored form of a schedule. Names follow Prefect's (its marshmallow
// ScheduleSchema) where Prefect has one, so that the JSON reads familiar:
//
//	{
//	  "clocks": [
//	    {"type": "interval", "interval": "24h0m0s", "start_date": "2024-03-01T09:00:00-05:00",
//	     "location": "America/New_York"},
//	    {"type": "cron", "cron": "0 9 * * 1-5", "location": "Europe/Berlin", "day_or": true,
//	     "parameter_defaults": {"region": "eu"}, "labels": ["eu"]},
//	    {"type": "dates", "dates": ["2024-12-24T18:00:00Z"], "location": "UTC"}
//	  ],
//	  "filters": [{"kind": "is_weekday"}],
//	  "or_filters": [{"kind": "between_times", "start": "09:00", "end": "17:00"}],
//	  "not_filters": [{"kind": "on_date", "month": 12, "day": 25}],
//	  "adjustments": [{"kind": "add", "duration": "15m0s"}]
//	}
//
// Times are RFC 3339; a clock's zone is stored by its IANA name, so that
// wall-clock rules (DST) survive the round trip. Durations are Go duration
// text.
type wireSchedule struct {
	Clocks      []wireClock  `json:"clocks"`
	Filters     []Filter     `json:"filters,omitempty"`
	OrFilters   []Filter     `json:"or_filters,omitempty"`
	NotFilters  []Filter     `json:"not_filters,omitempty"`
	Adjustments []Adjustment `json:"adjustments,omitempty"`
}

type wireClock struct {
	Type              string         `json:"type"` // interval, cron, dates
	Interval          string         `json:"interval,omitempty"`
	Cron              string         `json:"cron,omitempty"`
	DayOr             *bool          `json:"day_or,omitempty"`
	Dates             []time.Time    `json:"dates,omitempty"`
	StartDate         *time.Time     `json:"start_date,omitempty"`
	EndDate           *time.Time     `json:"end_date,omitempty"`
	Location          string         `json:"location,omitempty"`
	ParameterDefaults map[string]any `json:"parameter_defaults,omitempty"`
	Labels            []string       `json:"labels,omitempty"`
}

// localHelp says what to do instead of storing time.Local.
const localHelp = "a schedule stored in time.Local would be read back in the reading machine's zone; name the zone (schedule.WithLocation(schedule.LoadLocation(\"Europe/Berlin\"))) or use UTC (time.Now().UTC())"

// locationName returns the name LoadLocation reads loc back from, or an
// error for a zone that has none (time.FixedZone, a zone built from bytes)
// or whose name means a different zone on another machine (time.Local).
func locationName(loc *time.Location) (string, error) {
	name := loc.String()
	if loc == time.Local || name == "Local" {
		return "", invalidf("location Local cannot be stored: %s", localHelp)
	}
	if l, err := time.LoadLocation(name); err != nil || l.String() != name {
		return "", invalidf("location %q cannot be stored: it is not an IANA zone name (use time.LoadLocation, e.g. \"Europe/Berlin\", or time.UTC)", name)
	}
	return name, nil
}

// wire records the clock's options in w, and its location unless storeLoc
// is false (a dates clock without WithLocation, whose dates keep their own
// offsets).
func (b *clockBase) wire(w *wireClock, storeLoc bool) error {
	if !b.start.IsZero() {
		w.StartDate = &b.start
	}
	if !b.end.IsZero() {
		w.EndDate = &b.end
	}
	w.ParameterDefaults = b.params
	w.Labels = b.labels
	if !storeLoc {
		return nil
	}
	name, err := locationName(b.loc)
	if err != nil {
		return err
	}
	w.Location = name
	return nil
}

func wireOf(c Clock) (wireClock, error) {
	var w wireClock
	switch c := c.(type) {
	case *intervalClock:
		w.Type, w.Interval = "interval", c.every.String()
		return w, c.wire(&w, true)
	case *cronClock:
		w.Type, w.Cron = "cron", c.expr
		if !c.dayOr {
			w.DayOr = &c.dayOr
		}
		return w, c.wire(&w, true)
	case *datesClock:
		w.Type, w.Dates = "dates", c.dates
		return w, c.wire(&w, c.locSet)
	}
	return w, invalidf("clock of type %T cannot be stored (only clocks from NewIntervalClock, NewCronClock and NewDatesClock can)", c)
}

func (w wireClock) clock() (Clock, error) {
	var opts []ClockOption
	if w.Location == "Local" {
		return nil, invalidf("location \"Local\" is refused: %s", localHelp)
	}
	if w.Location != "" {
		loc, err := LoadLocation(w.Location)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithLocation(loc))
	}
	if w.StartDate != nil {
		opts = append(opts, WithStart(*w.StartDate))
	}
	if w.EndDate != nil {
		opts = append(opts, WithEnd(*w.EndDate))
	}
	if w.ParameterDefaults != nil {
		opts = append(opts, WithParameterDefaults(w.ParameterDefaults))
	}
	if w.Labels != nil {
		opts = append(opts, WithLabels(w.Labels...))
	}
	switch w.Type {
	case "interval":
		d, err := time.ParseDuration(w.Interval)
		if err != nil {
			return nil, invalidWrap(err, "interval clock: interval %q is not a duration (want Go duration text, e.g. \"1h30m\")", w.Interval)
		}
		return NewIntervalClock(d, opts...)
	case "cron":
		if w.DayOr != nil {
			opts = append(opts, WithDayOr(*w.DayOr))
		}
		return NewCronClock(w.Cron, opts...)
	case "dates":
		return NewDatesClock(w.Dates, opts...)
	}
	return nil, invalidf("clock type %q is unknown (want \"interval\", \"cron\" or \"dates\")", w.Type)
}

// MarshalJSON stores the schedule: its clocks, with their zones by name, and
// its filters and adjustments (see the format above wireSchedule in
// json.go). It fails, matching ErrInvalid, for a clock this package did not
// make, a zone without an IANA name (time.FixedZone), or time.Local (as
// from WithStart(time.Now())), which would be read back in the reader's
// zone: name the zone with WithLocation, or use UTC (time.Now().UTC()). A
// clock in time.Local still computes its events (Next) locally.
func (s *Schedule) MarshalJSON() ([]byte, error) {
	w := wireSchedule{
		Filters:     s.opts.filters,
		OrFilters:   s.opts.orFilters,
		NotFilters:  s.opts.notFilters,
		Adjustments: s.opts.adjustments,
	}
	for _, c := range s.clocks {
		wc, err := wireOf(c)
		if err != nil {
			return nil, err
		}
		w.Clocks = append(w.Clocks, wc)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a schedule stored by MarshalJSON and validates it as
// New and the clock constructors do; every error matches ErrInvalid.
// Parameter defaults come back as encoding/json decodes them (numbers as
// float64).
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var w wireSchedule
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidWrap(err, "stored schedule does not decode: %v", err)
	}
	clocks := make([]Clock, 0, len(w.Clocks))
	for i, wc := range w.Clocks {
		c, err := wc.clock()
		if err != nil {
			return &invalidError{msg: fmt.Sprintf("stored clock %d: %s", i, strings.TrimPrefix(err.Error(), "schedule: ")), cause: err}
		}
		clocks = append(clocks, c)
	}
	n, err := New(clocks, WithFilters(w.Filters...), WithOrFilters(w.OrFilters...),
		WithNotFilters(w.NotFilters...), WithAdjustments(w.Adjustments...))
	if err != nil {
		return err
	}
	*s = *n
	return nil
}

type wireFilter struct {
	Kind       filterKind `json:"kind"`
	Time       *time.Time `json:"time,omitempty"`        // on_datetime
	Start      string     `json:"start,omitempty"`       // between_times, between_datetimes
	End        string     `json:"end,omitempty"`         // between_times, between_datetimes
	At         string     `json:"at,omitempty"`          // at_time
	Month      time.Month `json:"month,omitempty"`       // on_date
	Day        int        `json:"day,omitempty"`         // on_date
	StartMonth time.Month `json:"start_month,omitempty"` // between_dates
	StartDay   int        `json:"start_day,omitempty"`
	EndMonth   time.Month `json:"end_month,omitempty"`
	EndDay     int        `json:"end_day,omitempty"`
}

// MarshalJSON stores the filter as its kind and arguments, e.g.
// {"kind":"between_times","start":"09:00","end":"17:00"}.
func (f Filter) MarshalJSON() ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	w := wireFilter{Kind: f.kind}
	switch f.kind {
	case kindOnDatetime:
		w.Time = &f.t1
	case kindOnDate:
		w.Month, w.Day = f.m1, f.d1
	case kindAtTime:
		w.At = formatTimeOfDay(f.tod1)
	case kindBetweenDatetimes:
		w.Start, w.End = f.t1.Format(time.RFC3339Nano), f.t2.Format(time.RFC3339Nano)
	case kindBetweenTimes:
		w.Start, w.End = f.s1, f.s2
	case kindBetweenDates:
		w.StartMonth, w.StartDay, w.EndMonth, w.EndDay = f.m1, f.d1, f.m2, f.d2
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a filter stored by MarshalJSON. A bad argument is
// recorded in the filter, as its constructor records it, and reported by
// New (and Schedule.UnmarshalJSON); an unknown kind or malformed JSON is an
// error here, matching ErrInvalid.
func (f *Filter) UnmarshalJSON(b []byte) error {
	var w wireFilter
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidWrap(err, "stored filter does not decode: %v", err)
	}
	switch w.Kind {
	case kindOnDatetime:
		var t time.Time
		if w.Time != nil {
			t = *w.Time
		}
		*f = OnDatetime(t)
	case kindOnDate:
		*f = OnDate(w.Month, w.Day)
	case kindAtTime:
		d, err := parseTimeOfDay("at_time", w.At)
		*f = Filter{kind: kindAtTime, tod1: d, err: err}
	case kindIsWeekday, kindIsWeekend, kindIsMonthStart, kindIsMonthEnd:
		*f = Filter{kind: w.Kind}
	case kindBetweenDatetimes:
		t1, err1 := time.Parse(time.RFC3339Nano, w.Start)
		t2, err2 := time.Parse(time.RFC3339Nano, w.End)
		if err1 != nil || err2 != nil {
			return invalidf("stored filter between_datetimes: start %q or end %q is not an RFC 3339 time", w.Start, w.End)
		}
		*f = BetweenDatetimes(t1, t2)
	case kindBetweenTimes:
		*f = BetweenTimes(w.Start, w.End)
	case kindBetweenDates:
		*f = BetweenDates(w.StartMonth, w.StartDay, w.EndMonth, w.EndDay)
	default:
		return invalidf("stored filter kind %q is unknown (want on_datetime, on_date, at_time, is_weekday, is_weekend, is_month_start, is_month_end, between_datetimes, between_times or between_dates)", w.Kind)
	}
	return nil
}

type wireAdjustment struct {
	Kind     adjustmentKind `json:"kind"`
	Duration string         `json:"duration,omitempty"`
}

// MarshalJSON stores the adjustment, e.g. {"kind":"add","duration":"1h0m0s"}.
func (a Adjustment) MarshalJSON() ([]byte, error) {
	if a.kind == "" {
		return nil, invalidf("zero Adjustment cannot be stored (make adjustments with Add or NextWeekday)")
	}
	w := wireAdjustment{Kind: a.kind}
	if a.kind == kindAdd {
		w.Duration = a.d.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an adjustment stored by MarshalJSON.
func (a *Adjustment) UnmarshalJSON(b []byte) error {
	var w wireAdjustment
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidWrap(err, "stored adjustment does not decode: %v", err)
	}
	switch w.Kind {
	case kindAdd:
		d, err := time.ParseDuration(w.Duration)
		if err != nil {
			return invalidWrap(err, "stored adjustment add: duration %q is not a duration (want Go duration text, e.g. \"1h30m\")", w.Duration)
		}
		*a = Add(d)
	case kindNextWeekday:
		*a = NextWeekday()
	default:
		return invalidf("stored adjustment kind %q is unknown (want add or next_weekday)", w.Kind)
	}
	return nil
}

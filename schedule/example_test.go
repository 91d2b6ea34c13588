package schedule_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prefect-go/prefect/schedule"
)

// Prefect's Schedule docstring example: every hour, weekdays only, at 9am or
// 5pm.
func Example() {
	hourly, err := schedule.NewIntervalClock(time.Hour)
	if err != nil {
		panic(err)
	}
	s, err := schedule.New(
		[]schedule.Clock{hourly},
		schedule.WithFilters(schedule.IsWeekday()),
		schedule.WithOrFilters(
			schedule.BetweenTimes("09:00", "09:00"),
			schedule.BetweenTimes("17:00", "17:00"),
		),
	)
	if err != nil {
		panic(err)
	}
	// 2019-01-04 was a Friday.
	for _, e := range s.Next(4, time.Date(2019, 1, 4, 0, 0, 0, 0, time.UTC)) {
		fmt.Println(e.Start.Format("Mon 2006-01-02 15:04"))
	}
	// Output:
	// Fri 2019-01-04 09:00
	// Fri 2019-01-04 17:00
	// Mon 2019-01-07 09:00
	// Mon 2019-01-07 17:00
}

// A cron schedule read in New York time keeps 09:00 across the change to
// daylight time on 2018-03-11.
func ExampleCron() {
	ny, err := schedule.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	s := schedule.Must(schedule.Cron("0 9 * * *", schedule.WithLocation(ny)))
	for _, e := range s.Next(3, time.Date(2018, 3, 10, 0, 0, 0, 0, ny)) {
		fmt.Println(e.Start, "=", e.Start.UTC().Format("15:04 UTC"))
	}
	// Output:
	// 2018-03-10 09:00:00 -0500 EST = 14:00 UTC
	// 2018-03-11 09:00:00 -0400 EDT = 13:00 UTC
	// 2018-03-12 09:00:00 -0400 EDT = 13:00 UTC
}

// An hourly interval clock steps in elapsed time: when New York's clocks go
// back on 2018-11-04, two runs read 01:00.
func ExampleNewIntervalClock() {
	ny, err := schedule.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	start := time.Date(2018, 11, 4, 0, 0, 0, 0, ny)
	c, err := schedule.NewIntervalClock(time.Hour, schedule.WithStart(start))
	if err != nil {
		panic(err)
	}
	n := 0
	for e := range c.Events(start) {
		fmt.Println(e.Start.Format("15:04 MST"))
		if n++; n == 3 {
			break
		}
	}
	// Output:
	// 01:00 EDT
	// 01:00 EST
	// 02:00 EST
}

// A cron clock fires once for each wall time: on spring-forward day 02:30
// does not exist, and the run comes at 03:30 EDT, the instant 02:30 EST
// would have been.
func ExampleNewCronClock() {
	ny, err := schedule.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	c, err := schedule.NewCronClock("30 2 * * *", schedule.WithLocation(ny))
	if err != nil {
		panic(err)
	}
	n := 0
	for e := range c.Events(time.Date(2018, 3, 10, 0, 0, 0, 0, ny)) {
		fmt.Println(e.Start)
		if n++; n == 3 {
			break
		}
	}
	// Output:
	// 2018-03-10 02:30:00 -0500 EST
	// 2018-03-11 03:30:00 -0400 EDT
	// 2018-03-12 02:30:00 -0400 EDT
}

// Two clocks with their own parameters: a daily run and a weekly full run.
func ExampleNew_parameters() {
	daily, _ := schedule.NewCronClock("0 2 * * *", schedule.WithParameterDefaults(map[string]any{"full": false}))
	weekly, _ := schedule.NewCronClock("0 3 * * 0", schedule.WithParameterDefaults(map[string]any{"full": true}), schedule.WithLabels("heavy"))
	s := schedule.Must(schedule.New([]schedule.Clock{daily, weekly}))
	for _, e := range s.Next(3, time.Date(2024, 1, 6, 12, 0, 0, 0, time.UTC)) { // a Saturday
		fmt.Println(e.Start.Format("Mon 15:04"), e.ParameterDefaults, e.Labels)
	}
	// Output:
	// Sun 02:00 map[full:false] []
	// Sun 03:00 map[full:true] [heavy]
	// Mon 02:00 map[full:false] []
}

// Errors name the bad value and what would be valid, and match ErrInvalid.
func ExampleErrInvalid() {
	_, err := schedule.Cron("* * *")
	fmt.Println(err)
	fmt.Println(errors.Is(err, schedule.ErrInvalid))
	// Output:
	// schedule: cron expression "* * *": expected exactly 5 fields, found 3: [* * *] (minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly, @yearly)
	// true
}

// A schedule is stored as JSON and read back, zone and all.
func ExampleSchedule_MarshalJSON() {
	berlin, _ := schedule.LoadLocation("Europe/Berlin")
	s := schedule.Must(schedule.Cron("0 9 * * 1-5", schedule.WithLocation(berlin)))
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	var back schedule.Schedule
	if err := json.Unmarshal(b, &back); err != nil {
		panic(err)
	}
	fmt.Println(back.Next(1, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))[0].Start)
	// Output:
	// {"clocks":[{"type":"cron","cron":"0 9 * * 1-5","location":"Europe/Berlin"}]}
	// 2024-07-01 09:00:00 +0200 CEST
}

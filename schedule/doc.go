// Package schedule is Prefect 1's schedule model (prefect.schedules): when
// a flow runs, computed, never waited for. It is pure computation on
// time.Time and imports only the standard library and robfig/cron.
//
// A Schedule has one or more clocks. Each clock produces events, the times
// it fires, each with the clock's parameter defaults and labels:
//
//   - NewIntervalClock fires every fixed duration from a start;
//   - NewCronClock fires when the wall clock matches a cron expression;
//   - NewDatesClock fires at listed times.
//
// The schedule merges its clocks' events in time order (an event equal to
// one already given, same instant, parameters and labels, fires once), keeps
// those that pass its filters (all of WithFilters, at least one of
// WithOrFilters, none of WithNotFilters), then moves them by its
// adjustments. Schedule.Next(n, after) returns the next n events strictly
// after `after`; it examines at most MaxChecked (10,000, as Prefect) clock
// events, filters or not, so filters that never match cannot make it loop
// forever and Next(20000, t) returns at most 10,000. A zero `after` means
// from the clocks' beginning, not now: pass time.Now().
//
//	s, err := schedule.New(
//		[]schedule.Clock{hourly},                   // an hourly interval clock
//		schedule.WithFilters(schedule.IsWeekday()), // weekdays only
//		schedule.WithOrFilters(                     // at 09:00 or 17:00
//			schedule.BetweenTimes("09:00", "09:00"),
//			schedule.BetweenTimes("17:00", "17:00")),
//	)
//	next := s.Next(4, time.Now()) // the next four 09:00 and 17:00 weekday runs
//
// Interval and Cron are shorthands for a schedule of one clock (Prefect's
// IntervalSchedule and CronSchedule); Must wraps them for package-level
// variables.
//
// # Time zones and daylight saving time
//
// A clock has a location: WithLocation's, else its start date's, else UTC.
// Events are reported in it, filters read dates and times of day in it, and
// wall-clock rules are its rules. The two kinds of clock differ on purpose,
// as in Prefect: an interval clock of 24 hours or more keeps its wall time
// (a daily 09:00 stays 09:00), one under 24 hours steps in elapsed time (an
// hourly clock fires every UTC hour, so twice at 01:00 local when clocks go
// back); a cron clock follows the wall clock and fires once for each
// matching wall time, neither skipping the hour that clocks jump over nor
// doubling the hour they repeat. NewIntervalClock and NewCronClock give the
// exact rules.
//
// # Cron syntax
//
// Cron expressions are read by robfig/cron (ParseStandard), which differs
// from croniter, the library Prefect uses. Supported: five fields (minute,
// hour, day-of-month, month, day-of-week); *, ?, lists (1,15), ranges
// (1-5), steps (*/15, 0-30/10); month and weekday names (JAN, MON); and the
// descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight and
// @hourly. Not supported, and reported as such: L (last day), W (nearest
// weekday), # (nth weekday), 7 for Sunday (use 0 or SUN), a sixth (seconds
// or year) field, H and R (hashed and random values), and a CRON_TZ=
// prefix (use WithLocation). @every is an interval: use NewIntervalClock.
//
// # Supported range
//
// Times must lie within years 1678-2262 (1677-09-21 to 2262-04-11, where
// time.Time.UnixNano is defined, as the server stores planned starts):
// starts, ends, dates and filter instants outside it are errors, and
// clocks yield no event outside it.
//
// # Storing schedules
//
// Filters and adjustments are values (a kind and its arguments), not
// functions, so a whole Schedule can be stored as JSON (MarshalJSON) and
// read back (UnmarshalJSON, which validates as New does). Zones are stored
// by IANA name, so DST rules survive the round trip. A clock in time.Local
// (as from WithStart(time.Now())) cannot be stored, since "Local" would be
// read back in the reader's zone: name the zone with WithLocation, or use
// UTC (time.Now().UTC()).
//
// # Errors
//
// Every bad argument is reported when the schedule is made, never when a
// run is due, as an error that matches ErrInvalid and names the bad value
// and what would be valid.
//
// # Differences from Prefect 1
//
// Events(after) and Next(n, after) yield events strictly after `after`
// (Prefect says "after" but could yield `after` itself across a DST change);
// `after` is required: Prefect's after=None means now, a zero `after` here
// means from the clocks' beginning, so pass time.Now(). Filters
// take Go values (AtTime(9, 0, 0), BetweenTimes("09:00", "17:00")) rather
// than Python callables; Prefect's RRuleClock and is_day_of_week filter are
// not ported.
package schedule

// Package schedule is Prefect 1's schedule model (prefect.schedules): when
// a flow runs.
//
// A Schedule has one or more clocks, each producing events: an
// IntervalClock fires every fixed duration from a start, a CronClock when
// the wall clock matches a cron expression, a DatesClock at listed times.
// The schedule merges its clocks' events in time order, keeps those that
// pass its filters, and moves them by its adjustments.
package schedule

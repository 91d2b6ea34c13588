package runner

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Context is what a running task knows about its run, Prefect's
// prefect.context: reach it from inside a task with [FromContext].
type Context struct {
	// FlowName is the name of the flow being run.
	FlowName string
	// FlowRunID identifies the flow run.
	FlowRunID uuid.UUID
	// FlowRunName is the flow run's readable name.
	FlowRunName string
	// TaskName and TaskSlug name the task; TaskRunName is the name its run
	// template (task.WithRunName) gave it, or the slug.
	TaskName, TaskSlug, TaskRunName string
	// TaskRunCount is 1 on the first run of the task, 2 on its first retry, ...
	TaskRunCount int
	// MapIndex is the index of a mapped child run, or -1.
	MapIndex int
	// Parameters holds the flow run's parameters, defaults included. It is
	// shared by every task of the run: read it, never write it.
	Parameters map[string]any
	// ScheduledStartTime is when the flow run was scheduled to start; the
	// date helpers (Today, Yesterday, ...) are relative to it.
	ScheduledStartTime time.Time
	// Resumed is set when the run was told to resume this task
	// (WithResume), Prefect's context.resume: a task that returns
	// task.Pause to wait for approval checks it to go on.
	Resumed bool

	logger  *slog.Logger
	logOnce sync.Once
	idOnce  sync.Once
	id      uuid.UUID
}

type ctxKey struct{}

// FromContext returns the run context of the task run that ctx belongs to.
// It returns false outside a task run. A task may keep its context after it
// returns (goroutines it started may still use it), but keeping it keeps the
// flow run's bookkeeping in memory too.
func FromContext(ctx context.Context) (*Context, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Context)
	return c, ok
}

// NewContext returns a copy of parent in which [FromContext] finds rc, its
// Logger writing to logger's handler (nil discards). An executor that calls
// a task in another process uses it there, to give the task the run context
// the runner made for it ([TaskRun.Context]) once it crossed the wire. rc
// must be new (not one FromContext returned): NewContext sets its logger.
func NewContext(parent context.Context, rc *Context, logger *slog.Logger) context.Context {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rc.logger = logger
	return context.WithValue(parent, ctxKey{}, rc)
}

// TaskRunID returns the task run's id: a name-based (version 5) UUID of the
// flow run id, the task's slug and the map index. It is the same on every
// attempt of the run, differs between task runs, and costs nothing until asked.
func (c *Context) TaskRunID() uuid.UUID {
	c.idOnce.Do(func() {
		c.id = taskRunID(c.FlowRunID, c.TaskSlug, c.MapIndex)
	})
	return c.id
}

// Logger returns the run's logger with the flow and task run attributes
// attached, for a task's own log records.
func (c *Context) Logger() *slog.Logger {
	c.logOnce.Do(func() {
		c.logger = c.logger.With(slog.Group("flow_run",
			slog.String("flow_name", c.FlowName),
			slog.String("flow_run_id", c.FlowRunID.String()),
			slog.String("flow_run_name", c.FlowRunName)),
			slog.Group("task_run",
				slog.String("task_slug", c.TaskSlug),
				slog.String("task_run_id", c.TaskRunID().String()),
				slog.Int("map_index", c.MapIndex),
				slog.Int("task_run_count", c.TaskRunCount)))
	})
	return c.logger
}

const (
	dateLayout   = "2006-01-02"
	nodashLayout = "20060102"
)

// Date returns the scheduled start time, Prefect's context.date. Prefect
// fills it with the time the run starts, unless a date is given; here it
// is the run's scheduled start time, which is now for a run started by
// hand and the planned time of a scheduled one (runner.RunScheduled, the
// server's scheduler), so that a late run still works on its own day.
func (c *Context) Date() time.Time { return c.ScheduledStartTime }

// day returns the scheduled start date moved by days, in UTC, as
// Prefect's date strings are (pendulum.now("utc")), whatever zone the
// schedule is in.
func (c *Context) day(days int) time.Time { return c.ScheduledStartTime.UTC().AddDate(0, 0, days) }

// Today returns the scheduled start date (UTC) as YYYY-MM-DD.
func (c *Context) Today() string { return c.day(0).Format(dateLayout) }

// Yesterday returns the day before the scheduled start date as YYYY-MM-DD.
func (c *Context) Yesterday() string { return c.day(-1).Format(dateLayout) }

// Tomorrow returns the day after the scheduled start date as YYYY-MM-DD.
func (c *Context) Tomorrow() string { return c.day(1).Format(dateLayout) }

// TodayNoDash returns the scheduled start date as YYYYMMDD.
func (c *Context) TodayNoDash() string { return c.day(0).Format(nodashLayout) }

// YesterdayNoDash returns the day before the scheduled start date as YYYYMMDD.
func (c *Context) YesterdayNoDash() string { return c.day(-1).Format(nodashLayout) }

// TomorrowNoDash returns the day after the scheduled start date as YYYYMMDD.
func (c *Context) TomorrowNoDash() string { return c.day(1).Format(nodashLayout) }

// useHook is the secrets.OnUse hook of the flow run's context. It is never
// called from a task: a task's context answers for it with a hook of its
// own (taskCtx.Value), found by comparing the hook it looks up with this
// one. Elsewhere (a state handler of a task that does not run, the run's
// own lookups) a secret handed out taints nothing.
func useHook() {}

// useHookPC identifies useHook.
var useHookPC = reflect.ValueOf(useHook).Pointer()

// isUseHook reports whether f is useHook.
func isUseHook(f func()) bool { return reflect.ValueOf(f).Pointer() == useHookPC }

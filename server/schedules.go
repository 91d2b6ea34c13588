package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/schedule"
)

// Schedules: a flow registered with a schedule (register_flow's schedule,
// the JSON of a schedule.Schedule) has runs created by the server's
// scheduler, which [WithScheduler] starts. Every interval it asks the
// store for the flows due (one indexed query: when nothing is due, that
// is all a pass costs) and, for each, creates Scheduled runs for the
// schedule's next events, keeping up to [DefaultScheduledRuns] of them
// ahead, as Prefect Server's scheduler keeps max_scheduled_runs. Each run
// is planned for its event's time (agents claim it from then on), has the
// event's parameter defaults as its parameters (the flow program fills in
// the rest from its own defaults) and the event's labels added to the
// flow's, and a Prefect-like name ("sassy-tortoise"). Its idempotency key,
// the flow's name and the event's time, is unique in the store, so that
// servers sharing a database never create one event's run twice.
const schedulesSchema = `
input set_schedule_active_input {
	"The flow's name; or flow_id, a version's ID, as Prefect 1's client sends it."
	flow_name: String
	flow_id: String
}

extend type Mutation {
	"Turns the flow's schedule on: the scheduler creates its runs."
	set_schedule_active(input: set_schedule_active_input!): success_payload
	"Turns the flow's schedule off, deleting the Scheduled runs the scheduler created and nobody claimed."
	set_schedule_inactive(input: set_schedule_active_input!): success_payload
}
`

// A ScheduleStore is a [RunStore] that keeps flows' schedules for the
// server's scheduler (store.SQL is one). Without one, register_flow
// refuses a schedule and there is no scheduler.
type ScheduleStore interface {
	// SetScheduleActive turns the schedule of the tenant's flow name on
	// or off, and returns how many runs it deleted: turning it off deletes
	// the Scheduled runs the scheduler created that nobody claimed.
	SetScheduleActive(ctx context.Context, tenantID, flowName string, active bool) (removed int, err error)
	// DueSchedules returns up to limit active schedules, of every
	// tenant, that are due at now.
	DueSchedules(ctx context.Context, now time.Time, limit int) ([]orchestration.FlowSchedule, error)
	// ScheduleRuns writes the plans whose schedules are still as read,
	// creating their runs but those whose idempotency keys exist, and
	// returns how many it created.
	ScheduleRuns(ctx context.Context, plans []orchestration.SchedulePlan) (created int, err error)
}

// Defaults of the scheduler.
const (
	// DefaultScheduleInterval is how often the scheduler looks for flows
	// due. A run is created that long at most after the window ahead
	// opens for it, long before its time.
	DefaultScheduleInterval = 10 * time.Second
	// DefaultScheduledRuns is how many runs of each flow the scheduler
	// keeps planned ahead (Prefect Server's max_scheduled_runs).
	DefaultScheduledRuns = 10
	// scheduleBatch is how many flows due one pass reads and writes at a
	// time (one query and one transaction).
	scheduleBatch = 500
)

// WithScheduler makes the server run its scheduler every interval
// (DefaultScheduleInterval when d <= 0), from [New] until [Server.Close],
// if its store is a [ScheduleStore]. Without it, nothing creates runs of
// schedules but calls of [Server.Schedule].
func WithScheduler(every time.Duration) Option {
	return func(s *Server) {
		if every <= 0 {
			every = DefaultScheduleInterval
		}
		s.sched.every = every
	}
}

// WithScheduledRuns sets how many runs of each scheduled flow the
// scheduler keeps planned ahead (default [DefaultScheduledRuns]); n <= 0
// keeps the default.
func WithScheduledRuns(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.sched.ahead = n
		}
	}
}

// scheduler is the server's part that creates the runs of schedules.
type scheduler struct {
	every  time.Duration // 0: not started
	ahead  int
	st     ScheduleStore // nil: no schedules
	stop   context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// start runs the passes in the background if the server was given
// WithScheduler and its store keeps schedules.
func (s *Server) startScheduler() {
	sc := &s.sched
	if sc.every <= 0 || sc.st == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc.stop, sc.done = cancel, make(chan struct{})
	go func() {
		defer close(sc.done)
		t := time.NewTicker(sc.every)
		defer t.Stop()
		for {
			// A store that fails is asked again next time.
			if n, err := s.Schedule(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "scheduler: creating the runs of schedules", "err", err, "created", n)
			} else if n > 0 {
				s.log.InfoContext(ctx, "scheduler: created the runs of schedules", "runs", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// stopScheduler stops the background passes and waits for the one
// running to end.
func (s *Server) stopScheduler() {
	sc := &s.sched
	sc.closed.Do(func() {
		if sc.stop != nil {
			sc.stop()
			<-sc.done
		}
	})
}

// Schedule runs one pass of the scheduler now, as [WithScheduler] does
// every interval, and returns how many runs it created: for each active
// schedule due, the runs of its next events not created yet, up to the
// number kept ahead. A program that serves without WithScheduler may call
// it itself. Several servers sharing a store may all run it at once: no
// event gets two runs.
func (s *Server) Schedule(ctx context.Context) (int, error) {
	st := s.sched.st
	if st == nil {
		return 0, errors.New("server: the store keeps no schedules")
	}
	now := time.Now()
	total := 0
	// Each batch moves its flows' next times past now: a pass ends when
	// none is due, or after as many batches as could be due (flows
	// re-registered during the pass are due again).
	for range 1000 {
		due, err := st.DueSchedules(ctx, now, scheduleBatch)
		if err != nil || len(due) == 0 {
			return total, err
		}
		plans := make([]orchestration.SchedulePlan, 0, len(due))
		for _, fs := range due {
			plans = append(plans, s.plan(ctx, fs, now))
		}
		n, err := st.ScheduleRuns(ctx, plans)
		total += n
		if err != nil || len(due) < scheduleBatch {
			return total, err
		}
	}
	return total, nil
}

// plan returns what the scheduler writes for fs at now: runs of the
// schedule's next events (from now on, one at now included) that it has
// not created (after fs.Until), and the time of the first event after now,
// when the window ahead holds a run less and the flow is due again. A
// schedule that does not parse (a store written by another program) is
// logged and never due again until the flow is registered again.
func (s *Server) plan(ctx context.Context, fs orchestration.FlowSchedule, now time.Time) orchestration.SchedulePlan {
	p := orchestration.SchedulePlan{Read: fs, Until: fs.Until}
	var sched schedule.Schedule
	if err := json.Unmarshal(fs.Schedule, &sched); err != nil {
		s.log.ErrorContext(ctx, "scheduler: a flow's schedule does not parse; register the flow again", "tenant", fs.TenantID, "flow", fs.FlowName, "err", err)
		return p
	}
	for _, e := range sched.Next(s.sched.ahead, now.Add(-time.Nanosecond)) {
		if !e.Start.After(fs.Until) {
			continue // created already
		}
		r, err := scheduledRun(fs, e)
		if err != nil {
			s.log.ErrorContext(ctx, "scheduler: a schedule's event", "tenant", fs.TenantID, "flow", fs.FlowName, "err", err)
			continue
		}
		p.Runs = append(p.Runs, r)
		p.Until = e.Start
	}
	if next := sched.Next(1, now); len(next) > 0 {
		p.Next = next[0].Start
	}
	return p
}

// scheduledRun is the run of the flow's schedule's event e.
func scheduledRun(fs orchestration.FlowSchedule, e schedule.Event) (orchestration.FlowRun, error) {
	params := []byte("{}")
	if len(e.ParameterDefaults) > 0 {
		var err error
		if params, err = json.Marshal(e.ParameterDefaults); err != nil {
			return orchestration.FlowRun{}, fmt.Errorf("the parameter defaults of the event at %s: %w", e.Start.Format(time.RFC3339), err)
		}
	}
	labels := append(slices.Clone(fs.Labels), e.Labels...)
	slices.Sort(labels)
	key := orchestration.ScheduleKey(fs.FlowName, e.Start)
	return orchestration.FlowRun{
		Name:           runName(key),
		Parameters:     params,
		Labels:         slices.Compact(labels),
		ScheduledStart: e.Start.UTC(),
		IdempotencyKey: key,
	}, nil
}

// runName makes a Prefect-like name (an adjective and an animal) from
// key: servers that plan the same event name its run alike.
func runName(key string) string {
	h := sha256.Sum256([]byte(key))
	a := binary.BigEndian.Uint32(h[:4])
	b := binary.BigEndian.Uint32(h[4:8])
	return adjectives[a%uint32(len(adjectives))] + "-" + animals[b%uint32(len(animals))]
}

var (
	adjectives = []string{"amber", "brave", "calm", "daring", "eager", "fancy", "gentle", "happy", "icy", "jolly",
		"keen", "lively", "merry", "nimble", "olive", "proud", "quiet", "rustic", "sassy", "tidy",
		"upbeat", "vivid", "witty", "zesty", "bold", "crimson", "dusty", "fuzzy", "golden", "hungry"}
	animals = []string{"aardvark", "badger", "camel", "dingo", "eagle", "ferret", "gecko", "heron", "ibis", "jackal",
		"koala", "lemur", "marmot", "narwhal", "ocelot", "panda", "quail", "raven", "stork", "tortoise",
		"urchin", "vulture", "walrus", "yak", "zebra", "bison", "coyote", "dolphin", "falcon", "gopher"}
)

type setScheduleArgs struct {
	Input struct {
		FlowName *string
		FlowID   *string
	}
}

func (r *resolver) SetScheduleActive(ctx context.Context, args setScheduleArgs) (*successPayload, error) {
	return r.setSchedule(ctx, args, true)
}

func (r *resolver) SetScheduleInactive(ctx context.Context, args setScheduleArgs) (*successPayload, error) {
	return r.setSchedule(ctx, args, false)
}

func (r *resolver) setSchedule(ctx context.Context, args setScheduleArgs, active bool) (*successPayload, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	st := r.s.sched.st
	if st == nil {
		return nil, errNoSchedules
	}
	f, err := r.findFlow(ctx, rs, args.Input.FlowID, args.Input.FlowName)
	if err != nil {
		return nil, err
	}
	if _, err := st.SetScheduleActive(ctx, f.TenantID, f.Name, active); err != nil {
		return nil, r.runError(ctx, "set_schedule_active", err, errNoFlow)
	}
	return &successPayload{ok: true}, nil
}

var errNoSchedules = &gqlError{"this server keeps no schedules (its store has no schedule tables)", "NOT_IMPLEMENTED"}

// maxSchedule bounds a schedule's JSON.
const maxSchedule = 64 << 10

// flowSchedule checks the flow's schedule j, if given, and returns its
// JSON as package schedule writes it, or nil for none.
func (r *resolver) flowSchedule(flow string, j *JSON) ([]byte, error) {
	if j == nil || j.raw == nil || string(j.raw) == "null" {
		return nil, nil
	}
	if r.s.sched.st == nil {
		return nil, errNoSchedules
	}
	if len(j.raw) > maxSchedule {
		return nil, userError("flow %q: the schedule is %s; at most %s", flow, sizeText(len(j.raw)), sizeText(maxSchedule))
	}
	var sched schedule.Schedule
	if err := sched.UnmarshalJSON(j.raw); err != nil {
		return nil, userError("flow %q: the schedule is invalid: %v", flow, err)
	}
	b, err := sched.MarshalJSON()
	if err != nil {
		return nil, userError("flow %q: the schedule is invalid: %v", flow, err)
	}
	return b, nil
}

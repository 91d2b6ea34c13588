package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
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
// schedule's next events: at least the next [DefaultScheduledRuns] (as
// Prefect Server's scheduler keeps max_scheduled_runs), and all until two
// intervals ahead, so that no event between passes is missed. Each run
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
	"Turns the flow's schedule on: the scheduler creates its runs. A flow whose newest version has no schedule is refused."
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
	// due. Each pass plans every flow due until two intervals ahead, so a
	// run is created at least one interval before its time.
	DefaultScheduleInterval = 10 * time.Second
	// DefaultScheduledRuns is how many runs of each flow the scheduler
	// keeps planned ahead at least (Prefect Server's max_scheduled_runs);
	// more when the schedule fires more often within two intervals.
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
	parsed parsedSchedules
}

// maxParsed bounds the schedules the scheduler keeps parsed; beyond it,
// it forgets them all and parses them again as they come due.
const maxParsed = 50_000

// parsedSchedules keeps the schedules the scheduler parsed, by flow
// version: a flow due every pass is parsed once per version, not once per
// pass. An entry serves only the very JSON it was parsed from.
type parsedSchedules struct {
	mu sync.Mutex
	m  map[string]parsedSchedule // by flow ID
}

type parsedSchedule struct {
	raw   string
	sched *schedule.Schedule
	err   error
}

// get returns the schedule fs.Schedule holds, parsing it only if the
// version's JSON was not parsed before.
func (p *parsedSchedules) get(fs orchestration.FlowSchedule) (*schedule.Schedule, error) {
	p.mu.Lock()
	e, ok := p.m[fs.FlowID]
	p.mu.Unlock()
	if ok && e.raw == string(fs.Schedule) {
		return e.sched, e.err
	}
	e = parsedSchedule{raw: string(fs.Schedule), sched: new(schedule.Schedule)}
	if e.err = json.Unmarshal(fs.Schedule, e.sched); e.err != nil {
		e.sched = nil
	}
	p.mu.Lock()
	if p.m == nil || len(p.m) >= maxParsed {
		p.m = make(map[string]parsedSchedule)
	}
	p.m[fs.FlowID] = e
	p.mu.Unlock()
	return e.sched, e.err
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
// number kept ahead. It stops when ctx ends, between flows, returning its
// error. A program that serves without WithScheduler may call it itself. Several servers sharing a store may all run it at once: no
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
			// A pass ends with the server: Close does not wait for
			// the rest.
			if err := ctx.Err(); err != nil {
				return total, err
			}
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

// Bounds of one pass of the scheduler.
const (
	// maxPlanRuns bounds the runs one pass creates for one flow: a
	// schedule firing more often than that in three scheduler intervals
	// (such as every second with an interval over 10 minutes) loses runs,
	// and the scheduler logs it.
	maxPlanRuns = 5000
	// recheck is how soon at most a schedule whose filters matched none
	// of the MaxChecked clock events examined is looked at again.
	recheck = time.Hour
)

// The supported range of planned starts: where time.Time.UnixNano is
// defined, since stores keep them so (years 1678 to 2262).
var (
	minPlanned = time.Unix(0, math.MinInt64).UTC()
	maxPlanned = time.Unix(0, math.MaxInt64).UTC()
)

// plannable reports whether t lies in the supported range of planned
// starts.
func plannable(t time.Time) bool { return !t.Before(minPlanned) && !t.After(maxPlanned) }

// plan returns what the scheduler writes for fs at now, a pass of a
// scheduler that passes every interval.
//
// The runs: those of the schedule's events not created yet (after
// fs.Until) up to the horizon, now plus two intervals, and at least the
// first [WithScheduledRuns] events from now (one at now included), so
// that no event between two passes is missed. A flow never planned since
// its schedule changed or was turned on (fs.Until zero) starts from now;
// otherwise the events after fs.Until are planned, but none before the
// previous pass (now minus the interval): after a downtime, the events
// missed are not made up. One pass examines at most
// [schedule.MaxChecked] clock events of a flow and creates at most
// maxPlanRuns runs of it; a schedule firing more often than that within
// three intervals loses runs (the scheduler logs it).
//
// The flow is due again (Next) at its first event after now, when the
// window ahead holds a run less; when it has none, the schedule:
//   - has ended if its clocks have no event left (their end dates or last
//     dates passed): Next is zero and the flow is never due again, until
//     it is registered again or turned on;
//   - otherwise its filters matched none of the clock events examined
//     (Next gives up after schedule.MaxChecked of them): it is looked at
//     again an hour later at most, before the last clock event examined
//     leaves the window of the next pass, so that a rare match (say, a
//     minutely clock filtered to February 29) is still found in time.
//
// A schedule that does not parse (a store written by another program) is
// logged and never due again until the flow is registered again.
func (s *Server) plan(ctx context.Context, fs orchestration.FlowSchedule, now time.Time) orchestration.SchedulePlan {
	p := orchestration.SchedulePlan{Read: fs, Until: fs.Until}
	sched, err := s.sched.parsed.get(fs)
	if err != nil {
		s.log.ErrorContext(ctx, "scheduler: a flow's schedule does not parse; register the flow again", "tenant", fs.TenantID, "flow", fs.FlowName, "err", err)
		return p
	}
	every := s.sched.every
	if every <= 0 {
		every = DefaultScheduleInterval
	}
	horizon := now.Add(2 * every)
	// from: events after it are looked at.
	from := now.Add(-time.Nanosecond)
	if !fs.Until.IsZero() && fs.Until.Before(from) {
		from = fs.Until
		if prev := now.Add(-every); from.Before(prev) {
			from = prev // no backfill after a downtime
		}
	}
	ahead := 0         // events at or after now seen
	var next time.Time // the first event after now
	full, capped := false, false
	for e := range sched.Events(from) {
		if !plannable(e.Start) {
			if e.Start.After(maxPlanned) {
				full = true // none later is plannable either
				break
			}
			continue
		}
		if ahead >= s.sched.ahead && e.Start.After(horizon) {
			if next.IsZero() {
				next = e.Start
			}
			full = true
			break
		}
		if !e.Start.Before(now) {
			ahead++
		}
		if next.IsZero() && e.Start.After(now) {
			next = e.Start
		}
		if !e.Start.After(p.Until) {
			continue // created already
		}
		if len(p.Runs) == maxPlanRuns {
			capped = true
			break
		}
		r, err := scheduledRun(fs, e)
		if err != nil {
			s.log.ErrorContext(ctx, "scheduler: a schedule's event", "tenant", fs.TenantID, "flow", fs.FlowName, "err", err)
			continue
		}
		p.Runs = append(p.Runs, r)
		p.Until = e.Start
	}
	if capped {
		s.log.WarnContext(ctx, "scheduler: a flow's schedule fires more often than one pass plans; runs may be missed (shorten the scheduler's interval)",
			"tenant", fs.TenantID, "flow", fs.FlowName, "runs", len(p.Runs))
	}
	switch {
	case !next.IsZero():
		p.Next = next
	case full:
		// Nothing plannable after now (past 2262): never due again.
	case capped:
		p.Next = now.Add(time.Nanosecond) // the next pass goes on
	default:
		// No event after now among those examined: the clocks ended, or
		// the filters matched none of MaxChecked clock events.
		if last, ended := lastClockEvent(sched, from); !ended {
			p.Next = now.Add(recheck)
			if before := last.Add(-every); before.Before(p.Next) {
				p.Next = before
			}
			if !p.Next.After(now) {
				p.Next = now.Add(time.Nanosecond)
			}
		}
	}
	return p
}

// lastClockEvent returns the time of the last of the first
// schedule.MaxChecked events of s's clocks after `after` (in time order,
// no later than the last one Next examines), or ended true when the
// clocks have fewer: then Next has examined all there will ever be.
func lastClockEvent(s *schedule.Schedule, after time.Time) (last time.Time, ended bool) {
	type head struct {
		next func() (schedule.Event, bool)
		e    schedule.Event
		ok   bool
	}
	var heads []*head
	for _, c := range s.Clocks() {
		next, stop := iter.Pull(c.Events(after))
		defer stop()
		h := &head{next: next}
		h.e, h.ok = next()
		heads = append(heads, h)
	}
	for range schedule.MaxChecked {
		var first *head
		for _, h := range heads {
			if h.ok && (first == nil || h.e.Start.Before(first.e.Start)) {
				first = h
			}
		}
		if first == nil {
			return last, true
		}
		last = first.e.Start
		first.e, first.ok = first.next()
	}
	return last, false
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
	if active {
		// The schedule is the newest version's: findFlow read it by name,
		// but by ID f may be an older one.
		latest := f
		if id := args.Input.FlowID; id != nil && *id != "" {
			if latest, err = rs.LatestFlow(ctx, f.TenantID, f.Name); err != nil {
				return nil, r.runError(ctx, "set_schedule_active", err, errNoFlow)
			}
		}
		if latest.Schedule == nil {
			return nil, userError("flow %q has no schedule: register it with one (flow.WithSchedule)", f.Name)
		}
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

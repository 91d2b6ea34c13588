package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
)

func newKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	mk, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return seal.NewKeyring(mk)
}

// cancelSchedules is a store with many flows due, which cancels the
// pass's context as it lists them.
type cancelSchedules struct {
	server.Store
	server.RunStore
	cancel context.CancelFunc
	sched  []byte
	mu     sync.Mutex
	plans  []orchestration.SchedulePlan
}

func (c *cancelSchedules) SetScheduleActive(context.Context, string, string, bool) (int, error) {
	return 0, nil
}

func (c *cancelSchedules) DueSchedules(context.Context, time.Time, int) ([]orchestration.FlowSchedule, error) {
	c.cancel()
	var due []orchestration.FlowSchedule
	for i := range 100 {
		due = append(due, orchestration.FlowSchedule{TenantID: "t", FlowName: "etl" + string(rune('a'+i%26)), FlowID: "f", Schedule: c.sched})
	}
	return due, nil
}

func (c *cancelSchedules) ScheduleRuns(_ context.Context, plans []orchestration.SchedulePlan) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plans = append(c.plans, plans...)
	return 0, nil
}

// A pass stops planning when its context ends (the server closing), not
// after every flow due.
func TestSchedulePassHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &cancelSchedules{Store: newMemStore(), cancel: cancel,
		sched: mustSchedule(t, schedule.Must(schedule.Interval(time.Minute)))}
	srv := server.New(st, newKeyring(t))
	defer srv.Close()
	if _, err := srv.Schedule(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Schedule with its context cancelled: %v; want context.Canceled", err)
	}
	if len(st.plans) != 0 {
		t.Errorf("%d flows planned after the context ended; want none", len(st.plans))
	}
}

// rowSchedules keeps one flow's schedule row as store.SQL does.
type rowSchedules struct {
	server.Store
	server.RunStore
	mu   sync.Mutex
	fs   orchestration.FlowSchedule
	next *time.Time // nil: never due
	down func(now time.Time) bool
	runs map[time.Time]int // planned start: runs created
	max  int               // the most runs of one plan
}

func (r *rowSchedules) SetScheduleActive(context.Context, string, string, bool) (int, error) {
	return 0, nil
}

func (r *rowSchedules) DueSchedules(_ context.Context, now time.Time, _ int) ([]orchestration.FlowSchedule, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down != nil && r.down(now) {
		return nil, errors.New("the database is down")
	}
	if r.next == nil || r.next.After(now) {
		return nil, nil
	}
	return []orchestration.FlowSchedule{r.fs}, nil
}

func (r *rowSchedules) ScheduleRuns(_ context.Context, plans []orchestration.SchedulePlan) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range plans {
		if !p.Read.Until.Equal(r.fs.Until) {
			continue
		}
		r.fs.Until, r.next = p.Until, nil
		if !p.Next.IsZero() {
			next := p.Next
			r.next = &next
		}
		for _, run := range p.Runs {
			r.runs[run.ScheduledStart]++
			n++
		}
		r.max = max(r.max, len(p.Runs))
	}
	return n, nil
}

func newRowSchedules(t *testing.T, s *schedule.Schedule) *rowSchedules {
	zero := time.Time{}
	return &rowSchedules{Store: newMemStore(), next: &zero, runs: map[time.Time]int{},
		fs: orchestration.FlowSchedule{TenantID: "t", FlowName: "etl", FlowID: "f", Schedule: mustSchedule(t, s)}}
}

// A schedule firing every second, with the scheduler passing every 30 s,
// gets one run each second, none lost between passes; after a downtime,
// the events older than the previous pass are not made up.
func TestScheduleEverySecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now().UTC()
		st := newRowSchedules(t, schedule.Must(schedule.Interval(time.Second, schedule.WithStart(t0))))
		// Down from 100 s to 200 s: the passes at 120, 150 and 180 s fail;
		// the one at 210 s plans after 180 s (the previous pass).
		st.down = func(now time.Time) bool {
			return now.After(t0.Add(100*time.Second)) && now.Before(t0.Add(200*time.Second))
		}
		srv := server.New(st, newKeyring(t), server.WithScheduler(30*time.Second))
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		srv.Close()
		st.mu.Lock()
		defer st.mu.Unlock()
		for s := range 5*60 + 1 {
			at := t0.Add(time.Duration(s) * time.Second)
			want := 1
			if s > 150 && s <= 180 {
				want = 0 // planned until 150 s before the downtime
			}
			if got := st.runs[at]; got != want {
				t.Errorf("second %d: %d runs; want %d", s, got, want)
			}
		}
		for at, n := range st.runs {
			if n != 1 {
				t.Errorf("%v: %d runs", at, n)
			}
		}
	})
}

// One pass creates a bounded number of runs of one flow, however often it
// fires in the scheduler's interval.
func TestSchedulePassBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newRowSchedules(t, schedule.Must(schedule.Interval(time.Millisecond, schedule.WithStart(time.Now().UTC()))))
		srv := server.New(st, newKeyring(t), server.WithScheduler(time.Hour))
		time.Sleep(time.Second)
		synctest.Wait()
		srv.Close()
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.max == 0 || st.max > schedule.MaxChecked {
			t.Errorf("a pass planned %d runs of a flow; want 1 to %d", st.max, schedule.MaxChecked)
		}
	})
}

// A schedule whose filters match none of the clock events one pass
// examines is looked at again later; one whose clocks ended is not.
func TestRareScheduleStaysOn(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		// Minutely, on one day five years from now only: the 10,000
		// minutes (a week) Next examines hold none.
		now := time.Now().UTC()
		day := now.AddDate(5, 0, 0)
		rare := schedule.Must(schedule.New([]schedule.Clock{mustClock(t, time.Minute, now.Truncate(time.Minute))},
			schedule.WithFilters(schedule.BetweenDatetimes(day, day.Add(24*time.Hour)))))
		f.do(t, registerScheduled, map[string]any{"name": "rare", "s": mustSchedule(t, rare)})
		ended := schedule.Must(schedule.Interval(time.Minute, schedule.WithStart(now.Add(-2*time.Hour)), schedule.WithEnd(now.Add(-time.Hour))))
		f.do(t, registerScheduled, map[string]any{"name": "ended", "s": mustSchedule(t, ended)})
		f.schedule(t, 0)
		st := f.open(t)
		due, err := st.DueSchedules(context.Background(), now.Add(2*time.Hour), 10)
		if err != nil || len(due) != 1 || due[0].FlowName != "rare" {
			t.Errorf("due in 2 hours: %+v, %v; want rare (its filters may match later), not ended", due, err)
		}
		due, err = st.DueSchedules(context.Background(), now.AddDate(100, 0, 0), 10)
		if err != nil || len(due) != 1 || due[0].FlowName != "rare" {
			t.Errorf("due in 100 years: %+v, %v; want rare alone", due, err)
		}
	})
}

func mustClock(t *testing.T, every time.Duration, start time.Time) schedule.Clock {
	t.Helper()
	c, err := schedule.NewIntervalClock(every, schedule.WithStart(start))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Registering a flow unchanged leaves its schedule as it was: a schedule
// turned off stays off.
func TestReregisterKeepsScheduleOff(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		ctx := context.Background()
		c := newClient(t, f.fixture, f.env.Key)
		reg := client.FlowRegistration{Name: "etl", Command: []string{"/bin/true"}, Schedule: mustSchedule(t, schedule.Must(schedule.Cron("0 * * * *")))}
		active := func(want bool) {
			t.Helper()
			fl, err := c.Flows(ctx)
			if err != nil || len(fl) != 1 || fl[0].ScheduleActive != want {
				t.Fatalf("Flows = %+v, %v; want etl active %v", fl, err, want)
			}
		}
		if _, _, created, err := c.RegisterFlow(ctx, reg); err != nil || !created {
			t.Fatalf("RegisterFlow = created %v, %v", created, err)
		}
		active(true)
		if err := c.SetScheduleActive(ctx, "etl", false); err != nil {
			t.Fatal(err)
		}
		if _, _, created, err := c.RegisterFlow(ctx, reg); err != nil || created {
			t.Fatalf("RegisterFlow again = created %v, %v; want the same version", created, err)
		}
		active(false)
		f.schedule(t, 0)
		if err := c.SetScheduleActive(ctx, "etl", true); err != nil {
			t.Fatal(err)
		}
		reg.ScheduleInactive = true // asked: turned off
		if _, _, _, err := c.RegisterFlow(ctx, reg); err != nil {
			t.Fatal(err)
		}
		active(false)
		reg.ScheduleInactive = false
		reg.Command = []string{"/bin/false"} // a new version: active
		if _, _, created, err := c.RegisterFlow(ctx, reg); err != nil || !created {
			t.Fatalf("RegisterFlow changed = created %v, %v", created, err)
		}
		active(true)
	})
}

// Turning on the schedule of a flow that has none is refused, naming it.
func TestScheduleActiveWithoutSchedule(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		f.do(t, registerScheduled, map[string]any{"name": "plain"})
		_, out := f.gql(t, f.env.Key, `mutation { set_schedule_active(input: {flow_name: "plain"}) { success } }`, nil, false)
		if want := `flow "plain" has no schedule: register it with one (flow.WithSchedule)`; !strings.Contains(out.messages(), want) {
			t.Errorf("set_schedule_active of a flow without a schedule: %q; want %q", out.messages(), want)
		}
		f.do(t, `mutation { set_schedule_inactive(input: {flow_name: "plain"}) { success } }`, nil)
		data := f.do(t, `{ flows { name schedule_active } }`, nil)
		if !sameJSON(string(data["flows"]), `[{"name":"plain","schedule_active":false}]`) {
			t.Errorf("flows = %s; want plain inactive", data["flows"])
		}
	})
}

// Planned starts are where stores keep them (UnixNano): create_flow_run
// refuses others, and the scheduler creates no run past 2262.
func TestPlannedStartRange(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		f.do(t, registerScheduled, map[string]any{"name": "etl"})
		create := `mutation($at: String) { create_flow_run(input: {flow_name: "etl", scheduled_start_time: $at}) { id } }`
		for _, at := range []string{"2300-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "2262-04-11T23:47:16.854775808Z"} {
			_, out := f.gql(t, f.env.Key, create, map[string]any{"at": at}, false)
			if msg := out.messages(); !strings.Contains(msg, at) || !strings.Contains(msg, "1678 to 2262") {
				t.Errorf("scheduled_start_time %s: %q; want it refused naming it and the range", at, msg)
			}
		}
		f.do(t, create, map[string]any{"at": "2262-04-11T23:47:16.854775807Z"})
		// Every day at midnight until the end of the range, moved a day
		// later: the last event is past 2262-04-11.
		late := schedule.Must(schedule.New([]schedule.Clock{mustClock(t, 24*time.Hour, time.Date(2262, 4, 9, 0, 0, 0, 0, time.UTC))},
			schedule.WithAdjustments(schedule.Add(48*time.Hour))))
		f.do(t, registerScheduled, map[string]any{"name": "late", "s": mustSchedule(t, late)})
		f.schedule(t, 1) // 2262-04-11; not 04-12 nor 04-13
		for _, r := range f.runs(t) {
			if r.FlowName == "late" && r.ScheduledStartTime != "2262-04-11T00:00:00Z" {
				t.Errorf("run of late planned for %s; want 2262-04-11 alone", r.ScheduledStartTime)
			}
		}
	})
}

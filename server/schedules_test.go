package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
)

// schedFixture is a server over a real store, with its *server.Server at
// hand to run the scheduler's passes.
type schedFixture struct {
	*fixture
	env  *servertest.Env
	srv  *server.Server
	open func(t testing.TB) *store.SQL // the same database again
}

// forEachScheduleStore runs test against a server on SQLite and on
// PostgreSQL.
func forEachScheduleStore(t *testing.T, test func(t *testing.T, f *schedFixture)) {
	setup := func(t *testing.T, open func(t testing.TB) *store.SQL) {
		env := servertest.On(t, open(t))
		srv := env.Handler()
		t.Cleanup(func() { srv.Close() })
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		test(t, &schedFixture{fixture: &fixture{srv: ts}, env: env, srv: srv, open: open})
	}
	opener := func(target string) func(t testing.TB) *store.SQL {
		return func(t testing.TB) *store.SQL {
			st, err := store.Open(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	}
	t.Run("sqlite", func(t *testing.T) { setup(t, opener(filepath.Join(t.TempDir(), "server.db"))) })
	t.Run("postgres", func(t *testing.T) { setup(t, opener(pgtest.URL(t))) })
}

// do runs a GraphQL operation of tenant acme and fails the test on errors.
func (f *schedFixture) do(t *testing.T, query string, vars any) map[string]json.RawMessage {
	t.Helper()
	_, out := f.gql(t, f.env.Key, query, vars, false)
	if len(out.Errors) > 0 {
		t.Fatalf("%s: %s", query, out.messages())
	}
	return out.Data
}

const registerScheduled = `mutation($name: String!, $s: JSON, $active: Boolean) {
	register_flow(input: {name: $name, definition: {}, labels: ["base"], command: ["/bin/flows"], schedule: $s, set_schedule_active: $active}) { id version created }
}`

type wireRun struct {
	ID, Name, State    string
	FlowName           string `json:"flow_name"`
	Parameters         json.RawMessage
	Labels             []string
	ScheduledStartTime string `json:"scheduled_start_time"`
	AutoScheduled      bool   `json:"auto_scheduled"`
	FlowVersion        int    `json:"flow_version"`
}

func (f *schedFixture) runs(t *testing.T) []wireRun {
	t.Helper()
	data := f.do(t, `{ flow_runs(limit: 500) { id name flow_name state parameters labels scheduled_start_time auto_scheduled flow_version } }`, nil)
	var runs []wireRun
	if err := json.Unmarshal(data["flow_runs"], &runs); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(runs, func(a, b wireRun) int { return strings.Compare(a.ScheduledStartTime, b.ScheduledStartTime) })
	return runs
}

func (f *schedFixture) schedule(t *testing.T, want int) {
	t.Helper()
	if n, err := f.srv.Schedule(context.Background()); err != nil || n != want {
		t.Fatalf("Schedule = %d, %v; want %d runs created", n, err, want)
	}
}

func mustSchedule(t *testing.T, s *schedule.Schedule) json.RawMessage {
	t.Helper()
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScheduledRuns(t *testing.T) { forEachScheduleStore(t, testScheduledRuns) }

// A flow registered with a schedule gets runs at its events' times, with
// their parameters and labels; turned off, none (and those planned go).
func testScheduledRuns(t *testing.T, f *schedFixture) {
	start := time.Now().Add(-90 * time.Minute).UTC().Truncate(time.Second)
	sched := mustSchedule(t, schedule.Must(schedule.Interval(time.Hour, schedule.WithStart(start),
		schedule.WithParameterDefaults(map[string]any{"n": 1}), schedule.WithLabels("night"))))
	f.do(t, registerScheduled, map[string]any{"name": "etl", "s": sched})
	f.do(t, registerScheduled, map[string]any{"name": "adhoc"})

	var fl struct {
		Schedule       json.RawMessage
		ScheduleActive bool `json:"schedule_active"`
	}
	data := f.do(t, `{ flow(name: "etl") { schedule schedule_active } }`, nil)
	if err := json.Unmarshal(data["flow"], &fl); err != nil || !fl.ScheduleActive || !sameJSON(string(fl.Schedule), string(sched)) {
		t.Fatalf("flow etl: %s; want its schedule, active", data["flow"])
	}

	f.schedule(t, server.DefaultScheduledRuns)
	runs := f.runs(t)
	if len(runs) != server.DefaultScheduledRuns {
		t.Fatalf("%d runs; want %d", len(runs), server.DefaultScheduledRuns)
	}
	now := time.Now()
	for i, r := range runs {
		at, err := time.Parse(time.RFC3339Nano, r.ScheduledStartTime)
		want := start.Add(time.Duration(i+2) * time.Hour) // the next after now, then hourly
		if err != nil || !at.Equal(want) || !at.After(now.Add(-time.Minute)) {
			t.Errorf("run %d planned for %s; want %s", i, r.ScheduledStartTime, want.Format(time.RFC3339))
		}
		if !r.AutoScheduled || r.State != "Scheduled" || !sameJSON(string(r.Parameters), `{"n":1}`) ||
			!slices.Equal(r.Labels, []string{"base", "night"}) || !strings.Contains(r.Name, "-") {
			t.Errorf("run %d: %+v; want auto-scheduled, parameters {\"n\":1}, labels base and night", i, r)
		}
	}
	// Nothing more to do until the first of them is due; nothing for the
	// flow without a schedule.
	f.schedule(t, 0)
	// Not before its time.
	data = f.do(t, `mutation { claim_flow_runs(input: {agent_id: "a", labels: ["base", "night"], limit: 10}) { id } }`, nil)
	if string(data["claim_flow_runs"]) != "[]" {
		t.Errorf("claimed %s before the planned starts; want nothing", data["claim_flow_runs"])
	}

	// Off: the planned runs go, and no pass makes more.
	f.do(t, `mutation { set_schedule_inactive(input: {flow_name: "etl"}) { success } }`, nil)
	if runs := f.runs(t); len(runs) != 0 {
		t.Errorf("after set_schedule_inactive: %d runs; want none", len(runs))
	}
	f.schedule(t, 0)
	data = f.do(t, `{ flow(name: "etl") { schedule_active } }`, nil)
	if !strings.Contains(string(data["flow"]), "false") {
		t.Errorf("after set_schedule_inactive: %s", data["flow"])
	}
	// On again, by a version's ID as Prefect 1's client sends it.
	var id struct{ ID string }
	data = f.do(t, `{ flow(name: "etl") { id } }`, nil)
	json.Unmarshal(data["flow"], &id)
	f.do(t, `mutation($id: String) { set_schedule_active(input: {flow_id: $id}) { success } }`, map[string]any{"id": id.ID})
	f.schedule(t, server.DefaultScheduledRuns)

	// A new version registered inactive: the planned runs go.
	sched2 := mustSchedule(t, schedule.Must(schedule.Interval(2*time.Hour, schedule.WithStart(start))))
	f.do(t, registerScheduled, map[string]any{"name": "etl", "s": sched2, "active": false})
	if runs := f.runs(t); len(runs) != 0 {
		t.Errorf("after a new version, inactive: %d runs; want none", len(runs))
	}
	f.schedule(t, 0)
}

func TestScheduleRefused(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		for _, tt := range []struct {
			sched any
			says  string
		}{
			{map[string]any{"clocks": "every minute"}, "schedule is invalid"},
			{[]int{1}, "schedule is invalid"},
		} {
			_, out := f.gql(t, f.env.Key, registerScheduled, map[string]any{"name": "etl", "s": tt.sched}, false)
			if !strings.Contains(out.messages(), tt.says) {
				t.Errorf("schedule %v: %q; want it refused saying %q", tt.sched, out.messages(), tt.says)
			}
		}
		_, out := f.gql(t, f.env.Key, `mutation { set_schedule_active(input: {flow_name: "nope"}) { success } }`, nil, false)
		if !strings.Contains(out.messages(), "no such flow") {
			t.Errorf("set_schedule_active of an unknown flow: %q", out.messages())
		}
	})
}

func TestPlannedStartClaims(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		f.do(t, registerScheduled, map[string]any{"name": "etl"})
		past, future := time.Now().Add(-time.Minute).UTC(), time.Now().Add(time.Hour).UTC()
		create := `mutation($at: String) { create_flow_run(input: {flow_name: "etl", scheduled_start_time: $at}) { id scheduled_start_time auto_scheduled } }`
		var later, due struct {
			ID                 string
			ScheduledStartTime string `json:"scheduled_start_time"`
		}
		json.Unmarshal(f.do(t, create, map[string]any{"at": future.Format(time.RFC3339Nano)})["create_flow_run"], &later)
		json.Unmarshal(f.do(t, create, map[string]any{"at": past.Format(time.RFC3339Nano)})["create_flow_run"], &due)
		if got, _ := time.Parse(time.RFC3339Nano, later.ScheduledStartTime); !got.Equal(future) {
			t.Errorf("planned for %s; want %s", later.ScheduledStartTime, future)
		}
		data := f.do(t, `mutation { claim_flow_runs(input: {agent_id: "a", labels: ["base"], limit: 10}) { id } }`, nil)
		if want := fmt.Sprintf(`[{"id":%q}]`, due.ID); !sameJSON(string(data["claim_flow_runs"]), want) {
			t.Errorf("claimed %s; want the due run alone %s", data["claim_flow_runs"], want)
		}
		_, out := f.gql(t, f.env.Key, create, map[string]any{"at": "tomorrow"}, false)
		if !strings.Contains(out.messages(), "RFC 3339") {
			t.Errorf("a bad scheduled_start_time: %q", out.messages())
		}
	})
}

// Servers sharing one database, passing at once, never create one event's
// run twice.
func TestSchedulersShareAStore(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		const flows, servers, rounds = 20, 4, 10
		start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		for i := range flows {
			sched := mustSchedule(t, schedule.Must(schedule.Interval(time.Duration(i+1)*time.Minute, schedule.WithStart(start))))
			f.do(t, registerScheduled, map[string]any{"name": fmt.Sprintf("flow-%02d", i), "s": sched})
		}
		srvs := []*server.Server{f.srv}
		for range servers - 1 {
			s := server.New(f.open(t), f.env.Ring)
			t.Cleanup(func() { s.Close() })
			srvs = append(srvs, s)
		}
		for round := range rounds {
			if round > 0 { // from scratch: every flow due again, nothing planned
				for i := range flows {
					name := fmt.Sprintf("flow-%02d", i)
					f.do(t, `mutation($n: String) { set_schedule_inactive(input: {flow_name: $n}) { success } }`, map[string]any{"n": name})
					f.do(t, `mutation($n: String) { set_schedule_active(input: {flow_name: $n}) { success } }`, map[string]any{"n": name})
				}
			}
			created := make([]int, len(srvs))
			errs := make([]error, len(srvs))
			var wg sync.WaitGroup
			for i, s := range srvs {
				wg.Go(func() { created[i], errs[i] = s.Schedule(context.Background()) })
			}
			wg.Wait()
			total := 0
			for i := range srvs {
				if errs[i] != nil {
					t.Fatalf("round %d, server %d: %v", round, i, errs[i])
				}
				total += created[i]
			}
			if total != flows*server.DefaultScheduledRuns {
				t.Fatalf("round %d: the servers created %v runs; want %d in all", round, created, flows*server.DefaultScheduledRuns)
			}
			runs := f.runs(t)
			seen := map[string]bool{}
			for _, r := range runs {
				if k := r.FlowName + " at " + r.ScheduledStartTime; seen[k] {
					t.Errorf("round %d: two runs of %s", round, k)
				} else {
					seen[k] = true
				}
			}
			if len(runs) != flows*server.DefaultScheduledRuns {
				t.Fatalf("round %d: %d runs; want %d", round, len(runs), flows*server.DefaultScheduledRuns)
			}
		}
	})
}

// fakeSchedules is a store whose scheduling methods count their calls
// and fail at first.
type fakeSchedules struct {
	server.Store
	server.RunStore
	mu    sync.Mutex
	calls int
	fails int // how many calls fail
	plans []orchestration.SchedulePlan
}

func (f *fakeSchedules) SetScheduleActive(context.Context, string, string, bool) (int, error) {
	return 0, nil
}

func (f *fakeSchedules) DueSchedules(context.Context, time.Time, int) ([]orchestration.FlowSchedule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		return nil, errors.New("the database is down")
	}
	if f.calls == f.fails+1 {
		sched, _ := schedule.Interval(time.Minute, schedule.WithStart(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)))
		b, _ := sched.MarshalJSON()
		return []orchestration.FlowSchedule{{TenantID: "t", FlowName: "etl", FlowID: "f", Schedule: b}}, nil
	}
	return nil, nil
}

func (f *fakeSchedules) ScheduleRuns(_ context.Context, plans []orchestration.SchedulePlan) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans = append(f.plans, plans...)
	n := 0
	for _, p := range plans {
		n += len(p.Runs)
	}
	return n, nil
}

// The scheduler passes at once and then every interval, lives through a
// failing store, and stops with the server.
func TestSchedulerTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mk, err := seal.NewMasterKey()
		if err != nil {
			t.Fatal(err)
		}
		st := &fakeSchedules{Store: newMemStore(), fails: 2}
		srv := server.New(st, seal.NewKeyring(mk), server.WithScheduler(10*time.Second), server.WithScheduledRuns(3))
		t0 := time.Now()
		time.Sleep(35 * time.Second)
		synctest.Wait()
		st.mu.Lock()
		calls, plans := st.calls, slices.Clone(st.plans)
		st.mu.Unlock()
		if calls != 4 { // at 0, 10, 20 and 30 s
			t.Errorf("%d passes in 35 s; want 4", calls)
		}
		// The third pass, the first the store answered, planned 3 runs
		// from 20 s on, each minute.
		if len(plans) != 1 || len(plans[0].Runs) != 3 {
			t.Fatalf("plans %+v; want one of 3 runs", plans)
		}
		first := t0.Add(20 * time.Second).Truncate(time.Minute).Add(time.Minute)
		for i, r := range plans[0].Runs {
			if want := first.Add(time.Duration(i) * time.Minute); !r.ScheduledStart.Equal(want) || r.IdempotencyKey != orchestration.ScheduleKey("etl", want) {
				t.Errorf("run %d planned for %v, key %q; want %v", i, r.ScheduledStart, r.IdempotencyKey, want)
			}
		}
		if p := plans[0]; !p.Next.Equal(first) || !p.Until.Equal(first.Add(2*time.Minute)) {
			t.Errorf("plan next %v, until %v; want %v, %v", p.Next, p.Until, first, first.Add(2*time.Minute))
		}
		srv.Close()
		time.Sleep(time.Minute)
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.calls != calls {
			t.Errorf("%d passes after Close; want none", st.calls-calls)
		}
	})
}

// The client registers a schedule, turns it off and on, and plans a run.
func TestClientSchedules(t *testing.T) {
	forEachScheduleStore(t, func(t *testing.T, f *schedFixture) {
		ctx := context.Background()
		c := newClient(t, f.fixture, f.env.Key)
		sched := mustSchedule(t, schedule.Must(schedule.Cron("0 * * * *")))
		if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Command: []string{"/bin/true"}, Schedule: sched, ScheduleInactive: true}); err != nil {
			t.Fatal(err)
		}
		fl, err := c.Flows(ctx)
		if err != nil || len(fl) != 1 || fl[0].ScheduleActive || !sameJSON(string(fl[0].Schedule), string(sched)) {
			t.Fatalf("Flows = %+v, %v; want etl with its schedule, inactive", fl, err)
		}
		f.schedule(t, 0)
		if err := c.SetScheduleActive(ctx, "etl", true); err != nil {
			t.Fatal(err)
		}
		f.schedule(t, server.DefaultScheduledRuns)
		if err := c.SetScheduleActive(ctx, "etl", false); err != nil {
			t.Fatal(err)
		}
		if err := c.SetScheduleActive(ctx, "nope", true); !errors.Is(err, client.ErrRunNotFound) {
			t.Errorf("SetScheduleActive of an unknown flow: %v; want ErrRunNotFound", err)
		}
		at := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
		run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", ScheduledStart: at})
		if err != nil || !run.ScheduledStart.Equal(at) || run.AutoScheduled {
			t.Fatalf("CreateFlowRun = planned %v, auto %v, %v; want %v, not auto", run.ScheduledStart, run.AutoScheduled, err, at)
		}
		if runs, err := c.FlowRuns(ctx, 100); err != nil || len(runs) != 1 {
			t.Errorf("FlowRuns = %d runs, %v; want the one made on request (the planned ones went)", len(runs), err)
		}
	})
}

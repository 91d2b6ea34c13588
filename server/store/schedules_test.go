package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/state"
)

func TestPlannedStart(t *testing.T)    { forEachDB(t, testPlannedStart) }
func TestScheduleKeyOnce(t *testing.T) { forEachDB(t, testScheduleKeyOnce) }
func TestScheduleRows(t *testing.T)    { forEachDB(t, testScheduleRows) }
func TestMigrationPlansOldRuns(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testMigrationPlansOldRuns(t, db, false, func() (*SQL, error) { return OpenSQLite(context.Background(), path) })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testMigrationPlansOldRuns(t, db, true, func() (*SQL, error) { return OpenPostgres(context.Background(), url) })
	})
}

// mustFlow registers a flow of tenant tn with the schedule sched ("" for
// none), active if it has one.
func mustFlow(t *testing.T, s *SQL, tn Tenant, name, digest, sched string, labels ...string) orchestration.Flow {
	t.Helper()
	f := orchestration.Flow{TenantID: tn.ID, Name: name, Digest: digest, Definition: []byte(`{}`), Labels: labels,
		Command: []string{"/bin/flows"}, ScheduleActive: true}
	if sched != "" {
		f.Schedule = []byte(sched)
	}
	f, _, err := s.RegisterFlow(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// runIDs returns the IDs of runs.
func runIDs(runs []orchestration.FlowRun) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// Agents claim runs once their planned start has come, oldest planned
// first, whatever the order of their creation.
func testPlannedStart(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	acme := mustTenant(t, s, "acme")
	f := mustFlow(t, s, acme, "etl", "d1", "")
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	create := func(start time.Time) orchestration.FlowRun {
		t.Helper()
		r, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: f.ID, ScheduledStart: start})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := time.Now()
	now := create(time.Time{}) // planned for when it is created
	if now.ScheduledStart.Before(before) || !now.ScheduledStart.Equal(now.Created) {
		t.Errorf("a run planned for no time: planned %v, created %v; want its creation", now.ScheduledStart, now.Created)
	}
	later := create(base.Add(2 * time.Minute))
	earlier := create(base.Add(time.Minute))
	future := create(time.Now().Add(time.Hour))
	if got, err := s.FlowRun(ctx, acme.ID, future.ID); err != nil || !got.ScheduledStart.Equal(future.ScheduledStart) {
		t.Errorf("FlowRun = planned %v, %v; want %v", got.ScheduledStart, err, future.ScheduledStart)
	}

	got, err := s.ClaimFlowRuns(ctx, acme.ID, "a", nil, 10)
	if want := []string{earlier.ID, later.ID, now.ID}; err != nil || !slices.Equal(runIDs(got), want) {
		t.Fatalf("claimed %v, %v; want the due runs oldest planned first %v, not the future one", runIDs(got), err, want)
	}
	if got, err := s.ClaimFlowRuns(ctx, acme.ID, "a", nil, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed %v, %v before the planned start; want nothing", runIDs(got), err)
	}
	// Its time comes (the store's clock, moved here by moving the run).
	if _, err := s.db.ExecContext(ctx, `UPDATE flow_runs SET scheduled_start = $1 WHERE id = $2`, time.Now().UnixNano(), future.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimFlowRuns(ctx, acme.ID, "a", nil, 10); err != nil || !slices.Equal(runIDs(got), []string{future.ID}) {
		t.Fatalf("claimed %v, %v once due; want %s", runIDs(got), err, future.ID)
	}
}

// One idempotency key, one run: concurrent planners of the same events
// create each run once.
func testScheduleKeyOnce(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	acme := mustTenant(t, s, "acme")
	f := mustFlow(t, s, acme, "etl", "d1", `{"clocks":[]}`, "base")
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	key := orchestration.ScheduleKey(f.Name, start)
	if _, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: f.ID, IdempotencyKey: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: f.ID, IdempotencyKey: key}); !errors.Is(err, ErrConflict) {
		t.Errorf("a second run of key %q: %v; want ErrConflict", key, err)
	}

	due, err := s.DueSchedules(ctx, time.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueSchedules = %+v, %v; want etl", due, err)
	}
	const planners, events = 8, 10
	plan := orchestration.SchedulePlan{Read: due[0], Until: start.Add(events * time.Minute), Next: start}
	for i := range events {
		at := start.Add(time.Duration(i+1) * time.Minute)
		plan.Runs = append(plan.Runs, orchestration.FlowRun{ScheduledStart: at, IdempotencyKey: orchestration.ScheduleKey(f.Name, at),
			Labels: []string{"base", "extra"}, Parameters: []byte(`{"i":1}`)})
	}
	created := make([]int, planners)
	errs := make([]error, planners)
	var wg sync.WaitGroup
	for i := range planners {
		wg.Go(func() { created[i], errs[i] = s.ScheduleRuns(ctx, []orchestration.SchedulePlan{plan}) })
	}
	wg.Wait()
	total := 0
	for i := range planners {
		if errs[i] != nil {
			t.Errorf("planner %d: %v", i, errs[i])
		}
		total += created[i]
	}
	if total != events {
		t.Errorf("the planners created %v runs; want %d in all", created, events)
	}
	// Even a plan that passes the row's check (a row reset, say) creates
	// no run twice.
	if _, err := s.db.ExecContext(ctx, `UPDATE flow_schedules SET until_at = 0`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ScheduleRuns(ctx, []orchestration.SchedulePlan{plan}); err != nil || n != 0 {
		t.Errorf("planning the same events again created %d, %v; want 0", n, err)
	}
	runs, err := s.FlowRuns(ctx, acme.ID, 0)
	if err != nil || len(runs) != events+1 {
		t.Fatalf("%d runs, %v; want %d", len(runs), err, events+1)
	}
	keys := map[string]bool{}
	for _, r := range runs {
		if keys[r.IdempotencyKey] {
			t.Errorf("two runs of key %q", r.IdempotencyKey)
		}
		keys[r.IdempotencyKey] = true
		if r.IdempotencyKey != key && (!slices.Equal(r.Labels, []string{"base", "extra"}) || string(r.Parameters) != `{"i":1}` || r.State != state.Scheduled) {
			t.Errorf("a planned run: %+v", r)
		}
	}
}

// A flow name's schedule row: due once registered, planned, turned off
// and on, replaced by a new version.
func testScheduleRows(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	acme := mustTenant(t, s, "acme")
	const sched = `{"clocks":[{"type":"interval"}]}`
	v1 := mustFlow(t, s, acme, "etl", "d1", sched)
	mustFlow(t, s, acme, "adhoc", "d1", "")
	if !v1.ScheduleActive || string(v1.Schedule) != sched {
		t.Errorf("registered with a schedule: active %v, schedule %s", v1.ScheduleActive, v1.Schedule)
	}
	if f, err := s.LatestFlow(ctx, acme.ID, "adhoc"); err != nil || f.ScheduleActive || f.Schedule != nil {
		t.Errorf("a flow without a schedule: %+v, %v; want inactive, no schedule", f, err)
	}
	due := func(want ...string) []orchestration.FlowSchedule {
		t.Helper()
		got, err := s.DueSchedules(ctx, time.Now(), 100)
		var names []string
		for _, d := range got {
			names = append(names, d.FlowName)
		}
		if err != nil || !slices.Equal(names, want) {
			t.Fatalf("due: %v, %v; want %v", names, err, want)
		}
		return got
	}
	d := due("etl")
	if d[0].FlowID != v1.ID || string(d[0].Schedule) != sched || !d[0].Until.IsZero() {
		t.Errorf("due: %+v", d[0])
	}
	plan := func(fs orchestration.FlowSchedule, starts ...time.Time) orchestration.SchedulePlan {
		p := orchestration.SchedulePlan{Read: fs, Until: fs.Until, Next: starts[0]}
		for _, at := range starts {
			p.Runs = append(p.Runs, orchestration.FlowRun{ScheduledStart: at, IdempotencyKey: orchestration.ScheduleKey(fs.FlowName, at)})
			p.Until = at
		}
		return p
	}
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	p := plan(d[0], soon, soon.Add(time.Hour))
	if n, err := s.ScheduleRuns(ctx, []orchestration.SchedulePlan{p}); err != nil || n != 2 {
		t.Fatalf("ScheduleRuns = %d, %v; want 2", n, err)
	}
	due() // next at soon
	if got, err := s.DueSchedules(ctx, soon, 10); err != nil || len(got) != 1 || !got[0].Until.Equal(soon.Add(time.Hour)) {
		t.Fatalf("due at %v: %+v, %v; want etl, planned until %v", soon, got, err, soon.Add(time.Hour))
	}
	// A plan of what was read before is stale: skipped.
	if n, err := s.ScheduleRuns(ctx, []orchestration.SchedulePlan{plan(d[0], soon.Add(3*time.Hour))}); err != nil || n != 0 {
		t.Errorf("a stale plan created %d, %v; want 0", n, err)
	}

	// Off: the planned runs go; nothing is due, even later.
	if n, err := s.SetScheduleActive(ctx, acme.ID, "etl", false); err != nil || n != 2 {
		t.Errorf("SetScheduleActive(false) = %d, %v; want 2 runs deleted", n, err)
	}
	if n, err := s.SetScheduleActive(ctx, acme.ID, "etl", false); err != nil || n != 0 {
		t.Errorf("SetScheduleActive(false) again = %d, %v; want 0", n, err)
	}
	if got, err := s.DueSchedules(ctx, soon.Add(24*time.Hour), 10); err != nil || len(got) != 0 {
		t.Errorf("due when off: %+v, %v", got, err)
	}
	if f, err := s.LatestFlow(ctx, acme.ID, "etl"); err != nil || f.ScheduleActive {
		t.Errorf("after set inactive: active %v, %v", f.ScheduleActive, err)
	}
	if _, err := s.SetScheduleActive(ctx, acme.ID, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetScheduleActive of an unknown flow: %v; want ErrNotFound", err)
	}
	// On: due at once, from scratch.
	if _, err := s.SetScheduleActive(ctx, acme.ID, "etl", true); err != nil {
		t.Fatal(err)
	}
	d = due("etl")
	if n, err := s.ScheduleRuns(ctx, []orchestration.SchedulePlan{plan(d[0], soon, soon.Add(time.Hour))}); err != nil || n != 2 {
		t.Fatalf("ScheduleRuns after on = %d, %v; want 2", n, err)
	}
	// A new version: the old version's future runs go; the new one is due.
	v2 := mustFlow(t, s, acme, "etl", "d2", sched)
	if runs, err := s.FlowRuns(ctx, acme.ID, 0); err != nil || len(runs) != 0 {
		t.Errorf("after a new version, runs %v, %v; want the old version's planned runs gone", runIDs(runs), err)
	}
	if d = due("etl"); d[0].FlowID != v2.ID {
		t.Errorf("due: version %s; want the new one %s", d[0].FlowID, v2.ID)
	}
	if f, err := s.Flow(ctx, acme.ID, v1.ID); err != nil || f.ScheduleActive {
		t.Errorf("the old version: active %v, %v; want false (the scheduler follows the new)", f.ScheduleActive, err)
	}
	// A version without a schedule ends it.
	mustFlow(t, s, acme, "etl", "d3", "")
	due()
}

// Runs made before migration 8 are planned for when they were created and
// keep their flow's labels.
func testMigrationPlansOldRuns(t *testing.T, db *sql.DB, postgres bool, open func() (*SQL, error)) {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:7] {
		if err := applyMigration(ctx, conn, m, postgres); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO tenants (id, name, created) VALUES ('t1', 'acme', 1)`,
		`INSERT INTO flows (id, tenant_id, name, version, digest, definition, labels, command, working_dir, has_env, created)
			VALUES ('f1', 't1', 'etl', 1, 'd', '{}', '["gpu"]', '["x"]', '', 0, 5)`,
		`INSERT INTO flow_runs (id, tenant_id, flow_id, name, parameters, state, message, version, agent_id, heartbeat, created, updated)
			VALUES ('r1', 't1', 'f1', 'old', '{}', 'Scheduled', '', 1, '', 0, 1000, 1000)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.FlowRun(ctx, "t1", "r1")
	if err != nil || r.ScheduledStart.UnixNano() != 1000 || !slices.Equal(r.Labels, []string{"gpu"}) || r.IdempotencyKey != "" {
		t.Errorf("an old run after migrating: %+v, %v; want planned at its creation, the flow's labels", r, err)
	}
	if f, err := s.LatestFlow(ctx, "t1", "etl"); err != nil || f.Schedule != nil || f.ScheduleActive {
		t.Errorf("an old flow after migrating: %+v, %v; want no schedule", f, err)
	}
	if got, err := s.ClaimFlowRuns(ctx, "t1", "a", []string{"gpu"}, 1); err != nil || len(got) != 1 {
		t.Errorf("claiming the old run: %v, %v", runIDs(got), err)
	}
	if n, err := s.SetScheduleActive(ctx, "t1", "etl", true); err != nil || n != 0 {
		t.Errorf("SetScheduleActive of a flow from before schedules: %d, %v", n, err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Errorf("schema version %d, %v; want %d", v, err, SchemaVersion)
	}
}

// undoMigration8 takes a database of schema 8 back to 7, for the tests of
// earlier migrations.
var undoMigration8 = []string{
	`DROP TABLE flow_schedules`,
	`DROP INDEX flow_runs_due`,
	`DROP INDEX flow_runs_idempotency_key`,
	`ALTER TABLE flow_runs DROP COLUMN idempotency_key`,
	`ALTER TABLE flow_runs DROP COLUMN labels`,
	`ALTER TABLE flow_runs DROP COLUMN scheduled_start`,
	`ALTER TABLE flows DROP COLUMN schedule`,
	`DELETE FROM schema_migrations WHERE version = 8`,
}

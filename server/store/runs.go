package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/state"
)

// This file keeps the orchestration data: registered flows, their runs,
// the runs' task states and logs. Every method reads and writes only the
// given tenant's rows. Environments, which may hold secrets, are not kept
// here: the server seals them as secrets of the tenant (see package
// server).

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func parseList(s string) []string {
	var l []string
	json.Unmarshal([]byte(s), &l)
	return l
}

// RegisterFlow records f as the newest version of the tenant's flow of that
// name, unless the newest version has the same Digest, which it returns
// as it is (created false). f.TenantID and f.Name are required; f.ID is
// used if given (else made here); Version and Created are set here.
//
// A new version is the one the scheduler follows from then on: the flow
// name's schedule becomes f.Schedule, active if f.ScheduleActive (and f
// has a schedule), and the Scheduled runs the scheduler created for the
// name's earlier versions, planned for later than now, are deleted, to be
// created again of the new version (as Prefect Server does when a new
// version archives the old).
func (s *SQL) RegisterFlow(ctx context.Context, f orchestration.Flow) (orchestration.Flow, bool, error) {
	if f.Name == "" || f.TenantID == "" {
		return orchestration.Flow{}, false, errors.New("store: registering a flow: empty name or tenant")
	}
	f.ScheduleActive = f.ScheduleActive && f.Schedule != nil
	for attempt := 0; ; attempt++ {
		latest, err := s.LatestFlow(ctx, f.TenantID, f.Name)
		switch {
		case err == nil && latest.Digest == f.Digest:
			return latest, false, nil
		case err == nil:
			f.Version = latest.Version + 1
		case errors.Is(err, ErrNotFound):
			f.Version = 1
		default:
			return orchestration.Flow{}, false, err
		}
		if f.ID == "" {
			f.ID = uuid.NewString()
		}
		created := now()
		f.Created = fromNanos(created)
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			var schedule any // NULL: none
			var next any     // NULL: never due
			if f.Schedule != nil {
				schedule, next = string(f.Schedule), 0
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO flows
				(id, tenant_id, name, version, digest, definition, labels, command, working_dir, has_env, created, schedule)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				f.ID, f.TenantID, f.Name, f.Version, f.Digest, string(f.Definition), jsonList(f.Labels), jsonList(f.Command),
				f.WorkingDir, boolInt(f.HasEnv), created, schedule); err != nil {
				return err
			}
			// The schedule's row first, then the runs, in the order the
			// scheduler takes them (see ScheduleRuns).
			if _, err := tx.ExecContext(ctx, `INSERT INTO flow_schedules (tenant_id, flow_name, flow_id, active, until_at, next_at)
				VALUES ($1, $2, $3, $4, 0, $5)
				ON CONFLICT (tenant_id, flow_name) DO UPDATE SET
					flow_id = excluded.flow_id, active = excluded.active, until_at = 0, next_at = excluded.next_at`,
				f.TenantID, f.Name, f.ID, boolInt(f.ScheduleActive), next); err != nil {
				return err
			}
			_, err := deleteAutoScheduled(ctx, tx, f.TenantID, f.Name, created)
			return err
		})
		if err == nil {
			return f, true, nil
		}
		if !isUnique(err) || attempt == 3 {
			return orchestration.Flow{}, false, fmt.Errorf("store: registering flow %q of tenant %q: %w", f.Name, f.TenantID, err)
		}
		// Another registration took this version: look again.
	}
}

// deleteAutoScheduled deletes the tenant's Scheduled runs of the flow
// name that the scheduler created, planned for after the time after
// (nanoseconds; -1 for all), and returns how many.
func deleteAutoScheduled(ctx context.Context, tx *sql.Tx, tenantID, name string, after int64) (int, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM flow_runs WHERE tenant_id = $1 AND state = $2
		AND idempotency_key IS NOT NULL AND scheduled_start > $3
		AND flow_id IN (SELECT id FROM flows WHERE tenant_id = $1 AND name = $4)`,
		tenantID, state.Scheduled.String(), after, name)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// flowColumns and flowFrom read a flow version with its name's schedule
// flag, which is the version's only if the scheduler follows it.
const (
	flowColumns = `f.id, f.tenant_id, f.name, f.version, f.digest, f.definition, f.labels, f.command, f.working_dir, f.has_env, f.created,
	f.schedule, CASE WHEN s.active = 1 AND s.flow_id = f.id THEN 1 ELSE 0 END`
	flowFrom = ` FROM flows f LEFT JOIN flow_schedules s ON s.tenant_id = f.tenant_id AND s.flow_name = f.name `
)

func scanFlow(row interface{ Scan(...any) error }) (orchestration.Flow, error) {
	var f orchestration.Flow
	var def, labels, command string
	var schedule sql.NullString
	var hasEnv, active int
	var created int64
	err := row.Scan(&f.ID, &f.TenantID, &f.Name, &f.Version, &f.Digest, &def, &labels, &command, &f.WorkingDir, &hasEnv, &created,
		&schedule, &active)
	f.Definition, f.Labels, f.Command = []byte(def), parseList(labels), parseList(command)
	f.HasEnv, f.Created = hasEnv != 0, fromNanos(created)
	if schedule.Valid {
		f.Schedule = []byte(schedule.String)
	}
	f.ScheduleActive = active != 0
	return f, err
}

// LatestFlow returns the newest version of the tenant's flow name.
func (s *SQL) LatestFlow(ctx context.Context, tenantID, name string) (orchestration.Flow, error) {
	f, err := scanFlow(s.db.QueryRowContext(ctx, `SELECT `+flowColumns+flowFrom+`
		WHERE f.tenant_id = $1 AND f.name = $2 ORDER BY f.version DESC LIMIT 1`, tenantID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return orchestration.Flow{}, fmt.Errorf("store: flow %q of tenant %q: %w", name, tenantID, ErrNotFound)
	}
	return f, err
}

// Flow returns the tenant's flow version with the given ID.
func (s *SQL) Flow(ctx context.Context, tenantID, id string) (orchestration.Flow, error) {
	f, err := scanFlow(s.db.QueryRowContext(ctx, `SELECT `+flowColumns+flowFrom+`WHERE f.tenant_id = $1 AND f.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return orchestration.Flow{}, fmt.Errorf("store: flow %q of tenant %q: %w", id, tenantID, ErrNotFound)
	}
	return f, err
}

// Flows returns the newest version of each of the tenant's flows, by name.
func (s *SQL) Flows(ctx context.Context, tenantID string) ([]orchestration.Flow, error) {
	all, err := queryAll(ctx, s.db, fmt.Sprintf("listing the flows of tenant %q", tenantID),
		`SELECT `+flowColumns+flowFrom+`WHERE f.tenant_id = $1 ORDER BY f.name, f.version DESC`, []any{tenantID},
		func(rows *sql.Rows) (orchestration.Flow, error) { return scanFlow(rows) })
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, f := range all {
		if len(out) == 0 || out[len(out)-1].Name != f.Name {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b orchestration.Flow) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CreateFlowRun records a new run of the tenant's flow version r.FlowID,
// Scheduled, version 1. r.ID may be given (a UUID); else one is made. A
// run of that ID, or of its IdempotencyKey, that exists is an error
// matching ErrConflict. r.ScheduledStart is when it may be claimed from
// (zero: now); r.Labels, when nil, are the flow's.
func (s *SQL) CreateFlowRun(ctx context.Context, r orchestration.FlowRun) (orchestration.FlowRun, error) {
	f, err := s.Flow(ctx, r.TenantID, r.FlowID)
	if err != nil {
		return orchestration.FlowRun{}, err
	}
	t := now()
	fillRun(&r, f.Name, f.Version, f.Labels, t)
	var key any // NULL: none
	if r.IdempotencyKey != "" {
		key = r.IdempotencyKey
	}
	_, err = s.exec(ctx, insertRun,
		r.ID, r.TenantID, r.FlowID, r.Name, string(r.Parameters), r.State.String(), t, r.ScheduledStart.UnixNano(), jsonList(r.Labels), key)
	if isUnique(err) {
		return orchestration.FlowRun{}, fmt.Errorf("store: flow run %q (or its idempotency key) exists: %w", r.ID, ErrConflict)
	}
	if err != nil {
		return orchestration.FlowRun{}, fmt.Errorf("store: creating a run of flow %q: %w", f.Name, err)
	}
	return r, nil
}

// insertRun inserts a new run: id, tenant, flow, name, parameters, state,
// created, scheduled start, labels, idempotency key.
const insertRun = `INSERT INTO flow_runs
	(id, tenant_id, flow_id, name, parameters, state, message, version, agent_id, heartbeat, created, updated, scheduled_start, labels, idempotency_key)
	VALUES ($1, $2, $3, $4, $5, $6, '', 1, '', 0, $7, $7, $8, $9, $10)`

// fillRun completes a new run of the flow version name, version, with
// labels, created at t: its ID, name, parameters, labels, first state and
// times, as CreateFlowRun documents.
func fillRun(r *orchestration.FlowRun, name string, version int, labels []string, t int64) {
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	if len(r.Parameters) == 0 {
		r.Parameters = []byte("{}")
	}
	if r.Labels == nil {
		r.Labels = labels
	}
	r.FlowName, r.FlowVersion = name, version
	r.State, r.Message, r.Version, r.AgentID = state.Scheduled, "", 1, ""
	r.Created, r.Updated, r.Heartbeat = fromNanos(t), fromNanos(t), fromNanos(0)
	if r.ScheduledStart.IsZero() {
		r.ScheduledStart = fromNanos(t)
	}
	r.ScheduledStart = r.ScheduledStart.UTC()
	if r.Name == "" {
		r.Name = name + "-" + r.ID[:8]
	}
}

const runColumns = `r.id, r.tenant_id, r.flow_id, f.name, f.version, r.name, r.parameters, COALESCE(r.labels, f.labels),
	r.state, r.message, r.version, r.agent_id, r.heartbeat, r.created, r.updated, r.scheduled_start, COALESCE(r.idempotency_key, '')`

const runFrom = ` FROM flow_runs r JOIN flows f ON f.id = r.flow_id `

func scanRun(row interface{ Scan(...any) error }) (orchestration.FlowRun, error) {
	var r orchestration.FlowRun
	var params, labels, st string
	var hb, created, updated, start int64
	err := row.Scan(&r.ID, &r.TenantID, &r.FlowID, &r.FlowName, &r.FlowVersion, &r.Name, &params, &labels,
		&st, &r.Message, &r.Version, &r.AgentID, &hb, &created, &updated, &start, &r.IdempotencyKey)
	if err != nil {
		return r, err
	}
	r.Parameters, r.Labels = []byte(params), parseList(labels)
	r.Heartbeat, r.Created, r.Updated = fromNanos(hb), fromNanos(created), fromNanos(updated)
	r.ScheduledStart = fromNanos(start)
	if r.State, err = state.ParseKind(st); err != nil {
		return r, fmt.Errorf("store: flow run %q: %w", r.ID, err)
	}
	return r, nil
}

// names returns the names of kinds, which is how the tables hold them:
// database/sql would write a Kind as its number.
func names(kinds []state.Kind) []any {
	out := make([]any, len(kinds))
	for i, k := range kinds {
		out[i] = k.String()
	}
	return out
}

// params returns n placeholders from $first on, separated by commas, for
// an IN list.
func params(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i))
	}
	return b.String()
}

func noRun(tenantID, id string) error {
	return fmt.Errorf("store: flow run %q of tenant %q: %w", id, tenantID, ErrNotFound)
}

// FlowRun returns the tenant's flow run id.
func (s *SQL) FlowRun(ctx context.Context, tenantID, id string) (orchestration.FlowRun, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+runFrom+`WHERE r.tenant_id = $1 AND r.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return orchestration.FlowRun{}, noRun(tenantID, id)
	}
	return r, err
}

// FlowRuns returns the tenant's latest limit flow runs (all of them when
// limit <= 0), newest first, in any of the states in, or in any state when
// in is empty.
func (s *SQL) FlowRuns(ctx context.Context, tenantID string, limit int, in ...state.Kind) ([]orchestration.FlowRun, error) {
	q := `SELECT ` + runColumns + runFrom + `WHERE r.tenant_id = $1`
	args := []any{tenantID}
	if len(in) > 0 {
		q += ` AND r.state IN (` + params(2, len(in)) + `)`
		args = append(args, names(in)...)
	}
	q += ` ORDER BY r.created DESC, r.id`
	if limit > 0 {
		q += ` LIMIT $` + strconv.Itoa(len(args)+1)
		args = append(args, limit)
	}
	return queryAll(ctx, s.db, fmt.Sprintf("listing the flow runs of tenant %q", tenantID), q, args,
		func(rows *sql.Rows) (orchestration.FlowRun, error) { return scanRun(rows) })
}

// ClaimFlowRuns marks up to n of the tenant's Scheduled runs Submitted by
// agentID, taking only runs due (planned to start at or before now, by
// the store's clock) whose labels are all among labels, oldest planned
// first, and returns them. Each run is taken with a conditional update,
// so two agents never both get one.
func (s *SQL) ClaimFlowRuns(ctx context.Context, tenantID, agentID string, labels []string, n int) ([]orchestration.FlowRun, error) {
	if n <= 0 {
		return nil, nil
	}
	// Oldest planned first, a page at a time, so that runs this agent
	// cannot take (labels) do not hide the ones it can behind them.
	var got []orchestration.FlowRun
	due := now()
	afterStart, afterID := int64(-1), ""
	for page := 0; page < maxClaimPages && len(got) < n; page++ {
		waiting, err := queryAll(ctx, s.db, fmt.Sprintf("listing the scheduled runs of tenant %q", tenantID),
			`SELECT `+runColumns+runFrom+`WHERE r.tenant_id = $1 AND r.state = $2 AND r.scheduled_start <= $3
			AND (r.scheduled_start > $4 OR (r.scheduled_start = $4 AND r.id > $5))
			ORDER BY r.scheduled_start, r.id LIMIT $6`,
			[]any{tenantID, state.Scheduled.String(), due, afterStart, afterID, claimPage},
			func(rows *sql.Rows) (orchestration.FlowRun, error) { return scanRun(rows) })
		if err != nil {
			return got, err
		}
		for _, r := range waiting {
			afterStart, afterID = r.ScheduledStart.UnixNano(), r.ID
			if len(got) == n || !subset(r.Labels, labels) {
				continue
			}
			t := now()
			res, err := s.exec(ctx, `UPDATE flow_runs SET state = $1, agent_id = $2, version = version + 1, updated = $3
				WHERE id = $4 AND tenant_id = $5 AND state = $6 AND version = $7`,
				state.Submitted.String(), agentID, t, r.ID, tenantID, state.Scheduled.String(), r.Version)
			if err != nil {
				return got, fmt.Errorf("store: claiming flow run %q: %w", r.ID, err)
			}
			if k, err := res.RowsAffected(); err != nil || k != 1 {
				continue // another agent took it
			}
			r.State, r.AgentID, r.Version, r.Updated = state.Submitted, agentID, r.Version+1, fromNanos(t)
			got = append(got, r)
		}
		if len(waiting) < claimPage {
			break
		}
	}
	return got, nil
}

// A claim looks at up to maxClaimPages pages of claimPage scheduled runs.
const (
	claimPage     = 200
	maxClaimPages = 25
)

func subset(need, have []string) bool {
	for _, l := range need {
		if !slices.Contains(have, l) {
			return false
		}
	}
	return true
}

// SetFlowRunState sets the state of the tenant's run id to to, if its
// version is still version and the move is one orchestration.CanMove
// allows, and returns the new version. Otherwise the error matches
// ErrConflict (the run changed since it was read, is finished, or cannot go
// to that state from its own) or ErrNotFound.
func (s *SQL) SetFlowRunState(ctx context.Context, tenantID, id string, version int, to state.Kind, message string) (int, error) {
	var from []state.Kind
	for _, k := range orchestration.FlowRunStates() {
		if orchestration.CanMove(k, to) {
			from = append(from, k)
		}
	}
	if len(from) == 0 {
		return 0, fmt.Errorf("store: flow run %q: no run goes to state %v", id, to)
	}
	t := now()
	res, err := s.exec(ctx, `UPDATE flow_runs SET state = $1, message = $2, version = version + 1, updated = $3
		WHERE id = $4 AND tenant_id = $5 AND version = $6 AND state IN (`+params(7, len(from))+`)`,
		append([]any{to.String(), message, t, id, tenantID, version}, names(from)...)...)
	if err != nil {
		return 0, fmt.Errorf("store: setting the state of flow run %q: %w", id, err)
	}
	if k, err := res.RowsAffected(); err == nil && k == 1 {
		if to.IsFinished() {
			s.closeTaskRuns(ctx, id, to)
		}
		return version + 1, nil
	}
	cur, err := s.FlowRun(ctx, tenantID, id)
	if err != nil {
		return 0, err
	}
	if cur.State.IsFinished() {
		return 0, fmt.Errorf("store: flow run %q is finished (%v): %w", id, cur.State, ErrConflict)
	}
	if cur.Version == version {
		return 0, fmt.Errorf("store: flow run %q cannot go from %v to %v: %w", id, cur.State, to, ErrConflict)
	}
	return 0, fmt.Errorf("store: flow run %q is at version %d (%v), not %d: %w", id, cur.Version, cur.State, version, ErrConflict)
}

// closeTaskRuns gives the task runs a finished run left unfinished (its
// process died, or was killed) the run's final state, Failed or
// Cancelled, as Prefect 1 does. Best effort: the run's own state is what
// counts.
func (s *SQL) closeTaskRuns(ctx context.Context, runID string, final state.Kind) {
	if final == state.Success {
		return
	}
	open := slices.DeleteFunc(state.Kinds(), state.Kind.IsFinished)
	s.exec(ctx, `UPDATE task_runs SET state = $1, message = $2, updated = $3, seq = seq + 1
		WHERE flow_run_id = $4 AND state IN (`+params(5, len(open))+`)`,
		append([]any{final.String(), "the flow run ended " + final.String() + " before this task run finished", now(), runID}, names(open)...)...)
}

// CancelFlowRun asks the tenant's run id to stop: a Scheduled run becomes
// Cancelled at once; a Submitted or Running one Cancelling, for its agent
// to stop. A finished run is left as it is. It returns the run as it is
// after.
func (s *SQL) CancelFlowRun(ctx context.Context, tenantID, id string) (orchestration.FlowRun, error) {
	for range 5 {
		r, err := s.FlowRun(ctx, tenantID, id)
		if err != nil || r.State.IsFinished() || r.State == state.Cancelling {
			return r, err
		}
		next := state.Cancelling
		if r.State == state.Scheduled {
			next = state.Cancelled
		}
		if _, err := s.SetFlowRunState(ctx, tenantID, id, r.Version, next, "cancelled by request"); !errors.Is(err, ErrConflict) {
			if err != nil {
				return orchestration.FlowRun{}, err
			}
			return s.FlowRun(ctx, tenantID, id)
		}
	}
	return orchestration.FlowRun{}, fmt.Errorf("store: cancelling flow run %q: %w", id, ErrConflict)
}

// Heartbeat records that the tenant's run id is alive.
func (s *SQL) Heartbeat(ctx context.Context, tenantID, id string) error {
	res, err := s.exec(ctx, `UPDATE flow_runs SET heartbeat = $1 WHERE id = $2 AND tenant_id = $3`, now(), id, tenantID)
	if err != nil {
		return fmt.Errorf("store: heartbeat of flow run %q: %w", id, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return noRun(tenantID, id)
	}
	return nil
}

// runOpen fails with ErrNotFound unless the tenant has run id, and with
// ErrConflict if it finished more than a minute ago: reports come before
// the final state, or not long after (a task's late log line).
func (s *SQL) runOpen(ctx context.Context, tenantID, id string) error {
	r, err := s.FlowRun(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if r.State.IsFinished() && time.Since(r.Updated) > time.Minute {
		return fmt.Errorf("store: flow run %q finished (%v) at %s: %w", id, r.State, r.Updated.Format(time.RFC3339), ErrConflict)
	}
	return nil
}

// runExists fails with ErrNotFound unless the tenant has run id.
func (s *SQL) runExists(ctx context.Context, tenantID, id string) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM flow_runs WHERE id = $1 AND tenant_id = $2`, id, tenantID).Scan(&n); err != nil {
		return fmt.Errorf("store: reading flow run %q: %w", id, err)
	}
	if n == 0 {
		return noRun(tenantID, id)
	}
	return nil
}

// SetTaskRuns records the latest states of task runs of the tenant's run,
// which must not have finished more than a minute ago (ErrConflict).
func (s *SQL) SetTaskRuns(ctx context.Context, tenantID, runID string, trs []orchestration.TaskRun) error {
	if err := s.runOpen(ctx, tenantID, runID); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, tr := range trs {
			u := nanosOr(tr.Updated)
			// The writer's sequence orders states when it gives one (a
			// clock may step back); else their times do.
			if _, err := tx.ExecContext(ctx, `INSERT INTO task_runs (flow_run_id, slug, map_index, id, state, message, updated, seq)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (flow_run_id, slug, map_index) DO UPDATE SET
					id = excluded.id, state = excluded.state, message = excluded.message, updated = excluded.updated, seq = excluded.seq
				WHERE (excluded.seq > 0 AND task_runs.seq < excluded.seq) OR (excluded.seq = 0 AND task_runs.updated <= excluded.updated)`,
				runID, tr.Slug, tr.MapIndex, tr.ID, tr.State.String(), tr.Message, u, tr.Seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: recording task runs of flow run %q: %w", runID, err)
	}
	return nil
}

// TaskRuns returns the task runs of the tenant's run, by slug and index.
func (s *SQL) TaskRuns(ctx context.Context, tenantID, runID string) ([]orchestration.TaskRun, error) {
	if err := s.runExists(ctx, tenantID, runID); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.db, fmt.Sprintf("listing the task runs of flow run %q", runID),
		`SELECT id, slug, map_index, state, message, updated, seq FROM task_runs WHERE flow_run_id = $1 ORDER BY slug, map_index`,
		[]any{runID}, func(rows *sql.Rows) (orchestration.TaskRun, error) {
			var tr orchestration.TaskRun
			var u int64
			var st string
			if err := rows.Scan(&tr.ID, &tr.Slug, &tr.MapIndex, &st, &tr.Message, &u, &tr.Seq); err != nil {
				return tr, err
			}
			tr.Updated = fromNanos(u)
			var err error
			if tr.State, err = state.ParseKind(st); err != nil {
				return tr, fmt.Errorf("store: task run %q of flow run %q: %w", tr.Slug, runID, err)
			}
			return tr, nil
		})
}

// AppendLogs adds lines to the log of the tenant's run, which must not
// have finished more than a minute ago (ErrConflict). A line whose
// WriterSeq the run's log already holds (a batch sent again after its
// answer was lost) is not added again.
func (s *SQL) AppendLogs(ctx context.Context, tenantID, runID string, lines []orchestration.LogLine) error {
	if err := s.runOpen(ctx, tenantID, runID); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, l := range lines {
			t := nanosOr(l.Time)
			var writerSeq any // NULL: never a duplicate
			if l.WriterSeq > 0 {
				writerSeq = l.WriterSeq
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_logs (flow_run_id, at, level, task_slug, message, writer_seq)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				runID, t, l.Level, l.TaskSlug, l.Message, writerSeq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: writing the log of flow run %q: %w", runID, err)
	}
	return nil
}

// Logs returns up to limit lines of the tenant's run's log after the line
// numbered after (0 for the first), oldest first; limit <= 0 means all.
func (s *SQL) Logs(ctx context.Context, tenantID, runID string, after int64, limit int) ([]orchestration.LogLine, error) {
	if err := s.runExists(ctx, tenantID, runID); err != nil {
		return nil, err
	}
	q := `SELECT id, at, level, task_slug, message FROM run_logs WHERE flow_run_id = $1 AND id > $2 ORDER BY id`
	args := []any{runID, after}
	if limit > 0 {
		q += ` LIMIT $3`
		args = append(args, limit)
	}
	return queryAll(ctx, s.db, fmt.Sprintf("reading the log of flow run %q", runID), q, args,
		func(rows *sql.Rows) (orchestration.LogLine, error) {
			var l orchestration.LogLine
			var t int64
			err := rows.Scan(&l.Seq, &t, &l.Level, &l.TaskSlug, &l.Message)
			l.Time = fromNanos(t)
			return l, err
		})
}

// ReapFlowRuns settles the runs of every tenant that nobody looks after,
// and deletes the sealed environments of finished runs:
// a run Submitted before before (its agent never started it, or died) is
// Scheduled again; a run Running or Cancelling whose last heartbeat and
// last change are both before before (its process died) is Failed, or
// Cancelled if it was being cancelled. It returns how many runs it
// changed. Servers sharing a store may all reap: each change is a
// conditional update.
func (s *SQL) ReapFlowRuns(ctx context.Context, before time.Time) (int, error) {
	t, b := now(), before.UnixNano()
	total := 0
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE flow_runs SET state = $1, agent_id = '', message = $2, version = version + 1, updated = $3
			WHERE state = $4 AND updated < $5`,
			[]any{state.Scheduled.String(), "scheduled again: the agent that claimed it never started it", t, state.Submitted.String(), b}},
		{`UPDATE flow_runs SET state = $1, message = $2, version = version + 1, updated = $3
			WHERE state = $4 AND heartbeat < $5 AND updated < $5`,
			[]any{state.Failed.String(), "no heartbeat from the flow run's process: it or its agent died", t, state.Running.String(), b}},
		{`UPDATE flow_runs SET state = $1, message = $2, version = version + 1, updated = $3
			WHERE state = $4 AND heartbeat < $5 AND updated < $5`,
			[]any{state.Cancelled.String(), "cancelled: no heartbeat from the flow run's process", t, state.Cancelling.String(), b}},
	} {
		res, err := s.exec(ctx, q.sql, q.args...)
		if err != nil {
			return total, fmt.Errorf("store: reaping flow runs: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	// The environments of finished runs go, whoever finished them.
	if _, err := s.exec(ctx, `DELETE FROM secrets WHERE name LIKE '.prefect/runs/%' AND name IN
		(SELECT '.prefect/runs/' || id || '/env' FROM flow_runs WHERE state IN ($1, $2, $3))`,
		state.Success.String(), state.Failed.String(), state.Cancelled.String()); err != nil {
		return total, fmt.Errorf("store: deleting the environments of finished runs: %w", err)
	}
	return total, nil
}

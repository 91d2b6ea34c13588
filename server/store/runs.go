package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/server/api"
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
func (s *SQL) RegisterFlow(ctx context.Context, f api.Flow) (api.Flow, bool, error) {
	if f.Name == "" || f.TenantID == "" {
		return api.Flow{}, false, errors.New("store: registering a flow: empty name or tenant")
	}
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
			return api.Flow{}, false, err
		}
		if f.ID == "" {
			f.ID = uuid.NewString()
		}
		created := now()
		f.Created = fromNanos(created)
		_, err = s.exec(ctx, `INSERT INTO flows
			(id, tenant_id, name, version, digest, definition, labels, command, working_dir, has_env, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			f.ID, f.TenantID, f.Name, f.Version, f.Digest, string(f.Definition), jsonList(f.Labels), jsonList(f.Command),
			f.WorkingDir, boolInt(f.HasEnv), created)
		if err == nil {
			return f, true, nil
		}
		if !isUnique(err) || attempt == 3 {
			return api.Flow{}, false, fmt.Errorf("store: registering flow %q of tenant %q: %w", f.Name, f.TenantID, err)
		}
		// Another registration took this version: look again.
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const flowColumns = `id, tenant_id, name, version, digest, definition, labels, command, working_dir, has_env, created`

func scanFlow(row interface{ Scan(...any) error }) (api.Flow, error) {
	var f api.Flow
	var def, labels, command string
	var hasEnv int
	var created int64
	err := row.Scan(&f.ID, &f.TenantID, &f.Name, &f.Version, &f.Digest, &def, &labels, &command, &f.WorkingDir, &hasEnv, &created)
	f.Definition, f.Labels, f.Command = []byte(def), parseList(labels), parseList(command)
	f.HasEnv, f.Created = hasEnv != 0, fromNanos(created)
	return f, err
}

// LatestFlow returns the newest version of the tenant's flow name.
func (s *SQL) LatestFlow(ctx context.Context, tenantID, name string) (api.Flow, error) {
	f, err := scanFlow(s.db.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM flows
		WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1`, tenantID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return api.Flow{}, fmt.Errorf("store: flow %q of tenant %q: %w", name, tenantID, ErrNotFound)
	}
	return f, err
}

// Flow returns the tenant's flow version with the given ID.
func (s *SQL) Flow(ctx context.Context, tenantID, id string) (api.Flow, error) {
	f, err := scanFlow(s.db.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return api.Flow{}, fmt.Errorf("store: flow %q of tenant %q: %w", id, tenantID, ErrNotFound)
	}
	return f, err
}

// Flows returns the newest version of each of the tenant's flows, by name.
func (s *SQL) Flows(ctx context.Context, tenantID string) ([]api.Flow, error) {
	all, err := queryAll(ctx, s.db, fmt.Sprintf("listing the flows of tenant %q", tenantID),
		`SELECT `+flowColumns+` FROM flows WHERE tenant_id = $1 ORDER BY name, version DESC`, []any{tenantID},
		func(rows *sql.Rows) (api.Flow, error) { return scanFlow(rows) })
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, f := range all {
		if len(out) == 0 || out[len(out)-1].Name != f.Name {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b api.Flow) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CreateFlowRun records a new run of the tenant's flow version r.FlowID,
// Scheduled, version 1. r.ID may be given (a UUID); else one is made. A
// run of that ID that exists is an error matching ErrConflict.
func (s *SQL) CreateFlowRun(ctx context.Context, r api.FlowRun) (api.FlowRun, error) {
	f, err := s.Flow(ctx, r.TenantID, r.FlowID)
	if err != nil {
		return api.FlowRun{}, err
	}
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	if len(r.Parameters) == 0 {
		r.Parameters = []byte("{}")
	}
	t := now()
	r.FlowName, r.FlowVersion, r.Labels = f.Name, f.Version, f.Labels
	r.State, r.Message, r.Version, r.AgentID = api.RunScheduled, "", 1, ""
	r.Created, r.Updated, r.Heartbeat = fromNanos(t), fromNanos(t), fromNanos(0)
	if r.Name == "" {
		r.Name = f.Name + "-" + r.ID[:8]
	}
	_, err = s.exec(ctx, `INSERT INTO flow_runs
		(id, tenant_id, flow_id, name, parameters, state, message, version, agent_id, heartbeat, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, '', 1, '', 0, $7, $7)`,
		r.ID, r.TenantID, r.FlowID, r.Name, string(r.Parameters), r.State, t)
	if isUnique(err) {
		return api.FlowRun{}, fmt.Errorf("store: flow run %q exists: %w", r.ID, ErrConflict)
	}
	if err != nil {
		return api.FlowRun{}, fmt.Errorf("store: creating a run of flow %q: %w", f.Name, err)
	}
	return r, nil
}

const runColumns = `r.id, r.tenant_id, r.flow_id, f.name, f.version, r.name, r.parameters, f.labels,
	r.state, r.message, r.version, r.agent_id, r.heartbeat, r.created, r.updated`

const runFrom = ` FROM flow_runs r JOIN flows f ON f.id = r.flow_id `

func scanRun(row interface{ Scan(...any) error }) (api.FlowRun, error) {
	var r api.FlowRun
	var params, labels string
	var hb, created, updated int64
	err := row.Scan(&r.ID, &r.TenantID, &r.FlowID, &r.FlowName, &r.FlowVersion, &r.Name, &params, &labels,
		&r.State, &r.Message, &r.Version, &r.AgentID, &hb, &created, &updated)
	r.Parameters, r.Labels = []byte(params), parseList(labels)
	r.Heartbeat, r.Created, r.Updated = fromNanos(hb), fromNanos(created), fromNanos(updated)
	return r, err
}

func noRun(tenantID, id string) error {
	return fmt.Errorf("store: flow run %q of tenant %q: %w", id, tenantID, ErrNotFound)
}

// FlowRun returns the tenant's flow run id.
func (s *SQL) FlowRun(ctx context.Context, tenantID, id string) (api.FlowRun, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+runFrom+`WHERE r.tenant_id = $1 AND r.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return api.FlowRun{}, noRun(tenantID, id)
	}
	return r, err
}

// FlowRuns returns the tenant's latest limit flow runs, newest first, of
// the given state if state is not "".
func (s *SQL) FlowRuns(ctx context.Context, tenantID, state string, limit int) ([]api.FlowRun, error) {
	q := `SELECT ` + runColumns + runFrom + `WHERE r.tenant_id = $1 AND ($2 = '' OR r.state = $2) ORDER BY r.created DESC, r.id`
	args := []any{tenantID, state}
	if limit > 0 {
		q += ` LIMIT $3`
		args = append(args, limit)
	}
	return queryAll(ctx, s.db, fmt.Sprintf("listing the flow runs of tenant %q", tenantID), q, args,
		func(rows *sql.Rows) (api.FlowRun, error) { return scanRun(rows) })
}

// ClaimFlowRuns marks up to n of the tenant's Scheduled runs Submitted by
// agentID, oldest first, taking only runs whose flow's labels are all
// among labels, and returns them. Each run is taken with a conditional
// update, so two agents never both get one.
func (s *SQL) ClaimFlowRuns(ctx context.Context, tenantID, agentID string, labels []string, n int) ([]api.FlowRun, error) {
	if n <= 0 {
		return nil, nil
	}
	// Oldest first, a page at a time, so that runs this agent cannot take
	// (labels) do not hide the ones it can behind them.
	var got []api.FlowRun
	afterCreated, afterID := int64(-1), ""
	for page := 0; page < maxClaimPages && len(got) < n; page++ {
		waiting, err := queryAll(ctx, s.db, fmt.Sprintf("listing the scheduled runs of tenant %q", tenantID),
			`SELECT `+runColumns+runFrom+`WHERE r.tenant_id = $1 AND r.state = $2 AND (r.created > $3 OR (r.created = $3 AND r.id > $4))
			ORDER BY r.created, r.id LIMIT $5`,
			[]any{tenantID, api.RunScheduled, afterCreated, afterID, claimPage},
			func(rows *sql.Rows) (api.FlowRun, error) { return scanRun(rows) })
		if err != nil {
			return got, err
		}
		for _, r := range waiting {
			afterCreated, afterID = r.Created.UnixNano(), r.ID
			if len(got) == n || !subset(r.Labels, labels) {
				continue
			}
			t := now()
			res, err := s.exec(ctx, `UPDATE flow_runs SET state = $1, agent_id = $2, version = version + 1, updated = $3
				WHERE id = $4 AND tenant_id = $5 AND state = $6 AND version = $7`,
				api.RunSubmitted, agentID, t, r.ID, tenantID, api.RunScheduled, r.Version)
			if err != nil {
				return got, fmt.Errorf("store: claiming flow run %q: %w", r.ID, err)
			}
			if k, err := res.RowsAffected(); err != nil || k != 1 {
				continue // another agent took it
			}
			r.State, r.AgentID, r.Version, r.Updated = api.RunSubmitted, agentID, r.Version+1, fromNanos(t)
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

// transitions lists, for each state, the states a run may come to it
// from, padded to four with "" (which no run is in). A finished run never
// changes; only a claim (Submitted) leaves Scheduled but for a cancel;
// only the flow's process starts a run (Running, from Submitted).
var transitions = map[string][4]string{
	api.RunScheduled:  {api.RunSubmitted},
	api.RunSubmitted:  {api.RunScheduled},
	api.RunRunning:    {api.RunSubmitted},
	api.RunSuccess:    {api.RunRunning},
	api.RunFailed:     {api.RunSubmitted, api.RunRunning}, // a run being cancelled ends Cancelled
	api.RunCancelling: {api.RunSubmitted, api.RunRunning},
	api.RunCancelled:  {api.RunScheduled, api.RunSubmitted, api.RunRunning, api.RunCancelling},
}

// SetFlowRunState sets the state of the tenant's run id if its version is
// still version and the change is one [transitions] allows, and returns
// the new version. Otherwise the error matches ErrConflict (the run
// changed since it was read, is finished, or cannot go to that state from
// its own) or ErrNotFound.
func (s *SQL) SetFlowRunState(ctx context.Context, tenantID, id string, version int, state, message string) (int, error) {
	from, ok := transitions[state]
	if !ok {
		return 0, fmt.Errorf("store: flow run %q: no run goes to state %q", id, state)
	}
	t := now()
	res, err := s.exec(ctx, `UPDATE flow_runs SET state = $1, message = $2, version = version + 1, updated = $3
		WHERE id = $4 AND tenant_id = $5 AND version = $6 AND state IN ($7, $8, $9, $10)`,
		state, message, t, id, tenantID, version, from[0], from[1], from[2], from[3])
	if err != nil {
		return 0, fmt.Errorf("store: setting the state of flow run %q: %w", id, err)
	}
	if k, err := res.RowsAffected(); err == nil && k == 1 {
		if api.RunFinished(state) {
			s.closeTaskRuns(ctx, id, state)
		}
		return version + 1, nil
	}
	cur, err := s.FlowRun(ctx, tenantID, id)
	if err != nil {
		return 0, err
	}
	if api.RunFinished(cur.State) {
		return 0, fmt.Errorf("store: flow run %q is finished (%s): %w", id, cur.State, ErrConflict)
	}
	if cur.Version == version {
		return 0, fmt.Errorf("store: flow run %q cannot go from %s to %s: %w", id, cur.State, state, ErrConflict)
	}
	return 0, fmt.Errorf("store: flow run %q is at version %d (%s), not %d: %w", id, cur.Version, cur.State, version, ErrConflict)
}

// closeTaskRuns gives the task runs a finished run left unfinished (its
// process died, or was killed) the run's final state, Failed or
// Cancelled, as Prefect 1 does. Best effort: the run's own state is what
// counts.
func (s *SQL) closeTaskRuns(ctx context.Context, runID, state string) {
	if state == api.RunSuccess {
		return
	}
	s.exec(ctx, `UPDATE task_runs SET state = $1, message = $2, updated = $3, seq = seq + 1
		WHERE flow_run_id = $4 AND state IN ($5, $6, $7, $8, $9)`,
		state, "the flow run ended "+state+" before this task run finished", now(), runID,
		"Pending", "Scheduled", "Paused", "Retrying", "Running")
}

// CancelFlowRun asks the tenant's run id to stop: a Scheduled run becomes
// Cancelled at once; a Submitted or Running one Cancelling, for its agent
// to stop. A finished run is left as it is. It returns the run as it is
// after.
func (s *SQL) CancelFlowRun(ctx context.Context, tenantID, id string) (api.FlowRun, error) {
	for range 5 {
		r, err := s.FlowRun(ctx, tenantID, id)
		if err != nil || api.RunFinished(r.State) || r.State == api.RunCancelling {
			return r, err
		}
		next := api.RunCancelling
		if r.State == api.RunScheduled {
			next = api.RunCancelled
		}
		if _, err := s.SetFlowRunState(ctx, tenantID, id, r.Version, next, "cancelled by request"); !errors.Is(err, ErrConflict) {
			if err != nil {
				return api.FlowRun{}, err
			}
			return s.FlowRun(ctx, tenantID, id)
		}
	}
	return api.FlowRun{}, fmt.Errorf("store: cancelling flow run %q: %w", id, ErrConflict)
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
	if api.RunFinished(r.State) && time.Since(r.Updated) > time.Minute {
		return fmt.Errorf("store: flow run %q finished (%s) at %s: %w", id, r.State, r.Updated.Format(time.RFC3339), ErrConflict)
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
func (s *SQL) SetTaskRuns(ctx context.Context, tenantID, runID string, trs []api.TaskRun) error {
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
				runID, tr.Slug, tr.MapIndex, tr.ID, tr.State, tr.Message, u, tr.Seq); err != nil {
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
func (s *SQL) TaskRuns(ctx context.Context, tenantID, runID string) ([]api.TaskRun, error) {
	if err := s.runExists(ctx, tenantID, runID); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.db, fmt.Sprintf("listing the task runs of flow run %q", runID),
		`SELECT id, slug, map_index, state, message, updated, seq FROM task_runs WHERE flow_run_id = $1 ORDER BY slug, map_index`,
		[]any{runID}, func(rows *sql.Rows) (api.TaskRun, error) {
			var tr api.TaskRun
			var u int64
			err := rows.Scan(&tr.ID, &tr.Slug, &tr.MapIndex, &tr.State, &tr.Message, &u, &tr.Seq)
			tr.Updated = fromNanos(u)
			return tr, err
		})
}

// AppendLogs adds lines to the log of the tenant's run, which must not
// have finished more than a minute ago (ErrConflict). A line whose
// WriterSeq the run's log already holds (a batch sent again after its
// answer was lost) is not added again.
func (s *SQL) AppendLogs(ctx context.Context, tenantID, runID string, lines []api.LogLine) error {
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
func (s *SQL) Logs(ctx context.Context, tenantID, runID string, after int64, limit int) ([]api.LogLine, error) {
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
		func(rows *sql.Rows) (api.LogLine, error) {
			var l api.LogLine
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
			[]any{api.RunScheduled, "scheduled again: the agent that claimed it never started it", t, api.RunSubmitted, b}},
		{`UPDATE flow_runs SET state = $1, message = $2, version = version + 1, updated = $3
			WHERE state = $4 AND heartbeat < $5 AND updated < $5`,
			[]any{api.RunFailed, "no heartbeat from the flow run's process: it or its agent died", t, api.RunRunning, b}},
		{`UPDATE flow_runs SET state = $1, message = $2, version = version + 1, updated = $3
			WHERE state = $4 AND heartbeat < $5 AND updated < $5`,
			[]any{api.RunCancelled, "cancelled: no heartbeat from the flow run's process", t, api.RunCancelling, b}},
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
		api.RunSuccess, api.RunFailed, api.RunCancelled); err != nil {
		return total, fmt.Errorf("store: deleting the environments of finished runs: %w", err)
	}
	return total, nil
}

package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prefect-go/prefect/orchestration"
)

// This file keeps what the server's scheduler needs: each flow name's
// schedule row (flow_schedules: the version it follows, whether it is
// active, the latest planned start it created a run for, when it is due
// again) and the runs it creates, each under an idempotency key that the
// tenant holds once (a unique index), so that servers sharing the
// database never create one event's run twice.

// SetScheduleActive turns the schedule of the tenant's flow name on or
// off (Prefect's set_schedule_active and set_schedule_inactive) and
// returns how many runs it deleted. Turning it off deletes the Scheduled
// runs the scheduler created for the name and nobody has claimed yet,
// those already due too, as Prefect Server does; turning it on makes the
// flow due at once (if its newest version has a schedule). Setting it as
// it is changes nothing. The error matches ErrNotFound for a flow name the
// tenant never registered.
func (s *SQL) SetScheduleActive(ctx context.Context, tenantID, name string, active bool) (int, error) {
	removed := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id string
		var schedule sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id, schedule FROM flows WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1`,
			tenantID, name).Scan(&id, &schedule)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var next any // NULL: never due
		if active && schedule.Valid {
			next = 0
		}
		// A flow registered before schedules has no row yet.
		res, err := tx.ExecContext(ctx, `INSERT INTO flow_schedules (tenant_id, flow_name, flow_id, active, until_at, next_at)
			VALUES ($1, $2, $3, $4, 0, $5)
			ON CONFLICT (tenant_id, flow_name) DO UPDATE SET active = excluded.active, until_at = 0, next_at = excluded.next_at
			WHERE flow_schedules.active <> excluded.active`,
			tenantID, name, id, boolInt(active), next)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || active {
			return err
		}
		removed, err = deleteAutoScheduled(ctx, tx, tenantID, name, -1)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("store: flow %q of tenant %q: %w", name, tenantID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("store: setting the schedule of flow %q of tenant %q active %v: %w", name, tenantID, active, err)
	}
	return removed, nil
}

// DueSchedules returns up to limit active schedules, of every tenant, due
// at now: those whose flows the scheduler has not planned yet, and those
// whose first future run of the window it planned is due (so that the
// window holds one run less). Those due the longest come first. It is one
// query along an index: when nothing is due, that is all a scheduler's
// pass costs.
func (s *SQL) DueSchedules(ctx context.Context, now time.Time, limit int) ([]orchestration.FlowSchedule, error) {
	st, err := s.prepared(ctx, `SELECT s.tenant_id, s.flow_name, s.flow_id, s.until_at, f.schedule, f.labels
		FROM flow_schedules s JOIN flows f ON f.id = s.flow_id
		WHERE s.active = 1 AND s.next_at <= $1 AND f.schedule IS NOT NULL
		ORDER BY s.next_at, s.tenant_id, s.flow_name LIMIT $2`)
	if err != nil {
		return nil, fmt.Errorf("store: listing the schedules due: %w", err)
	}
	rows, err := st.QueryContext(ctx, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: listing the schedules due: %w", err)
	}
	defer rows.Close()
	var out []orchestration.FlowSchedule
	for rows.Next() {
		var fs orchestration.FlowSchedule
		var until int64
		var schedule, labels string
		if err := rows.Scan(&fs.TenantID, &fs.FlowName, &fs.FlowID, &until, &schedule, &labels); err != nil {
			return nil, fmt.Errorf("store: listing the schedules due: %w", err)
		}
		if until != 0 {
			fs.Until = fromNanos(until)
		}
		fs.Schedule, fs.Labels = []byte(schedule), parseList(labels)
		out = append(out, fs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing the schedules due: %w", err)
	}
	return out, nil
}

// ScheduleRuns writes plans in one transaction and returns how many runs
// it created. A plan is written only if its flow's schedule row is still
// as the scheduler read it (the same version followed, the same Until,
// active): otherwise another server wrote it first, or the flow changed
// or was turned off, and the plan is skipped. A run whose idempotency key
// the tenant has already is not created again (INSERT ... ON CONFLICT DO
// NOTHING), so that no planned start of a flow name ever has two runs.
//
// Each plan's row is updated before its runs are inserted, and the plans
// in the order of their tenant and flow name: on PostgreSQL, servers
// writing plans of the same flows at once wait for each other's row locks,
// then find the row changed, rather than deadlock.
func (s *SQL) ScheduleRuns(ctx context.Context, plans []orchestration.SchedulePlan) (int, error) {
	plans = slices.Clone(plans)
	slices.SortFunc(plans, func(a, b orchestration.SchedulePlan) int {
		return cmp.Or(strings.Compare(a.Read.TenantID, b.Read.TenantID), strings.Compare(a.Read.FlowName, b.Read.FlowName))
	})
	created := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		created = 0
		t := now()
		for _, p := range plans {
			var next any // NULL: never due again
			if !p.Next.IsZero() {
				next = p.Next.UnixNano()
			}
			res, err := tx.ExecContext(ctx, `UPDATE flow_schedules SET until_at = $1, next_at = $2
				WHERE tenant_id = $3 AND flow_name = $4 AND flow_id = $5 AND until_at = $6 AND active = 1`,
				nanosOrZero(p.Until), next, p.Read.TenantID, p.Read.FlowName, p.Read.FlowID, nanosOrZero(p.Read.Until))
			if err != nil {
				return fmt.Errorf("planning flow %q of tenant %q: %w", p.Read.FlowName, p.Read.TenantID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // planned by another, or changed
			}
			for _, r := range p.Runs {
				if r.IdempotencyKey == "" {
					return fmt.Errorf("a planned run of flow %q has no idempotency key", p.Read.FlowName)
				}
				r.TenantID, r.FlowID = p.Read.TenantID, p.Read.FlowID
				fillRun(&r, p.Read.FlowName, 0, p.Read.Labels, t)
				res, err := tx.ExecContext(ctx, insertRun+` ON CONFLICT DO NOTHING`,
					r.ID, r.TenantID, r.FlowID, r.Name, string(r.Parameters), r.State.String(), t, r.ScheduledStart.UnixNano(),
					jsonList(r.Labels), r.IdempotencyKey)
				if err != nil {
					return fmt.Errorf("creating the run of flow %q planned for %s: %w", p.Read.FlowName, r.ScheduledStart.Format(time.RFC3339), err)
				}
				if n, err := res.RowsAffected(); err == nil {
					created += int(n)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: creating scheduled runs: %w", err)
	}
	return created, nil
}

// nanosOrZero is t in nanoseconds, or 0 for the zero time.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

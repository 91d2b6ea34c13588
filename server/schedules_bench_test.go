package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/server/store"
)

// BenchmarkScheduler is one pass of the scheduler over 10,000 scheduled
// flows, none planned yet: 100,000 runs to create (runs/s), and then a
// pass with nothing due (ns/idle-pass).
func BenchmarkScheduler(b *testing.B) {
	bench := func(b *testing.B, target, driver string) {
		ctx := context.Background()
		st, err := store.Open(ctx, target)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		env := servertest.On(b, st)
		srv := env.Handler()
		b.Cleanup(func() { srv.Close() })
		raw, err := sql.Open(driver, target)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { raw.Close() })
		const flows = 10_000
		sched, err := schedule.Must(schedule.Interval(time.Hour)).MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		// The flows, registered in one transaction (RegisterFlow's rows).
		tx, err := raw.Begin()
		if err != nil {
			b.Fatal(err)
		}
		for i := range flows {
			id := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
			if _, err := tx.Exec(`INSERT INTO flows (id, tenant_id, name, version, digest, definition, labels, command, working_dir, has_env, created, schedule)
				VALUES ($1, $2, $3, 1, 'd', '{}', '[]', '["x"]', '', 0, 1, $4)`, id, env.Tenant.ID, fmt.Sprintf("flow-%05d", i), string(sched)); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO flow_schedules (tenant_id, flow_name, flow_id, active, until_at, next_at) VALUES ($1, $2, $3, 1, 0, 0)`,
				env.Tenant.ID, fmt.Sprintf("flow-%05d", i), id); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		var created int
		var busy, idle time.Duration
		for b.Loop() {
			b.StopTimer()
			for _, q := range []string{`DELETE FROM flow_runs`, `UPDATE flow_schedules SET until_at = 0, next_at = 0`} {
				if _, err := raw.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			t0 := time.Now()
			n, err := srv.Schedule(ctx)
			if err != nil || n != flows*10 {
				b.Fatalf("Schedule = %d, %v; want %d", n, err, flows*10)
			}
			busy += time.Since(t0)
			created += n
			t0 = time.Now()
			// Nothing due, unless the pass before outlasted an event
			// (an hour's turn): then one run a flow.
			if n, err := srv.Schedule(ctx); err != nil || (n != 0 && n != flows) {
				b.Fatalf("Schedule with nothing due = %d, %v", n, err)
			}
			idle += time.Since(t0)
		}
		b.ReportMetric(float64(created)/busy.Seconds(), "runs/s")
		b.ReportMetric(float64(idle.Nanoseconds())/float64(b.N), "ns/idle-pass")
	}
	b.Run("sqlite", func(b *testing.B) { bench(b, filepath.Join(b.TempDir(), "server.db"), "sqlite") })
	b.Run("postgres", func(b *testing.B) { bench(b, pgtest.URL(b), "pgx") })
}

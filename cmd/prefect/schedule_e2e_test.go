package main

import (
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/gobuild"
	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/state"
)

var scheduledFlowsBin = gobuild.NewOnce("./testdata/scheduledflows", "scheduledflows")

// TestScheduledFlowRuns registers a flow scheduled every second with the
// real server (its scheduler passing every 200 ms), runs an agent, and
// checks that the server's runs of it reach Success, each at its own
// planned second, with the clock's parameter; then `prefect flows
// schedule --off` removes the runs not yet claimed and makes no more, and
// --on makes them again.
func TestScheduledFlowRuns(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	t.Run("one server on SQLite", func(t *testing.T) {
		t.Parallel()
		bin := buildBinary(t)
		data := t.TempDir()
		env := cliEnv(t)
		prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
		key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
		srv := startServerOn(t, bin, data, env, "--scheduler-interval", "200ms")
		t.Cleanup(func() { srv.stop(t) })
		scheduledRuns(t, key, srv)
	})
	// Two servers on one PostgreSQL database, each with its scheduler:
	// never two runs for one planned second.
	t.Run("two servers on PostgreSQL", func(t *testing.T) {
		t.Parallel()
		db := pgtest.URL(t)
		bin := buildBinary(t)
		mk, _ := seal.NewMasterKey()
		env := cliEnv(t, MasterKeyEnv+"="+mk.Encode())
		prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--database-url", db)
		key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--database-url", db))
		a := startServerOn(t, bin, t.TempDir(), env, "--database-url", db, "--scheduler-interval", "100ms")
		b := startServerOn(t, bin, t.TempDir(), env, "--database-url", db, "--scheduler-interval", "100ms")
		t.Cleanup(func() { a.stop(t); b.stop(t) })
		scheduledRuns(t, key, a, b)
	})
}

// scheduledRuns registers scheduledflows with the first server, runs an
// agent against it, and checks the runs the servers' schedulers make.
func scheduledRuns(t *testing.T, key string, servers ...*serverProcess) {
	bin, flows := buildBinary(t), scheduledFlowsBin.Path(t)
	srv := servers[0]
	env := cliEnv(t, "PREFECT__CLOUD__API="+srv.url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
	if out, errOut, err := cliRun(flows, env, "register"); err != nil || !strings.Contains(out, "flow every-second: registered as version 1") {
		t.Fatalf("scheduledflows register: %v\n%s%s", err, out, errOut)
	}
	if out := prefectCLI(t, bin, env, "flows", "list"); !strings.Contains(out, "every-second") || !strings.Contains(out, " on ") {
		t.Errorf("flows list does not show every-second's schedule on:\n%s", out)
	}
	c := newTestClient(t, srv.url, key)
	ag := startProcess(t, bin, env, "agent", "local", "start", "--poll-interval", "100ms")

	ctx := testwait.Context(t)
	var done []client.FlowRun
	for len(done) < 3 {
		runs, err := c.FlowRuns(ctx, 500)
		if err != nil {
			t.Fatal(err)
		}
		done = done[:0]
		planned := map[time.Time]string{}
		for _, r := range runs {
			if other, ok := planned[r.ScheduledStart]; ok {
				t.Fatalf("runs %s and %s are both planned for %v", other, r.ID, r.ScheduledStart)
			}
			planned[r.ScheduledStart] = r.ID
			switch r.State {
			case state.Failed:
				t.Fatalf("scheduled run %s failed: %s\nagent:\n%s", r.ID, r.Message, ag)
			case state.Success:
				done = append(done, r)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no 3 scheduled runs reached Success (%d did)\nagent:\n%s\nserver:\n%s", len(done), ag, srv.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, r := range done {
		if !r.AutoScheduled || r.FlowName != "every-second" || !r.ScheduledStart.Equal(r.ScheduledStart.Truncate(time.Second)) {
			t.Errorf("run %s: auto-scheduled %v, flow %q, planned %v; want the scheduler's run of every-second, on a whole second", r.ID, r.AutoScheduled, r.FlowName, r.ScheduledStart)
		}
	}

	if out := prefectCLI(t, bin, env, "flows", "schedule", "every-second", "--off"); !strings.Contains(out, "flow every-second: schedule off") {
		t.Errorf("flows schedule --off said %q", out)
	}
	scheduled := func() int {
		runs, err := c.FlowRuns(ctx, 500, state.Scheduled)
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}
	if n := scheduled(); n != 0 {
		t.Errorf("after --off, %d runs are still Scheduled; want the planned ones deleted", n)
	}
	if out := prefectCLI(t, bin, env, "flows", "list"); !strings.Contains(out, " off ") {
		t.Errorf("flows list does not show the schedule off:\n%s", out)
	}
	prefectCLI(t, bin, env, "flows", "schedule", "every-second", "--on")
	for scheduled() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("after --on the scheduler planned no run\nserver:\n%s", srv.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/gobuild"
	"github.com/prefect-go/prefect/internal/testwait"
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
	bin, flows := buildBinary(t), scheduledFlowsBin.Path(t)
	data := t.TempDir()
	env := cliEnv(t)
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
	key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
	srv := startServerOn(t, bin, data, env, "--scheduler-interval", "200ms")
	t.Cleanup(func() { srv.stop(t) })
	env = cliEnv(t, "PREFECT__CLOUD__API="+srv.url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
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
		runs, err := c.FlowRuns(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		done = done[:0]
		for _, r := range runs {
			switch {
			case r.State == state.Failed:
				t.Fatalf("scheduled run %s failed: %s\nagent:\n%s", r.ID, r.Message, ag)
			case r.State == state.Success:
				done = append(done, r)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no 3 scheduled runs reached Success (%d did)\nagent:\n%s\nserver:\n%s", len(done), ag, srv.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	starts := map[time.Time]bool{}
	for _, r := range done {
		if !r.AutoScheduled || r.FlowName != "every-second" || !r.ScheduledStart.Equal(r.ScheduledStart.Truncate(time.Second)) {
			t.Errorf("run %s: auto-scheduled %v, flow %q, planned %v; want the scheduler's run of every-second, on a whole second", r.ID, r.AutoScheduled, r.FlowName, r.ScheduledStart)
		}
		if starts[r.ScheduledStart] {
			t.Errorf("two runs planned for %v", r.ScheduledStart)
		}
		starts[r.ScheduledStart] = true
	}

	if out := prefectCLI(t, bin, env, "flows", "schedule", "every-second", "--off"); !strings.Contains(out, "flow every-second: schedule off") {
		t.Errorf("flows schedule --off said %q", out)
	}
	scheduled := func() int {
		runs, err := c.FlowRuns(ctx, 100, state.Scheduled)
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

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/state"
)

func TestRuns(t *testing.T) { forEachDB(t, testRuns) }

func testRuns(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	acme, globex := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")

	// Registering: a new digest makes a new version; the same one does not.
	reg := func(tn Tenant, name, digest string, labels ...string) orchestration.Flow {
		t.Helper()
		f, _, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: name, Digest: digest, Definition: []byte(`{"tasks":[]}`),
			Labels: labels, Command: []string{"/bin/flows", "execute"}})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	v1 := reg(acme, "etl", "d1")
	if again, created, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: acme.ID, Name: "etl", Digest: "d1"}); err != nil || created || again.ID != v1.ID {
		t.Errorf("re-registering the same flow: %v, created %v, %v; want version 1 as it was", again, created, err)
	}
	v2 := reg(acme, "etl", "d2", "gpu")
	if v1.Version != 1 || v2.Version != 2 || v2.ID == v1.ID {
		t.Fatalf("versions %d, %d; want 1, 2", v1.Version, v2.Version)
	}
	reg(globex, "etl", "x")
	if fl, err := s.Flows(ctx, acme.ID); err != nil || len(fl) != 1 || fl[0].Version != 2 || fl[0].Labels[0] != "gpu" || fl[0].Command[1] != "execute" {
		t.Errorf("Flows(acme) = %+v, %v", fl, err)
	}

	// Runs: created Scheduled; claimed only by agents with the labels.
	r1, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: v1.ID, Parameters: []byte(`{"n":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: v2.ID})
	if err != nil {
		t.Fatal(err)
	}
	if r1.State != state.Scheduled || r1.Version != 1 || r1.FlowName != "etl" {
		t.Errorf("a new run: %+v", r1)
	}
	if _, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: globex.ID, FlowID: v1.ID}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a run of another tenant's flow: %v; want ErrNotFound", err)
	}
	got, err := s.ClaimFlowRuns(ctx, acme.ID, "agent-1", nil, 10)
	if err != nil || len(got) != 1 || got[0].ID != r1.ID || got[0].State != state.Submitted || got[0].Version != 2 {
		t.Fatalf("claim without labels: %+v, %v; want only r1 (r2 needs gpu)", got, err)
	}
	got, err = s.ClaimFlowRuns(ctx, acme.ID, "agent-2", []string{"gpu", "x"}, 10)
	if err != nil || len(got) != 1 || got[0].ID != r2.ID {
		t.Fatalf("claim with gpu: %+v, %v; want r2", got, err)
	}
	if got, _ := s.ClaimFlowRuns(ctx, globex.ID, "agent-3", []string{"gpu"}, 10); len(got) != 0 {
		t.Errorf("another tenant's agent claimed %v", got)
	}

	// States move only from the version read.
	v, err := s.SetFlowRunState(ctx, acme.ID, r1.ID, 2, state.Running, "")
	if err != nil || v != 3 {
		t.Fatalf("SetFlowRunState = %d, %v", v, err)
	}
	if _, err := s.SetFlowRunState(ctx, acme.ID, r1.ID, 2, state.Failed, "late"); !errors.Is(err, ErrConflict) {
		t.Errorf("a stale version: %v; want ErrConflict", err)
	}
	if _, err := s.SetFlowRunState(ctx, globex.ID, r1.ID, 3, state.Failed, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's run: %v; want ErrNotFound", err)
	}
	if r, err := s.CancelFlowRun(ctx, acme.ID, r1.ID); err != nil || r.State != state.Cancelling {
		t.Errorf("cancelling a running run: %v, %v", r.State, err)
	}
	// A finished run never changes, whatever version is given.
	done, _ := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: v1.ID})
	v = advance(t, s, acme.ID, done.ID, state.Submitted, state.Running, state.Success)
	if _, err := s.SetFlowRunState(ctx, acme.ID, done.ID, v, state.Running, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("changing a finished run: %v; want ErrConflict", err)
	}
	// Only the moves of the transitions table are allowed.
	odd, _ := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: v1.ID})
	for _, to := range []state.Kind{state.Running, state.Success, state.Failed, state.Cancelling, state.Pending, state.TimedOut} {
		if _, err := s.SetFlowRunState(ctx, acme.ID, odd.ID, 1, to, ""); err == nil {
			t.Errorf("a Scheduled run went to %s", to)
		}
	}
	r3, _ := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: acme.ID, FlowID: v1.ID})
	if r, err := s.CancelFlowRun(ctx, acme.ID, r3.ID); err != nil || r.State != state.Cancelled {
		t.Errorf("cancelling a scheduled run: %v, %v; want Cancelled at once", r.State, err)
	}

	// Task runs keep the latest state; logs read on from a cursor.
	t0 := time.Now()
	if err := s.SetTaskRuns(ctx, acme.ID, r1.ID, []orchestration.TaskRun{
		{ID: "a", Slug: "extract-1", MapIndex: -1, State: state.Running, Updated: t0},
		{ID: "b", Slug: "load-1", MapIndex: 0, State: state.Success, Updated: t0},
	}); err != nil {
		t.Fatal(err)
	}
	// An older state arriving late does not overwrite a newer one.
	s.SetTaskRuns(ctx, acme.ID, r1.ID, []orchestration.TaskRun{{ID: "a", Slug: "extract-1", MapIndex: -1, State: state.Success, Updated: t0.Add(time.Second)}})
	s.SetTaskRuns(ctx, acme.ID, r1.ID, []orchestration.TaskRun{{ID: "a", Slug: "extract-1", MapIndex: -1, State: state.Pending, Updated: t0.Add(-time.Second)}})
	trs, err := s.TaskRuns(ctx, acme.ID, r1.ID)
	if err != nil || len(trs) != 2 || trs[0].State != state.Success || trs[1].MapIndex != 0 {
		t.Errorf("TaskRuns = %+v, %v", trs, err)
	}
	// With the writer's sequence, order follows it, not the clocks.
	s.SetTaskRuns(ctx, acme.ID, r1.ID, []orchestration.TaskRun{{ID: "s", Slug: "seq-1", MapIndex: -1, State: state.Success, Seq: 5, Updated: t0}})
	s.SetTaskRuns(ctx, acme.ID, r1.ID, []orchestration.TaskRun{{ID: "s", Slug: "seq-1", MapIndex: -1, State: state.Running, Seq: 4, Updated: t0.Add(time.Hour)}})
	trs, _ = s.TaskRuns(ctx, acme.ID, r1.ID)
	for _, tr := range trs {
		if tr.Slug == "seq-1" && (tr.State != state.Success || tr.Seq != 5) {
			t.Errorf("an earlier state (seq 4) with a later clock replaced seq 5: %+v", tr)
		}
	}
	if err := s.AppendLogs(ctx, acme.ID, r1.ID, []orchestration.LogLine{{Level: "INFO", Message: "one"}, {Level: "INFO", TaskSlug: "load-1", Message: "two"}}); err != nil {
		t.Fatal(err)
	}
	logs, err := s.Logs(ctx, acme.ID, r1.ID, 0, 0)
	if err != nil || len(logs) != 2 || logs[1].Message != "two" || logs[1].TaskSlug != "load-1" {
		t.Fatalf("Logs = %+v, %v", logs, err)
	}
	if rest, _ := s.Logs(ctx, acme.ID, r1.ID, logs[0].Seq, 0); len(rest) != 1 || rest[0].Message != "two" {
		t.Errorf("Logs after the first = %+v", rest)
	}
	if _, err := s.Logs(ctx, globex.ID, r1.ID, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's logs: %v", err)
	}
	// Lines numbered by their writer, sent again (a retry after a lost
	// answer) with new ones, are added once; unnumbered ones always.
	numbered := []orchestration.LogLine{{Level: "INFO", Message: "n1", WriterSeq: 1}, {Level: "INFO", Message: "n2", WriterSeq: 2}}
	again := append(numbered[1:], orchestration.LogLine{Level: "INFO", Message: "n3", WriterSeq: 3}, orchestration.LogLine{Level: "INFO", Message: "two"})
	for _, batch := range [][]orchestration.LogLine{numbered, again} {
		if err := s.AppendLogs(ctx, acme.ID, r1.ID, batch); err != nil {
			t.Fatal(err)
		}
	}
	logs, _ = s.Logs(ctx, acme.ID, r1.ID, 0, 0)
	var msgs []string
	for _, l := range logs {
		msgs = append(msgs, l.Message)
	}
	if want := []string{"one", "two", "n1", "n2", "n3", "two"}; !slices.Equal(msgs, want) {
		t.Errorf("log after a batch sent again: %q, want %q", msgs, want)
	}
	if err := s.Heartbeat(ctx, acme.ID, r1.ID); err != nil {
		t.Error(err)
	}
	// A run that ends Cancelled closes the task runs it left open.
	cur, _ := s.FlowRun(ctx, acme.ID, r1.ID)
	s.SetTaskRuns(ctx, acme.ID, r1.ID, []orchestration.TaskRun{{ID: "c", Slug: "stuck-1", MapIndex: -1, State: state.Running, Updated: time.Now()}})
	if _, err := s.SetFlowRunState(ctx, acme.ID, r1.ID, cur.Version, state.Cancelled, ""); err != nil {
		t.Fatal(err)
	}
	trs, _ = s.TaskRuns(ctx, acme.ID, r1.ID)
	for _, tr := range trs {
		if tr.Slug == "stuck-1" && tr.State != state.Cancelled {
			t.Errorf("a task run left Running by a cancelled run is %s", tr.State)
		}
		if tr.Slug == "extract-1" && tr.State != state.Success {
			t.Errorf("a finished task run was changed to %s", tr.State)
		}
	}
	if list, err := s.FlowRuns(ctx, acme.ID, 0, state.Cancelled); err != nil || len(list) != 2 || list[1].ID != r1.ID {
		t.Errorf("FlowRuns(Cancelled) = %+v, %v", list, err)
	}
	if list, err := s.FlowRuns(ctx, acme.ID, 0, state.Cancelled, state.Success); err != nil || len(list) != 3 {
		t.Errorf("FlowRuns(Cancelled, Success) = %+v, %v; want 3 runs", list, err)
	}
	if list, err := s.FlowRuns(ctx, acme.ID, 2); err != nil || len(list) != 2 {
		t.Errorf("FlowRuns(limit 2) = %+v, %v; want 2 runs", list, err)
	}
	// The tables hold the states' names, never the numbers of their kinds.
	var name string
	if err := s.db.QueryRowContext(ctx, `SELECT state FROM flow_runs WHERE id = $1`, done.ID).Scan(&name); err != nil || name != "Success" {
		t.Errorf("flow_runs.state = %q, %v; want \"Success\"", name, err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT state FROM task_runs WHERE flow_run_id = $1 AND slug = 'stuck-1'`, r1.ID).Scan(&name); err != nil || name != "Cancelled" {
		t.Errorf("task_runs.state = %q, %v; want \"Cancelled\"", name, err)
	}
}

// Agents claiming at once never get the same run.
func TestClaimIsExclusive(t *testing.T) { forEachDB(t, testClaimIsExclusive) }

func testClaimIsExclusive(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	f, _, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "f", Digest: "d"})
	if err != nil {
		t.Fatal(err)
	}
	const runs, agents = 100, 6
	for range runs {
		if _, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: f.ID}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for a := range agents {
		wg.Go(func() {
			id := fmt.Sprint("agent-", a)
			for {
				got, err := s.ClaimFlowRuns(ctx, tn.ID, id, nil, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					if prev, dup := seen[r.ID]; dup {
						t.Errorf("run %s claimed by %s and %s", r.ID, prev, id)
					}
					seen[r.ID] = id
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != runs {
		t.Errorf("%d runs claimed, want %d", len(seen), runs)
	}
}

// Runs nobody looks after are settled: Submitted ones scheduled again,
// Running ones without a heartbeat failed, Cancelling ones cancelled;
// fresh ones and finished ones are left alone.
func TestReapFlowRuns(t *testing.T) { forEachDB(t, testReapFlowRuns) }

func testReapFlowRuns(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	f, _, err := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "f", Digest: "d"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(path ...state.Kind) orchestration.FlowRun {
		t.Helper()
		r, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: f.ID})
		if err != nil {
			t.Fatal(err)
		}
		advance(t, s, tn.ID, r.ID, path...)
		return r
	}
	submitted := mk(state.Submitted)
	running := mk(state.Submitted, state.Running)
	cancelling := mk(state.Submitted, state.Running, state.Cancelling)
	done := mk(state.Submitted, state.Running, state.Success)
	alive := mk(state.Submitted, state.Running)
	time.Sleep(5 * time.Millisecond)
	cut := time.Now()
	if err := s.Heartbeat(ctx, tn.ID, alive.ID); err != nil {
		t.Fatal(err)
	}
	n, err := s.ReapFlowRuns(ctx, cut)
	if err != nil || n != 3 {
		t.Fatalf("ReapFlowRuns = %d, %v; want 3", n, err)
	}
	for id, want := range map[string]state.Kind{submitted.ID: state.Scheduled, running.ID: state.Failed, cancelling.ID: state.Cancelled,
		done.ID: state.Success, alive.ID: state.Running} {
		if r, _ := s.FlowRun(ctx, tn.ID, id); r.State != want {
			t.Errorf("run %s: %s, want %s", id, r.State, want)
		}
	}
	if n, _ := s.ReapFlowRuns(ctx, cut); n != 0 {
		t.Errorf("a second reap changed %d runs", n)
	}
}

// advance moves a run (from version 1) through states, failing the test on
// a refused move, and returns its version.
func advance(t *testing.T, s *SQL, tenantID, id string, states ...state.Kind) int {
	t.Helper()
	v := 1
	for _, st := range states {
		var err error
		if v, err = s.SetFlowRunState(context.Background(), tenantID, id, v, st, ""); err != nil {
			t.Fatalf("moving run %s to %s: %v", id, st, err)
		}
	}
	return v
}

// Runs an agent cannot take (labels) do not hide, behind them, the ones it
// can; and the reaper deletes the environments of finished runs.
func TestClaimLooksPastOthersRuns(t *testing.T) { forEachDB(t, testClaimLooksPastOthersRuns) }

func testClaimLooksPastOthersRuns(t *testing.T, s *SQL, _ string) {
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	gpu, _, _ := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "gpu", Digest: "g", Labels: []string{"gpu"}})
	plain, _, _ := s.RegisterFlow(ctx, orchestration.Flow{TenantID: tn.ID, Name: "plain", Digest: "p"})
	for range claimPage + 10 {
		if _, err := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: gpu.ID}); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := s.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: tn.ID, FlowID: plain.ID})
	got, err := s.ClaimFlowRuns(ctx, tn.ID, "cpu-agent", nil, 1)
	if err != nil || len(got) != 1 || got[0].ID != want.ID {
		t.Fatalf("claim behind %d runs of other labels = %v, %v; want the plain run", claimPage+10, got, err)
	}

	k := newKey(t)
	name := ".prefect/runs/" + want.ID + "/env"
	if _, err := s.PutSecret(ctx, tn.ID, name, mustSeal(t, k, tn.ID, name, "{}")); err != nil {
		t.Fatal(err)
	}
	v, _ := s.SetFlowRunState(ctx, tn.ID, want.ID, got[0].Version, state.Running, "")
	if _, err := s.ReapFlowRuns(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Secret(ctx, tn.ID, name); err != nil {
		t.Errorf("a running run's environment was deleted: %v", err)
	}
	if _, err := s.SetFlowRunState(ctx, tn.ID, want.ID, v, state.Failed, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReapFlowRuns(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Secret(ctx, tn.ID, name); !errors.Is(err, ErrNotFound) {
		t.Errorf("a finished run's environment is kept: %v", err)
	}
}

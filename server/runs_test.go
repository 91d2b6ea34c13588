package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/state"
)

// serveRuns serves a real store (tenant "acme") on a loopback port, and
// returns a client of it that does not retry; all closed when t ends.
func serveRuns(t *testing.T) (*servertest.Env, *httptest.Server, *client.Client) {
	t.Helper()
	env := servertest.New(t)
	ts := httptest.NewServer(env.Handler())
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL+"/graphql", client.WithAPIKey(env.Key), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return env, ts, c
}

// The orchestration operations through the Go client against the real
// server: register, create, claim, read the environment, report states and
// logs, cancel; environments never stored in clear.
func TestRunsThroughClient(t *testing.T) {
	ctx := context.Background()
	env, ts, c := serveRuns(t)
	const flowSecret, runSecret = "flow-env-CANARY-1", "run-env-CANARY-2"

	reg := client.FlowRegistration{Name: "etl", Definition: json.RawMessage(`{"tasks":[{"slug":"a-1"}]}`),
		Command: []string{"/srv/flows", "execute"}, Env: map[string]string{"A": flowSecret, "SHARED": "flow"}}
	id1, v1, created, err := c.RegisterFlow(ctx, reg)
	if err != nil || v1 != 1 || !created {
		t.Fatalf("RegisterFlow = %s, %d, %v, %v", id1, v1, created, err)
	}
	if id, v, created, _ := c.RegisterFlow(ctx, reg); id != id1 || v != 1 || created {
		t.Errorf("registering the same flow again: %s v%d created %v; want version 1 kept", id, v, created)
	}
	reg.Labels = []string{"gpu"}
	if _, v, created, _ := c.RegisterFlow(ctx, reg); v != 2 || !created {
		t.Errorf("a changed flow: v%d created %v; want version 2", v, created)
	}
	// One sealed environment per version: none left from the registration
	// that changed nothing.
	metas, _ := env.Store.Secrets(ctx, env.Tenant.ID)
	var flowEnvs int
	for _, m := range metas {
		if strings.HasPrefix(m.Name, ".prefect/flows/") {
			flowEnvs++
		}
	}
	if flowEnvs != 2 {
		t.Errorf("%d sealed flow environments, want 2 (one per version)", flowEnvs)
	}
	flows, err := c.Flows(ctx)
	if err != nil || len(flows) != 1 || flows[0].Version != 2 || flows[0].Labels[0] != "gpu" {
		t.Errorf("Flows = %+v, %v", flows, err)
	}

	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Parameters: map[string]any{"n": 3},
		Env: map[string]string{"B": runSecret, "SHARED": "run"}})
	if err != nil || run.State != state.Scheduled || run.FlowVersion != 2 || string(run.Parameters) != `{"n":3}` {
		t.Fatalf("CreateFlowRun = %+v, %v", run, err)
	}
	if _, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "nope"}); !errors.Is(err, client.ErrRunNotFound) {
		t.Errorf("a run of an unknown flow: %v; want ErrRunNotFound", err)
	}
	if got, _ := c.ClaimFlowRuns(ctx, "agent-1", nil, 5); len(got) != 0 {
		t.Errorf("an agent without the gpu label claimed %v", got)
	}
	got, err := c.ClaimFlowRuns(ctx, "agent-2", []string{"gpu"}, 5)
	if err != nil || len(got) != 1 || got[0].ID != run.ID || got[0].State != state.Submitted || got[0].AgentID != "agent-2" {
		t.Fatalf("ClaimFlowRuns = %+v, %v", got, err)
	}
	runEnv, err := c.FlowRunEnv(ctx, run.ID, "agent-2")
	if err != nil || runEnv["A"] != flowSecret || runEnv["B"] != runSecret || runEnv["SHARED"] != "run" {
		t.Errorf("FlowRunEnv = %v, %v; want the flow's env then the run's", runEnv, err)
	}
	if _, err := c.FlowRunEnv(ctx, run.ID, "agent-1"); err == nil || !strings.Contains(err.Error(), "agent that claimed it") {
		t.Errorf("another agent reads the environment: %v", err)
	}

	v, err := c.SetFlowRunState(ctx, run.ID, got[0].Version, state.Running, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetFlowRunState(ctx, run.ID, got[0].Version, state.Failed, "stale"); !errors.Is(err, client.ErrConflict) {
		t.Errorf("a stale version: %v; want ErrConflict", err)
	}
	if _, err := c.SetFlowRunState(ctx, run.ID, v, state.Pending, ""); err == nil || !strings.Contains(err.Error(), `"Pending" is not one of Scheduled, Submitted, Running, Success, Failed, Cancelling, Cancelled`) {
		t.Errorf("a state no flow run takes: %v", err)
	}
	if err := c.SetTaskRunStates(ctx, run.ID, []client.TaskRun{{ID: "t1", Slug: "a-1", MapIndex: -1, State: state.Success, Message: "ok"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRunLogs(ctx, run.ID, []client.LogLine{{Level: "INFO", Message: "hello", WriterSeq: 1}, {Level: "INFO", TaskSlug: "a-1", Message: "world", WriterSeq: 2}}); err != nil {
		t.Fatal(err)
	}
	// The same lines again (a retry after a lost answer) are not added.
	if err := c.WriteRunLogs(ctx, run.ID, []client.LogLine{{Level: "INFO", TaskSlug: "a-1", Message: "world", WriterSeq: 2}}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { success } }`,
		"variables": map[string]any{"input": map[string]any{"flow_run_id": run.ID, "logs": []any{map[string]any{"level": "INFO", "message": "x", "writer_seq": -1}}}},
	})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+env.Key)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), "writer_seq is -1; it counts from 1") {
			t.Errorf("a negative writer_seq: %s", raw)
		}
	}
	if err := c.Heartbeat(ctx, run.ID); err != nil {
		t.Error(err)
	}
	full, err := c.FlowRun(ctx, run.ID)
	if err != nil || full.State != state.Running || len(full.TaskRuns) != 1 || full.TaskRuns[0].State != state.Success || full.Heartbeat.IsZero() {
		t.Errorf("FlowRun = %+v, %v", full, err)
	}
	lines, err := c.FlowRunLogs(ctx, run.ID, "", 10)
	if err != nil || len(lines) != 2 || lines[1].Message != "world" {
		t.Fatalf("FlowRunLogs = %+v, %v", lines, err)
	}
	if rest, _ := c.FlowRunLogs(ctx, run.ID, lines[0].Seq, 10); len(rest) != 1 {
		t.Errorf("FlowRunLogs after the first = %+v", rest)
	}
	if cancelled, err := c.CancelFlowRun(ctx, run.ID); err != nil || cancelled.State != state.Cancelling {
		t.Errorf("CancelFlowRun = %v, %v", cancelled.State, err)
	}
	// Once the run is over, its own environment is deleted; the flow's stays.
	cur, _ := c.FlowRun(ctx, run.ID)
	if _, err := c.SetFlowRunState(ctx, run.ID, cur.Version, state.Cancelled, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FlowRunEnv(ctx, run.ID, "agent-2"); err == nil {
		t.Error("a finished run's environment can still be read")
	}
	if _, _, err := env.Store.Secret(ctx, env.Tenant.ID, ".prefect/runs/"+run.ID+"/env"); err == nil {
		t.Error("a finished run's own environment is kept")
	}
	if runs, err := c.FlowRuns(ctx, 10, state.Cancelled); err != nil || len(runs) != 1 {
		t.Errorf("FlowRuns(Cancelled) = %v, %v", runs, err)
	}

	// The environments are kept sealed, apart from the secrets people see.
	if names, _ := c.SecretNames(ctx); len(names) != 0 {
		t.Errorf("secret_names lists the server's own: %v", names)
	}
	if err := c.SetSecret(ctx, ".prefect/runs/x/env", "v"); err == nil {
		t.Error("a secret under the server's reserved names was set")
	}
	var all []byte
	ents, _ := os.ReadDir(env.Dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(env.Dir, e.Name()))
		all = append(all, b...)
	}
	for _, v := range []string{flowSecret, runSecret} {
		if bytes.Contains(all, []byte(v)) {
			t.Errorf("the database holds an environment value in clear")
		}
	}
	// Another tenant sees none of it.
	_, keyB, _ := env.AddTenant(t, "globex")
	cb, _ := client.New(ts.URL+"/graphql", client.WithAPIKey(keyB), client.WithRetries(0, 0))
	defer cb.CloseIdleConnections()
	if _, err := cb.FlowRun(ctx, run.ID); !errors.Is(err, client.ErrRunNotFound) {
		t.Errorf("another tenant reads the run: %v", err)
	}
	if _, err := cb.FlowRunEnv(ctx, run.ID, "agent-2"); !errors.Is(err, client.ErrRunNotFound) {
		t.Errorf("another tenant reads the run's env: %v", err)
	}
}

// An agent's state change applies only to a run it claimed: a run another
// agent took over is not settled by the first.
func TestAgentChangesOnlyItsRuns(t *testing.T) {
	ctx := context.Background()
	_, _, c := serveRuns(t)
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "f", Command: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "f"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ClaimFlowRuns(ctx, "agent-B", nil, 1)
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	if _, err := c.SetFlowRunStateAs(ctx, "agent-A", got[0].ID, got[0].Version, state.Failed, "not mine"); !errors.Is(err, client.ErrConflict) {
		t.Errorf("agent A settling agent B's run: %v; want ErrConflict", err)
	}
	if _, err := c.SetFlowRunStateAs(ctx, "agent-B", got[0].ID, got[0].Version, state.Failed, "mine"); err != nil {
		t.Errorf("agent B settling its own run: %v", err)
	}
}

// A create_flow_run retried with the same id makes one run.
func TestCreateFlowRunIsIdempotent(t *testing.T) {
	ctx := context.Background()
	env, ts, c := serveRuns(t)
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "f", Command: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{srv: ts}
	q := `mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }`
	vars := map[string]any{"input": map[string]any{"id": "6f1c1a7e-2b7d-4c49-9a3e-0a4d7d3f2b11", "flow_name": "f"}}
	for range 3 {
		if _, out := fx.gql(t, env.Key, q, vars, true); len(out.Errors) > 0 {
			t.Fatal(out.messages())
		}
	}
	if runs, err := c.FlowRuns(ctx, 10); err != nil || len(runs) != 1 {
		t.Errorf("three requests with one id made %d runs (%v)", len(runs), err)
	}
	// At the same time too (a retry while the first request is slow).
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 8 {
		id := fmt.Sprintf("6f1c1a7e-2b7d-4c49-9a3e-0a4d7d3f2b%02d", 20+i/4)
		for range 4 {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"input": map[string]any{"id": id, "flow_name": "f"}}})
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+env.Key)
				resp, err := ts.Client().Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				defer resp.Body.Close()
				var out gqlResponse
				if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Errors) > 0 {
					failed.Add(1)
					t.Log(out.messages())
				}
			})
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of 32 concurrent identical requests failed", failed.Load())
	}
	if runs, err := c.FlowRuns(ctx, 10); err != nil || len(runs) != 3 {
		t.Errorf("concurrent requests with two ids made %d runs in all, want 3 (%v)", len(runs), err)
	}
}

// gqlOn posts one GraphQL operation with key to ts, as any client would,
// and returns the answer.
func gqlOn(t *testing.T, ts *httptest.Server, key, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The wire carries states by their Prefect names; a name that is not a
// state (or, for a flow run, not one of a flow run's) is refused, the
// answer naming it and the valid ones.
func TestRunStateNames(t *testing.T) {
	ctx := context.Background()
	env, ts, c := serveRuns(t)
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Command: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		setRun   = `mutation($input: set_flow_run_state_input!) { set_flow_run_state(input: $input) { version } }`
		setTasks = `mutation($input: set_task_run_states_input!) { set_task_run_states(input: $input) { success } }`
		list     = `query($state: String) { flow_runs(state: $state) { id state } }`
	)
	flowRunStates := "Scheduled, Submitted, Running, Success, Failed, Cancelling, Cancelled"
	tests := []struct {
		name, query string
		vars        map[string]any
		want        []string // in the error; none: no error
	}{
		{"run state unknown", setRun, map[string]any{"input": map[string]any{"id": run.ID, "version": 1, "state": "Exploded"}},
			[]string{`"Exploded"`, flowRunStates}},
		{"run state in lower case", setRun, map[string]any{"input": map[string]any{"id": run.ID, "version": 1, "state": "submitted"}},
			[]string{`"submitted"`, flowRunStates}},
		{"run state a task's", setRun, map[string]any{"input": map[string]any{"id": run.ID, "version": 1, "state": "TriggerFailed"}},
			[]string{`"TriggerFailed"`, flowRunStates}},
		{"task state unknown", setTasks, map[string]any{"input": map[string]any{"flow_run_id": run.ID,
			"task_runs": []any{map[string]any{"id": "t", "slug": "a-1", "map_index": -1, "state": "Exploded"}}}},
			[]string{"task run 0", `"Exploded"`, "Pending", "TriggerFailed", "ValidationFailed"}},
		{"task state Prefect's", setTasks, map[string]any{"input": map[string]any{"flow_run_id": run.ID,
			"task_runs": []any{map[string]any{"id": "t", "slug": "a-1", "map_index": -1, "state": "ValidationFailed"}}}}, nil},
		{"filter unknown", list, map[string]any{"state": "Done"}, []string{`"Done"`, flowRunStates}},
		{"filter Scheduled", list, map[string]any{"state": "Scheduled"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := gqlOn(t, ts, env.Key, tc.query, tc.vars)
			if len(tc.want) == 0 {
				if len(out.Errors) > 0 {
					t.Errorf("refused: %s", out.messages())
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(out.messages(), w) {
					t.Errorf("errors %q do not say %s", out.messages(), w)
				}
			}
		})
	}
	// What the server answers: the names, as Prefect writes them.
	out := gqlOn(t, ts, env.Key, list, map[string]any{"state": "Scheduled"})
	if got := string(out.Data["flow_runs"]); got != `[{"id":"`+run.ID+`","state":"Scheduled"}]` {
		t.Errorf("flow_runs = %s", got)
	}
	got, err := c.FlowRun(ctx, run.ID)
	if err != nil || got.State != state.Scheduled || len(got.TaskRuns) != 1 || got.TaskRuns[0].State != state.ValidationFailed {
		t.Errorf("FlowRun = %+v, %v; want Scheduled with a ValidationFailed task run", got, err)
	}
}

// FlowRuns of several states asks for each and merges the answers, newest
// first, to the limit.
func TestFlowRunsOfStates(t *testing.T) {
	ctx := context.Background()
	_, _, c := serveRuns(t)
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Command: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	var ids []string // oldest first
	for range 5 {
		run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	// Runs 1 and 3 cancelled; 0, 2 and 4 still scheduled.
	for _, i := range []int{1, 3} {
		if _, err := c.CancelFlowRun(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		in    []state.Kind
		want  []int // indexes into ids, newest first
	}{
		{10, nil, []int{4, 3, 2, 1, 0}},
		{10, []state.Kind{state.Cancelled}, []int{3, 1}},
		{10, []state.Kind{state.Scheduled, state.Cancelled}, []int{4, 3, 2, 1, 0}},
		{3, []state.Kind{state.Cancelled, state.Scheduled}, []int{4, 3, 2}},
		{10, []state.Kind{state.Cancelled, state.Cancelled}, []int{3, 1}},
		{10, []state.Kind{state.Running}, nil},
	}
	for _, tc := range tests {
		runs, err := c.FlowRuns(ctx, tc.limit, tc.in...)
		if err != nil {
			t.Errorf("FlowRuns(%d, %v): %v", tc.limit, tc.in, err)
			continue
		}
		var got []int
		for _, r := range runs {
			got = append(got, slices.Index(ids, r.ID))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("FlowRuns(%d, %v) = runs %v, want %v", tc.limit, tc.in, got, tc.want)
		}
	}
}

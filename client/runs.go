package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/server/api"
)

// The orchestration API: flow programs register flows and report runs,
// agents claim and launch runs, people create, watch and cancel them. See
// package server for the operations; every one needs an API key of the
// tenant.

// Flow run states, as the server names them in FlowRun.State (they are
// package api's, the server's): Scheduled runs wait for an agent,
// Submitted ones were claimed by one, Cancelling ones were asked to stop;
// Success, Failed and Cancelled are final.
const (
	RunScheduled  = api.RunScheduled
	RunSubmitted  = api.RunSubmitted
	RunRunning    = api.RunRunning
	RunSuccess    = api.RunSuccess
	RunFailed     = api.RunFailed
	RunCancelling = api.RunCancelling
	RunCancelled  = api.RunCancelled
)

// RunFinished reports whether a run in state s is over for good.
func RunFinished(s string) bool { return api.RunFinished(s) }

// ErrConflict is matched by the error of a state change the server refused
// because the run changed since the version given: read it again.
var ErrConflict = errors.New("the flow run changed since it was read")

// ErrRunNotFound is matched by the error for a flow or flow run the tenant
// does not have.
var ErrRunNotFound = errors.New("no such flow or flow run")

// A FlowRegistration is what a flow program registers: one version of a
// flow, which the server numbers.
type FlowRegistration struct {
	Name       string
	Definition json.RawMessage   // the flow's tasks, edges and parameters
	Labels     []string          // an agent runs it only if it has every one
	Command    []string          // the argv that executes one run
	WorkingDir string            // "" for the agent's
	Env        map[string]string // the run config's environment; kept sealed
}

// A Flow is a registered flow version.
type Flow struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Version    int             `json:"version"`
	Labels     []string        `json:"labels"`
	Command    []string        `json:"command"`
	WorkingDir string          `json:"working_dir"`
	Definition json.RawMessage `json:"definition"`
	Created    time.Time       `json:"created"`
}

// A FlowRun is a run as the server keeps it.
type FlowRun struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	FlowID      string          `json:"flow_id"`
	FlowName    string          `json:"flow_name"`
	FlowVersion int             `json:"flow_version"`
	Parameters  json.RawMessage `json:"parameters"`
	Labels      []string        `json:"labels"`
	State       string          `json:"state"`
	Message     string          `json:"message"`
	Version     int             `json:"version"`
	AgentID     string          `json:"agent_id"`
	Heartbeat   time.Time       `json:"heartbeat"`
	Created     time.Time       `json:"created"`
	Updated     time.Time       `json:"updated"`
	TaskRuns    []TaskRun       `json:"task_runs"` // filled by FlowRun only
}

// A TaskRun is the latest state of one task run.
type TaskRun struct {
	ID       string    `json:"id"`
	Slug     string    `json:"slug"`
	MapIndex int       `json:"map_index"`
	State    string    `json:"state"`
	Message  string    `json:"message"`
	Updated  time.Time `json:"updated"`
	// Seq, when set (by the one writer of the run's task states, growing),
	// orders a task run's states where clocks could not.
	Seq int `json:"seq,omitempty"`
}

// A LogLine is one line of a run's log.
type LogLine struct {
	Seq      string    `json:"seq"` // a cursor for FlowRunLogs
	Time     time.Time `json:"time"`
	Level    string    `json:"level"`
	TaskSlug string    `json:"task_slug"`
	Message  string    `json:"message"`
}

// A NewFlowRun asks for a run of a flow: by FlowName (its newest version)
// or FlowID (a version).
type NewFlowRun struct {
	FlowName   string
	FlowID     string
	Name       string
	Parameters map[string]any
	Env        map[string]string // extra environment for this run; kept sealed
}

const runFields = `id name flow_id flow_name flow_version parameters labels state message version agent_id heartbeat created updated`

// envMask masks the client's key and the values of env in messages.
func (c *Client) envMask(env map[string]string) *redact.Masker {
	m := redact.New()
	m.Add(c.key)
	for _, v := range env {
		m.Add(v)
	}
	return m
}

// decode reads data[field] into out.
func decode(data map[string]json.RawMessage, field string, out any) error {
	raw := data[field]
	if isNull(raw) {
		return fmt.Errorf("the API's %s is null", field)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("the API's %s has an unexpected form", field)
	}
	return nil
}

// RegisterFlow registers f and returns the version the server keeps:
// a new one, or the newest if it was the same flow (created false).
func (c *Client) RegisterFlow(ctx context.Context, f FlowRegistration) (id string, version int, created bool, err error) {
	fail := func(err error) (string, int, bool, error) {
		return "", 0, false, fmt.Errorf("registering flow %q on %s: %w", f.Name, c, err)
	}
	def := f.Definition
	if def == nil {
		def = json.RawMessage("{}")
	}
	in := map[string]any{"name": f.Name, "definition": def, "labels": nonNilList(f.Labels), "command": f.Command, "working_dir": f.WorkingDir}
	if len(f.Env) > 0 {
		in["env"] = f.Env
	}
	data, err := c.do(ctx, `mutation($input: register_flow_input!) { register_flow(input: $input) { id version created } }`,
		map[string]any{"input": in}, c.envMask(f.Env))
	if err != nil {
		return fail(err)
	}
	var p struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
		Created bool   `json:"created"`
	}
	if err := decode(data, "register_flow", &p); err != nil {
		return fail(err)
	}
	return p.ID, p.Version, p.Created, nil
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Flows lists the newest version of each flow.
func (c *Client) Flows(ctx context.Context) ([]Flow, error) {
	data, err := c.do(ctx, `query { flows { id name version labels command working_dir definition created } }`, nil, c.mask)
	if err != nil {
		return nil, fmt.Errorf("listing flows on %s: %w", c, err)
	}
	var fl []Flow
	if err := decode(data, "flows", &fl); err != nil {
		return nil, fmt.Errorf("listing flows on %s: %w", c, err)
	}
	return fl, nil
}

// CreateFlowRun schedules a run.
func (c *Client) CreateFlowRun(ctx context.Context, r NewFlowRun) (FlowRun, error) {
	fail := func(err error) (FlowRun, error) {
		return FlowRun{}, fmt.Errorf("creating a run of flow %q on %s: %w", r.FlowName+r.FlowID, c, err)
	}
	// The run's ID is made here, so that a retry of this request finds
	// the run the first attempt made instead of making another.
	in := map[string]any{"id": uuid.NewString()}
	if r.FlowName != "" {
		in["flow_name"] = r.FlowName
	}
	if r.FlowID != "" {
		in["flow_id"] = r.FlowID
	}
	if r.Name != "" {
		in["name"] = r.Name
	}
	if r.Parameters != nil {
		in["parameters"] = r.Parameters
	}
	if len(r.Env) > 0 {
		in["env"] = r.Env
	}
	data, err := c.do(ctx, `mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { `+runFields+` } }`,
		map[string]any{"input": in}, c.envMask(r.Env))
	if err != nil {
		return fail(err)
	}
	var run FlowRun
	if err := decode(data, "create_flow_run", &run); err != nil {
		return fail(err)
	}
	return run, nil
}

// FlowRun returns a run with its task runs.
func (c *Client) FlowRun(ctx context.Context, id string) (FlowRun, error) {
	data, err := c.do(ctx, `query($id: String!) { flow_run(id: $id) { `+runFields+` task_runs { id slug map_index state message updated } } }`,
		map[string]any{"id": id}, c.mask)
	if err != nil {
		return FlowRun{}, fmt.Errorf("reading flow run %s on %s: %w", id, c, err)
	}
	var run FlowRun
	if err := decode(data, "flow_run", &run); err != nil {
		return FlowRun{}, fmt.Errorf("reading flow run %s on %s: %w", id, c, err)
	}
	return run, nil
}

// FlowRuns lists the latest limit runs (1-500), newest first, of the given
// state unless it is "".
func (c *Client) FlowRuns(ctx context.Context, state string, limit int) ([]FlowRun, error) {
	vars := map[string]any{"limit": limit}
	if state != "" {
		vars["state"] = state
	}
	data, err := c.do(ctx, `query($state: String, $limit: Int) { flow_runs(state: $state, limit: $limit) { `+runFields+` } }`, vars, c.mask)
	if err != nil {
		return nil, fmt.Errorf("listing flow runs on %s: %w", c, err)
	}
	var runs []FlowRun
	if err := decode(data, "flow_runs", &runs); err != nil {
		return nil, fmt.Errorf("listing flow runs on %s: %w", c, err)
	}
	return runs, nil
}

// FlowRunEnv returns a run's environment (its flow's run-config env, then
// its own), for agentID, the agent that claimed it, while the run is
// Submitted; anyone else is refused. The server audits the read.
func (c *Client) FlowRunEnv(ctx context.Context, id, agentID string) (map[string]string, error) {
	data, err := c.do(ctx, `query($id: String!, $agent: String!) { flow_run_env(id: $id, agent_id: $agent) }`,
		map[string]any{"id": id, "agent": agentID}, c.mask)
	if err != nil {
		return nil, fmt.Errorf("reading the environment of flow run %s on %s: %w", id, c, err)
	}
	var env map[string]string
	if err := decode(data, "flow_run_env", &env); err != nil {
		return nil, fmt.Errorf("reading the environment of flow run %s on %s: %w", id, c, err)
	}
	return env, nil
}

// ClaimFlowRuns takes up to n scheduled runs whose flows' labels are all
// among labels, for agentID; no other agent gets them.
func (c *Client) ClaimFlowRuns(ctx context.Context, agentID string, labels []string, n int) ([]FlowRun, error) {
	in := map[string]any{"agent_id": agentID, "labels": nonNilList(labels), "limit": n}
	data, err := c.do(ctx, `mutation($input: claim_flow_runs_input!) { claim_flow_runs(input: $input) { `+runFields+` } }`,
		map[string]any{"input": in}, c.mask)
	if err != nil {
		return nil, fmt.Errorf("claiming flow runs on %s: %w", c, err)
	}
	var runs []FlowRun
	if err := decode(data, "claim_flow_runs", &runs); err != nil {
		return nil, fmt.Errorf("claiming flow runs on %s: %w", c, err)
	}
	return runs, nil
}

// SetFlowRunState sets a run's state if it is still at version, and
// returns its new version; otherwise the error matches ErrConflict.
func (c *Client) SetFlowRunState(ctx context.Context, id string, version int, state, message string) (int, error) {
	return c.SetFlowRunStateAs(ctx, "", id, version, state, message)
}

// SetFlowRunStateAs is SetFlowRunState for an agent: the run is changed
// only if agentID claimed it (else the error matches ErrConflict), so that
// an agent never settles a run another agent took over.
func (c *Client) SetFlowRunStateAs(ctx context.Context, agentID, id string, version int, state, message string) (int, error) {
	in := map[string]any{"id": id, "version": version, "state": state, "message": message}
	if agentID != "" {
		in["agent_id"] = agentID
	}
	data, err := c.do(ctx, `mutation($input: set_flow_run_state_input!) { set_flow_run_state(input: $input) { version } }`,
		map[string]any{"input": in}, c.mask)
	if err != nil {
		return 0, fmt.Errorf("setting flow run %s %s on %s: %w", id, state, c, err)
	}
	var p struct {
		Version int `json:"version"`
	}
	if err := decode(data, "set_flow_run_state", &p); err != nil {
		return 0, fmt.Errorf("setting flow run %s %s on %s: %w", id, state, c, err)
	}
	return p.Version, nil
}

// SetTaskRunStates records task run states of a run; a state older than
// the one the server has is ignored.
func (c *Client) SetTaskRunStates(ctx context.Context, runID string, trs []TaskRun) error {
	list := make([]map[string]any, len(trs))
	for i, t := range trs {
		list[i] = map[string]any{"id": t.ID, "slug": t.Slug, "map_index": t.MapIndex, "state": t.State, "message": t.Message}
		if t.Seq > 0 {
			list[i]["seq"] = t.Seq
		}
		if !t.Updated.IsZero() {
			list[i]["time"] = t.Updated.UTC().Format(time.RFC3339Nano)
		}
	}
	data, err := c.do(ctx, `mutation($input: set_task_run_states_input!) { set_task_run_states(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"flow_run_id": runID, "task_runs": list}}, c.mask)
	if err != nil {
		return fmt.Errorf("reporting task runs of flow run %s to %s: %w", runID, c, err)
	}
	if !succeeded(data, "set_task_run_states") {
		return fmt.Errorf("reporting task runs of flow run %s to %s: the API did not confirm", runID, c)
	}
	return nil
}

// WriteRunLogs appends lines to a run's log. Lines should come redacted
// (the runner's are).
func (c *Client) WriteRunLogs(ctx context.Context, runID string, lines []LogLine) error {
	list := make([]map[string]any, len(lines))
	for i, l := range lines {
		list[i] = map[string]any{"level": l.Level, "task_slug": l.TaskSlug, "message": l.Message}
		if !l.Time.IsZero() {
			list[i]["time"] = l.Time.UTC().Format(time.RFC3339Nano)
		}
	}
	data, err := c.do(ctx, `mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"flow_run_id": runID, "logs": list}}, c.mask)
	if err != nil {
		return fmt.Errorf("writing the log of flow run %s to %s: %w", runID, c, err)
	}
	if !succeeded(data, "write_run_logs") {
		return fmt.Errorf("writing the log of flow run %s to %s: the API did not confirm", runID, c)
	}
	return nil
}

// FlowRunLogs returns up to limit (1-1000) lines of a run's log after the
// line whose Seq is after ("" for the start).
func (c *Client) FlowRunLogs(ctx context.Context, id, after string, limit int) ([]LogLine, error) {
	vars := map[string]any{"id": id, "limit": limit}
	if after != "" {
		vars["after"] = after
	}
	data, err := c.do(ctx, `query($id: String!, $after: String, $limit: Int) { flow_run_logs(id: $id, after: $after, limit: $limit) { seq time level task_slug message } }`,
		vars, c.mask)
	if err != nil {
		return nil, fmt.Errorf("reading the log of flow run %s on %s: %w", id, c, err)
	}
	var lines []LogLine
	if err := decode(data, "flow_run_logs", &lines); err != nil {
		return nil, fmt.Errorf("reading the log of flow run %s on %s: %w", id, c, err)
	}
	return lines, nil
}

// Heartbeat tells the server a run is alive.
func (c *Client) Heartbeat(ctx context.Context, runID string) error {
	data, err := c.do(ctx, `mutation($id: String!) { heartbeat(flow_run_id: $id) { success } }`, map[string]any{"id": runID}, c.mask)
	if err != nil {
		return fmt.Errorf("heartbeat of flow run %s to %s: %w", runID, c, err)
	}
	if !succeeded(data, "heartbeat") {
		return fmt.Errorf("heartbeat of flow run %s to %s: the API did not confirm", runID, c)
	}
	return nil
}

// CancelFlowRun asks a run to stop: a scheduled run is Cancelled at once,
// a running one Cancelling until its agent stops it.
func (c *Client) CancelFlowRun(ctx context.Context, id string) (FlowRun, error) {
	data, err := c.do(ctx, `mutation($id: String!) { cancel_flow_run(id: $id) { `+runFields+` } }`, map[string]any{"id": id}, c.mask)
	if err != nil {
		return FlowRun{}, fmt.Errorf("cancelling flow run %s on %s: %w", id, c, err)
	}
	var run FlowRun
	if err := decode(data, "cancel_flow_run", &run); err != nil {
		return FlowRun{}, fmt.Errorf("cancelling flow run %s on %s: %w", id, c, err)
	}
	return run, nil
}

// Flow returns the flow version with the given ID.
func (c *Client) Flow(ctx context.Context, id string) (Flow, error) {
	data, err := c.do(ctx, `query($id: String!) { flow(id: $id) { id name version labels command working_dir definition created } }`,
		map[string]any{"id": id}, c.mask)
	if err != nil {
		return Flow{}, fmt.Errorf("reading flow %s on %s: %w", id, c, err)
	}
	var f Flow
	if err := decode(data, "flow", &f); err != nil {
		return Flow{}, fmt.Errorf("reading flow %s on %s: %w", id, c, err)
	}
	return f, nil
}

// FlowRunState returns a run's state and its version, without its task
// runs: what an agent polls.
func (c *Client) FlowRunState(ctx context.Context, id string) (state string, version int, err error) {
	data, err := c.do(ctx, `query($id: String!) { flow_run(id: $id) { state version } }`, map[string]any{"id": id}, c.mask)
	if err != nil {
		return "", 0, fmt.Errorf("reading flow run %s on %s: %w", id, c, err)
	}
	var r struct {
		State   string `json:"state"`
		Version int    `json:"version"`
	}
	if err := decode(data, "flow_run", &r); err != nil {
		return "", 0, fmt.Errorf("reading flow run %s on %s: %w", id, c, err)
	}
	return r.State, r.Version, nil
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/state"
)

// The orchestration API: flow programs register flows and report runs,
// agents claim and launch runs, people create, watch and cancel them; the
// package doc tells a run's way through them. Every operation needs an
// API key of the tenant. States are package state's kinds: a flow run is
// Scheduled, Submitted, Running, Success, Failed, Cancelling or Cancelled
// (state.Kind.IsFinished tells the last three), a task run in any kind.

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
	// Schedule is the JSON of a schedule.Schedule (its MarshalJSON), or
	// nil: the server's scheduler creates runs of it. The server refuses
	// one that does not parse, saying why.
	Schedule json.RawMessage
	// ScheduleInactive registers the schedule turned off (Prefect's
	// set_schedule_active=False): no runs are created until
	// SetScheduleActive turns it on. When false, the server decides: a
	// new version with a schedule is active, and registering the flow
	// unchanged leaves its schedule on or off as it was (a schedule turned
	// off with SetScheduleActive stays off).
	ScheduleInactive bool
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
	// Schedule is the version's schedule's JSON (package schedule), or
	// nil (JSON null) for none.
	Schedule json.RawMessage `json:"schedule"`
	// ScheduleActive reports whether the server's scheduler creates the
	// runs of this version's schedule.
	ScheduleActive bool `json:"schedule_active"`
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
	State       state.Kind      `json:"state"`
	Message     string          `json:"message"`
	Version     int             `json:"version"`
	AgentID     string          `json:"agent_id"`
	Heartbeat   time.Time       `json:"heartbeat"`
	Created     time.Time       `json:"created"`
	Updated     time.Time       `json:"updated"`
	// ScheduledStart is when agents may start the run (Prefect's
	// scheduled_start_time): a Scheduled run is claimed only from then on.
	ScheduledStart time.Time `json:"scheduled_start_time"`
	// AutoScheduled reports whether the server's scheduler created it.
	AutoScheduled bool      `json:"auto_scheduled"`
	TaskRuns      []TaskRun `json:"task_runs"` // filled by FlowRun only
}

// A TaskRun is the latest state of one task run.
type TaskRun struct {
	ID       string     `json:"id"`
	Slug     string     `json:"slug"`
	MapIndex int        `json:"map_index"`
	State    state.Kind `json:"state"`
	Message  string     `json:"message"`
	Updated  time.Time  `json:"updated"`
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
	// WriterSeq, when not 0, is the line's number in the run's log,
	// growing from 1, given by the run's one writer (the flow program that
	// set it Running): WriteRunLogs sent again after a lost answer does not
	// add the line twice. Not read back.
	WriterSeq int `json:"-"`
}

// A NewFlowRun asks for a run of a flow: by FlowName (its newest version)
// or FlowID (a version).
type NewFlowRun struct {
	FlowName   string
	FlowID     string
	Name       string
	Parameters map[string]any
	Env        map[string]string // extra environment for this run; kept sealed
	// ScheduledStart is when agents may start it; the zero time for now.
	ScheduledStart time.Time
}

const runFields = `id name flow_id flow_name flow_version parameters labels state message version agent_id heartbeat created updated
	scheduled_start_time auto_scheduled`

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

// call sends one operation, masking m in errors, and decodes data[field]
// into a T; its errors say what was being done (what) and where.
func call[T any](ctx context.Context, c *Client, what, query string, vars any, m *redact.Masker, field string) (T, error) {
	var out T
	data, err := c.do(ctx, query, vars, m)
	if err == nil {
		err = decode(data, field, &out)
	}
	if err != nil {
		return out, fmt.Errorf("%s on %s: %w", what, c, err)
	}
	return out, nil
}

// confirmed is a mutation's { success } payload.
type confirmed struct {
	Success bool `json:"success"`
}

// confirm sends a mutation answering { success } and fails unless the
// server confirms it.
func confirm(ctx context.Context, c *Client, what, query string, vars any, field string) error {
	p, err := call[confirmed](ctx, c, what, query, vars, c.mask, field)
	if err == nil && !p.Success {
		err = fmt.Errorf("%s on %s: the API did not confirm", what, c)
	}
	return err
}

// RegisterFlow registers f and returns the version the server keeps:
// a new one, or the newest if it was the same flow (created false).
func (c *Client) RegisterFlow(ctx context.Context, f FlowRegistration) (id string, version int, created bool, err error) {
	def := f.Definition
	if def == nil {
		def = json.RawMessage("{}")
	}
	in := map[string]any{"name": f.Name, "definition": def, "labels": nonNilList(f.Labels), "command": f.Command, "working_dir": f.WorkingDir}
	if len(f.Env) > 0 {
		in["env"] = f.Env
	}
	if f.Schedule != nil {
		in["schedule"] = f.Schedule
		if f.ScheduleInactive {
			in["set_schedule_active"] = false
		}
	}
	p, err := call[struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
		Created bool   `json:"created"`
	}](ctx, c, fmt.Sprintf("registering flow %q", f.Name),
		`mutation($input: register_flow_input!) { register_flow(input: $input) { id version created } }`,
		map[string]any{"input": in}, c.envMask(f.Env), "register_flow")
	return p.ID, p.Version, p.Created, err
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

const flowFields = `id name version labels command working_dir definition created schedule schedule_active`

// Flows lists the newest version of each flow.
func (c *Client) Flows(ctx context.Context) ([]Flow, error) {
	return call[[]Flow](ctx, c, "listing flows", `query { flows { `+flowFields+` } }`, nil, c.mask, "flows")
}

// Flow returns the flow version with the given ID.
func (c *Client) Flow(ctx context.Context, id string) (Flow, error) {
	return call[Flow](ctx, c, "reading flow "+id, `query($id: String!) { flow(id: $id) { `+flowFields+` } }`,
		map[string]any{"id": id}, c.mask, "flow")
}

// CreateFlowRun schedules a run.
func (c *Client) CreateFlowRun(ctx context.Context, r NewFlowRun) (FlowRun, error) {
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
	if !r.ScheduledStart.IsZero() {
		in["scheduled_start_time"] = r.ScheduledStart.UTC().Format(time.RFC3339Nano)
	}
	return call[FlowRun](ctx, c, fmt.Sprintf("creating a run of flow %q", r.FlowName+r.FlowID),
		`mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { `+runFields+` } }`,
		map[string]any{"input": in}, c.envMask(r.Env), "create_flow_run")
}

// FlowRun returns a run with its task runs.
func (c *Client) FlowRun(ctx context.Context, id string) (FlowRun, error) {
	return call[FlowRun](ctx, c, "reading flow run "+id,
		`query($id: String!) { flow_run(id: $id) { `+runFields+` task_runs { id slug map_index state message updated } } }`,
		map[string]any{"id": id}, c.mask, "flow_run")
}

// FlowRunState returns a run's state and its version, without its task
// runs: what an agent polls.
func (c *Client) FlowRunState(ctx context.Context, id string) (st state.Kind, version int, err error) {
	r, err := call[struct {
		State   state.Kind `json:"state"`
		Version int        `json:"version"`
	}](ctx, c, "reading flow run "+id, `query($id: String!) { flow_run(id: $id) { state version } }`,
		map[string]any{"id": id}, c.mask, "flow_run")
	return r.State, r.Version, err
}

// FlowRuns lists the latest limit runs (1-500), newest first: of every
// state, or, given states, of those only. The server filters by one state
// a request: several states cost one request each.
func (c *Client) FlowRuns(ctx context.Context, limit int, in ...state.Kind) ([]FlowRun, error) {
	const query = `query($state: String, $limit: Int) { flow_runs(state: $state, limit: $limit) { ` + runFields + ` } }`
	if len(in) == 0 {
		return call[[]FlowRun](ctx, c, "listing flow runs", query, map[string]any{"limit": limit}, c.mask, "flow_runs")
	}
	var all []FlowRun
	for i, k := range in {
		if slices.Contains(in[:i], k) {
			continue
		}
		runs, err := call[[]FlowRun](ctx, c, "listing flow runs "+k.String(), query,
			map[string]any{"limit": limit, "state": k.String()}, c.mask, "flow_runs")
		if err != nil {
			return nil, err
		}
		all = append(all, runs...)
	}
	// The server's order: newest first, then by ID.
	slices.SortFunc(all, func(a, b FlowRun) int {
		if n := b.Created.Compare(a.Created); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	return all[:min(len(all), max(limit, 0))], nil
}

// FlowRunEnv returns a run's environment (its flow's run-config env, then
// its own), for agentID, the agent that claimed it, while the run is
// Submitted; anyone else is refused. The server audits the read.
func (c *Client) FlowRunEnv(ctx context.Context, id, agentID string) (map[string]string, error) {
	return call[map[string]string](ctx, c, "reading the environment of flow run "+id,
		`query($id: String!, $agent: String!) { flow_run_env(id: $id, agent_id: $agent) }`,
		map[string]any{"id": id, "agent": agentID}, c.mask, "flow_run_env")
}

// ClaimFlowRuns takes up to n scheduled runs whose flows' labels are all
// among labels, for agentID; no other agent gets them.
func (c *Client) ClaimFlowRuns(ctx context.Context, agentID string, labels []string, n int) ([]FlowRun, error) {
	in := map[string]any{"agent_id": agentID, "labels": nonNilList(labels), "limit": n}
	return call[[]FlowRun](ctx, c, "claiming flow runs",
		`mutation($input: claim_flow_runs_input!) { claim_flow_runs(input: $input) { `+runFields+` } }`,
		map[string]any{"input": in}, c.mask, "claim_flow_runs")
}

// SetFlowRunState sets a run's state to to if it is still at version, and
// returns its new version; otherwise the error matches ErrConflict. The
// server refuses a state that is not a flow run's, and the moves the
// package doc does not show (a finished run never changes).
func (c *Client) SetFlowRunState(ctx context.Context, id string, version int, to state.Kind, message string) (int, error) {
	return c.SetFlowRunStateAs(ctx, "", id, version, to, message)
}

// SetFlowRunStateAs is SetFlowRunState for an agent: the run is changed
// only if agentID claimed it (else the error matches ErrConflict), so that
// an agent never settles a run another agent took over.
func (c *Client) SetFlowRunStateAs(ctx context.Context, agentID, id string, version int, to state.Kind, message string) (int, error) {
	in := map[string]any{"id": id, "version": version, "state": to.String(), "message": message}
	if agentID != "" {
		in["agent_id"] = agentID
	}
	p, err := call[struct {
		Version int `json:"version"`
	}](ctx, c, fmt.Sprintf("setting flow run %s %v", id, to),
		`mutation($input: set_flow_run_state_input!) { set_flow_run_state(input: $input) { version } }`,
		map[string]any{"input": in}, c.mask, "set_flow_run_state")
	return p.Version, err
}

// SetTaskRunStates records task run states of a run; a state older than
// the one the server has is ignored.
func (c *Client) SetTaskRunStates(ctx context.Context, runID string, trs []TaskRun) error {
	list := make([]map[string]any, len(trs))
	for i, t := range trs {
		list[i] = map[string]any{"id": t.ID, "slug": t.Slug, "map_index": t.MapIndex, "state": t.State.String(), "message": t.Message}
		if t.Seq > 0 {
			list[i]["seq"] = t.Seq
		}
		if !t.Updated.IsZero() {
			list[i]["time"] = t.Updated.UTC().Format(time.RFC3339Nano)
		}
	}
	return confirm(ctx, c, "reporting task runs of flow run "+runID,
		`mutation($input: set_task_run_states_input!) { set_task_run_states(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"flow_run_id": runID, "task_runs": list}}, "set_task_run_states")
}

// WriteRunLogs appends lines to a run's log. Lines should come redacted
// (the runner's are).
func (c *Client) WriteRunLogs(ctx context.Context, runID string, lines []LogLine) error {
	list := make([]map[string]any, len(lines))
	for i, l := range lines {
		list[i] = map[string]any{"level": l.Level, "task_slug": l.TaskSlug, "message": l.Message}
		if l.WriterSeq > 0 {
			list[i]["writer_seq"] = l.WriterSeq
		}
		if !l.Time.IsZero() {
			list[i]["time"] = l.Time.UTC().Format(time.RFC3339Nano)
		}
	}
	return confirm(ctx, c, "writing the log of flow run "+runID,
		`mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"flow_run_id": runID, "logs": list}}, "write_run_logs")
}

// FlowRunLogs returns up to limit (1-1000) lines of a run's log after the
// line whose Seq is after ("" for the start).
func (c *Client) FlowRunLogs(ctx context.Context, id, after string, limit int) ([]LogLine, error) {
	vars := map[string]any{"id": id, "limit": limit}
	if after != "" {
		vars["after"] = after
	}
	return call[[]LogLine](ctx, c, "reading the log of flow run "+id,
		`query($id: String!, $after: String, $limit: Int) { flow_run_logs(id: $id, after: $after, limit: $limit) { seq time level task_slug message } }`,
		vars, c.mask, "flow_run_logs")
}

// Heartbeat tells the server a run is alive.
func (c *Client) Heartbeat(ctx context.Context, runID string) error {
	return confirm(ctx, c, "heartbeat of flow run "+runID, `mutation($id: String!) { heartbeat(flow_run_id: $id) { success } }`,
		map[string]any{"id": runID}, "heartbeat")
}

// CancelFlowRun asks a run to stop: a scheduled run is Cancelled at once,
// a running one Cancelling until its agent stops it.
func (c *Client) CancelFlowRun(ctx context.Context, id string) (FlowRun, error) {
	return call[FlowRun](ctx, c, "cancelling flow run "+id, `mutation($id: String!) { cancel_flow_run(id: $id) { `+runFields+` } }`,
		map[string]any{"id": id}, c.mask, "cancel_flow_run")
}

// SetScheduleActive turns the schedule of the flow name on (the server's
// scheduler creates its runs) or off (the Scheduled runs it created that
// no agent claimed are deleted): Prefect's set_schedule_active and
// set_schedule_inactive. The error matches ErrRunNotFound for a flow the
// server does not have.
func (c *Client) SetScheduleActive(ctx context.Context, flowName string, active bool) error {
	op := "set_schedule_inactive"
	if active {
		op = "set_schedule_active"
	}
	return confirm(ctx, c, fmt.Sprintf("%s of flow %q", op, flowName),
		`mutation($input: set_schedule_active_input!) { `+op+`(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"flow_name": flowName}}, op)
}

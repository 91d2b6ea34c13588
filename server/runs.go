package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/state"
)

// The orchestration of flow runs: flow programs register their flows and
// report their runs; agents claim scheduled runs and launch them; people
// create, watch and cancel runs. Any API key of a tenant may do all of it.
//
// Environments (a flow's run-config env, a run's extra env) may hold
// secrets: they are sealed like secrets, under the reserved names
// .prefect/flows/<flow id>/env and .prefect/runs/<run id>/env, which the
// secret operations neither list nor accept; only flow_run_env opens them,
// and each such read is audited.
const runsSchema = `
input register_flow_input {
	name: String!
	"The flow's tasks, edges and parameters, as the flow program describes them."
	definition: JSON!
	labels: [String!]
	"The argv that executes one run; the agent adds the run's environment."
	command: [String!]!
	working_dir: String
	"The run config's environment: an object of strings. Kept sealed."
	env: JSON
	"When the server's scheduler creates runs: a schedule's JSON (package schedule). Part of the version."
	schedule: JSON
	"Whether the schedule is active (the scheduler creates its runs); Prefect's set_schedule_active. When not given, a new version with a schedule is active, and a registration that changes nothing leaves the flag as it is."
	set_schedule_active: Boolean
}

type register_flow_payload {
	id: String!
	version: Int!
	"False when the newest version was the same flow, and is kept."
	created: Boolean!
}

type flow {
	id: String!
	name: String!
	version: Int!
	labels: [String!]!
	command: [String!]!
	working_dir: String!
	definition: JSON!
	created: String!
	"The version's schedule's JSON, or null."
	schedule: JSON
	"Whether the scheduler creates the runs of this version's schedule."
	schedule_active: Boolean!
}

input create_flow_run_input {
	"A UUID the caller makes, so that a retried request does not make a second run; the server makes one if absent."
	id: String
	"The flow's name (its newest version is run), or flow_id for a version."
	flow_name: String
	flow_id: String
	name: String
	parameters: JSON
	"Extra environment for this run: an object of strings. Kept sealed."
	env: JSON
	"When agents may start it (RFC 3339), in years 1678 to 2262; now when not given."
	scheduled_start_time: String
}

type flow_run {
	id: String!
	name: String!
	flow_id: String!
	flow_name: String!
	flow_version: Int!
	parameters: JSON!
	labels: [String!]!
	"Scheduled, Submitted, Running, Success, Failed, Cancelling or Cancelled."
	state: String!
	message: String!
	version: Int!
	agent_id: String!
	heartbeat: String!
	created: String!
	updated: String!
	"When agents may start it (RFC 3339): a Scheduled run is claimed only from then on."
	scheduled_start_time: String!
	"Whether the server's scheduler created it."
	auto_scheduled: Boolean!
	task_runs: [task_run!]!
}

type task_run {
	id: String!
	slug: String!
	map_index: Int!
	"A Prefect state's name, such as Success or TriggerFailed."
	state: String!
	message: String!
	updated: String!
}

type log_line {
	"A cursor: pass the last one seen as flow_run_logs(after:)."
	seq: String!
	time: String!
	level: String!
	task_slug: String!
	message: String!
}

input claim_flow_runs_input {
	agent_id: String!
	labels: [String!]
	limit: Int
}

input set_flow_run_state_input {
	id: String!
	"The version the caller read; a run changed since is not changed (CONFLICT)."
	version: Int!
	"Scheduled, Submitted, Running, Success, Failed, Cancelling or Cancelled; only some moves are allowed (CONFLICT)."
	state: String!
	message: String
	"An agent gives its ID: the run is changed only if that agent claimed it."
	agent_id: String
}

type set_state_payload {
	version: Int!
}

input task_run_input {
	id: String!
	slug: String!
	map_index: Int!
	"A Prefect state's name, such as Success or TriggerFailed."
	state: String!
	message: String
	"RFC 3339."
	time: String
	"The writer's number for this state, growing: a state with a smaller seq than the one kept is ignored. Without it, an older time is."
	seq: Int
}

input set_task_run_states_input {
	flow_run_id: String!
	task_runs: [task_run_input!]!
}

input log_input {
	time: String
	level: String!
	task_slug: String
	message: String!
	"The line's number in the run's log, growing from 1, given by the run's one writer (the flow program that set it Running): a line sent again with a number the log holds (a retry whose answer was lost) is not added twice. Without it, every line is added."
	writer_seq: Int
}

input write_run_logs_input {
	flow_run_id: String!
	logs: [log_input!]!
}

extend type Query {
	flows: [flow!]!
	flow(id: String, name: String): flow
	flow_runs(state: String, limit: Int): [flow_run!]!
	flow_run(id: String!): flow_run
	"The run's environment (the flow's run config env, then the run's own): for the agent that claimed it, while it is Submitted."
	flow_run_env(id: String!, agent_id: String!): JSON!
	flow_run_logs(id: String!, after: String, limit: Int): [log_line!]!
}

extend type Mutation {
	register_flow(input: register_flow_input!): register_flow_payload
	create_flow_run(input: create_flow_run_input!): flow_run
	claim_flow_runs(input: claim_flow_runs_input!): [flow_run!]!
	set_flow_run_state(input: set_flow_run_state_input!): set_state_payload
	set_task_run_states(input: set_task_run_states_input!): success_payload
	write_run_logs(input: write_run_logs_input!): success_payload
	heartbeat(flow_run_id: String!): success_payload
	cancel_flow_run(id: String!): flow_run
}
`

// RunStore keeps the orchestration data. A Store that is also a RunStore
// (store.SQL is) gives the server its orchestration operations; without
// one, they fail with a message saying so. Every method reads and writes
// only the given tenant's rows; errors match orchestration.ErrNotFound for
// a flow or run the tenant does not have and orchestration.ErrConflict for
// a change that lost (see each method). Implementations must be safe for
// concurrent use.
type RunStore interface {
	// RegisterFlow records f as the newest version of the tenant's flow
	// of its name, numbering it, unless the newest has the same Digest,
	// which it returns as it is (created false).
	RegisterFlow(ctx context.Context, f orchestration.Flow) (_ orchestration.Flow, created bool, err error)
	// LatestFlow returns the newest version of the tenant's flow name.
	LatestFlow(ctx context.Context, tenantID, name string) (orchestration.Flow, error)
	// Flow returns the tenant's flow version id.
	Flow(ctx context.Context, tenantID, id string) (orchestration.Flow, error)
	// Flows returns the newest version of each of the tenant's flows.
	Flows(ctx context.Context, tenantID string) ([]orchestration.Flow, error)
	// CreateFlowRun records a new run of r.FlowID, Scheduled, version 1,
	// under r.ID if given; a run of that ID that exists is ErrConflict.
	CreateFlowRun(ctx context.Context, r orchestration.FlowRun) (orchestration.FlowRun, error)
	// FlowRun returns the tenant's run id.
	FlowRun(ctx context.Context, tenantID, id string) (orchestration.FlowRun, error)
	// FlowRuns returns the latest limit runs, newest first, in any of
	// the states in (in any state when in is empty).
	FlowRuns(ctx context.Context, tenantID string, limit int, in ...state.Kind) ([]orchestration.FlowRun, error)
	// ClaimFlowRuns makes up to n Scheduled runs due (planned to start
	// at or before now), whose labels are all among labels, Submitted by
	// agentID, oldest planned first, and returns them; no run goes to two
	// claims.
	ClaimFlowRuns(ctx context.Context, tenantID, agentID string, labels []string, n int) ([]orchestration.FlowRun, error)
	// SetFlowRunState sets run id's state to to if it is still at
	// version and orchestration.CanMove allows the move, and returns the
	// new version; otherwise ErrConflict.
	SetFlowRunState(ctx context.Context, tenantID, id string, version int, to state.Kind, message string) (int, error)
	// CancelFlowRun makes run id Cancelled if it is Scheduled, Cancelling
	// if it is Submitted or Running, and returns it as it is after.
	CancelFlowRun(ctx context.Context, tenantID, id string) (orchestration.FlowRun, error)
	// Heartbeat records that run id is alive, now.
	Heartbeat(ctx context.Context, tenantID, id string) error
	// SetTaskRuns records the latest states of task runs of run runID,
	// ignoring one older (by Seq, else by Updated) than the one kept.
	SetTaskRuns(ctx context.Context, tenantID, runID string, trs []orchestration.TaskRun) error
	// TaskRuns returns the task runs of run runID.
	TaskRuns(ctx context.Context, tenantID, runID string) ([]orchestration.TaskRun, error)
	// AppendLogs adds lines to run runID's log, but those whose
	// WriterSeq the log holds already.
	AppendLogs(ctx context.Context, tenantID, runID string, lines []orchestration.LogLine) error
	// Logs returns up to limit lines of run runID's log after the line
	// whose Seq is after, oldest first.
	Logs(ctx context.Context, tenantID, runID string, after int64, limit int) ([]orchestration.LogLine, error)
}

// reservedPrefix starts the names of the secrets the server keeps for
// itself: environments of flows and runs.
const reservedPrefix = orchestration.ReservedPrefix

func flowEnvName(flowID string) string { return reservedPrefix + "flows/" + flowID + "/env" }
func runEnvName(runID string) string   { return reservedPrefix + "runs/" + runID + "/env" }

var (
	errNoRuns    = &gqlError{"this server keeps no flow runs (its store has no orchestration tables)", "NOT_IMPLEMENTED"}
	errRunChange = &gqlError{"the flow run changed since that version was read; read it again", "CONFLICT"}
	errNoRun     = &gqlError{"no such flow run", "NOT_FOUND"}
	errNoFlow    = &gqlError{"no such flow", "NOT_FOUND"}
)

// Limits of what runs report.
const (
	maxLabels      = 32
	maxTaskReports = 1000
	maxLogLines    = 1000
	maxTextField   = 64 << 10 // a message or a log line
	maxListedRuns  = 500
	maxDefinition  = 256 << 10 // a flow's definition, a run's parameters
)

func (r *resolver) runs() (RunStore, error) {
	if r.s.runs == nil {
		return nil, errNoRuns
	}
	return r.s.runs, nil
}

// runError maps a RunStore error to a message safe to show.
func (r *resolver) runError(ctx context.Context, what string, err error, notFound *gqlError) error {
	switch {
	case errors.Is(err, orchestration.ErrNotFound):
		return notFound
	case errors.Is(err, orchestration.ErrConflict):
		return errRunChange
	}
	r.s.log.ErrorContext(ctx, "secret server: run store failed", "operation", what, "err", err)
	return errInternal
}

// envObject checks that j, if given, is a JSON object of strings with
// valid names, and returns it.
func envObject(j *JSON) (map[string]string, error) {
	if j == nil || j.raw == nil || string(j.raw) == "null" {
		return nil, nil
	}
	var env map[string]string
	if err := json.Unmarshal(j.raw, &env); err != nil {
		return nil, userError("env must be an object whose values are strings")
	}
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return nil, userError("env has a name that is empty or holds = or NUL, or a value that holds NUL")
		}
	}
	return env, nil
}

// sealEnv keeps env as the reserved secret name.
func (r *resolver) sealEnv(ctx context.Context, tenantID, name string, env map[string]string) error {
	b, _ := json.Marshal(env)
	ring, err := r.s.keyring(ctx, false)
	if err != nil {
		return err
	}
	sealed, err := ring.Seal(tenantID, name, b)
	if err != nil {
		return err
	}
	_, err = r.s.st.PutSecret(ctx, tenantID, name, sealed)
	r.s.secretsChanged(tenantID)
	return err
}

// openEnv returns the environment kept as the reserved secret name, or
// nil if there is none.
func (r *resolver) openEnv(ctx context.Context, tenantID, name string) (map[string]string, error) {
	sealed, _, err := r.s.st.Secret(ctx, tenantID, name)
	if errors.Is(err, orchestration.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := r.s.open(ctx, tenantID, name, sealed)
	if err != nil {
		return nil, err
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	return env, nil
}

// dropRunEnv deletes a finished run's own environment: nobody launches the
// run again, and a secret kept is a secret that can leak.
func (r *resolver) dropRunEnv(ctx context.Context, tenantID, runID string) {
	err := r.s.st.DeleteSecret(ctx, tenantID, runEnvName(runID))
	if err == nil {
		r.s.secretsChanged(tenantID)
	}
	if err != nil && !errors.Is(err, orchestration.ErrNotFound) {
		r.s.log.ErrorContext(ctx, "secret server: deleting a finished run's environment", "run", runID, "err", err)
	}
}

// checkFlowName checks a flow's name: 1 to 256 bytes of UTF-8 without
// control characters (Prefect's names have spaces), not the server's own.
func checkFlowName(name string) error {
	if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return userError("invalid flow name: a name is 1 to %d bytes of UTF-8 without control characters", maxNameLen)
	}
	if strings.HasPrefix(name, reservedPrefix) {
		return userError("invalid flow name: names starting with %s are the server's own", reservedPrefix)
	}
	return nil
}

func checkLabels(l []string) error {
	if len(l) > maxLabels {
		return userError("%d labels; at most %d", len(l), maxLabels)
	}
	for _, s := range l {
		if s == "" || len(s) > 128 {
			return userError("a label is 1 to 128 bytes")
		}
	}
	return nil
}

type registerFlowArgs struct {
	Input struct {
		Name       string
		Definition JSON
		Labels     *[]string
		Command    []string
		WorkingDir *string
		Env        *JSON
		Schedule   *JSON
		// SetScheduleActive is Prefect's name.
		SetScheduleActive *bool
	}
}

type registerFlowPayload struct {
	f       orchestration.Flow
	created bool
}

func (p *registerFlowPayload) ID() string     { return p.f.ID }
func (p *registerFlowPayload) Version() int32 { return int32(p.f.Version) }
func (p *registerFlowPayload) Created() bool  { return p.created }

func (r *resolver) RegisterFlow(ctx context.Context, args registerFlowArgs) (*registerFlowPayload, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	in := args.Input
	if err := checkFlowName(in.Name); err != nil {
		return nil, err
	}
	if len(in.Command) == 0 || in.Command[0] == "" {
		return nil, userError("flow %q: command is empty; it is the argv that executes a run", in.Name)
	}
	if len(in.Command) > 64 {
		return nil, userError("flow %q: command has %d arguments; at most 64", in.Name, len(in.Command))
	}
	for i, a := range in.Command {
		if err := plain(fmt.Sprintf("argument %d of the command", i), a, 4096, i > 0); err != nil {
			return nil, err
		}
	}
	if in.WorkingDir != nil {
		if err := plain("working_dir", *in.WorkingDir, 4096, true); err != nil {
			return nil, err
		}
	}
	if len(in.Definition.raw) > maxDefinition {
		return nil, userError("flow %q: the definition is %s; at most %s", in.Name, sizeText(len(in.Definition.raw)), sizeText(maxDefinition))
	}
	var labels []string
	if in.Labels != nil {
		labels = slices.Clone(*in.Labels)
		slices.Sort(labels)
		labels = slices.Compact(labels)
	}
	if err := checkLabels(labels); err != nil {
		return nil, err
	}
	env, err := envObject(in.Env)
	if err != nil {
		return nil, err
	}
	sched, err := r.flowSchedule(in.Name, in.Schedule)
	if err != nil {
		return nil, err
	}
	f := orchestration.Flow{TenantID: caller(ctx).TenantID, Name: in.Name, Definition: in.Definition.raw, Labels: labels,
		Command: in.Command, HasEnv: len(env) > 0, Schedule: sched,
		ScheduleActive: sched != nil && (in.SetScheduleActive == nil || *in.SetScheduleActive)}
	if in.WorkingDir != nil {
		f.WorkingDir = *in.WorkingDir
	}
	// The digest covers all that defines a version; the environment by a
	// keyed fingerprint, since a plain hash beside it in the database
	// would let its values be guessed offline. (A new master key thus
	// makes the next registration a new version.)
	ring, err := r.s.keyring(ctx, false)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpRegisterFlow, in.Name, err)
	}
	envJSON, _ := json.Marshal(env)
	envPrint, err := ring.Fingerprint(f.TenantID, envJSON)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpRegisterFlow, in.Name, err)
	}
	h := sha256.New()
	parts := [][]byte{f.Definition, []byte(strings.Join(labels, "\x00")), []byte(strings.Join(f.Command, "\x00")), []byte(f.WorkingDir), []byte(envPrint)}
	if sched != nil {
		// Only then: a flow without a schedule keeps the digest it had
		// before schedules.
		parts = append(parts, sched)
	}
	for _, part := range parts {
		h.Write([]byte(strconv.Itoa(len(part)) + ":"))
		h.Write(part)
	}
	f.Digest = hex.EncodeToString(h.Sum(nil))
	// The environment is sealed under the version's ID before the version
	// exists, so that no run of it ever lacks it.
	f.ID = uuid.NewString()
	if len(env) > 0 {
		if err := r.sealEnv(ctx, f.TenantID, flowEnvName(f.ID), env); err != nil {
			return nil, r.storeError(ctx, orchestration.OpRegisterFlow, in.Name, err)
		}
	}
	got, created, err := rs.RegisterFlow(ctx, f)
	if (err != nil || !created) && len(env) > 0 {
		r.s.st.DeleteSecret(ctx, f.TenantID, flowEnvName(f.ID)) // not used
		r.s.secretsChanged(f.TenantID)
	}
	if err != nil {
		return nil, r.runError(ctx, orchestration.OpRegisterFlow, err, errNoFlow)
	}
	if !created && sched != nil && in.SetScheduleActive != nil && *in.SetScheduleActive != got.ScheduleActive {
		// The same version, its schedule turned on or off as asked.
		if _, err := r.s.sched.st.SetScheduleActive(ctx, got.TenantID, got.Name, *in.SetScheduleActive); err != nil {
			return nil, r.runError(ctx, orchestration.OpRegisterFlow, err, errNoFlow)
		}
		got.ScheduleActive = *in.SetScheduleActive
	}
	r.event(ctx, orchestration.OpRegisterFlow, in.Name, orchestration.OutcomeOK)
	return &registerFlowPayload{f: got, created: created}, nil
}

type flowResolver struct{ f orchestration.Flow }

func (f *flowResolver) ID() string           { return f.f.ID }
func (f *flowResolver) Name() string         { return f.f.Name }
func (f *flowResolver) Version() int32       { return int32(f.f.Version) }
func (f *flowResolver) Labels() []string     { return nonNil(f.f.Labels) }
func (f *flowResolver) Command() []string    { return nonNil(f.f.Command) }
func (f *flowResolver) WorkingDir() string   { return f.f.WorkingDir }
func (f *flowResolver) Definition() JSON     { return JSON{raw: f.f.Definition} }
func (f *flowResolver) Created() string      { return rfc3339(f.f.Created) }
func (f *flowResolver) ScheduleActive() bool { return f.f.ScheduleActive }

func (f *flowResolver) Schedule() *JSON {
	if f.f.Schedule == nil {
		return nil
	}
	return &JSON{raw: f.f.Schedule}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (r *resolver) Flows(ctx context.Context) ([]*flowResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	fl, err := rs.Flows(ctx, caller(ctx).TenantID)
	if err != nil {
		return nil, r.runError(ctx, "flows", err, errNoFlow)
	}
	out := make([]*flowResolver, len(fl))
	for i := range fl {
		out[i] = &flowResolver{fl[i]}
	}
	return out, nil
}

func (r *resolver) Flow(ctx context.Context, args struct{ ID, Name *string }) (*flowResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	f, err := r.findFlow(ctx, rs, args.ID, args.Name)
	if err != nil {
		return nil, err
	}
	return &flowResolver{f}, nil
}

func (r *resolver) findFlow(ctx context.Context, rs RunStore, id, name *string) (orchestration.Flow, error) {
	tenant := caller(ctx).TenantID
	var f orchestration.Flow
	var err error
	switch {
	case id != nil && *id != "":
		f, err = rs.Flow(ctx, tenant, *id)
	case name != nil && *name != "":
		f, err = rs.LatestFlow(ctx, tenant, *name)
	default:
		return orchestration.Flow{}, userError("give the flow's id or its name")
	}
	if err != nil {
		return orchestration.Flow{}, r.runError(ctx, "flow", err, errNoFlow)
	}
	return f, nil
}

type createFlowRunArgs struct {
	Input struct {
		ID         *string
		FlowName   *string
		FlowID     *string
		Name       *string
		Parameters *JSON
		Env        *JSON
		// ScheduledStartTime is Prefect's name.
		ScheduledStartTime *string
	}
}

func (r *resolver) CreateFlowRun(ctx context.Context, args createFlowRunArgs) (*flowRunResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	in := args.Input
	f, err := r.findFlow(ctx, rs, in.FlowID, in.FlowName)
	if err != nil {
		return nil, err
	}
	run := orchestration.FlowRun{ID: uuid.NewString(), TenantID: f.TenantID, FlowID: f.ID, Parameters: []byte("{}")}
	if in.ScheduledStartTime != nil && *in.ScheduledStartTime != "" {
		t, err := time.Parse(time.RFC3339Nano, *in.ScheduledStartTime)
		if err != nil {
			return nil, userError("scheduled_start_time %.64q is not RFC 3339 (such as 2026-03-04T05:06:07Z)", *in.ScheduledStartTime)
		}
		// Stores keep it as UnixNano, which is defined only then.
		if !plannable(t) {
			return nil, userError("scheduled_start_time %s is outside the supported range %s to %s (years 1678 to 2262)",
				t.Format(time.RFC3339Nano), minPlanned.Format(time.RFC3339Nano), maxPlanned.Format(time.RFC3339Nano))
		}
		run.ScheduledStart = t.UTC()
	}
	if in.ID != nil && *in.ID != "" {
		id, err := uuid.Parse(*in.ID)
		if err != nil {
			return nil, userError("id must be a UUID")
		}
		run.ID = id.String()
		// The same request again (a retry): the run it made.
		if prev, err := rs.FlowRun(ctx, f.TenantID, run.ID); err == nil {
			if prev.FlowName != f.Name {
				return nil, &gqlError{"a run with that id exists, of another flow", "CONFLICT"}
			}
			return &flowRunResolver{r: r, run: prev}, nil
		}
	}
	if in.Name != nil && *in.Name != "" {
		if err := plain("the run's name", *in.Name, maxNameLen, true); err != nil {
			return nil, err
		}
		m, err := r.runMasker(ctx, orchestration.OpCreateRun)
		if err != nil {
			return nil, err
		}
		run.Name = masked(m, *in.Name, maxNameLen)
	}
	if in.Parameters != nil && in.Parameters.raw != nil && string(in.Parameters.raw) != "null" {
		var obj map[string]json.RawMessage
		if json.Unmarshal(in.Parameters.raw, &obj) != nil {
			return nil, userError("parameters must be a JSON object of parameter names to values")
		}
		if len(in.Parameters.raw) > maxDefinition {
			return nil, userError("the parameters are %s; at most %s", sizeText(len(in.Parameters.raw)), sizeText(maxDefinition))
		}
		run.Parameters = in.Parameters.raw
	}
	env, err := envObject(in.Env)
	if err != nil {
		return nil, err
	}
	// The environment is sealed before the run exists, so that no agent
	// can claim a run whose environment is not there yet.
	if len(env) > 0 {
		if err := r.sealEnv(ctx, f.TenantID, runEnvName(run.ID), env); err != nil {
			return nil, r.storeError(ctx, orchestration.OpCreateRun, f.Name, err)
		}
	}
	got, err := rs.CreateFlowRun(ctx, run)
	if errors.Is(err, orchestration.ErrConflict) {
		// The same request, at the same time (a retry of a slow one).
		if prev, perr := rs.FlowRun(ctx, f.TenantID, run.ID); perr == nil && prev.FlowName == f.Name {
			return &flowRunResolver{r: r, run: prev}, nil
		}
	}
	if err != nil {
		return nil, r.runError(ctx, orchestration.OpCreateRun, err, errNoFlow)
	}
	r.event(ctx, orchestration.OpCreateRun, f.Name, orchestration.OutcomeOK)
	return &flowRunResolver{r: r, run: got}, nil
}

type flowRunResolver struct {
	r   *resolver
	run orchestration.FlowRun
}

func (f *flowRunResolver) ID() string         { return f.run.ID }
func (f *flowRunResolver) Name() string       { return f.run.Name }
func (f *flowRunResolver) FlowID() string     { return f.run.FlowID }
func (f *flowRunResolver) FlowName() string   { return f.run.FlowName }
func (f *flowRunResolver) FlowVersion() int32 { return int32(f.run.FlowVersion) }
func (f *flowRunResolver) Parameters() JSON   { return JSON{raw: f.run.Parameters} }
func (f *flowRunResolver) Labels() []string   { return nonNil(f.run.Labels) }
func (f *flowRunResolver) State() string      { return f.run.State.String() }
func (f *flowRunResolver) Message() string    { return f.run.Message }
func (f *flowRunResolver) Version() int32     { return int32(f.run.Version) }
func (f *flowRunResolver) AgentID() string    { return f.run.AgentID }
func (f *flowRunResolver) Heartbeat() string  { return rfc3339(f.run.Heartbeat) }
func (f *flowRunResolver) Created() string    { return rfc3339(f.run.Created) }
func (f *flowRunResolver) Updated() string    { return rfc3339(f.run.Updated) }
func (f *flowRunResolver) ScheduledStartTime() string {
	return rfc3339(f.run.ScheduledStart)
}
func (f *flowRunResolver) AutoScheduled() bool {
	return strings.HasPrefix(f.run.IdempotencyKey, orchestration.AutoScheduledPrefix)
}

func (f *flowRunResolver) TaskRuns(ctx context.Context) ([]*taskRunResolver, error) {
	trs, err := f.r.s.runs.TaskRuns(ctx, f.run.TenantID, f.run.ID)
	if err != nil {
		return nil, f.r.runError(ctx, "task_runs", err, errNoRun)
	}
	out := make([]*taskRunResolver, len(trs))
	for i := range trs {
		out[i] = &taskRunResolver{trs[i]}
	}
	return out, nil
}

type taskRunResolver struct{ t orchestration.TaskRun }

func (t *taskRunResolver) ID() string      { return t.t.ID }
func (t *taskRunResolver) Slug() string    { return t.t.Slug }
func (t *taskRunResolver) MapIndex() int32 { return int32(t.t.MapIndex) }
func (t *taskRunResolver) State() string   { return t.t.State.String() }
func (t *taskRunResolver) Message() string { return t.t.Message }
func (t *taskRunResolver) Updated() string { return rfc3339(t.t.Updated) }

func (r *resolver) FlowRuns(ctx context.Context, args struct {
	State *string
	Limit *int32
}) ([]*flowRunResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	var in []state.Kind
	if args.State != nil {
		k, err := flowRunState(*args.State)
		if err != nil {
			return nil, err
		}
		in = append(in, k)
	}
	limit := 100
	if args.Limit != nil {
		limit = int(*args.Limit)
	}
	if limit < 1 || limit > maxListedRuns {
		return nil, userError("limit %d: want 1 to %d", limit, maxListedRuns)
	}
	runs, err := rs.FlowRuns(ctx, caller(ctx).TenantID, limit, in...)
	if err != nil {
		return nil, r.runError(ctx, "flow_runs", err, errNoRun)
	}
	out := make([]*flowRunResolver, len(runs))
	for i := range runs {
		out[i] = &flowRunResolver{r: r, run: runs[i]}
	}
	return out, nil
}

func (r *resolver) FlowRun(ctx context.Context, args struct{ ID string }) (*flowRunResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	run, err := rs.FlowRun(ctx, caller(ctx).TenantID, args.ID)
	if err != nil {
		return nil, r.runError(ctx, "flow_run", err, errNoRun)
	}
	return &flowRunResolver{r: r, run: run}, nil
}

func (r *resolver) FlowRunEnv(ctx context.Context, args struct{ ID, AgentID string }) (JSON, error) {
	rs, err := r.runs()
	if err != nil {
		return JSON{}, err
	}
	tenant := caller(ctx).TenantID
	// Audited by the run's ID, which nobody chooses.
	run, err := rs.FlowRun(ctx, tenant, args.ID)
	if err != nil {
		r.event(ctx, orchestration.OpRunEnv, text(args.ID, 64), orchestration.OutcomeNotFound)
		return JSON{}, r.runError(ctx, orchestration.OpRunEnv, err, errNoRun)
	}
	// Only the agent that claimed the run, before it launches it: the
	// environment may hold secrets, and nobody else needs them.
	if run.State != state.Submitted || args.AgentID == "" || args.AgentID != run.AgentID {
		r.event(ctx, orchestration.OpRunEnv, run.ID, orchestration.OutcomeDenied)
		return JSON{}, &gqlError{"a run's environment is for the agent that claimed it, while the run is Submitted", "FORBIDDEN"}
	}
	env := map[string]string{}
	for _, name := range []string{flowEnvName(run.FlowID), runEnvName(run.ID)} {
		part, err := r.openEnv(ctx, tenant, name)
		if err != nil {
			return JSON{}, r.storeError(ctx, orchestration.OpRunEnv, run.ID, err)
		}
		for k, v := range part {
			env[k] = v // the run's own env comes second and wins
		}
	}
	// The environment is handed out only once its reading is on record.
	if !r.event(ctx, orchestration.OpRunEnv, run.ID, orchestration.OutcomeOK) {
		return JSON{}, errInternal
	}
	b, _ := json.Marshal(env)
	return JSON{raw: b}, nil
}

type logLineResolver struct{ l orchestration.LogLine }

func (l *logLineResolver) Seq() string      { return strconv.FormatInt(l.l.Seq, 10) }
func (l *logLineResolver) Time() string     { return rfc3339(l.l.Time) }
func (l *logLineResolver) Level() string    { return l.l.Level }
func (l *logLineResolver) TaskSlug() string { return l.l.TaskSlug }
func (l *logLineResolver) Message() string  { return l.l.Message }

func (r *resolver) FlowRunLogs(ctx context.Context, args struct {
	ID    string
	After *string
	Limit *int32
}) ([]*logLineResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	var after int64
	if args.After != nil && *args.After != "" {
		if after, err = strconv.ParseInt(*args.After, 10, 64); err != nil || after < 0 {
			return nil, userError("after must be the seq of a log line, a whole number")
		}
	}
	limit := maxLogLines
	if args.Limit != nil {
		limit = int(*args.Limit)
	}
	if limit < 1 || limit > maxLogLines {
		return nil, userError("limit %d: want 1 to %d", limit, maxLogLines)
	}
	lines, err := rs.Logs(ctx, caller(ctx).TenantID, args.ID, after, limit)
	if err != nil {
		return nil, r.runError(ctx, "flow_run_logs", err, errNoRun)
	}
	out := make([]*logLineResolver, len(lines))
	for i := range lines {
		out[i] = &logLineResolver{lines[i]}
	}
	return out, nil
}

type claimArgs struct {
	Input struct {
		AgentID string
		Labels  *[]string
		Limit   *int32
	}
}

func (r *resolver) ClaimFlowRuns(ctx context.Context, args claimArgs) ([]*flowRunResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	in := args.Input
	if err := plain("agent_id", in.AgentID, 256, false); err != nil {
		return nil, err
	}
	var labels []string
	if in.Labels != nil {
		labels = *in.Labels
	}
	if err := checkLabels(labels); err != nil {
		return nil, err
	}
	n := 1
	if in.Limit != nil {
		n = int(*in.Limit)
	}
	if n < 1 || n > 100 {
		return nil, userError("limit %d: want 1 to 100", n)
	}
	runs, err := rs.ClaimFlowRuns(ctx, caller(ctx).TenantID, in.AgentID, labels, n)
	if err != nil {
		return nil, r.runError(ctx, "claim_flow_runs", err, errNoRun)
	}
	out := make([]*flowRunResolver, len(runs))
	for i := range runs {
		out[i] = &flowRunResolver{r: r, run: runs[i]}
	}
	return out, nil
}

// flowRunState reads the name of a flow run's state, one of
// orchestration.FlowRunStates.
func flowRunState(name string) (state.Kind, error) {
	k, err := state.ParseKind(name)
	all := orchestration.FlowRunStates()
	if err != nil || !slices.Contains(all, k) {
		names := make([]string, len(all))
		for i, k := range all {
			names[i] = k.String()
		}
		return 0, userError("the state %.64q is not one of %s", name, strings.Join(names, ", "))
	}
	return k, nil
}

type setStateArgs struct {
	Input struct {
		ID      string
		Version int32
		State   string
		Message *string
		AgentID *string
	}
}

type setStatePayload struct{ v int }

func (p *setStatePayload) Version() int32 { return int32(p.v) }

func (r *resolver) SetFlowRunState(ctx context.Context, args setStateArgs) (*setStatePayload, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	in := args.Input
	to, err := flowRunState(in.State)
	if err != nil {
		return nil, err
	}
	msg := ""
	if in.Message != nil && *in.Message != "" {
		m, err := r.runMasker(ctx, "set_flow_run_state")
		if err != nil {
			return nil, err
		}
		msg = masked(m, *in.Message, maxTextField)
	}
	tenant := caller(ctx).TenantID
	if in.AgentID != nil && *in.AgentID != "" {
		// The version check below catches a claim by another agent after
		// this read: a claim changes the version.
		run, err := rs.FlowRun(ctx, tenant, in.ID)
		if err != nil {
			return nil, r.runError(ctx, "set_flow_run_state", err, errNoRun)
		}
		if run.AgentID != *in.AgentID {
			return nil, &gqlError{"the run was claimed by another agent; it is not this agent's to change", "CONFLICT"}
		}
	}
	v, err := rs.SetFlowRunState(ctx, tenant, in.ID, int(in.Version), to, msg)
	if err != nil {
		return nil, r.runError(ctx, "set_flow_run_state", err, errNoRun)
	}
	if to.IsFinished() {
		r.dropRunEnv(ctx, tenant, in.ID)
	}
	return &setStatePayload{v}, nil
}

// text makes s fit for every store: at most n bytes, cut at a character
// boundary, with NUL (which PostgreSQL's TEXT refuses) as U+FFFD.
func text(s string, n int) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// plain checks a short identifier-like input (a run name, a command
// argument, an ID): 1 to max bytes (0 allowed when empty is true), no NUL.
func plain(what, s string, max int, empty bool) error {
	if (s == "" && !empty) || len(s) > max || strings.IndexByte(s, 0) >= 0 {
		return userError("%s must be %d to %d bytes, without NUL", what, boolInt(!empty), max)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type setTaskRunsArgs struct {
	Input struct {
		FlowRunID string
		TaskRuns  []struct {
			ID       string
			Slug     string
			MapIndex int32
			State    string
			Message  *string
			Time     *string
			Seq      *int32
		}
	}
}

func (r *resolver) SetTaskRunStates(ctx context.Context, args setTaskRunsArgs) (*successPayload, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	in := args.Input
	if len(in.TaskRuns) > maxTaskReports {
		return nil, userError("%d task runs in one call; at most %d", len(in.TaskRuns), maxTaskReports)
	}
	var m *redact.Masker
	if len(in.TaskRuns) > 0 {
		if m, err = r.runMasker(ctx, "set_task_run_states"); err != nil {
			return nil, err
		}
	}
	trs := make([]orchestration.TaskRun, len(in.TaskRuns))
	for i, t := range in.TaskRuns {
		if plain("slug", t.Slug, 512, false) != nil || plain("id", t.ID, 64, true) != nil {
			return nil, userError("task run %d: slug (1-512 bytes) and id (up to 64) are required, without NUL", i)
		}
		k, err := state.ParseKind(t.State)
		if err != nil {
			return nil, userError("task run %d: %v", i, err)
		}
		// Every field but the state (a name of package state) is the
		// writer's text, the slug (a task run's name) too: all masked, the
		// same way everywhere (a log line's slug still names its task run).
		trs[i] = orchestration.TaskRun{ID: masked(m, t.ID, 64), Slug: masked(m, t.Slug, 512), MapIndex: int(t.MapIndex), State: k}
		if t.Message != nil {
			trs[i].Message = masked(m, *t.Message, maxTextField)
		}
		if t.Seq != nil {
			trs[i].Seq = int64(*t.Seq)
		}
		if t.Time != nil {
			if trs[i].Updated, err = time.Parse(time.RFC3339Nano, *t.Time); err != nil {
				return nil, userError("task run %d: time is not RFC 3339", i)
			}
		}
	}
	if err := rs.SetTaskRuns(ctx, caller(ctx).TenantID, in.FlowRunID, trs); err != nil {
		return nil, r.runError(ctx, "set_task_run_states", err, errNoRun)
	}
	return &successPayload{ok: true}, nil
}

type writeLogsArgs struct {
	Input struct {
		FlowRunID string
		Logs      []struct {
			Time      *string
			Level     string
			TaskSlug  *string
			Message   string
			WriterSeq *int32
		}
	}
}

func (r *resolver) WriteRunLogs(ctx context.Context, args writeLogsArgs) (*successPayload, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	in := args.Input
	if len(in.Logs) > maxLogLines {
		return nil, userError("%d log lines in one call; at most %d", len(in.Logs), maxLogLines)
	}
	var m *redact.Masker
	if len(in.Logs) > 0 {
		if m, err = r.runMasker(ctx, "write_run_logs"); err != nil {
			return nil, err
		}
	}
	lines := make([]orchestration.LogLine, len(in.Logs))
	for i, l := range in.Logs {
		lines[i] = orchestration.LogLine{Level: masked(m, l.Level, 16), Message: masked(m, l.Message, maxTextField)}
		if l.TaskSlug != nil {
			lines[i].TaskSlug = masked(m, *l.TaskSlug, 512)
		}
		if l.WriterSeq != nil {
			if *l.WriterSeq < 1 {
				return nil, userError("log line %d: writer_seq is %d; it counts from 1", i, *l.WriterSeq)
			}
			lines[i].WriterSeq = int64(*l.WriterSeq)
		}
		if l.Time != nil {
			if lines[i].Time, err = time.Parse(time.RFC3339Nano, *l.Time); err != nil {
				return nil, userError("log line %d: time is not RFC 3339", i)
			}
		}
	}
	if err := rs.AppendLogs(ctx, caller(ctx).TenantID, in.FlowRunID, lines); err != nil {
		return nil, r.runError(ctx, "write_run_logs", err, errNoRun)
	}
	return &successPayload{ok: true}, nil
}

func (r *resolver) Heartbeat(ctx context.Context, args struct{ FlowRunID string }) (*successPayload, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	if err := rs.Heartbeat(ctx, caller(ctx).TenantID, args.FlowRunID); err != nil {
		return nil, r.runError(ctx, "heartbeat", err, errNoRun)
	}
	return &successPayload{ok: true}, nil
}

func (r *resolver) CancelFlowRun(ctx context.Context, args struct{ ID string }) (*flowRunResolver, error) {
	rs, err := r.runs()
	if err != nil {
		return nil, err
	}
	run, err := rs.CancelFlowRun(ctx, caller(ctx).TenantID, args.ID)
	if err != nil {
		return nil, r.runError(ctx, orchestration.OpCancelRun, err, errNoRun)
	}
	if run.State.IsFinished() {
		r.dropRunEnv(ctx, run.TenantID, run.ID)
	}
	r.event(ctx, orchestration.OpCancelRun, run.Name, orchestration.OutcomeOK)
	return &flowRunResolver{r: r, run: run}, nil
}

// Package orchestration is the contract of a Prefect server's data: the
// records it keeps for each tenant (API keys, secrets' metadata, the audit
// log's events, registered flows, flow runs, their task runs and logs), the
// errors its stores report, and the rules a flow run's state follows. The
// server (package server) and its stores (package server/store, or any
// other implementation of server.Store and server.RunStore) share it, so
// that neither imports the other and a store can be written outside this
// module. Prefect 1 calls the backend that keeps all of these, secrets
// included, its orchestration layer (Prefect Server, Prefect Cloud): hence
// the name.
//
// # Errors
//
// A store reports a missing key, secret, flow or run with an error matching
// [ErrNotFound], a refused API key with one matching [ErrUnauthenticated],
// a name taken with [ErrExists], a concurrent change that won with
// [ErrConflict] and a tenant's limit of secrets with [ErrLimit] (a
// *[LimitError]). Callers match these with errors.Is and errors.As, never
// by message.
//
// # A flow run's states
//
// A flow run's state is a [state.Kind], one of [FlowRunStates], written on
// the wire by its Prefect name. Who moves it, and from where, is fixed
// ([CanMove]); a store refuses any other move with [ErrConflict]:
//
//	Scheduled   created by a person or a schedule (create_flow_run); an agent's claim
//	            that could not start it gives it back
//	Submitted   claimed by one agent (claim_flow_runs), which reads its environment
//	            and launches the flow program
//	Running     set by the flow program as it starts, from Submitted
//	Success     set by the flow program, from Running
//	Failed      set by the flow program, or by the agent when the program died,
//	            from Submitted or Running
//	Cancelling  asked to stop (cancel_flow_run) while Submitted or Running; the agent
//	            stops the program
//	Cancelled   from any unfinished state: at once when it was Scheduled, else by
//	            the agent or the program once it has stopped
//
// Success, Failed and Cancelled are final: a finished run never changes
// again. A server also settles runs nobody looks after: a run Submitted too
// long is Scheduled again, a Running or Cancelling one without heartbeats
// becomes Failed or Cancelled.
package orchestration

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prefect-go/prefect/state"
)

// Errors a store returns, wrapped or as they are.
var (
	// ErrNotFound: no such secret (or key) in the tenant.
	ErrNotFound = errors.New("not found")
	// ErrUnauthenticated: the API key is unknown or revoked.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrExists: the object to create exists already.
	ErrExists = errors.New("already exists")
	// ErrConflict: a concurrent change won; the caller may retry.
	ErrConflict = errors.New("conflicting concurrent change")
	// ErrLimit: a new secret would take its tenant past the most it may
	// hold. The error is a *LimitError, which errors.As finds.
	ErrLimit = errors.New("too many secrets")
)

// ReservedPrefix starts the names of the server's own secrets (the
// environments of flows and runs): clients may not set them, they are not
// listed, and they do not count towards a tenant's limit.
const ReservedPrefix = ".prefect/"

// A LimitError refuses a new secret because its tenant holds Held
// secrets, and may hold at most Max. It matches [ErrLimit].
type LimitError struct {
	Held int // how many the tenant holds, not counting the server's own
	Max  int // the most it may hold
}

// Error says how many the tenant holds and may hold.
func (e *LimitError) Error() string {
	return fmt.Sprintf("the tenant holds %d secrets, the most it may is %d", e.Held, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

var _ error = (*LimitError)(nil)

// KeyInfo describes an API key, never the key itself.
type KeyInfo struct {
	ID       string    // identifies the key; not secret
	TenantID string    // the tenant whose secrets the key opens
	Name     string    // a label for people
	Created  time.Time // when the key was made
}

// SecretMeta describes a secret, never its value.
type SecretMeta struct {
	Name    string    // the secret's name
	Version int       // 1 when created, +1 on every set
	Created time.Time // when the secret was first set
	Updated time.Time // when it was last set
}

// Event is one entry of the audit log. It never holds a value.
type Event struct {
	Time       time.Time // when it happened
	TenantID   string    // "" when the key was not recognised
	KeyID      string    // "" when the key was not recognised
	Operation  string    // an Op* constant
	SecretName string    // "" for operations on no one secret
	Outcome    string    // an Outcome* constant
	// Count is how many like attempts the event stands for: 1 (or 0, read
	// as 1) but for refused unknown keys beyond the server's audit rate,
	// which one event per minute sums up, its Time being the last one's.
	Count int
}

// Operations recorded in Event.Operation.
const (
	OpAuthenticate = "authenticate"    // a key was checked
	OpSetSecret    = "set_secret"      // set_secret
	OpSecretValue  = "secret_value"    // secret_value (a read)
	OpDeleteSecret = "delete_secret"   // delete_secret
	OpSecretNames  = "secret_names"    // secret_names
	OpSecretMeta   = "secret_metadata" // secret_metadata
	OpSecretsPage  = "secrets_page"    // secrets_page (one page of names and metadata)
	OpRegisterFlow = "register_flow"   // register_flow
	OpCreateRun    = "create_flow_run" // create_flow_run
	OpCancelRun    = "cancel_flow_run" // cancel_flow_run
	OpRunEnv       = "flow_run_env"    // flow_run_env (a read of sealed values)
	// The server's operator made or revoked an API key (prefect server
	// create-api-key, revoke-api-key); the event's KeyID is that key's.
	OpCreateAPIKey = "create_api_key"
	OpRevokeAPIKey = "revoke_api_key"
)

// Outcomes recorded in Event.Outcome.
const (
	OutcomeOK       = "ok"        // it worked
	OutcomeNotFound = "not_found" // no such secret
	OutcomeDenied   = "denied"    // the key was refused
	OutcomeInvalid  = "invalid"   // the input was refused
	OutcomeError    = "error"     // the server failed
)

// A Flow is a registered flow: one version of its definition.
type Flow struct {
	ID         string    // a UUID, one per version
	TenantID   string    // the tenant that registered it
	Name       string    // the flow's name
	Version    int       // 1 first, +1 on each registration that changes it
	Digest     string    // SHA-256 of what defines it, to tell a change
	Definition []byte    // JSON: its tasks, edges and parameters
	Labels     []string  // an agent runs it only if it has every one
	Command    []string  // the argv that executes one of its runs
	WorkingDir string    // where the command runs; "" for the agent's
	HasEnv     bool      // whether its run config has an environment (kept sealed)
	Created    time.Time // when this version was registered
	// Schedule is the JSON of the version's schedule (package schedule's
	// Schedule), or nil for a flow run only on request. It is part of what
	// makes a version differ.
	Schedule []byte
	// ScheduleActive reports whether the server's scheduler creates runs
	// of the flow's schedule. It belongs to the flow's name, not to one
	// version (Prefect's set_schedule_active): registering a version with
	// a schedule sets it, unless told not to.
	ScheduleActive bool
}

// FlowRunStates returns the states a flow run takes, in the order of its
// life: Scheduled, Submitted, Running, Success, Failed, Cancelling and
// Cancelled. No other [state.Kind] is a flow run's.
func FlowRunStates() []state.Kind {
	return []state.Kind{state.Scheduled, state.Submitted, state.Running, state.Success, state.Failed, state.Cancelling, state.Cancelled}
}

// moves lists, for each state, the states a flow run may come to it from.
var moves = map[state.Kind][]state.Kind{
	state.Scheduled:  {state.Submitted},
	state.Submitted:  {state.Scheduled},
	state.Running:    {state.Submitted},
	state.Success:    {state.Running},
	state.Failed:     {state.Submitted, state.Running}, // a run being cancelled ends Cancelled
	state.Cancelling: {state.Submitted, state.Running},
	state.Cancelled:  {state.Scheduled, state.Submitted, state.Running, state.Cancelling},
}

// CanMove reports whether a flow run may go from state from to state to,
// as the package doc shows: a finished run never changes; only a claim
// (Submitted) leaves Scheduled, but for a cancel; only the flow program
// starts a run (Running, from Submitted).
func CanMove(from, to state.Kind) bool {
	return slices.Contains(moves[to], from)
}

// A FlowRun is one run of a flow version.
type FlowRun struct {
	ID          string     // a UUID, which the client may choose
	TenantID    string     // the tenant that created it
	FlowID      string     // the Flow version it runs
	FlowName    string     // that flow's name
	FlowVersion int        // and version
	Name        string     // for people; the flow's name and part of the ID when not given
	Parameters  []byte     // JSON object
	Labels      []string   // the flow's, which the agent must have
	State       state.Kind // one of FlowRunStates
	Message     string     // the state's message
	Version     int        // 1 when created, +1 on every state change, for optimistic updates
	AgentID     string     // the agent that claimed it, or ""
	Heartbeat   time.Time  // when its flow program last said it was alive; zero before
	Created     time.Time  // when it was created
	Updated     time.Time  // when its state last changed
	// ScheduledStart is when the run is planned to start (Prefect's
	// scheduled_start_time): agents claim a Scheduled run only from then
	// on. A run created on request starts when created unless told
	// otherwise; one the scheduler creates, at its schedule's event.
	ScheduledStart time.Time
	// IdempotencyKey is set on the runs the server's scheduler creates:
	// "auto-scheduled:" with the flow's name and the planned start. A
	// tenant never has two runs of one key, however many servers schedule
	// at once. "" for runs created on request.
	IdempotencyKey string
}

// AutoScheduledPrefix starts the idempotency key of every run the
// server's scheduler creates.
const AutoScheduledPrefix = "auto-scheduled:"

// ScheduleKey returns the idempotency key of the scheduler's run of the
// flow name planned to start at start: one run per flow name and time.
func ScheduleKey(flowName string, start time.Time) string {
	return AutoScheduledPrefix + start.UTC().Format(time.RFC3339Nano) + ":" + flowName
}

// A FlowSchedule is one flow name's schedule as the scheduler reads it:
// the newest version's, active.
type FlowSchedule struct {
	TenantID string   // the flow's tenant
	FlowName string   // the flow's name
	FlowID   string   // its newest version, whose Schedule this is
	Schedule []byte   // the schedule's JSON
	Labels   []string // the version's labels
	// Until is the planned start of the latest run the scheduler created
	// for the flow name since its schedule last changed (zero: none):
	// events up to it are on record.
	Until time.Time
}

// A SchedulePlan is what one pass of the scheduler writes for one flow
// name: new runs and when to look again. A store writes it only if the
// flow's schedule is still as read (FlowID and Until), else it skips it:
// another server planned it first, or the flow changed.
type SchedulePlan struct {
	Read FlowSchedule // as the scheduler read it
	// Runs are the runs to create, each with its ScheduledStart and
	// IdempotencyKey (a run whose key the tenant has is not created again).
	Runs []FlowRun
	// Until is the new Until: the planned start of the latest of Runs,
	// or Read.Until when there are none.
	Until time.Time
	// Next is when the flow is due again: the first future event, when
	// the window ahead holds one run less; when the schedule's filters
	// matched none of the clock events examined, a later time to look
	// again (an hour at most); zero for never, only when its clocks have
	// no event left (their end dates or last dates passed) or none in the
	// supported range (to 2262).
	Next time.Time
}

// A TaskRun is the latest state of one task run of a flow run.
type TaskRun struct {
	ID       string     // as the runner derives it
	Slug     string     // the task's slug in its flow
	MapIndex int        // -1 when not mapped
	State    state.Kind // any kind: what the runner reported
	Message  string     // the state's message
	Updated  time.Time  // when the runner reported the state
	// Seq orders the states of a task run as its one writer (the flow
	// run's process) numbered them: a state with a smaller Seq than the one
	// kept is ignored. 0 orders by Updated instead.
	Seq int64
}

// A LogLine is one record of a flow run's log, already redacted by the
// runner that sent it.
type LogLine struct {
	Seq int64 // increases along the run's log: a cursor to read on from
	// WriterSeq is the line's number in the run's log, increasing from 1,
	// given by the run's one writer (the flow program that set it
	// Running), or 0: a line sent again with a number the log holds is not
	// added twice.
	WriterSeq int64
	Time      time.Time // when the line was written
	Level     string    // a log/slog level's name, such as "INFO"
	TaskSlug  string    // the task that wrote it, or "" for the flow run
	Message   string    // the line, redacted
}

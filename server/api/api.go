// Package api holds the types and errors shared by the secret store server
// (package server) and its stores (package server/store), so that a store
// satisfies server.Store without either package importing the other.
//
// A store reports a missing key or secret with an error matching
// [ErrNotFound], a refused API key with one matching [ErrUnauthenticated],
// and matches these with errors.Is, never by message.
package api

import (
	"errors"
	"fmt"
	"time"
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
}

// Flow run states, as FlowRun.State holds them. Scheduled runs wait for an
// agent; Submitted ones were claimed by one; Cancelling ones were asked to
// stop. Success, Failed and Cancelled are final.
const (
	RunScheduled  = "Scheduled"
	RunSubmitted  = "Submitted"
	RunRunning    = "Running"
	RunSuccess    = "Success"
	RunFailed     = "Failed"
	RunCancelling = "Cancelling"
	RunCancelled  = "Cancelled"
)

// RunFinished reports whether a flow run in state s is over.
func RunFinished(s string) bool { return s == RunSuccess || s == RunFailed || s == RunCancelled }

// A FlowRun is one run of a flow version.
type FlowRun struct {
	ID          string
	TenantID    string
	FlowID      string
	FlowName    string
	FlowVersion int
	Name        string
	Parameters  []byte   // JSON object
	Labels      []string // the flow's, which the agent must have
	State       string   // a Run* constant
	Message     string   // the state's message
	Version     int      // +1 on every state change, for optimistic updates
	AgentID     string   // the agent that claimed it, or ""
	Heartbeat   time.Time
	Created     time.Time
	Updated     time.Time
}

// A TaskRun is the latest state of one task run of a flow run.
type TaskRun struct {
	ID       string // as the runner derives it
	Slug     string
	MapIndex int // -1 when not mapped
	State    string
	Message  string
	Updated  time.Time
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
	Time      time.Time
	Level     string
	TaskSlug  string
	Message   string
}

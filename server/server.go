// Package server is a Prefect server in one http.Handler, for many
// tenants: Prefect Cloud's GraphQL secrets API, every value sealed at rest
// (package server/seal), and the orchestration of flow runs (flows
// registered, runs created, claimed by agents, reported, cancelled). It
// keeps everything in a [Store] (package server/store: SQLite or
// PostgreSQL, or any implementation of [Store] and [RunStore] over the
// records of package orchestration).
//
//	st, err := store.OpenSQLite(ctx, "/var/lib/prefect/server.db")
//	ring, _, err := seal.LoadOrCreateKeyFile("/var/lib/prefect/master.key")
//	srv := server.New(st, ring)
//	defer srv.Close() // once it stops serving, before st.Close
//	http.ListenAndServe(":4200", srv)
//
// `prefect server start` is this, with tenants and API keys made by
// `prefect server create-tenant` and `create-api-key` (store.SQL's
// CreateTenant and CreateAPIKey); the Example embeds it in a program of
// one's own.
//
// # Requests
//
// Every request is a POST of {"query", "variables", "operationName"} to "/"
// or "/graphql", "variables" being an object, null, or a string holding the
// JSON of either (as Prefect 1's client sends it), with
// "Authorization: Bearer <api key>". The key decides the tenant; an
// "X-Prefect-Tenant-Id" header, when sent, must name that tenant. A missing
// or refused key, or a tenant header naming another tenant, gets a GraphQL
// error whose message holds UNAUTHENTICATED (extensions.code too) and HTTP
// 401; but a request with an "X-Prefect-Core-Version" header, which
// Prefect 1's Python client always sends, gets it with HTTP 200 and "data":
// null, as Prefect Cloud answered: that client raises on any HTTP error
// before it reads the body, and knows a refused key only from such an
// answer. A store failing while it checks the key is HTTP 500 (INTERNAL)
// for everyone, which Prefect 1's client retries. The schema is [Schema];
// package client speaks it all.
//
// The tenant query answers `prefect auth login`, `prefect auth
// list-tenants` and `switch-tenants` of Prefect 1, and Prefect Server's
// default tenant, in the form of Prefect Cloud's Hasura schema (where:
// _eq, _neq, _in, _nin on id, slug and name, _and, _or, _not; order_by;
// limit; offset), but lists the caller's tenant alone: an API key opens one
// tenant. A tenant's slug and name are both its name, as given to
// create-tenant (over a store that is no [TenantNamer], its ID).
//
// A GET of "/" is the web page of package [web], with which people sign in
// with an API key, list, add, update and delete secrets (never seeing a
// value), and watch and cancel flow runs; its files are under "/static/".
//
// # Secrets
//
// set_secret, secret_value, delete_secret and secret_names are Prefect
// Cloud's four operations. A tenant holds up to 10,000 secrets
// ([WithMaxSecrets]). secret_names and secret_metadata answer all of them
// at once, as Prefect 1's client expects; secrets_page answers one page,
// sorted by name (bytewise), with the cursor of the next:
//
//	query($after: String) { secrets_page(limit: 100, after: $after) { names next } }
//
// limit is 1 to [MaxPageSize] ([DefaultPageSize] when not given); after is
// the next of the page before (a name: the page starts after it), null or
// "" for the first page; next is null on the last page. Each page costs
// the store the same however many secrets the tenant holds (over a
// [SecretPager]).
//
// Values are any JSON up to 256 KiB encoded ([WithMaxValueSize]). Only
// secret_value ever returns one; no error, log line or audit event holds
// one. Every set, read, delete and list, and every refused key, is recorded
// with [Store.Record]. Errors of the store reach the caller as generic
// messages.
//
// # Flow runs
//
// A flow run goes across three programs, each with an API key of the
// tenant, and the server keeps its state (a kind of package state; the
// moves are package orchestration's):
//
//  1. A flow program (package program: `myflows register`) registers its
//     flows (register_flow): definition, labels, the command that executes
//     a run, and a run-config environment, which the server seals like a
//     secret. A changed flow is a new version.
//  2. A person or program creates a run of a flow's newest version
//     (create_flow_run; `prefect run`, client.CreateFlowRun), with
//     parameters and an environment of its own, sealed too: the run is
//     Scheduled.
//  3. An agent (package agent: `prefect agent local start`) claims the
//     Scheduled runs whose labels it has (claim_flow_runs), which become
//     Submitted, each to one agent only; it reads the run's environment
//     (flow_run_env: only the agent that claimed it, only while Submitted,
//     every read audited) and starts the flow's command with it.
//  4. The flow program (`myflows execute`) sets the run Running, reports
//     its task runs' states and its log lines (set_task_run_states,
//     write_run_logs), heartbeats, and sets Success or Failed. If the
//     process dies first, its agent sets Failed.
//  5. cancel_flow_run makes a Scheduled run Cancelled at once, a Submitted
//     or Running one Cancelling: its agent kills the process and sets
//     Cancelled.
//
// A run nobody looks after (its agent or process died) is settled by
// store.SQL's ReapFlowRuns, which `prefect server start` calls every half
// minute (--run-timeout 2m: a run Submitted that long is Scheduled again, a
// Running one without a heartbeat that long is Failed) and which a program
// embedding the server calls itself. It deletes the environments of
// finished runs too.
//
// Any API key of a tenant may do all of this; flow_runs, flow_run and
// flow_run_logs read runs as people and the web page do. Without a
// [RunStore] these operations fail saying so.
//
// # What runs write is masked
//
// What flow runs write is stored masked, whatever the client did: a run's
// state message (an agent's report of a dead process's last lines too),
// each task run's id, slug and message, each log line's level, task slug
// and message, and a run's name. Every value of the writer's tenant's
// secrets in them, in the forms package redact knows (base64, URL, JSON,
// Go-quoted, hex), each piece of a JSON table and each line of a
// multi-line value, becomes "********"; so do the values in the tenant's
// flow and run environments whose names look secret (PREFECT__CONTEXT__
// SECRETS__*, *KEY, *TOKEN, *SECRET, *PASSWORD, *PASSWD, *CREDENTIALS, as
// the agent has it). Only the tenant's own secrets: another tenant's,
// masked, would show where its value is. Each such write reads the tenant's secrets stamp
// ([TenantSecrets]), so a secret set through any server sharing the store
// is masked from the next write on. Text that cannot be masked (the
// tenant's secrets cannot be read or opened) is refused, not stored. A
// flow's definition, command, labels and working directory, a run's
// parameters and an agent's ID are stored as sent: runs use them as they
// are; states are names of package state, refused otherwise.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	graphql "github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/web"
)

// Store keeps API keys, sealed secrets and the audit log. Errors match
// orchestration.ErrUnauthenticated (Authenticate) and orchestration.ErrNotFound (Secret,
// DeleteSecret). Implementations must be safe for concurrent use.
type Store interface {
	// Authenticate returns the key whose secret text is key.
	Authenticate(ctx context.Context, key string) (orchestration.KeyInfo, error)
	// PutSecret creates or replaces a secret.
	PutSecret(ctx context.Context, tenantID, name string, s seal.Sealed) (orchestration.SecretMeta, error)
	// Secret returns a secret.
	Secret(ctx context.Context, tenantID, name string) (seal.Sealed, orchestration.SecretMeta, error)
	// DeleteSecret deletes a secret.
	DeleteSecret(ctx context.Context, tenantID, name string) error
	// Secrets lists the secrets of a tenant, sorted by name (bytewise).
	Secrets(ctx context.Context, tenantID string) ([]orchestration.SecretMeta, error)
	// CountSecrets returns how many secrets a tenant holds, leaving out
	// the server's own (names starting ".prefect/").
	CountSecrets(ctx context.Context, tenantID string) (int, error)
	// Record appends to the audit log.
	Record(ctx context.Context, e orchestration.Event) error
	// AuditLog returns the latest limit events of a tenant, newest first.
	AuditLog(ctx context.Context, tenantID string, limit int) ([]orchestration.Event, error)
}

// A SecretLimiter is a [Store] that keeps each tenant's count of secrets
// and refuses, inside the put itself, a new secret beyond a limit, so
// that concurrent sets never pass it. The server puts through it when st
// is one (store.SQL is); otherwise it calls CountSecrets before each put
// of a new name, and concurrent sets may pass the limit by a few.
type SecretLimiter interface {
	// PutSecretWithin is PutSecret, refusing a new secret, with an error
	// matching orchestration.ErrLimit (an *orchestration.LimitError), when the tenant holds
	// limit secrets or more, the server's own (names starting
	// orchestration.ReservedPrefix) not counted.
	PutSecretWithin(ctx context.Context, tenantID, name string, s seal.Sealed, limit int) (orchestration.SecretMeta, error)
}

// A SecretPager is a [Store] that lists a tenant's secrets a page at a
// time, at a cost that does not grow with their number (store.SQL is one).
// The server's secrets_page uses it when st is one; otherwise it lists
// them all with Secrets and hands out the page asked for.
type SecretPager interface {
	// SecretsPage lists up to limit of the tenant's secrets whose names
	// sort after after, sorted by name (bytewise), leaving out the
	// server's own (names starting orchestration.ReservedPrefix); more reports
	// whether others follow.
	SecretsPage(ctx context.Context, tenantID, after string, limit int) (page []orchestration.SecretMeta, more bool, err error)
}

// A KeyUseRecorder is a [Store] that keeps when each API key was last
// used, for its operator to see. The server tells it, in the background,
// of the first request it accepts with a key and then of at most one a
// [KeyUseInterval] per key. store.SQL is one.
type KeyUseRecorder interface {
	// APIKeyUsed notes that the key whose ID is id was accepted at time at.
	APIKeyUsed(ctx context.Context, id string, at time.Time) error
}

// Server is the HTTP handler of the secret store. It is safe for concurrent
// use.
type Server struct {
	st       Store
	runs     RunStore // st, if it keeps runs too; else nil
	ring     *seal.Keyring
	keys     KeySource // nil: ring, always
	maxValue int
	// maxSecrets bounds the secrets of one tenant.
	maxSecrets int
	unknown    unknownKeys
	auth       authCache
	uses       keyUses
	useRec     KeyUseRecorder // st, if it keeps keys' last use; else nil
	limiter    SecretLimiter  // st, if it enforces the limit itself; else nil
	pager      SecretPager    // st, if it lists a page at a time; else nil
	masks      masks          // the tenants' maskers of what runs write
	log        *slog.Logger
	schema     *graphql.Schema
	sched      scheduler // creates the runs of schedules
}

// An Option configures a Server.
type Option func(*Server)

// WithMaxValueSize sets the largest value accepted, in bytes of encoded
// JSON (default [DefaultMaxValueSize]). The request body may hold 1 MiB
// more than that.
func WithMaxValueSize(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxValue = n
		}
	}
}

// WithMaxSecrets sets how many secrets a tenant may hold (default
// [DefaultMaxSecrets]); n <= 0 leaves the default. Setting a new secret
// beyond the limit is refused; replacing one is not. Over a
// [SecretLimiter] (store.SQL) the check costs the same however many
// secrets the tenant holds, and concurrent first sets never pass the
// limit; over another store they may pass it by a few.
func WithMaxSecrets(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxSecrets = n
		}
	}
}

// WithAuthCacheTTL sets how long the server trusts the store's acceptance
// of an API key before asking again (default [AuthCacheTTL]), and so how
// long a revoked key may still be accepted; d <= 0 keeps the default. A
// shorter time asks the store more often: once per d for each key in use.
func WithAuthCacheTTL(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.auth.ttl = d
		}
	}
}

// A KeySource hands out the keyring to seal and open with, as it is now.
// [seal.KeyFile] is one: it follows its file, so that a key rotation
// (`prefect server rotate-key`) reaches a running server.
type KeySource interface {
	// Keyring returns the keyring to use. refresh is true when the server
	// met a value sealed under a key the last keyring lacked: a source that
	// can look again should do so now. With an error, the keyring (or nil)
	// is the one to open with meanwhile; the server seals nothing until the
	// error is gone, since the source may have retired that keyring's key.
	Keyring(refresh bool) (*seal.Keyring, error)
}

// WithKeySource makes the server ask src for its keyring before each seal
// and open, instead of using the keyring given to [New] (which src's first
// answer replaces).
func WithKeySource(src KeySource) Option {
	return func(s *Server) { s.keys = src }
}

// keyring returns the keyring to use now. err is the key source's error,
// logged here: with it, the keyring returned still opens but must not seal.
func (s *Server) keyring(ctx context.Context, refresh bool) (*seal.Keyring, error) {
	if s.keys == nil {
		return s.ring, nil
	}
	r, err := s.keys.Keyring(refresh)
	if err != nil {
		s.log.ErrorContext(ctx, "secret server: reading the master keys", "err", err)
	}
	if r == nil {
		r = s.ring
	}
	return r, err
}

// WithLogger sets where the server reports failures of the store (never a
// value or key); by default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// New returns a server of the secrets in st, sealed under ring.
func New(st Store, ring *seal.Keyring, opts ...Option) *Server {
	s := &Server{
		st:         st,
		ring:       ring,
		maxValue:   DefaultMaxValueSize,
		maxSecrets: DefaultMaxSecrets,
		unknown:    unknownKeys{every: time.Minute},
		auth:       authCache{ttl: AuthCacheTTL},
		log:        slog.New(slog.DiscardHandler),
		sched:      scheduler{ahead: DefaultScheduledRuns},
	}
	s.runs, _ = st.(RunStore)
	s.useRec, _ = st.(KeyUseRecorder)
	s.limiter, _ = st.(SecretLimiter)
	s.pager, _ = st.(SecretPager)
	if s.runs != nil {
		s.sched.st, _ = st.(ScheduleStore)
	}
	for _, o := range opts {
		o(s)
	}
	s.schema = graphql.MustParseSchema(Schema, &resolver{s},
		graphql.MaxDepth(8),
		graphql.MaxQueryLength(maxQueryLength),
		graphql.MaxParallelism(4),
		graphql.RestrictIntrospection(func(context.Context) bool { return false }),
	)
	s.startScheduler()
	return s
}

type ctxKey struct{}

// ServeHTTP answers one GraphQL request, or a GET or HEAD of the web page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page := r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/static/")
	if page && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		web.Handler().ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/" && r.URL.Path != "/graphql" {
		writeError(w, http.StatusNotFound, "no such path: the API is at / and /graphql", "NOT_FOUND")
		return
	}
	if r.Method != http.MethodPost {
		if r.URL.Path == "/" {
			w.Header().Set("Allow", "GET, HEAD, POST")
		} else {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: POST a GraphQL request", "METHOD_NOT_ALLOWED")
		return
	}
	// The key is checked before the body is read: a caller without one
	// costs no more than its headers.
	key, status, msg := s.authenticate(r)
	if status != 0 {
		code := "UNAUTHENTICATED"
		if status == http.StatusInternalServerError {
			code = "INTERNAL"
		}
		if status == http.StatusUnauthorized && fromPrefect1Client(r) {
			// Prefect 1's client raises on any HTTP error status before it
			// reads the body: only a 200 whose errors say UNAUTHENTICATED,
			// as Prefect Cloud answered, becomes its AuthorizationError
			// ("Unauthorized. Invalid Prefect Cloud API key."). A 500
			// stays a 500, which that client retries.
			writeErrorData(w, http.StatusOK, msg, code)
			return
		}
		writeError(w, status, msg, code)
		return
	}

	limit := int64(s.maxValue) + maxBodyOverhead
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "the request body is larger than the limit of "+sizeText(int(limit)), "PAYLOAD_TOO_LARGE")
			return
		}
		writeError(w, http.StatusBadRequest, "the request body could not be read", "BAD_REQUEST")
		return
	}

	req, err := decodeRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "BAD_REQUEST")
		return
	}
	if err := checkQueryShape(req.Query); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "BAD_REQUEST")
		return
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, key)
	ctx = context.WithValue(ctx, readsKey{}, new(atomic.Int32))
	resp := s.schema.Exec(ctx, req.Query, req.OperationName, req.Variables)
	if len(resp.Errors) > 0 {
		quoted := stringsIn(req.Variables, nil)
		for _, e := range resp.Errors {
			sanitize(e, quoted)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(resp)
}

// authenticate returns the caller's key, or the HTTP status and message of
// the refusal.
func (s *Server) authenticate(r *http.Request) (orchestration.KeyInfo, int, string) {
	ctx := r.Context()
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		s.recordUnknownKey(ctx)
		return orchestration.KeyInfo{}, http.StatusUnauthorized, "UNAUTHENTICATED: no API key: send \"Authorization: Bearer <api key>\""
	}
	h := tokenHash(token)
	now := time.Now().UTC()
	key, cached := s.auth.get(h, now)
	var err error
	if !cached {
		// Trusted from the time before the store was asked, not after it
		// answered: a key revoked while it answered is refused at most
		// the cache's TTL after the revocation.
		if key, err = s.st.Authenticate(ctx, token); err == nil {
			s.auth.put(h, key, now)
		}
	}
	switch {
	case errors.Is(err, orchestration.ErrUnauthenticated):
		s.recordUnknownKey(ctx)
		return orchestration.KeyInfo{}, http.StatusUnauthorized, "UNAUTHENTICATED: the API key is unknown or revoked"
	case err != nil:
		s.log.ErrorContext(ctx, "secret server: authenticating an API key", "err", err)
		return orchestration.KeyInfo{}, http.StatusInternalServerError, "internal error: the request could not be authenticated; try again later"
	}
	if t := r.Header.Get("X-Prefect-Tenant-Id"); t != "" && t != key.TenantID {
		s.record(ctx, orchestration.Event{TenantID: key.TenantID, KeyID: key.ID, Operation: orchestration.OpAuthenticate, Outcome: orchestration.OutcomeDenied})
		return orchestration.KeyInfo{}, http.StatusUnauthorized, "UNAUTHENTICATED: the API key does not belong to the tenant named by X-Prefect-Tenant-Id"
	}
	s.keyUsed(key.ID, now)
	return key, 0, ""
}

// keyUsed tells the store, in the background, that the key was accepted
// at now, if it keeps that and has not been told for KeyUseInterval.
func (s *Server) keyUsed(id string, now time.Time) {
	if s.useRec == nil || !s.uses.due(id, now) {
		return
	}
	s.uses.bg.Go(func() {
		// Not the request's context: the request may end first.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.useRec.APIKeyUsed(ctx, id, now); err != nil {
			s.uses.failed(id, now)
			s.log.Warn("secret server: noting an API key's use", "api_key_id", id, "err", err)
		}
	})
}

// UnknownKeyAuditRate is how many refused attempts without a known API key
// the audit log records one by one each minute. The rest of the minute's
// are summed up in one event (Count) when the minute ends, so that a flood
// of bad keys cannot flood the database.
const UnknownKeyAuditRate = 60

// unknownKeys counts refused attempts without a known key, per minute.
type unknownKeys struct {
	every      time.Duration // the window: a minute, shorter in tests
	flushing   sync.Mutex    // held by flushUnknownKeys
	mu         sync.Mutex
	window     time.Time   // start of the current minute's window
	recorded   int         // events written one by one in the window
	suppressed int         // attempts not written yet
	last       time.Time   // time of the last suppressed attempt
	timer      *time.Timer // will write the window's sum; nil if none is due
	closed     bool        // Close has run: write sums at once
}

// recordUnknownKey records a refused attempt without a known key, one by
// one up to UnknownKeyAuditRate a minute, then summed up.
func (s *Server) recordUnknownKey(ctx context.Context) {
	u := &s.unknown
	now := time.Now().UTC()
	u.mu.Lock()
	if now.Sub(u.window) >= u.every {
		u.window, u.recorded = now, 0
	}
	if u.recorded < UnknownKeyAuditRate {
		u.recorded++
		u.mu.Unlock()
		s.record(ctx, orchestration.Event{Operation: orchestration.OpAuthenticate, Outcome: orchestration.OutcomeDenied})
		return
	}
	u.suppressed++
	u.last = now
	if u.closed {
		u.mu.Unlock()
		s.flushUnknownKeys()
		return
	}
	if u.timer == nil {
		// The request's context ends with it: the sum is written apart.
		u.timer = time.AfterFunc(u.window.Add(u.every).Sub(now), s.flushUnknownKeys)
	}
	u.mu.Unlock()
}

// flushUnknownKeys writes the sum of the attempts recordUnknownKey held back.
func (s *Server) flushUnknownKeys() {
	u := &s.unknown
	// Held while writing, so that Close returns only once a sum in flight
	// is written.
	u.flushing.Lock()
	defer u.flushing.Unlock()
	u.mu.Lock()
	n, last := u.suppressed, u.last
	u.suppressed = 0
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	u.mu.Unlock()
	if n == 0 {
		return
	}
	e := orchestration.Event{Time: last, Operation: orchestration.OpAuthenticate, Outcome: orchestration.OutcomeDenied, Count: n}
	if err := s.st.Record(context.Background(), e); err != nil {
		s.log.Error("secret server: recording the sum of refused unknown keys", "count", n, "err", err)
	}
}

// Close writes to the audit log the sum of refused attempts it holds back
// (see [UnknownKeyAuditRate]), at once rather than when their minute ends,
// and waits for the maskers of run text it is building in the background
// and for the notes of keys' use it is writing. Call it when the server
// has stopped serving, before closing its store.
// Requests that come after it are recorded at once too. It stops the
// scheduler ([WithScheduler]), waiting for a pass under way to end.
func (s *Server) Close() error {
	s.stopScheduler()
	s.unknown.mu.Lock()
	s.unknown.closed = true
	s.unknown.mu.Unlock()
	s.flushUnknownKeys()
	s.masks.bg.Wait() // maskers being built again read the store
	s.uses.bg.Wait()
	return nil
}

// record appends e to the audit log, reporting whether it could.
func (s *Server) record(ctx context.Context, e orchestration.Event) bool {
	e.Time = time.Now().UTC()
	if err := s.st.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "secret server: recording an audit event",
			"tenant", e.TenantID, "operation", e.Operation, "secret", e.SecretName, "outcome", e.Outcome, "err", err)
		return false
	}
	return true
}

// sanitize keeps the errors of the GraphQL library from quoting a value
// the request held (its messages about variables end with "found <value>"
// or start "could not unmarshal <value> (<type>) into"): it cuts those
// parts, and masks what is left of the strings in quoted. The messages of
// the resolvers are safe as they are.
func sanitize(e *gqlerrors.QueryError, quoted []string) {
	if e.ResolverError != nil {
		return
	}
	msg, _, cut := strings.Cut(e.Message, "\n")
	if rest, ok := strings.CutPrefix(e.Message, "could not unmarshal "); ok {
		msg, cut = "could not unmarshal a variable's value (not shown)", true
		if i := strings.LastIndex(rest, ") into "); i >= 0 {
			msg += " into " + rest[i+len(") into "):]
		}
	}
	if i := strings.Index(msg, " has invalid value "); i >= 0 {
		msg, cut = msg[:i]+" has an invalid value (not shown)", true
	}
	if i := strings.Index(msg, ", found "); i >= 0 {
		msg, cut = msg[:i], true
	}
	// Literals written in the query itself: "String cannot represent a
	// non string value: <literal>", "syntax error: unexpected <token>, ...".
	if i := strings.Index(msg, " value: "); i >= 0 {
		msg, cut = msg[:i]+" value (not shown)", true
	}
	if strings.HasPrefix(msg, "no operation with name ") {
		msg, cut = "the query has no operation of the name operationName gives (not shown)", true
	}
	if rest, ok := strings.CutPrefix(msg, "syntax error: unexpected "); ok {
		msg, cut = "syntax error: unexpected token (not shown)", true
		if _, expecting, ok := strings.Cut(rest, ", expecting "); ok {
			msg += ", expecting " + expecting
		}
	}
	if cut {
		msg = strings.TrimSuffix(msg, ".") + "."
	}
	// The library's later lines explain a variable's invalid value by the
	// schema ("Expected type ...", "Field ... is not defined by type ...",
	// "In field ..."): keep those, without what was found.
	if _, more, ok := strings.Cut(e.Message, "\n"); ok && !strings.HasPrefix(e.Message, "could not unmarshal ") {
		for line := range strings.Lines(more) {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "Expected type ") && !strings.HasPrefix(line, "In field ") &&
				!(strings.HasPrefix(line, "Field ") && strings.Contains(line, " is not defined by type ")) {
				continue
			}
			if i := strings.Index(line, ", found "); i >= 0 {
				line = line[:i] + "."
			}
			msg += " " + line
		}
	}
	for _, q := range quoted {
		msg = strings.ReplaceAll(msg, q, "(not shown)")
	}
	e.Message = msg
}

// stringsIn appends the strings of v, a decoded JSON value, of 3 bytes or
// more (shorter ones would mask words of the message).
func stringsIn(v any, out []string) []string {
	switch v := v.(type) {
	case string:
		if len(v) >= 3 {
			out = append(out, v)
		}
	case map[string]any:
		for _, x := range v {
			out = stringsIn(x, out)
		}
	case []any:
		for _, x := range v {
			out = stringsIn(x, out)
		}
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg, code string) {
	writeErrorBody(w, status, errorBody(msg, code))
}

// writeErrorData is writeError with "data": null, the answer of a GraphQL
// request that was not executed, as Prefect Cloud gave it.
func writeErrorData(w http.ResponseWriter, status int, msg, code string) {
	body := errorBody(msg, code)
	body["data"] = nil
	writeErrorBody(w, status, body)
}

// errorBody is the answer of one GraphQL error, msg with code.
func errorBody(msg, code string) map[string]any {
	return map[string]any{
		"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}},
	}
}

func writeErrorBody(w http.ResponseWriter, status int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// prefect1Header is the header Prefect 1's Python client sends with every
// request (its version, e.g. "1.4.1"), and that neither package client nor
// the web page sends.
const prefect1Header = "X-Prefect-Core-Version"

// fromPrefect1Client reports whether r comes from Prefect 1's Python
// client, which reads a refused key only from a 200 answer.
func fromPrefect1Client(r *http.Request) bool {
	return r.Header.Get(prefect1Header) != ""
}

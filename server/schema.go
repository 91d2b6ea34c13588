package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prefect-go/prefect/orchestration"
)

// Schema is the GraphQL schema the server answers: the secrets of Prefect
// Cloud's API, the orchestration of flow runs (see runs.go) and the
// caller's tenant (see tenant.go).
const Schema = secretsSchema + runsSchema + schedulesSchema + tenantSchema

const secretsSchema = `
schema {
	query: Query
	mutation: Mutation
}

"Any JSON value."
scalar JSON

input set_secret_input {
	name: String!
	value: JSON!
}

input delete_secret_input {
	name: String!
}

type success_payload {
	success: Boolean
}

type Mutation {
	set_secret(input: set_secret_input!): success_payload
	delete_secret(input: delete_secret_input!): success_payload
}

type Query {
	secret_value(name: String!): JSON
	"Every secret's name, sorted: Prefect's query. secrets_page lists them a page at a time."
	secret_names: [String!]!
	secret_metadata: [secret_metadata!]!
	"""
	One page of the secrets, sorted by name (bytewise): up to limit (1 to 1000;
	100 when not given) whose names sort after after (the next of the page
	before; null or "" for the first page).
	"""
	secrets_page(limit: Int, after: String): secrets_page!
	audit_log(limit: Int): [audit_event!]!
	auth_info: auth_info!
}

type auth_info {
	tenant_id: String!
	api_key_id: String!
}

"A secret, never its value. Times are RFC 3339."
type secret_metadata {
	name: String!
	version: Int!
	created: String!
	updated: String!
}

"A page of secrets_page."
type secrets_page {
	"The names on the page, sorted."
	names: [String!]!
	"The same secrets, with their versions and times."
	secrets: [secret_metadata!]!
	"The after of the next page (the page's last name), or null when this is the last."
	next: String
}

"An entry of the audit log. It never holds a value."
type audit_event {
	time: String!
	tenant_id: String!
	api_key_id: String!
	operation: String!
	secret_name: String!
	outcome: String!
	"How many like attempts this event stands for: 1 but for refused unknown keys summed up."
	count: Int!
}
`

const (
	notFoundText     = "No value found for the requested key"
	maxNameLen       = 256
	defaultAuditRows = 100
	maxAuditRows     = 1000
)

// gqlError is an error a resolver returns: a message safe to show and a
// code for extensions.code.
type gqlError struct {
	msg, code string
}

func (e *gqlError) Error() string              { return e.msg }
func (e *gqlError) Extensions() map[string]any { return map[string]any{"code": e.code} }
func userError(format string, a ...any) *gqlError {
	return &gqlError{fmt.Sprintf(format, a...), "BAD_USER_INPUT"}
}

var (
	errNotFound = &gqlError{notFoundText, "NOT_FOUND"}
	errInternal = &gqlError{"internal error: the server's store failed; try again later", "INTERNAL"}
	errConflict = &gqlError{"the secret was changed at the same time by another request; try again", "CONFLICT"}
)

// JSON is the JSON scalar: any JSON value, kept as its encoding.
type JSON struct{ raw json.RawMessage }

// ImplementsGraphQLType makes JSON the GraphQL scalar JSON.
func (JSON) ImplementsGraphQLType(name string) bool { return name == "JSON" }

// UnmarshalGraphQL takes the value of a variable or literal. Its errors
// never quote the value.
func (j *JSON) UnmarshalGraphQL(input any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(input); err != nil {
		return fmt.Errorf("the JSON value (a %T) cannot be encoded as JSON", input)
	}
	j.raw = bytes.TrimSpace(b.Bytes())
	return nil
}

// MarshalJSON returns the value's encoding.
func (j JSON) MarshalJSON() ([]byte, error) {
	if j.raw == nil {
		return []byte("null"), nil
	}
	return j.raw, nil
}

type resolver struct{ s *Server }

// readsKey keys the request's count of secret_value resolutions.
type readsKey struct{}

type successPayload struct{ ok bool }

func (p *successPayload) Success() *bool { return &p.ok }

func caller(ctx context.Context) orchestration.KeyInfo {
	k, _ := ctx.Value(ctxKey{}).(orchestration.KeyInfo)
	return k
}

// checkName returns why name is not a valid secret name, quoting nothing of
// it (a value pasted as a name stays unshown).
func checkName(name string) error {
	const allowed = "ASCII letters, digits, _ - . and /"
	if name == "" || len(name) > maxNameLen {
		return userError("invalid secret name: it is %d bytes long; a name is 1 to %d characters of %s", len(name), maxNameLen, allowed)
	}
	for i, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./", c) >= 0
		if !ok {
			return userError("invalid secret name: byte %d is not allowed; a name is 1 to %d characters of %s", i+1, maxNameLen, allowed)
		}
	}
	if strings.HasPrefix(name, reservedPrefix) {
		return userError("invalid name: names starting with %s are the server's own", reservedPrefix)
	}
	return nil
}

// event records one operation of the caller on a secret.
func (r *resolver) event(ctx context.Context, op, name, outcome string) bool {
	k := caller(ctx)
	return r.s.record(ctx, orchestration.Event{TenantID: k.TenantID, KeyID: k.ID, Operation: op, SecretName: name, Outcome: outcome})
}

// storeError maps an error of the store to a message safe to show, and
// records the outcome.
func (r *resolver) storeError(ctx context.Context, op, name string, err error) error {
	switch {
	case errors.Is(err, orchestration.ErrNotFound):
		r.event(ctx, op, name, orchestration.OutcomeNotFound)
		return errNotFound
	case errors.Is(err, orchestration.ErrConflict), errors.Is(err, orchestration.ErrExists):
		r.event(ctx, op, name, orchestration.OutcomeError)
		return errConflict
	}
	r.s.log.ErrorContext(ctx, "secret server: store failed", "operation", op, "secret", name, "err", err)
	r.event(ctx, op, name, orchestration.OutcomeError)
	return errInternal
}

type setSecretArgs struct {
	Input struct {
		Name  string
		Value JSON
	}
}

func (r *resolver) SetSecret(ctx context.Context, args setSecretArgs) (*successPayload, error) {
	name, value := args.Input.Name, args.Input.Value.raw
	if err := checkName(name); err != nil {
		r.event(ctx, orchestration.OpSetSecret, "", orchestration.OutcomeInvalid)
		return nil, err
	}
	if len(value) == 0 || string(value) == "null" {
		r.event(ctx, orchestration.OpSetSecret, name, orchestration.OutcomeInvalid)
		return nil, userError("invalid value for secret %q: null is not a secret value", name)
	}
	if len(value) > r.s.maxValue {
		r.event(ctx, orchestration.OpSetSecret, name, orchestration.OutcomeInvalid)
		return nil, userError("the value of secret %q is %s as JSON, over the limit of %s", name, sizeText(len(value)), sizeText(r.s.maxValue))
	}
	k := caller(ctx)
	if r.s.limiter == nil {
		if err := r.roomFor(ctx, k.TenantID, name); err != nil {
			return nil, err
		}
	}
	ring, err := r.s.keyring(ctx, false)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpSetSecret, name, err)
	}
	sealed, err := ring.Seal(k.TenantID, name, value)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpSetSecret, name, err)
	}
	if r.s.limiter != nil {
		_, err = r.s.limiter.PutSecretWithin(ctx, k.TenantID, name, sealed, r.s.maxSecrets)
	} else {
		_, err = r.s.st.PutSecret(ctx, k.TenantID, name, sealed)
	}
	var full *orchestration.LimitError
	if errors.As(err, &full) { // refused: nothing was stored
		return nil, r.noRoom(ctx, name, full.Held)
	}
	r.s.secretsChanged(k.TenantID) // also after an error: it may have been stored
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpSetSecret, name, err)
	}
	r.event(ctx, orchestration.OpSetSecret, name, orchestration.OutcomeOK)
	return &successPayload{ok: true}, nil
}

// roomFor refuses a new secret when the tenant holds the most it may, for
// a store that is no SecretLimiter: it counts before the put, so that
// concurrent sets may pass the limit by a few. Replacing a secret needs
// no room; only a new name is counted.
func (r *resolver) roomFor(ctx context.Context, tenantID, name string) error {
	_, _, err := r.s.st.Secret(ctx, tenantID, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, orchestration.ErrNotFound) {
		return r.storeError(ctx, orchestration.OpSetSecret, name, err)
	}
	n, err := r.s.st.CountSecrets(ctx, tenantID)
	if err != nil {
		return r.storeError(ctx, orchestration.OpSetSecret, name, err)
	}
	if n >= r.s.maxSecrets {
		return r.noRoom(ctx, name, n)
	}
	return nil
}

// noRoom records and returns the refusal of a new secret name when the
// tenant holds held secrets, the most it may.
func (r *resolver) noRoom(ctx context.Context, name string, held int) error {
	r.event(ctx, orchestration.OpSetSecret, name, orchestration.OutcomeInvalid)
	return userError("secret %q not set: the tenant holds %d secrets, the most it may (delete some first)", name, held)
}

type deleteSecretArgs struct {
	Input struct{ Name string }
}

func (r *resolver) DeleteSecret(ctx context.Context, args deleteSecretArgs) (*successPayload, error) {
	name := args.Input.Name
	if err := checkName(name); err != nil {
		r.event(ctx, orchestration.OpDeleteSecret, "", orchestration.OutcomeInvalid)
		return nil, err
	}
	err := r.s.st.DeleteSecret(ctx, caller(ctx).TenantID, name)
	r.s.secretsChanged(caller(ctx).TenantID)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpDeleteSecret, name, err)
	}
	r.event(ctx, orchestration.OpDeleteSecret, name, orchestration.OutcomeOK)
	return &successPayload{ok: true}, nil
}

func (r *resolver) SecretValue(ctx context.Context, args struct{ Name string }) (*JSON, error) {
	// The query's shape was checked for one secret_value; this holds even
	// if a query slips past that check.
	if n, _ := ctx.Value(readsKey{}).(*atomic.Int32); n != nil && n.Add(1) > 1 {
		return nil, userError("a request may read one secret_value")
	}
	if err := checkName(args.Name); err != nil {
		r.event(ctx, orchestration.OpSecretValue, "", orchestration.OutcomeInvalid)
		return nil, err
	}
	k := caller(ctx)
	sealed, _, err := r.s.st.Secret(ctx, k.TenantID, args.Name)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpSecretValue, args.Name, err)
	}
	value, err := r.s.open(ctx, k.TenantID, args.Name, sealed)
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpSecretValue, args.Name, err)
	}
	// A value is handed out only once its reading is on record.
	if !r.event(ctx, orchestration.OpSecretValue, args.Name, orchestration.OutcomeOK) {
		return nil, errInternal
	}
	return &JSON{raw: value}, nil
}

func (r *resolver) list(ctx context.Context, op string) ([]orchestration.SecretMeta, error) {
	metas, err := r.s.st.Secrets(ctx, caller(ctx).TenantID)
	metas = slices.DeleteFunc(metas, func(m orchestration.SecretMeta) bool { return strings.HasPrefix(m.Name, reservedPrefix) })
	if err != nil {
		return nil, r.storeError(ctx, op, "", err)
	}
	r.event(ctx, op, "", orchestration.OutcomeOK)
	return metas, nil
}

func (r *resolver) SecretNames(ctx context.Context) ([]string, error) {
	metas, err := r.list(ctx, orchestration.OpSecretNames)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(metas))
	for i, m := range metas {
		names[i] = m.Name
	}
	return names, nil
}

type secretsPageArgs struct {
	Limit *int32
	After *string
}

// SecretsPage answers secrets_page: keyset pagination on the name, over
// the store's SecretsPage when it has one.
func (r *resolver) SecretsPage(ctx context.Context, args secretsPageArgs) (*secretsPage, error) {
	limit := DefaultPageSize
	if args.Limit != nil {
		limit = int(*args.Limit)
		if limit < 1 || limit > MaxPageSize {
			r.event(ctx, orchestration.OpSecretsPage, "", orchestration.OutcomeInvalid)
			return nil, userError("invalid limit %d: want 1 to %d secrets a page (%d when not given)", limit, MaxPageSize, DefaultPageSize)
		}
	}
	after := ""
	if args.After != nil {
		after = *args.After
	}
	if len(after) > maxNameLen {
		// Not quoted: it may be anything pasted.
		r.event(ctx, orchestration.OpSecretsPage, "", orchestration.OutcomeInvalid)
		return nil, userError("invalid after: it is %d bytes long; want the next of the page before, a name of at most %d", len(after), maxNameLen)
	}
	tenantID := caller(ctx).TenantID
	var page []orchestration.SecretMeta
	var more bool
	var err error
	if r.s.pager != nil {
		page, more, err = r.s.pager.SecretsPage(ctx, tenantID, after, limit)
	} else {
		page, more, err = r.pageOfAll(ctx, tenantID, after, limit)
	}
	if err != nil {
		return nil, r.storeError(ctx, orchestration.OpSecretsPage, "", err)
	}
	r.event(ctx, orchestration.OpSecretsPage, "", orchestration.OutcomeOK)
	p := &secretsPage{metas: page}
	if more && len(page) > 0 {
		p.next = &page[len(page)-1].Name
	}
	return p, nil
}

// pageOfAll is SecretsPage for a store that is no SecretPager: it lists
// every secret and cuts the page out.
func (r *resolver) pageOfAll(ctx context.Context, tenantID, after string, limit int) ([]orchestration.SecretMeta, bool, error) {
	metas, err := r.s.st.Secrets(ctx, tenantID)
	if err != nil {
		return nil, false, err
	}
	metas = slices.DeleteFunc(metas, func(m orchestration.SecretMeta) bool { return strings.HasPrefix(m.Name, reservedPrefix) })
	i, found := slices.BinarySearchFunc(metas, after, func(m orchestration.SecretMeta, name string) int { return strings.Compare(m.Name, name) })
	if found {
		i++
	}
	metas = metas[i:]
	if len(metas) > limit {
		return metas[:limit], true, nil
	}
	return metas, false, nil
}

type secretsPage struct {
	metas []orchestration.SecretMeta
	next  *string
}

func (p *secretsPage) Names() []string {
	names := make([]string, len(p.metas))
	for i, m := range p.metas {
		names[i] = m.Name
	}
	return names
}

func (p *secretsPage) Secrets() []*secretMetadata {
	out := make([]*secretMetadata, len(p.metas))
	for i, m := range p.metas {
		out[i] = &secretMetadata{m}
	}
	return out
}

func (p *secretsPage) Next() *string { return p.next }

func (r *resolver) SecretMetadata(ctx context.Context) ([]*secretMetadata, error) {
	metas, err := r.list(ctx, orchestration.OpSecretMeta)
	if err != nil {
		return nil, err
	}
	out := make([]*secretMetadata, len(metas))
	for i, m := range metas {
		out[i] = &secretMetadata{m}
	}
	return out, nil
}

func (r *resolver) AuditLog(ctx context.Context, args struct{ Limit *int32 }) ([]*auditEvent, error) {
	limit := defaultAuditRows
	if args.Limit != nil {
		if *args.Limit < 1 || *args.Limit > maxAuditRows {
			return nil, userError("invalid limit %d: want 1 to %d", *args.Limit, maxAuditRows)
		}
		limit = int(*args.Limit)
	}
	events, err := r.s.st.AuditLog(ctx, caller(ctx).TenantID, limit)
	if err != nil {
		r.s.log.ErrorContext(ctx, "secret server: reading the audit log", "err", err)
		return nil, errInternal
	}
	out := make([]*auditEvent, len(events))
	for i, e := range events {
		out[i] = &auditEvent{e}
	}
	return out, nil
}

func (r *resolver) AuthInfo(ctx context.Context) *authInfo {
	return &authInfo{caller(ctx)}
}

type authInfo struct{ k orchestration.KeyInfo }

func (a *authInfo) TenantID() string { return a.k.TenantID }
func (a *authInfo) APIKeyID() string { return a.k.ID }

type secretMetadata struct{ m orchestration.SecretMeta }

func (m *secretMetadata) Name() string    { return m.m.Name }
func (m *secretMetadata) Version() int32  { return int32(m.m.Version) }
func (m *secretMetadata) Created() string { return rfc3339(m.m.Created) }
func (m *secretMetadata) Updated() string { return rfc3339(m.m.Updated) }

type auditEvent struct{ e orchestration.Event }

func (e *auditEvent) Time() string       { return rfc3339(e.e.Time) }
func (e *auditEvent) TenantID() string   { return e.e.TenantID }
func (e *auditEvent) APIKeyID() string   { return e.e.KeyID }
func (e *auditEvent) Operation() string  { return e.e.Operation }
func (e *auditEvent) SecretName() string { return e.e.SecretName }
func (e *auditEvent) Outcome() string    { return e.e.Outcome }
func (e *auditEvent) Count() int32       { return int32(max(e.e.Count, 1)) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sizeText writes n bytes as KiB when a whole number of them.
func sizeText(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

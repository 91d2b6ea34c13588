// Package store keeps the secret store server's data: tenants, their API
// keys, their sealed secrets and an audit log.
//
// The store never sees a secret's value. The server seals each value with
// package seal before it calls [Store.PutSecret], and opens what
// [Store.Secret] returns; the store keeps the [seal.Sealed] fields byte for
// byte. Nor does it keep API keys: [Store.CreateAPIKey] hands the key out
// once and stores only its SHA-256, which [Store.Authenticate] looks up.
// [Store.RevokeAPIKey] moves a key's row out of Authenticate's reach,
// keeping its ID, name and times for [Store.APIKeys] and the audit log.
//
// Every tenant's data is apart: each method that takes a tenant ID reads and
// writes only that tenant's rows. A tenant ID comes from [Store.Tenant] or
// [Store.Authenticate], never from a client.
//
//	st, err := store.OpenSQLite(ctx, "/var/lib/prefect/secrets.db")
//	t, err := st.CreateTenant(ctx, "acme")
//	key, info, err := st.CreateAPIKey(ctx, t.ID, "ci") // show key once
//	s, err := seal.Seal(master, t.ID, "DB_PASSWORD", value)
//	meta, err := st.PutSecret(ctx, t.ID, "DB_PASSWORD", s)
//
// A tenant of many secrets costs no more per write than one of few: each
// tenant's row keeps its count of secrets, which puts and deletes change
// in their own transactions, so that [Store.PutSecretWithin] enforces a
// limit however many write at once, and [Store.SecretsPage] lists them a
// page at a time, from a name on (keyset pagination):
//
//	page, more, err := st.SecretsPage(ctx, t.ID, "", 100) // the first 100
//	page, more, err = st.SecretsPage(ctx, t.ID, page[99].Name, 100) // the next
//
// Programs of an earlier schema (6 or less) do not keep the count: stop
// them before one of this version migrates a database they share.
//
// Errors match [ErrNotFound], [ErrExists], [ErrUnauthenticated],
// [ErrConflict] and [ErrLimit] with errors.Is. They name the tenant (by
// ID) and the secret (by name), never an API key, a wrapped key or a
// ciphertext.
//
// A [Store] is safe for concurrent use.
package store

import (
	"context"
	"time"

	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server/seal"
)

// The errors and the KeyInfo, SecretMeta and Event types are those of
// package orchestration, which the server shares with its stores: a *SQL is a
// server.Store, and errors.Is(err, store.ErrNotFound) and
// errors.Is(err, orchestration.ErrNotFound) agree.
var (
	// ErrNotFound is matched by the error for a tenant or secret that does
	// not exist (for the tenant asked about).
	ErrNotFound = orchestration.ErrNotFound
	// ErrExists is matched by the error for a tenant name, or an API key
	// name within a tenant, that is taken.
	ErrExists = orchestration.ErrExists
	// ErrUnauthenticated is matched by the error for an API key that is
	// empty or unknown.
	ErrUnauthenticated = orchestration.ErrUnauthenticated
	// ErrConflict is matched by the error of [Store.SwapSealed] when the row
	// changed (or went) since it was read.
	ErrConflict = orchestration.ErrConflict
	// ErrLimit is matched by the error of [Store.PutSecretWithin] for a new
	// secret beyond the tenant's limit, a *[LimitError].
	ErrLimit = orchestration.ErrLimit
)

// A LimitError refuses a new secret beyond its tenant's limit: Held, Max.
type LimitError = orchestration.LimitError

// A Tenant owns API keys and secrets. Its ID is what every other method
// takes; its Name is what people type.
type Tenant struct {
	ID      string    // a UUID, used by every other method
	Name    string    // unique, as people type it
	Created time.Time // when it was made
}

// KeyInfo describes an API key, never the key itself:
// ID, TenantID, Name, Created.
type KeyInfo = orchestration.KeyInfo

// SecretMeta describes a secret, never its value. Version is 1 when the
// secret is first put and grows by one with each later put; Created is the
// time of the first put and Updated that of the last.
type SecretMeta = orchestration.SecretMeta

// An Event is one line of the audit log. It never holds a value or a key:
// KeyID is the ID of the API key that acted (KeyInfo.ID), Operation what it
// did (an orchestration.Op* constant), SecretName the secret's name if any, Outcome
// how it went (an orchestration.Outcome* constant). TenantID and KeyID are "" for a
// key that was not recognised. The store does not interpret them.
type Event = orchestration.Event

// A SealedRow is one secret's sealed value with its place, as
// [Store.SealedNotUnder] reads it for key rotation.
type SealedRow struct {
	TenantID string      // the secret's tenant
	Name     string      // the secret's name
	Sealed   seal.Sealed // its sealed value as stored
}

// Store is the storage the secret store server needs. [SQL] implements it.
type Store interface {
	// CreateTenant creates a tenant with a new ID. The error matches
	// ErrExists when the name is taken.
	CreateTenant(ctx context.Context, name string) (Tenant, error)
	// Tenant returns the tenant with the given name, or ErrNotFound.
	Tenant(ctx context.Context, name string) (Tenant, error)

	// CreateAPIKey makes a new API key for the tenant: "pgo_" and 32 random
	// bytes in unpadded base64url. The key is returned once and not stored,
	// only its SHA-256. The error matches ErrNotFound for an unknown tenant
	// and ErrExists when the tenant has a key of that name.
	CreateAPIKey(ctx context.Context, tenantID, name string) (key string, info KeyInfo, err error)
	// Authenticate returns the key's description, or an error matching
	// ErrUnauthenticated for an empty, unknown or revoked key.
	Authenticate(ctx context.Context, key string) (KeyInfo, error)
	// APIKeys lists the tenant's keys, oldest first, with the revoked
	// ones if revoked is true.
	APIKeys(ctx context.Context, tenantID string, revoked bool) ([]APIKey, error)
	// RevokeAPIKey revokes the key whose ID is id. The error matches
	// ErrRevoked for a key revoked already, ErrNotFound for an unknown ID.
	RevokeAPIKey(ctx context.Context, id string) (KeyInfo, error)
	// APIKeyUsed notes that the key whose ID is id was accepted at time at.
	APIKeyUsed(ctx context.Context, id string, at time.Time) error

	// PutSecret stores s as the tenant's secret name, creating it at
	// version 1 or replacing it with the next version. The error matches
	// ErrNotFound for an unknown tenant.
	PutSecret(ctx context.Context, tenantID, name string, s seal.Sealed) (SecretMeta, error)
	// PutSecretWithin is PutSecret, but a new secret is refused, with an
	// error matching ErrLimit (a *LimitError), when the tenant holds limit
	// secrets or more; replacing one never is. The server's own (names
	// starting ".prefect/") neither count nor are refused. limit <= 0
	// means no limit. However many put at once, the tenant never holds
	// more than limit.
	PutSecretWithin(ctx context.Context, tenantID, name string, s seal.Sealed, limit int) (SecretMeta, error)
	// Secret returns the tenant's secret name as stored, or ErrNotFound.
	Secret(ctx context.Context, tenantID, name string) (seal.Sealed, SecretMeta, error)
	// DeleteSecret deletes the tenant's secret name, or returns ErrNotFound.
	DeleteSecret(ctx context.Context, tenantID, name string) error
	// Secrets lists the tenant's secrets sorted by name (bytewise).
	Secrets(ctx context.Context, tenantID string) ([]SecretMeta, error)
	// SecretsPage lists up to limit (1 or more) of the tenant's secrets
	// whose names sort after after ("" for the first page), sorted by name
	// (bytewise), leaving out the server's own (names starting
	// ".prefect/"); more reports whether others follow. The next page is
	// the one after the last name of this one.
	SecretsPage(ctx context.Context, tenantID, after string, limit int) (page []SecretMeta, more bool, err error)
	// CountSecrets returns how many secrets the tenant holds, leaving out
	// the server's own (names starting ".prefect/"), without counting
	// them: PutSecret and DeleteSecret keep the number.
	CountSecrets(ctx context.Context, tenantID string) (int, error)

	// SealedNotUnder returns up to limit rows, of every tenant, whose
	// KeyID is not keyID, sorted by tenant ID and name; limit <= 0 means
	// all. A rotation reads a batch, rewraps each row and swaps it in with
	// SwapSealed, until a batch comes back empty.
	SealedNotUnder(ctx context.Context, keyID string, limit int) ([]SealedRow, error)
	// SwapSealed replaces the row's sealed value with next, if the row
	// still has the KeyID and WrappedKey it was read with; otherwise (a put
	// or another rotation came first, or the secret was deleted) the error
	// matches ErrConflict, and also ErrNotFound if the secret is gone. It
	// changes neither the version nor the Updated time.
	SwapSealed(ctx context.Context, row SealedRow, next seal.Sealed) error

	// Record appends e to the audit log; a zero e.Time means now.
	Record(ctx context.Context, e Event) error
	// AuditLog returns the tenant's latest limit events, newest first;
	// limit <= 0 means all.
	AuditLog(ctx context.Context, tenantID string, limit int) ([]Event, error)

	// Close closes the store.
	Close() error
}

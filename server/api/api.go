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
)

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
)

// Outcomes recorded in Event.Outcome.
const (
	OutcomeOK       = "ok"        // it worked
	OutcomeNotFound = "not_found" // no such secret
	OutcomeDenied   = "denied"    // the key was refused
	OutcomeInvalid  = "invalid"   // the input was refused
	OutcomeError    = "error"     // the server failed
)

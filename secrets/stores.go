package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// A StoreKind is a kind of remote secret store (HashiCorp Vault, AWS
// Secrets Manager, ...) that a run can consult after its local secrets,
// when the configuration names it in secrets.sources. A package that
// implements one registers it with [RegisterStore] from its init function,
// as database/sql drivers do, so that a program opts in by importing it:
//
//	import _ "github.com/prefect-go/prefect/secrets/vault"
//
// A program that does not import a store's package does not link its SDK.
type StoreKind struct {
	// Open makes the store's Source from its settings. It is called once
	// per process for each distinct configuration and credentials (see
	// "Remote stores" in the package doc): the Source is shared by every
	// run of the process, behind the cache, so it must be safe for
	// concurrent use. Its Lookup returns an error matching [ErrNotFound]
	// for a secret the store does not hold (never for a failure), and no
	// error it returns holds a value.
	Open func(ctx context.Context, s StoreSettings) (Source, error)
	// Credentials is the name of the secret that holds the store's
	// credentials unless the configuration names another
	// ([secrets.<kind>] credentials = "NAME"): "VAULT_CREDENTIALS",
	// "AWS_CREDENTIALS". Empty when the store takes none.
	Credentials string
}

// StoreSettings is what a [StoreKind]'s Open is given.
type StoreSettings struct {
	// Kind is the store's kind, as the configuration names it.
	Kind string
	// Settings is the store's table of the configuration,
	// [secrets.<kind>], without the keys every store shares
	// (credentials, cache_ttl, negative_ttl, max_stale); nil when there
	// is none. Open reports an unknown or bad key, naming it.
	Settings map[string]any
	// CredentialsName is the secret the credentials were looked up as.
	CredentialsName string
	// Credentials is that secret's value, resolved from the run's local
	// secrets and the secret server, never from a remote store (so that
	// no store depends on itself or on another); the zero Value when it
	// is set nowhere. A store that needs credentials says, when they are
	// missing, which secret to set.
	Credentials Value
}

var (
	storesMu sync.RWMutex
	stores   = map[string]StoreKind{}
)

// RegisterStore makes a kind of store available to the configuration's
// secrets.sources under name. It panics if name is empty, is "cloud" (the
// secret server's place in that list) or is registered twice, or if Open
// is nil: these are programming errors, found when the program starts.
func RegisterStore(name string, kind StoreKind) {
	storesMu.Lock()
	defer storesMu.Unlock()
	switch {
	case name == "" || name == cloudSource:
		panic(fmt.Sprintf("secrets: RegisterStore(%q): the name must be non-empty and not %q", name, cloudSource))
	case kind.Open == nil:
		panic(fmt.Sprintf("secrets: RegisterStore(%q): Open is nil", name))
	case stores[name].Open != nil:
		panic(fmt.Sprintf("secrets: RegisterStore(%q) called twice", name))
	}
	stores[name] = kind
}

// Stores returns the names of the registered kinds of store, sorted.
func Stores() []string {
	storesMu.RLock()
	defer storesMu.RUnlock()
	names := make([]string, 0, len(stores))
	for n := range stores {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// storeKind returns the kind registered as name.
func storeKind(name string) (StoreKind, bool) {
	storesMu.RLock()
	defer storesMu.RUnlock()
	k, ok := stores[name]
	return k, ok
}

// ErrAccessDenied is matched by a store's error for a refusal: its
// credentials are unknown or revoked, or do not open that secret (Vault's
// 403, AWS's AccessDeniedException). A [Cache] never serves a stale value
// through it, as it does through an outage (throttling, a store down):
// access taken away must take effect.
var ErrAccessDenied = errors.New("access denied by the secret store")

// Credentials resolves the secret called name as a task or store resolves
// its own credentials (VAULT_CREDENTIALS, AWS_CREDENTIALS): from the run's
// local secrets and the secret server, never from a remote store, so that
// one store's outage cannot stop another store's task. The value is
// registered with the run's masker, as [Secret.Get]'s is. A missing
// secret is an error matching [ErrNotFound].
func Credentials(ctx context.Context, name string) (Value, error) {
	r, err := resolverFor(ctx)
	if err != nil {
		return Value{}, err
	}
	base := r.base
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	v, err := r.credentials(base, name)
	if err == nil {
		used(ctx)
	}
	return v, err
}

// credentials is [Credentials] for r: the secret from the local secrets
// and the secret server, registered with the run's masker.
func (r *Resolver) credentials(ctx context.Context, name string) (Value, error) {
	v, err := r.lookup(ctx, name, false)
	if err != nil {
		return Value{}, err
	}
	r.resolved(v)
	return v, nil
}

// collectingMasks returns ctx carrying a resolver whose only work is to
// hand what code under it passes to [Mask] (a token a store's login
// returned) to keep: a store is shared by the runs of a process, so what
// it masks must reach each run's masker, not the one run that asked
// (see Resolver.syncExtras).
func collectingMasks(ctx context.Context, keep func(Value)) context.Context {
	return context.WithValue(ctx, ctxKey{}, NewResolver(OnResolve(keep)))
}

// cloudSource names the secret server in secrets.sources.
const cloudSource = "cloud"

// knownStores lists, for an error, the registered kinds and "cloud".
func knownStores() []string { return append(slices.Clone(Stores()), cloudSource) }

// Package secrets resolves secrets the way Prefect 1 does, and keeps their
// values out of every printout.
//
// A secret is looked up by name, case-sensitively:
//
//  1. in the run's secrets: those given to the run (runner.WithSecrets), then
//     the configuration's [context.secrets], which comes from
//     ~/.prefect/config.toml and from PREFECT__CONTEXT__SECRETS__NAME
//     variables (see package config);
//  2. on a miss, when the configuration says backend = "cloud" and
//     cloud.use_local_secrets = false, on the secret server (a [Source]):
//     the one cloud.api names, asked with cloud.api_key and
//     cloud.tenant_id, as Prefect's Secret.get() asks it, inside a run or
//     outside one, unless [WithBackend] gives another;
//  3. otherwise the result is Prefect's error, `Local Secret "NAME" was not
//     found.`, followed by every place that was searched. It matches
//     [ErrNotFound].
//
// # Remote stores
//
// Beyond Prefect, a run can also ask remote stores after its local
// secrets: HashiCorp Vault (package secrets/vault), AWS Secrets Manager and
// SSM Parameter Store (package secrets/aws), or any [StoreKind] registered
// with [RegisterStore]. The configuration lists them, in the order they are
// asked, and places the secret server among them ("cloud"; when it is in
// use and not listed, it comes last):
//
//	[secrets]
//	sources = ["vault", "aws_secrets_manager", "cloud"]
//
//	[secrets.vault]
//	address = "https://vault.internal:8200"
//	cache_ttl = 300     # seconds a value found is served from memory
//	negative_ttl = 30   # seconds "not found" is
//	max_stale = 600     # seconds past cache_ttl a value is served while the store fails
//	credentials = "VAULT_CREDENTIALS"   # the secret holding the store's credentials
//
// (or PREFECT__SECRETS__SOURCES='["vault"]', PREFECT__SECRETS__VAULT__ADDRESS=...).
// A program includes a kind of store by importing its package (for its
// init function), so that programs that use none link no store's SDK:
//
//	import _ "github.com/prefect-go/prefect/secrets/vault"
//
// A store's credentials are a secret too, resolved from the local secrets
// and the secret server (never from a store). Each store is opened once
// per process for each settings and credentials, and its answers are kept
// in a [Cache] that every run of the process shares: a value is served for
// cache_ttl, a miss for negative_ttl, each secret is asked for at most once
// at a time, and when the store fails (throttled, down) the last value is
// served for up to max_stale more, which the run's log says once. A run
// still resolves each secret once and keeps it ([Refresh] asks the store
// again, past the cache); at DEBUG its log says where each secret was
// found, never its value.
//
// A string value that parses as JSON is decoded, as in Prefect: `{"x": 42}`
// gives a table. The result is a [Value], which prints as ******** under
// fmt, encoding/json, log/slog and text/template; only [Value.Reveal],
// [Value.RevealAll] (for maskers), [Value.Decode] and [As] hand out the
// secret. The type itself is package sensitive's (secrets.Value is
// sensitive.Value, as os.FileInfo is fs.FileInfo), so that packages task
// and flow handle secrets without linking what resolving needs; use the
// names here.
//
//	token, err := secrets.Secret("GITHUB_TOKEN").Get(ctx)
//	port, err := secrets.Get[int](ctx, "DB_PORT")
//
// Inside a flow run, the runner puts a [Resolver] in the task's context: each
// secret is then resolved once per run, whatever the number of tasks asking,
// and its value is registered with the run's masker so that logs, states
// and errors never show it. Outside a run, each call reads the configuration
// afresh.
//
// This package reaches the secret server itself, over the same GraphQL
// transport as package client (it does not import client): configuration
// alone wires a run, or any code, to its server. Package client is for
// managing secrets (set, list, delete) and for a server reached some
// other way (client.NewSource with WithBackend).
//
// Prefect 1 refuses Secret.get() while a flow is being built. Go flows are
// built with plain function calls that carry no context, so there is no
// building phase to detect; what the rule prevents, a secret baked into the
// flow as a constant, is refused instead: flow.Const with a Value fails
// validation with Prefect's message, [ErrBuildingFlow].
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/procmask"
	"github.com/prefect-go/prefect/internal/python"
	"github.com/prefect-go/prefect/internal/redact"
)

// Secret names a secret: secrets.Secret("MYSECRET").Get(ctx).
type Secret string

// Get resolves the secret; see the package doc for the order.
func (s Secret) Get(ctx context.Context) (Value, error) {
	r, err := resolverFor(ctx)
	if err != nil {
		return Value{}, err
	}
	return r.Get(ctx, string(s))
}

// Exists reports whether the secret can be resolved: true when it is among
// the run's secrets; otherwise the remote stores the configuration lists
// and the secret server, when the configuration uses it, are asked.
func (s Secret) Exists(ctx context.Context) (bool, error) {
	r, err := resolverFor(ctx)
	if err != nil {
		return false, err
	}
	return r.Exists(ctx, string(s))
}

// Get resolves the secret called name and decodes it into a T.
func Get[T any](ctx context.Context, name string) (T, error) {
	v, err := Secret(name).Get(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return As[T](v)
}

// ErrNotFound is matched by the error for a secret no source has.
var ErrNotFound = errors.New("secret not found")

// ErrNoName is Prefect's error for a secret task without a secret name.
var ErrNoName = errors.New("A secret name must be provided.")

// DocsURL is where Prefect's not-found message for server secrets points.
const DocsURL = "https://docs.prefect.io/orchestration/concepts/secrets.html"

// NotFoundError is the error for a secret that no source has. It names the
// secret and every place searched, never a value. It matches [ErrNotFound].
type NotFoundError struct {
	// Name is the secret's name.
	Name string
	// Tried lists the places searched, in order.
	Tried []string
	// Server is set when the secret server was asked; the message is then
	// Prefect's message for server secrets.
	Server bool
}

// Error returns Prefect's not-found message and the places searched.
func (e *NotFoundError) Error() string {
	var b strings.Builder
	if e.Server {
		b.WriteString("The secret " + e.Name + " was not found.  Please ensure that it was set correctly in your tenant: " + DocsURL)
	} else {
		b.WriteString("Local Secret " + strconv.Quote(e.Name) + " was not found.")
	}
	if len(e.Tried) > 0 {
		b.WriteString(" Looked in: " + strings.Join(e.Tried, "; ") + ".")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Source is a place secrets live: the secret server, or any later backend.
// Implementations must pass the suite in package secretstest.
type Source interface {
	// Lookup returns the value of the secret called name. A missing secret
	// is an error matching ErrNotFound; the error never holds a value.
	Lookup(ctx context.Context, name string) (any, error)
	// String says where the source looks (a URL, a file), for error
	// messages. It never includes a secret.
	String() string
}

// Lister is a [Source] that can list its secret names without their values;
// Exists uses it when the source offers it (Prefect's secret_names).
type Lister interface {
	Source
	// Names returns the names of the secrets the source holds.
	Names(ctx context.Context) ([]string, error)
}

// MapSource is a [Source] over a map, described by where.
func MapSource(where string, m map[string]any) Source { return mapSource{where, m} }

type mapSource struct {
	where string
	m     map[string]any
}

func (s mapSource) Lookup(ctx context.Context, name string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, ok := s.m[name]
	if !ok {
		return nil, &NotFoundError{Name: name, Tried: []string{s.where}}
	}
	return v, nil
}

func (s mapSource) String() string { return s.where }

// Resolver resolves secrets for one flow run: it holds the configuration
// read for the run, the secrets given to it, the secret server to fall back
// on, and the values resolved so far, so that each secret is resolved once
// however many tasks ask (concurrent askers wait for the one lookup).
type Resolver struct {
	cfg       *config.Config
	cfgErr    error
	cfgOnce   sync.Once
	local     map[string]any // the configuration's [context.secrets], copied once
	run       map[string]any
	backend   Source
	factory   func(*config.Config) (Source, error)
	backendMu sync.Mutex
	onResolve func(Value)
	log       *slog.Logger // nil: no records

	// The remote places asked after the local secrets (remotes).
	remoteMu   sync.Mutex
	remoteDone bool
	remoteList []remote
	// extrasSeen counts, per store, its own secrets this run registered.
	extrasSeen map[*Cache]int

	group singleflight.Group
	mu    sync.Mutex
	cache map[string]resolved
	// base bounds lookups, which no single asker may cancel: the flow
	// run's context.
	base context.Context
}

type resolved struct {
	v   Value
	err error
}

// Option configures a [Resolver].
type Option func(*Resolver)

// WithConfig resolves from cfg instead of a configuration loaded by NewResolver.
func WithConfig(cfg *config.Config) Option { return func(r *Resolver) { r.cfg = cfg } }

// WithRunSecrets adds secrets for this resolver only; they win over the
// configuration's.
func WithRunSecrets(m map[string]any) Option { return func(r *Resolver) { r.run = m } }

// WithBackend sets the secret server to fall back on when the configuration
// asks for it (backend = "cloud", cloud.use_local_secrets = false), in
// place of the one the configuration names: client.NewSource makes one
// from a client of one's own.
func WithBackend(s Source) Option { return func(r *Resolver) { r.backend = s } }

// WithBackendFactory makes the secret server's Source from the
// configuration when a lookup first needs it and none was given with
// WithBackend. Without it (or with nil), the resolver reaches the server
// the configuration names itself: cloud.api, with cloud.api_key and
// cloud.tenant_id, as client.SourceFromConfig does, so that a run or a
// [Secret.Get] outside one needs no code to find its server.
func WithBackendFactory(f func(*config.Config) (Source, error)) Option {
	return func(r *Resolver) {
		if f != nil {
			r.factory = f
		}
	}
}

// WithLogger records at DEBUG, for each secret resolved, where it was
// found (`secret resolved` with its name and source: never its value),
// and warns when a store fails and its cache serves stale values. The
// runner passes its run's logger.
func WithLogger(l *slog.Logger) Option { return func(r *Resolver) { r.log = l } }

// OnResolve calls fn with every value resolved (once per secret); the runner
// registers the values with its masker this way.
func OnResolve(fn func(Value)) Option { return func(r *Resolver) { r.onResolve = fn } }

// NewResolver returns a resolver. Without WithConfig it loads the
// configuration (config.Load) when it first needs it, so a run that asks
// for no secret never reads it; without WithBackend, it connects to the
// secret server only when a lookup first needs it.
func NewResolver(opts ...Option) *Resolver {
	r := &Resolver{cache: map[string]resolved{}, factory: serverFromConfig}
	for _, o := range opts {
		o(r)
	}
	return r
}

// config returns the resolver's configuration, loading it on first use.
func (r *Resolver) config() (*config.Config, error) {
	r.cfgOnce.Do(func() {
		if r.cfg == nil {
			r.cfg, r.cfgErr = config.Load()
		}
		if r.cfgErr == nil {
			r.local = r.cfg.Secrets() // a copy; take it once, not per lookup
		}
	})
	return r.cfg, r.cfgErr
}

type ctxKey struct{}

// NewContext returns ctx carrying r: Get and Exists under it use r. The
// first context r is given to also bounds its lookups: cancelling it (the
// flow run's context) stops them.
func NewContext(ctx context.Context, r *Resolver) context.Context {
	if r != nil && r.base == nil {
		r.base = ctx
	}
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the resolver ctx carries.
func FromContext(ctx context.Context) (*Resolver, bool) {
	r, ok := ctx.Value(ctxKey{}).(*Resolver)
	return r, ok && r != nil
}

func resolverFor(ctx context.Context) (*Resolver, error) {
	if r, ok := FromContext(ctx); ok {
		return r, nil
	}
	return NewResolver(), nil
}

// Mask registers a secret obtained some other way (a token a task fetched,
// an environment variable) with the run's masker, if ctx belongs to a run,
// so that the run's logs, states and errors hide it too.
func Mask(ctx context.Context, v Value) {
	if v.IsZero() {
		return
	}
	used(ctx)
	if r, ok := FromContext(ctx); ok {
		r.resolved(v)
	} else {
		procmask.Send(v.RevealAll()...)
	}
}

type useKey struct{}

// OnUse returns ctx carrying fn, which Get, [Get] and [Mask] call, under
// that context, each time they hand out a secret's value (also one resolved
// before). The runner puts one in each task run's context: a task that
// fetches a secret itself is then treated like a task downstream of a
// secret task, and its result is not checkpointed unless it asks.
func OnUse(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, useKey{}, fn)
}

// used calls the OnUse function ctx carries, if any.
func used(ctx context.Context) {
	if fn, ok := ctx.Value(useKey{}).(func()); ok && fn != nil {
		fn()
	}
}

// resolved passes a value on to whoever must mask it: the process that
// launched this one (package procmask), and the run's masker (OnResolve).
// Both hear of it before any task receives it.
func (r *Resolver) resolved(v Value) {
	procmask.Send(v.RevealAll()...)
	if r.onResolve != nil {
		r.onResolve(v)
	}
}

// Get resolves the secret called name, once per resolver once found: a
// miss is looked up again at the next Get (a retry finds a secret set
// since), while concurrent Gets share one lookup. Each value it hands
// out, also one resolved before, calls the OnUse function of ctx.
func (r *Resolver) Get(ctx context.Context, name string) (Value, error) {
	v, err := r.get(ctx, name)
	if err == nil {
		used(ctx)
	}
	return v, err
}

func (r *Resolver) get(ctx context.Context, name string) (Value, error) {
	if c, ok := r.cached(name); ok {
		return c.v, c.err
	}
	base := r.base
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	// One lookup for all askers, on the first asker's goroutine (so no
	// goroutine of a run outlives it), bounded by the run's context rather
	// than by any one asker's, whose own deadline must not fail the others.
	out, _, _ := r.group.Do(name, func() (any, error) {
		if c, ok := r.cached(name); ok { // resolved while this call waited
			return c, nil
		}
		v, err := r.lookup(base, name, true)
		if err == nil {
			r.resolved(v)
		}
		// Keep a found value, resolved once for the whole run, and the
		// answer to a nameless ask. A miss is not kept, nor a passing
		// failure: as in Prefect, a retry of the secret task asks again,
		// and finds a secret set in between. Askers at the same time
		// still share this one lookup.
		if err == nil || errors.Is(err, ErrNoName) {
			r.mu.Lock()
			if r.cache == nil {
				r.cache = map[string]resolved{}
			}
			r.cache[name] = resolved{v, err}
			r.mu.Unlock()
		}
		return resolved{v, err}, nil
	})
	res := out.(resolved)
	return res.v, res.err
}

func (r *Resolver) cached(name string) (resolved, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cache[name]
	return c, ok
}

// EnvVar returns the environment variable that sets the secret called name.
func EnvVar(name string) string { return "PREFECT__CONTEXT__SECRETS__" + name }

// usesServer reports whether a local miss goes to the secret server: as in
// Prefect, only when backend is "cloud" and use_local_secrets is the
// boolean false (not a 0 or an empty string).
func usesServer(cfg *config.Config) bool {
	use, _ := cfg.Get("cloud.use_local_secrets")
	return cfg.String("backend") == "cloud" && use == false
}

func (r *Resolver) lookup(ctx context.Context, name string, withStores bool) (Value, error) {
	if name == "" {
		return Value{}, ErrNoName
	}
	tried := make([]string, 0, 4)
	if r.run != nil {
		if v, ok := r.run[name]; ok {
			r.answered(ctx, name, "the secrets given to the run", false)
			return r.decoded(v), nil
		}
		tried = append(tried, "the secrets given to the run")
	}
	cfg, err := r.config()
	if err != nil {
		return Value{}, fmt.Errorf("secret %q: %w", name, err)
	}
	if v, ok := r.local[name]; ok {
		r.answered(ctx, name, "the configuration's [context.secrets]", false)
		return r.decoded(v), nil
	}
	file := "config file " + cfg.UserConfigPath() + " [context.secrets]"
	if cfg.UserConfigPath() == "" {
		file = "no config file (PREFECT__USER_CONFIG_PATH is empty)"
	}
	tried = append(tried, "environment variable "+EnvVar(name), file)
	var remotes []remote
	switch {
	case withStores:
		if remotes, err = r.remotes(ctx, cfg); err != nil {
			return Value{}, fmt.Errorf("secret %q: %w", name, err)
		}
	case usesServer(cfg):
		remotes = []remote{{server: true}}
	}
	askedServer := false
	for _, rm := range remotes {
		var (
			v      any
			where  string
			cached bool
		)
		if rm.server {
			backend, serr := r.server(cfg)
			if serr != nil {
				where := "the secret server"
				if api := cfg.String("cloud.api"); api != "" {
					where += " at " + redact.URL(api)
				}
				return Value{}, fmt.Errorf("secret %q: connecting to %s: %w", name, where, serr)
			}
			if backend == nil {
				return Value{}, fmt.Errorf("secret %q is not set locally, and the configuration (backend = \"cloud\", cloud.use_local_secrets = false) asks for the secret server at %s, but the WithBackendFactory function gave none; looked in: %s",
					name, redact.URL(cfg.String("cloud.api")), strings.Join(tried, "; "))
			}
			where = backend.String()
			v, err = backend.Lookup(ctx, name)
			askedServer = askedServer || errors.Is(err, ErrNotFound)
		} else {
			where = rm.store.String()
			v, cached, err = rm.store.lookup(ctx, name, r.log)
			r.syncExtras(rm.store) // a token a login just returned
		}
		if errors.Is(err, ErrNotFound) {
			tried = append(tried, where)
			continue
		}
		if err != nil {
			return Value{}, fmt.Errorf("secret %q: asking %s: %w", name, where, err)
		}
		r.answered(ctx, name, where, cached)
		return r.decoded(v), nil
	}
	return Value{}, &NotFoundError{Name: name, Tried: tried, Server: askedServer}
}

// answered records where a secret was found, by names only.
func (r *Resolver) answered(ctx context.Context, name, where string, cached bool) {
	if r.log != nil {
		r.log.DebugContext(ctx, "secret resolved", "secret", name, "source", where, "cached", cached)
	}
}

// server returns the secret server's Source: the one given, or one the
// factory makes from the configuration (once).
func (r *Resolver) server(cfg *config.Config) (Source, error) {
	r.backendMu.Lock()
	defer r.backendMu.Unlock()
	if r.backend == nil && r.factory != nil {
		src, err := r.factory(cfg)
		if err != nil {
			return nil, err
		}
		r.backend = src
	}
	return r.backend, nil
}

// decoded applies Prefect's JSON rule to a raw value; the raw text is
// registered for masking too, as it may differ from the decoded value's
// ("1e3" decodes to 1000).
func (r *Resolver) decoded(raw any) Value {
	v := decodeJSON(raw)
	if s, ok := raw.(string); ok && s != v.Reveal() {
		r.resolved(NewValue(s))
	}
	return v
}

// Exists reports whether the secret is among the run's secrets, or held by
// a remote store the configuration lists (secrets.sources) or, when the
// configuration uses it, the secret server.
func (r *Resolver) Exists(ctx context.Context, name string) (bool, error) {
	if _, ok := r.run[name]; ok {
		return true, nil
	}
	cfg, err := r.config()
	if err != nil {
		return false, err
	}
	if _, ok := r.local[name]; ok {
		return true, nil
	}
	remotes, err := r.remotes(ctx, cfg)
	if err != nil {
		return false, err
	}
	for _, rm := range remotes {
		var found bool
		if rm.server {
			found, err = r.serverHas(ctx, cfg, name)
		} else {
			_, _, err = rm.store.lookup(ctx, name, r.log)
			found = err == nil
			if errors.Is(err, ErrNotFound) {
				err = nil
			}
		}
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// serverHas reports whether the secret server holds the secret, by its
// names when it lists them (Prefect's secret_names).
func (r *Resolver) serverHas(ctx context.Context, cfg *config.Config, name string) (bool, error) {
	backend, err := r.server(cfg)
	if err != nil || backend == nil {
		return false, err
	}
	if l, ok := backend.(Lister); ok {
		names, err := l.Names(ctx)
		return slices.Contains(names, name), err
	}
	_, err = backend.Lookup(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Refresh resolves the secret called name again, in place of the value
// the run holds for it, from a store asked anew (past its cache): for a
// task whose credentials were refused (rotated since the run resolved
// them) and that retries with fresh ones. Without a run in ctx it is
// [Secret.Get]. The old value stays masked in the run's output.
func Refresh(ctx context.Context, name string) (Value, error) {
	r, err := resolverFor(ctx)
	if err != nil {
		return Value{}, err
	}
	r.mu.Lock()
	delete(r.cache, name)
	r.mu.Unlock()
	cfg, err := r.config()
	if err != nil {
		return Value{}, err
	}
	// The run's stores, opened now if it has not asked them yet: the
	// process's cache is theirs, and must be passed too.
	remotes, err := r.remotes(ctx, cfg)
	if err != nil {
		return Value{}, err
	}
	for _, rm := range remotes {
		if rm.store != nil {
			rm.store.Forget(name)
		}
	}
	return r.Get(ctx, name)
}

// decodeJSON applies Prefect's rule: a string that parses as JSON is
// decoded; anything else is kept as it is.
func decodeJSON(v any) Value {
	if s, ok := v.(string); ok {
		if decoded, err := python.DecodeJSON([]byte(s)); err == nil {
			return NewValue(decoded)
		}
	}
	return NewValue(v)
}

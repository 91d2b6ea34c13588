package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/server/seal"
)

// This file masks what runs write: before a run's state message, a task
// run's fields, a log line or a run's name is stored, every value of the
// writer's tenant's secrets in it (and its base64, URL, JSON, Go-quoted and
// hex forms: see package redact) becomes "********". The runner masks what
// it knows already; this is for what it does not: a program that printed a
// secret before it died (the agent sends its last lines), one written
// without our runner, one that was never told a value was secret.
//
// Each tenant has one masker, built from every one of its secrets, opened,
// and kept. Only the tenant's own secrets: masking another tenant's value
// in this tenant's text would tell this tenant, by where the mask falls,
// what the other's value is.
//
// Every write of run text reads the tenant's secrets stamp (see
// [TenantSecrets]), which every put and delete of one of its secrets
// changes, through any server sharing the store: a value set anywhere
// before a write begins is masked in it. When the stamp has moved, the
// secrets put since the masker's stamp are opened and added to it; those
// deleted or replaced since stay masked until the masker is built again in
// full, in the background, once it holds twice the values of its last full
// build (and compactSlack more), or when it is dropped after maskIdle
// unused. Nothing the secrets hold now is ever left unmasked; a former
// value of a secret (a rotated password) is masked a while longer.
//
// Cost (a 2-core VM, busy; BenchmarkMaskRunText, BenchmarkAddToMasker,
// BenchmarkBuildMasker): a write of a 200-byte line, the masker built,
// pays the stamp read, 10-13 µs on SQLite and 45-58 µs on PostgreSQL over
// a local socket, and the masking, under 0.11 µs at 10 to 10,000 secrets.
// The first write after a secret was set reads, opens and adds it: 0.1 to
// 0.4 ms. The first write of a tenant after the server starts builds its
// masker in full: 0.3 ms at 10 secrets, 2-4 ms at 100, 17 ms at 1,000,
// 0.3-0.4 s at 10,000, holding about 2.6 KiB a secret.

// TenantSecrets is what a [Store] may offer besides, for the masker;
// store.SQL does. Without it, the server lists and reads the tenant's
// secrets one by one, and trusts a masker for [maskTTL] before it builds it
// again (a change made through this server is seen at once either way).
type TenantSecrets interface {
	// SecretsStamp returns a number that grows with every put and delete
	// of one of the tenant's secrets, committed with it.
	SecretsStamp(ctx context.Context, tenantID string) (int64, error)
	// SealedSecrets returns the secrets of the tenant (the server's own
	// too) put after the stamp after, or all for a negative after, as
	// stored, by name, with the tenant's stamp read before them.
	SealedSecrets(ctx context.Context, tenantID string, after int64) (map[string]seal.Sealed, int64, error)
}

const (
	// maskTTL is how long a masker is trusted over a store that keeps no
	// stamp, where changes by other servers cannot be seen otherwise.
	maskTTL = 5 * time.Second
	// maskIdle is how long a tenant's masker is kept unused.
	maskIdle = 10 * time.Minute
	// compactSlack is how many values a masker gains, beyond as many as
	// its last full build registered, before it is built again in full
	// (which drops the values of secrets deleted or replaced since).
	compactSlack = 64
)

// masks holds the maskers of the tenants, built on first use.
type masks struct {
	mu      sync.Mutex
	tenants map[string]*tenantMask
	swept   time.Time      // when idle maskers were last dropped
	bg      sync.WaitGroup // full builds in the background
}

// tenantMask is one tenant's masker and what it was built from.
type tenantMask struct {
	gen        atomic.Int64 // grows with each change made through this server
	used       atomic.Int64 // when last used, in Unix nanoseconds
	build      sync.Mutex   // held while building or extending
	cur        atomic.Pointer[builtMask]
	compacting atomic.Bool // a full build runs in the background
}

type builtMask struct {
	m      *redact.Masker
	gen    int64     // tenantMask.gen read before the secrets were
	stamp  int64     // the store's stamp read before them; -1 if it keeps none
	at     time.Time // when built in full
	values int       // secrets and environment values registered
	base   int       // of which the last full build registered
}

// fresh reports whether b may mask text written now, given the tenant's
// gen and stamp read now (stamp -1: the store keeps none, and now counts).
func (b *builtMask) fresh(gen, stamp int64, now time.Time) bool {
	switch {
	case b == nil:
		return false
	case stamp < 0:
		return b.gen >= gen && now.Sub(b.at) < maskTTL
	}
	return b.stamp >= stamp
}

// tenant returns the tenant's entry, and drops those unused for maskIdle
// (checked once a minute).
func (c *masks) tenant(tenantID string, now time.Time) *tenantMask {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tenants == nil {
		c.tenants = map[string]*tenantMask{}
	}
	if now.Sub(c.swept) > time.Minute {
		c.swept = now
		for id, tm := range c.tenants {
			if now.UnixNano()-tm.used.Load() > int64(maskIdle) {
				delete(c.tenants, id)
			}
		}
	}
	tm := c.tenants[tenantID]
	if tm == nil {
		tm = &tenantMask{}
		c.tenants[tenantID] = tm
	}
	tm.used.Store(now.UnixNano())
	return tm
}

// secretsChanged marks the tenant's masker stale after this server set or
// deleted one of its secrets (its environments too). The stamp of a store
// that keeps one says so already.
func (s *Server) secretsChanged(tenantID string) {
	s.masks.tenant(tenantID, time.Now().UTC()).gen.Add(1)
}

// masker returns the masker of the tenant's secrets as they are now (as
// they were when the store last answered, for a store without a stamp).
// Each call costs one read of the tenant's stamp. A call that finds it
// moved opens and adds what was put since; the first call builds the
// masker in full, opening every secret of the tenant. Other writers of
// the tenant wait for either, and share it.
//
// Reading the values for it is not audited: no caller gets a value, and
// the changes that call for it are audited already (set_secret,
// delete_secret, create_flow_run, register_flow). An event per build
// would tell an auditor only that some run wrote text.
func (s *Server) masker(ctx context.Context, tenantID string) (*redact.Masker, error) {
	tm := s.masks.tenant(tenantID, time.Now().UTC())
	gen := tm.gen.Load()
	stamp, err := s.secretsStamp(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if b := tm.cur.Load(); b.fresh(gen, stamp, time.Now().UTC()) {
		return b.m, nil
	}
	tm.build.Lock()
	defer tm.build.Unlock()
	b := tm.cur.Load()
	switch {
	case b.fresh(gen, stamp, time.Now().UTC()):
		return b.m, nil // built while this call waited
	case b == nil || stamp < 0:
		b, err = s.buildMask(ctx, tenantID, tm.gen.Load())
	default:
		b, err = s.extendMask(ctx, tenantID, b)
	}
	if err != nil {
		return nil, err
	}
	tm.cur.Store(b)
	if b.values > 2*b.base+compactSlack {
		s.compact(tm, tenantID)
	}
	return b.m, nil
}

// secretsStamp returns the tenant's stamp, or -1 if the store keeps none.
func (s *Server) secretsStamp(ctx context.Context, tenantID string) (int64, error) {
	ts, ok := s.st.(TenantSecrets)
	if !ok {
		return -1, nil
	}
	stamp, err := ts.SecretsStamp(ctx, tenantID)
	if err != nil {
		return 0, fmt.Errorf("reading the secrets stamp: %w", err)
	}
	return stamp, nil
}

// buildMask builds the tenant's masker from every one of its secrets, gen
// being the tenant's gen read before them. The masker's matcher is built
// here too, not by the first text it masks.
func (s *Server) buildMask(ctx context.Context, tenantID string, gen int64) (*builtMask, error) {
	b := &builtMask{m: redact.New(), gen: gen, at: time.Now().UTC()}
	sealed, stamp, err := s.sealedSecrets(ctx, tenantID, -1)
	if err != nil {
		return nil, err
	}
	b.stamp = stamp
	if b.values, err = s.addSealed(ctx, b.m, tenantID, sealed); err != nil {
		return nil, err
	}
	b.base = b.values
	return b, nil
}

// extendMask adds to b's masker the secrets put since b's stamp, and
// returns b with the new stamp. (An error may leave some added: the next
// call adds them again, which changes nothing.)
func (s *Server) extendMask(ctx context.Context, tenantID string, b *builtMask) (*builtMask, error) {
	sealed, stamp, err := s.sealedSecrets(ctx, tenantID, b.stamp)
	if err != nil {
		return nil, err
	}
	n, err := s.addSealed(ctx, b.m, tenantID, sealed)
	if err != nil {
		return nil, err
	}
	next := *b
	next.stamp, next.values = stamp, b.values+n
	return &next, nil
}

// addSealed opens each of the tenant's sealed values and adds it to m,
// returning how many values it added.
func (s *Server) addSealed(ctx context.Context, m *redact.Masker, tenantID string, sealed map[string]seal.Sealed) (int, error) {
	n := 0
	for name, sl := range sealed {
		value, err := s.open(ctx, tenantID, name, sl)
		if err != nil {
			return 0, fmt.Errorf("opening secret %q to mask what runs write: %w", name, err)
		}
		n += addStored(m, name, value)
		clear(value)
	}
	m.Contains("") // builds the matcher here, if the Masker builds it lazily
	return n, nil
}

// compact builds the tenant's masker again in full, in the background,
// unless that is under way, and puts it in place of the one that grew (its
// older stamp makes the next write add what was put meanwhile).
func (s *Server) compact(tm *tenantMask, tenantID string) {
	if !tm.compacting.CompareAndSwap(false, true) {
		return
	}
	s.masks.bg.Go(func() {
		defer tm.compacting.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := s.buildMask(ctx, tenantID, tm.gen.Load())
		if err != nil {
			s.log.Error("secret server: building a tenant's masker again", "tenant", tenantID, "err", err)
			return
		}
		tm.build.Lock()
		tm.cur.Store(b)
		tm.build.Unlock()
	})
}

// sealedSecrets returns the tenant's secrets put after the stamp after (all
// for a negative one), with the store's stamp; without one, all of them,
// and -1.
func (s *Server) sealedSecrets(ctx context.Context, tenantID string, after int64) (map[string]seal.Sealed, int64, error) {
	if ts, ok := s.st.(TenantSecrets); ok {
		sealed, stamp, err := ts.SealedSecrets(ctx, tenantID, after)
		if err != nil {
			return nil, 0, fmt.Errorf("reading the tenant's secrets: %w", err)
		}
		return sealed, stamp, nil
	}
	metas, err := s.st.Secrets(ctx, tenantID)
	if err != nil {
		return nil, 0, fmt.Errorf("listing the tenant's secrets: %w", err)
	}
	sealed := make(map[string]seal.Sealed, len(metas))
	for _, m := range metas {
		sl, _, err := s.st.Secret(ctx, tenantID, m.Name)
		if errors.Is(err, orchestration.ErrNotFound) {
			continue // deleted since the list
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading secret %q: %w", m.Name, err)
		}
		sealed[m.Name] = sl
	}
	return sealed, -1, nil
}

// open opens a sealed value of the tenant, asking the key source again for
// a value sealed under a key its keyring lacks (a replica that follows a
// rotated key file sealed it).
func (s *Server) open(ctx context.Context, tenantID, name string, sl seal.Sealed) ([]byte, error) {
	ring, _ := s.keyring(ctx, false) // a stale keyring still opens
	value, err := ring.Open(tenantID, name, sl)
	if errors.Is(err, seal.ErrUnknownKey) {
		ring, _ = s.keyring(ctx, true)
		value, err = ring.Open(tenantID, name, sl)
	}
	return value, err
}

// addStored registers with m what a stored value of the tenant may show up
// as in a run's text, and returns how many values it registered:
//
//   - a secret: its value as a run receives it (a JSON string's text, a
//     table's or list's JSON) and as stored, and the pieces [addSecret]
//     adds (among them what the run holds of a text that is JSON itself,
//     which it decodes: '"p4ss"' is held as p4ss). A secret that is true or false is not masked: masking every
//     "true" would wreck the text and hide one bit.
//   - an environment of a flow or run (reserved names): the value of each
//     variable whose name looks secret ([secrets.SensitiveName]), the rule by which
//     the agent masks a dead process's output and the commands warn about
//     --env. An environment holds configuration too, which flows print
//     (a task that reports its settings), and a value masked here is
//     masked in every line of every run of the tenant.
func addStored(m *redact.Masker, name string, value []byte) int {
	if strings.HasPrefix(name, reservedPrefix) {
		var env map[string]string
		if json.Unmarshal(value, &env) == nil {
			n := 0
			for k, v := range env {
				if secrets.SensitiveName(k) {
					addSecret(m, v)
					n++
				}
			}
			return n
		}
		// Not an environment: a value like any other.
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		addSecret(m, string(value))
		return 1
	}
	switch x := x.(type) {
	case string:
		addSecret(m, x)
	case bool, nil:
		return 0
	default:
		addSecret(m, string(value))
		m.Add(secrets.NewValue(x).Reveal()) // compact, as a run prints it
	}
	return 1
}

// addSecret registers s with m, and the values inside s when it is a JSON
// table or list (secrets.Pieces), as the agent registers each secret
// variable, so that the server masks at least what the agent does.
func addSecret(m *redact.Masker, s string) {
	for _, p := range secrets.Pieces(s) {
		m.Add(p)
	}
}

// errMask is the answer to a write of run text when the tenant's secrets
// could not be read to mask it: the text is not stored unmasked.
var errMask = &gqlError{"internal error: the server could not read the tenant's secrets to mask this text, and stores no text unmasked; try again later", "INTERNAL"}

// runMasker returns the caller's tenant's masker for a write of run text
// (op names the write, for the log).
func (r *resolver) runMasker(ctx context.Context, op string) (*redact.Masker, error) {
	m, err := r.s.masker(ctx, caller(ctx).TenantID)
	if err != nil {
		r.s.log.ErrorContext(ctx, "secret server: reading the tenant's secrets to mask what a run writes", "operation", op, "err", err)
		return nil, errMask
	}
	return m, nil
}

// masked returns s masked with m, then cut to n bytes by [text]: masking
// comes first, so that no cut leaves part of a value unmasked.
func masked(m *redact.Masker, s string, n int) string {
	return text(m.Redact(s), n)
}

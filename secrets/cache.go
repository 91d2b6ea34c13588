package secrets

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// fetchTimeout bounds one lookup in a store, for a store whose client sets
// no bound of its own.
const fetchTimeout = time.Minute

// CacheOptions set how long a [Cache] keeps what a store answered.
type CacheOptions struct {
	// TTL is how long a value found is served without asking the store
	// again (cache_ttl); 0 asks the store at every lookup (concurrent
	// askers still share one call).
	TTL time.Duration
	// NegativeTTL is how long "not found" is served without asking again
	// (negative_ttl), shorter than TTL so that a secret set in the store
	// is seen soon; 0 remembers no miss.
	NegativeTTL time.Duration
	// MaxStale is how long past its TTL a value is still served when the
	// store fails (throttled, down, unreachable) rather than answering
	// "not found" (max_stale); 0 serves nothing stale.
	MaxStale time.Duration
}

// The defaults of the [secrets.<kind>] settings cache_ttl, negative_ttl and
// max_stale.
var DefaultCacheOptions = CacheOptions{TTL: 5 * time.Minute, NegativeTTL: 30 * time.Second, MaxStale: 10 * time.Minute}

// Cache is a [Source] in front of a remote store, shared by every run of a
// process (an agent's flow program, a long-lived service): it keeps each
// value found for TTL and each miss for NegativeTTL, asks the store at most
// once at a time per secret (askers at the same time share the answer),
// and, when the store fails, keeps serving a value up to MaxStale past its
// TTL, saying so once in the log. While one asker refreshes an expired
// value, others asking at the same time get the expired one at once, if
// it is within MaxStale (stale-while-revalidate). Values live in memory
// only and are dropped when they may no longer be served.
type Cache struct {
	src  Source
	opts CacheOptions

	group    singleflight.Group
	mu       sync.Mutex
	items    map[string]cached
	inflight map[string]bool // the secrets being asked for now
	// failing is set while the store fails and stale values are served,
	// so that the outage is logged once, not at every lookup.
	failing bool
	// swept is when sweep last ran.
	swept time.Time
	// extras are the secrets the store itself handed to secrets.Mask (a
	// token a login returned), the newest maxExtras of them, and
	// extrasGen counts all it ever handed: every run that uses the store
	// registers them with its masker (Resolver.syncExtras).
	extras    []Value
	extrasGen int
}

// maxExtras bounds the store's own secrets a Cache remembers: a store logs
// in again now and then, and only its latest tokens can still be in use.
const maxExtras = 16

// cached is what the store last answered for one secret.
type cached struct {
	v     any
	found bool
	at    time.Time
	// expired is set by Forget: the value is not fresh whatever its age,
	// but may still be served stale if the store fails.
	expired bool
}

// NewCache returns a Cache in front of src.
func NewCache(src Source, opts CacheOptions) *Cache {
	return &Cache{src: src, opts: opts, items: map[string]cached{}, inflight: map[string]bool{}}
}

// String says what the store is, as its Source does.
func (c *Cache) String() string { return c.src.String() }

// Lookup returns the secret's value from the cache or the store.
func (c *Cache) Lookup(ctx context.Context, name string) (any, error) {
	v, _, err := c.lookup(ctx, name, nil)
	return v, err
}

// lookup is Lookup, also saying whether the answer came from the cache,
// and logging an outage to log (when not nil).
func (c *Cache) lookup(ctx context.Context, name string, log *slog.Logger) (any, bool, error) {
	now := time.Now()
	c.mu.Lock()
	if now.Sub(c.swept) >= sweepEvery {
		c.sweep(now)
	}
	it, ok := c.items[name]
	if v, fresh, err := c.fresh(name, it, ok, now); fresh {
		c.mu.Unlock()
		return v, true, err
	}
	stale := ok && it.found && now.Sub(it.at) < c.opts.TTL+c.opts.MaxStale
	if stale && c.inflight[name] {
		// Someone is already asking the store: serve the value we have
		// rather than wait (stale-while-revalidate).
		c.mu.Unlock()
		return it.v, true, nil
	}
	c.mu.Unlock()
	ch := c.group.DoChan(name, func() (any, error) { return c.fetch(ctx, name) })
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if res.Err == nil || errors.Is(res.Err, ErrNotFound) || errors.Is(res.Err, ErrAccessDenied) || !stale {
		// A refusal is not an outage: access taken away takes effect.
		return res.Val, false, res.Err
	}
	// The store failed: serve the last value, within MaxStale.
	c.servingStale(name, res.Err, log)
	return it.v, true, nil
}

// fresh returns what the cache may still serve for name without asking
// the store: a value within TTL, or a miss within NegativeTTL.
func (c *Cache) fresh(name string, it cached, ok bool, now time.Time) (any, bool, error) {
	switch age := now.Sub(it.at); {
	case !ok || it.expired:
		return nil, false, nil
	case it.found && age < c.opts.TTL:
		return it.v, true, nil
	case !it.found && age < c.opts.NegativeTTL:
		return nil, true, &NotFoundError{Name: name, Tried: []string{c.src.String()}}
	}
	return nil, false, nil
}

// fetch asks the store and records its answer: a value, or a miss. A
// failure changes nothing, so that the last value can still be served.
func (c *Cache) fetch(ctx context.Context, name string) (any, error) {
	c.mu.Lock()
	// An asker that missed the cache just before another's call ended
	// starts a call of its own: answer it from what that call recorded.
	it, ok := c.items[name]
	if v, fresh, err := c.fresh(name, it, ok, time.Now()); fresh {
		c.mu.Unlock()
		return v, err
	}
	c.inflight[name] = true
	c.mu.Unlock()
	// No one asker's context may cancel a lookup others share; the
	// store's own client bounds it, and fetchTimeout in case it does not.
	fctx, cancel := context.WithTimeout(collectingMasks(context.WithoutCancel(ctx), c.addExtra), fetchTimeout)
	v, err := c.src.Lookup(fctx, name)
	cancel()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, name)
	c.sweep(now)
	switch {
	case err == nil:
		if c.opts.TTL+c.opts.MaxStale > 0 {
			c.items[name] = cached{v: v, found: true, at: now}
		}
		c.failing = false
	case errors.Is(err, ErrNotFound):
		c.failing = false
		if c.opts.NegativeTTL > 0 {
			c.items[name] = cached{at: now}
		} else {
			delete(c.items, name)
		}
	default:
		return nil, err
	}
	return v, err
}

// servingStale notes that the store failed and a stale value is served in
// its place: logged once per outage.
func (c *Cache) servingStale(name string, err error, log *slog.Logger) {
	if log == nil {
		return // leave the outage for an asker that can say so
	}
	c.mu.Lock()
	first := !c.failing
	c.failing = true
	c.mu.Unlock()
	if first {
		log.Warn("secret store failing: serving the last value of each secret it held, for up to max_stale",
			"store", c.src.String(), "secret", name, "max_stale", c.opts.MaxStale, "err", err)
	}
}

// sweepEvery is how often a lookup also drops what may no longer be
// served (fetches always do), so that values leave memory on time without
// a goroutine of the cache's own.
const sweepEvery = 10 * time.Second

// sweep drops what may no longer be served. c.mu is held.
func (c *Cache) sweep(now time.Time) {
	c.swept = now
	for name, it := range c.items {
		limit := c.opts.NegativeTTL
		if it.found {
			limit = c.opts.TTL + c.opts.MaxStale
		}
		if now.Sub(it.at) >= limit {
			delete(c.items, name)
		}
	}
}

// Forget makes the next lookup of name ask the store (see [Refresh]). The
// value it held may still be served up to MaxStale if the store fails.
func (c *Cache) Forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[name]; ok && it.found {
		it.expired = true
		c.items[name] = it
	} else {
		delete(c.items, name)
	}
}

// addExtra keeps one of the store's own secrets.
func (c *Cache) addExtra(v Value) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.extras = append(c.extras, v)
	if len(c.extras) > maxExtras {
		c.extras = slices.Delete(c.extras, 0, len(c.extras)-maxExtras)
	}
	c.extrasGen++
}

// extrasSince returns the store's own secrets handed since the gen-th, and
// the count now.
func (c *Cache) extrasSince(gen int) ([]Value, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(c.extrasGen-gen, len(c.extras))
	return slices.Clone(c.extras[len(c.extras)-n:]), c.extrasGen
}

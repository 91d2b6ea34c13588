package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/prefect-go/prefect/config"
)

// The configuration's keys for remote stores.
const (
	sourcesKey = "secrets.sources"
	// Keys of [secrets.<kind>] that every store shares; the rest are the
	// store's own.
	credentialsKey = "credentials"
	cacheTTLKey    = "cache_ttl"
	negativeTTLKey = "negative_ttl"
	maxStaleKey    = "max_stale"
)

// remote is one place a run asks after its local secrets, in the order of
// secrets.sources: the secret server, or a store behind its cache.
type remote struct {
	server bool
	store  *Cache // when not the server
}

// opened holds the stores a process has opened, by kind and settings, so
// that its runs share each store's cache; a store opened again with other
// credentials (rotated) replaces the one before, whose cache and values
// go with it.
var opened = struct {
	sync.Mutex
	m     map[string]openStore
	group singleflight.Group // one Open at a time per kind and settings
}{m: map[string]openStore{}}

// openStore is a store as opened: its cache, and a hash of the credentials
// it was opened with.
type openStore struct {
	creds string
	cache *Cache
}

// remotes returns the places a run asks after its local secrets, opening
// the stores the first time. The secret server is among them only when
// the configuration uses it (backend = "cloud", cloud.use_local_secrets =
// false): where secrets.sources puts "cloud", else last.
func (r *Resolver) remotes(ctx context.Context, cfg *config.Config) ([]remote, error) {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	if r.remoteDone {
		return r.remoteList, nil
	}
	names, err := sourceNames(cfg)
	if err != nil {
		return nil, err
	}
	var list []remote
	server := usesServer(cfg)
	for _, name := range names {
		if name == cloudSource {
			if server {
				list = append(list, remote{server: true})
				server = false
			}
			continue
		}
		c, err := r.openStore(ctx, cfg, name)
		if err != nil {
			return nil, err
		}
		r.syncExtras(c)
		list = append(list, remote{store: c})
	}
	if server {
		list = append(list, remote{server: true})
	}
	r.remoteList, r.remoteDone = list, true
	return list, nil
}

// sourceNames reads secrets.sources: a list of registered store kinds and
// "cloud", each at most once.
func sourceNames(cfg *config.Config) ([]string, error) {
	v, ok := cfg.Get(sourcesKey)
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %s; it must be a list of sources to ask after the local secrets, in order, from %s", sourcesKey, describeSetting(v), strings.Join(knownStores(), ", "))
	}
	names := make([]string, 0, len(list))
	for i, e := range list {
		name, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is %s; it must be a source's name, one of %s", sourcesKey, i, describeSetting(e), strings.Join(knownStores(), ", "))
		}
		if slices.Contains(names, name) {
			return nil, fmt.Errorf("%s names %q twice", sourcesKey, name)
		}
		if _, ok := storeKind(name); !ok && name != cloudSource {
			return nil, fmt.Errorf("%s names %q, which this program does not include; the sources it knows are %s (a store's package registers it when the program imports it, e.g. import _ \"github.com/prefect-go/prefect/secrets/vault\")",
				sourcesKey, name, strings.Join(knownStores(), ", "))
		}
		names = append(names, name)
	}
	return names, nil
}

// describeSetting names a configuration value for an error: numbers and
// booleans by value, anything else by its kind only (config.Kind), since
// a setting in the wrong place may be a pasted secret.
func describeSetting(v any) string {
	switch v.(type) {
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return config.Kind(v)
}

// openStore opens the store of kind name as the configuration sets it up,
// or returns the one the process opened before with the same settings and
// credentials.
func (r *Resolver) openStore(ctx context.Context, cfg *config.Config, name string) (*Cache, error) {
	kind, _ := storeKind(name)
	section := "secrets." + name
	settings := map[string]any{}
	if v, ok := cfg.Get(section); ok && v != nil {
		t, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is %s; it must be a table of the store's settings", section, describeSetting(v))
		}
		settings = t
	}
	opts := DefaultCacheOptions
	credName := kind.Credentials
	for key, dst := range map[string]*time.Duration{cacheTTLKey: &opts.TTL, negativeTTLKey: &opts.NegativeTTL, maxStaleKey: &opts.MaxStale} {
		v, ok := settings[key]
		if !ok {
			continue
		}
		n, ok := v.(int64)
		if !ok || n < 0 || n > int64(100*365*24*time.Hour/time.Second) {
			return nil, fmt.Errorf("%s.%s is %s; it must be a whole number of seconds, 0 or more", section, key, describeSetting(v))
		}
		*dst = time.Duration(n) * time.Second
	}
	if v, ok := settings[credentialsKey]; ok {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s.%s is %s; it must be the name of the secret that holds the store's credentials", section, credentialsKey, describeSetting(v))
		}
		credName = s
	}
	own := maps.Clone(settings)
	for _, k := range []string{credentialsKey, cacheTTLKey, negativeTTLKey, maxStaleKey} {
		delete(own, k)
	}
	var creds Value
	if credName != "" {
		v, err := r.credentials(ctx, credName)
		switch {
		case err == nil:
			creds = v
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("%s: reading its credentials, secret %q: %w", section, credName, err)
		}
	}
	key, credHash, err := storeKey(name, own, opts, credName, creds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", section, err)
	}
	opened.Lock()
	o, ok := opened.m[key]
	opened.Unlock()
	if ok && o.creds == credHash {
		return o.cache, nil
	}
	// Opening may log in over the network: one at a time per store and
	// settings, without holding up other stores.
	out, err, _ := opened.group.Do(key+"\x00"+credHash, func() (any, error) {
		opened.Lock()
		o, ok := opened.m[key]
		opened.Unlock()
		if ok && o.creds == credHash {
			return o.cache, nil
		}
		var extras []Value
		octx := collectingMasks(ctx, func(v Value) { extras = append(extras, v) })
		src, err := kind.Open(octx, StoreSettings{Kind: name, Settings: own, CredentialsName: credName, Credentials: creds})
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", section, err)
		}
		c := NewCache(src, opts)
		for _, v := range extras {
			c.addExtra(v)
		}
		opened.Lock()
		opened.m[key] = openStore{creds: credHash, cache: c}
		opened.Unlock()
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return out.(*Cache), nil
}

// syncExtras registers with the run's masker the store's own secrets (a
// token a login returned) that it has not registered yet.
func (r *Resolver) syncExtras(c *Cache) {
	r.mu.Lock()
	if r.extrasSeen == nil {
		r.extrasSeen = map[*Cache]int{}
	}
	seen := r.extrasSeen[c]
	r.mu.Unlock()
	vs, gen := c.extrasSince(seen)
	if len(vs) == 0 {
		return
	}
	for _, v := range vs {
		r.resolved(v)
	}
	r.mu.Lock()
	r.extrasSeen[c] = max(r.extrasSeen[c], gen)
	r.mu.Unlock()
}

// storeKey identifies a store as opened: its kind, settings and cache
// options; and, apart, a hash of its credentials (never the credentials
// themselves, so that the key can be held and compared without holding a
// secret twice).
func storeKey(kind string, settings map[string]any, opts CacheOptions, credName string, creds Value) (key, credHash string, err error) {
	b, err := json.Marshal(struct {
		Kind     string
		Settings map[string]any
		Opts     CacheOptions
		CredName string
	}{kind, settings, opts, credName})
	if err != nil {
		return "", "", fmt.Errorf("its settings cannot be compared: %w", err)
	}
	h := sha256.New()
	for _, s := range creds.RevealAll() {
		fmt.Fprintf(h, "\x00%d:%s", len(s), s)
	}
	return string(b), hex.EncodeToString(h.Sum(nil)), nil
}

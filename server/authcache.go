package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/prefect-go/prefect/orchestration"
)

// AuthCacheTTL is how long the server trusts the store's word that an API
// key is valid before asking again, unless told otherwise
// ([WithAuthCacheTTL]): a key revoked in the store (`prefect server
// revoke-api-key`, by any process) is refused at most this long after the
// revocation commits. Refusals are not cached.
const AuthCacheTTL = 5 * time.Second

// KeyUseInterval is how often, at most, the server tells its store that a
// key was used (see [KeyUseRecorder]): a key's last use as listed is that
// of the first request of its latest such interval, on whichever server
// sharing the store saw it last.
const KeyUseInterval = time.Minute

// maxAuthCache bounds the keys remembered; past it, the cache starts over.
const maxAuthCache = 4096

// authCache remembers the keys the store accepted, by their SHA-256 (the
// keys themselves are not kept), for ttl: the store's lookup was a tenth
// of a read's time.
type authCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[sha256.Size]byte]authEntry
}

type authEntry struct {
	key     orchestration.KeyInfo
	expires time.Time
}

// tokenHash is what the cache keys an API key by.
func tokenHash(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

func (c *authCache) get(h [sha256.Size]byte, now time.Time) (orchestration.KeyInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if !ok || !now.Before(e.expires) {
		return orchestration.KeyInfo{}, false
	}
	return e.key, true
}

func (c *authCache) put(h [sha256.Size]byte, key orchestration.KeyInfo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxAuthCache {
		c.entries = make(map[[sha256.Size]byte]authEntry)
	}
	c.entries[h] = authEntry{key: key, expires: now.Add(c.ttl)}
}

// keyUses decides when the server tells its store that a key was used:
// the first time this server sees it, then at most once per
// KeyUseInterval, so that a busy key costs a write a minute rather than
// one a request. The writes run in the background (bg).
type keyUses struct {
	mu   sync.Mutex
	told map[string]time.Time // key ID -> when the store was last told
	bg   sync.WaitGroup
}

// due reports whether the use of key id at now should be told, and if so
// takes it as told.
func (u *keyUses) due(id string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if t, ok := u.told[id]; ok && now.Sub(t) < KeyUseInterval {
		return false
	}
	if u.told == nil || len(u.told) >= maxAuthCache {
		u.told = make(map[string]time.Time)
	}
	u.told[id] = now
	return true
}

// failed forgets that the use of key id at at was told, so that its next
// use is told again.
func (u *keyUses) failed(id string, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.told[id].Equal(at) {
		delete(u.told, id)
	}
}

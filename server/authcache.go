package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/prefect-go/prefect/server/api"
)

// AuthCacheTTL is how long the server trusts the store's word that an API
// key is valid before asking again: a key deleted from the store is
// refused at most this long after. Refusals are not cached.
const AuthCacheTTL = 5 * time.Second

// maxAuthCache bounds the keys remembered; past it, the cache starts over.
const maxAuthCache = 4096

// authCache remembers the keys the store accepted, by their SHA-256 (the
// keys themselves are not kept), for AuthCacheTTL: the store's lookup was a
// tenth of a read's time.
type authCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]authEntry
}

type authEntry struct {
	key     api.KeyInfo
	expires time.Time
}

// tokenHash is what the cache keys an API key by.
func tokenHash(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

func (c *authCache) get(h [sha256.Size]byte, now time.Time) (api.KeyInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if !ok || !now.Before(e.expires) {
		return api.KeyInfo{}, false
	}
	return e.key, true
}

func (c *authCache) put(h [sha256.Size]byte, key api.KeyInfo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxAuthCache {
		c.entries = make(map[[sha256.Size]byte]authEntry)
	}
	c.entries[h] = authEntry{key: key, expires: now.Add(AuthCacheTTL)}
}

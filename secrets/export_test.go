package secrets

import (
	"context"
	"log/slog"
)

// ServerFromConfig is the secret server a Resolver reaches by default, for
// the conformance suite.
var ServerFromConfig = serverFromConfig

// LookupLogged is Lookup with the logger a Resolver passes, also saying
// whether the answer came from the cache.
func (c *Cache) LookupLogged(ctx context.Context, name string, log *slog.Logger) (any, bool, error) {
	return c.lookup(ctx, name, log)
}

// Len returns how many secrets the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

package vault

import (
	"context"

	"github.com/prefect-go/prefect/secrets"
)

// OpenStore is the store's Open with the environment given as a function:
// package secrets offers no way to look up a registered kind's Open.
func OpenStore(ctx context.Context, ss secrets.StoreSettings, env func(string) string) (secrets.Source, error) {
	src, err := openStore(ctx, ss, env)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// TokenOf returns the token a store's source holds now.
func TokenOf(src secrets.Source) string { return src.(*store).s.c.Token() }

// CloseIdle closes a store's idle connections, so that goleak sees no
// connection's goroutines when the package's tests end.
func CloseIdle(src secrets.Source) { src.(*store).hc.CloseIdleConnections() }

// Open is the Open the package registers.
var Open = open

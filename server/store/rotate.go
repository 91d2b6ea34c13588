package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/prefect-go/prefect/server/seal"
)

// rewrapBatch is how many rows RewrapAll reads at a time.
const rewrapBatch = 500

// RewrapAll rewraps the data key of every secret, of every tenant, that is
// not under ring's current key, and returns how many it rewrapped. The
// values are not decrypted again: only their data keys are, and wrapped
// anew (see [seal.Keyring.Rewrap]).
//
// It is safe while servers keep serving: each row is swapped only if it is
// still as it was read, so a secret put or deleted meanwhile is left to its
// writer (and a put under an old key is read again in the next batch).
// It returns when no row is left under another key, or with the first error
// that is not such a conflict, for instance a row under a key that ring
// does not hold.
func RewrapAll(ctx context.Context, st Store, ring *seal.Keyring) (int, error) {
	cur := ring.Current()
	if cur.IsZero() {
		return 0, errors.New("store: rewrapping: the keyring has no current key")
	}
	done := 0
	for {
		rows, err := st.SealedNotUnder(ctx, cur.ID(), rewrapBatch)
		if err != nil {
			return done, err
		}
		if len(rows) == 0 {
			return done, nil
		}
		for _, row := range rows {
			next, err := ring.Rewrap(row.TenantID, row.Name, row.Sealed)
			if err != nil {
				return done, fmt.Errorf("store: rewrapping: %w", err)
			}
			switch err := st.SwapSealed(ctx, row, next); {
			case err == nil:
				done++
			case errors.Is(err, ErrConflict):
				// A writer changed it; the next batch sees what they left.
			default:
				return done, err
			}
		}
	}
}

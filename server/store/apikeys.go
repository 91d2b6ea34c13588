package store

// The life of an API key after CreateAPIKey: listed, its use noted,
// revoked.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrRevoked is matched by the error of [SQL.RevokeAPIKey] for a key that
// was revoked already.
var ErrRevoked = errors.New("already revoked")

// An APIKey describes a key as [SQL.APIKeys] lists it: never the key
// itself, nor its hash.
type APIKey struct {
	KeyInfo
	// LastUsed is when a server last accepted the key, as servers tell
	// the store (at most once a minute per key and server, see
	// [SQL.APIKeyUsed]), or zero if it never did.
	LastUsed time.Time
	// Revoked is when the key was revoked, or zero for a key in use.
	Revoked time.Time
}

// APIKeys lists the tenant's API keys, oldest first; with revoked true,
// the keys it revoked too, by their creation times among the others. An
// unknown tenant has none.
func (s *SQL) APIKeys(ctx context.Context, tenantID string, revoked bool) ([]APIKey, error) {
	scan := func(r *sql.Rows) (APIKey, error) {
		var k APIKey
		var created int64
		var lastUsed, revokedAt sql.NullInt64
		if err := r.Scan(&k.ID, &k.TenantID, &k.Name, &created, &lastUsed, &revokedAt); err != nil {
			return APIKey{}, err
		}
		k.Created = fromNanos(created)
		if lastUsed.Valid {
			k.LastUsed = fromNanos(lastUsed.Int64)
		}
		if revokedAt.Valid {
			k.Revoked = fromNanos(revokedAt.Int64)
		}
		return k, nil
	}
	what := fmt.Sprintf("listing the API keys of tenant %q", tenantID)
	keys, err := queryAll(ctx, s.db, what,
		`SELECT id, tenant_id, name, created, last_used, NULL FROM api_keys WHERE tenant_id = $1`,
		[]any{tenantID}, scan)
	if err != nil || !revoked {
		sortKeys(keys)
		return keys, err
	}
	gone, err := queryAll(ctx, s.db, what,
		`SELECT id, tenant_id, name, created, last_used, revoked FROM revoked_api_keys WHERE tenant_id = $1`,
		[]any{tenantID}, scan)
	keys = append(keys, gone...)
	sortKeys(keys)
	return keys, err
}

func sortKeys(keys []APIKey) {
	slices.SortFunc(keys, func(a, b APIKey) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
}

// RevokeAPIKey revokes the API key whose ID is id (KeyInfo.ID, not the key)
// and returns what it was. The key's row moves from the keys that
// [SQL.Authenticate] finds to the revoked ones, which keep its ID, tenant,
// name and times for [SQL.APIKeys] and for reading the audit log: from
// then on the store answers the key as it answers a key it never made
// (ErrUnauthenticated), and its name is free for a new key. A server that
// accepted the key before goes on trusting it for as long as it caches
// that answer (server.AuthCacheTTL).
//
// The error matches [ErrRevoked] for a key revoked already, and
// [ErrNotFound] for an ID the store never gave out.
func (s *SQL) RevokeAPIKey(ctx context.Context, id string) (KeyInfo, error) {
	var info KeyInfo
	var revoked int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// One statement takes the row: of two revocations at once, the
		// second finds it gone (PostgreSQL's waits for the first's row
		// lock; SQLite's for its write lock).
		var created int64
		var lastUsed sql.NullInt64
		err := tx.QueryRowContext(ctx, `DELETE FROM api_keys WHERE id = $1 RETURNING tenant_id, name, created, last_used`, id).
			Scan(&info.TenantID, &info.Name, &created, &lastUsed)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, `SELECT tenant_id, name, revoked FROM revoked_api_keys WHERE id = $1`, id).
				Scan(&info.TenantID, &info.Name, &revoked)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err == nil {
				err = ErrRevoked
			}
			return err
		}
		if err != nil {
			return err
		}
		info.ID, info.Created = id, fromNanos(created)
		revoked = now()
		_, err = tx.ExecContext(ctx, `INSERT INTO revoked_api_keys (id, tenant_id, name, created, last_used, revoked) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, info.TenantID, info.Name, created, lastUsed, revoked)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return KeyInfo{}, fmt.Errorf("store: API key %q: %w", id, ErrNotFound)
	case errors.Is(err, ErrRevoked):
		return KeyInfo{}, fmt.Errorf("store: API key %q (%q of tenant %q) was revoked at %s: %w",
			id, info.Name, info.TenantID, fromNanos(revoked).Format(time.RFC3339), ErrRevoked)
	case err != nil:
		return KeyInfo{}, fmt.Errorf("store: revoking API key %q: %w", id, err)
	}
	return info, nil
}

// APIKeyUsed notes that a server accepted the key whose ID is id at time
// at. A later time already noted (by another server) is kept, and a key
// that is gone is not an error. It writes: servers call it at most once a
// minute per key, not on every request, so LastUsed is as fine as that.
func (s *SQL) APIKeyUsed(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE api_keys SET last_used = $2 WHERE id = $1 AND (last_used IS NULL OR last_used < $2)`,
		id, at.UnixNano())
	if err != nil {
		return fmt.Errorf("store: noting the use of API key %q: %w", id, err)
	}
	return nil
}

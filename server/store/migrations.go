package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// A migration moves the schema from version-1 to version. Its statements
// are written once; the two dialects differ only in the types the tokens
// stand for (see dialectTypes). The queries in sql.go are the same for both.
type migration struct {
	version    int
	name       string
	statements []string
}

// dialectTypes replaces the tokens of migration statements, per dialect.
var dialectTypes = map[bool]*strings.Replacer{
	false: strings.NewReplacer("{blob}", "BLOB", "{identity}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
	true:  strings.NewReplacer("{blob}", "BYTEA", "{identity}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"), // PostgreSQL: not run yet
}

// migrations, in order. Never edit one that shipped: append another.
var migrations = []migration{
	{
		version: 1,
		name:    "tenants, api keys, secrets, audit",
		statements: []string{
			`CREATE TABLE tenants (
				id      TEXT PRIMARY KEY,
				name    TEXT NOT NULL UNIQUE,
				created BIGINT NOT NULL
			)`,
			`CREATE TABLE api_keys (
				id        TEXT PRIMARY KEY,
				tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				name      TEXT NOT NULL,
				hash      {blob} NOT NULL UNIQUE,
				created   BIGINT NOT NULL,
				UNIQUE (tenant_id, name)
			)`,
			`CREATE TABLE secrets (
				tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				name        TEXT NOT NULL,
				version     INTEGER NOT NULL,
				format      INTEGER NOT NULL,
				key_id      TEXT NOT NULL,
				wrapped_key {blob} NOT NULL,
				nonce       {blob} NOT NULL,
				ciphertext  {blob} NOT NULL,
				created     BIGINT NOT NULL,
				updated     BIGINT NOT NULL,
				PRIMARY KEY (tenant_id, name)
			)`,
			`CREATE INDEX secrets_key_id ON secrets (key_id)`,
			`CREATE TABLE audit (
				id          {identity},
				at          BIGINT NOT NULL,
				tenant_id   TEXT NOT NULL,
				key_id      TEXT NOT NULL,
				operation   TEXT NOT NULL,
				secret_name TEXT NOT NULL,
				outcome     TEXT NOT NULL
			)`,
			`CREATE INDEX audit_tenant_time ON audit (tenant_id, at, id)`,
		},
	},
}

// SchemaVersion is the schema version this package writes and reads.
var SchemaVersion = migrations[len(migrations)-1].version

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	applied BIGINT NOT NULL
)`

// migrate brings the schema up to SchemaVersion, one transaction per
// migration, each recorded in schema_migrations. Run by two processes at
// once, the second finds the migration done inside its own (write-locked)
// transaction and skips it. A database newer than this program is refused.
func migrate(ctx context.Context, db *sql.DB, postgres bool) error {
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("store: creating schema_migrations: %w", err)
	}
	have, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if have > SchemaVersion {
		return fmt.Errorf("store: the database has schema version %d, newer than this program's %d: upgrade the program", have, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		stmts := make([]string, len(m.statements))
		for i, st := range m.statements {
			stmts[i] = dialectTypes[postgres].Replace(st)
		}
		if err := inTx(ctx, db, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // another process got here first
			}
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixNano())
			return err
		}); err != nil {
			return fmt.Errorf("store: migrating the schema to version %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: reading the schema version: %w", err)
	}
	return int(v.Int64), nil
}

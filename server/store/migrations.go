package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"
)

// A migration moves the schema from version-1 to version. Its statements
// are written once; the two dialects differ only in the types the tokens
// stand for (see dialectTypes), and in postgres, which PostgreSQL alone
// runs after them. The queries in sql.go are the same for both.
type migration struct {
	version    int
	name       string
	statements []string
	// postgres are statements PostgreSQL runs after statements, for what
	// SQLite has already (or cannot say).
	postgres []string
}

// dialectTypes replaces the tokens of migration statements, per dialect.
var dialectTypes = map[bool]*strings.Replacer{
	false: strings.NewReplacer("{blob}", "BLOB", "{identity}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
	true:  strings.NewReplacer("{blob}", "BYTEA", "{identity}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
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
	{
		version: 2,
		name:    "audit events count like attempts",
		statements: []string{
			`ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1`,
		},
	},
	{
		version: 3,
		name:    "flows, flow runs, task runs, run logs",
		statements: []string{
			`CREATE TABLE flows (
				id          TEXT PRIMARY KEY,
				tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				name        TEXT NOT NULL,
				version     INTEGER NOT NULL,
				digest      TEXT NOT NULL,
				definition  TEXT NOT NULL,
				labels      TEXT NOT NULL,
				command     TEXT NOT NULL,
				working_dir TEXT NOT NULL,
				has_env     INTEGER NOT NULL,
				created     BIGINT NOT NULL,
				UNIQUE (tenant_id, name, version)
			)`,
			`CREATE TABLE flow_runs (
				id           TEXT PRIMARY KEY,
				tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				flow_id      TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
				name         TEXT NOT NULL,
				parameters   TEXT NOT NULL,
				state        TEXT NOT NULL,
				message      TEXT NOT NULL,
				version      INTEGER NOT NULL,
				agent_id     TEXT NOT NULL,
				heartbeat    BIGINT NOT NULL,
				created      BIGINT NOT NULL,
				updated      BIGINT NOT NULL
			)`,
			`CREATE INDEX flow_runs_state ON flow_runs (tenant_id, state, created)`,
			`CREATE INDEX flow_runs_reap ON flow_runs (state, updated)`,
			`CREATE TABLE task_runs (
				flow_run_id TEXT NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
				slug        TEXT NOT NULL,
				map_index   INTEGER NOT NULL,
				id          TEXT NOT NULL,
				state       TEXT NOT NULL,
				message     TEXT NOT NULL,
				updated     BIGINT NOT NULL,
				seq         BIGINT NOT NULL,
				PRIMARY KEY (flow_run_id, slug, map_index)
			)`,
			`CREATE TABLE run_logs (
				id          {identity},
				flow_run_id TEXT NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
				at          BIGINT NOT NULL,
				level       TEXT NOT NULL,
				task_slug   TEXT NOT NULL,
				message     TEXT NOT NULL
			)`,
			`CREATE INDEX run_logs_run ON run_logs (flow_run_id, id)`,
		},
	},
	{
		version: 4,
		name:    "log lines numbered by their writer",
		statements: []string{
			// NULLs (lines without a number) never conflict.
			`ALTER TABLE run_logs ADD COLUMN writer_seq BIGINT`,
			`CREATE UNIQUE INDEX run_logs_writer_seq ON run_logs (flow_run_id, writer_seq)`,
		},
	},
	{
		version: 5,
		name:    "secrets stamps, for the server's masker",
		statements: []string{
			// The tenant's grows with every put and delete of one of its
			// secrets; a secret's is the tenant's at its last put (see
			// SQL.SecretsStamp).
			`ALTER TABLE tenants ADD COLUMN secrets_stamp BIGINT NOT NULL DEFAULT 0`,
			`ALTER TABLE secrets ADD COLUMN stamp BIGINT NOT NULL DEFAULT 0`,
			`CREATE INDEX secrets_tenant_stamp ON secrets (tenant_id, stamp)`,
		},
	},
	{
		version: 6,
		name:    "api keys' last use, revoked api keys",
		statements: []string{
			// NULL: never used (as servers note it, see SQL.APIKeyUsed).
			`ALTER TABLE api_keys ADD COLUMN last_used BIGINT`,
			// A revoked key's row moves here (SQL.RevokeAPIKey), without
			// its hash: Authenticate no longer finds it, and the audit
			// log's key IDs still name a key.
			`CREATE TABLE revoked_api_keys (
				id        TEXT PRIMARY KEY,
				tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				name      TEXT NOT NULL,
				created   BIGINT NOT NULL,
				last_used BIGINT,
				revoked   BIGINT NOT NULL
			)`,
			`CREATE INDEX revoked_api_keys_tenant ON revoked_api_keys (tenant_id)`,
		},
	},
	{
		version: 7,
		name:    "tenants' count of secrets, secret names in byte order",
		statements: []string{
			// The tenant's secrets but the server's own (".prefect/..."),
			// kept by PutSecret and DeleteSecret in their transactions, so
			// that the limit on a tenant's secrets costs one read, not a
			// count of its rows. substr, not LIKE: SQLite's LIKE ignores
			// ASCII case, and the server reserves ".prefect/" exactly.
			`ALTER TABLE tenants ADD COLUMN secret_count BIGINT NOT NULL DEFAULT 0`,
			`UPDATE tenants SET secret_count = (SELECT COUNT(*) FROM secrets
				WHERE secrets.tenant_id = tenants.id AND substr(secrets.name, 1, 9) <> '.prefect/')`,
		},
		postgres: []string{
			// Names compare byte by byte, as SQLite's (BINARY) and Go's do,
			// whatever the database's collation: SecretsPage's cursor
			// (name > $after) and its ORDER BY then agree with the sort
			// clients see, and use the primary key's index.
			`ALTER TABLE secrets ALTER COLUMN name TYPE TEXT COLLATE "C"`,
		},
	},
	{
		version: 8,
		name:    "schedules: runs' planned starts, labels and idempotency keys, flows' schedules",
		statements: []string{
			// When a run is planned to start (Prefect's
			// scheduled_start_time); the runs of earlier versions were
			// planned for when they were created.
			`ALTER TABLE flow_runs ADD COLUMN scheduled_start BIGINT NOT NULL DEFAULT 0`,
			`UPDATE flow_runs SET scheduled_start = created`,
			// A run's own labels: a schedule's clock may add some to the
			// flow's. Earlier runs had their flow's.
			`ALTER TABLE flow_runs ADD COLUMN labels TEXT`,
			`UPDATE flow_runs SET labels = (SELECT labels FROM flows WHERE flows.id = flow_runs.flow_id)`,
			// The scheduler's key of each of its runs (flow name and
			// planned start); NULL for runs made on request, which never
			// conflict. Unique: servers sharing the database never create
			// one event's run twice.
			`ALTER TABLE flow_runs ADD COLUMN idempotency_key TEXT`,
			`CREATE UNIQUE INDEX flow_runs_idempotency_key ON flow_runs (tenant_id, idempotency_key)`,
			// Claims take the due runs, oldest planned first.
			`CREATE INDEX flow_runs_due ON flow_runs (tenant_id, state, scheduled_start, id)`,
			// A version's schedule's JSON, NULL for none.
			`ALTER TABLE flows ADD COLUMN schedule TEXT`,
			// One row per flow name registered since: the version the
			// scheduler follows (the newest), whether its schedule is
			// active, the planned start of the latest run it created
			// (until_at, 0 for none) and when it is due again (next_at,
			// NULL for never).
			`CREATE TABLE flow_schedules (
				tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				flow_name TEXT NOT NULL,
				flow_id   TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
				active    INTEGER NOT NULL,
				until_at  BIGINT NOT NULL,
				next_at   BIGINT,
				PRIMARY KEY (tenant_id, flow_name)
			)`,
			`CREATE INDEX flow_schedules_due ON flow_schedules (active, next_at)`,
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

// migrationLock is the PostgreSQL advisory lock key that serialises
// migrations between processes ("prefect-go schema" as 8 bytes).
const migrationLock = 0x7072656663746773

// migrate brings the schema up to SchemaVersion, one transaction per
// migration, each recorded in schema_migrations. Two processes migrating at
// once take turns: SQLite transactions take the write lock when they begin
// (the connection's _txlock), PostgreSQL ones an advisory lock first. The
// second finds the migration done inside its own transaction and skips it.
// A database newer than this program is refused.
func migrate(ctx context.Context, db *sql.DB, postgres bool) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connecting to migrate the schema: %w", err)
	}
	defer conn.Close()
	if postgres {
		// Session-level: held across the CREATE TABLE IF NOT EXISTS below,
		// which PostgreSQL does not make safe against a concurrent twin.
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("store: locking the schema for migration: %w", err)
		}
		defer func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
				// Still locked: drop the connection rather than pool it,
				// or other servers' migrations would wait for this process
				// to end.
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("store: creating schema_migrations: %w", err)
	}
	have, err := schemaVersion(ctx, conn)
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
		if err := applyMigration(ctx, conn, m, postgres); err != nil {
			return fmt.Errorf("store: migrating the schema to version %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, m migration, postgres bool) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil // another process got here first
	}
	statements := m.statements
	if postgres {
		statements = append(statements[:len(statements):len(statements)], m.postgres...)
	}
	for _, st := range statements {
		if _, err := tx.ExecContext(ctx, dialectTypes[postgres].Replace(st)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// querier is what schemaVersion needs of a *sql.DB or *sql.Conn.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, db querier) (int, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: reading the schema version: %w", err)
	}
	return int(v.Int64), nil
}

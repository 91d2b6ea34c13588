package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/server/seal"

	"modernc.org/sqlite" // also the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// KeyPrefix starts every API key, so that a leaked key is recognisable
// (by secret scanners, say).
const KeyPrefix = "pgo_"

// SQL is a [Store] in an SQL database through database/sql: SQLite, opened
// with [OpenSQLite], or PostgreSQL, opened with [OpenPostgres]. [Open]
// chooses by the form of its argument. The queries are the same for both.
type SQL struct {
	db       *sql.DB
	postgres bool
	audit    *auditWriter
	stmts    sync.Map // query text -> *sql.Stmt, for the queries of every request
	// writes lets SQLite writes of this process through one at a time;
	// nil for PostgreSQL.
	writes *writeGate
	// wal checkpoints SQLite's write-ahead log and keeps it bounded; nil
	// for PostgreSQL.
	wal       *walKeeper
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQL)(nil)

// tighten removes group and other permissions from path.
func tighten(path string, mode os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("store: restricting %s to mode %v: %w", path, mode, err)
		}
	}
	return nil
}

// OpenSQLite opens the SQLite database at path, creating it (mode 0600, in
// a folder created 0700 if missing) and bringing its schema up to date. The
// connections use WAL and foreign keys.
//
// Writes of one process never fail for contention: they pass one at a time,
// in the order they came, through a gate in the process (see writeGate),
// and each waits its turn for as long as its context allows. Reads run
// beside them, up to 16 at once. The write-ahead log is checkpointed in the
// background and kept under 64 MiB however many read and write, as long as
// no reader (of another process) keeps a transaction open for seconds
// (see walBound).
//
// Several processes on one database file (two servers on one data folder,
// or a server and `prefect server create-tenant`) share it through
// SQLite's own lock, which is polled, not queued. Each process's writes
// still go one at a time, and take SQLite's write lock when their
// transaction begins (BEGIN IMMEDIATE, so that two never deadlock
// upgrading a read); a write that finds another process holding it polls
// for up to the busy timeout, 5 s, and if the other kept writing all that
// time, runs again rather than fail with "database is locked", for as
// long as its context allows. Polling is not fair: a write may wait long
// while the other process writes, and a process that holds the lock and
// never lets go (an sqlite3 shell in a transaction) holds up every write
// until it does. Each process keeps and truncates the one log as
// above. Servers that share a store should use PostgreSQL.
func OpenSQLite(ctx context.Context, path string) (*SQL, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: SQLite database path %q: want a file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: creating the database folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: creating the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: creating the database file: %w", err)
	}
	// An existing file or folder keeps whatever mode it had: tighten it, as
	// it holds key hashes, secret names and the audit log.
	if err := tighten(path, 0o600); err != nil {
		return nil, err
	}
	if err := tighten(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// dsn is the database's URI with these pragmas, which every
	// connection runs when it opens, and busy_timeout(busyMS).
	dsn := func(busyMS int, pragmas ...string) string {
		q := neturl.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyMS))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "foreign_keys(ON)")
		// Checkpoints run in the background (see walKeeper), not in the
		// commit of whichever request fills the log: that held reads' p99
		// at about 20 ms.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		// When SQLite restarts the log, it cuts the file back to this.
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walTruncateAt))
		for _, p := range pragmas {
			q.Add("_pragma", p)
		}
		// Take the write lock at BEGIN: a transaction that read first and
		// then wrote could not get it while another process wrote.
		q.Set("_txlock", "immediate")
		// Escape what would end the path early in a URI.
		p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
		return "file:" + p + "?" + q.Encode()
	}
	// Three pools: readers and the writes that pass the gate; the audit
	// log's one writer; the checkpoints' one connection. None holds a
	// read transaction between calls (rows are read to the end or closed),
	// which would keep the log from being reset.
	db, err := sql.Open("sqlite", dsn(5000))
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	// Keep the connections: opening one runs the pragmas again. WAL lets
	// readers run beside the one writer.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	// The audit log's one writer commits without waiting for the disk
	// (synchronous NORMAL): its rows survive a crash of this process, and
	// reach the disk with the next write of a secret (whose commit syncs the
	// whole log) or checkpoint. Waiting for the disk on every read's audit
	// row held reads to about a thousand a second.
	auditDB, err := sql.Open("sqlite", dsn(5000, "synchronous(NORMAL)"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	auditDB.SetMaxOpenConns(1)
	ckptDB, err := sql.Open("sqlite", dsn(int(walCheckpointBusy/time.Millisecond)))
	if err != nil {
		db.Close()
		auditDB.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	ckptDB.SetMaxOpenConns(1)
	fail := func(err error) (*SQL, error) {
		db.Close()
		auditDB.Close()
		ckptDB.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	if err := migrate(ctx, db, false); err != nil {
		return fail(err)
	}
	gate := newWriteGate()
	wal, err := startWALKeeper(ctx, ckptDB, gate, path)
	if err != nil {
		return fail(err)
	}
	st := newSQL(db, auditDB, gate)
	st.wal = wal
	return st, nil
}

// Open opens the store at target: PostgreSQL for a URL starting
// "postgres://" or "postgresql://" (see [OpenPostgres]), else the SQLite
// database file at that path (see [OpenSQLite]).
func Open(ctx context.Context, target string) (*SQL, error) {
	if IsPostgresURL(target) {
		return OpenPostgres(ctx, target)
	}
	return OpenSQLite(ctx, target)
}

// IsPostgresURL reports whether target is a PostgreSQL URL, as [Open]
// decides.
func IsPostgresURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// OpenPostgres opens the PostgreSQL database at url (a libpq URL such as
// postgres://user:pass@host:5432/db?sslmode=verify-full; see
// https://www.postgresql.org/docs/current/libpq-connect.html) and brings its
// schema up to date. The tables go in the connection's schema (its
// search_path, which the URL may set). Several servers may share one
// database: migrations take an advisory lock, so only one process applies
// each.
//
// Errors never hold the URL, which may hold a password; they name the host
// and database.
func OpenPostgres(ctx context.Context, url string) (*SQL, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may quote the URL, password and all.
		return nil, errors.New("store: the PostgreSQL URL does not parse; want postgres://user:password@host:port/database?sslmode=...")
	}
	where := fmt.Sprintf("PostgreSQL database %q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", where, redactURL(err, url))
	}
	if err := migrate(ctx, db, true); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (%s)", redactURL(err, url), where)
	}
	return newSQL(db, db, nil), nil
}

// redactURL returns err, or, if its text holds the password of url, an
// error that reads the same with the password masked and still matches
// what err matches (errors.Is, errors.As).
func redactURL(err error, raw string) error {
	u, perr := neturl.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

// redacted is an error whose text hides a password its cause's holds.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// SchemaVersion returns the schema version the database records, which is
// [SchemaVersion] once opened.
func (s *SQL) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.db)
}

// newSQL makes the store of db; writes, nil for PostgreSQL, is the gate of
// SQLite's writes.
func newSQL(db, auditDB *sql.DB, writes *writeGate) *SQL {
	postgres := writes == nil
	s := &SQL{db: db, postgres: postgres, writes: writes}
	s.audit = newAuditWriter(auditDB, postgres, writes)
	return s
}

// Close writes the audit events waiting to be written and closes the
// database. Calls after it fail; closing again does nothing.
func (s *SQL) Close() error {
	s.closeOnce.Do(func() {
		s.audit.close()
		if s.wal != nil {
			s.wal.stop()
		}
		if s.audit.db != s.db {
			s.audit.db.Close()
		}
		s.stmts.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// prepared returns query prepared once: the queries every request runs are
// parsed once per connection, not once per call (parsing was a fifth of a
// read's time).
func (s *SQL) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// now is the time rows record: UTC, in nanoseconds since 1970 (a BIGINT).
func now() int64 { return time.Now().UnixNano() }

// nanosOr is t in nanoseconds, or now when t is zero (a writer that gave
// no time).
func nanosOr(t time.Time) int64 {
	if t.IsZero() {
		return now()
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// inTx runs f in a transaction, committed if f returns nil, in its turn
// to write (see writeGate).
// On SQLite, f runs again if another process kept the database locked
// (see writeGate.do).
func (s *SQL) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	return s.writes.do(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := f(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// exec runs a statement that writes, in its turn (see writeGate).
func (s *SQL) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = s.writes.do(ctx, func() error {
		res, err = s.db.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// isUnique reports whether err is a unique constraint violation: SQLite's
// SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY, or PostgreSQL's SQLSTATE 23505.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite *sqlite.Error
	return errors.As(err, &lite) && (lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func tenantExists(ctx context.Context, tx *sql.Tx, tenantID string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE id = $1`, tenantID).Scan(&n)
	return n > 0, err
}

func noTenant(tenantID string) error {
	return fmt.Errorf("store: tenant %q: %w", tenantID, ErrNotFound)
}

// CreateTenant implements [Store].
func (s *SQL) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if name == "" {
		return Tenant{}, errors.New("store: creating a tenant: empty name")
	}
	t := Tenant{ID: uuid.NewString(), Name: name}
	created := now()
	t.Created = fromNanos(created)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE name = $1`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)`, t.ID, name, created)
		return err
	})
	if errors.Is(err, ErrExists) || isUnique(err) {
		return Tenant{}, fmt.Errorf("store: tenant %q: %w", name, ErrExists)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("store: creating tenant %q: %w", name, err)
	}
	return t, nil
}

// Tenant implements [Store].
func (s *SQL) Tenant(ctx context.Context, name string) (Tenant, error) {
	t := Tenant{Name: name}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, created FROM tenants WHERE name = $1`, name).Scan(&t.ID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("store: tenant %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("store: reading tenant %q: %w", name, err)
	}
	t.Created = fromNanos(created)
	return t, nil
}

// TenantName returns the name of the tenant whose ID is id, or an error
// matching ErrNotFound. The server's tenant query shows it (as the
// tenant's name and slug) to the tenant's own API keys.
func (s *SQL) TenantName(ctx context.Context, id string) (string, error) {
	var name string
	err := s.db.QueryRowContext(ctx, `SELECT name FROM tenants WHERE id = $1`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: tenant ID %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: reading the name of tenant ID %q: %w", id, err)
	}
	return name, nil
}

func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateAPIKey implements [Store].
func (s *SQL) CreateAPIKey(ctx context.Context, tenantID, name string) (string, KeyInfo, error) {
	if name == "" {
		return "", KeyInfo{}, fmt.Errorf("store: creating an API key for tenant %q: empty name", tenantID)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", KeyInfo{}, fmt.Errorf("store: generating an API key: %w", err)
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	info := KeyInfo{ID: uuid.NewString(), TenantID: tenantID, Name: name}
	created := now()
	info.Created = fromNanos(created)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ok, err := tenantExists(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if !ok {
			return noTenant(tenantID)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND name = $2`, tenantID, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, name, hash, created) VALUES ($1, $2, $3, $4, $5)`,
			info.ID, tenantID, name, hashKey(key), created)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return "", KeyInfo{}, err
	case errors.Is(err, ErrExists) || isUnique(err):
		return "", KeyInfo{}, fmt.Errorf("store: API key %q of tenant %q: %w", name, tenantID, ErrExists)
	case err != nil:
		return "", KeyInfo{}, fmt.Errorf("store: creating API key %q of tenant %q: %w", name, tenantID, err)
	}
	return key, info, nil
}

// Authenticate implements [Store].
func (s *SQL) Authenticate(ctx context.Context, key string) (KeyInfo, error) {
	unauth := fmt.Errorf("store: %w", ErrUnauthenticated)
	if key == "" {
		return KeyInfo{}, unauth
	}
	h := hashKey(key)
	var info KeyInfo
	var stored []byte
	var created int64
	st, err := s.prepared(ctx, `SELECT id, tenant_id, name, hash, created FROM api_keys WHERE hash = $1`)
	if err == nil {
		err = st.QueryRowContext(ctx, h).Scan(&info.ID, &info.TenantID, &info.Name, &stored, &created)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return KeyInfo{}, unauth
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("store: authenticating: %w", err)
	}
	// The lookup found it by hash; compare again in constant time so the
	// answer does not hang on the database's comparison alone.
	if subtle.ConstantTimeCompare(stored, h) != 1 {
		return KeyInfo{}, unauth
	}
	info.Created = fromNanos(created)
	return info, nil
}

func secretErr(tenantID, name string, err error) error {
	return fmt.Errorf("store: secret %q of tenant %q: %w", name, tenantID, err)
}

// PutSecret implements [Store]. It is [SQL.PutSecretWithin] without a
// limit.
func (s *SQL) PutSecret(ctx context.Context, tenantID, name string, sl seal.Sealed) (SecretMeta, error) {
	return s.PutSecretWithin(ctx, tenantID, name, sl, 0)
}

// PutSecretWithin implements [Store]. The tenant's count of secrets is
// read and changed in the put's transaction, under the lock of the
// tenant's row that every put and delete of its secrets takes first (see
// bumpStamp): concurrent puts and deletes pass one at a time, so that the
// count never drifts and no two new names both take the last place. Its
// cost does not grow with the tenant's secrets.
func (s *SQL) PutSecretWithin(ctx context.Context, tenantID, name string, sl seal.Sealed, limit int) (SecretMeta, error) {
	if name == "" {
		return SecretMeta{}, fmt.Errorf("store: putting a secret of tenant %q: empty name", tenantID)
	}
	if sl.KeyID == "" || len(sl.WrappedKey) == 0 || len(sl.Nonce) == 0 || len(sl.Ciphertext) == 0 {
		return SecretMeta{}, secretErr(tenantID, name, errors.New("incomplete sealed value (want KeyID, WrappedKey, Nonce and Ciphertext)"))
	}
	m := SecretMeta{Name: name}
	t := now()
	var created, updated int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stamp, held, err := bumpStamp(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO secrets
			(tenant_id, name, version, format, key_id, wrapped_key, nonce, ciphertext, created, updated, stamp)
			VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant_id, name) DO UPDATE SET
				version = secrets.version + 1,
				format = excluded.format,
				key_id = excluded.key_id,
				wrapped_key = excluded.wrapped_key,
				nonce = excluded.nonce,
				ciphertext = excluded.ciphertext,
				updated = excluded.updated,
				stamp = excluded.stamp
			RETURNING version, created, updated`,
			tenantID, name, sl.Version, sl.KeyID, sl.WrappedKey, sl.Nonce, sl.Ciphertext, t, t, stamp).
			Scan(&m.Version, &created, &updated)
		// Version 1 is a new row: a replaced one has 2 or more.
		if err != nil || m.Version != 1 || !counted(name) {
			return err
		}
		if limit > 0 && held >= int64(limit) {
			return &LimitError{Held: int(held), Max: limit} // rolled back, row and stamp
		}
		_, err = tx.ExecContext(ctx, `UPDATE tenants SET secret_count = secret_count + 1 WHERE id = $1`, tenantID)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return SecretMeta{}, err
	case errors.Is(err, ErrLimit):
		return SecretMeta{}, fmt.Errorf("store: secret %q of tenant %q not put: %w", name, tenantID, err)
	case err != nil:
		return SecretMeta{}, fmt.Errorf("store: putting secret %q of tenant %q: %w", name, tenantID, err)
	}
	m.Created, m.Updated = fromNanos(created), fromNanos(updated)
	return m, nil
}

// counted reports whether the secret name counts towards its tenant's
// limit: all but the server's own do.
func counted(name string) bool { return !strings.HasPrefix(name, orchestration.ReservedPrefix) }

// Secret implements [Store].
func (s *SQL) Secret(ctx context.Context, tenantID, name string) (seal.Sealed, SecretMeta, error) {
	var sl seal.Sealed
	m := SecretMeta{Name: name}
	var created, updated int64
	st, err := s.prepared(ctx, `SELECT version, format, key_id, wrapped_key, nonce, ciphertext, created, updated
		FROM secrets WHERE tenant_id = $1 AND name = $2`)
	if err == nil {
		err = st.QueryRowContext(ctx, tenantID, name).
			Scan(&m.Version, &sl.Version, &sl.KeyID, &sl.WrappedKey, &sl.Nonce, &sl.Ciphertext, &created, &updated)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return seal.Sealed{}, SecretMeta{}, secretErr(tenantID, name, ErrNotFound)
	}
	if err != nil {
		return seal.Sealed{}, SecretMeta{}, fmt.Errorf("store: reading secret %q of tenant %q: %w", name, tenantID, err)
	}
	m.Created, m.Updated = fromNanos(created), fromNanos(updated)
	return sl, m, nil
}

// DeleteSecret implements [Store].
func (s *SQL) DeleteSecret(ctx context.Context, tenantID, name string) error {
	notFound := secretErr(tenantID, name, ErrNotFound)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The stamp first, as PutSecret does: the two take their row locks
		// in one order, so that they cannot deadlock. A delete of nothing
		// is rolled back, stamp and all.
		if _, _, err := bumpStamp(ctx, tx, tenantID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return notFound
			}
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE tenant_id = $1 AND name = $2`, tenantID, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, notFound)
		}
		if !counted(name) {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE tenants SET secret_count = secret_count - 1 WHERE id = $1`, tenantID)
		return err
	})
	if err != nil && err != notFound {
		return fmt.Errorf("store: deleting secret %q of tenant %q: %w", name, tenantID, err)
	}
	return err
}

// bumpStamp adds one to the tenant's secrets stamp and returns it, with
// the tenant's count of secrets, or an error matching ErrNotFound for an
// unknown tenant. It locks the tenant's row until the transaction ends:
// puts and deletes of the tenant's secrets take their stamps, read and
// change the count, and commit, one after the other.
func bumpStamp(ctx context.Context, tx *sql.Tx, tenantID string) (stamp, count int64, err error) {
	err = tx.QueryRowContext(ctx, `UPDATE tenants SET secrets_stamp = secrets_stamp + 1 WHERE id = $1
		RETURNING secrets_stamp, secret_count`, tenantID).Scan(&stamp, &count)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, noTenant(tenantID)
	}
	return stamp, count, err
}

// SecretsStamp returns the tenant's secrets stamp: a number that grows with
// every PutSecret and DeleteSecret of one of its secrets, committed with
// it, and with nothing else (not SwapSealed, which changes no value, nor
// ReapFlowRuns' deletes of finished runs' environments). A PutSecret also
// gives the secret the stamp it took, so that [SQL.SealedSecrets] can hand
// out only what was put since a stamp. A server compares the stamp with
// the one its masker of the tenant was built at on every write of run
// text: one read of the tenant's row. The error matches ErrNotFound for
// an unknown tenant.
func (s *SQL) SecretsStamp(ctx context.Context, tenantID string) (int64, error) {
	var stamp int64
	st, err := s.prepared(ctx, `SELECT secrets_stamp FROM tenants WHERE id = $1`)
	if err == nil {
		err = st.QueryRowContext(ctx, tenantID).Scan(&stamp)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, noTenant(tenantID)
	}
	if err != nil {
		return 0, fmt.Errorf("store: reading the secrets stamp of tenant %q: %w", tenantID, err)
	}
	return stamp, nil
}

// SealedSecrets returns the secrets of the tenant put after the stamp
// after (every one for a negative after), the server's own (".prefect/...")
// too, as stored, by name, with the tenant's secrets stamp. The stamp is
// read before the rows: a put between the two reads makes the stamp older
// than the rows, never newer, so that a caller who asks again from the
// stamp it got misses nothing (and may get a secret twice). Deletes leave
// no trace here; the stamp counts them. The error matches ErrNotFound for
// an unknown tenant.
func (s *SQL) SealedSecrets(ctx context.Context, tenantID string, after int64) (map[string]seal.Sealed, int64, error) {
	stamp, err := s.SecretsStamp(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]seal.Sealed{}
	rows, err := s.db.QueryContext(ctx, `SELECT name, format, key_id, wrapped_key, nonce, ciphertext FROM secrets
		WHERE tenant_id = $1 AND stamp > $2`, tenantID, after)
	if err != nil {
		return nil, 0, fmt.Errorf("store: reading the secrets of tenant %q: %w", tenantID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var sl seal.Sealed
		if err := rows.Scan(&name, &sl.Version, &sl.KeyID, &sl.WrappedKey, &sl.Nonce, &sl.Ciphertext); err != nil {
			return nil, 0, fmt.Errorf("store: reading the secrets of tenant %q: %w", tenantID, err)
		}
		out[name] = sl
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: reading the secrets of tenant %q: %w", tenantID, err)
	}
	return out, stamp, nil
}

// Secrets implements [Store].
func (s *SQL) Secrets(ctx context.Context, tenantID string) ([]SecretMeta, error) {
	list, err := queryAll(ctx, s.db, fmt.Sprintf("listing secrets of tenant %q", tenantID),
		`SELECT name, version, created, updated FROM secrets WHERE tenant_id = $1`, []any{tenantID},
		func(rows *sql.Rows) (SecretMeta, error) {
			var m SecretMeta
			var created, updated int64
			err := rows.Scan(&m.Name, &m.Version, &created, &updated)
			m.Created, m.Updated = fromNanos(created), fromNanos(updated)
			return m, err
		})
	// Sorted here, bytewise: PostgreSQL would sort by its collation.
	slices.SortFunc(list, func(a, b SecretMeta) int { return strings.Compare(a.Name, b.Name) })
	return list, err
}

// SecretsPage implements [Store]. It reads limit+1 rows along the primary
// key's index, from the cursor on: its cost is that of the page, however
// many secrets the tenant holds (keyset pagination; an OFFSET would read
// every row before the page).
func (s *SQL) SecretsPage(ctx context.Context, tenantID, after string, limit int) ([]SecretMeta, bool, error) {
	what := fmt.Sprintf("listing a page of the secrets of tenant %q", tenantID)
	if limit <= 0 {
		return nil, false, fmt.Errorf("store: %s: limit %d; want 1 or more", what, limit)
	}
	// Bytewise on both: SQLite's BINARY collation, and PostgreSQL's
	// column is COLLATE "C" (migration 7).
	st, err := s.prepared(ctx, `SELECT name, version, created, updated FROM secrets
		WHERE tenant_id = $1 AND name > $2 AND substr(name, 1, 9) <> '.prefect/'
		ORDER BY name LIMIT $3`)
	if err != nil {
		return nil, false, fmt.Errorf("store: %s: %w", what, err)
	}
	rows, err := st.QueryContext(ctx, tenantID, after, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	page := make([]SecretMeta, 0, min(limit, 1024))
	more := false
	for rows.Next() {
		if len(page) == limit {
			more = true
			break
		}
		var m SecretMeta
		var created, updated int64
		if err := rows.Scan(&m.Name, &m.Version, &created, &updated); err != nil {
			return nil, false, fmt.Errorf("store: %s: %w", what, err)
		}
		m.Created, m.Updated = fromNanos(created), fromNanos(updated)
		page = append(page, m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: %s: %w", what, err)
	}
	return page, more, nil
}

// CountSecrets implements [Store]. It reads the count that PutSecret and
// DeleteSecret keep on the tenant's row; an unknown tenant holds 0.
func (s *SQL) CountSecrets(ctx context.Context, tenantID string) (int, error) {
	var n int
	st, err := s.prepared(ctx, `SELECT secret_count FROM tenants WHERE id = $1`)
	if err == nil {
		err = st.QueryRowContext(ctx, tenantID).Scan(&n)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: counting the secrets of tenant %q: %w", tenantID, err)
	}
	return n, nil
}

// SealedNotUnder implements [Store].
func (s *SQL) SealedNotUnder(ctx context.Context, keyID string, limit int) ([]SealedRow, error) {
	q := `SELECT tenant_id, name, format, key_id, wrapped_key, nonce, ciphertext FROM secrets
		WHERE key_id <> $1 ORDER BY tenant_id, name`
	args := []any{keyID}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	return queryAll(ctx, s.db, fmt.Sprintf("listing secrets not under master key %q", keyID), q, args,
		func(rows *sql.Rows) (SealedRow, error) {
			var r SealedRow
			err := rows.Scan(&r.TenantID, &r.Name, &r.Sealed.Version, &r.Sealed.KeyID, &r.Sealed.WrappedKey, &r.Sealed.Nonce, &r.Sealed.Ciphertext)
			return r, err
		})
}

// SwapSealed implements [Store].
func (s *SQL) SwapSealed(ctx context.Context, row SealedRow, next seal.Sealed) error {
	if next.KeyID == "" || len(next.WrappedKey) == 0 || len(next.Nonce) == 0 || len(next.Ciphertext) == 0 {
		return secretErr(row.TenantID, row.Name, errors.New("incomplete sealed value (want KeyID, WrappedKey, Nonce and Ciphertext)"))
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets
			SET format = $1, key_id = $2, wrapped_key = $3, nonce = $4, ciphertext = $5
			WHERE tenant_id = $6 AND name = $7 AND key_id = $8 AND wrapped_key = $9`,
			next.Version, next.KeyID, next.WrappedKey, next.Nonce, next.Ciphertext,
			row.TenantID, row.Name, row.Sealed.KeyID, row.Sealed.WrappedKey)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n > 0 {
			return err
		}
		var c int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM secrets WHERE tenant_id = $1 AND name = $2`, row.TenantID, row.Name).Scan(&c); err != nil {
			return err
		}
		if c == 0 {
			return fmt.Errorf("%w: %w", ErrConflict, ErrNotFound)
		}
		return ErrConflict
	})
	if errors.Is(err, ErrConflict) {
		return secretErr(row.TenantID, row.Name, err)
	}
	if err != nil {
		return fmt.Errorf("store: swapping the sealed value of secret %q of tenant %q: %w", row.Name, row.TenantID, err)
	}
	return nil
}

// Record implements [Store]. Events recorded at once are committed
// together, in one transaction; each call returns once its own is.
func (s *SQL) Record(ctx context.Context, e Event) error {
	if e.Operation == "" {
		return errors.New("store: recording an audit event: empty operation")
	}
	t := nanosOr(e.Time)
	return s.audit.record(ctx, []any{t, e.TenantID, e.KeyID, e.Operation, e.SecretName, e.Outcome, max(e.Count, 1)},
		fmt.Sprintf("audit event %q of tenant %q", e.Operation, e.TenantID))
}

// AuditLog implements [Store].
func (s *SQL) AuditLog(ctx context.Context, tenantID string, limit int) ([]Event, error) {
	q := `SELECT at, tenant_id, key_id, operation, secret_name, outcome, count FROM audit
		WHERE tenant_id = $1 ORDER BY at DESC, id DESC`
	args := []any{tenantID}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	return queryAll(ctx, s.db, fmt.Sprintf("reading the audit log of tenant %q", tenantID), q, args,
		func(rows *sql.Rows) (Event, error) {
			var e Event
			var t int64
			err := rows.Scan(&t, &e.TenantID, &e.KeyID, &e.Operation, &e.SecretName, &e.Outcome, &e.Count)
			e.Count = max(e.Count, 1) // the column's default; never 0
			e.Time = fromNanos(t)
			return e, err
		})
}

// queryAll runs a query and scans every row with scan; errors say what was
// being done.
func queryAll[T any](ctx context.Context, db *sql.DB, what, q string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// KeyIDsNotIn returns the IDs of the master keys that seal some secret but
// that ring does not hold, sorted: a server started with the wrong keys
// cannot read those secrets.
func (s *SQL) KeyIDsNotIn(ctx context.Context, ring *seal.Keyring) ([]string, error) {
	ids, err := queryAll(ctx, s.db, "listing master keys in use", `SELECT DISTINCT key_id FROM secrets ORDER BY key_id`, nil,
		func(rows *sql.Rows) (string, error) {
			var id string
			err := rows.Scan(&id)
			return id, err
		})
	return slices.DeleteFunc(ids, func(id string) bool { _, ok := ring.Key(id); return ok }), err
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The write-ahead log of an SQLite store is kept under walBound, in three
// steps:
//
//   - every checkpointEvery, the keeper copies the log into the database
//     file (PASSIVE: it waits for nobody), and once the log holds
//     walTruncateAt or more, it takes the write gate and truncates the log
//     to nothing (TRUNCATE: wait for readers of older snapshots, copy the
//     rest, empty the file);
//   - a write that finds the log file at walHoldAt or more truncates it
//     itself before it writes, retrying for up to walHoldFor, so that a
//     keeper that falls behind (a busy machine) slows writes down rather
//     than let the log grow (a write that gives up lets the next ones
//     write without trying, until a truncation succeeds);
//   - journal_size_limit cuts the file back to walTruncateAt when SQLite
//     restarts the log on its own.
//
// The log passes walHoldAt only by the write under way when it got there
// (a process's writes run one at a time), and by other processes' writes.
// So the file stays under walBound, and the database file plus its log
// under the database file plus walBound, while no write transaction writes
// more than walBound-walHoldAt (16 MiB) and no reader keeps a snapshot for
// longer than walHoldFor. Readers here run one query at a time and close
// its rows, so they hold a snapshot for that query only; a reader that
// holds one longer (another process, say an sqlite3 shell in a
// transaction) keeps the log from being reset, and then writes go on and
// the log grows until that reader lets go.
//
// Why the keeper must truncate: a PASSIVE checkpoint never waits, and
// SQLite restarts the log from its beginning only when a writer finds it
// wholly copied and no reader in it. Sixteen clients reading, each read
// writing its audit row, always leave a reader in the log, so it grew by
// some 20 MiB a second and never shrank (1.3 GiB after a minute).
const (
	checkpointEvery = 250 * time.Millisecond
	walTruncateAt   = 16 << 20
	walHoldAt       = 48 << 20
	walBound        = 64 << 20
	walHoldFor      = 5 * time.Second
	// walCheckpointBusy is how long one TRUNCATE checkpoint waits for
	// readers of older snapshots (and other processes' writers) before it
	// gives up for now: it holds the write gate meanwhile.
	walCheckpointBusy = 100 * time.Millisecond
)

// A writeGate lets this process's writes into an SQLite database through
// one at a time, in the order they came (a goroutine waiting to send on a
// channel is queued). SQLite allows one writer per database anyway; without
// the gate every waiting writer polls SQLite's lock on a backoff of up to
// 100 ms, unfairly, and one that loses for the whole busy timeout fails
// with "database is locked". With it a write waits for its turn as long as
// its context lets it, and SQLite's lock is contended only by other
// processes and checkpoints. Reads do not pass the gate. A nil *writeGate
// (PostgreSQL, whose own locks order writers) lets everything through.
type writeGate struct {
	turn chan struct{} // holds a token while a write runs
	wal  *walKeeper    // nil until the keeper starts
}

func newWriteGate() *writeGate { return &writeGate{turn: make(chan struct{}, 1)} }

// lock waits for the gate, or for ctx.
func (g *writeGate) lock(ctx context.Context) error {
	if g == nil {
		return nil
	}
	select {
	case g.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for this process's turn to write: %w", ctx.Err())
	}
}

// enter is lock, and then, if the log is over walHoldAt, a wait for it to
// be truncated (see walKeeper.hold).
func (g *writeGate) enter(ctx context.Context) error {
	if err := g.lock(ctx); err != nil {
		return err
	}
	if g != nil && g.wal != nil {
		g.wal.hold(ctx)
	}
	return nil
}

func (g *writeGate) leave() {
	if g != nil {
		<-g.turn
	}
}

// do runs f in its turn (enter, then leave). On SQLite, while f fails
// with "database is locked" (another process held SQLite's write lock
// for the whole busy timeout; SQLite polls its lock, it does not queue
// for it), f runs again, until ctx is done. f must leave nothing behind
// when it fails: a transaction, rolled back.
func (g *writeGate) do(ctx context.Context, f func() error) error {
	if err := g.enter(ctx); err != nil {
		return err
	}
	defer g.leave()
	for {
		err := f()
		if g == nil || !isBusy(err) || ctx.Err() != nil {
			return err
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, in any of its
// extended forms.
func isBusy(err error) bool {
	var lite *sqlite.Error
	return errors.As(err, &lite) && lite.Code()&0xff == sqlite3.SQLITE_BUSY
}

// A walKeeper checkpoints an SQLite database's write-ahead log, in place
// of SQLite's automatic checkpoints, which run inside the commit that fills
// the log and so stall that request (they held reads' p99 at about 20 ms),
// and keeps the log under walBound (see there).
type walKeeper struct {
	db       *sql.DB // one connection with a short busy timeout, for checkpoints only
	gate     *writeGate
	walPath  string
	pageSize int64
	holdFor  time.Duration // walHoldFor; read by the gate's holder only
	quit     chan struct{}
	done     chan struct{}

	mu      sync.Mutex // held for each checkpoint
	lastLog int64      // frames in the log at the last checkpoint
	// written counts the bytes the log took in, as checkpoints saw them (a
	// lower bound: frames written and reset between two looks are missed);
	// truncated counts the truncations. Tests read them.
	written   atomic.Int64
	truncated atomic.Int64
	// stuck is set when a write gave up waiting for a truncation (a reader
	// keeps an old snapshot), and cleared by the next truncation: until
	// then, writes do not wait for one. gaveUp counts those writes.
	stuck  atomic.Bool
	gaveUp atomic.Int64
}

// startWALKeeper starts checkpointing the database at path every
// checkpointEvery, through ckpt (one connection with a busy timeout of
// walCheckpointBusy), and makes gate's writers hold the log to its bound.
// stop ends it with a last TRUNCATE checkpoint.
func startWALKeeper(ctx context.Context, ckpt *sql.DB, gate *writeGate, path string) (*walKeeper, error) {
	k := &walKeeper{db: ckpt, gate: gate, walPath: path + "-wal", holdFor: walHoldFor, quit: make(chan struct{}), done: make(chan struct{})}
	if err := ckpt.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&k.pageSize); err != nil {
		return nil, fmt.Errorf("store: reading the page size of %s: %w", path, err)
	}
	gate.wal = k
	go k.loop()
	return k, nil
}

func (k *walKeeper) loop() {
	defer close(k.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	ctx := context.Background()
	for {
		select {
		case <-t.C:
			// An error (say, busy) is retried at the next tick.
			_, log, err := k.checkpoint(ctx, "PASSIVE")
			if err != nil || log*k.pageSize < walTruncateAt {
				continue
			}
			if k.gate.lock(ctx) == nil {
				k.truncate(ctx, false)
				k.gate.leave()
			}
		case <-k.quit:
			return
		}
	}
}

// checkpoint runs one checkpoint of the given mode and returns SQLite's
// answer: whether it could not finish (busy) and the frames in the log.
func (k *walKeeper) checkpoint(ctx context.Context, mode string) (busy bool, log int64, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.checkpointLocked(ctx, mode)
}

func (k *walKeeper) checkpointLocked(ctx context.Context, mode string) (busy bool, log int64, err error) {
	var b, done int64
	if err := k.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&b, &log, &done); err != nil {
		return false, 0, err
	}
	// log is -1 when the database is not in WAL mode.
	log = max(log, 0)
	if log >= k.lastLog {
		k.written.Add((log - k.lastLog) * k.pageSize)
	} else {
		k.written.Add(log * k.pageSize) // restarted since the last look
	}
	k.lastLog = log
	return b != 0, log, nil
}

// truncate copies the whole log into the database and empties it, waiting
// up to walCheckpointBusy for readers of older snapshots. It reports
// whether it did, and an error other than busy. The caller holds the
// write gate, so that no writer of this process waits on SQLite's lock
// meanwhile (the checkpoint holds it). count runs a PASSIVE checkpoint
// first, to count what the log holds before it goes; the keeper's loop,
// which has just run one outside the gate, does without: writes wait
// meanwhile, and a checkpoint that copies frames syncs the files twice.
func (k *walKeeper) truncate(ctx context.Context, count bool) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if count {
		if _, _, err := k.checkpointLocked(ctx, "PASSIVE"); err != nil {
			return false, err
		}
	}
	busy, _, err := k.checkpointLocked(ctx, "TRUNCATE")
	if err != nil || busy {
		return false, err
	}
	k.stuck.Store(false)
	k.truncated.Add(1)
	return true, nil
}

// hold truncates the log, when its file has reached walHoldAt, before the
// caller (who holds the write gate) writes: for up to k.holdFor, or until
// ctx is done, after which the write goes ahead anyway.
func (k *walKeeper) hold(ctx context.Context) {
	if k.stuck.Load() {
		return
	}
	if fi, err := os.Stat(k.walPath); err != nil || fi.Size() < walHoldAt {
		return
	}
	// Each busy attempt has waited walCheckpointBusy for the readers.
	for deadline := time.Now().Add(k.holdFor); time.Now().Before(deadline); {
		if done, err := k.truncate(ctx, true); done || err != nil || ctx.Err() != nil {
			return
		}
	}
	k.stuck.Store(true)
	k.gaveUp.Add(1)
}

// stop stops the checkpoints and empties the log a last time.
func (k *walKeeper) stop() {
	close(k.quit)
	<-k.done
	ctx := context.Background()
	if k.gate.lock(ctx) == nil {
		k.truncate(ctx, false)
		k.gate.leave()
	}
	k.db.Close()
}

package store

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the background checkpointer copies SQLite's
// write-ahead log into the database file.
const checkpointEvery = 250 * time.Millisecond

// startCheckpointer checkpoints db's write-ahead log every checkpointEvery
// (PASSIVE: it never waits for readers or writers), in place of SQLite's
// automatic checkpoints, which run inside the commit that fills the log and
// so stall that request. The function returned stops it and runs a last,
// full checkpoint.
func startCheckpointer(db *sql.DB) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				// An error (say, busy) is retried at the next tick.
				db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
			case <-quit:
				db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`)
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

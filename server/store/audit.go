package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// maxAuditBatch bounds the events one audit transaction writes.
const maxAuditBatch = 256

// errClosed is the error of a Record that comes after Close.
var errClosed = errors.New("store: closed")

// auditWriter writes audit events with group commit: one goroutine takes
// the events that wait, up to maxAuditBatch, and inserts them with one
// statement, so that N concurrent readers cost one commit (one fsync, one
// turn at SQLite's single write lock) rather than N. Each caller waits for
// its own event's commit: the server hands out a value only once its
// reading is on record. On SQLite each commit takes its turn at the
// store's write gate, beside the other writes.
type auditWriter struct {
	db       *sql.DB
	postgres bool
	writes   *writeGate                   // nil for PostgreSQL
	inserts  [maxAuditBatch + 1]*sql.Stmt // by rows, prepared when first used
	queue    chan auditRequest
	quit     chan struct{}
	done     chan struct{}
	once     sync.Once
}

type auditRequest struct {
	row  []any // the row's seven columns
	what string
	done chan error // buffered: the writer never blocks on a caller gone
}

func newAuditWriter(db *sql.DB, postgres bool, writes *writeGate) *auditWriter {
	w := &auditWriter{db: db, postgres: postgres, writes: writes, queue: make(chan auditRequest, maxAuditBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// record queues row and waits for its commit, or for ctx. An event whose
// caller gave up may still be written.
func (w *auditWriter) record(ctx context.Context, row []any, what string) error {
	req := auditRequest{row: row, what: what, done: make(chan error, 1)}
	select {
	case w.queue <- req:
	case <-w.quit:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("store: recording %s: %w", what, ctx.Err())
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: recording %s: %w", what, ctx.Err())
	}
}

func (w *auditWriter) loop() {
	defer close(w.done)
	batch := make([]auditRequest, 0, maxAuditBatch)
	for {
		select {
		case req := <-w.queue:
			batch = append(batch[:0], req)
		case <-w.quit:
			// Write what is queued, then stop.
			for {
				select {
				case req := <-w.queue:
					w.write([]auditRequest{req})
				default:
					return
				}
			}
		}
		// Let the goroutines that are ready run first: readers about to
		// queue their rows join this commit instead of each paying for one
		// (from one row a commit to two or more, and 4,900 to 5,700 reads a
		// second at 16 clients).
		runtime.Gosched()
	more:
		for len(batch) < maxAuditBatch {
			select {
			case req := <-w.queue:
				batch = append(batch, req)
			default:
				break more
			}
		}
		w.write(batch)
	}
}

// insertRows returns the statement inserting n audit rows.
func insertRows(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO audit (at, tenant_id, key_id, operation, secret_name, outcome, count) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		p := 7 * i
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7)
	}
	return q.String()
}

// write inserts the batch's rows with one statement, one commit, and
// answers each caller. The statement for each batch size is prepared once.
func (w *auditWriter) write(batch []auditRequest) {
	// Not the callers' contexts: the batch is theirs together, and an event
	// that one caller stopped waiting for is still worth keeping.
	ctx := context.Background()
	args := make([]any, 0, 7*len(batch))
	for _, req := range batch {
		args = append(args, req.row...)
	}
	st, err := w.statement(ctx, len(batch))
	if err == nil {
		err = w.writes.do(ctx, func() error {
			_, err := st.ExecContext(ctx, args...)
			return err
		})
	}
	for _, req := range batch {
		if err != nil {
			req.done <- fmt.Errorf("store: recording %s: %w", req.what, err)
		} else {
			req.done <- nil
		}
	}
}

// statement returns the insert of n rows, prepared. Only the writer's
// goroutine calls it.
func (w *auditWriter) statement(ctx context.Context, n int) (*sql.Stmt, error) {
	if st := w.inserts[n]; st != nil {
		return st, nil
	}
	st, err := w.db.PrepareContext(ctx, insertRows(n))
	if err != nil {
		return nil, err
	}
	w.inserts[n] = st
	return st, nil
}

// close writes what is queued and stops the writer.
func (w *auditWriter) close() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	for _, st := range w.inserts {
		if st != nil {
			st.Close()
		}
	}
}

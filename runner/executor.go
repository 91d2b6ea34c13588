package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// Executor decides where task runs execute and how many at once. The runner
// keeps all the bookkeeping (what is ready, triggers, retries, mapping,
// states) on one goroutine and hands each ready task run to the executor's
// [Session].
//
// [Local] runs them one at a time on the runner's goroutine, in a
// deterministic topological order; [Parallel] runs them on a bounded pool of
// goroutines.
type Executor interface {
	// Start opens a session for one flow run.
	Start(ctx context.Context) (Session, error)
}

// Session is an executor's side of one flow run.
type Session interface {
	// Slots is how many task runs may be in flight at once.
	Slots() int
	// Submit executes run, now or later, by calling run.Execute exactly
	// once; or, to call the task's function elsewhere, run.Start, then,
	// when it returns true, run.Complete with the outcome (see [TaskRun]).
	// The runner never has more than Slots runs in flight, so Submit need
	// not block.
	Submit(run *TaskRun)
	// Close is called once when the flow run ends; it returns after the
	// session's goroutines have exited.
	Close() error
}

// Local returns the executor that runs every task on the runner's own
// goroutine, one after another in a deterministic topological order (the
// order tasks became ready). It has no concurrency and no overhead.
func Local() Executor { return localExecutor{} }

type localExecutor struct{}

func (localExecutor) Start(context.Context) (Session, error) { return localSession{}, nil }

type localSession struct{}

func (localSession) Slots() int          { return 1 }
func (localSession) Submit(run *TaskRun) { run.Execute() }
func (localSession) Close() error        { return nil }

// Parallel returns an executor that runs tasks on a pool of workers
// goroutines, started per flow run and stopped when it ends. workers <= 0
// means runtime.GOMAXPROCS(0). A few task runs are queued ahead per worker;
// to bound how many tasks of a run, or of a tag, are handed over at once,
// see [WithConcurrency] and [WithTagLimit].
func Parallel(workers int) Executor { return parallelExecutor{workers} }

type parallelExecutor struct{ workers int }

func (p parallelExecutor) Start(context.Context) (Session, error) {
	n := p.workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	n = min(n, maxWorkers)
	// Keep a few runs queued per worker, so that workers do not park between
	// tasks waiting for the runner to hand over the next one.
	s := &parallelSession{jobs: make(chan *TaskRun, n*queuePerWorker), n: n}
	s.wg.Add(n)
	for range n {
		go s.work()
	}
	return s, nil
}

func (p parallelExecutor) String() string { return fmt.Sprintf("Parallel(%d)", p.workers) }

// queuePerWorker is how many task runs the Parallel executor queues per
// worker; maxWorkers caps the pool (more goroutines than that only cost).
const (
	queuePerWorker = 8
	maxWorkers     = 1 << 16
)

type parallelSession struct {
	jobs chan *TaskRun
	n    int
	wg   sync.WaitGroup
}

func (s *parallelSession) work() {
	defer s.wg.Done()
	for run := range s.jobs {
		run.Execute()
	}
}

func (s *parallelSession) Slots() int          { return s.n * queuePerWorker }
func (s *parallelSession) Submit(run *TaskRun) { s.jobs <- run }
func (s *parallelSession) Close() error {
	close(s.jobs)
	s.wg.Wait()
	return nil
}

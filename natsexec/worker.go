package natsexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
)

// Serve is a worker: it calls the tasks of flows that executors ([Executor])
// queue on JetStream through nc, until ctx ends. It creates the stream if it
// is missing and consumes, for each flow it holds, the flow's durable pull
// consumer ([ConsumerName]), which every worker of the flow shares, so it
// never takes a job of a flow it does not hold; it runs up to
// [WithConcurrency] task runs at once, of all its flows. A consumer that
// is missing is created with the worker's ack wait ([WithAckWait]); one
// that exists is left as it is, and the worker heartbeats at the pace of
// the ack wait in force (see WithAckWait). For each message it checks the
// flow's version, finds the task by flow name and slug, decodes its
// inputs, calls it under its timeout with its run context (a panic becomes
// a failure), answers, and then acknowledges the message. A message for
// another version of the flow is answered with an error saying so. While
// a task runs, the worker heartbeats (see "Failures, redelivery and
// cancellation" in the package doc); the task runs of a cancelled flow run
// see their context end.
//
// When ctx ends, Serve stops taking messages, lets the task runs it has
// taken finish and answer (their context does not end with ctx), and
// returns nil. It returns an error at once if it has no flow, a flow is
// invalid, two flows share a name, or the stream or a consumer cannot be
// set up, and when it
// can no longer consume (the connection was closed, a consumer deleted).
// The connection is the caller's: Serve never closes it.
func Serve(ctx context.Context, nc *nats.Conn, flows []*flow.Flow, opts ...Option) error {
	o := newOptions(opts)
	graphs := map[string]*flow.Graph{}
	for _, f := range flows {
		g, err := f.Graph()
		if err != nil {
			return fmt.Errorf("natsexec: flow %q: %w", f.Name(), err)
		}
		if _, dup := graphs[g.Name]; dup {
			return fmt.Errorf("natsexec: two flows are named %q", g.Name)
		}
		graphs[g.Name] = g
	}
	if len(graphs) == 0 {
		return errors.New("natsexec: Serve needs a flow to serve: a worker takes only the jobs of the flows it holds")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsexec: %w", err)
	}
	if _, err := ensureStream(ctx, js, &o); err != nil {
		return setupErr(ctx, err)
	}
	if _, err := dropLegacy(ctx, js, &o); err != nil {
		return setupErr(ctx, err)
	}
	names := slices.Sorted(maps.Keys(graphs))
	sources := make([]*source, 0, len(names))
	for _, name := range names {
		cons, err := openConsumer(ctx, js, &o, name)
		if err != nil {
			return setupErr(ctx, err)
		}
		src := &source{flow: name, cons: cons, ackWait: cons.CachedInfo().Config.AckWait}
		if src.ackWait <= 0 {
			src.ackWait = DefaultAckWait // the server's default, which its info may leave out
		}
		sources = append(sources, src)
	}
	w := &worker{nc: nc, o: o, graphs: graphs, versions: map[string]string{}, ctx: context.WithoutCancel(ctx),
		masker: redact.New(), running: map[uuid.UUID]map[*job]context.CancelFunc{}, cancelled: map[uuid.UUID]time.Time{},
		ackWarned: map[ackWaitSeen]bool{}}
	for name, g := range graphs {
		w.versions[name] = Version(g)
	}
	for _, src := range sources {
		w.checkAckWait(src.flow, src.ackWait, "its consumer")
	}
	ctl, err := nc.Subscribe(o.control(), w.onControl)
	if err != nil {
		return fmt.Errorf("natsexec: subscribing to %q: %w", o.control(), err)
	}
	defer ctl.Unsubscribe()
	consumers := make([]string, len(sources))
	for i, src := range sources {
		consumers[i] = fmt.Sprintf("%s (ack wait %v)", o.consumer(src.flow), src.ackWait)
	}
	o.logger.Info("natsexec: worker serving", "worker", o.name, "stream", o.stream,
		"flows", names, "consumers", consumers, "concurrency", o.concurrency)

	// Each flow's consumer is pulled on a goroutine of its own; the slots
	// are shared. The first that can no longer consume stops the others.
	pullers, pctx := errgroup.WithContext(ctx)
	var handlers sync.WaitGroup
	slots := newSlots(o.concurrency)
	for _, src := range sources {
		pullers.Go(func() error {
			if err := w.consume(pctx, src, slots, &handlers); err != nil {
				return fmt.Errorf("natsexec: consuming stream %q (consumer %q): %w", o.stream, o.consumer(src.flow), err)
			}
			return nil
		})
	}
	err = pullers.Wait()
	if ctx.Err() != nil {
		o.logger.Info("natsexec: worker draining: finishing the task runs it took, taking no more", "worker", o.name)
	}
	handlers.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// slots are a worker's task-run slots, shared by its flows' consumers.
type slots struct {
	*semaphore.Weighted
	n int64
}

func newSlots(n int) slots { return slots{semaphore.NewWeighted(int64(n)), int64(n)} }

// source is one flow's consumer, as a worker consumes it.
type source struct {
	flow string
	cons jetstream.Consumer
	// ackWait is the consumer's, as it was when the worker started.
	ackWait time.Duration
}

// consume takes src's jobs and runs each on a goroutine of handlers, while
// it holds one of the slots, until ctx ends (it returns nil) or it can no
// longer consume (it returns why).
//
// A worker asks for as many jobs as it has free slots, no more: a job
// waiting in a buffer behind busy slots would see its ack wait run out and
// be delivered again, to run twice.
func (w *worker) consume(ctx context.Context, src *source, sem slots, handlers *sync.WaitGroup) error {
	for {
		if sem.Acquire(ctx, 1) != nil {
			return nil // ctx ended
		}
		if ctx.Err() != nil {
			sem.Release(1)
			return nil
		}
		free := int64(1)
		for free < sem.n && sem.TryAcquire(1) {
			free++
		}
		// What is queued now, for every free slot; when nothing is, wait
		// for one job (a long poll, answered as soon as one comes) with
		// one slot, leaving the others to the worker's other flows.
		taken := int64(0)
		take := func(batch jetstream.MessageBatch, ferr error) error {
			if ferr != nil {
				return ferr
			}
			for msg := range batch.Messages() {
				taken++
				handlers.Go(func() {
					defer sem.Release(1)
					w.handle(src, msg)
				})
			}
			return batch.Error()
		}
		err := take(src.cons.FetchNoWait(int(free)))
		if err == nil && taken == 0 {
			sem.Release(free - 1)
			free = 1
			err = take(src.cons.Fetch(1, jetstream.FetchMaxWait(pullWait)))
		}
		sem.Release(free - taken)
		if errors.Is(err, nats.ErrNoResponders) {
			// What a pull for a deleted consumer or stream gets; or a
			// cluster changing leaders, which passes.
			ictx, cancel := context.WithTimeout(ctx, apiTimeout)
			if _, ierr := src.cons.Info(ictx); fatal(ierr) {
				err = ierr
			}
			cancel()
		}
		if fatal(err) {
			return err
		}
		if err != nil {
			// A connection away for a while, a request timing out:
			// wait a little, then ask again.
			select {
			case <-ctx.Done():
			case <-time.After(pullWait / 5):
			}
		}
	}
}

// pullWait is how long an idle worker's request for a job waits for one
// (answered as soon as one comes): it asks again this often, and takes at
// most this long to notice that it is to stop.
const pullWait = 100 * time.Millisecond

// fatal reports whether a worker can no longer consume after err: its
// connection was closed, or its consumer or stream deleted.
func fatal(err error) bool {
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)
}

type workerKey struct{}

// WorkerName returns the name of the worker ([WithWorkerName]) calling the
// task that ctx belongs to, and false when no worker is (the task runs in
// the flow program).
func WorkerName(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(workerKey{}).(string)
	return name, ok
}

// setupErr is err, or nil when it came of ctx ending during the setup: a
// worker stopped before it served is not a failure.
func setupErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type worker struct {
	nc       *nats.Conn
	o        options
	graphs   map[string]*flow.Graph
	versions map[string]string // Version of each graph
	ctx      context.Context   // the task runs' parent: not cancelled by Serve's
	// masker hides, in what the worker sends, every secret its tasks
	// resolved here (secrets.Secret(...).Get inside a task).
	masker *redact.Masker

	mu sync.Mutex
	// running holds the cancel functions of the task runs being called,
	// by flow run.
	running map[uuid.UUID]map[*job]context.CancelFunc
	// cancelled holds the flow runs cancelled in the last cancelMemory,
	// whose jobs still queued are dropped, not run.
	cancelled map[uuid.UUID]time.Time
	// ackWarned holds the ack waits in force already warned about, by
	// flow.
	ackWarned map[ackWaitSeen]bool
}

type ackWaitSeen struct {
	flow string
	d    time.Duration
}

// checkAckWait logs a warning, once for each flow and ack wait, when the
// ack wait in force for flow (d, seen on where) is not the one the worker
// was given (WithAckWait, --ack-wait): the worker heartbeats at d's pace.
func (w *worker) checkAckWait(flow string, d time.Duration, where string) {
	if !w.o.ackWaitSet || d == w.o.ackWait {
		return
	}
	w.mu.Lock()
	seen := w.ackWarned[ackWaitSeen{flow, d}]
	w.ackWarned[ackWaitSeen{flow, d}] = true
	w.mu.Unlock()
	if seen {
		return
	}
	w.o.logger.Warn("natsexec: this worker's ack wait is not the one in force for the flow, which the flow program sets (WithAckWait, "+AckWaitKey+"); the worker heartbeats at the pace of the one in force",
		"worker", w.o.name, "flow", flow, "consumer", w.o.consumer(flow), "ack_wait_given", w.o.ackWait.String(),
		"ack_wait_in_force", d.String(), "seen_on", where, "heartbeat", heartbeat(d).String())
}

// cancelMemory is how long a worker remembers a cancelled flow run.
const cancelMemory = time.Hour

// onControl handles a control message: a cancelled flow run's task runs
// are told to stop (their context ends), and its jobs still queued are
// dropped when they come.
func (w *worker) onControl(m *nats.Msg) {
	var c control
	if json.Unmarshal(m.Data, &c) != nil || c.CancelFlowRun == uuid.Nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	for id, at := range w.cancelled {
		if now.Sub(at) > cancelMemory {
			delete(w.cancelled, id)
		}
	}
	w.cancelled[c.CancelFlowRun] = now
	running := slices.Collect(maps.Values(w.running[c.CancelFlowRun]))
	w.mu.Unlock()
	for _, cancel := range running {
		cancel()
	}
	w.o.logger.Info("natsexec: flow run cancelled", "worker", w.o.name, "flow_run_id", c.CancelFlowRun, "task_runs_stopped", len(running))
}

// track registers the cancel function of j's call until untrack; it
// reports false when j's flow run is already cancelled.
func (w *worker) track(j *job, cancel context.CancelFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.cancelled[j.FlowRunID]; ok {
		return false
	}
	m := w.running[j.FlowRunID]
	if m == nil {
		m = map[*job]context.CancelFunc{}
		w.running[j.FlowRunID] = m
	}
	m[j] = cancel
	return true
}

func (w *worker) untrack(j *job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.running[j.FlowRunID], j)
	if len(w.running[j.FlowRunID]) == 0 {
		delete(w.running, j.FlowRunID)
	}
}

func (w *worker) isCancelled(id uuid.UUID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.cancelled[id]
	return ok
}

// handle answers one message of src and acknowledges it.
func (w *worker) handle(src *source, msg jetstream.Msg) {
	var j job
	if err := json.Unmarshal(msg.Data(), &j); err != nil || j.Reply == "" {
		_ = msg.Term() // unreadable or unanswerable: never deliver it again
		return
	}
	// The ack wait in force: the one the flow program set on the consumer
	// before it queued the job, or the consumer's as the worker found it,
	// whichever is shorter (a job of an earlier version carries none).
	ackWait := src.ackWait
	if j.AckWaitMS > 0 {
		d := max(time.Duration(j.AckWaitMS)*time.Millisecond, MinAckWait)
		w.checkAckWait(src.flow, d, "a job")
		ackWait = min(ackWait, d)
	}
	if w.isCancelled(j.FlowRunID) {
		_ = msg.Ack() // its run is over: nobody waits for the answer
		return
	}
	var ans answer
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > uint64(w.o.maxDeliveries) {
		// Each worker that took it before died or went silent with it: a
		// task that kills its worker would otherwise kill them all in turn.
		ans = answer{Error: &wireErr{Kind: kindError, Message: fmt.Sprintf(
			"natsexec: task run %q was delivered %d times and no worker answered (each died or went silent running it); not running it again", j.Slug, md.NumDelivered)}}
	} else {
		ans = w.runInProgress(msg, &j, heartbeat(ackWait))
	}
	// The outcome is a request: the job is acknowledged only once the
	// executor confirmed it, so an answer lost on the way (the executor
	// cut off) means the job runs again rather than a run waiting forever.
	// The last heartbeat was at most a third of the ack wait ago: waiting
	// half of it more stays within it.
	_, err := w.nc.Request(j.Reply, w.encode(&j, ans), ackWait/2)
	switch {
	case err == nil:
		_ = msg.Ack()
	case errors.Is(err, nats.ErrNoResponders):
		_ = msg.Term() // the flow run that asked is over: nobody takes the answer
	default:
		_ = msg.NakWithDelay(heartbeat(ackWait)) // the answer may be lost: run it again
	}
}

// encode is a message about j to its executor, with the worker's name and
// j's attempt, made to fit the NATS server's max_payload: log records that
// do not fit are dropped (a record says how many), and a result that does
// not fit becomes an error saying so.
func (w *worker) encode(j *job, ans answer) []byte {
	ans.TaskRunID, ans.RunCount, ans.Worker = j.TaskRunID, j.RunCount, w.o.name
	limit := int(w.nc.MaxPayload()) - payloadHeadroom
	data, err := json.Marshal(ans)
	if err == nil && len(data) <= limit {
		return data
	}
	if err == nil && len(ans.Logs) > 0 {
		logs := ans.Logs
		ans.Logs = nil
		if base, berr := json.Marshal(ans); berr == nil {
			room, kept := limit-len(base)-len(droppedRecord(len(logs)))-8, 0
			for kept < len(logs) && room >= len(logs[kept])+1 {
				room -= len(logs[kept]) + 1
				kept++
			}
			ans.Logs = append(logs[:kept:kept], droppedRecord(len(logs)-kept))
			if data, err = json.Marshal(ans); err == nil && len(data) <= limit {
				return data
			}
		}
	}
	why := fmt.Sprintf("natsexec: the answer for task run %q is over the NATS server's max_payload of %d bytes: return a smaller result (where the data is, rather than the data)", j.Slug, w.nc.MaxPayload())
	if err != nil {
		why = "natsexec: encoding the answer: " + err.Error()
	}
	data, _ = json.Marshal(answer{TaskRunID: j.TaskRunID, RunCount: j.RunCount, Worker: w.o.name, Progress: ans.Progress,
		Error: &wireErr{Kind: kindError, Message: w.masker.Redact(why)}})
	return data
}

// payloadHeadroom is what a message leaves of max_payload for its headers.
const payloadHeadroom = 1024

// droppedRecord is a log record saying that n records were dropped.
func droppedRecord(n int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{slog.TimeKey: time.Now(), slog.LevelKey: slog.LevelWarn.String(),
		slog.MessageKey: fmt.Sprintf("natsexec: %d log records of this task run were dropped: with its answer, they were over the NATS server's max_payload", n)})
	return b
}

// runInProgress runs the job and returns its answer, with the log records
// not sent yet. While the task runs, it heartbeats every beat: it tells
// the server that msg is in progress, and the executor that the task is
// running here, with the records logged since.
func (w *worker) runInProgress(msg jetstream.Msg, j *job, beat time.Duration) answer {
	logs := &logBuffer{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(beat)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = msg.InProgress()
				_ = w.nc.Publish(j.Reply, w.encode(j, answer{Progress: true, Logs: logs.take()}))
			}
		}
	})
	ans := w.run(j, logs)
	close(done)
	wg.Wait()
	ans.Logs = logs.take()
	return ans
}

// run calls the job's task and returns its answer. What it sends back is
// masked with the secrets the worker's tasks resolved.
func (w *worker) run(j *job, logs *logBuffer) answer {
	fail := func(format string, args ...any) answer {
		return answer{Error: &wireErr{Kind: kindError, Message: w.masker.Redact(fmt.Sprintf(format, args...))}}
	}
	g, ok := w.graphs[j.Flow]
	if !ok {
		return fail("natsexec: this worker does not hold flow %q (it holds %s)", j.Flow, quoted(slices.Sorted(maps.Keys(w.graphs))))
	}
	if v := w.versions[j.Flow]; j.FlowVersion != v {
		return fail("natsexec: this worker holds another version of flow %q (version %s here, %s in the flow run: their tasks, inputs, types or edges differ); start the workers from the same build of the flow program as the run", j.Flow, v, j.FlowVersion)
	}
	i, ok := g.Index(j.Slug)
	if !ok {
		return fail("natsexec: flow %q on this worker has no task %q", j.Flow, j.Slug)
	}
	gt := &g.Tasks[i]
	if len(j.Inputs) != len(gt.Spec.Inputs) {
		return fail("natsexec: task %q of flow %q has %d inputs on this worker, the job has %d", j.Slug, j.Flow, len(gt.Spec.Inputs), len(j.Inputs))
	}
	args := make([]any, len(j.Inputs))
	for k, raw := range j.Inputs {
		if raw == nil {
			continue
		}
		v, err := decodeAs(raw, gt.Spec.Inputs[k].Type)
		if err != nil {
			return fail("natsexec: decoding input %q of task %q: %v", gt.Spec.Inputs[k].Name, j.Slug, err)
		}
		args[k] = v
	}
	rc, err := w.runContext(g, gt, j)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	if !w.track(j, cancel) {
		return fail("natsexec: flow run %s was cancelled", j.FlowRunID)
	}
	defer w.untrack(j)
	logger := slog.New(w.masker.Handler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx = runner.NewContext(ctx, rc, logger)
	ctx = context.WithValue(ctx, workerKey{}, w.o.name)
	ctx = secrets.NewContext(ctx, secrets.NewResolver(secrets.WithConfig(w.o.cfg),
		secrets.OnResolve(func(v secrets.Value) {
			for _, s := range v.RevealAll() {
				w.masker.Add(s)
			}
		})))
	var tainted atomic.Bool
	ctx = secrets.OnUse(ctx, func() { tainted.Store(true) })
	// The run's bound (the task's own timeout, or the run's default); a
	// job without one is bounded by the task's own.
	timeout := time.Duration(j.TimeoutNS)
	if timeout <= 0 {
		timeout = gt.Spec.Timeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out, err := call(ctx, gt.Task, args)
	if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %v", runner.ErrTimedOut, timeout)
	}
	var ans answer
	if out != nil {
		b, jerr := json.Marshal(out)
		if jerr != nil {
			return fail("natsexec: encoding the result of %q: %v", j.Slug, jerr)
		}
		if w.masker.Contains(string(b)) {
			return fail("natsexec: the result of %q holds a secret its task resolved on this worker, and a secret never crosses the wire: return what the secret gave access to, or make it a secret task that runs where the flow runs", j.Slug)
		}
		ans.Result = b
	}
	if ans.Error = encodeErr(err); ans.Error != nil {
		ans.Error.Message = w.masker.Redact(ans.Error.Message)
	}
	ans.Tainted = tainted.Load()
	return ans
}

// runContext is the run context the job's task sees on this worker.
func (w *worker) runContext(g *flow.Graph, gt *flow.GraphTask, j *job) (*runner.Context, error) {
	rc := &runner.Context{
		FlowName: j.Flow, FlowRunID: j.FlowRunID, FlowRunName: j.Context.FlowRunName,
		TaskName: gt.Spec.Name, TaskSlug: j.Slug, TaskRunName: j.Context.TaskRunName,
		TaskRunCount: j.RunCount, MapIndex: j.MapIndex, Parameters: make(map[string]any, len(j.Context.Parameters)),
		ScheduledStartTime: j.Context.Scheduled, Resumed: j.Context.Resumed,
	}
	for name, raw := range j.Context.Parameters {
		var v any
		err := json.Unmarshal(raw, &v)
		if i, ok := g.Index(name); ok && g.Tasks[i].Param != nil {
			v, err = decodeAs(raw, g.Tasks[i].Param.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("natsexec: decoding parameter %q: %v", name, err)
		}
		rc.Parameters[name] = v
	}
	return rc, nil
}

// call calls the task as the runner does, a panic becoming a
// *runner.PanicError.
func call(ctx context.Context, r task.Runnable, args []any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &runner.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return r.Call(ctx, args)
}

func quoted(names []string) string {
	if len(names) == 0 {
		return "no flow"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

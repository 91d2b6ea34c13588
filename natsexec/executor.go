package natsexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
)

// Executor returns a runner.Executor that has the task runs of f called by
// workers ([Serve]) through JetStream on nc, and waits for their answers.
// Pass it to runner.Run with runner.WithExecutor, for f. It needs f (not
// only its name) to decode each result into the task's result type.
//
// Each flow run opens a session that creates the stream if it is missing,
// creates or updates the flow's consumer ([ConsumerName]) with the ack
// wait of opts ([WithAckWait]: the flow program's setting is the one in
// force), and listens for answers on an inbox of its own; Close stops
// listening.
// Up to [WithSlots] task runs are in flight at once. Secret task runs,
// and those downstream of a secret, are executed here (see the package
// doc). If the flow run's context ends while task runs are waiting for
// their answers, they end with its error (the run is Cancelled), and the
// workers are told to stop them.
//
// The connection is the caller's: the executor never closes it. It takes a
// connection rather than a URL so that one connection, with whatever
// nats.Connect options the deployment needs (credentials, TLS,
// reconnection), serves every run of a program; [Program] connects to
// [URL] for the runs it executes.
func Executor(nc *nats.Conn, f *flow.Flow, opts ...Option) runner.Executor {
	return &executor{nc: nc, f: f, o: newOptions(opts)}
}

type executor struct {
	nc *nats.Conn
	f  *flow.Flow
	o  options
}

func (e *executor) String() string { return fmt.Sprintf("natsexec.Executor(%q)", e.f.Name()) }

// attempt names one attempt of a task run.
type attempt struct {
	id       uuid.UUID
	runCount int
}

// inflight is an attempt sent to the workers and not answered yet.
type inflight struct {
	run *runner.TaskRun
	// data is its job, queued again after a reconnection.
	data []byte
	// seq is its job's sequence in the stream, once queued: a cancelled
	// flow run deletes the jobs still there.
	seq uint64
	// requeued counts the times the job was queued again, which makes
	// each queuing's message ID (see [attempt.msgID]) its own.
	requeued int
	// worker names the worker whose heartbeat came last, at seen; warned is
	// set once the executor logged that it went silent.
	worker string
	seen   time.Time
	warned bool
}

type session struct {
	e       *executor
	ctx     context.Context
	g       *flow.Graph
	version string
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string
	inbox   string
	sub     *nats.Subscription
	// reconnected tells of the connection coming back after a loss.
	reconnected chan nats.Status
	// back is closed, and replaced under mu, each time the connection
	// comes back: a publish waiting for its acknowledgement then sends
	// again, since the acknowledgement went to the lost connection.
	back   chan struct{}
	closed chan struct{}
	wg     sync.WaitGroup

	paramsOnce sync.Once
	params     map[string]json.RawMessage
	paramsErr  error

	mu      sync.Mutex
	pending map[attempt]*inflight
	over    bool // set by cancel: nothing is added to pending after it
	// wait says when task runs wait for workers.
	wait         waitNotice
	requeueing   bool // a requeue runs
	requeueAgain bool // asked for while one ran: it looks again
}

// Start opens the session of one flow run.
func (e *executor) Start(ctx context.Context) (runner.Session, error) {
	if e.nc == nil || e.f == nil {
		return nil, fmt.Errorf("natsexec: Executor needs a connection and a flow")
	}
	g, err := e.f.Graph()
	if err != nil {
		return nil, err
	}
	if err := Check(e.f); err != nil {
		return nil, err
	}
	js, err := jetstream.New(e.nc)
	if err != nil {
		return nil, fmt.Errorf("natsexec: %w", err)
	}
	stream, err := ensureStream(ctx, js, &e.o)
	if err != nil {
		return nil, err
	}
	// The ack wait in force is the flow program's: set before any job is
	// queued, and carried by each job, so that workers heartbeat at its
	// pace whatever they were started with.
	if _, err := setConsumer(ctx, js, &e.o, g.Name); err != nil {
		return nil, err
	}
	s := &session{
		e: e, ctx: ctx, g: g, version: Version(g), js: js, stream: stream,
		subject: e.o.subject(g.Name),
		inbox:   e.nc.NewInbox(),
		closed:  make(chan struct{}),
		back:    make(chan struct{}),
		pending: map[attempt]*inflight{},
		wait:    waitNotice{grace: 3 * e.o.heartbeat()},
	}
	if s.sub, err = e.nc.Subscribe(s.inbox, s.onAnswer); err != nil {
		return nil, fmt.Errorf("natsexec: subscribing to answers: %w", err)
	}
	s.reconnected = e.nc.StatusChanged(nats.CONNECTED)
	s.wg.Add(1)
	go s.watch()
	return s, nil
}

func (s *session) Slots() int { return s.e.o.slots }

// Submit executes secret runs here and sends the others to the workers.
func (s *session) Submit(run *runner.TaskRun) {
	if run.Secret() || run.FromSecret() {
		s.wg.Go(run.Execute) // never on the wire
		return
	}
	if !run.Start() {
		return
	}
	a := attempt{run.ID(), run.RunCount()}
	data, err := s.encode(run)
	s.mu.Lock()
	over := s.over
	if !over {
		if len(s.pending) == 0 {
			s.wait.heard(time.Now()) // the wait for workers starts now
		}
		s.pending[a] = &inflight{run: run, data: data}
	}
	s.mu.Unlock()
	if over { // cancelled (or cut off) while it started
		err := s.ctx.Err()
		if err == nil {
			err = errors.New("natsexec: the connection to the NATS server closed")
		}
		run.Complete(nil, err)
		return
	}
	s.wg.Go(func() {
		var ack *jetstream.PubAck
		if err == nil {
			// Not cut short by a cancellation: the job would be queued
			// without the sequence its deletion needs.
			ack, err = s.publish(context.WithoutCancel(s.ctx), data, a.msgID(0))
			switch {
			case err != nil && s.e.nc.IsClosed():
				// The job may be queued, even running: whatever its
				// worker answers, nobody is left to hear it.
				err = fmt.Errorf("natsexec: queuing task run %q: the connection to the NATS server closed: no answer can come: %w", run.Slug(), err)
			case err != nil:
				err = fmt.Errorf("natsexec: queuing task run %q: %w", run.Slug(), err)
			}
		}
		if err != nil {
			if in := s.take(a); in != nil {
				in.run.Complete(nil, err)
			}
			return
		}
		s.mu.Lock()
		in := s.pending[a]
		if in != nil {
			in.seq = ack.Sequence
		}
		s.mu.Unlock()
		if in == nil && s.ctx.Err() != nil {
			s.deleteJobs(ack.Sequence) // cancelled while it was being queued
		}
		if in != nil && ack.Duplicate {
			// Sent again after a reconnection: the job was queued while
			// the connection went, and a worker may have run it and
			// found nobody to answer.
			s.requeue()
		}
	})
}

// publishTimeout bounds the queuing of one job while the connection
// stays up.
const publishTimeout = 10 * time.Second

// msgID is the JetStream message ID of the attempt's job, queued for the
// nth time (0 the first): sent again under the same ID, a job the stream
// already holds is acknowledged with its first sequence instead of being
// queued twice (within the stream's duplicate window, 2 minutes unless
// the stream says otherwise).
func (a attempt) msgID(n int) string {
	return fmt.Sprintf("%s.%d.%d", a.id, a.runCount, n)
}

// publish queues one job under msgID. When the connection comes back
// while it waits for the stream's acknowledgement, it sends the job
// again: the acknowledgement, or the job itself, may have gone with the
// old connection, and the message ID keeps a job the stream got from
// being queued twice. It gives up when ctx ends or an acknowledgement
// takes longer than publishTimeout with the connection up. (It goes on
// after the session closes: a job being queued when its run was cancelled
// needs its sequence to be deleted.)
func (s *session) publish(ctx context.Context, data []byte, msgID string) (*jetstream.PubAck, error) {
	for {
		s.mu.Lock()
		back := s.back
		s.mu.Unlock()
		actx, cancel := context.WithTimeout(ctx, publishTimeout)
		go func() {
			select {
			case <-back:
			case <-actx.Done():
			}
			cancel()
		}()
		ack, err := s.js.Publish(actx, s.subject, data, jetstream.WithMsgID(msgID))
		cancel()
		if err == nil {
			return ack, nil
		}
		select {
		case <-back:
			if ctx.Err() == nil {
				continue
			}
		default:
		}
		return nil, err
	}
}

// encode is the job message of run's attempt.
func (s *session) encode(run *runner.TaskRun) ([]byte, error) {
	args := run.Inputs()
	rc := run.Context()
	params, err := s.parameters(rc.Parameters)
	if err != nil {
		return nil, err
	}
	j := job{
		Flow: s.g.Name, FlowVersion: s.version, FlowRunID: run.FlowRunID(), TaskRunID: run.ID(), RunCount: run.RunCount(),
		Slug: run.Slug(), MapIndex: run.MapIndex(), Inputs: make([]json.RawMessage, len(args)), Reply: s.inbox,
		AckWaitMS: s.e.o.ackWait.Milliseconds(), TimeoutNS: int64(run.Timeout()),
		Context: jobContext{FlowRunName: rc.FlowRunName, TaskRunName: rc.TaskRunName, Parameters: params,
			Scheduled: rc.ScheduledStartTime, Resumed: rc.Resumed},
	}
	for i, a := range args {
		if a == nil {
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("natsexec: encoding input %d of %q: %w", i, run.Slug(), err)
		}
		j.Inputs[i] = b
	}
	return json.Marshal(j)
}

// parameters encodes the flow run's parameters, once per run: every job
// carries them, for the task's run context, but for those that can hold a
// secret, which stay here (as the tasks they feed do).
func (s *session) parameters(p map[string]any) (map[string]json.RawMessage, error) {
	s.paramsOnce.Do(func() {
		s.params = make(map[string]json.RawMessage, len(p))
		for name, v := range p {
			if i, ok := s.g.Index(name); !ok || s.g.Tasks[i].Param == nil || secrets.CanHold(s.g.Tasks[i].Param.Type) {
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				s.paramsErr = fmt.Errorf("natsexec: parameter %q cannot cross the wire as JSON: %w", name, err)
				return
			}
			s.params[name] = b
		}
	})
	return s.params, s.paramsErr
}

// take removes the attempt from the pending ones and returns it, or nil
// when it is no longer pending: whoever takes it completes its run.
func (s *session) take(a attempt) *inflight {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.pending[a]
	delete(s.pending, a)
	return in
}

// onAnswer handles a worker's message: a heartbeat is noted and its log
// records logged; an outcome completes the run. A message for an attempt
// not in flight (a duplicate, or a late heartbeat) is dropped.
func (s *session) onAnswer(m *nats.Msg) {
	var ans answer
	if err := json.Unmarshal(m.Data, &ans); err != nil {
		return // not ours to answer; nothing to complete
	}
	a := attempt{ans.TaskRunID, ans.RunCount}
	s.mu.Lock()
	s.wait.heard(time.Now())
	s.mu.Unlock()
	if ans.Progress {
		s.mu.Lock()
		in := s.pending[a]
		var logger *slog.Logger
		if in != nil {
			in.worker, in.seen, in.warned = ans.Worker, time.Now(), false
			if len(ans.Logs) > 0 {
				// Taken while the attempt is pending: its context is this
				// attempt's, not a later one's.
				logger = in.run.Context().Logger()
			}
		}
		s.mu.Unlock()
		if logger != nil {
			replay(s.ctx, logger, ans.Logs)
		}
		return
	}
	// Confirmed once received (a duplicate too), so the worker acknowledges
	// its job; an answer that never arrives is never confirmed. Before the
	// run is completed: completing the last task run may end the flow run,
	// and its program, before a later confirmation could go.
	in := s.take(a)
	_ = m.Respond(nil)
	if in == nil {
		return
	}
	run := in.run
	if len(ans.Logs) > 0 {
		replay(s.ctx, run.Context().Logger(), ans.Logs)
	}
	var out any
	err := ans.Error.decode()
	if len(ans.Result) > 0 {
		i, ok := s.g.Index(run.Slug())
		if !ok {
			run.Complete(nil, fmt.Errorf("natsexec: flow %q has no task %q", s.g.Name, run.Slug()))
			return
		}
		var derr error
		if out, derr = decodeAs(ans.Result, s.g.Tasks[i].Spec.Output); derr != nil {
			out, err = nil, fmt.Errorf("natsexec: decoding the result of %q: %w", run.Slug(), derr)
		}
	}
	if ans.Tainted {
		run.Taint()
	}
	run.Complete(out, err)
}

// watch logs the workers that go silent, and when the flow run's context
// ends, ends the runs still waiting and tells the workers.
func (s *session) watch() {
	defer s.wg.Done()
	tick := time.NewTicker(s.e.o.heartbeat())
	defer tick.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-s.ctx.Done():
			s.cancel()
			return
		case _, ok := <-s.reconnected:
			if !ok {
				s.reconnected = nil
				continue
			}
			s.mu.Lock()
			close(s.back)
			s.back = make(chan struct{})
			s.mu.Unlock()
			s.requeue()
		case now := <-tick.C:
			if s.e.nc.IsClosed() {
				s.fail(errors.New("natsexec: the connection to the NATS server closed: no answer can come"))
				return
			}
			s.warnSilent(now)
		}
	}
}

// requeue queues again, after the connection came back, the jobs that
// left the stream while their attempts still wait for an answer: a worker
// answered while the connection was away, found nobody listening, and
// dropped its job. A job still in the stream (queued, or being run by a
// worker) is left alone, and so is one still being queued (its queuing
// asks for a requeue when it ends, if the stream had it already). It
// works on a goroutine of its own, looking again if asked while it
// worked, stopping at the first failure (the connection is away again:
// the next reconnection tries again), and ends with the run.
func (s *session) requeue() {
	s.mu.Lock()
	if s.requeueing {
		s.requeueAgain = true
		s.mu.Unlock()
		return
	}
	s.requeueing = true
	s.mu.Unlock()
	s.wg.Go(func() {
		ctx, cancel := context.WithCancel(s.ctx)
		defer cancel()
		go func() {
			select {
			case <-s.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		for {
			ok := s.requeueOnce(ctx)
			s.mu.Lock()
			again := ok && s.requeueAgain
			s.requeueAgain = false
			if !again {
				s.requeueing = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	})
}

// requeueOnce does one pass of [session.requeue], telling whether it
// went through.
func (s *session) requeueOnce(ctx context.Context) bool {
	type queued struct {
		a    attempt
		seq  uint64
		data []byte
		n    int // the queuing's number, for its message ID
	}
	s.mu.Lock()
	var jobs []queued
	for a, in := range s.pending {
		if in.seq != 0 && in.data != nil {
			jobs = append(jobs, queued{a, in.seq, in.data, in.requeued + 1})
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		actx, acancel := context.WithTimeout(ctx, publishTimeout)
		_, err := s.stream.GetMsg(actx, j.seq)
		acancel()
		if err == nil {
			continue // still queued or running
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return false // away again, or the run is over
		}
		ack, err := s.publish(ctx, j.data, j.a.msgID(j.n))
		if err != nil {
			return false
		}
		s.mu.Lock()
		if in := s.pending[j.a]; in != nil && in.seq == j.seq {
			in.seq = ack.Sequence
			in.requeued = j.n
		}
		s.mu.Unlock()
	}
	return true
}

// waitNotice decides when a flow run says that its task runs wait for
// workers: once task runs have waited the grace period with no worker
// saying anything, and once only until a worker is heard again. A worker
// running one of the run's task runs heartbeats at least every third of
// the grace, so silence that long means none has taken one.
//
// It is a timer, not a look at the consumer: JetStream has no list of the
// workers pulling from a consumer. Its info counts the pull requests
// waiting, but a worker whose slots are full has none out, and an idle
// worker has none between one request's expiry and the next.
type waitNotice struct {
	grace time.Duration
	// since is when a worker last said anything, or when a task run was
	// queued while none was pending, if later.
	since time.Time
	said  bool
}

// heard notes a worker's message, or the first pending task run, at now:
// the wait starts again.
func (w *waitNotice) heard(now time.Time) { w.since, w.said = now, false }

// due tells whether to say, at now, that the task runs wait (pending
// tells whether any does), and how long they have waited. It says yes
// once per wait.
func (w *waitNotice) due(now time.Time, pending bool) (time.Duration, bool) {
	if w.said || !pending || now.Sub(w.since) < w.grace {
		return 0, false
	}
	w.said = true
	return now.Sub(w.since), true
}

// waitMsg is what a flow run logs when its task runs wait for workers.
const waitMsg = "natsexec: waiting for workers: no worker has taken a task run of this flow yet; start workers holding this flow on this NATS server"

// warnSilent logs, once each, the task runs whose worker missed two
// heartbeats: it died, hung or was cut off, and JetStream delivers the task
// run again once the ack wait is over. It also logs, once until a worker
// is heard again, when task runs have waited three heartbeats with no
// worker saying anything: none may be serving the stream (see
// [waitNotice]).
func (s *session) warnSilent(now time.Time) {
	type silent struct {
		logger *slog.Logger
		worker string
		for_   time.Duration
	}
	var list []silent
	s.mu.Lock()
	for _, in := range s.pending {
		if in.seen.IsZero() || in.warned || now.Sub(in.seen) < s.e.o.heartbeat()*5/2 {
			continue
		}
		in.warned = true
		list = append(list, silent{in.run.Context().Logger(), in.worker, now.Sub(in.seen).Round(time.Millisecond)})
	}
	var idle *slog.Logger
	var idleFor time.Duration
	if waited, ok := s.wait.due(now, len(s.pending) > 0); ok {
		idleFor = waited.Round(time.Millisecond)
		for _, in := range s.pending {
			idle = in.run.Context().Logger()
			break
		}
	}
	s.mu.Unlock()
	for _, w := range list {
		w.logger.Warn("natsexec: the worker running this task run went silent; JetStream delivers it to another worker after the ack wait",
			"worker", w.worker, "silent_for", w.for_.String())
	}
	if idle != nil {
		args := []any{"flow", s.g.Name, "stream", s.e.o.stream, "subject", s.subject, "consumer", s.e.o.consumer(s.g.Name),
			"server", s.e.nc.ConnectedUrlRedacted(), "waiting_for", idleFor.String()}
		if s.e.o.workerCmd != "" {
			args = append(args, "start_one", s.e.o.workerCmd)
		}
		idle.Warn(waitMsg, args...)
	}
}

// fail ends the runs still waiting with err; nothing is added after it.
func (s *session) fail(err error) {
	s.mu.Lock()
	pending := s.pending
	s.pending, s.over = map[attempt]*inflight{}, true
	s.mu.Unlock()
	for _, in := range pending {
		in.run.Complete(nil, err)
	}
}

// cancel ends the runs still waiting with the context's error, then tells
// the workers to stop the flow run's task runs and deletes its jobs still
// queued.
func (s *session) cancel() {
	s.mu.Lock()
	pending := s.pending
	s.pending, s.over = map[attempt]*inflight{}, true
	s.mu.Unlock()
	var flowRun uuid.UUID
	var seqs []uint64
	for _, in := range pending {
		flowRun = in.run.FlowRunID()
		if in.seq != 0 {
			seqs = append(seqs, in.seq)
		}
		in.run.Complete(nil, s.ctx.Err())
	}
	if len(pending) == 0 {
		return
	}
	if data, err := json.Marshal(control{CancelFlowRun: flowRun}); err == nil {
		_ = s.e.nc.Publish(s.e.o.control(), data)
	}
	s.deleteJobs(seqs...)
}

// deleteJobs deletes the jobs of a cancelled run still in the stream. A job
// a worker already took is gone, or goes when the worker drops it (it was
// told of the cancellation): either way, it does not run.
//
// It gives up at once when the connection is away, and at the first
// deletion that does not come back in time: the run ends now, and its workers, told of the
// cancellation once the connection is back, drop its jobs as they take
// them.
func (s *session) deleteJobs(seqs ...uint64) {
	if !s.e.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), deleteTimeout)
	defer cancel()
	for _, seq := range seqs {
		if err := s.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) && !errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
			return
		}
	}
}

// deleteTimeout bounds the deletion of a cancelled run's jobs.
const deleteTimeout = 2 * time.Second

// Close stops listening for answers.
func (s *session) Close() error {
	close(s.closed)
	s.wg.Wait()
	s.e.nc.RemoveStatusListener(s.reconnected)
	return s.sub.Unsubscribe()
}

package natsexec

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
)

// Executor returns a runner.Executor that has the task runs of f called by
// workers ([Serve]) through JetStream on nc, and waits for their answers.
// Pass it to runner.Run with runner.WithExecutor, for f. It needs f (not
// only its name) to decode each result into the task's result type.
//
// Each flow run opens a session that creates the stream if it is missing
// and listens for answers on an inbox of its own; Close stops listening.
// Up to [WithSlots] task runs are in flight at once. Secret task runs,
// and those downstream of a secret, are executed here (see the package
// doc). If the flow run's context ends while task runs are waiting for
// their answers, they end with its error (the run is Cancelled); the
// workers are not told (yet).
//
// The connection is the caller's: the executor never closes it.
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

type session struct {
	e       *executor
	ctx     context.Context
	g       *flow.Graph
	js      jetstream.JetStream
	subject string
	inbox   string
	sub     *nats.Subscription
	closed  chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending map[attempt]*runner.TaskRun
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
	if err := ensureStream(ctx, js, &e.o); err != nil {
		return nil, err
	}
	s := &session{
		e: e, ctx: ctx, g: g, js: js,
		subject: e.o.prefix + "." + subjectToken(g.Name),
		inbox:   e.nc.NewInbox(),
		closed:  make(chan struct{}),
		pending: map[attempt]*runner.TaskRun{},
	}
	if s.sub, err = e.nc.Subscribe(s.inbox, s.onAnswer); err != nil {
		return nil, fmt.Errorf("natsexec: subscribing to answers: %w", err)
	}
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
	s.pending[a] = run
	s.mu.Unlock()
	s.wg.Go(func() {
		if err == nil {
			_, err = s.js.Publish(s.ctx, s.subject, data)
			if err != nil {
				err = fmt.Errorf("natsexec: queuing task run %q: %w", run.Slug(), err)
			}
		}
		if err != nil {
			if run := s.take(a); run != nil {
				run.Complete(nil, err)
			}
		}
	})
}

// encode is the job message of run's attempt.
func (s *session) encode(run *runner.TaskRun) ([]byte, error) {
	args := run.Inputs()
	j := job{
		Flow: s.g.Name, FlowRunID: run.FlowRunID(), TaskRunID: run.ID(), RunCount: run.RunCount(),
		Slug: run.Slug(), MapIndex: run.MapIndex(), Inputs: make([]json.RawMessage, len(args)), Reply: s.inbox,
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

// take removes the attempt from the pending ones and returns its run, or
// nil when it is no longer pending: whoever takes it completes it.
func (s *session) take(a attempt) *runner.TaskRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.pending[a]
	delete(s.pending, a)
	return run
}

// onAnswer completes the run a worker answered for; an answer for an
// attempt not in flight (a duplicate) is dropped.
func (s *session) onAnswer(m *nats.Msg) {
	var ans answer
	if err := json.Unmarshal(m.Data, &ans); err != nil {
		return // not ours to answer; nothing to complete
	}
	run := s.take(attempt{ans.TaskRunID, ans.RunCount})
	if run == nil {
		return
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
	run.Complete(out, err)
}

// watch ends the runs still waiting when the flow run's context ends.
func (s *session) watch() {
	defer s.wg.Done()
	select {
	case <-s.closed:
		return
	case <-s.ctx.Done():
	}
	s.mu.Lock()
	runs := s.pending
	s.pending = map[attempt]*runner.TaskRun{}
	s.mu.Unlock()
	for _, run := range runs {
		run.Complete(nil, s.ctx.Err())
	}
}

// Close stops listening for answers.
func (s *session) Close() error {
	close(s.closed)
	s.wg.Wait()
	return s.sub.Unsubscribe()
}

// subjectToken is name as one token of a subject: the characters a token
// cannot hold (whitespace, '.', '*', '>') become '_'. The job carries the
// flow's name as it is; the subject only lets a stream or consumer filter
// by flow.
func subjectToken(name string) string {
	if name == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, name)
}

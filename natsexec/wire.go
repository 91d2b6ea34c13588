package natsexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Defaults of the options.
const (
	// DefaultStream is the JetStream stream task runs are queued on.
	DefaultStream = "PREFECT_TASKS"
	// DefaultSubjectPrefix starts every task run's subject, which ends with
	// the flow's name ([Subject]).
	DefaultSubjectPrefix = "prefect.tasks"
	// DefaultDurable starts the name of each flow's durable consumer, which
	// the flow's workers share ([ConsumerName]). Versions of this package
	// before per-flow consumers gave this name to one consumer of every
	// flow; a worker deletes it (see the package doc, "Upgrading").
	DefaultDurable = "prefect-workers"
	// DefaultSlots is how many task runs an executor has in flight at once.
	DefaultSlots = 64
	// DefaultConcurrency is how many task runs a worker runs at once.
	DefaultConcurrency = 16
	// DefaultAckWait is how long a worker may go silent before its task
	// runs are delivered again ([WithAckWait]).
	DefaultAckWait = 30 * time.Second
	// DefaultMaxDeliveries is how many times a task run is delivered
	// before a worker fails it rather than run it ([WithMaxDeliveries]).
	DefaultMaxDeliveries = 5
)

// Option configures an [Executor] or [Serve]. All are optional; an option
// that does not concern the one it is given to is ignored.
type Option func(*options)

type options struct {
	stream, prefix, durable string
	slots, concurrency      int
	maxDeliveries           int
	ackWait                 time.Duration
	ackWaitSet              bool // given by WithAckWait, not the default
	name                    string
	logger                  *slog.Logger
	cfg                     *config.Config
	workerCmd               string
}

func newOptions(opts []Option) options {
	o := options{stream: DefaultStream, prefix: DefaultSubjectPrefix, durable: DefaultDurable,
		slots: DefaultSlots, concurrency: DefaultConcurrency, ackWait: DefaultAckWait,
		maxDeliveries: DefaultMaxDeliveries}
	for _, opt := range opts {
		opt(&o)
	}
	if o.name == "" {
		host, _ := os.Hostname()
		o.name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// heartbeat is how often a worker running a task under ack wait d says
// so: to the server, which would otherwise deliver the message again after
// the ack wait, and to the executor, with the task's log records since the
// last time.
func heartbeat(d time.Duration) time.Duration { return min(time.Second, d/3) }

// heartbeat is the executor's pace, that of the ack wait it sets.
func (o *options) heartbeat() time.Duration { return heartbeat(o.ackWait) }

// control is the subject of control messages (cancellations): the bare
// prefix, which the stream's "prefix.>" does not hold, so they are core
// NATS messages to the workers listening, never stored.
func (o *options) control() string { return o.prefix }

// WithAckWait sets how long a worker may go silent before its task run is
// taken for lost (default [DefaultAckWait]): the ack wait of the flow's
// JetStream consumer, after which the server delivers the message again
// (to any worker). The executor's setting is the one that counts: each
// flow run sets it on the consumer before it queues a job, and each job
// carries it. A worker's setting is the ack wait of a consumer it creates
// (no run of the flow came first); a worker never changes an existing
// consumer's, and logs a warning when its own setting differs from the
// one in force. A worker running a task says so (heartbeats) every third
// of the ack wait in force (the consumer's, or the job's if shorter), or
// every second if that is sooner, so only a dead, hung or cut-off worker
// misses it; an executor logs a warning when the worker running a task
// run misses two heartbeats. d <= 0 keeps the default, and a d under
// [MinAckWait] is raised to it.
func WithAckWait(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.ackWait, o.ackWaitSet = max(d, MinAckWait), true
		}
	}
}

// MinAckWait is the shortest ack wait; [WithAckWait] raises shorter ones
// to it.
const MinAckWait = 100 * time.Millisecond

// WithMaxDeliveries sets how many times a task run may be delivered to
// workers (default [DefaultMaxDeliveries]). A task run is delivered again
// when its worker died or went silent; a worker given it once more fails
// it, saying so, rather than run it: a task that crashes its worker would
// otherwise take down every worker in turn. n <= 0 keeps the default.
func WithMaxDeliveries(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxDeliveries = n
		}
	}
}

// WithWorkerName names a worker in its heartbeats, which executors log when
// it goes silent (default host:pid).
func WithWorkerName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger sets the logger of a worker's own events (serving, draining,
// cancelling, an ack wait that differs from its own), and of an executor's
// deleting the consumer of an earlier version; the default discards them.
// Records the tasks log go to the flow run's logger, through the executor,
// not here.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithWorkerCommand names the command that starts a worker of the flow
// ("myflows worker"), which an executor suggests when its task runs wait
// for workers ([Program] sets it to the program's name and "worker").
func WithWorkerCommand(cmd string) Option { return func(o *options) { o.workerCmd = cmd } }

// WithConfig sets the configuration a worker's tasks resolve secrets from
// (secrets.Secret(...).Get inside a task), as runner.WithConfig does for a
// run; by default the user's (config.Load).
func WithConfig(cfg *config.Config) Option { return func(o *options) { o.cfg = cfg } }

// WithStream sets the JetStream stream's name and the prefix of its
// subjects (the stream holds prefix + ".>"). Executors and workers must
// agree on both.
func WithStream(name, subjectPrefix string) Option {
	return func(o *options) {
		if name != "" {
			o.stream = name
		}
		if subjectPrefix != "" {
			o.prefix = subjectPrefix
		}
	}
}

// WithSlots sets how many task runs an executor has in flight at once
// (default [DefaultSlots]); n <= 0 keeps the default.
func WithSlots(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.slots = n
		}
	}
}

// WithConcurrency sets how many task runs a worker runs at once (default
// [DefaultConcurrency]); n <= 0 keeps the default.
func WithConcurrency(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.concurrency = n
		}
	}
}

// WithDurable sets the base of the names of the flows' durable consumers
// (default [DefaultDurable]; see [ConsumerName]), which executors and
// workers must agree on. Workers of a flow with the same base share its
// work. A work-queue stream takes one consumer per subject, so workers
// with another base need another stream ([WithStream]).
func WithDurable(name string) Option {
	return func(o *options) {
		if name != "" {
			o.durable = name
		}
	}
}

// job is the message that asks a worker to call a task.
type job struct {
	Flow        string            `json:"flow"`
	FlowVersion string            `json:"flow_version"`
	FlowRunID   uuid.UUID         `json:"flow_run_id"`
	TaskRunID   uuid.UUID         `json:"task_run_id"`
	RunCount    int               `json:"run_count"`
	Slug        string            `json:"slug"`
	MapIndex    int               `json:"map_index"`
	Inputs      []json.RawMessage `json:"inputs"`
	Context     jobContext        `json:"context"`
	Reply       string            `json:"reply"`
	// AckWaitMS is the ack wait, in milliseconds, that the flow program set
	// on the flow's consumer before it queued the job: the worker
	// heartbeats at its pace (or the consumer's, if shorter).
	AckWaitMS int64 `json:"ack_wait_ms,omitempty"`
	// TimeoutNS bounds the call, in nanoseconds: runner.TaskRun.Timeout,
	// the task's own timeout or the run's task default (which the worker's
	// configuration does not know); 0 for none.
	TimeoutNS int64 `json:"timeout_ns,omitempty"`
}

// jobContext is the rest of the task's run context (runner.Context) that
// the job's other fields do not already carry.
type jobContext struct {
	FlowRunName string                     `json:"flow_run_name,omitempty"`
	TaskRunName string                     `json:"task_run_name,omitempty"`
	Parameters  map[string]json.RawMessage `json:"parameters,omitempty"`
	Scheduled   time.Time                  `json:"scheduled_start_time"`
	Resumed     bool                       `json:"resumed,omitempty"`
}

// answer is a worker's message about a job: its heartbeat while the task
// runs (Progress set), with the log records since the last one, and then
// its outcome.
type answer struct {
	TaskRunID uuid.UUID         `json:"task_run_id"`
	RunCount  int               `json:"run_count"`
	Worker    string            `json:"worker,omitempty"`
	Progress  bool              `json:"progress,omitempty"`
	Logs      []json.RawMessage `json:"logs,omitempty"`
	Result    json.RawMessage   `json:"result,omitempty"`
	Error     *wireErr          `json:"error,omitempty"`
	// Tainted says the task was handed a secret's value on the worker
	// (secrets.Secret(...).Get, say): the flow program then treats it as
	// runner.TaskRun.Taint says.
	Tainted bool `json:"tainted,omitempty"`
}

// control is a message on the control subject, from executors to every
// worker.
type control struct {
	// CancelFlowRun is a flow run whose task runs workers stop.
	CancelFlowRun uuid.UUID `json:"cancel_flow_run"`
}

// wireErr is an error as it crosses the wire.
type wireErr struct {
	// Kind is "signal", "timeout", "panic" or "error".
	Kind string `json:"kind"`
	// State is the state a signal asks for.
	State   string `json:"state,omitempty"`
	Message string `json:"message"`
}

const (
	kindSignal  = "signal"
	kindTimeout = "timeout"
	kindPanic   = "panic"
	kindError   = "error"
)

// encodeErr is err as it goes on the wire.
func encodeErr(err error) *wireErr {
	var pe *runner.PanicError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, runner.ErrTimedOut):
		return &wireErr{Kind: kindTimeout, Message: strings.TrimPrefix(err.Error(), runner.ErrTimedOut.Error()+" ")}
	case errors.As(err, &pe):
		return &wireErr{Kind: kindPanic, Message: fmt.Sprint(pe.Value)}
	}
	if sig, ok := task.AsSignal(err); ok {
		return &wireErr{Kind: kindSignal, State: sig.Kind.String(), Message: sig.Message}
	}
	return &wireErr{Kind: kindError, Message: err.Error()}
}

// decode is the error a wireErr stands for on the runner's side.
func (w *wireErr) decode() error {
	if w == nil {
		return nil
	}
	switch w.Kind {
	case kindTimeout:
		return fmt.Errorf("%w: %s", runner.ErrTimedOut, w.Message)
	case kindPanic:
		return &runner.PanicError{Value: w.Message}
	case kindSignal:
		if k, err := state.ParseKind(w.State); err == nil {
			return &task.Signal{Kind: k, Message: w.Message}
		}
	}
	return errors.New(w.Message)
}

// decodeAs decodes data into a new value of type t.
func decodeAs(data []byte, t reflect.Type) (any, error) {
	p := reflect.New(t)
	if err := json.Unmarshal(data, p.Interface()); err != nil {
		return nil, err
	}
	return p.Elem().Interface(), nil
}

// ensureStream returns the work-queue stream, creating it if it is missing.
func ensureStream(ctx context.Context, js jetstream.JetStream, o *options) (jetstream.Stream, error) {
	return retryAPI(ctx, func(ctx context.Context) (jetstream.Stream, error) { return lookupOrCreate(ctx, js, o) })
}

// retryAPI calls f, a JetStream request, again when its answer does not
// come in time (a server that just started drops JetStream requests until
// its JetStream is ready; a client would wait out its whole timeout), up
// to three times, each bounded by apiTimeout.
func retryAPI[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, apiTimeout)
		v, err := f(actx)
		cancel()
		if err == nil || attempt == 3 || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return v, err
		}
	}
}

// apiTimeout bounds one JetStream request of retryAPI.
const apiTimeout = 3 * time.Second

func lookupOrCreate(ctx context.Context, js jetstream.JetStream, o *options) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, o.stream)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("natsexec: looking up stream %q: %w", o.stream, err)
	}
	st, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      o.stream,
		Subjects:  []string{o.prefix + ".>"},
		Retention: jetstream.WorkQueuePolicy,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		st, err = js.Stream(ctx, o.stream) // another made it meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("natsexec: creating stream %q: %w", o.stream, err)
	}
	return st, nil
}

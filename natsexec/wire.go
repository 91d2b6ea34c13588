package natsexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Defaults of the options.
const (
	// DefaultStream is the JetStream stream task runs are queued on.
	DefaultStream = "PREFECT_TASKS"
	// DefaultSubjectPrefix starts every task run's subject, which ends with
	// the flow's name.
	DefaultSubjectPrefix = "prefect.tasks"
	// DefaultDurable is the name of the workers' shared durable consumer.
	DefaultDurable = "prefect-workers"
	// DefaultSlots is how many task runs an executor has in flight at once.
	DefaultSlots = 64
	// DefaultConcurrency is how many task runs a worker runs at once.
	DefaultConcurrency = 16
)

// Option configures an [Executor] or [Serve]. All are optional; an option
// that does not concern the one it is given to is ignored.
type Option func(*options)

type options struct {
	stream, prefix, durable string
	slots, concurrency      int
}

func newOptions(opts []Option) options {
	o := options{stream: DefaultStream, prefix: DefaultSubjectPrefix, durable: DefaultDurable,
		slots: DefaultSlots, concurrency: DefaultConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

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

// WithDurable sets the name of the durable consumer the workers share
// (default [DefaultDurable]). Workers with the same name share the work.
// A work-queue stream takes one consumer per subject, so workers with
// another name need another stream ([WithStream]).
func WithDurable(name string) Option {
	return func(o *options) {
		if name != "" {
			o.durable = name
		}
	}
}

// job is the message that asks a worker to call a task.
type job struct {
	Flow      string            `json:"flow"`
	FlowRunID uuid.UUID         `json:"flow_run_id"`
	TaskRunID uuid.UUID         `json:"task_run_id"`
	RunCount  int               `json:"run_count"`
	Slug      string            `json:"slug"`
	MapIndex  int               `json:"map_index"`
	Inputs    []json.RawMessage `json:"inputs"`
	Reply     string            `json:"reply"`
}

// answer is a worker's reply to a job.
type answer struct {
	TaskRunID uuid.UUID       `json:"task_run_id"`
	RunCount  int             `json:"run_count"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *wireErr        `json:"error,omitempty"`
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
		if k, ok := state.ParseKind(w.State); ok {
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

// ensureStream creates the work-queue stream unless it exists.
func ensureStream(ctx context.Context, js jetstream.JetStream, o *options) error {
	_, err := js.Stream(ctx, o.stream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("natsexec: looking up stream %q: %w", o.stream, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      o.stream,
		Subjects:  []string{o.prefix + ".>"},
		Retention: jetstream.WorkQueuePolicy,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("natsexec: creating stream %q: %w", o.stream, err)
	}
	return nil
}

package natsexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
)

// Serve is a worker: it calls the tasks of flows that executors ([Executor])
// queue on JetStream through nc, until ctx ends. It creates the stream if it
// is missing and consumes it with a durable pull consumer ([WithDurable])
// that every worker of the same name shares, running up to
// [WithConcurrency] task runs at once. For each message it finds the task
// by flow name and slug, decodes its inputs, calls it under its timeout (a
// panic becomes a failure), answers, and then acknowledges the message.
// A message for a flow it does not hold, or a task its flow does not have,
// is answered with an error saying so.
//
// While a task runs, its worker tells the server every 10 s that the
// message is in progress; a message whose worker went silent for 30 s (it
// died) is delivered again, to any worker.
//
// When ctx ends, Serve stops taking messages, lets the task runs it has
// taken finish and answer (their context does not end with ctx), and
// returns nil. It returns an error at once if a flow is invalid, two flows
// share a name, or the stream or consumer cannot be set up, and when it
// can no longer consume (the connection was closed, the consumer deleted).
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
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsexec: %w", err)
	}
	if err := ensureStream(ctx, js, &o); err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, o.stream, jetstream.ConsumerConfig{
		Durable:       o.durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		FilterSubject: o.prefix + ".>",
	})
	if err != nil {
		return fmt.Errorf("natsexec: creating consumer %q on stream %q: %w", o.durable, o.stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(o.concurrency))
	if err != nil {
		return fmt.Errorf("natsexec: consuming stream %q: %w", o.stream, err)
	}
	w := &worker{nc: nc, graphs: graphs, ctx: context.WithoutCancel(ctx)}

	// When ctx ends, Drain stops pulling; Next hands out what was already
	// delivered, then reports the iterator closed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			it.Drain()
		case <-stop:
		}
	})
	sem := make(chan struct{}, o.concurrency)
	for {
		sem <- struct{}{}
		var msg jetstream.Msg
		if msg, err = it.Next(); err != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			w.handle(msg)
		})
	}
	it.Stop()
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("natsexec: consuming stream %q: %w", o.stream, err)
}

// ackWait is how long the server waits for a worker's acknowledgement
// before it redelivers a message; while a task runs, its worker says it is
// in progress every inProgressEvery, so a long task is not run twice.
const (
	ackWait         = 30 * time.Second
	inProgressEvery = ackWait / 3
)

type worker struct {
	nc     *nats.Conn
	graphs map[string]*flow.Graph
	ctx    context.Context
}

// handle answers one message and acknowledges it.
func (w *worker) handle(msg jetstream.Msg) {
	var j job
	if err := json.Unmarshal(msg.Data(), &j); err != nil || j.Reply == "" {
		_ = msg.Term() // unreadable or unanswerable: never deliver it again
		return
	}
	ans := w.runInProgress(msg, &j)
	ans.TaskRunID, ans.RunCount = j.TaskRunID, j.RunCount
	data, err := json.Marshal(ans)
	if err != nil {
		data, _ = json.Marshal(answer{TaskRunID: j.TaskRunID, RunCount: j.RunCount,
			Error: &wireErr{Kind: kindError, Message: "natsexec: encoding the answer: " + err.Error()}})
	}
	if err := w.nc.Publish(j.Reply, data); err != nil {
		_ = msg.Nak() // let another try answer
		return
	}
	_ = msg.Ack()
}

// runInProgress runs the job, telling the server that msg is in progress
// while it runs.
func (w *worker) runInProgress(msg jetstream.Msg, j *job) answer {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(inProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = msg.InProgress()
			}
		}
	})
	defer wg.Wait()
	defer close(done)
	return w.run(j)
}

// run calls the job's task and returns its answer.
func (w *worker) run(j *job) answer {
	fail := func(format string, args ...any) answer {
		return answer{Error: &wireErr{Kind: kindError, Message: fmt.Sprintf(format, args...)}}
	}
	g, ok := w.graphs[j.Flow]
	if !ok {
		return fail("natsexec: this worker does not hold flow %q (it holds %s)", j.Flow, quoted(slices.Sorted(maps.Keys(w.graphs))))
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
	ctx := w.ctx
	if gt.Spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, gt.Spec.Timeout)
		defer cancel()
	}
	out, err := call(ctx, gt.Task, args)
	if gt.Spec.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %v", runner.ErrTimedOut, gt.Spec.Timeout)
	}
	var ans answer
	if out != nil {
		b, jerr := json.Marshal(out)
		if jerr != nil {
			return fail("natsexec: encoding the result of %q: %v", j.Slug, jerr)
		}
		ans.Result = b
	}
	ans.Error = encodeErr(err)
	return ans
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

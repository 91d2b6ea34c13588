package program

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
)

// RunAPI is what an execution needs of the server; *client.Client is one.
type RunAPI interface {
	FlowRun(ctx context.Context, id string) (client.FlowRun, error)
	Flow(ctx context.Context, id string) (client.Flow, error)
	SetFlowRunState(ctx context.Context, id string, version int, to state.Kind, message string) (int, error)
	SetTaskRunStates(ctx context.Context, runID string, trs []client.TaskRun) error
	WriteRunLogs(ctx context.Context, runID string, lines []client.LogLine) error
	Heartbeat(ctx context.Context, runID string) error
}

// maxBuffered bounds what a reporter keeps while the server is away: task
// states are kept one per task run (the latest), log lines up to this many
// (then the oldest go, and a line says how many).
const maxBuffered = 10000

// reporter is a runner.Reporter that sends a run's task states and logs to
// the server from a goroutine of its own, in batches, keeping what could
// not be sent for the next try: a server away for a while loses nothing
// but, past maxBuffered, old log lines.
type reporter struct {
	api   RunAPI
	runID string
	every time.Duration
	level slog.Level // records below it are not sent

	mu      sync.Mutex
	seq     int                        // numbers the task states, in order
	logSeq  int                        // numbers the log lines, in order
	tasks   map[taskKey]client.TaskRun // latest unsent state per task run
	order   []taskKey                  // first-seen order of tasks' keys
	logs    []client.LogLine
	dropped int
	wake    chan struct{}
	done    chan struct{}
	stop    chan struct{}
}

type taskKey struct {
	slug string
	idx  int
}

func newReporter(api RunAPI, runID string, every time.Duration, level slog.Level) *reporter {
	r := &reporter{api: api, runID: runID, every: every, level: level, tasks: map[taskKey]client.TaskRun{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	go r.loop()
	return r
}

// FlowState is the execution's business, not the reporter's.
func (r *reporter) FlowState(state.State) {}

// TaskState keeps the task run's latest state for the next batch.
func (r *reporter) TaskState(tr runner.TaskReport) {
	msg := tr.State.Message
	if msg == "" && tr.State.Err != nil {
		msg = tr.State.Err.Error()
	}
	k := taskKey{tr.Slug, tr.MapIndex}
	r.mu.Lock()
	if _, ok := r.tasks[k]; !ok {
		r.order = append(r.order, k)
	}
	r.seq++ // under mu, and in the order the runner reports
	r.tasks[k] = client.TaskRun{ID: tr.TaskRunID.String(), Slug: tr.Slug, MapIndex: tr.MapIndex,
		State: tr.State.Kind, Message: msg, Updated: tr.Time, Seq: r.seq}
	r.mu.Unlock()
	r.poke()
}

// Log keeps the record for the next batch, if it is of the configured
// level (logging.level) or above.
func (r *reporter) Log(l runner.LogReport) {
	if l.Level < r.level {
		return
	}
	r.mu.Lock()
	if len(r.logs) >= maxBuffered {
		r.logs = r.logs[1:]
		r.dropped++
	}
	r.logSeq++ // the server adds a line sent twice (a lost answer) once
	r.logs = append(r.logs, client.LogLine{Time: l.Time, Level: l.Level.String(), TaskSlug: l.TaskSlug, Message: logText(l), WriterSeq: r.logSeq})
	r.mu.Unlock()
}

func (r *reporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reporter) loop() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.wake:
			// Gather a little more before sending.
			select {
			case <-r.stop:
				return
			case <-time.After(r.every / 4):
			}
		}
		r.send(context.Background())
	}
}

// send sends what is buffered, once; what fails is kept.
func (r *reporter) send(ctx context.Context) error {
	r.mu.Lock()
	var trs []client.TaskRun
	for _, k := range r.order {
		trs = append(trs, r.tasks[k])
	}
	r.tasks, r.order = map[taskKey]client.TaskRun{}, nil
	logs, dropped := r.logs, r.dropped
	r.logs, r.dropped = nil, 0
	if dropped > 0 {
		r.logSeq++
		logs = append([]client.LogLine{{Time: time.Now(), Level: "WARN", WriterSeq: r.logSeq,
			Message: "the log lost lines while the server could not be reached"}}, logs...)
	}
	r.mu.Unlock()

	var err error
	for len(trs) > 0 && err == nil {
		n := batch(len(trs), func(i int) int { return len(trs[i].Message) + len(trs[i].Slug) + 128 })
		if err = r.api.SetTaskRunStates(ctx, r.runID, trs[:n]); err == nil || !transient(err) {
			trs, err = trs[n:], nil // a batch the server refuses is dropped, not sent forever
		}
	}
	for len(logs) > 0 && err == nil {
		n := batch(len(logs), func(i int) int { return len(logs[i].Message) + len(logs[i].TaskSlug) + 96 })
		if err = r.api.WriteRunLogs(ctx, r.runID, logs[:n]); err == nil || !transient(err) {
			logs, err = logs[n:], nil
		}
	}
	if err != nil {
		// Keep what was not sent, behind what came meanwhile for tasks
		// (newer states win) and ahead of it for logs.
		r.mu.Lock()
		for _, tr := range trs {
			k := taskKey{tr.Slug, tr.MapIndex}
			if _, newer := r.tasks[k]; !newer {
				r.tasks[k] = tr
				r.order = append(r.order, k)
			}
		}
		r.logs = append(logs, r.logs...)
		if over := len(r.logs) - maxBuffered; over > 0 {
			r.logs, r.dropped = r.logs[over:], r.dropped+over
		}
		r.mu.Unlock()
	}
	return err
}

// maxBatchBytes keeps a batch well under the server's request limit (its
// values' limit, 256 KiB by default, plus 1 MiB).
const maxBatchBytes = 512 << 10

// batch returns how many of the n items, of the sizes size gives, go in
// one request: at most 500 and maxBatchBytes, at least one.
func batch(n int, size func(int) int) int {
	total := 0
	for i := range min(n, 500) {
		total += size(i)
		if total > maxBatchBytes && i > 0 {
			return i
		}
	}
	return min(n, 500)
}

// transient reports whether err may pass if the call is made again: the
// network failed, or the server answered 5xx, 429 or an INTERNAL error.
// Any other answer (the request is too large or invalid, the run is over,
// the key is refused) will be the same next time.
func transient(err error) bool {
	var gql *client.GraphQLError
	if !errors.As(err, &gql) {
		return true
	}
	return gql.Status >= 500 || gql.Status == 429 || slices.Contains(gql.Codes(), "INTERNAL")
}

// close stops the loop and sends what is left, trying again until ctx ends.
func (r *reporter) close(ctx context.Context) error {
	close(r.stop)
	<-r.done
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := r.send(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// logText is a record's message followed by its own attributes as
// key=value (all masked by the runner), leaving out the run's and the
// task run's, which the server knows already.
func logText(l runner.LogReport) string {
	var keys []string
	for k := range l.Attrs {
		if !strings.HasPrefix(k, "flow_run.") && !strings.HasPrefix(k, "task_run.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return l.Message
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(l.Message)
	for _, k := range keys {
		v := l.Attrs[k]
		if strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	return b.String()
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/state"
)

// A Reporter hears of a flow run as it goes: the flow run's states, every
// task run's states and the run's log records, so that it can pass them on
// (to an orchestration server, a UI, a metrics system). Set one with
// [WithReporter].
//
// What a Reporter hears of, in order:
//
//   - FlowState(Running), before anything else;
//   - TaskState(Pending) for every task of the flow, before any task runs,
//     and for every child of a mapped task when the mapping starts;
//   - then each task run's changes in the order they happen (see
//     [Reporter.TaskState]), and the run's log records;
//   - FlowState with the run's final state (the one Run returns), last.
//
// A run that cannot start (Run returns an error) reports nothing. A run
// the runner itself fails (Run returns an internal error, a bug) ends
// Failed with that error as its message.
//
// Nothing secret reaches a Reporter: every string it is given has passed
// through the run's masker, which hides each secret resolved in the run
// (and its encoded forms) as in log records and states (see the README's
// "What never shows a secret's value"). Results never leave the process
// through a Reporter: reported states have no Result and no Children.
//
// Concurrency: calls come from the run's goroutines (the one that called
// Run, the executor's workers, any goroutine a task logs from) but never
// at the same time: the runner makes them one at a time, under a lock of
// the run's, so a Reporter needs no locking for state only its methods
// touch. That lock, and the calls themselves, are on the run's path: a slow
// Reporter slows the run, every task of it. Methods should be quick and
// must not block: hand what they are given to a buffer or channel that
// another goroutine drains, and decide there what to drop when it is full.
// A method must not wait for the run itself (for a task to finish, say),
// which would wait for it in turn. A Reporter that panics is dropped: the
// run goes on, it hears of nothing more, and the panic is logged at Error
// on the run's logger.
//
// Only Log can come after the final FlowState, and even after Run returns:
// from goroutines a task started and left running with its logger.
type Reporter interface {
	// FlowState is called when the flow run's state changes: Running at
	// the start, then its final state (Success, Failed, Cancelled or
	// Paused), with the message masked.
	FlowState(s state.State)
	// TaskState is called each time a task run's state changes, mapped
	// children included, in the order the changes happen for that task
	// run. On the Local executor the order of all calls is deterministic;
	// on others the calls of different task runs interleave, and only
	// causality holds between them: the final states of a task run's
	// upstream task runs are reported before it is reported Running. A
	// task run goes:
	//
	//   - Pending, first;
	//   - Running (when its function is about to be called), then its
	//     next state: a final one, or Retrying and Running again;
	//   - or straight to its final state when it does not run: a
	//     parameter (Success), a state kept from an earlier run (Restart,
	//     WithTaskStates), a cache hit (Cached), a skip (Skipped) or a
	//     failed trigger (TriggerFailed), a task a cancelled run never
	//     started (Cancelled);
	//   - a mapped task, Pending, Running when its children are made,
	//     then Mapped (or Cancelled) once they are all done;
	//   - Paused (manual_only, task.Pause), or Pending again with a message
	//     when it waits on a paused task: the run ends there, the task
	//     runs again on a restart that resumes it.
	TaskState(r TaskReport)
	// Log is called for each log record of level Info or above that the
	// run emits, the records WithLogger's handler gets, masked the same
	// way; it is called whatever that handler's level, and also when no
	// logger was given.
	Log(r LogReport)
}

// TaskReport is one state change of one task run.
type TaskReport struct {
	// TaskRunID identifies the task run, as FromContext's TaskRunID: a
	// name-based (version 5) UUID of the flow run id, the slug and the map
	// index, the same on every attempt.
	TaskRunID uuid.UUID
	// Slug is the task's slug, masked.
	Slug string
	// MapIndex is the index of a mapped child run, or -1.
	MapIndex int
	// State is the new state, masked: its Message and Location hold no
	// secret; its Err, when set, is a new error whose text is the masked
	// Error text of the task's error and which wraps nothing (errors.Is
	// and errors.As see only itself: the task's own error values stay in
	// the process, as results do); Result and Children are nil.
	State state.State
	// Time is when the runner saw the change, on the run's Clock.
	Time time.Time
}

// LogReport is one log record of a flow run.
type LogReport struct {
	// Time is the record's time, as log/slog set it.
	Time time.Time
	// Level is the record's level.
	Level slog.Level
	// Message is the record's message, masked.
	Message string
	// TaskSlug is the slug of the task run the record is about (its
	// task_run.task_slug attribute), masked; "" for flow-level records.
	TaskSlug string
	// MapIndex is the index of the mapped child run the record is about,
	// or -1.
	MapIndex int
	// Attrs holds the record's attributes, those given to the logger
	// (With) first: one entry per attribute, groups flattened into
	// dotted keys ("task_run.task_slug"), each key and value masked, each
	// value as text (times in RFC 3339, errors as their Error text).
	Attrs map[string]string
}

// WithReporter has the run report its progress to r as it goes: see
// [Reporter]. nil means no reporter, the default; without one the run
// costs nothing more.
func WithReporter(r Reporter) Option { return func(o *options) { o.reporter = r } }

// reporting is a run's side of its Reporter: it masks what the Reporter is
// given and calls it one call at a time.
type reporting struct {
	masker    *redact.Masker
	clock     Clock
	g         *flow.Graph
	flowRunID uuid.UUID
	ids       []uuid.UUID // task run ids of the unmapped task runs, by node; read-only once made
	// fallback is the run's logger without the Reporter, where a
	// Reporter's panic is logged.
	fallback *slog.Logger

	mu sync.Mutex
	r  Reporter // nil once it panicked; guarded by mu
}

// startReporting joins the Reporter to the run, once nothing but the run
// itself is left to do (secrets resolved first are not reported, so that a
// run that cannot start reports nothing): it hands the run's log records to
// the Reporter too and reports the flow Running and every task Pending.
// base is the handler given with WithLogger, before masking.
func (d *driver) startReporting(r Reporter, base slog.Handler) {
	rp := &reporting{
		masker: d.masker, clock: d.o.clock, g: d.g, flowRunID: d.o.flowRunID,
		ids: make([]uuid.UUID, len(d.g.Tasks)), fallback: d.o.logger, r: r,
	}
	for i := range d.g.Tasks {
		rp.ids[i] = taskRunID(rp.flowRunID, d.g.Tasks[i].Slug, -1)
	}
	d.rep = rp
	d.o.logger = slog.New(d.masker.Handler(&teeHandler{user: base, rep: &reportHandler{rp: rp}}))
	d.logInfo = d.o.logger.Enabled(d.ctx, slog.LevelInfo)
	d.logDebug = d.o.logger.Enabled(d.ctx, slog.LevelDebug)
}

// taskRunID is a task run's id: FromContext's TaskRunID, and the reports'.
func taskRunID(flowRunID uuid.UUID, slug string, mapIndex int) uuid.UUID {
	return uuid.NewSHA1(flowRunID, []byte(slug+"["+strconv.Itoa(mapIndex)+"]"))
}

// reportPending reports every task Pending, at the start of the run.
func (d *driver) reportPending() {
	pending := state.New(state.Pending, "")
	for i := range d.g.Tasks {
		d.rep.task(i, -1, &pending)
	}
}

// reportKept reports the children of a mapped task kept whole from an
// earlier run: each was never made in this run, so it is heard of here,
// Pending then its kept state, before its parent's.
func (d *driver) reportKept(i int, children []state.State) {
	pending := state.New(state.Pending, "")
	for j := range children {
		d.rep.task(i, j, &pending)
		d.rep.task(i, j, &children[j])
	}
}

// task reports the state of task run (node, child).
func (rp *reporting) task(node, child int, st *state.State) {
	id := rp.ids[node]
	if child >= 0 {
		id = taskRunID(rp.flowRunID, rp.g.Tasks[node].Slug, child)
	}
	tr := TaskReport{
		TaskRunID: id,
		Slug:      rp.masker.Redact(rp.g.Tasks[node].Slug),
		MapIndex:  child,
		State:     rp.clean(st),
		Time:      rp.clock.Now(),
	}
	rp.mu.Lock()
	defer rp.unlock()
	if rp.r != nil {
		rp.r.TaskState(tr)
	}
}

// flow reports the flow run's state.
func (rp *reporting) flow(st state.State) {
	st = rp.clean(&st)
	rp.mu.Lock()
	defer rp.unlock()
	if rp.r != nil {
		rp.r.FlowState(st)
	}
}

func (rp *reporting) log(lr LogReport) {
	rp.mu.Lock()
	defer rp.unlock()
	if rp.r != nil {
		rp.r.Log(lr)
	}
}

// unlock ends a call to the Reporter; a Reporter that panicked is dropped.
// It is deferred by each call, so that it can recover.
func (rp *reporting) unlock() {
	p := recover()
	if p != nil {
		rp.r = nil
	}
	rp.mu.Unlock()
	if p != nil {
		// fallback does not reach the Reporter: no call comes back here.
		rp.fallback.Error("The run's Reporter panicked; it hears of nothing more of this run", slog.String("panic", fmt.Sprint(p)))
	}
}

// clean returns what a Reporter may see of st: its masked text, no result.
// Masking again what the driver already masked costs a little, with a
// Reporter only, and covers the states it did not mask (Running, from
// state handlers).
func (rp *reporting) clean(st *state.State) state.State {
	out := state.State{
		Kind:      st.Kind,
		Message:   rp.masker.Redact(st.Message),
		RunCount:  st.RunCount,
		Location:  rp.masker.Redact(st.Location),
		StartTime: st.StartTime,
	}
	if st.Err != nil {
		// fmt turns a panicking Error method into text.
		out.Err = errors.New(rp.masker.Redact(fmt.Sprint(st.Err)))
	}
	return out
}

// teeHandler hands each record to the Reporter's handler and to the one
// given with WithLogger, each at the levels it asks for. It sits inside
// the masker's handler: both get masked records.
type teeHandler struct {
	user slog.Handler
	rep  *reportHandler
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= reportLevel || h.user.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	// The Reporter's handler only reads r; the user's may change it.
	if r.Level >= reportLevel {
		h.rep.handle(r)
	}
	if h.user.Enabled(ctx, r.Level) {
		return h.user.Handle(ctx, r)
	}
	return nil
}

func (h *teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &teeHandler{user: h.user.WithAttrs(attrs), rep: h.rep.withAttrs(attrs)}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	return &teeHandler{user: h.user.WithGroup(name), rep: h.rep.withGroup(name)}
}

// reportLevel is the lowest level of the records a Reporter hears of:
// Prefect 1's default logging.level, INFO.
const reportLevel = slog.LevelInfo

// reportHandler turns records into LogReports. Keys are masked here; the
// masker's handler, outside the tee, has masked the message and values.
type reportHandler struct {
	rp     *reporting
	attrs  []reportAttr // given to WithAttrs, flattened, keys masked
	prefix string       // the groups opened with WithGroup, each with a '.'
}

// reportAttr is one flattened attribute; raw is its key unmasked, for the
// task run attributes.
type reportAttr struct {
	raw, key, value string
}

func (h *reportHandler) withAttrs(attrs []slog.Attr) *reportHandler {
	out := &reportHandler{rp: h.rp, prefix: h.prefix, attrs: h.attrs[:len(h.attrs):len(h.attrs)]}
	for _, a := range attrs {
		out.attrs = flatten(out.attrs, h.rp.masker, h.prefix, a)
	}
	return out
}

func (h *reportHandler) withGroup(name string) *reportHandler {
	if name == "" {
		return h
	}
	return &reportHandler{rp: h.rp, attrs: h.attrs, prefix: h.prefix + name + "."}
}

func (h *reportHandler) handle(r slog.Record) {
	var flat []reportAttr
	r.Attrs(func(a slog.Attr) bool {
		flat = flatten(flat, h.rp.masker, h.prefix, a)
		return true
	})
	lr := LogReport{
		Time: r.Time, Level: r.Level, Message: r.Message, MapIndex: -1,
		Attrs: make(map[string]string, len(h.attrs)+len(flat)),
	}
	for _, list := range [2][]reportAttr{h.attrs, flat} {
		for _, a := range list {
			lr.Attrs[a.key] = a.value
			switch a.raw {
			case "task_run.task_slug":
				lr.TaskSlug = a.value
			case "task_run.map_index":
				if n, err := strconv.Atoi(a.value); err == nil {
					lr.MapIndex = n
				}
			}
		}
	}
	h.rp.log(lr)
}

// flatten appends a, its groups flattened under prefix, to dst.
func flatten(dst []reportAttr, m *redact.Masker, prefix string, a slog.Attr) []reportAttr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, sub := range v.Group() {
			dst = flatten(dst, m, prefix, sub)
		}
		return dst
	}
	if a.Key == "" && v.Kind() == slog.KindAny && v.Any() == nil {
		return dst // the zero Attr, which handlers ignore
	}
	key := prefix + a.Key
	return append(dst, reportAttr{raw: key, key: m.Redact(key), value: valueText(v)})
}

// valueText writes v as the masker's handler read it when it looked for
// secrets, so that the text is the one it checked: a value it found one in
// is a string by now.
func valueText(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		// Left as Any only while no secret is registered; written as the
		// masker writes it.
		switch x := v.Any().(type) {
		case []byte:
			return string(x)
		case error:
			return fmt.Sprint(x)
		default:
			return fmt.Sprintf("%+v", x)
		}
	}
	return v.String()
}

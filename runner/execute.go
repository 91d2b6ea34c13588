package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// TaskRun is one run of a task (or of one mapped child) that the runner
// found ready and hands to an executor's [Session]. Retries of the run reuse it.
//
// An executor finishes each submitted run in one of two ways:
//
//   - [TaskRun.Execute] runs the attempt here, on the calling goroutine;
//   - [TaskRun.Start], then, when it returns true, [TaskRun.Complete] with the
//     outcome of the task's function called elsewhere (another process, another
//     machine), from the run's [TaskRun.Inputs].
//
// Both ways share everything but the call itself: the cache check, the
// state handlers, the Running report before the call; signals, timeouts,
// panics, retries, checkpoints, cache writes, masking and reporting after
// it. Calling Execute after Start, Start or Execute twice, or Complete other
// than once after a Start that returned true panics: it is a bug in the
// executor.
//
// Once a run is handed back (Execute or Complete returned, or Start returned
// false), the executor must not use it again. The runner recycles the
// TaskRuns of its own executors ([Local], [Parallel]), so that a run costs
// no allocation of its own; other executors get a fresh TaskRun per run, on
// which a late second Complete is always caught. A retry resubmits the same
// TaskRun: an executor that may hear an answer twice (a redelivered message)
// must drop an answer whose attempt ([TaskRun.RunCount] at Submit) is not
// the one in flight.
//
// # Secrets
//
// Inputs returns the values the task's function is given, secrets included
// as the secrets.Value boxes they are (the task's Call decodes them into
// its input types); a box marshals to JSON redacted, so it never leaks by
// accident, and never crosses a wire usefully either. The rule for an
// executor that runs tasks elsewhere: a run for which [TaskRun.Secret] or
// [TaskRun.FromSecret] reports true must be run here ([TaskRun.Execute]) or
// refused (Start, then Complete with an error); its inputs and result must
// never be sent elsewhere in clear. Secret is the secret task itself (its
// result is the secret); FromSecret is any task downstream of one, whose
// inputs may be the secret or hold it, the same rule the runner keeps for
// checkpoints (a result computed from a secret is not written unless the
// task asks). FromSecret also covers what the run finds as it goes: a task
// that is handed a secret's value while it runs here taints the tasks
// downstream of it; an executor that learns the same of a task it called
// elsewhere says so with [TaskRun.Taint].
type TaskRun struct {
	d      *driver
	gt     *flow.GraphTask
	node   int32
	child  int32
	args   []any
	state  state.State
	argBuf [3]any
	// tc is the context of the attempt being submitted, handed out by the
	// driver from a slab (see newTaskCtx).
	tc *taskCtx
	// running is the state the state handlers settled on before the call,
	// which they see as the old state after it; kept only for tasks with
	// handlers.
	running state.State
	// phase is where the run is in its submission: runIdle, runSubmitted
	// or runStarted. It is atomic because a misbehaving executor may ask
	// from any goroutine; catching it must not be a data race.
	phase atomic.Uint32
}

// The phases of a TaskRun.
const (
	runIdle uint32 = iota // handed back, or not yet submitted
	runSubmitted
	runStarted // Start returned true: the call is elsewhere
)

// ErrTimedOut is what an executor that runs a task elsewhere passes to
// [TaskRun.Complete] (alone, or wrapped with the cause) when the task's
// function ran out of its time there: the run ends TimedOut, or Retrying
// while it has retries left, as a local run past its task.WithTimeout does.
var ErrTimedOut = errors.New("the task run timed out")

// Slug returns the slug of the task being run.
func (tr *TaskRun) Slug() string { return tr.gt.Slug }

// MapIndex returns the index of a mapped child run, or -1.
func (tr *TaskRun) MapIndex() int { return int(tr.child) }

// FlowRunID returns the id of the flow run the task run belongs to.
func (tr *TaskRun) FlowRunID() uuid.UUID { return tr.d.o.flowRunID }

// ID returns the task run's id, the one its task sees as
// [Context.TaskRunID]: the same on every attempt of the run.
func (tr *TaskRun) ID() uuid.UUID { return taskRunID(tr.d.o.flowRunID, tr.gt.Slug, int(tr.child)) }

// RunCount returns the attempt being submitted: 1 on the first run of the
// task run, 2 on its first retry, ..., as [Context.TaskRunCount].
func (tr *TaskRun) RunCount() int { return int(tr.tc.runCount) }

// Inputs returns the values the runner passes to the task's Call, one per
// input in the order of its Spec().Inputs, after the usual filling
// (upstream results, constants, parameters, mapped elements); an unbound
// optional input is nil. Secrets are left as the secrets.Value boxes they
// are: see "Secrets" above. The slice is the caller's; the values are
// shared with the run and must not be modified.
func (tr *TaskRun) Inputs() []any { return slices.Clone(tr.args) }

// Context returns the run context of the attempt being submitted: what
// [FromContext] returns inside the task when it is called here. An
// executor that calls the task elsewhere sends its fields along and gives
// the task the same there with [NewContext]; its Logger is the run's, so
// that records the task logged elsewhere can be logged here, masked and
// reported like any other. Its Parameters are shared with the run: read
// them, never write them.
func (tr *TaskRun) Context() *Context { return tr.tc.runContext() }

// Timeout returns the bound on one call of the task's function in this run:
// the task's own (task.WithTimeout), else the run's task default
// (tasks.defaults.timeout, WithTaskDefaults); 0 for none. An executor that
// calls the task elsewhere bounds the call by it there.
func (tr *TaskRun) Timeout() time.Duration { return tr.d.settings(tr.gt).Timeout }

// Secret reports whether the task is a secret task (task.WithSecretResult): its
// result is a secret, so it must run here (see "Secrets" above).
func (tr *TaskRun) Secret() bool { return tr.gt.Spec.Secret }

// FromSecret reports whether the task's inputs may hold a secret, so that
// it must run here (see "Secrets" above): a secret task, or a parameter
// whose type can hold a secrets.Value, is upstream of it, directly or not;
// or, found as the run goes, a task upstream of it was handed a secret's
// value while it ran here (secrets.Secret(...).Get, secrets.Get,
// secrets.Mask), or is downstream of one that was; or an earlier attempt
// of the task itself was.
func (tr *TaskRun) FromSecret() bool { return tr.gt.FromSecret || tr.d.tainted(int(tr.node)) }

// Execute runs the task run to its next state (a final one, or Retrying)
// here, on the calling goroutine, and hands it back to the runner. An
// executor calls it, or Start, exactly once per Submit.
func (tr *TaskRun) Execute() {
	if !tr.phase.CompareAndSwap(runSubmitted, runIdle) {
		panic(tr.misuse("Execute"))
	}
	tr.d.safeExecute(tr)
	tr.handBack()
}

// Start begins an attempt that runs elsewhere, doing what comes before the
// task's function is called: it checks that the flow run is not cancelled
// and the task's cache, and moves the run to Running (through the state
// handlers, which may decide otherwise, and the reporter). It returns true
// when the task's function is to be called: the executor then runs it
// elsewhere with [TaskRun.Inputs] and calls [TaskRun.Complete] with what it
// returned. It returns false when the run is already over and handed back
// (cancelled before it started, a cache hit, a state handler's choice): the
// executor must not touch it again.
func (tr *TaskRun) Start() bool {
	if !tr.phase.CompareAndSwap(runSubmitted, runStarted) {
		panic(tr.misuse("Start"))
	}
	if tr.d.safeBegin(tr) {
		return true
	}
	tr.phase.Store(runIdle)
	tr.handBack()
	return false
}

// Complete finishes an attempt begun with [TaskRun.Start] with the outcome
// of the task's function called elsewhere, and hands the run back. result
// and err are what the function returned (result of the task's result type,
// or nil); Complete applies what Execute applies after the call: err as a
// signal (task.Fail, Skip, Retry, Succeed, Pause), a timeout (err matching
// [ErrTimedOut]), a panic (err a *[PanicError]) or a failure, each subject
// to retries; then checkpointing and caching, the state handlers, masking
// and reporting. An err while the flow run is cancelled ends the run
// Cancelled.
func (tr *TaskRun) Complete(result any, err error) {
	if !tr.phase.CompareAndSwap(runStarted, runIdle) {
		panic(tr.misuse("Complete"))
	}
	tr.d.safeEnd(tr, result, false, err)
	tr.handBack()
}

// Taint tells the runner that the task's function, called elsewhere for
// the attempt begun with [TaskRun.Start], was handed a secret's value there
// (secrets.Secret(...).Get, secrets.Get or secrets.Mask fired a
// secrets.OnUse hook the executor put in the task's context): the task is
// then treated as one that did so here, its result not checkpointed or
// cached unless it asks, the tasks downstream of it run here
// ([TaskRun.FromSecret]). Call it before Complete. A run executed here
// (Execute) needs no call: its context reports the use itself.
func (tr *TaskRun) Taint() {
	if tr.phase.Load() != runStarted {
		panic(tr.misuse("Taint"))
	}
	tr.d.taint(int(tr.node))
}

// handBack gives the finished attempt back to the runner.
func (tr *TaskRun) handBack() {
	if tr.d.inline {
		tr.d.complete(tr)
		return
	}
	tr.d.done <- tr
}

// misuse is the panic value of an executor calling Execute, Start or
// Complete out of turn. It reads no field the runner may be writing.
func (tr *TaskRun) misuse(method string) string {
	switch tr.phase.Load() {
	case runSubmitted:
		return "runner: TaskRun." + method + " called on a task run that was not started: call Execute, or Start then Complete"
	case runStarted:
		return "runner: TaskRun." + method + " called on a task run already started: call Complete, once"
	}
	return "runner: TaskRun." + method + " called on a task run already handed back: an executor calls Execute, or Start then Complete, exactly once per Submit"
}

// taskCtx is the context of one attempt of a task run: the flow run's
// context, plus the run context under ctxKey, built only if a task asks,
// and the attempt's own secrets.OnUse hook (see Value). It holds what
// building needs, not the TaskRun, which is recycled: a task may keep its
// context after it returns.
type taskCtx struct {
	d                     *driver
	node, child, runCount int32
	rc                    atomic.Pointer[Context]
}

// Deadline, Done and Err are the flow run's: cancelling the run cancels
// every task's context.
func (c *taskCtx) Deadline() (time.Time, bool) { return c.d.ctx.Deadline() }
func (c *taskCtx) Done() <-chan struct{}       { return c.d.ctx.Done() }
func (c *taskCtx) Err() error                  { return c.d.ctx.Err() }

// Value finds the run context under ctxKey, and the rest in the flow run's
// context, except the run's secrets.OnUse hook (useHook), for which it
// returns the attempt's own: a task that is handed a secret's value taints
// its task (see driver.taint). The hook is made only when a task asks for
// a secret, so that an attempt costs no allocation otherwise.
func (c *taskCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c.runContext()
	}
	v := c.d.ctx.Value(key)
	if f, ok := v.(func()); ok && isUseHook(f) {
		return c.onUse(key)
	}
	return v
}

// onUse returns the secrets.OnUse hook of the attempt: it taints the task,
// and calls the hook of an enclosing run (a task that runs a flow of its
// own), whose task the value may reach through this one's result.
func (c *taskCtx) onUse(key any) func() {
	outer, _ := c.d.outer.Value(key).(func())
	return func() {
		c.d.taint(int(c.node))
		if outer != nil {
			outer()
		}
	}
}

// runContext returns the run context of the attempt, making it once.
func (c *taskCtx) runContext() *Context {
	if rc := c.rc.Load(); rc != nil {
		return rc
	}
	rc := c.d.newContext(&c.d.g.Tasks[c.node], int(c.child), int(c.runCount), nil)
	if c.rc.CompareAndSwap(nil, rc) {
		return rc
	}
	return c.rc.Load()
}

// safeExecute runs one attempt here: begin, the call, end, with a last line
// of defence: user code also runs outside the task function (a result's
// MarshalJSON, a result store, a clock, a state handler), and a panic there
// must fail the task run, not crash the process.
func (d *driver) safeExecute(tr *TaskRun) {
	defer d.recoverRun(tr)
	if d.begin(tr) {
		out, timedOut, err := d.call(tr)
		d.end(tr, out, timedOut, err)
	}
}

// safeBegin is begin for a run called elsewhere, failing the run on a panic.
func (d *driver) safeBegin(tr *TaskRun) (call bool) {
	defer func() {
		if p := recover(); p != nil {
			d.panicked(tr, p)
			call = false
		}
	}()
	return d.begin(tr)
}

// safeEnd is end for a run called elsewhere, failing the run on a panic.
func (d *driver) safeEnd(tr *TaskRun, out any, timedOut bool, err error) {
	defer d.recoverRun(tr)
	d.end(tr, out, timedOut, err)
}

// recoverRun, deferred, fails the run on a panic.
func (d *driver) recoverRun(tr *TaskRun) {
	if p := recover(); p != nil {
		d.panicked(tr, p)
	}
}

func (d *driver) panicked(tr *TaskRun, p any) {
	err := d.newPanic(p)
	tr.state = state.State{Kind: state.Failed, Message: state.ErrorMessage(err), Err: err, RunCount: tr.state.RunCount}
}

// begin does what comes before an attempt's call: the cancellation and
// cache checks, and the move to Running through the state handlers and the
// reporter. It returns whether the task's function is to be called; when
// not, the run's next state is in tr.state. States are written in place:
// they are large enough that copies show in the cost of a no-op task.
func (d *driver) begin(tr *TaskRun) bool {
	spec := tr.gt.Spec
	prevRuns := tr.state.RunCount
	tc := tr.tc
	runCount := int(tc.runCount)
	if spec.RunName != "" {
		// The template may name inputs, which are only valid during the run.
		tc.rc.Store(d.newContext(tr.gt, int(tr.child), runCount, tr.args))
	}
	ctx := context.Context(tc)
	select {
	case <-d.ctxDone:
		// Queued before the run was cancelled: never start it.
		tr.state = state.State{Kind: state.Cancelled, Message: state.MsgNotStarted, RunCount: prevRuns, Err: tr.state.Err}
		return false
	default:
	}
	handlers := len(spec.StateHandlers) > 0
	if spec.CacheFor > 0 && prevRuns == 0 {
		if st, ok := d.readCache(ctx, tr); ok {
			st.RunCount = prevRuns
			st = d.store(ctx, tr, st, false)
			if handlers {
				st = d.transition(ctx, spec, tr.state, st)
			}
			tr.state = st
			return false
		}
	}
	if handlers {
		tr.running = d.transition(ctx, spec, tr.state, state.State{Kind: state.Running, RunCount: runCount})
		if tr.running.Kind != state.Running {
			tr.state = tr.running
			return false
		}
	}
	if d.logInfo {
		tc.runContext().Logger().Info("Task '" + taskFullName(tr.gt, int(tr.child)) + "': Starting task run...")
	}
	if d.rep != nil {
		if handlers {
			d.rep.task(int(tr.node), int(tr.child), &tr.running)
		} else {
			running := state.State{Kind: state.Running, RunCount: runCount}
			d.rep.task(int(tr.node), int(tr.child), &running)
		}
	}
	return true
}

// end finishes an attempt from what the task's function returned, here or
// elsewhere, leaving the run's next state in tr.state: the choice of that
// state (cancelled, timed out, succeeded, a signal, a failure, each subject
// to retries), checkpoint and cache writes, and the state handlers.
// timedOut is set when a local call ran past the task's timeout; an err
// matching ErrTimedOut says the same of a call made elsewhere.
func (d *driver) end(tr *TaskRun, out any, timedOut bool, err error) {
	spec := tr.gt.Spec
	runCount := int(tr.tc.runCount)
	ctx := context.Context(tr.tc)
	if err != nil {
		// The panic value reaches users through errors.As: hide secrets
		// in it, now and as they come.
		var pe *PanicError
		if errors.As(err, &pe) {
			d.guardPanic(pe)
		}
		timedOut = timedOut || errors.Is(err, ErrTimedOut)
	}
	switch {
	case err != nil && d.ctx.Err() != nil:
		tr.state = state.State{Kind: state.Cancelled, Message: state.MsgTaskCancelled, Err: err}
	case timedOut && d.ctx.Err() == nil:
		if err == nil {
			err = context.DeadlineExceeded
		}
		tr.state = d.retryOrFail(runCount, tr.gt, state.State{Kind: state.TimedOut, Message: state.MsgTimedOut, Err: err})
	case err == nil:
		tr.state = state.State{Kind: state.Success, Message: state.MsgTaskSucceeded, Result: out}
	default:
		// Prefect logs the exception (with its traceback) when a task
		// raises one, not when it signals a state. The handler masks err.
		if _, signal := task.AsSignal(err); !signal && d.o.logger.Enabled(ctx, slog.LevelError) {
			tr.tc.runContext().Logger().Error("Task '"+taskFullName(tr.gt, int(tr.child))+"': Exception encountered during task execution!", "err", err)
		}
		tr.state = d.stateOf(runCount, tr.gt, out, err)
	}
	tr.state.RunCount = runCount
	if tr.state.Kind == state.Success && (spec.CacheFor > 0 || spec.Checkpoints(d.o.checkpoint)) {
		tr.state = d.store(ctx, tr, tr.state, true)
	}
	if len(spec.StateHandlers) > 0 {
		tr.state = d.transition(ctx, spec, tr.running, tr.state)
	}
}

// newContext makes the run context a task run's function and state handlers see.
func (d *driver) newContext(gt *flow.GraphTask, child, runCount int, args []any) *Context {
	rc := &Context{
		FlowName: d.g.Name, FlowRunID: d.o.flowRunID, FlowRunName: d.o.flowRunName,
		TaskName: gt.Spec.Name, TaskSlug: gt.Slug, TaskRunName: gt.Slug,
		TaskRunCount: runCount, MapIndex: child,
		Parameters: d.params, ScheduledStartTime: d.o.scheduled, logger: d.o.logger,
		Resumed: d.o.resume[gt.Slug],
	}
	if child >= 0 {
		rc.TaskRunName = gt.Slug + "[" + strconv.Itoa(child) + "]"
	}
	if gt.Spec.RunName != "" {
		rc.TaskRunName = renderRunName(gt.Spec.RunName, gt.Spec, args, rc)
		if d.masker != nil {
			rc.TaskRunName = d.masker.Redact(rc.TaskRunName)
		}
	}
	return rc
}

// settle passes a state the runner decided without calling the task (a
// skip, a failed trigger, a pause) through the task's state handlers.
func (d *driver) settle(gt *flow.GraphTask, child int, st state.State) state.State {
	if len(gt.Spec.StateHandlers) == 0 {
		return st
	}
	rc := d.newContext(gt, child, 0, nil)
	ctx := context.WithValue(d.ctx, ctxKey{}, rc)
	return d.transition(ctx, gt.Spec, state.New(state.Pending, ""), st)
}

// call runs the task's function here under its timeout, and returns what
// it returned and whether it ran past the timeout.
func (d *driver) call(tr *TaskRun) (out any, timedOut bool, err error) {
	timeout := d.settings(tr.gt).Timeout
	ctx := context.Context(tr.tc)
	callCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out, err = safeCall(callCtx, tr.gt.Task, tr.args)
	timedOut = timeout > 0 && callCtx.Err() != nil && ctx.Err() == nil
	return out, timedOut, err
}

// stateOf returns the state for a task function that returned err: the
// state a signal asks for, or Failed, each subject to retries.
func (d *driver) stateOf(runCount int, gt *flow.GraphTask, out any, err error) state.State {
	if sig, ok := task.AsSignal(err); ok {
		s := state.State{Kind: sig.Kind, Message: sig.Message}
		switch sig.Kind {
		case state.Success:
			s.Result = out
		case state.Failed:
			s.Err = err
			return d.retryOrFail(runCount, gt, s)
		case state.Retrying:
			s.StartTime = d.o.clock.Now().Add(d.settings(gt).RetryDelay)
		case state.Skipped, state.Paused:
		default:
			err = fmt.Errorf("the task returned a signal for state %v; the valid signals are task.Fail, task.Skip, task.Retry, task.Succeed and task.Pause", sig.Kind)
			return state.State{Kind: state.Failed, Message: state.ErrorMessage(err), Err: err}
		}
		return s
	}
	return d.retryOrFail(runCount, gt, state.State{Kind: state.Failed, Message: state.ErrorMessage(err), Err: err})
}

// retryOrFail turns a failure into Retrying while the task has retries left.
func (d *driver) retryOrFail(runCount int, gt *flow.GraphTask, failed state.State) state.State {
	set := d.settings(gt)
	if runCount > set.MaxRetries {
		return failed
	}
	return state.State{
		Kind:      state.Retrying,
		Message:   state.RetryMessage(runCount, set.MaxRetries+1),
		Err:       failed.Err,
		StartTime: d.o.clock.Now().Add(set.RetryDelay),
	}
}

// safeCall calls the task, turning a panic into a *PanicError.
func safeCall(ctx context.Context, r task.Runnable, args []any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return r.Call(ctx, args)
}

// transition moves a task run from old to new through the task's state
// handlers, and returns the state the handlers settled on. A panicking
// handler fails the run.
func (d *driver) transition(ctx context.Context, spec *task.Spec, old, new state.State) (st state.State) {
	if len(spec.StateHandlers) == 0 {
		return new
	}
	// Handlers are user code that may log or send what they see: they see
	// states with the run's secrets hidden.
	d.redact(&old)
	d.redact(&new)
	defer func() {
		if p := recover(); p != nil {
			err := d.newPanic(p)
			st = state.State{Kind: state.Failed, Message: "Exception raised while calling state handlers: " + err.Error(), Err: err, RunCount: new.RunCount}
		}
	}()
	st = new
	for _, h := range spec.StateHandlers {
		st = h(ctx, old, st)
	}
	return st
}

// renderRunName fills a task run name template from inputs and run context.
func renderRunName(tmpl string, spec *task.Spec, args []any, rc *Context) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(tmpl[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(tmpl[:open])
		key := tmpl[open+1 : open+end]
		b.WriteString(runNameField(key, spec, args, rc))
		tmpl = tmpl[open+end+1:]
	}
	b.WriteString(tmpl)
	return b.String()
}

func runNameField(key string, spec *task.Spec, args []any, rc *Context) string {
	for i, in := range spec.Inputs {
		if in.Name == key && i < len(args) {
			return fmt.Sprint(args[i])
		}
	}
	switch key {
	case "map_index":
		return strconv.Itoa(rc.MapIndex)
	case "task_run_count":
		return strconv.Itoa(rc.TaskRunCount)
	case "task_name":
		return rc.TaskName
	case "task_slug":
		return rc.TaskSlug
	case "flow_name":
		return rc.FlowName
	case "flow_run_name":
		return rc.FlowRunName
	case "today":
		return rc.Today()
	}
	return "{" + key + "}"
}

// location returns where a task run's checkpoint goes.
func (d *driver) location(tr *TaskRun) string {
	loc := url.PathEscape(d.g.Name) + "/" + d.o.flowRunID.String() + "/" + url.PathEscape(tr.gt.Slug)
	if tr.child >= 0 {
		loc += "/" + strconv.Itoa(int(tr.child))
	}
	return loc + ".json"
}

// cacheLocation returns where a task run's cache entry goes.
func (d *driver) cacheLocation(tr *TaskRun) string {
	key := tr.gt.Spec.CacheKey
	if key == "" {
		key = d.g.Name + "/" + tr.gt.Slug
	}
	loc := "cache/" + url.PathEscape(key)
	if tr.child >= 0 {
		loc += "/" + strconv.Itoa(int(tr.child))
	}
	return loc + ".json"
}

type cacheEntry struct {
	Expires time.Time       `json:"expires"`
	Result  json.RawMessage `json:"result"`
}

// store writes a successful result where the task and the run ask for it:
// the checkpoint, and the cache entry of a cached task.
// A cache hit is checkpointed too but leaves its cache entry (and its
// expiry) as it was: writeCache is false then.
func (d *driver) store(ctx context.Context, tr *TaskRun, st state.State, writeCache bool) state.State {
	spec := tr.gt.Spec
	checkpoint := spec.Checkpoints(d.o.checkpoint)
	if spec.Secret || ((tr.gt.FromSecret || d.tainted(int(tr.node))) && (spec.Checkpoint == nil || !*spec.Checkpoint)) {
		// A secret, or a result computed from one (downstream of a secret
		// task, or of a task that fetched a secret itself, or fetching one),
		// is stored only when the task asks for it explicitly (and a secret
		// task never may).
		return st
	}
	writeCache = writeCache && spec.CacheFor > 0
	if !checkpoint && !writeCache {
		return st
	}
	data, err := json.Marshal(st.Result)
	if err != nil {
		err = fmt.Errorf("encoding the result of task %q as JSON: %w", tr.gt.Slug, err)
		return state.State{Kind: state.Failed, Message: state.ErrorMessage(err), Err: err, RunCount: st.RunCount}
	}
	if (spec.Checkpoint == nil || !*spec.Checkpoint) && d.masker != nil && d.masker.Contains(string(data)) {
		// The result holds a secret the task fetched itself: store nothing
		// unless the task asked for it explicitly.
		return st
	}
	if checkpoint {
		loc := d.location(tr)
		if err := d.o.store.Write(ctx, loc, data); err != nil {
			return state.State{Kind: state.Failed, Message: state.ErrorMessage(err), Err: err, RunCount: st.RunCount}
		}
		st.Location = loc
	}
	if writeCache {
		entry, err := json.Marshal(cacheEntry{Expires: d.o.clock.Now().Add(spec.CacheFor), Result: data})
		if err == nil {
			err = d.o.store.Write(ctx, d.cacheLocation(tr), entry)
		}
		if err != nil {
			rc, _ := FromContext(ctx)
			rc.Logger().Warn("Task '"+tr.gt.Slug+"': could not write its cache entry", slog.String("error", err.Error()))
		}
	}
	return st
}

// readCache returns the Cached state of a task run whose cache entry is
// still valid.
func (d *driver) readCache(ctx context.Context, tr *TaskRun) (state.State, bool) {
	data, err := d.o.store.Read(ctx, d.cacheLocation(tr))
	if err != nil {
		return state.State{}, false
	}
	var entry cacheEntry
	if json.Unmarshal(data, &entry) != nil || !d.o.clock.Now().Before(entry.Expires) {
		return state.State{}, false
	}
	v, err := decode(entry.Result, tr.gt.Spec.Output)
	if err != nil {
		return state.State{}, false
	}
	return state.State{Kind: state.Cached, Message: state.MsgCachedResult, Result: v}, true
}

// restore returns a given finished state with its result, read back from
// the result store when the state carries only a location.
//
// A Mapped state is rebuilt from its children, each read back from its own
// location. When a result cannot be read, restore returns false and the task
// runs again.
func (d *driver) restore(gt *flow.GraphTask, st state.State) (state.State, bool) {
	if st.Result != nil || !st.IsSuccessful() {
		return st, true
	}
	if gt.Mapped && st.Kind == state.Mapped && st.Location == "" {
		m := &mapping{states: make([]state.State, len(st.Children))}
		for j, c := range st.Children {
			if c.Result == nil && c.Location != "" {
				v, ok := d.readResult(gt, c.Location, gt.Spec.Output)
				if !ok {
					return st, false
				}
				c.Result = v
			}
			m.states[j] = c
		}
		return d.mappedState(gt, m), true
	}
	if st.Location == "" {
		return st, true
	}
	t := gt.Spec.Output
	if gt.Mapped {
		t = reflect.SliceOf(t)
	}
	v, ok := d.readResult(gt, st.Location, t)
	st.Result = v
	return st, ok
}

// readResult reads and decodes a checkpointed result of type t.
func (d *driver) readResult(gt *flow.GraphTask, location string, t reflect.Type) (any, bool) {
	data, err := d.o.store.Read(d.ctx, location)
	if err == nil {
		var v any
		if v, err = decode(data, t); err == nil {
			return v, true
		}
	}
	d.log(slog.LevelWarn, "Task '"+gt.Slug+"': its result could not be read back; running it again",
		slog.String("location", location), slog.String("error", err.Error()))
	return nil, false
}

func decode(data []byte, t reflect.Type) (any, error) {
	if t == nil {
		return nil, errors.New("the task's result type is unknown")
	}
	p := reflect.New(t)
	if err := json.Unmarshal(data, p.Interface()); err != nil {
		return nil, err
	}
	return p.Elem().Interface(), nil
}

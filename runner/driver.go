package runner

import (
	"container/heap"
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// item is one entry of the ready queue: a task or a child of a mapped task.
// It holds no pointer, so the queue costs the garbage collector nothing.
type item struct {
	node  int32
	child int32 // -1 unless a mapped child
}

// parked is a ready task run waiting for a tag limit; tr is set when the run
// already exists (a retry).
type parked struct {
	it item
	tr *TaskRun
}

// mapping is the bookkeeping of one mapped task's children.
type mapping struct {
	lists   [][]any // per input edge: the elements mapped over, or nil
	states  []state.State
	pending int
	prior   []state.State // children's states from an earlier run, reused when successful
}

// driver owns every piece of a run's bookkeeping. Only the goroutine that
// called Run touches it; executors hand finished task runs back through done.
type driver struct {
	ctx     context.Context
	g       *flow.Graph
	o       *options
	params  map[string]any
	sess    Session
	slots   int
	done    chan *TaskRun
	states  []state.State
	indeg   []int32
	maps    map[int32]*mapping
	ready   queue
	delayed retryHeap
	// remaining counts tasks without a final state; inflight counts task
	// runs submitted and not yet back.
	remaining, inflight int
	tagCount            map[string]int
	tagWait             map[string][]parked
	tagsOf              map[*flow.GraphTask][]string
	// rerun holds task runs ready to run again: retries that are due.
	rerun     []*TaskRun
	scratch   []state.State
	cancelled bool
	fs        *FlowState
	// inline is set for the Local executor: task runs execute on this
	// goroutine and complete without a channel. recycle is set for the
	// runner's own executors, which never touch a TaskRun handed back:
	// finished TaskRuns are reused.
	inline, recycle bool
	// ctxDone is ctx.Done(), read once; logInfo and logDebug say whether
	// the logger wants those levels, asked once per run.
	ctxDone           <-chan struct{}
	logInfo, logDebug bool
	// defaults are the run's task defaults (tasks.defaults); hasDefaults
	// says they set anything, so that most runs never look at them.
	defaults    task.Defaults
	hasDefaults bool
	// free holds finished TaskRuns for reuse; ctxSlab is where task
	// contexts come from.
	free    []*TaskRun
	ctxSlab []taskCtx
	// masker hides the run's secrets in states, errors and run names.
	masker *redact.Masker
	// prefilled holds the states of secret tasks resolved before the run
	// started (WithResolveSecretsFirst).
	prefilled map[int]state.State
	// unfinished counts tasks and mapped children that ended the run
	// without a final state (paused, or waiting on a paused task).
	unfinished int
	// rep is the run's Reporter side, nil without one (WithReporter).
	rep *reporting
	// outer is the context Run was given, where a run inside a task finds
	// the secrets.OnUse hook of the task that runs it.
	outer context.Context
	// taints marks the tasks whose results may hold a secret the graph does
	// not know of (see taint); nil until a task is handed a secret.
	taints atomic.Pointer[taintSet]
	// panics holds every PanicError the run handed out, to hide the
	// secrets resolved after them when the run ends (hidePanics).
	panicMu sync.Mutex
	panics  []*PanicError
}

// taintSet holds one flag per task of the graph.
type taintSet struct{ flags []atomic.Bool }

// taint marks task i as handed a secret's value while it ran here: a task
// that resolves one itself (secrets.Secret(...).Get, secrets.Get) or
// registers one (secrets.Mask), which its task context's secrets.OnUse
// hook reports. Its result, and those of the tasks downstream of it (see
// finish), may hold the secret: they are treated like those of tasks
// downstream of a secret task (flow.GraphTask.FromSecret), which are not
// checkpointed or cached unless they ask, and which an executor must run
// here (TaskRun.FromSecret).
//
// The mark is the task's, not the attempt's: once an attempt of it (a
// mapped child, a retry) was handed a secret, every attempt of the task
// that finishes afterwards, and every later retry, counts as tainted, since
// a task commonly fetches once and reuses the value (a sync.Once across
// children, a variable across retries). Results stored before the mark
// stay stored: they were computed before the task had the value from the
// run. Any goroutine may call taint; the set is made on first use, so a
// run in which no task fetches a secret pays nothing.
func (d *driver) taint(i int) {
	ts := d.taints.Load()
	if ts == nil {
		ts = &taintSet{flags: make([]atomic.Bool, len(d.g.Tasks))}
		if !d.taints.CompareAndSwap(nil, ts) {
			ts = d.taints.Load()
		}
	}
	ts.flags[i].Store(true)
}

// tainted reports whether task i is marked by taint.
func (d *driver) tainted(i int) bool {
	ts := d.taints.Load()
	return ts != nil && ts.flags[i].Load()
}

func newDriver(ctx context.Context, g *flow.Graph, o *options, params map[string]any, sess Session) *driver {
	slots := max(sess.Slots(), 1)
	if o.concurrency > 0 {
		slots = min(slots, o.concurrency)
	}
	d := &driver{
		ctx: ctx, g: g, o: o, params: params, sess: sess, slots: slots,
		done:      make(chan *TaskRun, slots),
		states:    make([]state.State, len(g.Tasks)),
		indeg:     make([]int32, len(g.Tasks)),
		remaining: len(g.Tasks),
	}
	if len(o.tagLimits) > 0 {
		d.tagCount, d.tagWait, d.tagsOf = map[string]int{}, map[string][]parked{}, map[*flow.GraphTask][]string{}
	}
	_, d.inline = sess.(localSession)
	_, parallel := sess.(*parallelSession)
	d.recycle = d.inline || parallel
	d.ctxDone = ctx.Done()
	d.logInfo = o.logger.Enabled(ctx, slog.LevelInfo)
	d.logDebug = o.logger.Enabled(ctx, slog.LevelDebug)
	d.fs = &FlowState{FlowName: g.Name, FlowRunID: o.flowRunID, FlowRunName: o.flowRunName, Graph: g, Tasks: d.states}
	return d
}

func (d *driver) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if !d.logInfo && level < slog.LevelError && !d.o.logger.Enabled(d.ctx, level) {
		return
	}
	attrs = append(attrs, slog.Group("flow_run",
		slog.String("flow_name", d.g.Name),
		slog.String("flow_run_id", d.o.flowRunID.String()),
		slog.String("flow_run_name", d.o.flowRunName)))
	d.o.logger.LogAttrs(d.ctx, level, msg, attrs...)
}

func (d *driver) run() *FlowState {
	if d.rep != nil {
		d.rep.flow(state.New(state.Running, ""))
		d.reportPending()
	}
	d.log(slog.LevelInfo, "Beginning Flow run for '"+d.g.Name+"'")
	for i := range d.g.Tasks {
		d.indeg[i] = int32(len(d.g.Tasks[i].Upstream))
		if d.indeg[i] == 0 {
			d.ready.push(item{node: int32(i), child: -1})
		}
	}
	// due fires when the earliest waiting retry is due; it is made again
	// only when that time changes, not on every completion.
	var due <-chan time.Time
	var dueAt time.Time
	for d.remaining > 0 && !d.cancelled {
		d.dispatch()
		if d.remaining == 0 {
			break
		}
		if len(d.delayed) == 0 {
			due = nil
		} else if next := d.delayed[0].state.StartTime; due == nil || !next.Equal(dueAt) {
			wait := next.Sub(d.o.clock.Now())
			if wait <= 0 {
				d.promoteDue()
				continue
			}
			due, dueAt = d.o.clock.After(wait), next
		}
		if d.inflight == 0 && due == nil {
			// Nothing runs and nothing waits, yet tasks remain: the
			// bookkeeping is wrong. Stop rather than wait forever.
			break
		}
		select {
		case tr := <-d.done:
			d.complete(tr)
			d.drain()
		case <-due:
			due = nil
			d.promoteDue()
		case <-d.ctxDone:
			d.cancelled = true
		}
	}
	if !d.cancelled && d.ctx.Err() != nil && d.anyCancelled() {
		// Cancelled while its last tasks ran: a cancelled run all the same.
		d.cancelled = true
	}
	if d.cancelled {
		d.cancel()
	}
	d.hidePanics()
	d.fs.State = d.final()
	switch {
	case d.fs.IsSuccessful():
		d.log(slog.LevelInfo, "Flow run SUCCESS: all reference tasks succeeded")
	case d.fs.Kind == state.Failed && d.fs.Message == state.MsgFlowFailed:
		d.log(slog.LevelInfo, "Flow run FAILED: some reference tasks failed.")
	default:
		d.log(slog.LevelInfo, "Flow run "+strings.ToUpper(d.fs.Kind.String())+": "+d.fs.Message)
	}
	if d.rep != nil {
		d.rep.flow(d.fs.State)
	}
	return d.fs
}

// drain takes back every task run that has already finished, so that one
// wake-up of the driver serves many completions.
func (d *driver) drain() {
	for {
		select {
		case tr := <-d.done:
			d.complete(tr)
		default:
			return
		}
	}
}

// dispatch submits ready task runs while there are free slots, settling on
// the spot the tasks that need no run (parameters, given states, failed
// triggers, skips).
func (d *driver) dispatch() {
	for d.inflight < d.slots && (len(d.rerun) > 0 || !d.ready.empty()) {
		select {
		case <-d.ctxDone:
			d.cancelled = true
			return
		default:
		}
		if k := len(d.rerun); k > 0 {
			tr := d.rerun[0]
			d.rerun = d.rerun[1:]
			d.submit(item{node: tr.node, child: tr.child}, tr)
			continue
		}
		it := d.ready.pop()
		if it.child >= 0 {
			d.startChild(it)
			continue
		}
		d.startTask(int(it.node))
	}
}

func (d *driver) startTask(i int) {
	gt := &d.g.Tasks[i]
	if gt.Param != nil {
		// A parameter always takes this run's value, also on a restart.
		d.finish(i, state.State{Kind: state.Success, Message: state.MsgTaskSucceeded, Result: d.params[gt.Param.Name]})
		return
	}
	if st, ok := d.prefilled[i]; ok {
		d.finish(i, st)
		return
	}
	var prior []state.State
	// A secret task always runs again, so its value is fetched fresh.
	if st, ok := d.given(gt); ok && st.IsFinished() && !gt.Spec.Secret {
		if gt.Mapped && len(st.Children) > 0 && !allSuccessful(st.Children) {
			prior = st.Children // rerun the children that did not succeed
		} else if st, ok := d.restore(gt, st); ok {
			if d.rep != nil {
				d.reportKept(i, st.Children)
			}
			d.finish(i, st)
			return
		}
	}
	if !gt.Mapped && d.plainSuccess(gt) {
		d.submit(item{node: int32(i), child: -1}, nil)
		return
	}
	up := d.upstreamStates(i, -1)
	if st, ok := d.precheck(gt, up); !ok {
		d.finish(i, d.settle(gt, -1, st))
		return
	}
	if gt.Mapped {
		d.startMapping(i, prior)
		return
	}
	if st, ok := d.checkTrigger(gt, up); !ok {
		d.finish(i, d.settle(gt, -1, st))
		return
	}
	d.submit(item{node: int32(i), child: -1}, nil)
}

// plainSuccess reports whether every upstream task of gt ended Success or
// Cached and gt has the default trigger: the common case, which needs
// neither the upstream states gathered nor the trigger called.
func (d *driver) plainSuccess(gt *flow.GraphTask) bool {
	if !gt.Spec.Trigger.IsAllSuccessful() {
		return false
	}
	for _, u := range gt.Upstream {
		if k := d.states[u].Kind; k != state.Success && k != state.Cached {
			return false
		}
	}
	return true
}

func (d *driver) given(gt *flow.GraphTask) (state.State, bool) {
	if d.o.given == nil {
		return state.State{}, false
	}
	st, ok := d.o.given[gt.Slug]
	return st, ok
}

// precheck applies the checks before a trigger: upstream tasks not finished
// (paused) keep the task Pending; a skipped upstream skips it.
func (d *driver) precheck(gt *flow.GraphTask, up []state.State) (state.State, bool) {
	for _, s := range up {
		if !s.IsFinished() {
			return state.New(state.Pending, state.MsgWaitingOnPaused), false
		}
	}
	if gt.Spec.SkipOnUpstreamSkip {
		for _, s := range up {
			if s.IsSkipped() {
				return state.New(state.Skipped, state.MsgUpstreamSkipped), false
			}
		}
	}
	return state.State{}, true
}

func (d *driver) checkTrigger(gt *flow.GraphTask, up []state.State) (st state.State, ok bool) {
	if d.o.resume[gt.Slug] && gt.Spec.Trigger.Name() == task.ManualOnly.Name() {
		return state.State{}, true
	}
	var err error
	defer func() {
		if p := recover(); p != nil {
			perr := d.newPanic(p)
			st, ok = state.State{Kind: state.TriggerFailed, Message: "Trigger " + strconv.Quote(gt.Spec.Trigger.Name()) + " panicked: " + perr.Error(), Err: perr}, false
		}
	}()
	if gt.Spec.Trigger.IsAllSuccessful() {
		for _, s := range up {
			if !s.IsSuccessful() {
				err = task.AllSuccessful.Check(up)
				break
			}
		}
	} else {
		err = gt.Spec.Trigger.Check(up)
	}
	if err == nil {
		return state.State{}, true
	}
	if sig, ok := task.AsSignal(err); ok {
		if sig.Kind == state.Paused && d.o.resume[gt.Slug] {
			return state.State{}, true
		}
		return state.New(sig.Kind, sig.Message), false
	}
	return state.State{Kind: state.TriggerFailed, Message: err.Error(), Err: err}, false
}

// upstreamStates returns the states a task's (or a mapped child's) trigger
// sees: a mapped upstream counts as its children, except over a mapped (not
// flattened) edge, where child j sees only the upstream's child j and the
// mapped parent itself sees the upstream's Mapped state.
func (d *driver) upstreamStates(i, child int) []state.State {
	up := d.scratch[:0]
	gt := &d.g.Tasks[i]
	for _, u := range gt.Upstream {
		us := d.states[u]
		if us.Kind == state.Mapped {
			switch {
			case !mappedEdge(gt, u):
				up = append(up, us.Children...)
			case child < 0:
				up = append(up, us) // each child decides on its own upstream child
			case child < len(us.Children):
				up = append(up, us.Children[child])
			}
			continue
		}
		up = append(up, us)
	}
	d.scratch = up
	return up
}

func mappedEdge(gt *flow.GraphTask, from int) bool {
	for _, e := range gt.Inputs {
		if e.From == from && e.Mapped && !e.Flatten {
			return true
		}
	}
	return false
}

// startMapping expands a mapped task into its children, one per element of
// its shortest mapped input.
func (d *driver) startMapping(i int, prior []state.State) {
	gt := &d.g.Tasks[i]
	m := &mapping{lists: make([][]any, len(gt.Inputs)), prior: prior}
	n := -1
	for k, e := range gt.Inputs {
		if !e.Mapped {
			continue
		}
		src := e.Value
		if e.From >= 0 {
			us := d.states[e.From]
			if !us.IsSuccessful() || us.IsSkipped() {
				d.finish(i, d.settle(gt, -1, state.New(state.TriggerFailed, "An upstream task mapped over did not succeed; there is nothing to map over.")))
				return
			}
			src = us.Result
		}
		list, err := toList(src, e.Flatten)
		if err != nil {
			d.finish(i, d.settle(gt, -1, state.State{Kind: state.Failed, Message: state.ErrorMessage(err), Err: err}))
			return
		}
		m.lists[k] = list
		if n < 0 || len(list) < n {
			n = len(list)
		}
	}
	m.states = make([]state.State, n)
	m.pending = n
	if n == 0 {
		d.finish(i, d.mappedState(gt, m))
		return
	}
	if d.maps == nil {
		d.maps = map[int32]*mapping{}
	}
	d.maps[int32(i)] = m
	d.states[i] = state.New(state.Running, state.MsgMapped)
	if d.rep != nil {
		d.rep.task(i, -1, &d.states[i])
		pending := state.New(state.Pending, "")
		for j := range n {
			d.rep.task(i, j, &pending)
		}
	}
	for j := range n {
		d.ready.push(item{node: int32(i), child: int32(j)})
	}
}

func (d *driver) startChild(it item) {
	i, j := int(it.node), int(it.child)
	gt := &d.g.Tasks[i]
	if m := d.maps[it.node]; j < len(m.prior) && m.prior[j].IsSuccessful() {
		d.finishChild(i, j, m.prior[j])
		return
	}
	up := d.upstreamStates(i, j)
	st, ok := d.precheck(gt, up)
	if ok {
		st, ok = d.checkTrigger(gt, up)
	}
	if !ok {
		d.finishChild(i, j, d.settle(gt, j, st))
		return
	}
	d.submit(it, nil)
}

// submit hands a task run to the executor, or parks it while a tag it
// carries is at its limit.
func (d *driver) submit(it item, tr *TaskRun) {
	gt := &d.g.Tasks[it.node]
	if d.tagCount != nil {
		for _, tag := range d.limitedTags(gt) {
			if d.tagCount[tag] >= d.o.tagLimits[tag] {
				d.tagWait[tag] = append(d.tagWait[tag], parked{it, tr})
				return
			}
		}
		for _, tag := range d.limitedTags(gt) {
			d.tagCount[tag]++
		}
	}
	if tr == nil {
		tr = d.newTaskRun(it)
	}
	d.attempt(tr)
	tr.phase.Store(runSubmitted)
	d.inflight++
	d.sess.Submit(tr)
}

// limitedTags returns the task's tags that have a limit in this run, each
// once.
func (d *driver) limitedTags(gt *flow.GraphTask) []string {
	if cached, ok := d.tagsOf[gt]; ok {
		return cached
	}
	var tags []string
	for _, tag := range gt.Spec.Tags {
		if _, limited := d.o.tagLimits[tag]; limited && !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	d.tagsOf[gt] = tags
	return tags
}

// attempt gives a task run the context of its next attempt.
func (d *driver) attempt(tr *TaskRun) {
	tc := d.newTaskCtx()
	tc.d, tc.node, tc.child, tc.runCount = d, tr.node, tr.child, int32(tr.state.RunCount+1)
	tr.tc = tc
}

// newTaskCtx returns a fresh context for one attempt of a task run. Contexts
// are carved from slabs, one allocation per ctxSlabSize attempts, and never
// reused: a task may keep its context after it returns.
func (d *driver) newTaskCtx() *taskCtx {
	if len(d.ctxSlab) == 0 {
		d.ctxSlab = make([]taskCtx, ctxSlabSize)
	}
	tc := &d.ctxSlab[0]
	d.ctxSlab = d.ctxSlab[1:]
	return tc
}

const ctxSlabSize = 64

// newTaskRun gathers a task run's inputs from its bindings and upstream results.
func (d *driver) newTaskRun(it item) *TaskRun {
	gt := &d.g.Tasks[it.node]
	var m *mapping
	if it.child >= 0 {
		m = d.maps[it.node]
	}
	var tr *TaskRun
	if k := len(d.free); k > 0 {
		tr, d.free = d.free[k-1], d.free[:k-1]
		tr.gt, tr.node, tr.child = gt, it.node, it.child
	} else {
		tr = &TaskRun{d: d, gt: gt, node: it.node, child: it.child}
	}
	if n := len(gt.Spec.Inputs); n <= len(tr.argBuf) {
		tr.args = tr.argBuf[:n:n]
	} else {
		tr.args = make([]any, n)
	}
	args := tr.args
	for k, e := range gt.Inputs {
		switch {
		case e.Mapped:
			args[e.Index] = m.lists[k][it.child]
		case e.From >= 0:
			args[e.Index] = d.states[e.From].Result
		default:
			args[e.Index] = e.Value
		}
	}
	return tr
}

// complete takes back a task run the executor finished.
func (d *driver) complete(tr *TaskRun) {
	d.inflight--
	if d.tagCount != nil {
		for _, tag := range d.limitedTags(tr.gt) {
			d.tagCount[tag]--
			// Every waiter gets another look: one that parks again on
			// another full tag must not leave this tag's free slot idle.
			for _, w := range d.tagWait[tag] {
				if w.tr != nil {
					d.rerun = append(d.rerun, w.tr)
				} else {
					d.ready.push(w.it)
				}
			}
			d.tagWait[tag] = d.tagWait[tag][:0]
		}
	}
	if tr.state.Kind == state.Retrying {
		d.redact(&tr.state)
		if tr.child >= 0 {
			d.maps[int32(tr.node)].states[tr.child] = tr.state
		} else {
			d.states[tr.node] = tr.state
		}
		d.logTask(tr.gt, int(tr.child), &tr.state)
		if d.rep != nil {
			d.rep.task(int(tr.node), int(tr.child), &tr.state)
		}
		heap.Push(&d.delayed, tr)
		return
	}
	if tr.child >= 0 {
		d.finishChild(int(tr.node), int(tr.child), tr.state)
	} else {
		d.finish(int(tr.node), tr.state)
	}
	clear(tr.argBuf[:])
	tr.args, tr.state, tr.tc = nil, state.State{}, nil
	if len(tr.gt.Spec.StateHandlers) > 0 {
		tr.running = state.State{}
	}
	if d.recycle {
		d.free = append(d.free, tr)
	}
}

func (d *driver) promoteDue() {
	now := d.o.clock.Now()
	for len(d.delayed) > 0 && !d.delayed[0].state.StartTime.After(now) {
		tr := heap.Pop(&d.delayed).(*TaskRun)
		d.rerun = append(d.rerun, tr)
	}
}

func (d *driver) finishChild(i, j int, st state.State) {
	d.register(i, st.Result)
	d.redact(&st)
	m := d.maps[int32(i)]
	m.states[j] = st
	if !st.IsFinished() {
		d.unfinished++
	}
	d.logTask(&d.g.Tasks[i], j, &st)
	if d.rep != nil {
		d.rep.task(i, j, &st)
	}
	if m.pending--; m.pending == 0 {
		delete(d.maps, int32(i))
		d.finish(i, d.mappedState(&d.g.Tasks[i], m))
	}
}

// mappedState is the parent state of a finished mapping: Mapped, with the
// children's states and the list of their results.
//
// A mapping cut short by a cancellation ends Cancelled, whichever way the
// race between the last children and the cancellation went.
func (d *driver) mappedState(gt *flow.GraphTask, m *mapping) state.State {
	list := reflect.MakeSlice(reflect.SliceOf(gt.Spec.Output), len(m.states), len(m.states))
	for j, cs := range m.states {
		if cs.Result != nil {
			if rv := reflect.ValueOf(cs.Result); rv.Type().AssignableTo(gt.Spec.Output) {
				list.Index(j).Set(rv)
			}
		}
	}
	for _, cs := range m.states {
		if cs.IsCancelled() {
			return state.State{Kind: state.Cancelled, Message: state.MsgTaskCancelled, Result: list.Interface(), Children: m.states}
		}
	}
	return state.State{Kind: state.Mapped, Message: state.MsgMapped, Result: list.Interface(), Children: m.states}
}

// finish gives task i its final state and readies the tasks waiting for it.
func (d *driver) finish(i int, st state.State) {
	d.register(i, st.Result)
	d.redact(&st)
	d.states[i] = st
	d.remaining--
	if !st.IsFinished() {
		d.unfinished++
	}
	gt := &d.g.Tasks[i]
	d.logTask(gt, -1, &st)
	if d.rep != nil {
		d.rep.task(i, -1, &st)
	}
	if d.tainted(i) {
		// Its result may hold a secret: so may those computed from it.
		for _, dn := range gt.Downstream {
			d.taint(dn)
		}
	}
	for _, dn := range gt.Downstream {
		if d.indeg[dn]--; d.indeg[dn] == 0 {
			d.ready.push(item{node: int32(dn), child: -1})
		}
	}
}

// register adds a secret a task returned (a custom secret task, one that
// fetched a token) to the run's masker, before anything downstream runs.
func (d *driver) register(i int, result any) {
	if d.masker == nil || result == nil || !d.g.Tasks[i].ResultMayHoldSecret {
		return
	}
	secrets.Find(result, func(v secrets.Value) {
		for _, s := range v.RevealAll() {
			d.masker.Add(s)
		}
	})
}

// redact hides the run's secrets in a state's message and error. The
// error is wrapped even while no secret is known: it masks when printed,
// with the secrets resolved by then.
func (d *driver) redact(st *state.State) {
	if d.masker == nil {
		return
	}
	st.Err = d.masker.Error(st.Err)
	if !d.masker.Empty() {
		st.Message = d.masker.Redact(st.Message)
	}
}

// logTask records the state a task run ended in (or a mapped child's, when
// child >= 0), as Prefect's task runner does after each run: at INFO, the
// task named by its full name (see taskFullName), whatever the state.
func (d *driver) logTask(gt *flow.GraphTask, child int, st *state.State) {
	if !d.logInfo {
		return
	}
	d.log(slog.LevelInfo, "Task '"+taskFullName(gt, child)+"': Finished task run for task with final state: '"+st.Kind.String()+"'",
		slog.Group("task_run", slog.String("task_slug", gt.Slug), slog.Int("map_index", child),
			slog.String("state", st.Kind.String()), slog.String("message", st.Message)))
}

// taskFullName is Prefect's task_full_name, the name its task runner logs a
// task run by: the task's name, with "[i]" for mapped child i. The slug
// and map index are in the record's task_run group.
func taskFullName(gt *flow.GraphTask, child int) string {
	if child < 0 {
		return gt.Spec.Name
	}
	return gt.Spec.Name + "[" + strconv.Itoa(child) + "]"
}

// cancel settles a cancelled run: it waits for the task runs in flight and
// marks every task that never finished Cancelled.
func (d *driver) cancel() {
	for d.inflight > 0 {
		tr := <-d.done
		d.inflight--
		d.redact(&tr.state)
		if tr.child >= 0 {
			if m := d.maps[int32(tr.node)]; m != nil {
				m.states[tr.child] = tr.state
			}
		} else {
			d.states[tr.node] = tr.state
		}
		if d.rep != nil {
			d.rep.task(int(tr.node), int(tr.child), &tr.state)
		}
	}
	notStarted := state.New(state.Cancelled, state.MsgNotStarted)
	for i := range d.states {
		st := d.states[i]
		if m := d.maps[int32(i)]; m != nil {
			for j := range m.states {
				if !m.states[j].IsFinished() {
					m.states[j] = notStarted
					if d.rep != nil {
						d.rep.task(i, j, &notStarted)
					}
				}
			}
			st = state.State{Kind: state.Cancelled, Message: state.MsgTaskCancelled, Children: m.states}
		} else if st.Kind == state.Retrying {
			st = state.State{Kind: state.Cancelled, Message: state.MsgNotStarted, RunCount: st.RunCount, Err: d.masker.Error(st.Err)}
		} else if !st.IsFinished() {
			st = notStarted
		} else {
			continue
		}
		d.states[i] = st
		if d.rep != nil {
			d.rep.task(i, -1, &st)
		}
	}
	d.delayed = nil
}

func (d *driver) anyCancelled() bool {
	for i := range d.states {
		if d.states[i].IsCancelled() {
			return true
		}
		for _, c := range d.states[i].Children {
			if c.IsCancelled() {
				return true
			}
		}
	}
	return false
}

// final decides the flow run's state from its reference tasks.
func (d *driver) final() state.State {
	if d.cancelled {
		return state.New(state.Cancelled, state.MsgFlowCancelled)
	}
	if d.remaining > 0 {
		return state.New(state.Failed, "The runner stopped with "+strconv.Itoa(d.remaining)+" tasks never run; this is a bug in the runner.")
	}
	if d.unfinished > 0 {
		return state.New(state.Paused, state.MsgFlowPaused)
	}
	for _, r := range d.g.Reference {
		st := &d.states[r]
		if st.IsFailed() {
			return state.New(state.Failed, state.MsgFlowFailed)
		}
		for _, c := range st.Children {
			if c.IsFailed() {
				return state.New(state.Failed, state.MsgFlowFailed)
			}
		}
		if !st.IsSuccessful() {
			return state.New(state.Failed, state.MsgFlowFailed)
		}
	}
	return state.New(state.Success, state.MsgFlowSucceeded)
}

func allSuccessful(states []state.State) bool {
	for _, s := range states {
		if !s.IsSuccessful() {
			return false
		}
	}
	return true
}

// queue is a FIFO of items; popped space is reused when the queue drains.
type queue struct {
	items []item
	head  int
}

func (q *queue) push(it item) { q.items = append(q.items, it) }
func (q *queue) empty() bool  { return q.head == len(q.items) }
func (q *queue) pop() item {
	it := q.items[q.head]
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return it
}

// retryHeap orders task runs waiting for a retry by when they are due.
type retryHeap []*TaskRun

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].state.StartTime.Before(h[j].state.StartTime) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(*TaskRun)) }
func (h *retryHeap) Pop() any {
	old := *h
	tr := old[len(old)-1]
	*h = old[:len(old)-1]
	return tr
}

// toList returns the elements of a list value, concatenating a list of
// lists when flatten is set.
func toList(v any, flatten bool) ([]any, error) {
	if v == nil {
		return nil, nil
	}
	if l, ok := v.([]any); ok && !flatten {
		return l, nil
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		return nil, &listError{rv.Type()}
	}
	var out []any
	if !flatten {
		out = make([]any, rv.Len())
	}
	for i := range rv.Len() {
		el := rv.Index(i)
		if !flatten {
			out[i] = el.Interface()
			continue
		}
		if el.Kind() == reflect.Interface {
			if el.IsNil() {
				continue // a nil list flattens to nothing
			}
			el = el.Elem()
		}
		if k := el.Kind(); k != reflect.Slice && k != reflect.Array {
			return nil, &listError{el.Type()}
		}
		for j := range el.Len() {
			out = append(out, el.Index(j).Interface())
		}
	}
	return out, nil
}

type listError struct{ t reflect.Type }

func (e *listError) Error() string {
	return "cannot map over a value of type " + e.t.String() + ": it is not a list"
}

// Package runner runs flows: [Run] takes a built flow, runs every task once
// its upstream tasks have finished and its trigger allows, and returns the
// flow's final state with the state of every task.
//
//	fs, err := runner.Run(ctx, f,
//		runner.WithParameters(map[string]any{"n": 10}),
//		runner.WithExecutor(runner.Parallel(0)),
//		runner.WithTagLimit("db", 2))
//	if err != nil { ... }          // the run could not start: invalid flow, bad parameters
//	fmt.Println(fs.State)          // <Success: "All reference tasks succeeded.">
//	sum, ok := runner.ResultOf(fs, sumNode)
//
// Run returns an error only when the run cannot start; everything that
// happens during the run, task errors and panics included, ends up in states.
// Inside a task, [FromContext] gives the run context (flow run id, task
// name, run count, map index, parameters, dates).
//
// Cost: bookkeeping is O(V+E) for V tasks and E edges: in-degree counters and
// a ready queue, no rescans and no goroutine or timer per task or edge. It
// all happens on the goroutine that called Run; an [Executor] only decides
// where task functions execute. Cancelling ctx ends the run promptly: running
// tasks see their context cancelled, tasks that had not started end
// Cancelled, and Run returns only after every goroutine it started has exited.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-multierror"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Clock tells the time and waits; the runner waits for retry delays on it,
// so tests can use a fake one and never sleep.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option configures a run.
type Option func(*options)

type options struct {
	params      map[string]any
	executor    Executor
	store       result.Store
	checkpoint  bool
	logger      *slog.Logger
	clock       Clock
	concurrency int
	tagLimits   map[string]int
	given       map[string]state.State
	resume      map[string]bool
	flowRunID   uuid.UUID
	flowRunName string
	scheduled   time.Time
	errs        []error

	secrets      map[string]any
	config       *config.Config
	backend      secrets.Source
	secretsFirst bool

	// taskDefaults, when set (WithTaskDefaults), wins over the
	// configuration's tasks.defaults.
	taskDefaults *task.Defaults

	// RunScheduled's: WithSchedule, WithOverlap, OnScheduledRun.
	schedule    *schedule.Schedule
	overlap     Overlap
	onScheduled func(schedule.Event, *FlowState, error)

	reporter Reporter
}

// WithParameters gives the run's parameter values by name.
func WithParameters(p map[string]any) Option { return func(o *options) { o.params = p } }

// WithExecutor chooses where tasks run; the default is [Local].
func WithExecutor(e Executor) Option {
	return func(o *options) {
		if e == nil {
			o.errs = append(o.errs, errors.New("WithExecutor was given a nil executor; use runner.Local() or runner.Parallel(n)"))
		}
		o.executor = e
	}
}

// WithResultStore sets where checkpoints and cache entries are kept. The
// default (also for nil) is a fresh in-memory store, so nothing outlives
// the run.
func WithResultStore(s result.Store) Option { return func(o *options) { o.store = s } }

// WithCheckpointing turns checkpointing on or off for the run (default off,
// as for Prefect runs without a backend): with it on, each task's result is
// written to the result store, unless the task says otherwise. Results that
// may hold a secret are written only when their task asks with
// task.WithCheckpoint(true): those of tasks downstream of a secret task,
// of tasks handed a secret's value while they ran (secrets.Secret(...).Get,
// secrets.Get, secrets.Mask in the task's context, in any of its attempts
// or mapped children), and of the tasks downstream of those. A secret
// task's result is never written.
func WithCheckpointing(on bool) Option { return func(o *options) { o.checkpoint = on } }

// WithLogger sets the logger for the run's records. The default (also for
// nil) discards everything: a library stays quiet unless asked.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock the run tells the time by and waits on (retry
// delays, cache lifetimes, the schedule); the default is the real one.
//
// A test needs no clock of its own to make retry delays, cache lifetimes
// or a schedule pass at once: run it in a [testing/synctest] bubble, whose
// real clock moves on as soon as every goroutine in it waits. WithClock is
// for other sources of time, such as a program that runs a flow against a
// clock it keeps itself.
func WithClock(c Clock) Option {
	return func(o *options) {
		if c == nil {
			o.errs = append(o.errs, errors.New("WithClock was given a nil clock"))
		}
		o.clock = c
	}
}

// WithConcurrency runs at most n tasks of this run at once, whatever the
// executor allows.
func WithConcurrency(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.errs = append(o.errs, fmt.Errorf("concurrency limit %d is not valid: it must be 1 or more", n))
		}
		o.concurrency = n
	}
}

// WithTagLimit runs at most n tasks tagged tag at once.
func WithTagLimit(tag string, n int) Option {
	return func(o *options) {
		if n < 1 {
			o.errs = append(o.errs, fmt.Errorf("limit %d for tag %q is not valid: it must be 1 or more", n, tag))
		}
		if o.tagLimits == nil {
			o.tagLimits = map[string]int{}
		}
		o.tagLimits[tag] = n
	}
}

// WithTaskStates starts the run from given task states, by slug: a task
// given a finished state is not run again and passes that state's result
// downstream (read back from the result store when the state has only a
// Location). Prefect's task_states. See also [Restart].
func WithTaskStates(states map[string]state.State) Option {
	return func(o *options) { o.given = states }
}

// WithResume lets the named tasks run past a manual_only trigger or a Pause.
func WithResume(slugs ...string) Option {
	return func(o *options) {
		if o.resume == nil {
			o.resume = map[string]bool{}
		}
		for _, s := range slugs {
			o.resume[s] = true
		}
	}
}

// WithFlowRunID sets the flow run's id instead of a random one.
func WithFlowRunID(id uuid.UUID) Option { return func(o *options) { o.flowRunID = id } }

// WithFlowRunName sets the flow run's name instead of one made from the
// flow name and id.
func WithFlowRunName(name string) Option { return func(o *options) { o.flowRunName = name } }

// WithScheduledStartTime sets the time the run counts as scheduled for,
// which the run context's date helpers use. The default is now.
func WithScheduledStartTime(t time.Time) Option { return func(o *options) { o.scheduled = t } }

// WithSecrets gives the run secrets by name, for this run only; they win over
// those of the configuration ([context.secrets], PREFECT__CONTEXT__SECRETS__*).
func WithSecrets(m map[string]any) Option { return func(o *options) { o.secrets = m } }

// WithConfig resolves the run's secrets from cfg. By default the
// configuration is read (config.Load) when the run first needs a secret.
func WithConfig(cfg *config.Config) Option { return func(o *options) { o.config = cfg } }

// WithTaskDefaults sets the retries and timeout of the run's tasks that
// set none of their own (see task.Spec.Under), instead of the
// configuration's tasks.defaults.
//
// Without it, a run takes tasks.defaults.max_retries, .retry_delay
// (seconds) and .timeout (seconds) from the configuration given with
// [WithConfig], else from the one the process read at its first run
// (config.Load, once: as Prefect 1 reads its configuration once, when it
// is imported). Prefect applies them when a Task is made; a Go task is
// usually made before any configuration is read, so the runner applies
// them when it runs the task. A max_retries above 0 needs a retry_delay,
// as Prefect requires, and a bad value makes the run invalid, naming the
// setting.
func WithTaskDefaults(d task.Defaults) Option {
	return func(o *options) {
		if d.MaxRetries < 0 || d.RetryDelay < 0 || d.Timeout < 0 {
			o.errs = append(o.errs, fmt.Errorf("WithTaskDefaults was given %+v; each must be 0 or more", d))
		}
		o.taskDefaults = &d
	}
}

// WithSecretBackend sets the secret server secrets fall back on when the
// configuration says backend = "cloud" and cloud.use_local_secrets = false.
// Without it, the run asks the server the configuration names (cloud.api,
// with cloud.api_key and cloud.tenant_id), as package secrets does; pass
// client.NewSource(c) to use a client of one's own.
func WithSecretBackend(s secrets.Source) Option { return func(o *options) { o.backend = s } }

// WithResolveSecretsFirst resolves every secret task's secret (those whose
// name is a constant or a parameter) before the first task runs, all at
// once, each secret once. If any is missing, Run starts nothing and returns
// one error naming every missing secret, one per line under a count:
//
//	the flow run cannot start: 2 of the 5 secret tasks resolved before the run failed:
//		- task "C-1": The secret C was not found.  ...
//		- task "D-1": The secret D was not found.  ...
//
// It matches ErrInvalidRun and secrets.ErrNotFound, and errors.As finds
// each *secrets.NotFoundError through it (a *multierror.Error). It shows
// no secret's value.
func WithResolveSecretsFirst() Option { return func(o *options) { o.secretsFirst = true } }

// FlowState is the outcome of a flow run: the flow's own state and the
// state of every task.
type FlowState struct {
	// State is the flow run's final state.
	state.State
	// FlowName is the flow's name.
	FlowName string
	// FlowRunID identifies the run.
	FlowRunID uuid.UUID
	// FlowRunName is the run's readable name.
	FlowRunName string
	// Graph is the flow that ran.
	Graph *flow.Graph
	// Tasks holds each task's final state, in the order of Graph.Tasks.
	Tasks []state.State
}

// Task returns the state of the task with the given slug.
func (fs *FlowState) Task(slug string) (state.State, bool) {
	i, ok := fs.Graph.Index(slug)
	if !ok {
		return state.State{}, false
	}
	return fs.Tasks[i], true
}

// Of returns the state of a task of the flow; a task of another flow (or
// nil) gets the zero State.
func (fs *FlowState) Of(t flow.Ref) state.State {
	if fs == nil || fs.Graph == nil || !fs.Graph.Owns(t) {
		return state.State{}
	}
	return fs.Tasks[t.ID()]
}

// ResultOf returns the result of a task of the flow, and whether the task
// succeeded with a result of type T.
func ResultOf[T any](fs *FlowState, n flow.Node[T]) (T, bool) {
	st := fs.Of(n)
	v, ok := st.Result.(T)
	return v, ok && st.IsSuccessful()
}

// Restart runs f again from the states of an earlier run prev: tasks that
// succeeded keep their states and results; every other task runs again.
func Restart(ctx context.Context, f *flow.Flow, prev *FlowState, opts ...Option) (*FlowState, error) {
	if prev == nil || prev.Graph == nil {
		return nil, fmt.Errorf("%w: Restart needs the FlowState of an earlier run, not nil", ErrInvalidRun)
	}
	given := make(map[string]state.State, len(prev.Tasks))
	for i, st := range prev.Tasks {
		// A mapped task is kept whatever its state: its children that did
		// not succeed run again, the others keep their results.
		if st.IsSuccessful() || len(st.Children) > 0 {
			given[prev.Graph.Tasks[i].Slug] = st
		}
	}
	return Run(ctx, f, append([]Option{WithTaskStates(given)}, opts...)...)
}

// ErrInvalidRun is matched by the error Run returns when a run cannot start.
var ErrInvalidRun = errors.New("the flow run cannot start")

// Run runs the flow f and returns its final state. The error is non-nil only
// when the run cannot start (an invalid flow, unknown or missing parameters,
// bad options); it then matches [ErrInvalidRun] and also wraps the cause,
// such as [flow.ErrCycle].
func Run(ctx context.Context, f *flow.Flow, opts ...Option) (fs *FlowState, err error) {
	o := options{executor: Local(), clock: realClock{}}
	outer := ctx
	for _, opt := range opts {
		opt(&o)
	}
	invalid := func(err error) error { return fmt.Errorf("%w: %w", ErrInvalidRun, err) }
	if f == nil {
		o.errs = append(o.errs, errors.New("the flow is nil; build one with flow.New"))
	}
	if err := problems.Join(optionProblems, o.errs...); err != nil {
		return nil, invalid(err)
	}
	g, err := f.Graph()
	if err != nil {
		return nil, invalid(err)
	}
	params, err := checkParams(g, o.params)
	if err != nil {
		return nil, invalid(err)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.store == nil {
		o.store = result.NewMemory()
	}
	if o.flowRunID == uuid.Nil {
		o.flowRunID = uuid.New()
	}
	if o.flowRunName == "" {
		o.flowRunName = g.Name + "-" + o.flowRunID.String()[:8]
	}
	if o.scheduled.IsZero() {
		o.scheduled = o.clock.Now()
	}
	defaults, err := o.defaults()
	if err != nil {
		return nil, invalid(err)
	}
	for slug := range o.given {
		if _, ok := g.Index(slug); !ok {
			return nil, invalid(fmt.Errorf("a task state was given for %q, which is not a task of flow %q", slug, g.Name))
		}
	}
	// Every secret resolved in the run is registered with its masker, which
	// logs, states, errors and task run names all pass through.
	masker := redact.New()
	base := o.logger.Handler()
	o.logger = slog.New(masker.Handler(base))
	resolver := secrets.NewResolver(secrets.WithConfig(o.config), secrets.WithRunSecrets(o.secrets),
		secrets.WithBackend(o.backend), secrets.WithLogger(o.logger),
		secrets.OnResolve(func(v secrets.Value) {
			for _, s := range v.RevealAll() {
				masker.Add(s)
			}
		}))
	ctx = secrets.NewContext(ctx, resolver)
	// Each task's context answers for the hook with its own (taskCtx.Value):
	// a task handed a secret's value is then tainted.
	ctx = secrets.OnUse(ctx, useHook)
	for _, v := range params {
		secrets.Find(v, func(sv secrets.Value) { secrets.Mask(ctx, sv) })
	}
	sess, err := o.executor.Start(ctx)
	if err == nil && sess == nil {
		err = errors.New("it returned no session")
	}
	if err != nil {
		// An executor may have resolved a secret on its way.
		return nil, invalid(fmt.Errorf("starting the executor: %w", masker.Error(err)))
	}
	d := newDriver(ctx, g, &o, params, sess)
	d.masker, d.outer = masker, outer
	d.defaults, d.hasDefaults = defaults, defaults != task.Defaults{}
	defer func() {
		// A panic here is a bug in the runner, not in a task (those are
		// recovered where they run); report it rather than crash the caller.
		if p := recover(); p != nil {
			// User code the runner calls on its own goroutine (a result
			// store, a clock) may have panicked with a secret.
			fs, err = nil, masker.Error(fmt.Errorf("runner: internal error: %s", d.newPanic(p).valueText()))
			if d.rep != nil {
				// The Reporter heard the flow Running: end it.
				d.rep.flow(state.New(state.Failed, err.Error()))
			}
		}
	}()
	defer sess.Close()
	if o.secretsFirst {
		if err := d.resolveFirst(); err != nil {
			return nil, invalid(err)
		}
	}
	if o.reporter != nil {
		d.startReporting(o.reporter, base)
	}
	return d.run(), nil
}

// resolveFirst runs every secret task whose inputs are constants or
// parameters before the first task runs; their states are kept for the run,
// so each runs once. They run at once, each on its own goroutine: a run
// that needs five secrets from a server waits for the slowest, not for the
// sum. Two tasks of one secret still resolve it once (the run's Resolver
// shares one lookup among its askers). Every one that fails is reported,
// redacted, in one error that counts them, sorted by task slug.
func (d *driver) resolveFirst() error {
	g, params := d.g, d.params
	type preflight struct {
		i  int
		tr *TaskRun
	}
	var runs []preflight
	for i := range g.Tasks {
		gt := &g.Tasks[i]
		if !gt.Spec.Secret || gt.Mapped {
			continue
		}
		args := make([]any, len(gt.Spec.Inputs))
		known := true
		for _, e := range gt.Inputs {
			switch {
			case e.From < 0:
				args[e.Index] = e.Value
			case g.Tasks[e.From].Param != nil:
				args[e.Index] = params[g.Tasks[e.From].Param.Name]
			default:
				known = false
			}
		}
		if !known {
			continue // its name comes from another task: resolved when it runs
		}
		tr := &TaskRun{d: d, gt: gt, node: int32(i), child: -1, args: args}
		d.attempt(tr) // on this goroutine: task contexts come from the driver's slab
		runs = append(runs, preflight{i, tr})
	}
	// multierror.Group, not errgroup: every failure is wanted, and none
	// cancels the others (a task run is not cancelled by its siblings).
	var group multierror.Group
	for _, p := range runs {
		group.Go(func() error {
			tr := p.tr
			d.safeExecute(tr) // as an executor's worker would: begin, call, end
			if tr.state.Kind == state.Success {
				return nil
			}
			err := tr.state.Err
			if err == nil {
				err = errors.New(tr.state.Message)
			}
			return fmt.Errorf("task %q: %w", tr.gt.Slug, d.masker.Error(err))
		})
	}
	failed := group.Wait()
	for _, p := range runs {
		if p.tr.state.Kind != state.Success {
			continue
		}
		d.register(p.i, p.tr.state.Result)
		if d.prefilled == nil {
			d.prefilled = map[int]state.State{}
		}
		d.prefilled[p.i] = p.tr.state
	}
	if failed.ErrorOrNil() == nil {
		return nil
	}
	sort.Sort(failed) // by text, which begins with the slug: the same order every run
	failed.ErrorFormat = problems.Format(func(n int) string {
		return fmt.Sprintf("%d of the %d secret tasks resolved before the run failed", n, len(runs))
	}, "")
	return failed
}

// checkParams fills in defaults and checks the given parameters against the
// flow's: unknown, missing required, and wrongly typed ones are errors that
// name every such parameter.
func checkParams(g *flow.Graph, given map[string]any) (map[string]any, error) {
	declared := map[string]*flow.Param{}
	for _, i := range g.Params {
		p := g.Tasks[i].Param
		declared[p.Name] = p
	}
	values := make(map[string]any, len(declared))
	var unknown, missing []string
	var errs []error
	for name, v := range given {
		p, ok := declared[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		cv, err := convertParam(p, v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		values[name] = cv
	}
	for name, p := range declared {
		if _, ok := given[name]; ok {
			continue
		}
		if !p.HasDefault {
			missing = append(missing, name)
			continue
		}
		values[name] = p.Default
	}
	errs = append(errs, ParameterErrors(g.Name, slices.Collect(maps.Keys(declared)), unknown, missing)...)
	// The given parameters are a map: sort, so a run reports them the
	// same way every time.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return values, problems.Join(problems.Format(func(n int) string {
		return fmt.Sprintf("%d problems with the parameters of flow %q", n, g.Name)
	}, ""), errs...)
}

// ParameterErrors returns the errors for the parameters a run of flow
// flowName was given that it does not declare (unknown) and the required
// ones it was not given (missing), among those it declares: Prefect's
// sentences first, which users grep for ("Flow.run received the following
// unexpected parameters: nope"), then the flow and the names that would
// do. It returns none when both lists are empty. [Run] reports its
// parameters' problems this way; a program that knows a flow only by its
// registered parameter names (prefect run) can refuse the same ones before
// a run is made.
func ParameterErrors(flowName string, declared, unknown, missing []string) []error {
	quoted := func(list []string) string {
		q := make([]string, len(list))
		for i, s := range list {
			q[i] = strconv.Quote(s)
		}
		return strings.Join(q, ", ")
	}
	var errs []error
	if len(unknown) > 0 {
		unknown = slices.Sorted(slices.Values(unknown))
		known := "it has none"
		if len(declared) > 0 {
			known = "its parameters are " + quoted(slices.Sorted(slices.Values(declared)))
		}
		errs = append(errs, fmt.Errorf("Flow.run received the following unexpected parameters: %s (flow %q has no parameter %s; %s)",
			strings.Join(unknown, ", "), flowName, quoted(unknown), known))
	}
	if len(missing) > 0 {
		missing = slices.Sorted(slices.Values(missing))
		errs = append(errs, fmt.Errorf("Flow.run did not receive the following required parameters: %s (flow %q: required parameter %s not given)",
			strings.Join(missing, ", "), flowName, quoted(missing)))
	}
	return errs
}

// optionProblems prints the problems of Run's options.
var optionProblems = problems.Format(func(n int) string { return fmt.Sprintf("%d problems with the run's options", n) }, "")

// convertParam returns v as the parameter's type: as is when assignable, or
// converted between numeric kinds when no value is lost (a JSON number 3.0
// for an int parameter, say).
func convertParam(p *flow.Param, v any) (any, error) {
	if v == nil {
		switch p.Type.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			return reflect.Zero(p.Type).Interface(), nil
		}
		return nil, fmt.Errorf("parameter %q wants %v, but was given nil", p.Name, p.Type)
	}
	rv := reflect.ValueOf(v)
	if rv.Type().AssignableTo(p.Type) {
		return v, nil
	}
	if isNumber(rv.Kind()) && isNumber(p.Type.Kind()) && rv.CanConvert(p.Type) && !(isNegative(rv) && isUnsigned(p.Type.Kind())) {
		cv := rv.Convert(p.Type)
		if back := cv.Convert(rv.Type()); back.Equal(rv) {
			return cv.Interface(), nil
		}
	}
	return nil, fmt.Errorf("parameter %q wants %v, but was given %v", p.Name, p.Type, rv.Type())
}

func isNegative(v reflect.Value) bool {
	switch {
	case v.CanInt():
		return v.Int() < 0
	case v.CanFloat():
		return v.Float() < 0
	}
	return false
}

func isUnsigned(k reflect.Kind) bool { return k >= reflect.Uint && k <= reflect.Uintptr }

func isNumber(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Float64
}

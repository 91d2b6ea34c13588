// Package flow builds flows: directed acyclic graphs of tasks whose edges
// carry results from one task to the named inputs of another.
//
// A flow is built with plain function calls, Prefect's functional API in Go.
// [Add] puts a task in the flow and binds its inputs; it returns a typed
// [Node] that later bindings refer to:
//
//	f := flow.New("etl")
//	n := flow.Parameter(f, "n", flow.WithDefault(3))
//	nums := flow.Add(f, numbers, flow.Bind("n", n))
//	sq := flow.Map(f, square, flow.Bind("x", nums))      // one child run per element
//	flow.Add(f, report, flow.Bind("values", sq), flow.After(cleanup))
//
// Bindings are [Bind] (the result of an upstream task), [Const] (a value) and
// [After] (an upstream dependency that passes no data, Prefect's
// upstream_tasks). In [Map], bindings are mapped over unless wrapped in
// [Unmapped]; [Flatten] maps over the concatenation of a list of lists.
// [Case] and [Merge] express branches, [Flow.SetReferenceTasks] chooses the
// tasks that decide the flow's final state.
//
// Building a flow made by New never panics and never stops at the first
// mistake: each problem
// (an unknown input, a type that does not fit, a task option that is wrong)
// is recorded, and [Flow.Validate] returns them all, each naming the task and
// input concerned. The runner validates before it runs. A Flow is not safe
// for concurrent building; a built flow may be run by many goroutines at once.
package flow

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/secrets/sensitive"
	"github.com/prefect-go/prefect/task"
)

// Flow is a graph of tasks under construction. Create one with [New].
type Flow struct {
	name      string
	nodes     []*node
	errs      []error
	refs      []int
	nameCount map[string]int
	schedule  *schedule.Schedule

	// version counts changes; the Graph snapshot is rebuilt only after one.
	version int
	mu      sync.Mutex
	graph   *Graph
	graphAt int
}

type node struct {
	run    task.Runnable
	slug   string
	inputs []InputEdge
	deps   []int // dependency-only upstream nodes
	mapped bool
	param  *Param
}

// New returns an empty flow called name, configured by opts.
func New(name string, opts ...Option) *Flow {
	f := &Flow{name: name, nameCount: map[string]int{}}
	if name == "" {
		f.errs = append(f.errs, errors.New("a flow needs a name"))
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// An Option configures a flow made with [New].
type Option func(*Flow)

// WithSchedule gives the flow a schedule, Prefect's Flow(schedule=...):
// runner.RunScheduled runs the flow at each of its events, and a flow
// program registers it with the flow, so that the server creates its runs.
// A nil schedule is a bad value, reported when the flow is validated.
func WithSchedule(s *schedule.Schedule) Option {
	return func(f *Flow) {
		if s == nil {
			f.errs = append(f.errs, errors.New("flow.WithSchedule was given a nil schedule; build one with schedule.New, schedule.Interval or schedule.Cron, or leave the option out"))
			return
		}
		f.schedule = s
	}
}

// Schedule returns the flow's schedule, or nil when it has none.
func (f *Flow) Schedule() *schedule.Schedule { return f.schedule }

// Name returns the flow's name.
func (f *Flow) Name() string { return f.name }

// Len returns the number of tasks in the flow, parameters included.
func (f *Flow) Len() int { return len(f.nodes) }

// Ref is any task of a flow: a [Node] of any result type.
type Ref interface {
	// ID returns the task's index in its flow; [Graph.Tasks] is in this order.
	ID() int
	ref() (*Flow, int)
}

// Node is a task added to a flow; T is the type of its result. Pass it to
// bindings of downstream tasks, or to a runner to read its state or result.
type Node[T any] struct {
	f  *Flow
	id int
}

func (n Node[T]) ref() (*Flow, int) { return n.f, n.id }

// ID returns the node's index in its flow; [Graph.Tasks] is in this order.
func (n Node[T]) ID() int { return n.id }

// Slug returns the node's slug, its unique name in the flow.
func (n Node[T]) Slug() string {
	if n.f == nil {
		return ""
	}
	return n.f.nodes[n.id].slug
}

// Binding is one argument of [Add] or [Map]: an input bound to an upstream
// task or a constant, or a dependency-only upstream.
type Binding struct {
	key      string
	from     Ref
	value    any
	typ      reflect.Type
	after    []Ref
	unmapped bool
	flatten  bool
}

// Bind binds the input called key to the result of the upstream task from.
func Bind[T any](key string, from Node[T]) Binding {
	return Binding{key: key, from: from, typ: reflect.TypeFor[T]()}
}

// Const binds the input called key to a constant value.
func Const[T any](key string, value T) Binding {
	return Binding{key: key, value: value, typ: reflect.TypeFor[T]()}
}

// After makes the upstream tasks run first without passing their results:
// Prefect's upstream_tasks. Their states still count for the task's trigger.
func After(upstream ...Ref) Binding { return Binding{after: upstream} }

// Unmapped marks a binding of [Map] as the same for every child run.
func Unmapped(b Binding) Binding { b.unmapped = true; return b }

// Flatten maps over the concatenation of a list of lists: a binding of [Map]
// to a [][]E result gives one child run per E.
func Flatten(b Binding) Binding { b.flatten = true; return b }

// InputEdge is one bound input of a task.
type InputEdge struct {
	// Key is the input's name.
	Key string
	// Index is the input's position in the task's inputs.
	Index int
	// From is the upstream node's index, or -1 for a constant.
	From int
	// Value is the constant, when From is -1.
	Value any
	// Mapped inputs give each child run one element; Flatten ones first
	// concatenate a list of lists.
	Mapped, Flatten bool
}

// Add puts t in the flow with its inputs bound and returns its node.
func Add[In, Out any](f *Flow, t *task.Task[In, Out], bindings ...Binding) Node[Out] {
	if t == nil {
		return Node[Out]{f, f.add(nil, false, bindings)}
	}
	return Node[Out]{f, f.add(t, false, bindings)}
}

// Map puts t in the flow as a mapped task: it runs once per element of its
// mapped inputs (as many times as the shortest of them has elements), each
// child run named name[i], and its result is the list of the children's
// results. Every binding is mapped over unless wrapped in [Unmapped].
func Map[In, Out any](f *Flow, t *task.Task[In, Out], bindings ...Binding) Node[[]Out] {
	if t == nil {
		return Node[[]Out]{f, f.add(nil, true, bindings)}
	}
	return Node[[]Out]{f, f.add(t, true, bindings)}
}

// AddRunnable puts any [task.Runnable] in the flow, for tasks whose shape a
// typed [task.Task] cannot express; its result's type is T.
func AddRunnable[T any](f *Flow, r task.Runnable, bindings ...Binding) Node[T] {
	id := f.add(r, false, bindings)
	out := f.nodes[id].run.Spec().Output
	if want := reflect.TypeFor[T](); out != nil && !out.AssignableTo(want) {
		f.errorf("task %q gives %v, not the %v its node promises", f.nodes[id].slug, out, want)
	}
	return Node[T]{f, id}
}

// isNil reports whether r is nil or a nil pointer in an interface.
func isNil(r task.Runnable) bool {
	if r == nil {
		return true
	}
	v := reflect.ValueOf(r)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

func (f *Flow) errorf(format string, args ...any) {
	f.version++
	f.errs = append(f.errs, fmt.Errorf("flow %q: "+format, append([]any{f.name}, args...)...))
}

// own returns the index of r in f, recording an error if r is of another flow.
func (f *Flow) own(r Ref, what string) (int, bool) {
	if r == nil {
		f.errorf("%s: a nil task", what)
		return 0, false
	}
	rf, id := r.ref()
	if rf != f {
		name := "an unknown flow"
		if rf != nil {
			name = strconv.Quote(rf.name)
		}
		f.errorf("%s: task is from %s, not this flow", what, name)
		return 0, false
	}
	return id, true
}

func (f *Flow) add(r task.Runnable, mapped bool, bindings []Binding) int {
	f.version++
	if isNil(r) || r.Spec() == nil {
		// Keep a placeholder so the returned node stays usable; Validate
		// reports the problem.
		r = &builtin{spec: task.Spec{Name: "nil-task", Trigger: task.AllSuccessful,
			Err: fmt.Errorf("task %d added is nil; build tasks with task.New", len(f.nodes)+1)}}
	}
	spec := r.Spec()
	n := &node{run: r, mapped: mapped, slug: spec.Slug}
	id := len(f.nodes)
	if n.slug == "" {
		if f.nameCount == nil {
			f.nameCount = map[string]int{}
		}
		f.nameCount[spec.Name]++
		n.slug = spec.Name + "-" + strconv.Itoa(f.nameCount[spec.Name])
	}
	f.nodes = append(f.nodes, n)
	if list, ok := spec.Err.(*multierror.Error); ok {
		// A task's several problems are each one of the flow's.
		for _, err := range list.WrappedErrors() {
			f.errs = append(f.errs, fmt.Errorf("flow %q: %w", f.name, err))
		}
	} else if spec.Err != nil {
		f.errs = append(f.errs, fmt.Errorf("flow %q: %w", f.name, spec.Err))
	}
	what := "task " + strconv.Quote(n.slug)
	bound := make([]bool, len(spec.Inputs))
	anyMapped := false
	for _, b := range bindings {
		for _, up := range b.after {
			if uid, ok := f.own(up, what); ok {
				n.deps = append(n.deps, uid)
			}
		}
		if b.after != nil || (b.key == "" && b.from == nil && b.typ == nil) {
			continue
		}
		idx := inputIndex(spec.Inputs, b.key)
		if idx < 0 {
			f.errorf("%s: %q is not an input of task %q; its inputs are %s", what, b.key, spec.Name, inputNames(spec.Inputs))
			continue
		}
		if bound[idx] {
			f.errorf("%s: input %q is bound twice", what, b.key)
			continue
		}
		bound[idx] = true
		if b.from == nil && containsSecret(b.value) {
			f.errs = append(f.errs, fmt.Errorf("flow %q: %s: input %q: %w", f.name, what, b.key, sensitive.ErrBuildingFlow))
			continue
		}
		e := InputEdge{Key: b.key, Index: idx, From: -1, Value: b.value}
		source := "the constant"
		if b.from != nil {
			uid, ok := f.own(b.from, what)
			if !ok {
				continue
			}
			e.From, e.Value = uid, nil
			source = "task " + strconv.Quote(f.nodes[uid].slug)
		}
		if b.flatten && !mapped {
			f.errorf("%s: input %q uses flow.Flatten, which only applies to flow.Map", what, b.key)
		}
		e.Mapped = mapped && !b.unmapped
		e.Flatten = e.Mapped && b.flatten
		anyMapped = anyMapped || e.Mapped
		f.checkType(what, spec.Inputs[idx], e, b.typ, source)
		n.inputs = append(n.inputs, e)
	}
	for i, in := range spec.Inputs {
		if !bound[i] && !in.Optional {
			f.errorf("%s: input %q is not bound; bind it, or tag the field `prefect:\"%s,optional\"`", what, in.Name, in.Name)
		}
	}
	if mapped && !anyMapped {
		f.errorf("%s is mapped but none of its inputs is mapped over; map over at least one", what)
	}
	return id
}

// checkType records an error if a value of type from cannot fill input in.
// An interface-typed source is checked again at run time, value by value.
func (f *Flow) checkType(what string, in task.Input, e InputEdge, from reflect.Type, source string) {
	if from == nil {
		return
	}
	gives := "gives"
	if e.Mapped {
		whole := from
		for range 1 + boolInt(e.Flatten) {
			if from.Kind() == reflect.Interface {
				return
			}
			if from.Kind() != reflect.Slice && from.Kind() != reflect.Array {
				if e.Flatten {
					f.errorf("%s: input %q is flattened, but %s gives %v, which is not a list of lists", what, in.Name, source, whole)
				} else {
					f.errorf("%s: input %q is mapped over, but %s gives %v, which is not a list", what, in.Name, source, whole)
				}
				return
			}
			from = from.Elem()
		}
		gives = "gives elements of type"
	}
	if from.Kind() == reflect.Interface || from.AssignableTo(in.Type) || from == secretType {
		// A secret fits any input: the task decodes it into the input's type.
		return
	}
	f.errorf("%s: input %q wants %v, but %s %s %v", what, in.Name, in.Type, source, gives, from)
}

var secretType = reflect.TypeFor[sensitive.Value]()

// containsSecret reports whether v is or holds a secrets.Value.
func containsSecret(v any) bool {
	found := false
	sensitive.Find(v, func(sensitive.Value) { found = true })
	return found
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func inputIndex(inputs []task.Input, key string) int {
	for i, in := range inputs {
		if in.Name == key {
			return i
		}
	}
	return -1
}

func inputNames(inputs []task.Input) string {
	if len(inputs) == 0 {
		return "none"
	}
	s := ""
	for i, in := range inputs {
		if i > 0 {
			s += ", "
		}
		s += strconv.Quote(in.Name)
	}
	return s
}

// SetUpstream makes upstream run before t, passing no data.
func (f *Flow) SetUpstream(t, upstream Ref) {
	tid, ok1 := f.own(t, "SetUpstream")
	uid, ok2 := f.own(upstream, "SetUpstream")
	if ok1 && ok2 {
		f.version++
		f.nodes[tid].deps = append(f.nodes[tid].deps, uid)
	}
}

// SetDownstream makes t run before downstream, passing no data.
func (f *Flow) SetDownstream(t, downstream Ref) { f.SetUpstream(downstream, t) }

// Chain makes each task run after the one before it.
func (f *Flow) Chain(tasks ...Ref) {
	for i := 1; i < len(tasks); i++ {
		f.SetUpstream(tasks[i], tasks[i-1])
	}
}

// SetReferenceTasks chooses the tasks whose states decide the flow's final
// state. By default those are the terminal tasks, the ones nothing depends on.
func (f *Flow) SetReferenceTasks(tasks ...Ref) {
	f.version++
	f.refs = f.refs[:0]
	for _, t := range tasks {
		if id, ok := f.own(t, "SetReferenceTasks"); ok {
			f.refs = append(f.refs, id)
		}
	}
}

// Param describes a flow parameter.
type Param struct {
	// Name is the parameter's name; it is also its task's slug.
	Name string
	// Type is the Go type values must have.
	Type reflect.Type
	// Default is used when a run gives no value.
	Default any
	// HasDefault says whether there is a default; a parameter without one
	// is required.
	HasDefault bool
}

// ParamOption configures a parameter.
type ParamOption[T any] func(*Param)

// WithDefault gives a parameter a default value (Prefect's default=), which
// makes it optional.
func WithDefault[T any](v T) ParamOption[T] {
	return func(p *Param) { p.Default, p.HasDefault = v, true }
}

// Default is the former name of [WithDefault].
//
// Deprecated: use WithDefault.
func Default[T any](v T) ParamOption[T] { return WithDefault(v) }

type paramTask struct{ spec task.Spec }

func (p *paramTask) Spec() *task.Spec { return &p.spec }
func (p *paramTask) Call(context.Context, []any) (any, error) {
	return nil, fmt.Errorf("parameter %q has its value set by the runner, not computed", p.spec.Name)
}

// Parameter adds a flow parameter called name: a root task whose result is
// the value a run gives it, or its default. Without [WithDefault] the parameter is
// required.
func Parameter[T any](f *Flow, name string, opts ...ParamOption[T]) Node[T] {
	p := &Param{Name: name, Type: reflect.TypeFor[T]()}
	for _, o := range opts {
		o(p)
	}
	if name == "" {
		f.errorf("a parameter needs a name")
	}
	for _, n := range f.nodes {
		if n.param != nil && n.param.Name == name {
			f.errorf("parameter %q is declared twice", name)
		}
	}
	pt := &paramTask{spec: task.Spec{Name: name, Slug: name, Output: p.Type, Trigger: task.AllSuccessful, SkipOnUpstreamSkip: true}}
	id := f.add(pt, false, nil)
	f.nodes[id].param = p
	return Node[T]{f, id}
}

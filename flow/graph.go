package flow

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/secrets/sensitive"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Graph is a validated snapshot of a flow: what a runner executes and what a
// server can register. Tasks are in the order they were added; every index in
// a Graph is an index into Tasks. A Graph is read-only.
type Graph struct {
	// Name is the flow's name.
	Name string
	// Tasks are the flow's tasks in the order they were added.
	Tasks []GraphTask
	// Reference lists the tasks whose states decide the flow's final state.
	Reference []int
	// Order is a topological order of Tasks: every task after its upstreams.
	Order []int
	// Params lists the parameters' tasks.
	Params []int
	bySlug map[string]int
	flow   *Flow
}

// Owns reports whether t is a task of the flow this graph was taken from.
func (g *Graph) Owns(t Ref) bool {
	if t == nil {
		return false
	}
	f, id := t.ref()
	return f != nil && f == g.flow && id >= 0 && id < len(g.Tasks)
}

// GraphTask is one task of a [Graph].
type GraphTask struct {
	// Slug is the task's unique name in the flow.
	Slug string
	// Task is the task itself.
	Task task.Runnable
	// Spec is the task's options (Task.Spec()).
	Spec *task.Spec
	// Mapped tasks run once per element of their mapped inputs.
	Mapped bool
	// Param is set for parameters.
	Param *Param
	// Inputs are the bound inputs.
	Inputs []InputEdge
	// Upstream lists every task this one waits for, data and dependency
	// edges alike, each once; Downstream the tasks waiting for this one.
	Upstream, Downstream []int
	// FromSecret is set when a secret task (task.WithSecretResult), or a parameter
	// whose type can hold a secrets.Value, is upstream of this one,
	// directly or not: its result may hold the secret.
	FromSecret bool
	// ResultMayHoldSecret is set when the task's result type can be or
	// hold a secrets.Value, which the runner must then look for.
	ResultMayHoldSecret bool
}

// Index returns the index of the task with the given slug.
func (g *Graph) Index(slug string) (int, bool) {
	i, ok := g.bySlug[slug]
	return i, ok
}

// ErrCycle is matched by the error of a flow whose dependencies form a cycle.
var ErrCycle = errors.New(state.MsgCycle)

// Validate reports every problem with the flow: bad task options, bindings
// that name no input or whose types do not fit, unbound inputs, duplicate
// slugs, parameters with upstream tasks, and cycles ([ErrCycle]). Each
// problem names the tasks concerned. A single problem reads as itself;
// several are listed under a count, one per line:
//
//	2 problems in flow "etl":
//		- slug "load" is used by two tasks (the 2nd and the 3rd added); slugs must be unique
//		- Cycle found; flows must be acyclic! Tasks on or behind a cycle: "load-1", "check-1"
//
// errors.Is and errors.As reach each problem (the list is a
// *multierror.Error of github.com/hashicorp/go-multierror, whose
// WrappedErrors gives each problem's whole text).
func (f *Flow) Validate() error {
	_, err := f.Graph()
	return err
}

// Graph validates the flow and returns its snapshot. The snapshot is built
// once and reused until the flow changes, so running a flow many times costs
// one validation; it is safe to call from several goroutines at once.
func (f *Flow) Graph() (*Graph, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.graph != nil && f.graphAt == f.version {
		return f.graph, nil
	}
	g, err := f.build()
	if err == nil {
		f.graph, f.graphAt = g, f.version
	}
	return g, err
}

func (f *Flow) build() (*Graph, error) {
	errs := append([]error(nil), f.errs...)
	n := len(f.nodes)
	g := &Graph{Name: f.name, Tasks: make([]GraphTask, n), bySlug: make(map[string]int, n), flow: f}
	var edges int
	for i, nd := range f.nodes {
		if prev, dup := g.bySlug[nd.slug]; dup {
			errs = append(errs, fmt.Errorf("flow %q: slug %q is used by two tasks (the %s and the %s added); slugs must be unique",
				f.name, nd.slug, ordinal(prev+1), ordinal(i+1)))
		} else {
			g.bySlug[nd.slug] = i
		}
		up := make([]int, 0, len(nd.inputs)+len(nd.deps))
		for _, e := range nd.inputs {
			if e.From >= 0 {
				up = append(up, e.From)
			}
		}
		up = append(up, nd.deps...)
		up = dedup(up)
		if nd.param != nil && len(up) > 0 {
			errs = append(errs, fmt.Errorf("flow %q: parameter %q has upstream tasks (%s); parameters must be root tasks",
				f.name, nd.param.Name, f.slugs(up)))
		}
		if nd.param != nil {
			g.Params = append(g.Params, i)
		}
		out := nd.run.Spec().Output
		g.Tasks[i] = GraphTask{Slug: nd.slug, Task: nd.run, Spec: nd.run.Spec(), Mapped: nd.mapped,
			Param: nd.param, Inputs: nd.inputs, Upstream: up, ResultMayHoldSecret: out == nil || sensitive.CanHold(out)}
		edges += len(up)
	}
	// Downstream lists share one backing array: one allocation, not one per task.
	counts := make([]int, n)
	for i := range g.Tasks {
		for _, u := range g.Tasks[i].Upstream {
			counts[u]++
		}
	}
	backing := make([]int, 0, edges)
	for i := range g.Tasks {
		g.Tasks[i].Downstream = backing[len(backing) : len(backing) : len(backing)+counts[i]]
		backing = backing[:len(backing)+counts[i]]
	}
	for i := range g.Tasks {
		for _, u := range g.Tasks[i].Upstream {
			g.Tasks[u].Downstream = append(g.Tasks[u].Downstream, i)
		}
	}
	order, cyclic := topoOrder(g)
	if cyclic != nil {
		errs = append(errs, fmt.Errorf("flow %q: %w Tasks on or behind a cycle: %s", f.name, ErrCycle, f.slugs(cyclic)))
	}
	g.Order = order
	for _, i := range order {
		gt := &g.Tasks[i]
		if gt.Spec.Secret || gt.FromSecret || (gt.Param != nil && sensitive.CanHold(gt.Param.Type)) {
			for _, d := range gt.Downstream {
				g.Tasks[d].FromSecret = true
			}
		}
	}
	if len(f.refs) > 0 {
		g.Reference = dedup(append([]int(nil), f.refs...))
	} else {
		for i := range g.Tasks {
			if len(g.Tasks[i].Downstream) == 0 {
				g.Reference = append(g.Reference, i)
			}
		}
	}
	if err := problems.Join(f.problemFormat(), errs...); err != nil {
		return nil, err
	}
	return g, nil
}

// problemFormat prints the flow's problems under one header that names the
// flow, which each problem's line then does not repeat.
func (f *Flow) problemFormat() multierror.ErrorFormatFunc {
	name := f.name
	return problems.Format(func(n int) string {
		if name == "" {
			return fmt.Sprintf("%d problems in a flow with no name", n)
		}
		return fmt.Sprintf("%d problems in flow %q", n, name)
	}, fmt.Sprintf("flow %q: ", name))
}

// topoOrder orders the tasks by Kahn's algorithm, O(V+E). When there is a
// cycle it returns the tasks on cycles (and those between them).
func topoOrder(g *Graph) (order, cyclic []int) {
	n := len(g.Tasks)
	indeg := make([]int32, n)
	for i := range g.Tasks {
		indeg[i] = int32(len(g.Tasks[i].Upstream))
	}
	order = make([]int, 0, n)
	for i := range n {
		if indeg[i] == 0 {
			order = append(order, i)
		}
	}
	for head := 0; head < len(order); head++ {
		for _, d := range g.Tasks[order[head]].Downstream {
			if indeg[d]--; indeg[d] == 0 {
				order = append(order, d)
			}
		}
	}
	if len(order) == n {
		return order, nil
	}
	// Peel off, in reverse, the tasks that only lead out of cycles.
	outdeg := make([]int32, n)
	left := make([]bool, n)
	for i := range n {
		if indeg[i] > 0 {
			left[i] = true
		}
	}
	var queue []int
	for i := range n {
		if !left[i] {
			continue
		}
		for _, d := range g.Tasks[i].Downstream {
			if left[d] {
				outdeg[i]++
			}
		}
		if outdeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		left[i] = false
		for _, u := range g.Tasks[i].Upstream {
			if left[u] {
				if outdeg[u]--; outdeg[u] == 0 {
					queue = append(queue, u)
				}
			}
		}
	}
	for i := range n {
		if left[i] {
			cyclic = append(cyclic, i)
		}
	}
	return order, cyclic
}

func dedup(ids []int) []int {
	if len(ids) < 2 {
		return ids
	}
	if len(ids) < 16 {
		out := ids[:0]
	next:
		for _, id := range ids {
			for _, seen := range out {
				if seen == id {
					continue next
				}
			}
			out = append(out, id)
		}
		return out
	}
	seen := make(map[int]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (f *Flow) slugs(ids []int) string {
	ids = append([]int(nil), ids...)
	sort.Ints(ids)
	const most = 20
	var names []string
	for i, id := range ids {
		if i == most {
			names = append(names, "and "+strconv.Itoa(len(ids)-most)+" more")
			break
		}
		names = append(names, strconv.Quote(f.nodes[id].slug))
	}
	return strings.Join(names, ", ")
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

package flow_test

import (
	"reflect"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// diamond builds
//
//	n (parameter) -> nums -> sq (mapped) -> total
//	                   \                 /
//	                    `----> first ---'  (after cleanup)
//
// and returns the flow and the nodes by name.
func diamond(t *testing.T) (*flow.Flow, map[string]flow.Ref) {
	t.Helper()
	f := flow.New("diamond")
	n := flow.Parameter(f, "n", flow.WithDefault(3))
	nums := flow.Add(f, numbers, flow.Bind("n", n))
	sq := flow.Map(f, inc, flow.Bind("x", nums))
	clean := flow.Add(f, noop)
	first := flow.Add(f, add, flow.Bind("x", n), flow.Const("y", 1), flow.After(nums, clean))
	total := flow.Add(f, sum, flow.Bind("values", sq), flow.After(first))
	return f, map[string]flow.Ref{"n": n, "nums": nums, "sq": sq, "clean": clean, "first": first, "total": total}
}

func TestGraphTasks(t *testing.T) {
	f, r := diamond(t)
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "diamond" || len(g.Tasks) != 6 {
		t.Fatalf("Graph: name %q, %d tasks", g.Name, len(g.Tasks))
	}
	id := func(name string) int { return r[name].ID() }
	tests := []struct {
		name       string
		slug       string
		mapped     bool
		param      bool
		inputs     []flow.InputEdge
		up, down   []int
		specOfTask task.Runnable
	}{
		{"n", "n", false, true, nil, nil, []int{id("nums"), id("first")}, nil},
		{"nums", "numbers-1", false, false,
			[]flow.InputEdge{{Key: "n", Index: 0, From: id("n")}},
			[]int{id("n")}, []int{id("sq"), id("first")}, numbers},
		{"sq", "inc-1", true, false,
			[]flow.InputEdge{{Key: "x", Index: 0, From: id("nums"), Mapped: true}},
			[]int{id("nums")}, []int{id("total")}, inc},
		{"clean", "noop-1", false, false, nil, nil, []int{id("first")}, noop},
		{"first", "add-1", false, false,
			[]flow.InputEdge{{Key: "x", Index: 0, From: id("n")}, {Key: "y", Index: 1, From: -1, Value: 1}},
			[]int{id("n"), id("nums"), id("clean")}, []int{id("total")}, add},
		{"total", "sum-1", false, false,
			[]flow.InputEdge{{Key: "values", Index: 0, From: id("sq")}},
			[]int{id("sq"), id("first")}, nil, sum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gt := g.Tasks[id(tc.name)]
			if gt.Slug != tc.slug {
				t.Errorf("Slug = %q, want %q", gt.Slug, tc.slug)
			}
			if gt.Mapped != tc.mapped {
				t.Errorf("Mapped = %v, want %v", gt.Mapped, tc.mapped)
			}
			if (gt.Param != nil) != tc.param {
				t.Errorf("Param = %+v, want param=%v", gt.Param, tc.param)
			}
			if !reflect.DeepEqual(gt.Inputs, tc.inputs) {
				t.Errorf("Inputs = %+v, want %+v", gt.Inputs, tc.inputs)
			}
			if !sameInts(gt.Upstream, tc.up) {
				t.Errorf("Upstream = %v, want %v", gt.Upstream, tc.up)
			}
			if !sameInts(gt.Downstream, tc.down) {
				t.Errorf("Downstream = %v, want %v", gt.Downstream, tc.down)
			}
			if tc.specOfTask != nil {
				if gt.Task != tc.specOfTask || gt.Spec != tc.specOfTask.Spec() {
					t.Errorf("Task, Spec are not the task added")
				}
			}
			if i, ok := g.Index(tc.slug); !ok || i != id(tc.name) {
				t.Errorf("Index(%q) = %d, %v; want %d", tc.slug, i, ok, id(tc.name))
			}
		})
	}
	if i, ok := g.Index("nope-1"); ok {
		t.Errorf("Index(nope-1) = %d, true", i)
	}
	// The default reference tasks are the terminal ones.
	if !sameInts(g.Reference, []int{id("total")}) {
		t.Errorf("Reference = %v, want [total]", g.Reference)
	}
}

func TestGraphEdgeKinds(t *testing.T) {
	f := flow.New("f")
	l := flow.Add(f, list)
	nest := flow.Add(f, nested)
	o := flow.Add(f, one)
	m1 := flow.Map(f, add, flow.Bind("x", l), flow.Unmapped(flow.Bind("y", o)))
	m2 := flow.Map(f, inc, flow.Flatten(flow.Bind("x", nest)))
	m3 := flow.Map(f, add, flow.Const("x", []int{1, 2}), flow.Unmapped(flow.Const("y", 5)))
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		node flow.Ref
		want []flow.InputEdge
	}{
		{m1, []flow.InputEdge{{Key: "x", Index: 0, From: l.ID(), Mapped: true}, {Key: "y", Index: 1, From: o.ID()}}},
		{m2, []flow.InputEdge{{Key: "x", Index: 0, From: nest.ID(), Mapped: true, Flatten: true}}},
		{m3, []flow.InputEdge{{Key: "x", Index: 0, From: -1, Value: []int{1, 2}, Mapped: true}, {Key: "y", Index: 1, From: -1, Value: 5}}},
	}
	for _, tc := range tests {
		gt := g.Tasks[tc.node.ID()]
		if !gt.Mapped {
			t.Errorf("%s: Mapped = false", gt.Slug)
		}
		if !reflect.DeepEqual(gt.Inputs, tc.want) {
			t.Errorf("%s: Inputs = %+v, want %+v", gt.Slug, gt.Inputs, tc.want)
		}
	}
	// A constant makes no edge.
	if !sameInts(g.Tasks[m3.ID()].Upstream, nil) {
		t.Errorf("a task bound only to constants has upstreams %v", g.Tasks[m3.ID()].Upstream)
	}
}

// TestGraphInputOrder checks bindings given out of order land at their
// input's index.
func TestGraphInputOrder(t *testing.T) {
	f := flow.New("f")
	a := flow.Add(f, one)
	b := flow.Add(f, one)
	s := flow.Add(f, add, flow.Bind("y", a), flow.Bind("x", b))
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	want := []flow.InputEdge{{Key: "y", Index: 1, From: a.ID()}, {Key: "x", Index: 0, From: b.ID()}}
	if got := g.Tasks[s.ID()].Inputs; !reflect.DeepEqual(got, want) {
		t.Errorf("Inputs = %+v, want %+v", got, want)
	}
}

func TestGraphUpstreamDedup(t *testing.T) {
	f := flow.New("f")
	a := flow.Add(f, one)
	b := flow.Add(f, add, flow.Bind("x", a), flow.Bind("y", a), flow.After(a, a))
	f.SetUpstream(b, a)
	f.SetDownstream(a, b)
	f.Chain(a, b)
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Tasks[b.ID()].Upstream; !sameInts(got, []int{a.ID()}) {
		t.Errorf("Upstream = %v, want [%d] once", got, a.ID())
	}
	if got := g.Tasks[a.ID()].Downstream; !sameInts(got, []int{b.ID()}) {
		t.Errorf("Downstream = %v, want [%d] once", got, b.ID())
	}
	// Both data edges are still there: dedup is for ordering only.
	if n := len(g.Tasks[b.ID()].Inputs); n != 2 {
		t.Errorf("%d input edges, want 2", n)
	}
}

// TestGraphManyUpstreams covers the dedup of long upstream lists.
func TestGraphManyUpstreams(t *testing.T) {
	f := flow.New("f")
	var ups []flow.Ref
	for range 20 {
		ups = append(ups, flow.Add(f, noop))
	}
	twice := append(append([]flow.Ref(nil), ups...), ups...)
	sink := flow.Add(f, noop, flow.After(twice...))
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, u := range ups {
		want = append(want, u.ID())
	}
	if got := g.Tasks[sink.ID()].Upstream; !sameInts(got, want) {
		t.Errorf("Upstream = %v, want %v", got, want)
	}
	for _, u := range ups {
		if got := g.Tasks[u.ID()].Downstream; !sameInts(got, []int{sink.ID()}) {
			t.Errorf("Downstream of %d = %v", u.ID(), got)
		}
	}
	if !sameInts(g.Reference, []int{sink.ID()}) {
		t.Errorf("Reference = %v", g.Reference)
	}
}

// checkOrder fails t unless order is a permutation of g's tasks with every
// task after all its upstream tasks.
func checkOrder(t *testing.T, g *flow.Graph) {
	t.Helper()
	if len(g.Order) != len(g.Tasks) {
		t.Fatalf("Order has %d tasks, the graph %d", len(g.Order), len(g.Tasks))
	}
	pos := make([]int, len(g.Tasks))
	for i := range pos {
		pos[i] = -1
	}
	for p, id := range g.Order {
		if id < 0 || id >= len(g.Tasks) || pos[id] >= 0 {
			t.Fatalf("Order %v is not a permutation", g.Order)
		}
		pos[id] = p
	}
	for i, gt := range g.Tasks {
		for _, u := range gt.Upstream {
			if pos[u] > pos[i] {
				t.Errorf("Order puts %s before its upstream %s", gt.Slug, g.Tasks[u].Slug)
			}
		}
		for _, d := range gt.Downstream {
			if pos[d] < pos[i] {
				t.Errorf("Order puts %s after its downstream %s", gt.Slug, g.Tasks[d].Slug)
			}
		}
	}
}

func TestGraphOrder(t *testing.T) {
	f, _ := diamond(t)
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, g)

	// Tasks added downstream-first still come out upstream-first.
	f = flow.New("reversed")
	var nodes []flow.Ref
	for range 10 {
		nodes = append(nodes, flow.Add(f, noop))
	}
	for i := len(nodes) - 1; i > 0; i-- {
		f.SetUpstream(nodes[i-1], nodes[i]) // 9 -> 8 -> ... -> 0
	}
	g, err = f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, g)
	if g.Order[0] != nodes[9].ID() || g.Order[9] != nodes[0].ID() {
		t.Errorf("Order = %v, want the reverse of the adding order", g.Order)
	}
	if !sameInts(g.Reference, []int{nodes[0].ID()}) {
		t.Errorf("Reference = %v, want the last of the chain", g.Reference)
	}
}

func TestReferenceTasks(t *testing.T) {
	f := flow.New("f")
	a := flow.Add(f, one)
	b := flow.Add(f, inc, flow.Bind("x", a))
	c := flow.Add(f, noop)
	p := flow.Parameter[int](f, "unused")

	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{b.ID(), c.ID(), p.ID()}; !sameInts(g.Reference, want) {
		t.Errorf("default Reference = %v, want every terminal task %v", g.Reference, want)
	}

	f.SetReferenceTasks(a, a, c)
	g, err = f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{a.ID(), c.ID()}; !sameInts(g.Reference, want) {
		t.Errorf("Reference = %v, want %v (deduplicated)", g.Reference, want)
	}

	f.SetReferenceTasks(b)
	g, err = f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{b.ID()}; !sameInts(g.Reference, want) {
		t.Errorf("after a second SetReferenceTasks, Reference = %v, want %v", g.Reference, want)
	}
}

func TestEmptyGraph(t *testing.T) {
	g, err := flow.New("empty").Graph()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Tasks) != 0 || len(g.Order) != 0 || len(g.Reference) != 0 {
		t.Errorf("empty Graph = %+v", g)
	}
}

// TestGraphIsSnapshot checks that adding to a flow after Graph does not
// change the graph already returned.
func TestGraphIsSnapshot(t *testing.T) {
	f := flow.New("f")
	a := flow.Add(f, one)
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	flow.Add(f, inc, flow.Bind("x", a))
	f.SetUpstream(a, flow.Add(f, noop))
	if len(g.Tasks) != 1 || len(g.Tasks[0].Upstream) != 0 || len(g.Tasks[0].Downstream) != 0 {
		t.Errorf("the earlier Graph changed: %+v", g.Tasks)
	}
}

// TestLargeChain checks that a long flow validates without deep recursion.
func TestLargeChain(t *testing.T) {
	const n = 100_000
	f := flow.New("long")
	prev := flow.Add(f, one)
	for range n - 1 {
		prev = flow.Add(f, inc, flow.Bind("x", prev))
	}
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Tasks) != n || len(g.Order) != n {
		t.Fatalf("%d tasks, %d in order", len(g.Tasks), len(g.Order))
	}
	for i, id := range g.Order {
		if id != i {
			t.Fatalf("Order[%d] = %d; a chain has one order", i, id)
		}
	}
	if !sameInts(g.Reference, []int{n - 1}) {
		t.Errorf("Reference = %v", g.Reference)
	}
	if i, ok := g.Index("inc-99999"); !ok || i != n-1 {
		t.Errorf("Index(inc-99999) = %d, %v", i, ok)
	}

	// The same length as dependency-only edges, through Chain.
	f = flow.New("chained")
	refs := make([]flow.Ref, n)
	for i := range refs {
		refs[i] = flow.Add(f, noop)
	}
	f.Chain(refs...)
	g, err = f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, g)
}

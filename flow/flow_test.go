package flow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// Input structs and tasks shared by the flow tests. Tasks are immutable, so
// one task value may be added to any number of flows.
type (
	xIn struct {
		X int `prefect:"x"`
	}
	xyIn struct {
		X int `prefect:"x"`
		Y int `prefect:"y"`
	}
	nIn struct {
		N int `prefect:"n"`
	}
	valsIn struct {
		Values []int `prefect:"values"`
	}
	optIn struct {
		X int `prefect:"x,optional"`
	}
	anyIn struct {
		V any `prefect:"v"`
	}
	stringerIn struct {
		S fmt.Stringer `prefect:"s"`
	}
)

func zero[In, Out any](context.Context, In) (Out, error) {
	var out Out
	return out, nil
}

var (
	one     = task.New("one", zero[task.None, int])
	str     = task.New("str", zero[task.None, string])
	inc     = task.New("inc", zero[xIn, int])
	add     = task.New("add", zero[xyIn, int])
	numbers = task.New("numbers", zero[nIn, []int])
	list    = task.New("list", zero[task.None, []int])
	nested  = task.New("nested", zero[task.None, [][]int])
	strs    = task.New("strs", zero[task.None, []string])
	sum     = task.New("sum", zero[valsIn, int])
	noop    = task.New("noop", zero[task.None, task.None])
	anyOut  = task.New("anyout", zero[task.None, any])
	opt     = task.New("opt", zero[optIn, int])
	anyIns  = task.New("anyin", zero[anyIn, int])
	dur     = task.New("dur", zero[task.None, time.Duration])
	stringy = task.New("stringy", zero[stringerIn, int])
)

// errorLines returns the problems a joined error reports, one per line.
// errorLines returns the text of every problem an error of Validate holds,
// each whole (with its "flow ...: " prefix, which the list's header saves
// repeating when they are printed together).
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	var m *multierror.Error
	if !errors.As(err, &m) {
		return []string{"not a *multierror.Error: " + err.Error()}
	}
	var lines []string
	for _, e := range m.WrappedErrors() {
		lines = append(lines, e.Error())
	}
	return lines
}

func TestValidateErrors(t *testing.T) {
	other := flow.New("other")
	foreign := flow.Add(other, one)
	tests := []struct {
		name  string
		build func(f *flow.Flow)
		want  []string // every problem, word for word, in order
	}{
		{"unknown input lists the valid ones", func(f *flow.Flow) {
			flow.Add(f, add, flow.Const("x", 1), flow.Const("y", 2), flow.Const("z", 3))
		}, []string{`flow "f": task "add-1": "z" is not an input of task "add"; its inputs are "x", "y"`}},
		{"unknown input of a task without inputs", func(f *flow.Flow) {
			flow.Add(f, noop, flow.Const("q", 1))
		}, []string{`flow "f": task "noop-1": "q" is not an input of task "noop"; its inputs are none`}},
		{"input bound twice", func(f *flow.Flow) {
			o := flow.Add(f, one)
			flow.Add(f, inc, flow.Const("x", 1), flow.Bind("x", o))
		}, []string{`flow "f": task "inc-1": input "x" is bound twice`}},
		{"unbound required input", func(f *flow.Flow) {
			flow.Add(f, add, flow.Const("x", 1))
		}, []string{"flow \"f\": task \"add-1\": input \"y\" is not bound; bind it, or tag the field `prefect:\"y,optional\"`"}},
		{"every unbound input", func(f *flow.Flow) {
			flow.Add(f, add)
		}, []string{
			"flow \"f\": task \"add-1\": input \"x\" is not bound; bind it, or tag the field `prefect:\"x,optional\"`",
			"flow \"f\": task \"add-1\": input \"y\" is not bound; bind it, or tag the field `prefect:\"y,optional\"`",
		}},
		{"type mismatch from a task", func(f *flow.Flow) {
			s := flow.Add(f, str)
			flow.Add(f, inc, flow.Bind("x", s))
		}, []string{`flow "f": task "inc-1": input "x" wants int, but task "str-1" gives string`}},
		{"named type is not its underlying type", func(f *flow.Flow) {
			d := flow.Add(f, dur)
			flow.Add(f, inc, flow.Bind("x", d))
		}, []string{`flow "f": task "inc-1": input "x" wants int, but task "dur-1" gives time.Duration`}},
		{"type mismatch from a constant", func(f *flow.Flow) {
			flow.Add(f, inc, flow.Const("x", "1"))
		}, []string{`flow "f": task "inc-1": input "x" wants int, but the constant gives string`}},
		{"constant missing an interface", func(f *flow.Flow) {
			flow.Add(f, stringy, flow.Const("s", 3))
		}, []string{`flow "f": task "stringy-1": input "s" wants fmt.Stringer, but the constant gives int`}},
		{"mapped binding to a non-list", func(f *flow.Flow) {
			o := flow.Add(f, one)
			flow.Map(f, inc, flow.Bind("x", o))
		}, []string{`flow "f": task "inc-1": input "x" is mapped over, but task "one-1" gives int, which is not a list`}},
		{"mapped constant that is not a list", func(f *flow.Flow) {
			flow.Map(f, inc, flow.Const("x", 3))
		}, []string{`flow "f": task "inc-1": input "x" is mapped over, but the constant gives int, which is not a list`}},
		{"mapped elements of the wrong type", func(f *flow.Flow) {
			s := flow.Add(f, strs)
			flow.Map(f, inc, flow.Bind("x", s))
		}, []string{`flow "f": task "inc-1": input "x" wants int, but task "strs-1" gives elements of type string`}},
		{"Flatten outside Map", func(f *flow.Flow) {
			n := flow.Add(f, nested)
			flow.Add(f, inc, flow.Flatten(flow.Bind("x", n)))
		}, []string{
			`flow "f": task "inc-1": input "x" uses flow.Flatten, which only applies to flow.Map`,
			`flow "f": task "inc-1": input "x" wants int, but task "nested-1" gives [][]int`,
		}},
		{"Map with every binding unmapped", func(f *flow.Flow) {
			l := flow.Add(f, list)
			flow.Map(f, sum, flow.Unmapped(flow.Bind("values", l)))
		}, []string{`flow "f": task "sum-1" is mapped but none of its inputs is mapped over; map over at least one`}},
		{"Map with no inputs", func(f *flow.Flow) {
			l := flow.Add(f, list)
			flow.Map(f, noop, flow.After(l))
		}, []string{`flow "f": task "noop-1" is mapped but none of its inputs is mapped over; map over at least one`}},
		{"binding to a node of another flow", func(f *flow.Flow) {
			flow.Add(f, inc, flow.Bind("x", foreign))
		}, []string{`flow "f": task "inc-1": task is from "other", not this flow`}},
		{"After a node of another flow", func(f *flow.Flow) {
			flow.Add(f, noop, flow.After(foreign))
		}, []string{`flow "f": task "noop-1": task is from "other", not this flow`}},
		{"zero Node", func(f *flow.Flow) {
			flow.Add(f, inc, flow.Bind("x", flow.Node[int]{}))
		}, []string{`flow "f": task "inc-1": task is from an unknown flow, not this flow`}},
		{"After nil", func(f *flow.Flow) {
			flow.Add(f, noop, flow.After(nil))
		}, []string{`flow "f": task "noop-1": a nil task`}},
		{"SetUpstream with a node of another flow", func(f *flow.Flow) {
			n := flow.Add(f, noop)
			f.SetUpstream(n, foreign)
		}, []string{`flow "f": SetUpstream: task is from "other", not this flow`}},
		{"SetReferenceTasks with a node of another flow", func(f *flow.Flow) {
			flow.Add(f, noop)
			f.SetReferenceTasks(foreign)
		}, []string{`flow "f": SetReferenceTasks: task is from "other", not this flow`}},
		{"duplicate explicit slugs", func(f *flow.Flow) {
			flow.Add(f, task.New("a", zero[task.None, int], task.WithSlug("s")))
			flow.Add(f, task.New("b", zero[task.None, int], task.WithSlug("s")))
		}, []string{`flow "f": slug "s" is used by two tasks (the 1st and the 2nd added); slugs must be unique`}},
		{"explicit slug taken by a default one", func(f *flow.Flow) {
			flow.Add(f, task.New("x", zero[xIn, int], task.WithSlug("inc-2")), flow.Const("x", 1))
			flow.Add(f, inc, flow.Const("x", 1))
			flow.Add(f, inc, flow.Const("x", 1))
		}, []string{`flow "f": slug "inc-2" is used by two tasks (the 1st and the 3rd added); slugs must be unique`}},
		{"duplicate parameter names", func(f *flow.Flow) {
			flow.Parameter(f, "n", flow.WithDefault(1))
			flow.Parameter[string](f, "n")
		}, []string{
			`flow "f": parameter "n" is declared twice`,
			`flow "f": slug "n" is used by two tasks (the 1st and the 2nd added); slugs must be unique`,
		}},
		{"parameter without a name", func(f *flow.Flow) {
			flow.Parameter[int](f, "")
		}, []string{`flow "f": a parameter needs a name`}},
		{"parameter with an upstream", func(f *flow.Flow) {
			p := flow.Parameter[int](f, "n")
			o := flow.Add(f, one)
			n := flow.Add(f, noop)
			f.SetUpstream(p, o)
			f.SetUpstream(p, n)
		}, []string{`flow "f": parameter "n" has upstream tasks ("one-1", "noop-1"); parameters must be root tasks`}},
		{"task option error", func(f *flow.Flow) {
			flow.Add(f, task.New("bad", zero[task.None, int], task.WithMaxRetries(2)))
		}, []string{"flow \"f\": task \"bad\": A time.Duration `retry_delay` must be provided if max_retries > 0"}},
		{"a task's two option errors are two problems", func(f *flow.Flow) {
			flow.Add(f, task.New("bad", zero[task.None, int], task.WithMaxRetries(2), task.WithTimeout(-time.Second)))
		}, []string{
			"flow \"f\": task \"bad\": A time.Duration `retry_delay` must be provided if max_retries > 0",
			`flow "f": task "bad": timeout is -1s; it must be positive, or 0 for none`,
		}},
		{"task input struct error", func(f *flow.Flow) {
			flow.Add(f, task.New("scalar", zero[int, int]))
		}, []string{`flow "f": task "scalar": input type int is not a struct; use a struct with one field per input, or task.None`}},
		{"AddRunnable promising the wrong type", func(f *flow.Flow) {
			flow.AddRunnable[string](f, one)
		}, []string{`flow "f": task "one-1" gives int, not the string its node promises`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flow.New("f")
			tc.build(f)
			err := f.Validate()
			got := errorLines(err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Validate() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			g, gerr := f.Graph()
			if g != nil || gerr == nil {
				t.Errorf("Graph() = %v, %v; want nil and an error", g, gerr)
			}
		})
	}
}

// TestValidateFlattenOfFlatList checks the error for flattening a list that
// is not a list of lists names the type the upstream task really gives.
func TestValidateFlattenOfFlatList(t *testing.T) {
	f := flow.New("f")
	l := flow.Add(f, list)
	flow.Map(f, inc, flow.Flatten(flow.Bind("x", l)))
	err := f.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; flattening a []int must be an error")
	}
	for _, want := range []string{`task "inc-1"`, `input "x"`, `task "list-1"`, "[]int"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q\nwant it to mention %s", err, want)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	f := flow.New("f")
	s := flow.Add(f, str)
	flow.Add(f, inc, flow.Bind("x", s))                                                // wrong type
	flow.Add(f, add, flow.Const("x", 1))                                               // y unbound
	flow.Add(f, task.New("bad", zero[task.None, int], task.WithTimeout(-time.Second))) // bad option
	flow.Add(f, noop, flow.Const("nope", true))                                        // unknown input
	err := f.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	var multi *multierror.Error
	if !errors.As(err, &multi) {
		t.Fatalf("Validate() = %T; want a *multierror.Error", err)
	}
	if n := len(multi.WrappedErrors()); n != 4 {
		t.Errorf("Validate() reports %d problems, want 4:\n%v", n, err)
	}
	if header := `4 problems in flow "f":`; !strings.HasPrefix(err.Error(), header+"\n\t- ") {
		t.Errorf("Validate() does not begin with %q:\n%v", header, err)
	}
	for _, want := range []string{`task "inc-1": input "x"`, `task "add-1": input "y"`, `task "bad": timeout`, `task "noop-1": "nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() does not mention %s:\n%v", want, err)
		}
	}
	if err2 := f.Validate(); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("a second Validate() gave %v", err2)
	}
}

func TestValidateOptionErrorMatches(t *testing.T) {
	f := flow.New("f")
	flow.Add(f, task.New("r", zero[task.None, int], task.WithRetryDelay(time.Second)))
	flow.Add(f, task.New("d", zero[task.None, int], task.WithMaxRetries(1)))
	err := f.Validate()
	if !errors.Is(err, task.ErrMaxRetriesRequired) || !errors.Is(err, task.ErrRetryDelayRequired) {
		t.Errorf("Validate() = %v; want it to match both retry sentinels", err)
	}
}

// errors.Is and errors.As reach every problem of the list, the last one
// included, through the error Validate returns.
func TestValidateMatchesEveryProblem(t *testing.T) {
	f := flow.New("f")
	flow.Add(f, task.New("d", zero[task.None, int], task.WithMaxRetries(1))) // first: an option
	a := flow.Add(f, noop)
	b := flow.Add(f, noop)
	f.SetUpstream(a, b)
	f.SetUpstream(b, a) // last: a cycle
	err := f.Validate()
	for _, target := range []error{task.ErrRetryDelayRequired, flow.ErrCycle} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(Validate(), %v) = false; err:\n%v", target, err)
		}
	}
	var m *multierror.Error
	if !errors.As(err, &m) || len(m.Errors) != 2 {
		t.Fatalf("Validate() = %v; want a *multierror.Error of 2", err)
	}
	want := "2 problems in flow \"f\":\n\t- task \"d\": " + task.ErrRetryDelayRequired.Error() +
		"\n\t- Cycle found; flows must be acyclic! Tasks on or behind a cycle: \"noop-1\", \"noop-2\""
	if err.Error() != want {
		t.Errorf("Validate() =\n%s\nwant\n%s", err, want)
	}
}

func TestFlowWithoutName(t *testing.T) {
	f := flow.New("")
	flow.Add(f, one)
	err := f.Validate()
	if err == nil || err.Error() != "a flow needs a name" {
		t.Errorf("Validate() = %v, want %q", err, "a flow needs a name")
	}
	flow.Add(f, inc) // two problems: the list names no flow
	want := "2 problems in a flow with no name:\n\t- a flow needs a name\n\t- flow \"\": task \"inc-1\": input \"x\" is not bound"
	if err := f.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Validate() = %v, want it to begin %q", err, want)
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name  string
		build func(f *flow.Flow)
	}{
		{"empty flow", func(f *flow.Flow) {}},
		{"data edge", func(f *flow.Flow) {
			o := flow.Add(f, one)
			flow.Add(f, inc, flow.Bind("x", o))
		}},
		{"parameter feeding a task", func(f *flow.Flow) {
			n := flow.Parameter(f, "n", flow.WithDefault(3))
			flow.Add(f, numbers, flow.Bind("n", n))
		}},
		{"optional input left unbound", func(f *flow.Flow) { flow.Add(f, opt) }},
		{"optional input bound", func(f *flow.Flow) { flow.Add(f, opt, flow.Const("x", 2)) }},
		{"constant of the input's type", func(f *flow.Flow) { flow.Add(f, add, flow.Const("x", 1), flow.Const("y", 2)) }},
		{"any-typed source is checked at run time", func(f *flow.Flow) {
			a := flow.Add(f, anyOut)
			flow.Add(f, inc, flow.Bind("x", a))
			flow.Map(f, inc, flow.Bind("x", a))
			flow.Map(f, inc, flow.Flatten(flow.Bind("x", a)))
		}},
		{"anything fits an any input", func(f *flow.Flow) {
			s := flow.Add(f, str)
			flow.Add(f, anyIns, flow.Bind("v", s))
		}},
		{"a value implementing an interface input", func(f *flow.Flow) {
			d := flow.Add(f, dur)
			flow.Add(f, stringy, flow.Bind("s", d))
		}},
		{"Map with an unmapped binding", func(f *flow.Flow) {
			l := flow.Add(f, list)
			o := flow.Add(f, one)
			flow.Map(f, add, flow.Bind("x", l), flow.Unmapped(flow.Bind("y", o)))
			flow.Map(f, add, flow.Bind("x", l), flow.Unmapped(flow.Const("y", 10)))
		}},
		{"Map over a mapped task", func(f *flow.Flow) {
			l := flow.Add(f, list)
			sq := flow.Map(f, inc, flow.Bind("x", l))
			flow.Map(f, inc, flow.Bind("x", sq))
			flow.Add(f, sum, flow.Bind("values", sq))
		}},
		{"Map over constant lists and arrays", func(f *flow.Flow) {
			flow.Map(f, inc, flow.Const("x", []int{1, 2, 3}))
			flow.Map(f, inc, flow.Const("x", [3]int{1, 2, 3}))
		}},
		{"Flatten a list of lists", func(f *flow.Flow) {
			n := flow.Add(f, nested)
			flow.Map(f, inc, flow.Flatten(flow.Bind("x", n)))
		}},
		{"After and SetUpstream", func(f *flow.Flow) {
			a := flow.Add(f, noop)
			b := flow.Add(f, noop, flow.After(a))
			c := flow.Add(f, noop)
			f.SetUpstream(c, b)
			f.SetDownstream(a, c)
			f.Chain(a, b, c)
		}},
		{"zero Binding is ignored", func(f *flow.Flow) {
			flow.Add(f, noop, flow.Binding{}, flow.After())
		}},
		{"same task many times", func(f *flow.Flow) {
			for range 5 {
				flow.Add(f, one)
			}
		}},
		{"parameter used by many tasks", func(f *flow.Flow) {
			n := flow.Parameter[int](f, "n")
			flow.Add(f, inc, flow.Bind("x", n))
			flow.Add(f, numbers, flow.Bind("n", n))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flow.New("ok")
			tc.build(f)
			if err := f.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name  string
		build func(f *flow.Flow, n []flow.Node[task.None])
		// onCycle must be named; offCycle must not be.
		onCycle, offCycle []int
	}{
		{"self loop", func(f *flow.Flow, n []flow.Node[task.None]) {
			f.SetUpstream(n[0], n[0])
		}, []int{0}, []int{1, 2}},
		{"two tasks via Chain and SetUpstream", func(f *flow.Flow, n []flow.Node[task.None]) {
			f.Chain(n[0], n[1])
			f.SetUpstream(n[0], n[1])
		}, []int{0, 1}, []int{2, 3}},
		{"cycle with tasks before and after it", func(f *flow.Flow, n []flow.Node[task.None]) {
			f.Chain(n[0], n[1], n[2], n[3], n[1]) // 0 -> [1 -> 2 -> 3 -> 1]
			f.Chain(n[3], n[4], n[5])             // downstream of the cycle
		}, []int{1, 2, 3}, []int{0, 4, 5}},
		{"two cycles and the task between them", func(f *flow.Flow, n []flow.Node[task.None]) {
			f.Chain(n[0], n[1], n[0]) // first cycle
			f.Chain(n[1], n[2])       // 2 leads from the first cycle
			f.Chain(n[2], n[3], n[4], n[3])
			f.Chain(n[4], n[5]) // 5 is only downstream
		}, []int{0, 1, 2, 3, 4}, []int{5}},
		{"cycle via SetDownstream", func(f *flow.Flow, n []flow.Node[task.None]) {
			f.SetDownstream(n[2], n[3])
			f.SetDownstream(n[3], n[2])
		}, []int{2, 3}, []int{0, 1, 4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flow.New("cyc")
			var n []flow.Node[task.None]
			for range 6 {
				n = append(n, flow.Add(f, noop))
			}
			tc.build(f, n)
			err := f.Validate()
			if !errors.Is(err, flow.ErrCycle) {
				t.Fatalf("Validate() = %v; want it to match flow.ErrCycle", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "Cycle found; flows must be acyclic!") {
				t.Errorf("Validate() = %q; want Prefect's cycle message", msg)
			}
			for _, i := range tc.onCycle {
				if !strings.Contains(msg, fmt.Sprintf("%q", n[i].Slug())) {
					t.Errorf("Validate() = %q; want it to name %s, which is on a cycle", msg, n[i].Slug())
				}
			}
			for _, i := range tc.offCycle {
				if strings.Contains(msg, fmt.Sprintf("%q", n[i].Slug())) {
					t.Errorf("Validate() = %q; it names %s, which is not on a cycle", msg, n[i].Slug())
				}
			}
		})
	}
}

func TestCycleMessage(t *testing.T) {
	f := flow.New("cyc")
	a := flow.Add(f, noop)
	b := flow.Add(f, noop)
	f.Chain(b, a, b)
	want := `flow "cyc": Cycle found; flows must be acyclic! Tasks on or behind a cycle: "noop-1", "noop-2"`
	if err := f.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

func TestCycleWithDataEdges(t *testing.T) {
	f := flow.New("cyc")
	a := flow.Add(f, one)
	b := flow.Add(f, inc, flow.Bind("x", a))
	f.SetUpstream(a, b)
	if err := f.Validate(); !errors.Is(err, flow.ErrCycle) ||
		!strings.Contains(err.Error(), `"one-1", "inc-1"`) {
		t.Errorf("Validate() = %v; want a cycle through one-1 and inc-1", err)
	}
}

// TestBigCycle checks a cycle through many tasks is found without recursion
// and reported without listing every task.
func TestBigCycle(t *testing.T) {
	const n = 100_000
	f := flow.New("big")
	nodes := make([]flow.Ref, n)
	for i := range nodes {
		nodes[i] = flow.Add(f, noop)
	}
	f.Chain(nodes...)
	f.SetUpstream(nodes[0], nodes[n-1])
	err := f.Validate()
	if !errors.Is(err, flow.ErrCycle) {
		t.Fatalf("Validate() = %v, want a cycle", err)
	}
	if !strings.Contains(err.Error(), `"noop-1", "noop-2"`) || !strings.HasSuffix(err.Error(), "and 99980 more") {
		t.Errorf("Validate() = %.300s...; want 20 slugs and %q", err, "and 99980 more")
	}
	if len(err.Error()) > 1000 {
		t.Errorf("the cycle error is %d bytes long", len(err.Error()))
	}
}

func TestDefaultSlugs(t *testing.T) {
	f := flow.New("f")
	a := flow.Add(f, one)
	b := flow.Add(f, inc, flow.Bind("x", a))
	c := flow.Add(f, one)
	d := flow.Map(f, inc, flow.Const("x", []int{1}))
	e := flow.Add(f, task.New("one", zero[task.None, int])) // another task with the same name
	s := flow.Add(f, task.New("one", zero[task.None, int], task.WithSlug("custom")))
	g := flow.Add(f, one) // an explicit slug does not use up a number
	p := flow.Parameter[int](f, "one")
	tests := []struct {
		ref  interface{ Slug() string }
		want string
	}{
		{a, "one-1"}, {b, "inc-1"}, {c, "one-2"}, {d, "inc-2"}, {e, "one-3"},
		{s, "custom"}, {g, "one-4"}, {p, "one"},
	}
	for i, tc := range tests {
		if got := tc.ref.Slug(); got != tc.want {
			t.Errorf("node %d: Slug() = %q, want %q", i, got, tc.want)
		}
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	// Slugs are per flow: the same task starts again at 1 in another flow.
	f2 := flow.New("f2")
	if got := flow.Add(f2, one).Slug(); got != "one-1" {
		t.Errorf("first one in another flow: Slug() = %q, want one-1", got)
	}
	if got := (flow.Node[int]{}).Slug(); got != "" {
		t.Errorf("zero Node: Slug() = %q, want empty", got)
	}
}

func TestNodeIDsAndLen(t *testing.T) {
	f := flow.New("f")
	if f.Name() != "f" || f.Len() != 0 {
		t.Fatalf("New: Name, Len = %q, %d", f.Name(), f.Len())
	}
	p := flow.Parameter(f, "n", flow.WithDefault(2))
	a := flow.Add(f, numbers, flow.Bind("n", p))
	m := flow.Map(f, inc, flow.Bind("x", a))
	if p.ID() != 0 || a.ID() != 1 || m.ID() != 2 {
		t.Errorf("IDs = %d, %d, %d; want 0, 1, 2", p.ID(), a.ID(), m.ID())
	}
	if f.Len() != 3 {
		t.Errorf("Len() = %d, want 3", f.Len())
	}
	// A mapped node's result is a list of the task's results.
	var _ flow.Node[[]int] = m
}

func TestCaseWiring(t *testing.T) {
	f := flow.New("branch")
	flag := flow.Parameter(f, "flag", flow.WithDefault(true))
	yes := flow.Case(f, flag, true)
	no := flow.Case(f, flag, false)
	a := flow.Add(f, one, flow.After(yes))
	b := flow.Add(f, one, flow.After(no))
	m := flow.Merge(f, a, b)
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if yes.Slug() != "case(true)-1" || no.Slug() != "case(false)-1" || m.Slug() != "Merge-1" {
		t.Errorf("slugs = %q, %q, %q", yes.Slug(), no.Slug(), m.Slug())
	}

	c := g.Tasks[yes.ID()]
	if c.Spec.Name != "case(true)" || c.Spec.Output.String() != "bool" {
		t.Errorf("case task: name %q, output %v", c.Spec.Name, c.Spec.Output)
	}
	if len(c.Spec.Inputs) != 1 || c.Spec.Inputs[0].Name != "value" || c.Spec.Inputs[0].Type.String() != "bool" {
		t.Errorf("case task inputs = %+v, want one bool called value", c.Spec.Inputs)
	}
	if len(c.Inputs) != 1 || c.Inputs[0] != (flow.InputEdge{Key: "value", Index: 0, From: flag.ID()}) {
		t.Errorf("case task edges = %+v, want value bound to the flag", c.Inputs)
	}
	if !c.Spec.Trigger.IsAllSuccessful() || !c.Spec.SkipOnUpstreamSkip {
		t.Errorf("case task: trigger %v, skip on upstream skip %v", c.Spec.Trigger, c.Spec.SkipOnUpstreamSkip)
	}
	ctx := context.Background()
	if out, err := c.Task.Call(ctx, []any{true}); err != nil || out != true {
		t.Errorf("case(true) on true = %v, %v; want true", out, err)
	}
	_, err = c.Task.Call(ctx, []any{false})
	if sig, ok := task.AsSignal(err); !ok || sig.Kind.String() != "Skipped" {
		t.Errorf("case(true) on false = %v; want a Skip signal", err)
	}
	if !sameInts(g.Tasks[a.ID()].Upstream, []int{yes.ID()}) || !sameInts(g.Tasks[b.ID()].Upstream, []int{no.ID()}) {
		t.Errorf("branch upstreams = %v, %v", g.Tasks[a.ID()].Upstream, g.Tasks[b.ID()].Upstream)
	}

	mt := g.Tasks[m.ID()]
	if mt.Spec.Name != "Merge" || mt.Spec.Output.String() != "int" {
		t.Errorf("merge task: name %q, output %v", mt.Spec.Name, mt.Spec.Output)
	}
	if mt.Spec.Trigger.Name() != "not_all_skipped" || mt.Spec.SkipOnUpstreamSkip {
		t.Errorf("merge task: trigger %v, skip on upstream skip %v; want not_all_skipped, false",
			mt.Spec.Trigger, mt.Spec.SkipOnUpstreamSkip)
	}
	if len(mt.Spec.Inputs) != 2 {
		t.Fatalf("merge inputs = %+v", mt.Spec.Inputs)
	}
	for i, in := range mt.Spec.Inputs {
		if want := fmt.Sprintf("task%d", i+1); in.Name != want || !in.Optional || in.Type.String() != "int" {
			t.Errorf("merge input %d = %+v, want optional int %s", i, in, want)
		}
	}
	wantEdges := []flow.InputEdge{{Key: "task1", Index: 0, From: a.ID()}, {Key: "task2", Index: 1, From: b.ID()}}
	if len(mt.Inputs) != 2 || mt.Inputs[0] != wantEdges[0] || mt.Inputs[1] != wantEdges[1] {
		t.Errorf("merge edges = %+v, want %+v", mt.Inputs, wantEdges)
	}
	if out, err := mt.Task.Call(ctx, []any{nil, 7}); err != nil || out != 7 {
		t.Errorf("merge of (skipped, 7) = %v, %v; want 7", out, err)
	}
	if out, err := mt.Task.Call(ctx, []any{3, 7}); err != nil || out != 3 {
		t.Errorf("merge of (3, 7) = %v, %v; want the first, 3", out, err)
	}
	if out, err := mt.Task.Call(ctx, []any{nil, nil}); err != nil || out != 0 {
		t.Errorf("merge of nothing = %v, %v; want the zero value", out, err)
	}
}

func TestCaseOnString(t *testing.T) {
	f := flow.New("f")
	s := flow.Add(f, str)
	c := flow.Case(f, s, "go")
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	ct := g.Tasks[c.ID()]
	if c.Slug() != "case(go)-1" || ct.Spec.Inputs[0].Type.String() != "string" {
		t.Errorf("slug %q, input %+v", c.Slug(), ct.Spec.Inputs[0])
	}
	if out, err := ct.Task.Call(context.Background(), []any{"go"}); err != nil || out != true {
		t.Errorf("case(go) on go = %v, %v", out, err)
	}
	if _, err := ct.Task.Call(context.Background(), []any{"no"}); err == nil {
		t.Error("case(go) on no did not skip")
	}
}

func TestParameterRunsNothing(t *testing.T) {
	f := flow.New("f")
	p := flow.Parameter(f, "n", flow.WithDefault(5))
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	pt := g.Tasks[p.ID()]
	if pt.Param == nil || pt.Param.Name != "n" || !pt.Param.HasDefault || pt.Param.Default != 5 || pt.Param.Type.String() != "int" {
		t.Errorf("Param = %+v", pt.Param)
	}
	if pt.Slug != "n" || pt.Spec.Name != "n" || pt.Spec.Output.String() != "int" {
		t.Errorf("parameter task: slug %q, name %q, output %v", pt.Slug, pt.Spec.Name, pt.Spec.Output)
	}
	if _, err := pt.Task.Call(context.Background(), nil); err == nil || !strings.Contains(err.Error(), `parameter "n"`) {
		t.Errorf("calling a parameter task = %v; want an error naming it", err)
	}
	q := flow.Parameter[string](f, "q")
	g, err = f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if qp := g.Tasks[q.ID()].Param; qp.HasDefault || qp.Default != nil {
		t.Errorf("a parameter without Default: %+v", qp)
	}
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

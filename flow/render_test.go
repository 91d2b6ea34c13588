package flow_test

import (
	"strings"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// Distinctive values that must never appear in a rendering.
const (
	secretConst   = "SECRET-CONST-8c1f"
	secretDefault = 73313
)

type squareIn struct {
	X   int    `prefect:"x"`
	Key string `prefect:"key"`
}

// renderFlow has a parameter, a mapped edge, an unmapped constant, a data
// edge and a dependency-only edge.
func renderFlow() *flow.Flow {
	f := flow.New("render")
	n := flow.Parameter(f, "n", flow.WithDefault(secretDefault))
	nums := flow.Add(f, numbers, flow.Bind("n", n))
	sq := flow.Map(f, task.New("square", zero[squareIn, int]), flow.Bind("x", nums), flow.Unmapped(flow.Const("key", secretConst)))
	clean := flow.Add(f, task.New("cleanup", zero[task.None, task.None]))
	flow.Add(f, sum, flow.Bind("values", sq), flow.After(clean))
	return f
}

func TestDOT(t *testing.T) {
	f := renderFlow()
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	want := `digraph "render" {
  "n" [label="n", shape=ellipse];
  "numbers-1" [label="numbers", shape=box];
  "square-1" [label="square <map>", shape=box];
  "cleanup-1" [label="cleanup", shape=box];
  "sum-1" [label="sum", shape=box];
  "n" -> "numbers-1" [label="n"];
  "numbers-1" -> "square-1" [label="x", style=dashed];
  "square-1" -> "sum-1" [label="values"];
  "cleanup-1" -> "sum-1" [style=dotted];
}
`
	if got := f.DOT(); got != want {
		t.Errorf("DOT() =\n%s\nwant\n%s", got, want)
	}
}

func TestMermaid(t *testing.T) {
	f := renderFlow()
	want := `flowchart TD
  t0(["n: n"])
  t1["numbers-1: numbers"]
  t2["square-1: square ⟨map⟩"]
  t3["cleanup-1: cleanup"]
  t4["sum-1: sum"]
  t0 -->|"n"| t1
  t1 ==>|"x"| t2
  t2 -->|"values"| t4
  t3 -.-> t4
`
	if got := f.Mermaid(); got != want {
		t.Errorf("Mermaid() =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderHidesValues(t *testing.T) {
	f := renderFlow()
	for name, out := range map[string]string{"DOT": f.DOT(), "Mermaid": f.Mermaid()} {
		if strings.Contains(out, secretConst) {
			t.Errorf("%s shows a constant's value:\n%s", name, out)
		}
		if strings.Contains(out, "73313") {
			t.Errorf("%s shows a parameter's default:\n%s", name, out)
		}
		if strings.Contains(out, "key") {
			t.Errorf("%s draws an edge for a constant input:\n%s", name, out)
		}
	}
}

type pipeIn struct {
	V int `prefect:"a|b"`
}

func TestRenderQuoting(t *testing.T) {
	f := flow.New("say \"hi\"\nnow")
	src := flow.Add(f, task.New(`back\slash "q"`+"\nline", zero[task.None, int]))
	flow.Add(f, task.New("pipe|name", zero[pipeIn, int]), flow.Bind("a|b", src))
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	wantDOT := `digraph "say \"hi\"\nnow" {
  "back\\slash \"q\"\nline-1" [label="back\\slash \"q\"\nline", shape=box];
  "pipe|name-1" [label="pipe|name", shape=box];
  "back\\slash \"q\"\nline-1" -> "pipe|name-1" [label="a|b"];
}
`
	if got := f.DOT(); got != wantDOT {
		t.Errorf("DOT() =\n%s\nwant\n%s", got, wantDOT)
	}
	wantMermaid := `flowchart TD
  t0["back\slash #quot;q#quot; line-1: back\slash #quot;q#quot; line"]
  t1["pipe#124;name-1: pipe#124;name"]
  t0 -->|"a#124;b"| t1
`
	if got := f.Mermaid(); got != wantMermaid {
		t.Errorf("Mermaid() =\n%s\nwant\n%s", got, wantMermaid)
	}
	// Whatever the names, every node and edge stays on one line.
	for _, tc := range []struct {
		name  string
		out   string
		lines int
	}{{"DOT", f.DOT(), 5}, {"Mermaid", f.Mermaid(), 4}} {
		if got := strings.Count(tc.out, "\n"); got != tc.lines {
			t.Errorf("%s has %d lines, want %d:\n%s", tc.name, got, tc.lines, tc.out)
		}
	}
}

// TestRenderInvalidFlow checks an invalid flow still renders, so that a
// cycle can be looked at.
func TestRenderInvalidFlow(t *testing.T) {
	f := flow.New("cyc")
	a := flow.Add(f, noop)
	b := flow.Add(f, noop)
	f.Chain(a, b, a)
	flow.Add(f, inc, flow.Const("x", "wrong type"))
	if f.Validate() == nil {
		t.Fatal("the flow should be invalid")
	}
	wantDOT := `digraph "cyc" {
  "noop-1" [label="noop", shape=box];
  "noop-2" [label="noop", shape=box];
  "inc-1" [label="inc", shape=box];
  "noop-2" -> "noop-1" [style=dotted];
  "noop-1" -> "noop-2" [style=dotted];
}
`
	if got := f.DOT(); got != wantDOT {
		t.Errorf("DOT() =\n%s\nwant\n%s", got, wantDOT)
	}
	wantMermaid := `flowchart TD
  t0["noop-1: noop"]
  t1["noop-2: noop"]
  t2["inc-1: inc"]
  t1 -.-> t0
  t0 -.-> t1
`
	if got := f.Mermaid(); got != wantMermaid {
		t.Errorf("Mermaid() =\n%s\nwant\n%s", got, wantMermaid)
	}
}

func TestRenderEmptyFlow(t *testing.T) {
	f := flow.New("empty")
	if got, want := f.DOT(), "digraph \"empty\" {\n}\n"; got != want {
		t.Errorf("DOT() = %q, want %q", got, want)
	}
	if got, want := f.Mermaid(), "flowchart TD\n"; got != want {
		t.Errorf("Mermaid() = %q, want %q", got, want)
	}
}

package flow_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// A flow is built with function calls: Parameter and Add return nodes that
// later bindings refer to; Map runs a task once per element of a list.
func Example() {
	type countIn struct {
		N int `prefect:"n"`
	}
	type squareIn struct {
		X int `prefect:"x"`
	}
	type totalIn struct {
		Values []int `prefect:"values"`
	}
	count := task.New("count", func(ctx context.Context, in countIn) ([]int, error) {
		out := make([]int, in.N)
		for i := range out {
			out[i] = i + 1
		}
		return out, nil
	})
	square := task.New("square", func(ctx context.Context, in squareIn) (int, error) {
		return in.X * in.X, nil
	})
	total := task.New("total", func(ctx context.Context, in totalIn) (int, error) {
		s := 0
		for _, v := range in.Values {
			s += v
		}
		return s, nil
	})
	cleanup := task.New("cleanup", func(ctx context.Context, _ task.None) (task.None, error) {
		return task.None{}, nil
	})

	f := flow.New("squares")
	n := flow.Parameter(f, "n", flow.WithDefault(3))
	nums := flow.Add(f, count, flow.Bind("n", n))
	sq := flow.Map(f, square, flow.Bind("x", nums))
	done := flow.Add(f, cleanup)
	flow.Add(f, total, flow.Bind("values", sq), flow.After(done))

	if err := f.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(f.Mermaid())
	// Output:
	// flowchart TD
	//   t0(["n: n"])
	//   t1["count-1: count"]
	//   t2["square-1: square ⟨map⟩"]
	//   t3["cleanup-1: cleanup"]
	//   t4["total-1: total"]
	//   t0 -->|"n"| t1
	//   t1 ==>|"x"| t2
	//   t2 -->|"values"| t4
	//   t3 -.-> t4
}

// Validate reports every problem at once, each naming the task and input.
func ExampleFlow_Validate() {
	type addIn struct {
		X int `prefect:"x"`
		Y int `prefect:"y"`
	}
	add := task.New("add", func(ctx context.Context, in addIn) (int, error) {
		return in.X + in.Y, nil
	})
	name := task.New("name", func(ctx context.Context, _ task.None) (string, error) {
		return "gopher", nil
	})

	f := flow.New("sums")
	s := flow.Add(f, name)
	flow.Add(f, add, flow.Bind("x", s))                      // a string for an int; y unbound
	flow.Add(f, add, flow.Const("x", 1), flow.Const("z", 2)) // no input z; y unbound

	fmt.Println(f.Validate())
	// Output:
	// 4 problems in flow "sums":
	//	- task "add-1": input "x" wants int, but task "name-1" gives string
	//	- task "add-1": input "y" is not bound; bind it, or tag the field `prefect:"y,optional"`
	//	- task "add-2": "z" is not an input of task "add"; its inputs are "x", "y"
	//	- task "add-2": input "y" is not bound; bind it, or tag the field `prefect:"y,optional"`
}

// A cycle is reported with the tasks on it and matches ErrCycle.
func ExampleErrCycle() {
	step := task.New("step", func(ctx context.Context, _ task.None) (task.None, error) {
		return task.None{}, nil
	})
	f := flow.New("loop")
	a := flow.Add(f, step)
	b := flow.Add(f, step)
	c := flow.Add(f, step)
	f.Chain(a, b, a)
	f.SetUpstream(c, b) // downstream of the cycle, not on it

	err := f.Validate()
	fmt.Println(errors.Is(err, flow.ErrCycle))
	fmt.Println(err)
	// Output:
	// true
	// flow "loop": Cycle found; flows must be acyclic! Tasks on or behind a cycle: "step-1", "step-2"
}

// Case starts a branch that is skipped unless its condition has the given
// value; Merge joins branches, taking the result of the one that ran.
func ExampleCase() {
	type textIn struct {
		Text string `prefect:"text"`
	}
	shout := task.New("shout", func(ctx context.Context, in textIn) (string, error) {
		return in.Text + "!", nil
	})
	whisper := task.New("whisper", func(ctx context.Context, in textIn) (string, error) {
		return "(" + in.Text + ")", nil
	})

	f := flow.New("tone")
	loud := flow.Parameter(f, "loud", flow.WithDefault(true))
	text := flow.Parameter(f, "text", flow.WithDefault("hello"))
	yes := flow.Case(f, loud, true)
	a := flow.Add(f, shout, flow.Bind("text", text), flow.After(yes))
	no := flow.Case(f, loud, false)
	b := flow.Add(f, whisper, flow.Bind("text", text), flow.After(no))
	flow.Merge(f, a, b)

	fmt.Print(f.DOT())
	// Output:
	// digraph "tone" {
	//   "loud" [label="loud", shape=ellipse];
	//   "text" [label="text", shape=ellipse];
	//   "case(true)-1" [label="case(true)", shape=box];
	//   "shout-1" [label="shout", shape=box];
	//   "case(false)-1" [label="case(false)", shape=box];
	//   "whisper-1" [label="whisper", shape=box];
	//   "Merge-1" [label="Merge", shape=box];
	//   "loud" -> "case(true)-1" [label="value"];
	//   "text" -> "shout-1" [label="text"];
	//   "case(true)-1" -> "shout-1" [style=dotted];
	//   "loud" -> "case(false)-1" [label="value"];
	//   "text" -> "whisper-1" [label="text"];
	//   "case(false)-1" -> "whisper-1" [style=dotted];
	//   "shout-1" -> "Merge-1" [label="task1"];
	//   "whisper-1" -> "Merge-1" [label="task2"];
	// }
}

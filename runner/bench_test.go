package runner_test

// Performance benchmarks of the runner on no-op tasks, beside a minimal
// hand-written executor over the same graph shapes (the floor).
//
//	go test -run '^$' -bench 'Engine|Baseline' -benchtime=3x ./runner/
//	go test -run '^$' -bench Million -benchtime=1x ./runner/
//
// Every benchmark reports, per task run (one call of a task function):
// ns/task, B/task and allocs/task. The flow is built and validated once,
// outside the timed loop (a flow keeps its validated graph until it changes);
// each iteration is one whole runner.Run.
//
// Shapes, for n nodes:
//   - chain: task i takes the result of task i-1 (n tasks);
//   - fanout: one root, n children taking the root's result (n+1 tasks);
//   - map: a task returning a []int of n elements, and flow.Map of a no-op
//     task over it (n+1 task runs: the list and n children);
//   - grid: 100 wide, n/100 layers deep; task (l, i) takes the results of
//     (l-1, i) and (l-1, (i+1) mod 100) (n tasks).

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

var (
	benchShapes = []string{"chain", "fanout", "map", "grid"}
	benchSizes  = []int{10_000, 100_000}
)

const benchGridWidth = 100

// ---- engine flows ----

type benchOne struct {
	X int `prefect:"x"`
}

type benchTwo struct {
	A int `prefect:"a"`
	B int `prefect:"b"`
}

var (
	benchRoot = task.New("root", func(context.Context, task.None) (int, error) { return 0, nil })
	benchOp1  = task.New("op1", func(context.Context, benchOne) (int, error) { return 0, nil })
	benchOp2  = task.New("op2", func(context.Context, benchTwo) (int, error) { return 0, nil })
)

func benchList(n int) *task.Task[task.None, []int] {
	return task.New("list", func(context.Context, task.None) ([]int, error) {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	})
}

// benchFlow returns the flow of shape with n nodes and the number of task
// runs a run of it makes.
func benchFlow(shape string, n int) (*flow.Flow, int) {
	f := flow.New("bench-" + shape)
	switch shape {
	case "chain":
		prev := flow.Add(f, benchRoot)
		for i := 1; i < n; i++ {
			prev = flow.Add(f, benchOp1, flow.Bind("x", prev))
		}
		return f, n
	case "fanout":
		root := flow.Add(f, benchRoot)
		for range n {
			flow.Add(f, benchOp1, flow.Bind("x", root))
		}
		return f, n + 1
	case "map":
		list := flow.Add(f, benchList(n))
		flow.Map(f, benchOp1, flow.Bind("x", list))
		return f, n + 1
	case "grid":
		prev := make([]flow.Node[int], benchGridWidth)
		for i := range prev {
			prev[i] = flow.Add(f, benchRoot)
		}
		next := make([]flow.Node[int], benchGridWidth)
		for range n/benchGridWidth - 1 {
			for i := range next {
				next[i] = flow.Add(f, benchOp2, flow.Bind("a", prev[i]), flow.Bind("b", prev[(i+1)%benchGridWidth]))
			}
			prev, next = next, prev
		}
		return f, n / benchGridWidth * benchGridWidth
	}
	panic("unknown shape " + shape)
}

func benchExecutor(name string) runner.Executor {
	if name == "parallel" {
		return runner.Parallel(0)
	}
	return runner.Local()
}

// benchMeasure times b.N calls of run and reports the per-task metrics.
func benchMeasure(b *testing.B, tasks int, run func() bool) {
	b.Helper()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for range b.N {
		if !run() {
			b.Fatal("the run did not succeed")
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	per := float64(b.N) * float64(tasks)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/task")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/per, "B/task")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/per, "allocs/task")
}

func benchRun(b *testing.B, f *flow.Flow, ex runner.Executor) bool {
	fs, err := runner.Run(context.Background(), f, runner.WithExecutor(ex))
	if err != nil {
		b.Fatal(err)
	}
	if fs.Kind != state.Success {
		b.Logf("flow state: %v", fs.State)
		return false
	}
	return true
}

func BenchmarkEngine(b *testing.B) {
	for _, shape := range benchShapes {
		b.Run(shape, func(b *testing.B) {
			for _, n := range benchSizes {
				b.Run(fmt.Sprint(n), func(b *testing.B) {
					f, tasks := benchFlow(shape, n)
					if err := f.Validate(); err != nil {
						b.Fatal(err)
					}
					for _, ex := range []string{"local", "parallel"} {
						b.Run(ex, func(b *testing.B) {
							e := benchExecutor(ex)
							benchMeasure(b, tasks, func() bool { return benchRun(b, f, e) })
						})
					}
				})
			}
		})
	}
}

// BenchmarkMillion runs a flow of 1,000,000 mapped children (and the task
// giving their list) to Success on the Local executor. Besides the per-task
// metrics it reports retained-B/task, the live heap a finished run's
// FlowState holds, per task, and peak-RSS-MiB, the most memory the test
// process held resident (run it alone, in a fresh process, for the run's
// own figure: -run '^$' -benchtime=1x).
func BenchmarkMillion(b *testing.B) {
	const n = 1_000_000
	f, tasks := benchFlow("map", n)
	if err := f.Validate(); err != nil {
		b.Fatal(err)
	}
	var retained float64
	benchMeasure(b, tasks, func() bool {
		fs, err := runner.Run(context.Background(), f)
		if err != nil {
			b.Fatal(err)
		}
		if fs.Kind != state.Success {
			b.Logf("flow state: %v", fs.State)
			return false
		}
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(fs)
		runtime.GC()
		runtime.ReadMemStats(&before)
		retained = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(tasks)
		b.StartTimer()
		return true
	})
	b.ReportMetric(retained, "retained-B/task")
	if rss := peakRSSMiB(); rss > 0 {
		b.ReportMetric(rss, "peak-RSS-MiB")
	}
}

// ---- baseline: a minimal hand-written executor over the same shapes ----

// benchNoop is the baseline's task function, the same kind of no-op as the
// engine's tasks: it takes its inputs and returns an int.
func benchNoop(args []any) any { return 0 }

// benchGraph is a static DAG for the baseline executors. elem[i] >= 0 marks a
// mapped child: its one input is element elem[i] of its upstream's []int.
type benchGraph struct {
	fns      []func([]any) any
	up, down [][]int32
	elem     []int32
	argOff   []int32 // start of node i's inputs in the per-run args slab
	nargs    int
}

func (g *benchGraph) add(fn func([]any) any, elem int32, up ...int32) int32 {
	id := int32(len(g.fns))
	g.fns = append(g.fns, fn)
	g.up = append(g.up, up)
	g.down = append(g.down, nil)
	g.elem = append(g.elem, elem)
	g.argOff = append(g.argOff, int32(g.nargs))
	g.nargs += len(up)
	for _, u := range up {
		g.down[u] = append(g.down[u], id)
	}
	return id
}

func benchBaselineGraph(shape string, n int) *benchGraph {
	g := &benchGraph{}
	switch shape {
	case "chain":
		prev := g.add(benchNoop, -1)
		for i := 1; i < n; i++ {
			prev = g.add(benchNoop, -1, prev)
		}
	case "fanout":
		root := g.add(benchNoop, -1)
		for range n {
			g.add(benchNoop, -1, root)
		}
	case "map":
		list := g.add(func([]any) any {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		}, -1)
		for j := range n {
			g.add(benchNoop, int32(j), list)
		}
	case "grid":
		prev := make([]int32, benchGridWidth)
		for i := range prev {
			prev[i] = g.add(benchNoop, -1)
		}
		next := make([]int32, benchGridWidth)
		for range n/benchGridWidth - 1 {
			for i := range next {
				next[i] = g.add(benchNoop, -1, prev[i], prev[(i+1)%benchGridWidth])
			}
			prev, next = next, prev
		}
	default:
		panic("unknown shape " + shape)
	}
	return g
}

// exec gathers node i's inputs into its part of args and calls its function.
func (g *benchGraph) exec(i int32, results, args []any) {
	up := g.up[i]
	a := args[g.argOff[i] : int(g.argOff[i])+len(up) : int(g.argOff[i])+len(up)]
	for k, u := range up {
		if e := g.elem[i]; e >= 0 {
			a[k] = results[u].([]int)[e]
		} else {
			a[k] = results[u]
		}
	}
	results[i] = g.fns[i](a)
}

// runLocal runs g on the calling goroutine: in-degree counters and a ready
// slice. It reports whether every node ran.
func (g *benchGraph) runLocal() bool {
	n := len(g.fns)
	indeg := make([]int32, n)
	results := make([]any, n)
	args := make([]any, g.nargs)
	ready := make([]int32, 0, n)
	for i := range n {
		indeg[i] = int32(len(g.up[i]))
		if indeg[i] == 0 {
			ready = append(ready, int32(i))
		}
	}
	for h := 0; h < len(ready); h++ {
		i := ready[h]
		g.exec(i, results, args)
		for _, d := range g.down[i] {
			if indeg[d]--; indeg[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	return len(ready) == n
}

// runParallel runs g on GOMAXPROCS worker goroutines fed by a channel, with
// atomic in-degree counters; the worker finishing the last node closes the
// channel. It reports whether every node ran.
func (g *benchGraph) runParallel() bool {
	n := len(g.fns)
	indeg := make([]atomic.Int32, n)
	results := make([]any, n)
	args := make([]any, g.nargs)
	jobs := make(chan int32, n) // never full: each node is sent once
	var remaining, ran atomic.Int64
	remaining.Store(int64(n))
	for i := range n {
		indeg[i].Store(int32(len(g.up[i])))
		if len(g.up[i]) == 0 {
			jobs <- int32(i)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for i := range jobs {
				g.exec(i, results, args)
				ran.Add(1)
				for _, d := range g.down[i] {
					if indeg[d].Add(-1) == 0 {
						jobs <- d
					}
				}
				if remaining.Add(-1) == 0 {
					close(jobs)
				}
			}
		}()
	}
	wg.Wait()
	return ran.Load() == int64(n)
}

func BenchmarkBaseline(b *testing.B) {
	for _, shape := range benchShapes {
		b.Run(shape, func(b *testing.B) {
			for _, n := range benchSizes {
				b.Run(fmt.Sprint(n), func(b *testing.B) {
					g := benchBaselineGraph(shape, n)
					tasks := len(g.fns)
					b.Run("local", func(b *testing.B) { benchMeasure(b, tasks, g.runLocal) })
					b.Run("parallel", func(b *testing.B) { benchMeasure(b, tasks, g.runParallel) })
				})
			}
		})
	}
}

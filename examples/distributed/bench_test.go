// BenchmarkSpread measures the flow "spread" run in this process, its
// tasks called by the Parallel executor here or by worker processes of
// this example's binary through an embedded NATS JetStream server:
//
//	go test -run '^$' -bench Spread -benchtime 3x ./examples/distributed/
//
// It reports task-runs/s and, for the CPU-bound tasks, the speed-up of
// each NATS set-up against the Parallel executor measured in the same run
// (speedup-vs-parallel; run the whole benchmark, since the Parallel figure
// comes first). Workers run on the same machine as the benchmark: on a
// small machine they share its cores with the runner, the NATS server and
// each other, so the figures say what the wire costs, not what more
// machines gain.
package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
)

// parallelRate is the task-runs/s of the Parallel executor, by tasks kind,
// measured first: the reference of speedup-vs-parallel.
var parallelRate = map[string]float64{}

// benchWorkerConcurrency is each worker's --concurrency: the default, which
// keeps a worker busy on the noop tasks (the wire, not the tasks, limits
// them) and costs nothing on the CPU-bound ones.
const benchWorkerConcurrency = 16

func BenchmarkSpread(b *testing.B) {
	url := startServer(b)
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	bin := buildBinary(b)

	for _, kind := range []struct {
		name   string
		n, cpu int
	}{
		{"noop", 1000, 0},
		{"cpu10ms", 200, 10},
	} {
		b.Run("tasks="+kind.name, func(b *testing.B) {
			b.Run("executor=parallel", func(b *testing.B) {
				rate := benchRuns(b, runner.Parallel(0), kind.n, kind.cpu)
				parallelRate[kind.name] = rate
			})
			for _, workers := range []int{1, 2, 4} {
				b.Run(fmt.Sprintf("executor=nats/workers=%d", workers), func(b *testing.B) {
					var ws []*proc
					for i := range workers {
						ws = append(ws, startWorker(b, bin, url, fmt.Sprintf("w%d", i+1), 30*time.Second,
							"--concurrency", fmt.Sprint(benchWorkerConcurrency)))
					}
					// Stop them before the next sub-benchmark's workers
					// start, so that those do not share the queue.
					b.Cleanup(func() {
						for _, w := range ws {
							w.term(b)
						}
						for _, w := range ws {
							w.waitExit0(b)
						}
					})
					rate := benchRuns(b, natsexec.Executor(nc, Spread()), kind.n, kind.cpu)
					if kind.cpu > 0 {
						if p := parallelRate[kind.name]; p > 0 {
							b.ReportMetric(rate/p, "speedup-vs-parallel")
						}
					}
				})
			}
		})
	}
}

// benchRuns runs the flow with ex, n task runs of cpu ms each, once per
// iteration, checks each run, reports task-runs/s and returns it.
func benchRuns(b *testing.B, ex runner.Executor, n, cpu int) float64 {
	f := Spread()
	params := map[string]any{"n": n, "cpu_ms": cpu}
	iterations := 0
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		st, err := runner.Run(ctx, f, runner.WithExecutor(ex), runner.WithParameters(params))
		cancel()
		if err != nil {
			b.Fatalf("Run: %v", err)
		}
		if st.Kind != state.Success {
			b.Fatalf("flow run %s: %s", st.Kind, st.Message)
		}
		res, _ := st.Task("tally-1")
		if tl, ok := res.Result.(Tally); !ok || tl.Runs != n {
			b.Fatalf("tally %+v, want %d runs", res.Result, n)
		}
		iterations++
	}
	rate := float64(iterations*n) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "task-runs/s")
	return rate
}

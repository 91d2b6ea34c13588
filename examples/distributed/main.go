// Command distributed is a flow program whose tasks run on worker
// processes through NATS JetStream (package natsexec): the step Prefect 1
// users take with a Dask executor, with the flow unchanged.
//
// Its flow, "spread", maps a task over n items (1,000 by default); each
// child run says which worker ran it, and "tally" counts them. The
// walkthrough (README, "Running tasks on workers"):
//
//	nats-server -js -a 127.0.0.1 & nats=$!      # Debian: apt-get install nats-server
//	go build -o spread ./examples/distributed
//	./spread worker --name w1 & w1=$!            # two workers, from the same build
//	./spread worker --name w2 & w2=$!
//	./spread run                                 # 1000 task runs: w1 ran 497, w2 ran 503
//	kill -TERM $w1 $w2                           # the workers drain and exit
//	kill $nats
//
// run runs the flow here with the NATS executor: this process decides what
// runs when, the workers call the tasks, and its --ack-wait (or
// PREFECT__NATS__ACK_WAIT) is the ack wait in force for the flow's
// consumer, whatever the workers were started with. Started before any
// worker, it says on stderr, after three seconds, that it is waiting for
// workers (on stream PREFECT_TASKS, subject prefect.tasks.spread, and how
// to start one: spread worker), and goes on waiting. The same program also registers
// the flow and executes runs an agent launches (package program), tasks on
// the workers then too: forward the URL with the agent's
// --env PREFECT__NATS__URL=..., and the run's log on the server shows the
// tally, one line per worker. Every process reads the NATS URL from --nats or
// PREFECT__NATS__URL (default nats://127.0.0.1:4222).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

type itemsIn struct {
	N int `prefect:"n"`
}

type workIn struct {
	I int `prefect:"i"`
	// CPUMillis is the CPU work the task does, in milliseconds of one core
	// of the machine the README's figures come from: the benchmark's
	// CPU-bound tasks. It is a fixed amount of work, not a time: on a busy
	// machine it takes longer.
	CPUMillis int `prefect:"cpu_ms"`
}

// Done is what one child run of "work" returns.
type Done struct {
	I      int    `json:"i"`
	Worker string `json:"worker"`
}

type tallyIn struct {
	Done []Done `prefect:"done"`
}

// Tally is the flow's result: how many task runs each worker ran.
type Tally struct {
	Runs      int            `json:"runs"`
	PerWorker map[string]int `json:"per_worker"`
}

// Spread is the flow.
func Spread() *flow.Flow {
	f := flow.New("spread")
	n := flow.Parameter(f, "n", flow.WithDefault(1000))
	cpu := flow.Parameter(f, "cpu_ms", flow.WithDefault(0))
	items := flow.Add(f, task.New("items", func(_ context.Context, in itemsIn) ([]int, error) {
		if in.N < 0 {
			return nil, task.Fail(fmt.Sprintf("n is %d; want 0 or more items", in.N))
		}
		return make([]int, in.N), nil
	}), flow.Bind("n", n))
	done := flow.Map(f, task.New("work", func(ctx context.Context, in workIn) (Done, error) {
		for i := range in.CPUMillis * spinsPerMilli {
			if i%100 == 0 && ctx.Err() != nil {
				return Done{}, ctx.Err()
			}
			spinCPU()
		}
		rc, _ := runner.FromContext(ctx)
		w, ok := natsexec.WorkerName(ctx)
		if !ok {
			w = "here" // run without workers
		}
		return Done{I: rc.MapIndex, Worker: w}, nil
	}), flow.Bind("i", items), flow.Unmapped(flow.Bind("cpu_ms", cpu)))
	flow.Add(f, task.New("tally", func(ctx context.Context, in tallyIn) (Tally, error) {
		t := Tally{Runs: len(in.Done), PerWorker: map[string]int{}}
		for _, d := range in.Done {
			t.PerWorker[d.Worker]++
		}
		// Logged on the worker, it reaches the run's log (and the server's,
		// for a run an agent launched) through the flow program.
		if rc, ok := runner.FromContext(ctx); ok {
			for _, w := range slices.Sorted(maps.Keys(t.PerWorker)) {
				rc.Logger().Info("tally", "worker", w, "task_runs", t.PerWorker[w])
			}
		}
		return t, nil
	}), flow.Bind("done", done))
	return f
}

// spinsPerMilli is how many spinCPU calls take a millisecond of one core
// of the 2-core machine the README's figures come from (2.4 µs each).
const spinsPerMilli = 400

// spinCPU keeps a CPU busy for a few microseconds.
func spinCPU() {
	x := 1
	for i := range 2000 {
		x = x*31 + i
	}
	sink = x
}

var sink int

func main() {
	p := natsexec.Program([]*flow.Flow{Spread()})
	p.Commands = append(p.Commands, program.Command{Name: "run", Usage: "[--nats URL] [--n N] [--cpu-ms MS] [--ack-wait D] [--json]",
		Summary: "Runs the flow here, its tasks on the workers (spread worker), and prints how many task runs each worker ran.", Run: runHere})
	p.Main()
}

// runHere runs the flow in this process, its tasks on the workers. The
// run's warnings go to stderr: that no worker has taken its task runs yet,
// say, which it tells after a few seconds rather than wait in silence.
func runHere(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer, flows []*flow.Flow) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	url := fs.String("nats", natsexec.URL(cfg), "the NATS server's `URL`")
	n := fs.Int("n", 1000, "how many task runs to map")
	cpu := fs.Int("cpu-ms", 0, "CPU work per task run, in `milliseconds`")
	asJSON := fs.Bool("json", false, "print the tally as JSON")
	cfgAckWait, err := natsexec.AckWait(cfg)
	if err != nil {
		return program.UsageError("%v", err)
	}
	ackWait := fs.Duration("ack-wait", cfgAckWait, "the ack wait set on the flow's consumer, which workers heartbeat by (default nats.ack_wait, else 30s)")
	if err := program.ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return program.UsageError("run takes no arguments, not %q", fs.Args())
	}
	if *ackWait < 0 || (*ackWait > 0 && *ackWait < natsexec.MinAckWait) {
		return program.UsageError("--ack-wait %v: want at least %v", *ackWait, natsexec.MinAckWait)
	}
	nc, err := nats.Connect(*url)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", *url, err)
	}
	defer nc.Close()
	f := flows[0]
	start := time.Now()
	// Warnings only: a thousand task runs log more than anyone reads.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	exec := natsexec.Executor(nc, f, natsexec.WithAckWait(*ackWait),
		natsexec.WithWorkerCommand(filepath.Base(os.Args[0])+" worker"))
	st, err := runner.Run(ctx, f, runner.WithExecutor(exec), runner.WithConfig(cfg), runner.WithLogger(logger),
		runner.WithParameters(map[string]any{"n": *n, "cpu_ms": *cpu}))
	if err != nil {
		return err
	}
	if st.Kind != state.Success {
		return fmt.Errorf("flow run %s: %s", st.Kind, st.Message)
	}
	res, _ := st.Task("tally-1")
	tally := res.Result.(Tally)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(tally)
	}
	var parts []string
	for _, w := range slices.Sorted(maps.Keys(tally.PerWorker)) {
		parts = append(parts, fmt.Sprintf("%s ran %d", w, tally.PerWorker[w]))
	}
	fmt.Fprintf(stdout, "%d task runs in %v: %s\n", tally.Runs, time.Since(start).Round(time.Millisecond), strings.Join(parts, ", "))
	return nil
}

// Command etl runs a small extract-transform-load flow that shows, in one
// run, the parts of the engine a Prefect 1 user reaches for first:
//
//   - A parameter with a default: n, how many records extract produces, is 5
//     unless the -n flag gives another value.
//   - Mapping: transform runs once per record that extract returned, one
//     child run each (transform-1[0], transform-1[1], ...), and every child
//     gets the same constant factor through flow.Unmapped.
//   - Retries: load fails on its first attempt, as a flaky warehouse
//     connection would, and succeeds when it is retried 100ms later. It asks
//     the run context (runner.FromContext) which attempt it is on.
//   - Failure handling: archive returns an error and ends Failed. notify,
//     downstream of it with the default all_successful trigger, never runs
//     and ends TriggerFailed; cleanup, whose trigger is all_finished, runs
//     anyway, as cleanup should.
//
// Run it from the repository root:
//
//	go run ./examples/etl              # Parallel executor, n = 5
//	go run ./examples/etl -n 3         # extract 3 records instead
//	go run ./examples/etl -local       # one task at a time, in a fixed order
//	go run ./examples/etl -v           # log the run to stderr (log/slog, INFO)
//	go run ./examples/etl -graph       # print the flow as a Mermaid chart first
//
// It prints every task's final state in the order the tasks were added to the
// flow, with mapped children indented under their parent, then the flow's
// state and the total that load loaded. The output does not depend on the
// executor.
//
// The flow ends Failed ("Some reference tasks failed."): no reference tasks
// are chosen, so the terminal tasks, notify and cleanup, decide the flow's
// state, and notify failed. Showing that is the point of the example, so the
// command exits 0 all the same. It exits 1 when the run cannot start, 2 on bad
// flags, and 130 when interrupted (Ctrl-C cancels the run: tasks not yet
// finished end Cancelled, and the states are still printed). A real command
// would exit non-zero when its flow failed; choosing load as the only
// reference task, f.SetReferenceTasks(load), would make this flow Success.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Each task takes one struct of named inputs, Prefect's keyword arguments.
type (
	extractIn struct {
		N int `prefect:"n"`
	}
	transformIn struct {
		Record int `prefect:"record"`
		Factor int `prefect:"factor"`
	}
	rowsIn struct {
		Rows []int `prefect:"rows"`
	}
	notifyIn struct {
		Location string `prefect:"location"`
	}
)

// etl is the flow and the nodes main reads results from.
type etl struct {
	flow *flow.Flow
	load flow.Node[int]
}

// build makes the flow. Tasks are plain values: build them once, add them to
// any number of flows.
func build() etl {
	extract := task.New("extract", func(ctx context.Context, in extractIn) ([]int, error) {
		if in.N < 0 {
			return nil, fmt.Errorf("n is %d; it must be 0 or more", in.N)
		}
		records := make([]int, in.N)
		for i := range records {
			records[i] = i + 1
		}
		return records, nil
	})
	transform := task.New("transform", func(ctx context.Context, in transformIn) (int, error) {
		return in.Record * in.Factor, nil
	})
	load := task.New("load", func(ctx context.Context, in rowsIn) (int, error) {
		rc, _ := runner.FromContext(ctx)
		if rc.TaskRunCount == 1 {
			// A transient error: the task's retries take care of it.
			return 0, errors.New("warehouse connection reset by peer")
		}
		total := 0
		for _, r := range in.Rows {
			total += r
		}
		rc.Logger().Info("loaded rows", "rows", len(in.Rows), "total", total)
		return total, nil
	}, task.WithRetries(2, 100*time.Millisecond))
	archive := task.New("archive", func(ctx context.Context, in rowsIn) (string, error) {
		// A lasting error: this example fails here on purpose.
		return "", fmt.Errorf("uploading %d rows to s3://etl-archive: the bucket does not exist", len(in.Rows))
	})
	notify := task.New("notify", func(ctx context.Context, in notifyIn) (task.None, error) {
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("rows archived", "location", in.Location)
		return task.None{}, nil
	})
	cleanup := task.New("cleanup", func(ctx context.Context, _ task.None) (task.None, error) {
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("removed temporary files")
		return task.None{}, nil
	}, task.WithTrigger(task.AllFinished))

	f := flow.New("etl")
	n := flow.Parameter(f, "n", flow.WithDefault(5))
	records := flow.Add(f, extract, flow.Bind("n", n))
	rows := flow.Map(f, transform,
		flow.Bind("record", records),            // one child run per record
		flow.Unmapped(flow.Const("factor", 10))) // the same factor for every child
	total := flow.Add(f, load, flow.Bind("rows", rows))
	location := flow.Add(f, archive, flow.Bind("rows", rows))
	flow.Add(f, notify, flow.Bind("location", location))
	flow.Add(f, cleanup, flow.After(total, location)) // runs however they end
	return etl{flow: f, load: total}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, apart from the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("etl", flag.ContinueOnError)
	fl.SetOutput(io.Discard) // errors and usage are printed below, where they belong
	n := fl.Int("n", 0, "how many records to extract (default: the flow parameter's default, 5)")
	local := fl.Bool("local", false, "run tasks one at a time with runner.Local() instead of runner.Parallel(0)")
	verbose := fl.Bool("v", false, "log the run to stderr at INFO")
	graph := fl.Bool("graph", false, "print the flow as a Mermaid flowchart before running it")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: etl [-n records] [-local] [-v] [-graph]\n\nRuns an example ETL flow and prints every task's final state.\n\n")
		fl.SetOutput(w)
		fl.PrintDefaults()
		fl.SetOutput(io.Discard)
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout) // asked for: the answer, not a mistake
			return 0
		}
		fmt.Fprintf(stderr, "etl: %v\n", err)
		usage(stderr)
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "etl: unexpected argument %q\n", fl.Arg(0))
		usage(stderr)
		return 2
	}

	e := build()
	if *graph {
		fmt.Fprintln(stdout, e.flow.Mermaid())
	}

	opts := []runner.Option{runner.WithExecutor(runner.Parallel(0))}
	if *local {
		opts = []runner.Option{runner.WithExecutor(runner.Local())}
	}
	// Only a flag given on the command line overrides the parameter, so the
	// parameter's own default applies otherwise.
	fl.Visit(func(f *flag.Flag) {
		if f.Name == "n" {
			opts = append(opts, runner.WithParameters(map[string]any{"n": *n}))
		}
	})
	if *verbose {
		opts = append(opts, runner.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}

	fs, err := runner.Run(ctx, e.flow, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "etl: %v\n", err)
		return 1
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for i, t := range fs.Graph.Tasks {
		st := fs.Tasks[i]
		fmt.Fprintf(tw, "%s\t%s%s\n", t.Slug, st, runs(st))
		for j, child := range st.Children {
			fmt.Fprintf(tw, "  %s[%d]\t%s%s\n", t.Slug, j, child, runs(child))
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nflow %s: %s\n", fs.FlowName, fs.State)
	if total, ok := runner.ResultOf(fs, e.load); ok {
		fmt.Fprintf(stdout, "loaded total: %d\n", total)
	} else {
		fmt.Fprintf(stdout, "loaded total: none (%s ended %s)\n", e.load.Slug(), fs.Of(e.load).Kind)
	}
	if fs.IsCancelled() {
		return 130 // the shell's code for a command ended by Ctrl-C
	}
	return 0
}

// runs notes how many attempts a task took, when it took more than one.
func runs(st state.State) string {
	if st.RunCount < 2 {
		return ""
	}
	return " after " + strconv.Itoa(st.RunCount) + " runs"
}

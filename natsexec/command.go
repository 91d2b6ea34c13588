package natsexec

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
)

// URLKey is the configuration key of the NATS server's URL, set in the
// environment as PREFECT__NATS__URL (an agent forwards it with --env).
const URLKey = "nats.url"

// URL returns the NATS server's URL the configuration names ([URLKey]), or
// nats.DefaultURL (nats://127.0.0.1:4222).
func URL(cfg *config.Config) string {
	if cfg != nil {
		if u := cfg.String(URLKey); u != "" {
			return u
		}
	}
	return nats.DefaultURL
}

// Program returns a flow program (package program) holding flows, whose
// runs have their tasks called by workers: execute runs each flow run with
// [Executor] on a connection to [URL], and the program gains the worker
// subcommand ([Command]). opts go to both; the configuration's ack wait
// ([AckWaitKey]), when it sets one, comes after them. Use it in the
// program's main:
//
//	func main() { natsexec.Program(etlFlow()).Main() }
//
// and start workers from the same build:
//
//	myflows worker --nats nats://queue.internal:4222
func Program(flows []*flow.Flow, opts ...Option) program.Program {
	return program.Program{
		Flows:    flows,
		Commands: []program.Command{Command(opts...)},
		RunOptions: func(ctx context.Context, cfg *config.Config, f *flow.Flow) ([]runner.Option, func(), error) {
			ackWait, err := AckWait(cfg)
			if err != nil {
				return nil, nil, err
			}
			nc, err := nats.Connect(URL(cfg), nats.Name("prefect flow run of "+f.Name()))
			if err != nil {
				return nil, nil, fmt.Errorf("natsexec: connecting to %s: %w", URL(cfg), err)
			}
			// The program's own name, for the hint a run that waits for
			// workers gives; opts may name another command.
			all := append([]Option{WithWorkerCommand(filepath.Base(os.Args[0]) + " worker")}, opts...)
			all = append(all, WithAckWait(ackWait))
			return []runner.Option{runner.WithExecutor(Executor(nc, f, all...))}, nc.Close, nil
		},
	}
}

// Command returns the worker subcommand of a flow program:
//
//	myflows worker [--nats URL] [--concurrency N] [--name NAME] [--ack-wait D] [--max-deliveries N]
//
// It serves the program's flows ([Serve]) on the NATS server at --nats
// (default [URL] of the configuration) until SIGINT or SIGTERM, then
// drains: it takes no more task runs and exits once those it runs have
// answered. It logs its own events to stderr; opts come before the flags,
// which win. --ack-wait (default the configuration's [AckWaitKey]) is the
// ack wait of a flow's consumer that the worker creates; the flow
// program's is the one in force (see [WithAckWait]), and the worker warns
// when they differ.
func Command(opts ...Option) program.Command {
	return program.Command{
		Name:  "worker",
		Usage: "[--nats URL] [--concurrency N] [--name NAME] [--ack-wait D] [--max-deliveries N]",
		Run: func(ctx context.Context, cfg *config.Config, args []string, _, stderr io.Writer, flows []*flow.Flow) error {
			fs := flag.NewFlagSet("worker", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			url := fs.String("nats", URL(cfg), "the NATS server's URL")
			concurrency := fs.Int("concurrency", 0, "task runs at once (default 16)")
			name := fs.String("name", "", "the worker's name in heartbeats (default host:pid)")
			cfgAckWait, err := AckWait(cfg)
			if err != nil {
				return program.UsageError("%v", err)
			}
			ackWait := fs.Duration("ack-wait", cfgAckWait, "silence after which a task run is delivered again, for a consumer this worker creates (default 30s; the flow program's setting is the one in force)")
			maxDeliveries := fs.Int("max-deliveries", 0, "deliveries of a task run after which it fails (default 5)")
			if err := fs.Parse(args); err != nil {
				return program.UsageError("%v", err)
			}
			if fs.NArg() > 0 {
				return program.UsageError("worker takes no arguments, not %q", fs.Args())
			}
			if *concurrency < 0 {
				return program.UsageError("--concurrency %d: want a positive number of task runs", *concurrency)
			}
			if *maxDeliveries < 0 {
				return program.UsageError("--max-deliveries %d: want a positive number", *maxDeliveries)
			}
			if *ackWait < 0 || (*ackWait > 0 && *ackWait < MinAckWait) {
				return program.UsageError("--ack-wait %v: want at least %v", *ackWait, MinAckWait)
			}
			logger := slog.New(slog.NewTextHandler(stderr, nil))
			all := append([]Option{WithLogger(logger)}, opts...)
			all = append(all, WithConcurrency(*concurrency), WithAckWait(*ackWait), WithMaxDeliveries(*maxDeliveries), WithConfig(cfg))
			if *name != "" {
				all = append(all, WithWorkerName(*name))
			}
			// A worker outlives restarts of the NATS server: it reconnects
			// for as long as it runs.
			nc, err := nats.Connect(*url, nats.Name("prefect worker"), nats.MaxReconnects(-1))
			if err != nil {
				return fmt.Errorf("connecting to %s: %w", *url, err)
			}
			defer nc.Close()
			err = Serve(ctx, nc, flows, all...)
			if err == nil {
				logger.Info("natsexec: worker stopped")
			}
			return err
		},
	}
}

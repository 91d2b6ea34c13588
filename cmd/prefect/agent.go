package main

// prefect agent local start: claim the flow runs of the server the
// configuration names and run each as a local process (package agent).
//
//	prefect agent local start [--name N] [--label L]... [--env K=V | -e K=V]... [--max-runs N]
//	                          [--poll-interval D] [--log-level LEVEL]

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
	"sync"
	"syscall"

	"github.com/prefect-go/prefect/agent"
	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
)

func agentCmd(ctx context.Context, args []string, stderr io.Writer) error {
	switch {
	case len(args) > 0 && isHelp(args[0]):
		return groupHelp("agent")
	case len(args) > 1 && args[0] == "local" && isHelp(args[1]):
		return groupHelp("agent local")
	case len(args) < 2 || args[0] != "local" || args[1] != "start":
		return usageError{msg: "agent takes: local start (the only kind of agent so far)"}
	}
	return withUsage("agent local start", agentLocalStart(ctx, args[2:], stderr))
}

// agentLocalStart is prefect agent local start, given its flags.
func agentLocalStart(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent local start", flag.ContinueOnError)
	name := fs.String("name", "", "the agent's name, for logs (default: the host's)")
	var labels, envs repeated
	fs.Var(&labels, "label", "a label of the agent: it runs flows whose labels it all has (repeatable); without any, the configuration's cloud.agent.labels, as in Prefect 1")
	fs.Var(&envs, "env", "K=V put in every flow run's environment (repeatable; also -e); without any, the configuration's cloud.agent.env_vars, as in Prefect 1")
	fs.Var(&envs, "e", "short for --env")
	maxRuns := fs.Int("max-runs", 0, "most flow runs at once (0: no limit)")
	poll := fs.Duration("poll-interval", agent.DefaultPollInterval, "how often to look for scheduled runs")
	level := fs.String("log-level", "", "PREFECT__LOGGING__LEVEL for flow runs (default: the configuration's logging.level)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	env, err := agent.ParseEnv(envs)
	if err != nil {
		return usageError{msg: "--env: " + err.Error()}
	}
	if *maxRuns < 0 {
		return usageError{msg: fmt.Sprintf("--max-runs %d: want 0 (no limit) or more", *maxRuns)}
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("loading the configuration: %w", err)
	}
	if len(labels) == 0 {
		// As Prefect's agents: the flags' labels, or else the
		// configuration's.
		if labels, err = agent.ConfigLabels(cfg); err != nil {
			return fmt.Errorf("the configuration's agent labels: %w", err)
		}
	}
	if len(env) == 0 {
		// As Prefect's agents: the flags' environment, or else the
		// configuration's.
		if env, err = agent.ConfigEnv(cfg); err != nil {
			return fmt.Errorf("the configuration's environment for flow runs: %w", err)
		}
	}
	c, err := clientFromConfig(cfg) // the configuration loaded once
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if *level == "" {
		*level = cfg.String("logging.level")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts := []agent.Option{
		agent.WithLabels(labels...), agent.WithEnv(env), agent.WithMaxRuns(*maxRuns), agent.WithPollInterval(*poll),
		agent.WithLoggingLevel(*level), agent.WithLogger(logger),
		agent.WithForcedEnv(func(agent.FlowRun) map[string]string {
			// The run talks to the server this agent talks to, as this
			// agent's tenant: Prefect 1's local agent does the same.
			return map[string]string{
				"PREFECT__CLOUD__API":       cfg.String("cloud.api"),
				"PREFECT__CLOUD__API_KEY":   cfg.String("cloud.api_key"),
				"PREFECT__CLOUD__TENANT_ID": cfg.String("cloud.tenant_id"),
			}
		}),
	}
	if *name != "" {
		opts = append(opts, agent.WithName(*name))
	}
	o := &orchestrator{c: c}
	a, err := agent.New(o, opts...)
	if err != nil {
		return err
	}
	o.agentID = a.ID()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(envs) > 0 {
		warnArgvSecrets(logger, env)
	}
	err = a.Run(ctx) // logs its start and stop
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// warnArgvSecrets warns of --env values that look secret: every user of
// the machine reads a process's arguments.
func warnArgvSecrets(logger *slog.Logger, env map[string]string) {
	for k := range env {
		if secrets.SensitiveName(k) {
			logger.Warn("--env puts a secret in the process list, which every user of this machine can read; set it in the environment instead (the agent forwards its own environment)", "name", k)
		}
	}
}

// orchestrator is the server, through the Go client, as an agent needs it.
type orchestrator struct {
	c     *client.Client
	mu    sync.Mutex
	flows map[string]client.Flow // by ID: a flow version never changes
	fails map[string]int         // by run ID: failed attempts to complete it
	// agentID is the agent's, once made: its state changes apply only to
	// runs it claimed.
	agentID string
}

func (o *orchestrator) flow(ctx context.Context, id string) (client.Flow, error) {
	o.mu.Lock()
	f, ok := o.flows[id]
	o.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := o.c.Flow(ctx, id)
	if err != nil {
		return client.Flow{}, err
	}
	o.mu.Lock()
	if o.flows == nil {
		o.flows = map[string]client.Flow{}
	}
	o.flows[id] = f
	o.mu.Unlock()
	return f, nil
}

// Claim claims runs and completes each with its flow's command and its
// environment; a run that cannot be completed is given back.
func (o *orchestrator) Claim(ctx context.Context, agentID string, labels []string, n int) ([]agent.FlowRun, error) {
	runs, err := o.c.ClaimFlowRuns(ctx, agentID, labels, n)
	if err != nil {
		return nil, err
	}
	out := make([]agent.FlowRun, 0, len(runs))
	var errs []error
	for _, r := range runs {
		f, err := o.flow(ctx, r.FlowID)
		var env map[string]string
		if err == nil {
			env, err = o.c.FlowRunEnv(ctx, r.ID, agentID)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("flow run %s: %w", r.ID, err))
			o.mu.Lock()
			if o.fails == nil {
				o.fails = map[string]int{}
			}
			o.fails[r.ID]++
			n := o.fails[r.ID]
			o.mu.Unlock()
			// Give it back for another try, or, after a few, fail it: a run
			// whose environment cannot be read would go round for ever.
			to, msg := state.Scheduled, ""
			if n >= 3 {
				to, msg = state.Failed, "its environment could not be read, "+strconv.Itoa(n)+" times: "+err.Error()
			}
			if _, serr := o.c.SetFlowRunStateAs(context.WithoutCancel(ctx), agentID, r.ID, r.Version, to, msg); errors.Is(serr, client.ErrConflict) {
				// Cancelled meanwhile (hence the refused read): settle it.
				if st, v, rerr := o.c.FlowRunState(context.WithoutCancel(ctx), r.ID); rerr == nil && st == state.Cancelling {
					o.c.SetFlowRunStateAs(context.WithoutCancel(ctx), agentID, r.ID, v, state.Cancelled, "cancelled before it started")
				}
			}
			continue
		}
		o.mu.Lock()
		delete(o.fails, r.ID)
		o.mu.Unlock()
		out = append(out, agent.FlowRun{ID: r.ID, FlowName: r.FlowName, FlowVersion: r.FlowVersion, Version: r.Version,
			Labels: r.Labels, Command: f.Command, WorkingDir: f.WorkingDir, Env: env})
	}
	if len(out) == 0 && len(errs) > 0 {
		// Runs of one flow may fail alike: each line names its run.
		return nil, problems.Join(problems.Format(func(n int) string {
			return fmt.Sprintf("%d claimed flow runs could not be started", n)
		}, ""), errs...)
	}
	return out, nil
}

func (o *orchestrator) RunState(ctx context.Context, runID string) (state.Kind, int, error) {
	return o.c.FlowRunState(ctx, runID)
}

func (o *orchestrator) SetState(ctx context.Context, runID string, version int, to state.Kind, message string) (int, error) {
	v, err := o.c.SetFlowRunStateAs(ctx, o.agentID, runID, version, to, message)
	if errors.Is(err, client.ErrConflict) {
		return 0, fmt.Errorf("%w: %w", agent.ErrConflict, err)
	}
	return v, err
}

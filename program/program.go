// Package program makes a Go main package that holds flows into a flow
// program: one binary that registers its flows with the server and
// executes their runs when an agent launches it, as Prefect 1's
// `prefect register` and `prefect execute flow-run` do for Python flows.
//
//	func main() {
//		program.Main(etlFlow(), reportFlow())
//	}
//
// The command line it answers:
//
//	myflows register [--label L]... [--env K=V]... [--working-dir D] [--no-schedule]
//	myflows execute
//	myflows help [COMMAND]
//
// -h or --help, alone or after any command, prints that usage to stdout
// and exits 0, as help does.
//
// register describes each flow (its tasks, edges and parameters: see
// [Describe]) and registers it with the server the configuration names
// (cloud.api and cloud.api_key, as for secrets; see package config), with
// the command that executes a run: this binary's absolute path and
// "execute". The server makes a new version only when something changed.
// --env values are the run config's environment, which agents put in every
// run's environment; the server keeps them sealed.
//
// execute runs the flow run named by PREFECT__CONTEXT__FLOW_RUN_ID (the
// config key context.flow_run_id), as an agent launches it: it reads the
// run, checks that this program's flow is the registered version (a
// different one is a failed run, not a wrong one), sets the run Running,
// runs the flow with the run's parameters, reports every task state and
// log line as it goes (redacted by the runner), heartbeats, and sets the
// run's final state. Reports that cannot reach the server are kept and
// sent again, the final state included, for up to FinalStateTimeout.
// Exit status: 0 when the run succeeded, 1 otherwise, 2 on a usage error.
//
// A [Program] adds subcommands of its own and options for the runs execute
// runs; package natsexec's Program is one, whose runs call their tasks on
// worker processes and which adds the worker subcommand:
//
//	func main() { natsexec.Program([]*flow.Flow{etlFlow()}).Main() }
package program

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/envflag"
	"github.com/prefect-go/prefect/internal/procmask"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
)

// FinalStateTimeout is how long execute keeps trying to tell the server a
// run's final state (and its last reports) while the server is away.
var FinalStateTimeout = 10 * time.Minute

// HeartbeatInterval is how often execute tells the server a run is alive:
// Prefect 1's cloud.heartbeat_interval, in seconds (30 by default), or 30 s
// when the configuration holds no positive number there. The server's
// --run-timeout must allow several.
func HeartbeatInterval(cfg *config.Config) time.Duration {
	var secs float64
	if cfg != nil {
		switch v, _ := cfg.Get("cloud.heartbeat_interval"); v := v.(type) {
		case float64:
			secs = v
		case int64:
			secs = float64(v)
		}
	}
	if secs <= 0 {
		secs = 30
	}
	return time.Duration(secs * float64(time.Second))
}

// Main runs the command line of a flow program holding flows, and exits.
func Main(flows ...*flow.Flow) { Program{Flows: flows}.Main() }

// Run is Main without the exit: it returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, flows ...*flow.Flow) int {
	return Program{Flows: flows}.Run(ctx, args, stdout, stderr)
}

// Program is a flow program with more than [Main] gives: subcommands of
// its own, and options for the runs execute runs (an executor that calls
// the tasks elsewhere, say). Package natsexec's Program is one.
type Program struct {
	// Flows are the program's flows.
	Flows []*flow.Flow
	// Commands are subcommands beyond register and execute.
	Commands []Command
	// RunOptions, when not nil, gives more runner options for a run of f
	// that execute runs, and a function that releases what they hold
	// (called once the run is over; nil if nothing). An error fails the
	// run.
	RunOptions func(ctx context.Context, cfg *config.Config, f *flow.Flow) (opts []runner.Option, release func(), err error)
}

// Command is a subcommand of a [Program].
type Command struct {
	// Name is what selects it: the program's first argument.
	Name string
	// Usage is its synopsis after the name, as usage errors and help
	// show it.
	Usage string
	// Summary says in a sentence what it does, for help (optional).
	Summary string
	// Run runs it with the arguments after its name. Return an error from
	// [UsageError] for bad arguments: the exit status is then 2, not 1.
	// Parse flags with [ParseFlags], which answers -h and --help with the
	// command's usage and flags (exit status 0).
	Run func(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer, flows []*flow.Flow) error
}

// UsageError is an error a [Command] returns for bad arguments. Given
// flag.ErrHelp (a flag set's answer to -h or --help, as in
// UsageError("%v", err)), it is the answer to -h instead: the program
// prints the command's usage to stdout and exits 0. [ParseFlags] does
// that and lists the flags too.
func UsageError(format string, args ...any) error {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, flag.ErrHelp) {
			return usageError{help: true}
		}
	}
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// ParseFlags parses a command's flags from args with fs, which must
// continue on errors (flag.ContinueOnError); it never prints. -h or --help
// returns the error that makes the program print the command's usage and
// fs's flags to stdout and exit 0; a bad flag returns a [UsageError].
func ParseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{help: true, msg: flagHelp(fs)}
		}
		return usageError{msg: err.Error()}
	}
	return nil
}

// usageError is a mistake in the command line: exit status 2. With help
// set, it is the answer to -h: the usage goes to stdout, with msg (the
// command's flags, if known) after it, and the exit status is 0.
type usageError struct {
	msg  string
	help bool
	// cmd is the command whose help it is, set by dispatch; "" for the
	// program's.
	cmd string
}

func (e usageError) Error() string {
	if e.help {
		return "help requested"
	}
	return e.msg
}

// Main runs the program's command line, and exits. SIGINT and SIGTERM end
// the context its command runs under.
func (p Program) Main() {
	// Take up the agent's mask pipe before anything can start a process
	// that would inherit it (see package procmask).
	procmask.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := p.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run is Main without the exit: it returns the exit status.
func (p Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := p.dispatch(ctx, args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue) && ue.help:
		fmt.Fprint(stdout, p.help(ue))
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "error:", err)
		fmt.Fprintln(stderr, "usage:", p.usage())
		return 2
	default:
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
}

func (p Program) usage() string {
	var u []string
	for _, c := range p.commands() {
		u = append(u, strings.TrimSpace(c.Name+" "+c.Usage))
	}
	return strings.Join(u, " | ")
}

// The built-in commands, as help shows them.
var (
	registerCmd = Command{Name: "register", Usage: "[--label L]... [--env K=V]... [--working-dir D] [--no-schedule]",
		Summary: "Registers the program's flows with the server the configuration names (cloud.api, cloud.api_key), with this binary as the command that executes their runs."}
	executeCmd = Command{Name: "execute",
		Summary: "Executes the flow run PREFECT__CONTEXT__FLOW_RUN_ID names, as an agent launches it. It takes no flags or arguments."}
	helpCmd = Command{Name: "help", Usage: "[COMMAND]",
		Summary: "Prints the program's usage, or a command's."}
)

// commands are the program's commands, the built-in ones first.
func (p Program) commands() []Command {
	return append([]Command{registerCmd, executeCmd}, append(slices.Clip(p.Commands), helpCmd)...)
}

// help is the answer to -h: the program's usage, or the command's that
// ue names, with its flags.
func (p Program) help(ue usageError) string {
	name := filepath.Base(os.Args[0])
	var b strings.Builder
	if ue.cmd == "" {
		fmt.Fprintf(&b, "usage: %s COMMAND [flags]\n\ncommands:\n", name)
		for _, c := range p.commands() {
			fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(c.Name+" "+c.Usage))
			if c.Summary != "" {
				fmt.Fprintf(&b, "        %s\n", c.Summary)
			}
		}
		var flows []string
		for _, f := range p.Flows {
			if f != nil {
				flows = append(flows, f.Name())
			}
		}
		fmt.Fprintf(&b, "\nflows: %s\n\n%q shows a command's flags.\n", strings.Join(flows, ", "), name+" COMMAND -h")
		return b.String()
	}
	c := Command{Name: ue.cmd}
	for _, cc := range p.commands() {
		if cc.Name == ue.cmd {
			c = cc
		}
	}
	fmt.Fprintf(&b, "usage: %s %s\n", name, strings.TrimSpace(c.Name+" "+c.Usage))
	if c.Summary != "" {
		fmt.Fprintf(&b, "\n%s\n", c.Summary)
	}
	if ue.msg != "" {
		fmt.Fprintf(&b, "\nflags:\n%s", ue.msg)
	}
	return b.String()
}

// flagHelp lists fs's flags, with their defaults, one flag a paragraph.
// A default that is a URL holding a password shows it redacted.
func flagHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if arg != "" {
			fmt.Fprintf(&b, " %s", arg)
		}
		fmt.Fprintf(&b, "\n        %s", usage)
		switch def := f.DefValue; def {
		case "", "0", "0s", "false":
		default:
			if u, err := url.Parse(def); err == nil && u.User != nil {
				def = u.Redacted()
			}
			if !strings.Contains(usage, "(default") {
				fmt.Fprintf(&b, " (default %s)", def)
			}
		}
		b.WriteString("\n")
	})
	return b.String()
}

// isHelp tells whether arg asks for help, as the flag package takes it.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" || arg == "--h" }

func (p Program) dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flows := p.Flows
	if len(flows) == 0 {
		return errors.New("the program holds no flows: pass them to program.Main")
	}
	byName := map[string]*flow.Flow{}
	for _, f := range flows {
		if f == nil {
			return errors.New("program.Main was given a nil flow")
		}
		if _, dup := byName[f.Name()]; dup {
			return fmt.Errorf("two flows are called %q: flow names must differ in one program", f.Name())
		}
		byName[f.Name()] = f
	}
	names := []string{"register", "execute"}
	for _, c := range p.Commands {
		names = append(names, c.Name)
	}
	if len(args) == 0 {
		return usageError{msg: "expected a subcommand: " + strings.Join(names, ", ")}
	}
	if isHelp(args[0]) || args[0] == "help" && len(args) == 1 {
		return usageError{help: true} // needs no configuration
	}
	if args[0] == "help" && len(args) == 2 && (args[1] == "help" || isHelp(args[1])) {
		return usageError{help: true, cmd: "help"}
	}
	if args[0] == "help" {
		if len(args) > 2 || !slices.Contains(names, args[1]) {
			return usageError{msg: fmt.Sprintf("help takes one of %s, not %q", strings.Join(names, ", "), args[1:])}
		}
		args = []string{args[1], "-h"}
	}
	err := p.command(ctx, args, stdout, stderr, byName, names)
	var ue usageError
	if errors.As(err, &ue) && ue.help {
		ue.cmd = args[0] // the command's help, not the program's
		return ue
	}
	return err
}

// command runs the command args[0] names, one of names.
func (p Program) command(ctx context.Context, args []string, stdout, stderr io.Writer, byName map[string]*flow.Flow, names []string) error {
	flows := p.Flows
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("loading the configuration: %w", err)
	}
	for _, c := range p.Commands {
		if c.Name == args[0] {
			return c.Run(ctx, cfg, args[1:], stdout, stderr, flows)
		}
	}
	switch args[0] {
	case "register":
		return register(ctx, cfg, args[1:], stdout, flows)
	case "execute":
		if err := ParseFlags(flag.NewFlagSet("execute", flag.ContinueOnError), args[1:]); err != nil {
			return err
		}
		if len(args) > 1 {
			return usageError{msg: fmt.Sprintf("execute takes no arguments, not %q", args[1:])}
		}
		c, err := client.FromConfig(cfg)
		if err != nil {
			return err
		}
		defer c.CloseIdleConnections()
		return execute(ctx, c, cfg, byName, stderr, p.RunOptions)
	}
	return usageError{msg: fmt.Sprintf("unknown subcommand %q; valid ones are %s", args[0], strings.Join(names, ", "))}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func register(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer, flows []*flow.Flow) error {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	var labels, envs multi
	fs.Var(&labels, "label", "a `label` an agent must have to run the flows (repeatable)")
	fs.Var(&envs, "env", "`KEY=VAL` for every run's environment, kept sealed by the server (repeatable)")
	dir := fs.String("working-dir", "", "the `directory` runs execute in (default: the agent's)")
	noSchedule := fs.Bool("no-schedule", false, "register the flows' schedules turned off (Prefect's --no-schedule): no runs are made until `prefect flows schedule NAME --on`")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("register takes no arguments, not %q", fs.Args())}
	}
	env, err := envflag.Parse(envs) // as agents parse theirs (SPEC §6)
	if err != nil {
		return usageError{msg: err.Error()}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's path, for the command that executes runs: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	c, err := client.FromConfig(cfg)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	for _, f := range flows {
		def, err := Describe(f)
		if err != nil {
			return fmt.Errorf("flow %q: %w", f.Name(), err)
		}
		raw, _ := json.Marshal(def)
		reg := client.FlowRegistration{Name: f.Name(), Definition: raw,
			Labels: labels, Command: []string{exe, "execute"}, WorkingDir: *dir, Env: env, ScheduleInactive: *noSchedule}
		if s := f.Schedule(); s != nil {
			if reg.Schedule, err = json.Marshal(s); err != nil {
				return fmt.Errorf("flow %q: its schedule: %w", f.Name(), err)
			}
		}
		_, version, created, err := c.RegisterFlow(ctx, reg)
		if err != nil {
			return err
		}
		what := "unchanged, still"
		if created {
			what = "registered as"
		}
		fmt.Fprintf(stdout, "flow %s: %s version %d\n", f.Name(), what, version)
	}
	return nil
}

// Execute runs the flow run named by the configuration's
// context.flow_run_id, one of flows (by name), reporting to api; see the
// package doc.
func Execute(ctx context.Context, api RunAPI, cfg *config.Config, flows map[string]*flow.Flow, logTo io.Writer) error {
	return execute(ctx, api, cfg, flows, logTo, nil)
}

// Execute is [Execute] for the program's flows, with its RunOptions.
func (p Program) Execute(ctx context.Context, api RunAPI, cfg *config.Config, logTo io.Writer) error {
	flows := map[string]*flow.Flow{}
	for _, f := range p.Flows {
		flows[f.Name()] = f
	}
	return execute(ctx, api, cfg, flows, logTo, p.RunOptions)
}

func execute(ctx context.Context, api RunAPI, cfg *config.Config, flows map[string]*flow.Flow, logTo io.Writer,
	runOptions func(context.Context, *config.Config, *flow.Flow) ([]runner.Option, func(), error)) error {
	id := cfg.String("context.flow_run_id")
	if id == "" {
		return usageError{msg: "no flow run to execute: PREFECT__CONTEXT__FLOW_RUN_ID is not set (an agent sets it)"}
	}
	runID, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("PREFECT__CONTEXT__FLOW_RUN_ID %q is not a flow run id (a UUID)", id)
	}
	var run client.FlowRun
	if err := patiently(ctx, func() (err error) { run, err = api.FlowRun(ctx, id); return err }); err != nil {
		return err
	}
	version := run.Version
	switch run.State {
	case state.Submitted: // claimed by the agent that launched this
	case state.Cancelling:
		final(api, run.ID, &version, state.Cancelled, "cancelled before it started")
		return fmt.Errorf("flow run %s was cancelled before it started", run.Name)
	default:
		return fmt.Errorf("flow run %s is %s, not Submitted: only a run an agent claimed is executed", run.Name, run.State)
	}
	fail := func(why error) error {
		final(api, run.ID, &version, state.Failed, why.Error())
		return why
	}
	f, ok := flows[run.FlowName]
	if !ok {
		return fail(fmt.Errorf("this program holds no flow %q (it holds %s)", run.FlowName, names(flows)))
	}
	var registered client.Flow
	if err := patiently(ctx, func() (err error) { registered, err = api.Flow(ctx, run.FlowID); return err }); err != nil {
		return fail(err)
	}
	if err := sameFlow(f, registered); err != nil {
		return fail(err)
	}
	params, err := decodeParameters(f, run.Parameters)
	if err != nil {
		return fail(err)
	}
	if err := patiently(ctx, func() error {
		v, err := api.SetFlowRunState(ctx, run.ID, version, state.Running, "")
		if errors.Is(err, client.ErrConflict) {
			// A retry whose first attempt went through (its answer lost)?
			if cur, rerr := api.FlowRun(ctx, run.ID); rerr == nil && cur.State == state.Running && cur.Version == version+1 {
				v, err = cur.Version, nil
			}
		}
		if err == nil {
			version = v
		}
		return err
	}); err != nil {
		return err // cancelled meanwhile, say: the run is not ours to run
	}

	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); heartbeat(hbCtx, api, run.ID, HeartbeatInterval(cfg)) }()
	defer func() { stopHB(); <-hbDone }()

	level := logLevel(cfg.String("logging.level"))
	rep := newReporter(api, run.ID, 250*time.Millisecond, level)
	logger := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level}))
	opts := []runner.Option{runner.WithParameters(params), runner.WithFlowRunID(runID),
		runner.WithFlowRunName(run.Name), runner.WithReporter(rep), runner.WithLogger(logger), runner.WithConfig(cfg)}
	if !run.ScheduledStart.IsZero() {
		// The run's scheduled start time is the planned one (Prefect's
		// scheduled_start_time), not the time the agent got to it; the
		// run context's date helpers read it too (see runner.Context.Date).
		opts = append(opts, runner.WithScheduledStartTime(run.ScheduledStart))
	}
	var fs *runner.FlowState
	var runErr error
	if runOptions != nil {
		more, release, err := runOptions(ctx, cfg, f)
		if release != nil {
			defer release()
		}
		opts, runErr = append(opts, more...), err
	}
	if runErr == nil {
		fs, runErr = runner.Run(ctx, f, opts...)
	}
	// The heartbeat goes on until the final state is told: a server back
	// from an outage must not take the run for dead meanwhile.

	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FinalStateTimeout)
	defer cancel()
	rep.close(closeCtx)
	if runErr != nil {
		final(api, run.ID, &version, state.Failed, runErr.Error())
		return runErr
	}
	st := fs.State
	kind, message := state.Failed, st.Message
	switch {
	case st.IsSuccessful():
		kind = state.Success
	case st.Kind == state.Cancelled:
		kind = state.Cancelled
	case st.Kind == state.Paused:
		// Runs through the server cannot be resumed yet.
		message = "paused, and a paused flow run cannot be resumed through the server yet: " + st.Message
	}
	if err := final(api, run.ID, &version, kind, message); err != nil {
		return err
	}
	if kind != state.Success {
		return fmt.Errorf("flow run %s ended %s: %s", run.Name, st.Kind, st.Message)
	}
	return nil
}

// final sets the run's final state, trying again while the server is away
// (up to FinalStateTimeout). After a conflict it reads the run again: a
// run already finished (an agent marked it) is left as it is; a run being
// cancelled is marked Cancelled, whatever it came to; another change is
// tried again from the version read.
func final(api RunAPI, runID string, version *int, kind state.Kind, message string) error {
	ctx, cancel := context.WithTimeout(context.Background(), FinalStateTimeout)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		v, err := api.SetFlowRunState(ctx, runID, *version, kind, message)
		if err == nil {
			*version = v
			return nil
		}
		if errors.Is(err, client.ErrConflict) {
			run, rerr := api.FlowRun(ctx, runID)
			if rerr == nil {
				switch {
				case run.State.IsFinished():
					return nil
				case run.State == state.Cancelling && kind != state.Cancelled:
					kind, message = state.Cancelled, "cancelled while it ran"
					*version = run.Version
					continue
				case run.Version == *version:
					return fmt.Errorf("the server refuses to set the run %s from %s: %w", kind, run.State, err)
				}
				*version = run.Version
				continue
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("could not tell the server the run's final state (%s): %w", kind, err)
		case <-time.After(wait):
		}
	}
}

// logLevel reads Prefect's logging.level (DEBUG, INFO, WARNING, ERROR,
// CRITICAL, in any case); anything else is INFO. The runner reports
// records of INFO and above only, so DEBUG sends what INFO does.
func logLevel(s string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug
	case "WARNING", "WARN":
		return slog.LevelWarn
	case "ERROR", "CRITICAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// StartTimeout is how long execute keeps trying to reach the server to
// start a run (read it, set it Running) while the server is away.
var StartTimeout = 2 * time.Minute

// patiently calls f until it succeeds, fails for good (see transient), or
// StartTimeout has passed.
func patiently(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(StartTimeout)
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := f()
		if err == nil || !transient(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func heartbeat(ctx context.Context, api RunAPI, runID string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		api.Heartbeat(ctx, runID) // a missed one is caught up by the next
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sameFlow checks that f is the registered flow version.
func sameFlow(f *flow.Flow, registered client.Flow) error {
	def, err := Describe(f)
	if err != nil {
		return err
	}
	var theirs Definition
	if err := json.Unmarshal(registered.Definition, &theirs); err != nil {
		return fmt.Errorf("flow %q version %d: the registered definition does not read", registered.Name, registered.Version)
	}
	if !reflect.DeepEqual(normal(def), normal(theirs)) {
		return fmt.Errorf("this program's flow %q is not the registered version %d (its tasks, edges or parameters differ): register this program again, or run the program that registered it", registered.Name, registered.Version)
	}
	return nil
}

// normal makes a Definition comparable after a JSON round trip.
func normal(d Definition) Definition {
	b, _ := json.Marshal(d)
	var out Definition
	json.Unmarshal(b, &out)
	return out
}

func names(flows map[string]*flow.Flow) string {
	var l []string
	for n := range flows {
		l = append(l, fmt.Sprintf("%q", n))
	}
	return strings.Join(l, ", ")
}

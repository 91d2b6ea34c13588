package main

// prefect run, prefect flows, prefect runs: create, watch, list and cancel
// flow runs on the server the configuration names (cloud.api,
// cloud.api_key), as Prefect 1's `prefect run` and `prefect get` do.
//
//	prefect run --name FLOW [--param k=v]... [--env K=V]... [--watch]
//	prefect flows list
//	prefect runs list [--state S] [--limit N]
//	prefect runs show ID
//	prefect runs cancel ID
//	prefect runs logs ID
//
// run checks the parameters against those the flow registered before it
// makes the run. runs cancel of a run that already ended Success or Failed
// cancels nothing, says so and exits 1; of one already Cancelled, exits 0.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/prefect-go/prefect/agent"
	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
)

// watchEvery is how often --watch looks at the run.
var watchEvery = 300 * time.Millisecond

// repeated is a flag that may be given many times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	name := fs.String("name", "", "the flow's name (its newest version runs)")
	var params, envs repeated
	fs.Var(&params, "param", "k=v: a parameter; v is read as JSON, else taken as a string (repeatable)")
	fs.Var(&envs, "env", "K=V for this run's environment; kept sealed on the server (repeatable)")
	watch := fs.Bool("watch", false, "show task states as they change and exit with the run's outcome")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{msg: fmt.Sprintf("run takes no arguments, not %q; give the flow with --name", rest)}
	}
	if *name == "" {
		return usageError{msg: "run needs --name FLOW"}
	}
	p := map[string]any{}
	for _, kv := range params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError{msg: fmt.Sprintf("--param %q: want NAME=VALUE", kv)}
		}
		var x any
		if json.Unmarshal([]byte(v), &x) != nil {
			x = v
		}
		p[k] = x
	}
	env, err := agent.ParseEnv(envs)
	if err != nil {
		return usageError{msg: "--env: " + err.Error()}
	}
	warnArgvSecrets(slog.New(slog.NewTextHandler(stderr, nil)), env)
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if err := checkParams(ctx, c, *name, p); err != nil {
		return err
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: *name, Parameters: p, Env: env})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "flow run %s (%s) of %s version %d: %s\n", shown(run.Name), run.ID, shown(run.FlowName), run.FlowVersion, run.State)
	fmt.Fprintln(stdout, run.ID)
	if !*watch {
		return nil
	}
	return watchRun(ctx, c, run.ID, stderr)
}

// checkParams refuses, before any run is made, the parameters that the
// newest version of flow name would refuse when it runs: unknown names and
// missing required ones, with the runner's sentences (Prefect's, then the
// names that would do). It checks nothing when the flow is not found (the
// server says so when asked for the run) or its registration does not list
// its parameters (a flow registered by some other program).
func checkParams(ctx context.Context, c *client.Client, name string, given map[string]any) error {
	flows, err := c.Flows(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(flows, func(f client.Flow) bool { return f.Name == name })
	if i < 0 {
		return nil
	}
	var def struct {
		Parameters *[]program.ParameterDef `json:"parameters"`
	}
	if json.Unmarshal(flows[i].Definition, &def) != nil || def.Parameters == nil {
		return nil
	}
	declared := map[string]bool{} // by name: required
	for _, p := range *def.Parameters {
		declared[p.Name] = p.Required
	}
	var unknown, missing []string
	for k := range given {
		if _, ok := declared[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	for k, required := range declared {
		if _, ok := given[k]; required && !ok {
			missing = append(missing, k)
		}
	}
	// The runner's sentences, which this cannot have the runner check
	// itself: it knows the flow's Go types, this only their names.
	errs := runner.ParameterErrors(name, slices.Collect(maps.Keys(declared)), unknown, missing)
	if len(errs) > 0 {
		errs = append(errs, errors.New("no run was created"))
	}
	return errors.Join(errs...)
}

// watchRun prints the run's task states and log lines as they change until
// the run ends, and returns an error unless it succeeded.
//
// Each look at the run prints what it found in the order it happened: the
// flow run's new state if it goes on, then task states and log lines by
// their time (both are the flow program's clock), then, once the run has
// ended, its final state last. A run that ends between two looks would
// otherwise show its outcome above the task states that led to it.
func watchRun(ctx context.Context, c *client.Client, id string, out io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	seen := map[string]state.Kind{}
	runState, after := "", "" // runState: the state last shown, by name
	for {
		run, err := c.FlowRun(ctx, id)
		if err != nil {
			return err
		}
		flowLine := ""
		if run.State.String() != runState {
			flowLine = fmt.Sprintf("%s  flow run %s: %s %s\n", time.Now().Format("15:04:05"), shown(run.Name), run.State, shown(run.Message))
			runState = run.State.String()
		}
		if !run.State.IsFinished() {
			fmt.Fprint(out, flowLine)
		}
		type event struct {
			at   time.Time
			line string
		}
		var events []event
		for _, tr := range run.TaskRuns {
			key := tr.Slug
			if tr.MapIndex >= 0 {
				key = fmt.Sprintf("%s[%d]", tr.Slug, tr.MapIndex)
			}
			if old, ok := seen[key]; !ok || old != tr.State {
				seen[key] = tr.State
				events = append(events, event{tr.Updated, fmt.Sprintf("%s  %-24s %s %s\n", tr.Updated.Local().Format("15:04:05"), shown(key), tr.State, shown(tr.Message))})
			}
		}
		// Every line logged so far: a page at a time. Read after the run,
		// so that they include those of the task states just read.
		for {
			lines, err := c.FlowRunLogs(ctx, id, after, 1000)
			if err != nil {
				break // shown at the next look, or not at all
			}
			for _, l := range lines {
				events = append(events, event{l.Time, fmt.Sprintf("%s  %-5s %s\n", l.Time.Local().Format("15:04:05"), shown(l.Level), shown(l.Message))})
				after = l.Seq
			}
			if len(lines) < 1000 {
				break
			}
		}
		slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
		for _, e := range events {
			fmt.Fprint(out, e.line)
		}
		if run.State.IsFinished() {
			fmt.Fprint(out, flowLine)
			if run.State == state.Success {
				return nil
			}
			return fmt.Errorf("flow run %s ended %s: %s", shown(run.Name), run.State, shown(run.Message))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped watching flow run %s (it goes on: prefect runs cancel %s stops it)", shown(run.Name), id)
		case <-time.After(watchEvery):
		}
	}
}

func flowsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	switch {
	case len(args) > 0 && isHelp(args[0]):
		return groupHelp("flows")
	case len(args) > 0 && args[0] == "schedule":
		return withUsage("flows schedule", flowsSchedule(ctx, args[1:], stdout))
	case len(args) == 0 || args[0] != "list":
		return usageError{msg: "flows takes a subcommand: list or schedule"}
	}
	if err := parseFlags(flag.NewFlagSet("flows list", flag.ContinueOnError), args[1:]); err != nil {
		return withUsage("flows list", err)
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	flows, err := c.Flows(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tLABELS\tSCHEDULE\tREGISTERED")
	for _, f := range flows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", shown(f.Name), f.Version, shown(strings.Join(f.Labels, ",")),
			scheduleShown(f), f.Created.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// scheduleShown says whether a flow has a schedule, and whether it is on.
func scheduleShown(f client.Flow) string {
	switch {
	case len(f.Schedule) == 0 || string(f.Schedule) == "null":
		return "-"
	case f.ScheduleActive:
		return "on"
	}
	return "off"
}

// flowsSchedule is prefect flows schedule NAME --on|--off: Prefect's
// set_schedule_active and set_schedule_inactive.
func flowsSchedule(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("flows schedule", flag.ContinueOnError)
	on := fs.Bool("on", false, "turn the schedule on: the server creates the flow's next runs")
	off := fs.Bool("off", false, "turn the schedule off: its runs no agent has claimed are deleted")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(names) != 1:
		return usageError{msg: fmt.Sprintf("flows schedule takes one flow name, not %d", len(names))}
	case *on == *off:
		return usageError{msg: "flows schedule needs --on or --off (one of them)"}
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if err := c.SetScheduleActive(ctx, names[0], *on); err != nil {
		return err
	}
	word := "off"
	if *on {
		word = "on"
	}
	fmt.Fprintf(stdout, "flow %s: schedule %s\n", shown(names[0]), word)
	return nil
}

const runsSubcommands = "list, show, cancel, logs"

func runsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{msg: "runs needs a subcommand; valid ones are " + runsSubcommands}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		return withUsage("runs list", runsList(ctx, rest, stdout))
	case "show", "cancel", "logs":
		// Flags first, so that -h answers without a server.
		fs := flag.NewFlagSet("runs "+sub, flag.ContinueOnError)
		ids, err := parse(fs, rest)
		if err != nil {
			return withUsage("runs "+sub, err)
		}
		if len(ids) != 1 || ids[0] == "" {
			return usageError{msg: fmt.Sprintf("runs %s takes one flow run ID", sub)}
		}
		c, err := apiClient()
		if err != nil {
			return err
		}
		defer c.CloseIdleConnections()
		switch sub {
		case "show":
			return runsShow(ctx, c, ids[0], stdout)
		case "cancel":
			return runsCancel(ctx, c, ids[0], stderr)
		}
		return runsLogs(ctx, c, ids[0], stdout)
	}
	if isHelp(sub) {
		return groupHelp("runs")
	}
	return usageError{msg: fmt.Sprintf("unknown runs subcommand %q; valid ones are %s", sub, runsSubcommands)}
}

func runsList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("runs list", flag.ContinueOnError)
	st := fs.String("state", "", "only runs in this state, in any case: one of "+runStateNames())
	limit := fs.Int("limit", 20, "how many, newest first (1-500)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var in []state.Kind
	if *st != "" {
		k, ok := flowRunState(*st)
		if !ok {
			return usageError{msg: fmt.Sprintf("--state %q is not a flow run's state: want one of %s", *st, runStateNames())}
		}
		in = append(in, k)
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	runs, err := c.FlowRuns(ctx, *limit, in...)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tFLOW\tSTATE\tCREATED")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s v%d\t%s\t%s\n", r.ID, shown(r.Name), shown(r.FlowName), r.FlowVersion, r.State, r.Created.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// flowRunState is the flow run state named s in any case ("failed" as
// "Failed"): people type states as they say them, and no two states differ
// in case only.
func flowRunState(s string) (state.Kind, bool) {
	for _, k := range orchestration.FlowRunStates() {
		if strings.EqualFold(k.String(), s) {
			return k, true
		}
	}
	return 0, false
}

// runsCancel cancels run id. A run that had already ended Success or
// Failed is an error: nothing was cancelled, and a script checking the
// exit status must not think otherwise. One already Cancelled is not: what
// was asked for holds.
func runsCancel(ctx context.Context, c *client.Client, id string, stderr io.Writer) error {
	before, _, err := c.FlowRunState(ctx, id)
	if err != nil {
		return err
	}
	if before.IsFinished() {
		if before == state.Cancelled {
			fmt.Fprintf(stderr, "flow run %s is already Cancelled\n", id)
			return nil
		}
		return fmt.Errorf("flow run %s already ended %s: nothing to cancel", id, before)
	}
	run, err := c.CancelFlowRun(ctx, id)
	if err != nil {
		return err
	}
	if run.State != state.Cancelled && run.State != state.Cancelling {
		// It ended between the two requests.
		return fmt.Errorf("flow run %s (%s) ended %s before it could be cancelled: nothing to cancel", shown(run.Name), id, run.State)
	}
	fmt.Fprintf(stderr, "flow run %s: %s\n", shown(run.Name), run.State)
	return nil
}

func runsLogs(ctx context.Context, c *client.Client, id string, stdout io.Writer) error {
	for after := ""; ; {
		lines, err := c.FlowRunLogs(ctx, id, after, 1000)
		if err != nil {
			return err
		}
		for _, l := range lines {
			task := ""
			if l.TaskSlug != "" {
				task = " [" + shown(l.TaskSlug) + "]"
			}
			fmt.Fprintf(stdout, "%s %-5s%s %s\n", l.Time.Local().Format(time.DateTime), shown(l.Level), task, shown(l.Message))
		}
		if len(lines) < 1000 {
			return nil
		}
		after = lines[len(lines)-1].Seq
	}
}

func runsShow(ctx context.Context, c *client.Client, id string, stdout io.Writer) error {
	run, err := c.FlowRun(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "flow run %s (%s)\nflow     %s version %d\nstate    %s %s\nagent    %s\ncreated  %s\n\n",
		shown(run.Name), run.ID, shown(run.FlowName), run.FlowVersion, run.State, shown(run.Message), shown(run.AgentID), run.Created.Local().Format(time.DateTime))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tINDEX\tSTATE\tMESSAGE")
	for _, tr := range run.TaskRuns {
		idx := "-"
		if tr.MapIndex >= 0 {
			idx = fmt.Sprint(tr.MapIndex)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shown(tr.Slug), idx, tr.State, shown(tr.Message))
	}
	return tw.Flush()
}

// runStateNames lists the states of a flow run, for messages.
func runStateNames() string {
	var names []string
	for _, k := range orchestration.FlowRunStates() {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}

// shown makes text from the server safe for a terminal: control
// characters (escape sequences could rewrite the screen) become "?", a
// message's line ends become " | ".
func shown(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return '?'
	}, strings.ReplaceAll(s, "\n", " | "))
}

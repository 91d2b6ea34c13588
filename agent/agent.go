package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/internal/retry"
	"github.com/prefect-go/prefect/state"
)

// Defaults of the options.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultGracePeriod  = 5 * time.Second
)

const (
	// claimBatch is how many runs one poll claims at most when the agent
	// has no WithMaxRuns limit.
	claimBatch = 10
	// callTimeout bounds each exchange with the orchestrator: a claim, a
	// poll of run states, the settling of one run.
	callTimeout = 30 * time.Second
	// settleAttempts is how many times the agent reads and sets a run's
	// state before it gives up on settling it.
	settleAttempts = 5
	// maxLineBytes is where a line of a failure message's tail is cut.
	maxLineBytes = 1000
)

// An Agent claims scheduled flow runs from an [Orchestrator] and runs each
// as a process started by its [Launcher]; see the package documentation.
// Make one with [New].
type Agent struct {
	o        Orchestrator
	name     string
	id       string
	labels   []string
	env      map[string]string
	level    string
	maxRuns  int
	poll     time.Duration
	grace    time.Duration
	launcher Launcher
	log      *slog.Logger
	forced   func(FlowRun) map[string]string
	environ  func() []string // the agent's own environment: os.Environ

	running atomic.Bool // Run is running
}

// optionProblems prints the problems of New's options, each of which
// says "agent: ", once in the header.
var optionProblems = problems.Format(func(n int) string { return fmt.Sprintf("agent: %d problems with the options", n) }, "agent: ")

// An Option configures an [Agent].
type Option func(*Agent) error

// New returns an agent that takes its runs from o. Without options it is
// called "agent", has a random ID and no labels (so it claims only runs
// without labels), sets no --env values, has no limit on runs at once,
// polls every DefaultPollInterval, waits DefaultGracePeriod on shutdown,
// launches with [LocalLauncher] and logs nothing. Every invalid option is
// reported in one error; several, one per line under a count:
//
//	agent: 2 problems with the options:
//		- max runs is -1: it must be 0 (no limit) or more
//		- the agent's name is empty
//
// errors.Is and errors.As reach each (a *multierror.Error).
func New(o Orchestrator, opts ...Option) (*Agent, error) {
	a := &Agent{
		o:        o,
		name:     "agent",
		poll:     DefaultPollInterval,
		grace:    DefaultGracePeriod,
		launcher: LocalLauncher{},
		log:      slog.New(slog.DiscardHandler),
		environ:  os.Environ,
	}
	var errs []error
	if o == nil {
		errs = append(errs, errors.New("agent: the orchestrator is nil"))
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(a); err != nil {
			errs = append(errs, fmt.Errorf("agent: %w", err))
		}
	}
	if err := problems.Join(optionProblems, errs...); err != nil {
		return nil, err
	}
	if a.id == "" {
		a.id = uuid.NewString()
	}
	a.log = a.log.With("agent", a.name)
	return a, nil
}

// WithName names the agent in logs and state messages (default "agent").
func WithName(name string) Option {
	return func(a *Agent) error {
		if name == "" {
			return errors.New("the agent's name is empty")
		}
		a.name = name
		return nil
	}
}

// WithID sets the ID the agent claims runs under (default: a random UUID,
// new for each Agent).
func WithID(id string) Option {
	return func(a *Agent) error {
		if id == "" {
			return errors.New("the agent's ID is empty")
		}
		a.id = id
		return nil
	}
}

// WithLabels sets the agent's labels: it claims only runs whose labels are
// all among them.
func WithLabels(labels ...string) Option {
	return func(a *Agent) error {
		a.labels = append([]string(nil), labels...)
		return nil
	}
}

// WithEnv sets the --env values every flow run gets (see [BuildEnv] for
// their place); [ParseEnv] makes env from KEY=VALUE entries. A name that
// no environment can hold is an error matching [ErrInvalidEnv].
func WithEnv(env map[string]string) Option {
	return func(a *Agent) error {
		if err := checkEnv(env); err != nil {
			return err
		}
		a.env = make(map[string]string, len(env))
		for k, v := range env {
			a.env[k] = v
		}
		return nil
	}
}

// WithForcedEnv sets a function that returns, for each run, the variables
// the agent always sets on top of everything else (API URL and key,
// tenant). A value of "" removes the variable (see [BuildEnv]). Values of
// names like *_KEY and *_TOKEN are masked in failure messages.
func WithForcedEnv(fn func(run FlowRun) map[string]string) Option {
	return func(a *Agent) error {
		a.forced = fn
		return nil
	}
}

// WithLoggingLevel sets PREFECT__LOGGING__LEVEL for flow runs (Prefect's
// logging.level, such as "INFO"); "" (the default) leaves it to the other
// sources of [BuildEnv].
func WithLoggingLevel(level string) Option {
	return func(a *Agent) error {
		a.level = level
		return nil
	}
}

// WithMaxRuns limits how many flow runs the agent runs at once; 0 (the
// default) is no limit, in which case one poll claims at most 10 runs.
func WithMaxRuns(n int) Option {
	return func(a *Agent) error {
		if n < 0 {
			return fmt.Errorf("max runs is %d: it must be 0 (no limit) or more", n)
		}
		a.maxRuns = n
		return nil
	}
}

// WithPollInterval sets how often the agent claims runs and checks its
// runs for cancellation (default DefaultPollInterval).
func WithPollInterval(d time.Duration) Option {
	return func(a *Agent) error {
		if d <= 0 {
			return fmt.Errorf("poll interval is %v: it must be positive", d)
		}
		a.poll = d
		return nil
	}
}

// WithGracePeriod sets how long Run waits, once its context is done, for
// running flow runs to end before it kills them (default
// DefaultGracePeriod; 0 kills them at once).
func WithGracePeriod(d time.Duration) Option {
	return func(a *Agent) error {
		if d < 0 {
			return fmt.Errorf("grace period is %v: it must not be negative", d)
		}
		a.grace = d
		return nil
	}
}

// WithLauncher sets what starts flow-run processes (default
// [LocalLauncher]).
func WithLauncher(l Launcher) Option {
	return func(a *Agent) error {
		if l == nil {
			return errors.New("the launcher is nil")
		}
		a.launcher = l
		return nil
	}
}

// WithLogger sets the logger the agent reports to (default: none). Records
// carry the agent's name ("agent") and the run's ID ("flow_run"); they name
// environment variables but never show their values.
func WithLogger(l *slog.Logger) Option {
	return func(a *Agent) error {
		if l != nil {
			a.log = l
		}
		return nil
	}
}

// Name returns the agent's name.
func (a *Agent) Name() string { return a.name }

// ID returns the ID the agent claims runs under.
func (a *Agent) ID() string { return a.id }

// Run polls for flow runs and runs them until ctx is done, then shuts down:
// it claims no more runs, waits up to the grace period for its running runs
// to end (still killing cancelled ones), kills the process groups of those
// still running, marks those runs Failed with a message saying the agent
// stopped, and returns nil once every run it claimed has a final state or
// could not be given one (which it logs). Runs claimed as ctx ended, and
// not yet started, are set back to Scheduled for another agent. Errors of
// the orchestrator are logged and the agent polls on. Run returns an error
// only when the agent is already running.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return fmt.Errorf("agent %q is already running", a.name)
	}
	defer a.running.Store(false)
	s := &session{a: a, base: context.WithoutCancel(ctx), runs: map[*handle]struct{}{}, freed: make(chan struct{}, 1)}
	a.log.Info("agent started", "id", a.id, "labels", a.labels, "max_runs", a.maxRuns, "poll_interval", a.poll)
	tick := time.NewTicker(a.poll)
	defer tick.Stop()
	for {
		s.checkRuns()
		s.claim(ctx)
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case <-tick.C:
		case <-s.freed:
		}
	}
}

// A session is one call of Run.
type session struct {
	a    *Agent
	base context.Context // Run's context without its end, for callCtx
	wg   sync.WaitGroup  // the goroutines that watch and settle runs

	mu   sync.Mutex
	runs map[*handle]struct{} // runs whose process has not ended; guarded by mu

	// freed wakes the loop when a run ends, to claim another at once
	// rather than at the next tick.
	freed chan struct{}
	// stopping is set once the agent is shutting down.
	stopping atomic.Bool
}

// A handle is one launched run.
type handle struct {
	run    FlowRun
	proc   Process
	masker *redact.Masker
	killed atomic.Int32 // why the agent killed it: one of the reasons below
}

const (
	notKilled int32 = iota
	killedCancel
	killedShutdown
)

// kill kills h's process for reason, once.
func (s *session) kill(h *handle, reason int32) {
	if !h.killed.CompareAndSwap(notKilled, reason) {
		return
	}
	if err := h.proc.Kill(); err != nil {
		s.a.log.Error("could not kill a flow run's processes", "flow_run", h.run.ID, "err", h.masker.Redact(err.Error()))
	}
}

func (s *session) snapshot() []*handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := make([]*handle, 0, len(s.runs))
	for h := range s.runs {
		hs = append(hs, h)
	}
	return hs
}

// callCtx returns the context of one exchange with the orchestrator: Run's
// context's values, but not its end, since a run claimed or ended during
// shutdown must still reach the orchestrator; callTimeout bounds it.
func (s *session) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.base, callTimeout)
}

// checkRuns kills the runs that are being cancelled, or were cancelled
// without the agent's help.
func (s *session) checkRuns() {
	hs := s.snapshot()
	if len(hs) == 0 {
		return
	}
	ctx, cancel := s.callCtx()
	defer cancel()
	for _, h := range hs {
		if h.killed.Load() != notKilled {
			continue
		}
		st, _, err := s.a.o.RunState(ctx, h.run.ID)
		if err != nil {
			// The server is likely away: the other runs would each wait
			// out the same failure. Look again at the next poll.
			s.a.log.Warn("could not read a flow run's state; looking again at the next poll", "flow_run", h.run.ID, "err", err)
			return
		}
		if st == state.Cancelling || st == state.Cancelled {
			s.a.log.Info("flow run cancelled: killing its processes", "flow_run", h.run.ID, "state", st)
			s.kill(h, killedCancel)
		}
	}
}

// claim claims as many runs as the agent has room for and launches them.
func (s *session) claim(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	a := s.a
	n := claimBatch
	if a.maxRuns > 0 {
		s.mu.Lock()
		n = a.maxRuns - len(s.runs)
		s.mu.Unlock()
	}
	if n <= 0 {
		return
	}
	cctx, cancel := s.callCtx()
	runs, err := a.o.Claim(cctx, a.id, a.labels, n)
	cancel()
	if err != nil {
		a.log.Warn("could not claim flow runs", "err", err)
		return
	}
	if len(runs) > n {
		a.log.Error("the orchestrator handed out more runs than asked for", "asked", n, "got", len(runs))
		s.giveBack(runs[n:])
		runs = runs[:n]
	}
	for i, run := range runs {
		if ctx.Err() != nil {
			s.giveBack(runs[i:])
			return
		}
		s.launch(run)
	}
}

// giveBack sets runs the agent claimed but will not start back to
// Scheduled, if nothing else changed them since.
func (s *session) giveBack(runs []FlowRun) {
	msg := fmt.Sprintf("The agent %q did not start the flow run; it is scheduled again.", s.a.name)
	for _, run := range runs {
		s.wg.Go(func() {
			ctx, cancel := s.callCtx()
			defer cancel()
			if _, err := s.a.o.SetState(ctx, run.ID, run.Version, state.Scheduled, msg); err != nil {
				s.a.log.Error("could not schedule a claimed flow run again", "flow_run", run.ID, "err", err)
				return
			}
			s.a.log.Info("flow run scheduled again", "flow_run", run.ID)
		})
	}
}

// launch starts run and a goroutine that watches it.
func (s *session) launch(run FlowRun) {
	a := s.a
	log := a.log.With("flow_run", run.ID)
	if len(run.Command) == 0 {
		log.Error("flow run has no command")
		s.settleLater(run.ID, "The flow run has no command to run: register the flow with the command that runs it.")
		return
	}
	var forced map[string]string
	if a.forced != nil {
		forced = a.forced(run)
	}
	env := BuildEnv(a.environ(), a.level, a.env, run, forced)
	m := newMasker(env)
	// Whatever was forwarded on purpose (--env, the run's environment,
	// sealed on the server) may be secret, whatever its name.
	for _, src := range []map[string]string{a.env, run.Env} {
		for _, v := range src {
			if len(v) >= 4 {
				addSecret(m, v)
			}
		}
	}
	command := make([]string, len(run.Command))
	for i, arg := range run.Command {
		command[i] = m.Redact(arg)
	}
	log.Info("launching flow run", "flow", run.FlowName, "flow_version", run.FlowVersion,
		"command", command, "dir", run.WorkingDir, "env", envNames(env))
	ctx, cancel := s.callCtx()
	proc, err := a.launcher.Launch(ctx, LaunchSpec{RunID: run.ID, Command: run.Command, Dir: run.WorkingDir, Env: env})
	cancel()
	if err != nil {
		msg := m.Redact(err.Error())
		log.Error("could not start the flow run's process", "err", msg)
		s.settleLater(run.ID, fmt.Sprintf("The agent %q could not start the flow run's process: %s", a.name, msg))
		return
	}
	h := &handle{run: run, proc: proc, masker: m}
	s.mu.Lock()
	s.runs[h] = struct{}{}
	s.mu.Unlock()
	s.wg.Go(func() { s.watch(h) })
}

// watch waits for h's process to end and settles the run.
func (s *session) watch(h *handle) {
	exit, err := h.proc.Wait()
	s.mu.Lock()
	delete(s.runs, h)
	s.mu.Unlock()
	defer func() {
		select {
		case s.freed <- struct{}{}:
		default:
		}
	}()
	log := s.a.log.With("flow_run", h.run.ID)
	msg, cancelMsg := "", "Flow run cancelled; its process ended with "+exit.String()+"."
	switch {
	case err != nil:
		msg = "The agent lost track of the flow run's process: " + h.masker.Redact(err.Error())
		cancelMsg = "Flow run cancelled; the agent lost track of its process."
		log.Error("lost track of a flow run's process", "err", h.masker.Redact(err.Error()))
	case h.killed.Load() == killedShutdown:
		msg = fmt.Sprintf("The agent %q stopped and killed the flow run's processes, which were still running %v after it was asked to stop.", s.a.name, s.a.grace)
		log.Info("flow run killed at shutdown", "exit", exit.String())
	default:
		msg = fmt.Sprintf("The flow run's process ended with %v before the flow run reached a final state.", exit)
		log.Info("flow run's process ended", "exit", exit.String())
	}
	s.settle(h.run.ID, msg+tailText(h.proc.Tail(), h.masker), cancelMsg)
}

// tailText returns the lines for a state message: masked, made valid
// UTF-8, and cut to maxLineBytes each. Masking comes first, on the lines
// joined, so that a secret spanning lines is masked whole, and no cut can
// leave part of a secret unmasked.
func tailText(lines []string, m *redact.Masker) string {
	if len(lines) == 0 {
		return " It wrote no output."
	}
	text := strings.ToValidUTF8(m.Redact(strings.Join(lines, "\n")), "\uFFFD")
	var b strings.Builder
	fmt.Fprintf(&b, " Its last %d lines of output (values of secret variables masked):", len(lines))
	for line := range strings.SplitSeq(text, "\n") {
		b.WriteString("\n")
		if len(line) > maxLineBytes {
			cut := maxLineBytes
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			line = line[:cut] + " [...]"
		}
		b.WriteString(line)
	}
	return b.String()
}

// settleLater settles a run that never started, in the background.
func (s *session) settleLater(runID, msg string) {
	s.wg.Go(func() { s.settle(runID, msg, "Flow run cancelled before it started.") })
}

// settle gives a run whose process is gone, or never started, a final
// state unless it has one: Cancelled with cancelMsg when it is Cancelling,
// else Failed with failMsg. It reads the state again after a conflict, up
// to settleAttempts times, and retries after another error until the
// call's timeout, or settleAttempts times once the agent is stopping (a
// server away: its reaper settles what the agent could not).
func (s *session) settle(runID, failMsg, cancelMsg string) {
	log := s.a.log.With("flow_run", runID)
	ctx, cancel := s.callCtx()
	defer cancel()
	backoff := retry.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}
	waits := 0 // conflicts are retried at once, so they do not count
	for attempt := 1; ; attempt++ {
		st, version, err := s.a.o.RunState(ctx, runID)
		if err == nil {
			if st.IsFinished() {
				log.Info("flow run ended", "state", st)
				return
			}
			to, msg := state.Failed, failMsg
			if st == state.Cancelling {
				to, msg = state.Cancelled, cancelMsg
			}
			if _, err = s.a.o.SetState(ctx, runID, version, to, msg); err == nil {
				log.Info("flow run ended", "state", to, "was", st)
				return
			}
		}
		// Conflicts count; a server away is waited for, up to the call's
		// timeout (after which the server's own reaper settles the run).
		if errors.Is(err, ErrConflict) {
			if attempt >= settleAttempts {
				log.Error("could not give the flow run a final state", "err", err)
				return
			}
			continue // someone else moved it: look again at once
		}
		// A stopping agent does not wait for a server that is away: the
		// server's reaper settles the run.
		if ctx.Err() != nil || (s.stopping.Load() && attempt >= settleAttempts) {
			log.Error("could not give the flow run a final state", "err", err)
			return
		}
		log.Warn("could not give the flow run a final state; trying again", "err", err)
		_ = retry.Sleep(ctx, backoff.Delay(waits)) // the next attempt sees ctx end
		waits++
	}
}

// shutdown waits for the runs to end, up to the grace period, then kills
// the rest, and returns once every run is settled.
func (s *session) shutdown() {
	a := s.a
	s.stopping.Store(true)
	a.log.Info("agent stopping: claiming no more runs", "running", len(s.snapshot()), "grace_period", a.grace)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	grace := time.NewTimer(a.grace)
	defer grace.Stop()
	tick := time.NewTicker(a.poll)
	defer tick.Stop()
	for {
		select {
		case <-done:
			a.log.Info("agent stopped")
			return
		case <-tick.C:
			s.checkRuns()
		case <-grace.C:
			hs := s.snapshot()
			if len(hs) > 0 {
				a.log.Warn("grace period over: killing the flow runs still running", "running", len(hs))
			}
			for _, h := range hs {
				s.kill(h, killedShutdown)
			}
			<-done
			a.log.Info("agent stopped")
			return
		}
	}
}

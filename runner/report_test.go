package runner_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// recReporter is a runner.Reporter that keeps everything it hears of and
// counts calls that overlap, which the runner promises never happen.
type recReporter struct {
	in, overlaps atomic.Int32
	mu           sync.Mutex
	events       []string // "flow", "task" or "log", in the order heard
	flows        []state.State
	tasks        []runner.TaskReport
	logs         []runner.LogReport
}

func (r *recReporter) enter(event string) {
	if r.in.Add(1) != 1 {
		r.overlaps.Add(1)
	}
	r.mu.Lock()
	r.events = append(r.events, event)
	r.mu.Unlock()
}

func (r *recReporter) leave() { r.in.Add(-1) }

func (r *recReporter) FlowState(s state.State) {
	r.enter("flow")
	defer r.leave()
	r.mu.Lock()
	r.flows = append(r.flows, s)
	r.mu.Unlock()
}

func (r *recReporter) TaskState(tr runner.TaskReport) {
	r.enter("task")
	defer r.leave()
	r.mu.Lock()
	r.tasks = append(r.tasks, tr)
	r.mu.Unlock()
}

func (r *recReporter) Log(lr runner.LogReport) {
	r.enter("log")
	defer r.leave()
	r.mu.Lock()
	r.logs = append(r.logs, lr)
	r.mu.Unlock()
}

// runKey names a task run: its slug, with "[i]" for mapped child i.
func runKey(slug string, mapIndex int) string {
	if mapIndex < 0 {
		return slug
	}
	return slug + "[" + strconv.Itoa(mapIndex) + "]"
}

// sequences returns the kinds each task run went through, space-separated,
// by run key.
func (r *recReporter) sequences() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for _, tr := range r.tasks {
		k := runKey(tr.Slug, tr.MapIndex)
		if out[k] != "" {
			out[k] += " "
		}
		out[k] += tr.State.Kind.String()
	}
	return out
}

// flowKinds returns the flow states heard of, space-separated.
func (r *recReporter) flowKinds() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []string
	for _, s := range r.flows {
		ks = append(ks, s.Kind.String())
	}
	return strings.Join(ks, " ")
}

// checkContract checks what holds for every run: no overlapping calls, the
// flow Running first and its final state last, every task run heard of
// first as Pending, no result and no children in any state, and the final
// flow state the one Run returned.
func (r *recReporter) checkContract(t *testing.T, fs *runner.FlowState) {
	t.Helper()
	if n := r.overlaps.Load(); n > 0 {
		t.Errorf("%d Reporter calls overlapped another", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var states []string
	for _, e := range r.events {
		if e != "log" {
			states = append(states, e)
		}
	}
	if len(r.flows) != 2 || len(states) < 2 || states[0] != "flow" || states[len(states)-1] != "flow" {
		t.Errorf("flow states %v, in order %v; want Running first and the final state last", r.flows, states)
	} else {
		if r.flows[0].Kind != state.Running {
			t.Errorf("first flow state %v, want Running", r.flows[0])
		}
		// The message is masked like any other: a short secret (" ") may
		// be part of one of Prefect's own.
		if got := r.flows[1]; fs != nil && (got.Kind != fs.Kind || got.Message != fs.Message && !strings.Contains(got.Message, secrets.Redacted)) {
			t.Errorf("final flow state reported %v, Run returned %v", got, fs.State)
		}
	}
	seen := map[string]bool{}
	for _, tr := range r.tasks {
		k := runKey(tr.Slug, tr.MapIndex)
		if !seen[k] && tr.State.Kind != state.Pending {
			t.Errorf("%s: first reported %v, want Pending", k, tr.State)
		}
		seen[k] = true
		if tr.State.Result != nil || tr.State.Children != nil {
			t.Errorf("%s: reported %v with a Result (%v) or Children (%d)", k, tr.State, tr.State.Result, len(tr.State.Children))
		}
	}
	for _, s := range r.flows {
		if s.Result != nil || s.Children != nil {
			t.Errorf("flow state %v reported with a Result or Children", s)
		}
	}
}

// wantSequences compares the sequences heard of with want, whose values may
// list alternatives separated by "|" (where the executor's timing decides).
func wantSequences(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if !slices.Contains(strings.Split(w, "|"), got[k]) {
			t.Errorf("%s: reported %q, want %q", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: reported %q, want nothing", k, g)
		}
	}
}

type reportSetup struct {
	f    *flow.Flow
	ctx  context.Context // nil for the test's context
	opts []runner.Option
}

// onceCloser closes its channel once, however many times it is called.
type onceCloser struct {
	once sync.Once
	ch   chan struct{}
}

func newOnceCloser() *onceCloser { return &onceCloser{ch: make(chan struct{})} }
func (c *onceCloser) close()     { c.once.Do(func() { close(c.ch) }) }

// TestReporterSequences checks the exact states each task run of small
// flows reports, on both executors.
func TestReporterSequences(t *testing.T) {
	const (
		ran    = "Pending Running Success"
		failed = "Pending Running Failed"
	)
	cases := []struct {
		name  string
		build func(t *testing.T) reportSetup
		flow  string
		tasks map[string]string
	}{
		{
			name: "chain and a parameter",
			build: func(t *testing.T) reportSetup {
				f := flow.New("chain")
				n := flow.Parameter(f, "n", flow.WithDefault(2))
				a := flow.Add(f, double("a"), flow.Bind("x", n))
				flow.Add(f, double("b"), flow.Bind("x", a))
				return reportSetup{f: f}
			},
			flow:  "Running Success",
			tasks: map[string]string{"n": "Pending Success", "a-1": ran, "b-1": ran},
		},
		{
			name: "retries",
			build: func(t *testing.T) reportSetup {
				f := flow.New("retries")
				var calls atomic.Int32
				flow.Add(f, task.New("flaky", func(context.Context, task.None) (int, error) {
					if calls.Add(1) <= 2 {
						return 0, errBoom
					}
					return 1, nil
				}, task.WithRetries(2, 0)))
				hopeless := flow.Add(f, failingTask("hopeless", nil, task.WithRetries(1, 0)))
				flow.Add(f, double("after"), flow.Bind("x", hopeless))
				return reportSetup{f: f}
			},
			flow: "Running Failed",
			tasks: map[string]string{
				"flaky-1":    "Pending Running Retrying Running Retrying Running Success",
				"hopeless-1": "Pending Running Retrying Running Failed",
				"after-1":    "Pending TriggerFailed",
			},
		},
		{
			name: "mapping",
			build: func(t *testing.T) reportSetup {
				f := flow.New("mapping")
				list := flow.Add(f, valueTask("list", []int{1, 2, 3}, nil))
				var threes atomic.Int32
				half := flow.Map(f, task.New("half", func(_ context.Context, in argX) (int, error) {
					switch {
					case in.X == 2:
						return 0, errBoom
					case in.X == 3 && threes.Add(1) == 1:
						return 0, errBoom
					}
					return in.X, nil
				}, task.WithRetries(1, 0)), flow.Bind("x", list))
				flow.Add(f, sumTask("sum"), flow.Bind("values", half))
				return reportSetup{f: f}
			},
			flow: "Running Failed",
			tasks: map[string]string{
				"list-1":    ran,
				"half-1":    "Pending Running Mapped",
				"half-1[0]": ran,
				"half-1[1]": "Pending Running Retrying Running Failed",
				"half-1[2]": "Pending Running Retrying Running Success",
				"sum-1":     "Pending TriggerFailed",
			},
		},
		{
			name: "mapping over nothing",
			build: func(t *testing.T) reportSetup {
				f := flow.New("empty")
				list := flow.Add(f, valueTask("list", []int{}, nil))
				half := flow.Map(f, double("half"), flow.Bind("x", list))
				flow.Add(f, sumTask("sum"), flow.Bind("values", half))
				return reportSetup{f: f}
			},
			flow:  "Running Success",
			tasks: map[string]string{"list-1": ran, "half-1": "Pending Mapped", "sum-1": ran},
		},
		{
			name: "skips and failed triggers",
			build: func(t *testing.T) reportSetup {
				f := flow.New("skips")
				skip := flow.Add(f, skippingTask("skip"))
				flow.Add(f, double("after_skip"), flow.Bind("x", skip))
				fail := flow.Add(f, failingTask("fail", nil))
				flow.Add(f, double("after_fail"), flow.Bind("x", fail))
				flow.Add(f, valueTask("always", 1, nil, task.WithTrigger(task.AllFinished)), flow.After(fail))
				return reportSetup{f: f}
			},
			flow: "Running Failed",
			tasks: map[string]string{
				"skip-1":       "Pending Running Skipped",
				"after_skip-1": "Pending Skipped",
				"fail-1":       failed,
				"after_fail-1": "Pending TriggerFailed",
				"always-1":     ran,
			},
		},
		{
			name: "cached",
			build: func(t *testing.T) reportSetup {
				f := flow.New("cached")
				flow.Add(f, valueTask("slow", 1, nil, task.WithCacheFor(time.Hour)))
				store := result.NewMemory()
				// A first run, unreported, fills the cache.
				if fs := runFlow(t, runner.Local(), f, runner.WithResultStore(store)); fs.Kind != state.Success {
					t.Fatalf("first run: %v", fs.State)
				}
				return reportSetup{f: f, opts: []runner.Option{runner.WithResultStore(store)}}
			},
			flow:  "Running Success",
			tasks: map[string]string{"slow-1": "Pending Cached"},
		},
		{
			name: "a state handler",
			build: func(t *testing.T) reportSetup {
				f := flow.New("handled")
				// The handler turns the run's Running into Skipped: the task
				// never runs, and is never reported Running.
				flow.Add(f, valueTask("vetoed", 1, nil, task.WithStateHandlers(func(_ context.Context, _, new state.State) state.State {
					if new.Kind == state.Running {
						return state.New(state.Skipped, "vetoed")
					}
					return new
				})))
				flow.Add(f, valueTask("watched", 1, nil, task.WithStateHandlers(func(_ context.Context, _, new state.State) state.State {
					return new
				})))
				return reportSetup{f: f}
			},
			flow:  "Running Success",
			tasks: map[string]string{"vetoed-1": "Pending Skipped", "watched-1": ran},
		},
		{
			name: "paused",
			build: func(t *testing.T) reportSetup {
				f := flow.New("paused")
				a := flow.Add(f, valueTask("a", 1, nil))
				gate := flow.Add(f, double("gate", task.WithTrigger(task.ManualOnly)), flow.Bind("x", a))
				flow.Add(f, double("next"), flow.Bind("x", gate))
				flow.Add(f, task.New("pauser", func(context.Context, task.None) (int, error) {
					return 0, task.Pause("waiting for approval")
				}))
				return reportSetup{f: f}
			},
			flow: "Running Paused",
			tasks: map[string]string{
				"a-1": ran, "gate-1": "Pending Paused", "next-1": "Pending Pending", "pauser-1": "Pending Running Paused",
			},
		},
		{
			name: "cancelled before the start",
			build: func(t *testing.T) reportSetup {
				f := flow.New("cancel-early")
				a := flow.Add(f, valueTask("a", 1, nil))
				flow.Add(f, double("b"), flow.Bind("x", a))
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return reportSetup{f: f, ctx: ctx}
			},
			flow:  "Running Cancelled",
			tasks: map[string]string{"a-1": "Pending Cancelled", "b-1": "Pending Cancelled"},
		},
		{
			// r fails and waits an hour for its retry; once its state is
			// Retrying, c cancels the run. d, after c, never starts.
			name: "cancelled while a retry waits",
			build: func(t *testing.T) reportSetup {
				ctx, cancel := context.WithCancel(t.Context())
				t.Cleanup(cancel)
				retrying := newOnceCloser()
				f := flow.New("cancel-retry")
				flow.Add(f, failingTask("r", nil, task.WithRetries(1, time.Hour),
					task.WithStateHandlers(func(_ context.Context, _, new state.State) state.State {
						if new.Kind == state.Retrying {
							retrying.close()
						}
						return new
					})))
				c := flow.Add(f, task.New("c", func(context.Context, task.None) (int, error) {
					<-retrying.ch
					cancel()
					return 1, nil
				}))
				flow.Add(f, double("d"), flow.Bind("x", c))
				return reportSetup{f: f, ctx: ctx}
			},
			flow: "Running Cancelled",
			tasks: map[string]string{
				"r-1": "Pending Running Retrying Cancelled",
				"c-1": ran,
				"d-1": "Pending Cancelled",
			},
		},
		{
			// Child 0 cancels the run; every child returns once its
			// context ends. On Parallel, children 1 and 2 may have
			// started by then, or not.
			name: "cancelled while mapped children run",
			build: func(t *testing.T) reportSetup {
				ctx, cancel := context.WithCancel(t.Context())
				t.Cleanup(cancel)
				f := flow.New("cancel-mapped")
				list := flow.Add(f, valueTask("list", []int{0, 1, 2}, nil))
				kids := flow.Map(f, task.New("kid", func(ctx context.Context, in argX) (int, error) {
					if in.X == 0 {
						cancel()
					}
					<-ctx.Done()
					return 0, ctx.Err()
				}), flow.Bind("x", list))
				flow.Add(f, sumTask("sum"), flow.Bind("values", kids))
				return reportSetup{f: f, ctx: ctx}
			},
			flow: "Running Cancelled",
			tasks: map[string]string{
				"list-1":   ran,
				"kid-1":    "Pending Running Cancelled",
				"kid-1[0]": "Pending Running Cancelled",
				"kid-1[1]": "Pending Running Cancelled|Pending Cancelled",
				"kid-1[2]": "Pending Running Cancelled|Pending Cancelled",
				"sum-1":    "Pending Cancelled",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				s := c.build(t)
				ctx := s.ctx
				if ctx == nil {
					ctx = t.Context()
				}
				rep := &recReporter{}
				fs, err := runner.Run(ctx, s.f, append([]runner.Option{runner.WithExecutor(ex), runner.WithReporter(rep)}, s.opts...)...)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				rep.checkContract(t, fs)
				if got := rep.flowKinds(); got != c.flow {
					t.Errorf("flow: reported %q, want %q", got, c.flow)
				}
				wantSequences(t, rep.sequences(), c.tasks)
			})
		})
	}
}

// A restart reports the tasks it keeps with their kept state, without
// running them; the tasks it runs again, as any run does. Resuming a task
// paused by manual_only runs it.
func TestReporterRestart(t *testing.T) {
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		var fail atomic.Bool
		fail.Store(true)
		f := flow.New("restart")
		a := flow.Add(f, valueTask("a", 1, nil))
		b := flow.Add(f, task.New("b", func(_ context.Context, in argX) (int, error) {
			if fail.Load() {
				return 0, errBoom
			}
			return in.X, nil
		}), flow.Bind("x", a))
		list := flow.Add(f, valueTask("list", []int{1, 2}, nil))
		flow.Map(f, task.New("kid", func(_ context.Context, in argX) (int, error) {
			if in.X == 2 && fail.Load() {
				return 0, errBoom
			}
			return in.X, nil
		}), flow.Bind("x", list))
		gate := flow.Add(f, double("gate", task.WithTrigger(task.ManualOnly)), flow.Bind("x", b))

		first := &recReporter{}
		fs := runFlow(t, ex, f, runner.WithReporter(first))
		first.checkContract(t, fs)
		wantSequences(t, first.sequences(), map[string]string{
			"a-1": "Pending Running Success", "b-1": "Pending Running Failed",
			"list-1": "Pending Running Success", "kid-1": "Pending Running Mapped",
			"kid-1[0]": "Pending Running Success", "kid-1[1]": "Pending Running Failed",
			"gate-1": "Pending Paused",
		})

		fail.Store(false)
		second := &recReporter{}
		fs2, err := runner.Restart(t.Context(), f, fs, runner.WithExecutor(ex), runner.WithReporter(second))
		if err != nil {
			t.Fatal(err)
		}
		second.checkContract(t, fs2)
		if got := second.flowKinds(); got != "Running Paused" {
			t.Errorf("restart: flow reported %q, want Running Paused", got)
		}
		wantSequences(t, second.sequences(), map[string]string{
			"a-1": "Pending Success", "b-1": "Pending Running Success",
			"list-1": "Pending Success", "kid-1": "Pending Running Mapped",
			"kid-1[0]": "Pending Success", "kid-1[1]": "Pending Running Success",
			"gate-1": "Pending Paused",
		})

		third := &recReporter{}
		fs3, err := runner.Restart(t.Context(), f, fs2, runner.WithExecutor(ex), runner.WithReporter(third), runner.WithResume(gate.Slug()))
		if err != nil {
			t.Fatal(err)
		}
		third.checkContract(t, fs3)
		if got := third.flowKinds(); got != "Running Success" {
			t.Errorf("resume: flow reported %q, want Running Success", got)
		}
		wantSequences(t, third.sequences(), map[string]string{
			"a-1": "Pending Success", "b-1": "Pending Success",
			"list-1": "Pending Success", "kid-1": "Pending Mapped",
			"kid-1[0]": "Pending Success", "kid-1[1]": "Pending Success",
			"gate-1": "Pending Running Success",
		})
	})
}

// TestReporterFields checks what a TaskReport holds: the task run id the
// task itself sees, the time on the run's clock, the error as text only.
func TestReporterFields(t *testing.T) {
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		var mu sync.Mutex
		ids := map[string]string{} // run key -> TaskRunID seen inside the task
		seeID := func(ctx context.Context) {
			rc, _ := runner.FromContext(ctx)
			mu.Lock()
			ids[runKey(rc.TaskSlug, rc.MapIndex)] = rc.TaskRunID().String()
			mu.Unlock()
		}
		f := flow.New("fields")
		list := flow.Add(f, task.New("list", func(ctx context.Context, _ task.None) ([]int, error) {
			seeID(ctx)
			return []int{1, 2}, nil
		}))
		flow.Map(f, task.New("kid", func(ctx context.Context, in argX) (int, error) {
			seeID(ctx)
			return in.X, nil
		}), flow.Bind("x", list))
		flow.Add(f, task.New("fails", func(ctx context.Context, _ task.None) (int, error) {
			seeID(ctx)
			return 0, fmt.Errorf("wrapped: %w", errBoom)
		}))
		flow.Add(f, task.New("panics", func(ctx context.Context, _ task.None) (int, error) {
			seeID(ctx)
			panic("oh no")
		}))
		rep := &recReporter{}
		fs := runFlow(t, ex, f, runner.WithReporter(rep))
		rep.checkContract(t, fs)

		rep.mu.Lock()
		defer rep.mu.Unlock()
		for _, tr := range rep.tasks {
			k := runKey(tr.Slug, tr.MapIndex)
			if want, ok := ids[k]; ok && tr.TaskRunID.String() != want {
				t.Errorf("%s: TaskRunID %s, the task saw %s", k, tr.TaskRunID, want)
			}
			if now := time.Now(); !tr.Time.Equal(now) {
				t.Errorf("%s: Time %v, want the bubble's clock's %v", k, tr.Time, now)
			}
			if tr.State.IsFailed() {
				err := tr.State.Err
				if err == nil {
					t.Errorf("%s: %v reported without its error", k, tr.State)
					continue
				}
				if errors.Unwrap(err) != nil || errors.Is(err, errBoom) {
					t.Errorf("%s: the reported error %v reaches the task's error", k, err)
				}
				var pe *runner.PanicError
				if errors.As(err, &pe) {
					t.Errorf("%s: the reported error holds the *PanicError", k)
				}
				want := map[string]string{"fails-1": "wrapped: boom", "panics-1": "panic: oh no"}[k]
				if err.Error() != want {
					t.Errorf("%s: reported error %q, want %q", k, err, want)
				}
			}
		}
		if len(ids) != 5 {
			t.Errorf("the tasks saw %d task run ids, want 5: %v", len(ids), ids)
		}
	})
}

// TestReporterLogs checks the records a Reporter hears of: Info and above,
// with or without a logger, the same ones the logger gets, with the task
// run they are about and their attributes flattened.
func TestReporterLogs(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	f := flow.New("logs")
	list := flow.Add(f, valueTask("list", []int{1, 2}, nil))
	flow.Map(f, task.New("talk", func(ctx context.Context, in argX) (int, error) {
		rc, _ := runner.FromContext(ctx)
		log := rc.Logger()
		log.Debug("quiet")
		log.Info("hello", "k", "v", slog.Group("g", slog.Int("n", in.X)), slog.Time("t", t0), slog.Any("err", errBoom))
		log.WithGroup("req").Warn("grouped", "id", 7)
		return in.X, nil
	}), flow.Bind("x", list))

	for _, withLogger := range []bool{false, true} {
		t.Run(fmt.Sprintf("logger=%v", withLogger), func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				rep := &recReporter{}
				rec := &logRecorder{}
				opts := []runner.Option{runner.WithReporter(rep)}
				if withLogger {
					opts = append(opts, runner.WithLogger(rec.logger()))
				}
				fs := runFlow(t, ex, f, opts...)
				rep.checkContract(t, fs)
				rep.mu.Lock()
				logs := slices.Clone(rep.logs)
				rep.mu.Unlock()

				var hello, grouped, finished, begin int
				for _, lr := range logs {
					if lr.Level < slog.LevelInfo {
						t.Errorf("a %v record was reported: %q", lr.Level, lr.Message)
					}
					switch {
					case lr.Message == "hello":
						hello++
						if lr.TaskSlug != "talk-1" || lr.MapIndex < 0 || lr.MapIndex > 1 {
							t.Errorf("hello: task run %s[%d], want talk-1[0 or 1]", lr.TaskSlug, lr.MapIndex)
						}
						want := map[string]string{
							"k": "v", "g.n": strconv.Itoa(lr.MapIndex + 1), "t": t0.Format(time.RFC3339Nano), "err": "boom",
							"task_run.task_slug": "talk-1", "task_run.map_index": strconv.Itoa(lr.MapIndex),
							"task_run.task_run_count": "1", "flow_run.flow_name": "logs",
						}
						for k, v := range want {
							if lr.Attrs[k] != v {
								t.Errorf("hello: Attrs[%q] = %q, want %q (all: %v)", k, lr.Attrs[k], v, lr.Attrs)
							}
						}
						if lr.Time.IsZero() || lr.Level != slog.LevelInfo {
							t.Errorf("hello: time %v, level %v", lr.Time, lr.Level)
						}
					case lr.Message == "grouped":
						grouped++
						if lr.Attrs["req.id"] != "7" || lr.TaskSlug != "talk-1" || lr.Level != slog.LevelWarn {
							t.Errorf("grouped: %+v", lr)
						}
					case strings.HasPrefix(lr.Message, "Task 'talk[") && strings.Contains(lr.Message, "': Finished task run"):
						finished++
						if lr.TaskSlug != "talk-1" || lr.MapIndex < 0 {
							t.Errorf("%q: task run %s[%d]", lr.Message, lr.TaskSlug, lr.MapIndex)
						}
					case strings.HasPrefix(lr.Message, "Beginning Flow run"):
						begin++
						if lr.TaskSlug != "" || lr.MapIndex != -1 || lr.Attrs["flow_run.flow_name"] != "logs" {
							t.Errorf("%q: task run %q[%d], attrs %v; want a flow-level record", lr.Message, lr.TaskSlug, lr.MapIndex, lr.Attrs)
						}
					}
				}
				if hello != 2 || grouped != 2 || finished != 2 || begin != 1 {
					t.Errorf("heard of %d hello, %d grouped, %d finished, %d beginning records; want 2, 2, 2, 1", hello, grouped, finished, begin)
				}
				if !withLogger {
					return
				}
				// The logger gets every record it asks for (Debug too); the
				// Reporter, those of Info and above: the same ones.
				var fromLogger, fromReporter []string
				var debug bool
				for _, r := range rec.all() {
					debug = debug || r.Msg == "quiet"
					if r.Level >= slog.LevelInfo {
						fromLogger = append(fromLogger, r.Msg)
					}
				}
				for _, lr := range logs {
					fromReporter = append(fromReporter, lr.Message)
				}
				slices.Sort(fromLogger)
				slices.Sort(fromReporter)
				if !debug {
					t.Error("the logger did not get the task's Debug record")
				}
				if !slices.Equal(fromLogger, fromReporter) {
					t.Errorf("the logger got %q, the Reporter %q", fromLogger, fromReporter)
				}
			})
		})
	}
}

// panicReporter panics on the call number panicAt (counting from 1).
type panicReporter struct {
	panicAt int
	calls   atomic.Int32
}

func (r *panicReporter) call() {
	if int(r.calls.Add(1)) == r.panicAt {
		panic("reporter bug")
	}
}
func (r *panicReporter) FlowState(state.State)       { r.call() }
func (r *panicReporter) TaskState(runner.TaskReport) { r.call() }
func (r *panicReporter) Log(runner.LogReport)        { r.call() }

// A Reporter that panics is dropped; the run goes on and logs why.
func TestReporterPanics(t *testing.T) {
	for _, at := range []int{1, 2, 6} {
		t.Run(fmt.Sprintf("call %d", at), func(t *testing.T) {
			eachExecutor(t, func(t *testing.T, ex runner.Executor) {
				f := flow.New("panicky")
				a := flow.Add(f, task.New("a", func(ctx context.Context, _ task.None) (int, error) {
					rc, _ := runner.FromContext(ctx)
					rc.Logger().Info("from a task")
					return 1, nil
				}))
				flow.Add(f, double("b"), flow.Bind("x", a))
				rep := &panicReporter{panicAt: at}
				rec := &logRecorder{}
				fs := runFlow(t, ex, f, runner.WithReporter(rep), runner.WithLogger(rec.logger()))
				wantKind(t, "flow", fs.State, state.Success)
				if n := rep.calls.Load(); int(n) != at {
					t.Errorf("the Reporter was called %d times, want %d (dropped after its panic)", n, at)
				}
				var logged int
				for _, r := range rec.all() {
					if strings.Contains(r.Msg, "Reporter panicked") && r.Level == slog.LevelError && r.Attrs["panic"] == "reporter bug" {
						logged++
					}
				}
				if logged != 1 {
					t.Errorf("the panic was logged %d times, want 1: %v", logged, rec.all())
				}
			})
		})
	}
}

// A run that cannot start reports nothing; secrets resolved first
// (WithResolveSecretsFirst) are reported as kept states, not runs.
func TestReporterRunNotStarted(t *testing.T) {
	f := flow.New("params")
	n := flow.Parameter[int](f, "n")
	flow.Add(f, double("d"), flow.Bind("x", n))
	rep := &recReporter{}
	if _, err := runner.Run(t.Context(), f, runner.WithReporter(rep)); !errors.Is(err, runner.ErrInvalidRun) {
		t.Fatalf("Run without its required parameter: err = %v", err)
	}
	sf := flow.New("secret-first")
	sec := flow.Add(sf, tasks.PrefectSecret("MISSING_FOR_REPORTER_TEST"))
	flow.Add(sf, task.New("use", func(context.Context, secretIn) (int, error) { return 0, nil }), flow.Bind("secret", sec))
	t.Setenv("PREFECT__USER_CONFIG_PATH", t.TempDir()+"/none.toml")
	if _, err := runner.Run(t.Context(), sf, runner.WithReporter(rep), runner.WithResolveSecretsFirst()); !errors.Is(err, runner.ErrInvalidRun) {
		t.Fatalf("Run with a missing secret resolved first: err = %v", err)
	}
	if len(rep.events) != 0 {
		t.Errorf("runs that could not start reported %v", rep.events)
	}

	ok := &recReporter{}
	fs, err := runner.Run(t.Context(), sf, runner.WithReporter(ok), runner.WithResolveSecretsFirst(),
		runner.WithSecrets(map[string]any{"MISSING_FOR_REPORTER_TEST": "v4lue"}))
	if err != nil {
		t.Fatal(err)
	}
	ok.checkContract(t, fs)
	wantSequences(t, ok.sequences(), map[string]string{
		sec.Slug(): "Pending Success", "use-1": "Pending Running Success",
	})
}

// WithReporter(nil) is no reporter.
func TestReporterNil(t *testing.T) {
	f := flow.New("nil")
	flow.Add(f, valueTask("a", 1, nil))
	fs := runFlow(t, runner.Local(), f, runner.WithReporter(nil))
	wantKind(t, "flow", fs.State, state.Success)
}

// panicClock panics on every call of Now after the first (the scheduled
// start time): the runner fails, on its own goroutine, once it has started.
type panicClock struct{ calls atomic.Int32 }

func (c *panicClock) Now() time.Time {
	if c.calls.Add(1) > 1 {
		panic("clock broken")
	}
	return time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
}

func (c *panicClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// A run the runner fails with an internal error ends Failed for the
// Reporter too, which heard it Running.
func TestReporterInternalError(t *testing.T) {
	f := flow.New("broken")
	flow.Add(f, valueTask("a", 1, nil))
	rep := &recReporter{}
	_, err := runner.Run(t.Context(), f, runner.WithReporter(rep), runner.WithClock(&panicClock{}))
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("Run: err = %v, want an internal error", err)
	}
	if got := rep.flowKinds(); got != "Running Failed" {
		t.Errorf("flow: reported %q, want Running Failed", got)
	}
	if msg := rep.flows[len(rep.flows)-1].Message; msg != err.Error() {
		t.Errorf("final message %q, want %q", msg, err)
	}
}

package prefect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/gobuild"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// TestMain fails the package's tests if any goroutine outlives them: a run
// must stop every goroutine it starts, whatever its tasks did.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The messages a Prefect 1 user sees, word for word.
const (
	msgTriggerFailed = `Trigger was "all_successful" but some of the upstream tasks failed.`
	msgFlowFailed    = "Some reference tasks failed."
	msgFlowSucceeded = "All reference tasks succeeded."
	msgTaskSucceeded = "Task run succeeded."
)

var errNoBucket = errors.New("the bucket does not exist")

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

// etlFlow is the flow of examples/etl, written again the way a user would:
// parameter n, extract, transform mapped over extract's records with an
// unmapped factor, load (fails once, then retries), archive (fails),
// notify (downstream of archive) and cleanup (all_finished).
type etlFlow struct {
	f         *flow.Flow
	n         flow.Node[int]
	extract   flow.Node[[]int]
	transform flow.Node[[]int]
	load      flow.Node[int]
	archive   flow.Node[string]
	notify    flow.Node[task.None]
	cleanup   flow.Node[task.None]

	// Calls of each task's function, and whether archive works yet.
	extractCalls, transformCalls, loadCalls atomic.Int32
	archiveCalls, notifyCalls, cleanupCalls atomic.Int32
	archiveFixed                            atomic.Bool

	mu         sync.Mutex
	loadStates []state.State // every state load's runs went through
}

const factor = 10

func newETL(retryDelay time.Duration) *etlFlow {
	e := &etlFlow{}
	extract := task.New("extract", func(ctx context.Context, in extractIn) ([]int, error) {
		e.extractCalls.Add(1)
		records := make([]int, in.N)
		for i := range records {
			records[i] = i + 1
		}
		return records, nil
	})
	transform := task.New("transform", func(ctx context.Context, in transformIn) (int, error) {
		e.transformCalls.Add(1)
		return in.Record * in.Factor, nil
	})
	load := task.New("load", func(ctx context.Context, in rowsIn) (int, error) {
		e.loadCalls.Add(1)
		rc, ok := runner.FromContext(ctx)
		if !ok {
			return 0, errors.New("no run context")
		}
		if rc.TaskRunCount == 1 {
			return 0, errors.New("connection reset by peer")
		}
		total := 0
		for _, r := range in.Rows {
			total += r
		}
		return total, nil
	},
		task.WithRetries(2, retryDelay),
		task.WithStateHandlers(func(ctx context.Context, old, new state.State) state.State {
			e.mu.Lock()
			e.loadStates = append(e.loadStates, new)
			e.mu.Unlock()
			return new
		}))
	archive := task.New("archive", func(ctx context.Context, in rowsIn) (string, error) {
		e.archiveCalls.Add(1)
		if !e.archiveFixed.Load() {
			return "", fmt.Errorf("uploading %d rows: %w", len(in.Rows), errNoBucket)
		}
		return "s3://archive/rows.json", nil
	})
	notify := task.New("notify", func(ctx context.Context, in notifyIn) (task.None, error) {
		e.notifyCalls.Add(1)
		return task.None{}, nil
	})
	cleanup := task.New("cleanup", func(ctx context.Context, _ task.None) (task.None, error) {
		e.cleanupCalls.Add(1)
		return task.None{}, nil
	}, task.WithTrigger(task.AllFinished))

	e.f = flow.New("etl")
	e.n = flow.Parameter(e.f, "n", flow.WithDefault(5))
	e.extract = flow.Add(e.f, extract, flow.Bind("n", e.n))
	e.transform = flow.Map(e.f, transform,
		flow.Bind("record", e.extract),
		flow.Unmapped(flow.Const("factor", factor)))
	e.load = flow.Add(e.f, load, flow.Bind("rows", e.transform))
	e.archive = flow.Add(e.f, archive, flow.Bind("rows", e.transform))
	e.notify = flow.Add(e.f, notify, flow.Bind("location", e.archive))
	e.cleanup = flow.Add(e.f, cleanup, flow.After(e.load, e.archive))
	return e
}

var executors = []struct {
	name string
	ex   runner.Executor
}{
	{"Local", runner.Local()},
	{"Parallel(0)", runner.Parallel(0)},
	{"Parallel(2)", runner.Parallel(2)},
}

// kinds returns each task's final state kind by slug.
func kinds(fs *runner.FlowState) map[string]state.Kind {
	m := make(map[string]state.Kind, len(fs.Tasks))
	for i, t := range fs.Graph.Tasks {
		m[t.Slug] = fs.Tasks[i].Kind
	}
	return m
}

func TestETL(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]any
		n      int
	}{
		{"default n", nil, 5},
		{"n given", map[string]any{"n": 3}, 3},
		{"n zero", map[string]any{"n": 0}, 0},
	}
	for _, ex := range executors {
		for _, c := range cases {
			t.Run(ex.name+"/"+c.name, func(t *testing.T) {
				e := newETL(time.Millisecond)
				fs, err := runner.Run(t.Context(), e.f, runner.WithExecutor(ex.ex), runner.WithParameters(c.params))
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				want := map[string]state.Kind{
					"n":           state.Success,
					"extract-1":   state.Success,
					"transform-1": state.Mapped,
					"load-1":      state.Success,
					"archive-1":   state.Failed,
					"notify-1":    state.TriggerFailed,
					"cleanup-1":   state.Success,
				}
				if got := kinds(fs); !mapsEqual(got, want) {
					t.Errorf("task kinds:\n got %v\nwant %v", got, want)
				}

				if fs.Kind != state.Failed || fs.Message != msgFlowFailed {
					t.Errorf("flow state = %v, want Failed(%q)", fs.State, msgFlowFailed)
				}
				if fs.Message != state.MsgFlowFailed {
					t.Errorf("state.MsgFlowFailed = %q, Prefect's is %q", state.MsgFlowFailed, fs.Message)
				}
				if want := []int{e.notify.ID(), e.cleanup.ID()}; !slices.Equal(fs.Graph.Reference, want) {
					t.Errorf("reference tasks = %v, want the terminal tasks notify and cleanup %v", fs.Graph.Reference, want)
				}

				if got, ok := runner.ResultOf(fs, e.n); !ok || got != c.n {
					t.Errorf("parameter n = %d, %v; want %d, true", got, ok, c.n)
				}
				wantRecords := make([]int, c.n)
				wantRows := make([]int, c.n)
				wantTotal := 0
				for i := range c.n {
					wantRecords[i] = i + 1
					wantRows[i] = (i + 1) * factor
					wantTotal += wantRows[i]
				}
				if got, ok := runner.ResultOf(fs, e.extract); !ok || !slices.Equal(got, wantRecords) {
					t.Errorf("extract = %v, %v; want %v, true", got, ok, wantRecords)
				}

				// Mapping: one Success child per record, in order.
				tr := fs.Of(e.transform)
				if tr.Message != state.MsgMapped {
					t.Errorf("transform message = %q, want %q", tr.Message, state.MsgMapped)
				}
				if len(tr.Children) != c.n {
					t.Fatalf("transform has %d children, want %d: %v", len(tr.Children), c.n, tr.Children)
				}
				for i, child := range tr.Children {
					if child.Kind != state.Success || child.Result != wantRows[i] || child.RunCount != 1 {
						t.Errorf("transform[%d] = %v result %v run count %d; want Success result %d run count 1",
							i, child, child.Result, child.RunCount, wantRows[i])
					}
				}
				if got, ok := runner.ResultOf(fs, e.transform); !ok || !slices.Equal(got, wantRows) {
					t.Errorf("transform = %v, %v; want %v, true", got, ok, wantRows)
				}
				if got := int(e.transformCalls.Load()); got != c.n {
					t.Errorf("transform ran %d times, want %d", got, c.n)
				}

				// Retries: load fails once, succeeds on its retry.
				ld := fs.Of(e.load)
				if ld.RunCount != 2 || ld.Message != msgTaskSucceeded {
					t.Errorf("load = %v after %d runs, want Success(%q) after 2", ld, ld.RunCount, msgTaskSucceeded)
				}
				if got, ok := runner.ResultOf(fs, e.load); !ok || got != wantTotal {
					t.Errorf("load = %d, %v; want %d, true", got, ok, wantTotal)
				}
				if got := e.loadCalls.Load(); got != 2 {
					t.Errorf("load's function ran %d times, want 2", got)
				}

				// Failure: archive's error is in its state, wrapped.
				ar := fs.Of(e.archive)
				wantMsg := fmt.Sprintf("Error during execution of task: uploading %d rows: the bucket does not exist", c.n)
				if ar.Message != wantMsg {
					t.Errorf("archive message = %q, want %q", ar.Message, wantMsg)
				}
				if !errors.Is(ar.Err, errNoBucket) {
					t.Errorf("archive error %v does not match errNoBucket", ar.Err)
				}
				if _, ok := runner.ResultOf(fs, e.archive); ok {
					t.Error("ResultOf(archive) is ok for a failed task")
				}

				// Its downstream task never runs and ends TriggerFailed.
				nt := fs.Of(e.notify)
				if nt.Message != msgTriggerFailed {
					t.Errorf("notify message = %q, want %q", nt.Message, msgTriggerFailed)
				}
				if nt.RunCount != 0 || e.notifyCalls.Load() != 0 {
					t.Errorf("notify ran (run count %d, %d calls); a TriggerFailed task must not run", nt.RunCount, e.notifyCalls.Load())
				}

				// cleanup runs anyway: its trigger is all_finished.
				if cl := fs.Of(e.cleanup); cl.RunCount != 1 || e.cleanupCalls.Load() != 1 {
					t.Errorf("cleanup = %v, run count %d, %d calls; want it run once", cl, cl.RunCount, e.cleanupCalls.Load())
				}
			})
		}
	}
}

func mapsEqual[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Choosing the successful load as the only reference task makes the same
// flow, with the same failure in it, a success.
func TestETLReferenceTasks(t *testing.T) {
	for _, ex := range executors {
		t.Run(ex.name, func(t *testing.T) {
			e := newETL(time.Millisecond)
			e.f.SetReferenceTasks(e.load)
			fs, err := runner.Run(t.Context(), e.f, runner.WithExecutor(ex.ex))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if fs.Kind != state.Success || fs.Message != msgFlowSucceeded {
				t.Errorf("flow state = %v, want Success(%q)", fs.State, msgFlowSucceeded)
			}
			if want := []int{e.load.ID()}; !slices.Equal(fs.Graph.Reference, want) {
				t.Errorf("reference tasks = %v, want %v", fs.Graph.Reference, want)
			}
			if k := fs.Of(e.archive).Kind; k != state.Failed {
				t.Errorf("archive = %v, want Failed still", k)
			}
			if st := fs.Of(e.notify); st.Kind != state.TriggerFailed || st.Message != msgTriggerFailed {
				t.Errorf("notify = %v, want TriggerFailed(%q) still", st, msgTriggerFailed)
			}
			if got, ok := runner.ResultOf(fs, e.load); !ok || got != 150 {
				t.Errorf("load = %d, %v; want 150, true", got, ok)
			}
		})
	}
}

// The retried task goes Running, Retrying (due after its delay on the run's
// clock, with Prefect's message), Running again, Success.
//
// The run is in a synctest bubble: the delay passes on the bubble's clock,
// at once, and to the nanosecond.
func TestETLRetryStates(t *testing.T) {
	const delay = 90 * time.Second
	for _, ex := range executors {
		t.Run(ex.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				e := newETL(delay)
				fs, err := runner.Run(t.Context(), e.f, runner.WithExecutor(ex.ex))
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				e.mu.Lock()
				got := slices.Clone(e.loadStates)
				e.mu.Unlock()
				want := []state.State{
					{Kind: state.Running, RunCount: 1},
					{Kind: state.Retrying, Message: "Retrying Task (after attempt 1 of 3)", RunCount: 1, StartTime: start.Add(delay)},
					{Kind: state.Running, RunCount: 2},
					{Kind: state.Success, Message: msgTaskSucceeded, RunCount: 2, Result: 150},
				}
				if len(got) != len(want) {
					t.Fatalf("load went through %v, want %v", got, want)
				}
				for i := range want {
					g, w := got[i], want[i]
					if g.Kind != w.Kind || g.Message != w.Message || g.RunCount != w.RunCount ||
						!g.StartTime.Equal(w.StartTime) || g.Result != w.Result {
						t.Errorf("load state %d = %v (run count %d, start %v, result %v), want %v (run count %d, start %v, result %v)",
							i, g, g.RunCount, g.StartTime, g.Result, w, w.RunCount, w.StartTime, w.Result)
					}
				}
				if got[1].Err == nil || !strings.Contains(got[1].Err.Error(), "connection reset by peer") {
					t.Errorf("Retrying state's error = %v, want the first attempt's error", got[1].Err)
				}
				if now := time.Now(); !now.Equal(start.Add(delay)) {
					t.Errorf("the clock reads %v after the run, want %v: the runner waited for more than the retry", now, start.Add(delay))
				}
				if fs.Kind != state.Failed {
					t.Errorf("flow state = %v, want Failed", fs.State)
				}
			})
		})
	}
}

// Restarting the failed run once archive works reruns only what did not
// succeed, and the flow then succeeds.
func TestETLRestart(t *testing.T) {
	for _, ex := range executors {
		t.Run(ex.name, func(t *testing.T) {
			e := newETL(time.Millisecond)
			opts := []runner.Option{runner.WithExecutor(ex.ex), runner.WithParameters(map[string]any{"n": 4})}
			first, err := runner.Run(t.Context(), e.f, opts...)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if first.Kind != state.Failed {
				t.Fatalf("first run = %v, want Failed", first.State)
			}
			e.archiveFixed.Store(true)
			second, err := runner.Restart(t.Context(), e.f, first, opts...)
			if err != nil {
				t.Fatalf("Restart: %v", err)
			}
			if second.Kind != state.Success || second.Message != msgFlowSucceeded {
				t.Errorf("restarted run = %v, want Success(%q)", second.State, msgFlowSucceeded)
			}
			want := map[string]state.Kind{
				"n": state.Success, "extract-1": state.Success, "transform-1": state.Mapped, "load-1": state.Success,
				"archive-1": state.Success, "notify-1": state.Success, "cleanup-1": state.Success,
			}
			if got := kinds(second); !mapsEqual(got, want) {
				t.Errorf("task kinds:\n got %v\nwant %v", got, want)
			}
			calls := map[string][2]int32{ // slug: calls, want
				"extract":   {e.extractCalls.Load(), 1},
				"transform": {e.transformCalls.Load(), 4},
				"load":      {e.loadCalls.Load(), 2},
				"archive":   {e.archiveCalls.Load(), 2},
				"notify":    {e.notifyCalls.Load(), 1},
				"cleanup":   {e.cleanupCalls.Load(), 1},
			}
			for name, c := range calls {
				if c[0] != c[1] {
					t.Errorf("%s ran %d times over both runs, want %d", name, c[0], c[1])
				}
			}
			if got, ok := runner.ResultOf(second, e.archive); !ok || got != "s3://archive/rows.json" {
				t.Errorf("archive = %q, %v after the restart", got, ok)
			}
			if got, ok := runner.ResultOf(second, e.load); !ok || got != 100 {
				t.Errorf("load = %d, %v after the restart; want its first run's 100, true", got, ok)
			}
		})
	}
}

// The example builds, runs, prints the states its package doc promises and
// exits 0 even though its flow fails.
func TestExampleETLCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/etl with the go command")
	}
	bin := gobuild.Build(t, "./examples/etl", "etl")

	wantKinds := map[string]string{
		"n":              "Success",
		"extract-1":      "Success",
		"transform-1":    "Mapped",
		"transform-1[0]": "Success",
		"transform-1[1]": "Success",
		"transform-1[2]": "Success",
		"load-1":         "Success",
		"archive-1":      "Failed",
		"notify-1":       "TriggerFailed",
		"cleanup-1":      "Success",
	}
	cases := []struct {
		args      []string
		wantGraph bool
	}{
		{[]string{"-local", "-n", "3"}, false},
		{[]string{"-n", "3", "-graph"}, true},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, c.args...)
			cmd.WaitDelay = 5 * time.Second
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("etl %s: %v (exit code %d)\nstdout:\n%s\nstderr:\n%s",
					strings.Join(c.args, " "), err, cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit code = %d, want 0", code)
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr without -v = %q, want nothing", stderr.String())
			}
			out := stdout.String()
			if got := strings.Contains(out, "flowchart TD"); got != c.wantGraph {
				t.Errorf("output has a Mermaid flowchart: %v, want %v\n%s", got, c.wantGraph, out)
			}

			// Each task line is `slug  <State: "...">`, children indented under
			// their parent, in graph order.
			var slugs []string
			states := map[string]string{}
			for line := range strings.Lines(out) {
				f := strings.Fields(line)
				if len(f) < 2 {
					continue
				}
				if _, ok := wantKinds[f[0]]; !ok {
					continue
				}
				slugs = append(slugs, f[0])
				states[f[0]] = strings.TrimSpace(strings.TrimSpace(line)[len(f[0]):])
				if child := strings.Contains(f[0], "["); child != strings.HasPrefix(line, "  ") {
					t.Errorf("line %q: a mapped child must be indented, and only a child", line)
				}
			}
			wantOrder := []string{"n", "extract-1", "transform-1", "transform-1[0]", "transform-1[1]", "transform-1[2]",
				"load-1", "archive-1", "notify-1", "cleanup-1"}
			if !slices.Equal(slugs, wantOrder) {
				t.Errorf("tasks listed in the order %v, want %v\n%s", slugs, wantOrder, out)
			}
			for slug, kind := range wantKinds {
				if st := states[slug]; !strings.HasPrefix(st, "<"+kind+": ") {
					t.Errorf("%s: state %q, want <%s: ...>", slug, st, kind)
				}
			}
			if st, want := states["notify-1"], fmt.Sprintf(`<TriggerFailed: "%s">`, msgTriggerFailed); st != want {
				t.Errorf("notify-1: state %s, want %s", st, want)
			}
			if !strings.Contains(states["load-1"], "after 2 runs") {
				t.Errorf("load-1: state %q does not say it ran twice", states["load-1"])
			}
			for _, want := range []string{
				fmt.Sprintf("flow etl: <Failed: \"%s\">\n", msgFlowFailed),
				"loaded total: 60\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}

	t.Run("bad flag", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-no-such-flag")
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("etl -no-such-flag: %v, want exit code 2\n%s", err, out)
		}
	})
}

// squares is the flow of the package doc (doc.go), line for line, so the
// doc's code is known to compile and to print what it says.
func squares(ctx context.Context) error {
	type countIn struct {
		N int `prefect:"n"`
	}
	type squareIn struct {
		X int `prefect:"x"`
	}

	numbers := task.New("numbers", func(ctx context.Context, in countIn) ([]int, error) {
		nums := make([]int, in.N)
		for i := range nums {
			nums[i] = i + 1
		}
		return nums, nil
	})
	square := task.New("square", func(ctx context.Context, in squareIn) (int, error) {
		return in.X * in.X, nil
	}, task.WithRetries(2, time.Second))

	f := flow.New("squares")
	n := flow.Parameter(f, "n", flow.WithDefault(3))
	nums := flow.Add(f, numbers, flow.Bind("n", n))
	squares := flow.Map(f, square, flow.Bind("x", nums)) // square-1[0], square-1[1], ...

	fs, err := runner.Run(ctx, f, runner.WithParameters(map[string]any{"n": 4}))
	if err != nil {
		return err // the run could not start: an invalid flow or parameters
	}
	fmt.Println(fs.State) // <Success: "All reference tasks succeeded.">
	got, ok := runner.ResultOf(fs, squares)
	fmt.Println(got, ok) // [1 4 9 16] true
	return nil
}

// A parameter, a task, a task mapped over its result, a run, a result.
func Example() {
	if err := squares(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <Success: "All reference tasks succeeded.">
	// [1 4 9 16] true
}

// The code block of the package doc must stay the code of squares above, so
// that what Example checks is what the doc shows.
func TestDocCodeIsTested(t *testing.T) {
	docSrc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	testSrc, err := os.ReadFile("flow_test.go")
	if err != nil {
		t.Fatal(err)
	}
	// The doc's block, from its first line to its last, without "//\t".
	var block []string
	in := false
	for line := range strings.Lines(string(docSrc)) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "//\ttype countIn") {
			in = true
		}
		if !in {
			continue
		}
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			block = append(block, code)
		} else if line == "//" {
			block = append(block, "")
		} else {
			break
		}
	}
	for len(block) > 0 && block[len(block)-1] == "" {
		block = block[:len(block)-1]
	}
	if len(block) == 0 {
		t.Fatal("doc.go has no code block starting with `type countIn`")
	}
	// The body of squares, one tab less indented.
	_, body, ok := strings.Cut(string(testSrc), "func squares(ctx context.Context) error {\n")
	if !ok {
		t.Fatal("flow_test.go has no func squares")
	}
	var got []string
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\n")
		if line == "}" || len(got) == len(block) {
			break
		}
		got = append(got, strings.TrimPrefix(line, "\t"))
	}
	for i := range block {
		if i >= len(got) || got[i] != block[i] {
			g := "(nothing)"
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("doc.go's code block and func squares differ at line %d of the block:\n doc: %q\ntest: %q", i+1, block[i], g)
		}
	}
}

// The secret pattern of the README, from the public API: a PrefectSecret
// task node whose result is bound as the input "credentials" of the task
// that needs it.
type credentialsIn struct {
	Credentials string `prefect:"credentials"`
}

// secretFlow is that flow, and what its task was given.
type secretFlow struct {
	f      *flow.Flow
	secret flow.Node[secrets.Value]
	use    flow.Node[string]

	mu       sync.Mutex
	received []string
}

func newSecretFlow() *secretFlow {
	sf := &secretFlow{f: flow.New("secrets-pattern")}
	use := task.New("use_credentials", func(ctx context.Context, in credentialsIn) (string, error) {
		sf.mu.Lock()
		sf.received = append(sf.received, in.Credentials)
		sf.mu.Unlock()
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("connecting", "credentials", in.Credentials) // a mistake the run forgives
		return fmt.Sprintf("connected with %d-character credentials", len(in.Credentials)), nil
	})
	sf.secret = flow.Add(sf.f, tasks.PrefectSecret("MYSECRET"))
	sf.use = flow.Add(sf.f, use, flow.Bind("credentials", sf.secret))
	return sf
}

// unsetenv unsets key for the test, and restores it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "") // restores the old value, if any, when the test ends
	os.Unsetenv(key)
}

func TestSecretPattern(t *testing.T) {
	const value = "s3cr3t-e2e-value"
	const envVar = "PREFECT__CONTEXT__SECRETS__MYSECRET"

	writeConfig := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, []byte("[context.secrets]\nMYSECRET = \""+value+"\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// isolate points the user and backend files of the process
	// environment into a fresh folder, so that the machine's own
	// ~/.prefect plays no part; it returns the user file's path.
	isolate := func(t *testing.T) string {
		dir := t.TempDir()
		unsetenv(t, envVar)
		t.Setenv("PREFECT__BACKEND_CONFIG_PATH", filepath.Join(dir, "backend.toml"))
		path := filepath.Join(dir, "config.toml")
		t.Setenv("PREFECT__USER_CONFIG_PATH", path)
		return path
	}
	load := func(t *testing.T, env ...string) []runner.Option {
		cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		return []runner.Option{runner.WithConfig(cfg)}
	}

	cases := []struct {
		name string
		// setup prepares the secret (or its absence) and returns the run
		// options and the user config path the run reads.
		setup func(t *testing.T) ([]runner.Option, string)
		found bool
	}{
		{"env var with config.WithEnv", func(t *testing.T) ([]runner.Option, string) {
			return load(t, envVar+"="+value), ""
		}, true},
		{"env var in the process environment", func(t *testing.T) ([]runner.Option, string) {
			path := isolate(t)
			t.Setenv(envVar, value)
			return nil, path
		}, true},
		{"config file with config.WithEnv", func(t *testing.T) ([]runner.Option, string) {
			path := writeConfig(t)
			return load(t, "PREFECT__USER_CONFIG_PATH="+path), path
		}, true},
		{"config file in the process environment", func(t *testing.T) ([]runner.Option, string) {
			isolate(t)
			path := writeConfig(t)
			t.Setenv("PREFECT__USER_CONFIG_PATH", path)
			return nil, path
		}, true},
		{"missing with config.WithEnv", func(t *testing.T) ([]runner.Option, string) {
			path := filepath.Join(t.TempDir(), "config.toml") // never written
			return load(t, "PREFECT__USER_CONFIG_PATH="+path), path
		}, false},
		{"missing from the process environment", func(t *testing.T) ([]runner.Option, string) {
			return nil, isolate(t)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, path := c.setup(t)
			var logs bytes.Buffer
			opts = append(opts, runner.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			sf := newSecretFlow()
			fs, err := runner.Run(t.Context(), sf.f, opts...)
			if err != nil {
				t.Fatal(err)
			}
			sec, use := fs.Of(sf.secret), fs.Of(sf.use)
			if c.found {
				if !fs.IsSuccessful() || fs.Message != msgFlowSucceeded {
					t.Fatalf("flow %v, want Success(%q); secret task %v", fs.State, msgFlowSucceeded, sec)
				}
				if sec.Kind != state.Success || use.Kind != state.Success {
					t.Errorf("secret task %v, use_credentials %v; want both Success", sec, use)
				}
				sf.mu.Lock()
				received := sf.received
				sf.mu.Unlock()
				if !slices.Equal(received, []string{value}) {
					t.Errorf("use_credentials was given %q, want [%q]", received, value)
				}
				if got, ok := runner.ResultOf(fs, sf.use); !ok || got != fmt.Sprintf("connected with %d-character credentials", len(value)) {
					t.Errorf("ResultOf(use_credentials) = %q, %v", got, ok)
				}
				if v, ok := runner.ResultOf(fs, sf.secret); !ok || v.Reveal() != value || fmt.Sprint(v) != secrets.Redacted {
					t.Errorf("ResultOf(secret) = %v (reveals %d bytes), %v; want the value, printed %s", v, len(v.Reveal()), ok, secrets.Redacted)
				}
				if !strings.Contains(logs.String(), "credentials="+secrets.Redacted) {
					t.Errorf("the log lacks credentials=%s:\n%s", secrets.Redacted, logs.String())
				}
			} else {
				if sec.Kind != state.Failed {
					t.Fatalf("secret task %v, want Failed", sec)
				}
				if !errors.Is(sec.Err, secrets.ErrNotFound) {
					t.Errorf("secret task's error %v does not match secrets.ErrNotFound", sec.Err)
				}
				for _, want := range []string{`Local Secret "MYSECRET" was not found.`, "environment variable " + envVar, "config file " + path} {
					if !strings.Contains(sec.Message, want) {
						t.Errorf("secret task's message %q lacks %q", sec.Message, want)
					}
				}
				if use.Kind != state.TriggerFailed || use.Message != msgTriggerFailed {
					t.Errorf("use_credentials %v, want TriggerFailed(%q)", use, msgTriggerFailed)
				}
				if fs.Kind != state.Failed || fs.Message != msgFlowFailed {
					t.Errorf("flow %v, want Failed(%q)", fs.State, msgFlowFailed)
				}
				if len(sf.received) != 0 {
					t.Errorf("use_credentials ran with %q", sf.received)
				}
			}
			if strings.Contains(logs.String(), value) {
				t.Errorf("the log shows the secret:\n%s", logs.String())
			}
			for i, st := range fs.Tasks {
				if strings.Contains(st.String(), value) {
					t.Errorf("task %s's state shows the secret: %v", fs.Graph.Tasks[i].Slug, st)
				}
			}
		})
	}
}

// examples/secrets builds, and run with the secret in a variable, in a
// config file or nowhere, exits 0, 0 and 1, prints the states it promises
// and never the secret.
func TestExampleSecretsCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/secrets with the go command")
	}
	bin := gobuild.Build(t, "./examples/secrets", "secrets")

	const value = "s3cr3t-cmd-value"
	configFile := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(configFile, []byte("[context.secrets]\nMYSECRET = \""+value+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string // PREFECT__ variables; PATH and HOME are added
		code int
	}{
		{"env var", []string{"PREFECT__CONTEXT__SECRETS__MYSECRET=" + value}, 0},
		{"config file", []string{"PREFECT__USER_CONFIG_PATH=" + configFile}, 0},
		{"missing", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.WaitDelay = 5 * time.Second
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, c.env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("running examples/secrets: %v", err)
			}
			out, logs := stdout.String(), stderr.String()
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, logs)
			}
			states := map[string]string{}
			for line := range strings.Lines(out) {
				if f := strings.Fields(line); len(f) >= 2 {
					states[f[0]] = strings.TrimSpace(strings.TrimSpace(line)[len(f[0]):])
				}
			}
			var want map[string]string
			var wantLines []string
			if c.code == 0 {
				want = map[string]string{
					"MYSECRET-1":        fmt.Sprintf(`<Success: "%s">`, msgTaskSucceeded),
					"use_credentials-1": fmt.Sprintf(`<Success: "%s">`, msgTaskSucceeded),
				}
				wantLines = []string{
					fmt.Sprintf("flow secrets-example: <Success: \"%s\">\n", msgFlowSucceeded),
					fmt.Sprintf("connected with %d-character credentials\n", len(value)),
				}
				if !strings.Contains(logs, "credentials="+secrets.Redacted) {
					t.Errorf("stderr lacks credentials=%s:\n%s", secrets.Redacted, logs)
				}
			} else {
				notFound := `Local Secret "MYSECRET" was not found. Looked in: environment variable PREFECT__CONTEXT__SECRETS__MYSECRET; config file ` +
					filepath.Join(home, ".prefect", "config.toml") + " [context.secrets]."
				want = map[string]string{
					"MYSECRET-1":        fmt.Sprintf(`<Failed: "%s">`, "Error during execution of task: "+notFound),
					"use_credentials-1": fmt.Sprintf(`<TriggerFailed: "%s">`, msgTriggerFailed),
				}
				wantLines = []string{fmt.Sprintf("flow secrets-example: <Failed: \"%s\">\n", msgFlowFailed)}
			}
			for slug, st := range want {
				if states[slug] != st {
					t.Errorf("%s: %s, want %s", slug, states[slug], st)
				}
			}
			for _, line := range wantLines {
				if !strings.Contains(out, line) {
					t.Errorf("stdout lacks %q:\n%s", line, out)
				}
			}
			if strings.Contains(out, value) || strings.Contains(logs, value) {
				t.Errorf("the secret shows:\nstdout:\n%s\nstderr:\n%s", out, logs)
			}
		})
	}
}

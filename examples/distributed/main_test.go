package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/gobuild"
	"github.com/prefect-go/prefect/internal/natstest"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// TestMain checks that the tests leave no goroutines behind and removes the
// binary they built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		spread.Remove()
		os.Exit(code)
	}))
}

// spread is this example's binary, built once for all the tests and
// benchmarks of the process.
var spread = gobuild.NewOnce(".", "spread")

// buildBinary builds this example, once per test process, and returns its
// path.
func buildBinary(t testing.TB) string {
	t.Helper()
	return spread.Path(t)
}

// startServer starts an embedded JetStream server on a random loopback
// port, shut down when the test ends, and returns its client URL.
func startServer(t testing.TB) string { return natstest.Start(t).URL }

// childEnv is the environment of the example's processes: PATH, a fresh
// HOME (so no user configuration is read) and extra.
func childEnv(t testing.TB, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extra...)
}

// proc is a worker process the test started.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	done   chan struct{} // closed once the process was waited for
	err    error         // cmd.Wait's, once done is closed
}

// startWorker starts `bin worker --nats url --name name --ack-wait ackWait
// extra...` (without --ack-wait when ackWait is 0) in a process group of
// its own, its stderr captured, and waits until it serves. When the test
// ends, a worker still running is killed (its whole group) and waited for.
func startWorker(t testing.TB, bin, url, name string, ackWait time.Duration, extra ...string) *proc {
	t.Helper()
	args := []string{"worker", "--nats", url, "--name", name}
	if ackWait > 0 {
		args = append(args, "--ack-wait", ackWait.String())
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{name: name, cmd: cmd, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting worker %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("worker %s stderr:\n%s", name, p.stderr)
		}
	})
	deadline := testwait.Deadline(t)
	for !strings.Contains(p.stderr.String(), "natsexec: worker serving") {
		select {
		case <-p.done:
			t.Fatalf("worker %s exited (%v) before serving; stderr:\n%s", name, p.err, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s did not serve within 10 s; stderr:\n%s", name, p.stderr)
		}
	}
	return p
}

// kill sends SIGKILL to the worker's process group and waits for it.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing worker %s: %v", p.name, err)
	}
	<-p.done
}

// term sends SIGTERM to the worker, which then drains and exits.
func (p *proc) term(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to worker %s: %v", p.name, err)
	}
}

// waitExit0 waits for the worker to exit (until testwait.Deadline), and
// fails the test unless it exited with status 0.
func (p *proc) waitExit0(t testing.TB) {
	t.Helper()
	d := time.Until(testwait.Deadline(t))
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("worker %s: %v; stderr:\n%s", p.name, p.err, p.stderr)
		}
	case <-time.After(d):
		// SIGQUIT makes the Go runtime print every goroutine's stack, to
		// show where the drain hangs.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		t.Errorf("worker %s did not exit within %v of SIGTERM; after SIGQUIT, its stderr:\n%s", p.name, d, p.stderr)
	}
}

// spreadRun is `bin run` started by the test.
type spreadRun struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
	err            error
}

// startRun starts `bin run args...` with env, killed if it outlives ctx.
func startRun(ctx context.Context, t testing.TB, bin string, env []string, args ...string) *spreadRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, append([]string{"run"}, args...)...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	r := &spreadRun{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting run: %v", err)
	}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// tally waits for the run to end, checks that it exited 0 and returns the
// tally it printed as JSON.
func (r *spreadRun) tally(t testing.TB) Tally {
	t.Helper()
	<-r.done
	if r.err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	var tl Tally
	if err := json.Unmarshal([]byte(r.stdout.String()), &tl); err != nil {
		t.Fatalf("run's output is not a JSON tally: %v\n%s", err, r.stdout)
	}
	return tl
}

// checkTally checks that the tally counts n task runs, all on workers
// among names.
func checkTally(t testing.TB, tl Tally, n int, names ...string) {
	t.Helper()
	if tl.Runs != n {
		t.Errorf("tally: runs = %d, want %d", tl.Runs, n)
	}
	sum := 0
	for w, c := range tl.PerWorker {
		if !slices.Contains(names, w) {
			t.Errorf("tally: %d runs on worker %q, not one of %q", c, w, names)
		}
		sum += c
	}
	if sum != n {
		t.Errorf("tally: per-worker counts %v sum to %d, want %d", tl.PerWorker, sum, n)
	}
}

// TestWalkthrough is the package doc's walkthrough: two workers share a
// run's 1,000 task runs, then drain and exit on SIGTERM.
func TestWalkthrough(t *testing.T) {
	bin := buildBinary(t)
	url := startServer(t)
	w1 := startWorker(t, bin, url, "w1", 30*time.Second)
	w2 := startWorker(t, bin, url, "w2", 30*time.Second)

	ctx := testwait.Context(t)
	tl := startRun(ctx, t, bin, childEnv(t), "--nats", url, "--json").tally(t)
	checkTally(t, tl, 1000, "w1", "w2")
	if got := slices.Sorted(maps.Keys(tl.PerWorker)); !slices.Equal(got, []string{"w1", "w2"}) {
		t.Errorf("tally: workers %q, want w1 and w2 (each runs some): %v", got, tl.PerWorker)
	}
	t.Logf("tally: %+v", tl)

	w1.term(t)
	w2.term(t)
	for _, w := range []*proc{w1, w2} {
		w.waitExit0(t)
		for _, want := range []string{"natsexec: worker draining", "natsexec: worker stopped"} {
			if !strings.Contains(w.stderr.String(), want) {
				t.Errorf("worker %s's stderr lacks %q:\n%s", w.name, want, w.stderr)
			}
		}
	}
}

// TestWorkerKilledMidRun kills a worker (SIGKILL, no drain) while it runs
// task runs: the server delivers them again after the ack wait, the other
// worker runs them, and the run ends with every task run counted once.
func TestWorkerKilledMidRun(t *testing.T) {
	const n = 200
	bin := buildBinary(t)
	url := startServer(t)
	w1 := startWorker(t, bin, url, "w1", time.Second, "--concurrency", "4")
	startWorker(t, bin, url, "w2", time.Second, "--concurrency", "4")

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	consumerInfo := func(ctx context.Context) (*jetstream.ConsumerInfo, error) {
		c, err := js.Consumer(ctx, natsexec.DefaultStream, natsexec.ConsumerName("spread"))
		if err != nil {
			return nil, err
		}
		return c.Info(ctx)
	}

	ctx := testwait.Context(t)
	// The NATS URL and the ack wait from the environment, as an agent
	// passes them: the flow program's ack wait is the one in force.
	r := startRun(ctx, t, bin, childEnv(t, "PREFECT__NATS__URL="+url, "PREFECT__NATS__ACK_WAIT=1s"), "--json", "--n", fmt.Sprint(n), "--cpu-ms", "20")

	// Kill w1 once the workers have acknowledged some task runs: the run is
	// well under way and w1 holds some (each worker takes up to 4 at once)
	// that it will never acknowledge.
	for {
		ci, err := consumerInfo(ctx)
		if err == nil && ci.AckFloor.Consumer >= 20 {
			if ci.AckFloor.Stream >= n {
				t.Fatalf("the run was nearly over before w1 could be killed: %+v", ci)
			}
			break
		}
		select {
		case <-r.done:
			t.Fatalf("the run ended before w1 was killed: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
		case <-ctx.Done():
			t.Fatalf("the workers acknowledged too few task runs: %v, %v", ci, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	w1.kill(t)
	killed := time.Now()

	tl := r.tally(t)
	t.Logf("tally: %+v; the run ended %v after w1 was killed", tl, time.Since(killed).Round(time.Millisecond))
	checkTally(t, tl, n, "w1", "w2")

	// What w1 held was delivered again: more deliveries than messages. The
	// last jobs are acknowledged after their answers, which may be after
	// the run ended: give them a moment.
	var ci *jetstream.ConsumerInfo
	for deadline := testwait.Deadline(t); ; {
		if ci, err = consumerInfo(ctx); err != nil {
			t.Fatalf("consumer info: %v", err)
		}
		if ci.NumAckPending == 0 && ci.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("jobs left on the consumer 5 s after the run: %d pending, %d unacknowledged", ci.NumPending, ci.NumAckPending)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ci.Delivered.Consumer <= ci.Delivered.Stream {
		t.Errorf("no job was delivered again after w1 was killed: %d deliveries of %d messages", ci.Delivered.Consumer, ci.Delivered.Stream)
	} else {
		t.Logf("%d deliveries of %d messages", ci.Delivered.Consumer, ci.Delivered.Stream)
	}
}

// TestWorkerUsage checks the worker's bad arguments: exit status 2 and a
// message naming what is wrong, before any connection.
func TestWorkerUsage(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--concurrency", "-1"}, "--concurrency"},
		{[]string{"worker", "extra"}, "extra"},
		{[]string{"worker", "--ack-wait", "10ms"}, "--ack-wait"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = childEnv(t, "PREFECT__NATS__URL=nats://127.0.0.1:1") // never reached
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit status 2; stderr:\n%s", tc.args, err, &stderr)
			continue
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: stderr does not name %q:\n%s", tc.args, tc.want, &stderr)
		}
	}
}

// TestHelp: -h and --help on the program and on each of its commands print
// the usage to stdout, print nothing to stderr and exit 0, before any
// connection.
func TestHelp(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		args []string
		want string // in stdout
	}{
		{[]string{"-h"}, "usage: spread COMMAND"},
		{[]string{"--help"}, "usage: spread COMMAND"},
		{[]string{"help"}, "usage: spread COMMAND"},
		{[]string{"register", "-h"}, "usage: spread register"},
		{[]string{"register", "--help"}, "usage: spread register"},
		{[]string{"execute", "-h"}, "usage: spread execute"},
		{[]string{"execute", "--help"}, "usage: spread execute"},
		{[]string{"worker", "-h"}, "usage: spread worker [--nats URL]"},
		{[]string{"worker", "--help"}, "usage: spread worker [--nats URL]"},
		{[]string{"run", "-h"}, "usage: spread run [--nats URL]"},
		{[]string{"run", "--help"}, "--cpu-ms milliseconds"},
		{[]string{"help", "run"}, "usage: spread run [--nats URL]"},
		{[]string{"help", "worker"}, "usage: spread worker [--nats URL]"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = childEnv(t, "PREFECT__NATS__URL=nats://127.0.0.1:1") // never reached
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil || stderr.Len() != 0 || !strings.Contains(stdout.String(), tc.want) {
				t.Errorf("%v; stdout:\n%s\nstderr:\n%s\nwant exit status 0, %q on stdout and nothing on stderr", err, &stdout, &stderr, tc.want)
			}
		})
	}
}

// TestRunWaitsForWorkers: run started before any worker says, once and
// early, on stderr, that it waits for workers, naming the stream and the
// command that starts one, then finishes once a worker comes.
func TestRunWaitsForWorkers(t *testing.T) {
	const notice = "natsexec: waiting for workers"
	bin := buildBinary(t)
	url := startServer(t)
	// A 1 s ack wait makes the grace 1 s; the default's is 3 s.
	r := startRun(testwait.Context(t), t, bin, childEnv(t), "--nats", url, "--n", "3", "--ack-wait", "1s", "--json")
	// Polled: the run's stderr has no event to wait on.
	testwait.Until(t, "run says it waits for workers", func() bool { return strings.Contains(r.stderr.String(), notice) })
	startWorker(t, bin, url, "w1", 0)
	checkTally(t, r.tally(t), 3, "w1")
	line := r.stderr.String()
	if n := strings.Count(line, notice); n != 1 {
		t.Errorf("run said %d times that it waits for workers, want once:\n%s", n, line)
	}
	for _, want := range []string{"level=WARN", "stream=" + natsexec.DefaultStream, "subject=" + natsexec.Subject("spread"),
		`start_one="spread worker"`} {
		if !strings.Contains(line, want) {
			t.Errorf("run's stderr lacks %q:\n%s", want, line)
		}
	}
}

type whereIn struct {
	I int `prefect:"i"`
}

// other is a second flow program's flow, "other": n task runs, each
// returning the name of the worker that ran it.
func other(n int) *flow.Flow {
	f := flow.New("other")
	items := flow.Add(f, task.New("items", func(context.Context, task.None) ([]int, error) { return make([]int, n), nil }))
	flow.Map(f, task.New("where", func(ctx context.Context, _ whereIn) (string, error) {
		w, _ := natsexec.WorkerName(ctx)
		return w, nil
	}), flow.Bind("i", items))
	return f
}

// TestSharedServer: this example's workers and a second program's (flow
// "other", served in the test's process) share one NATS server with the
// defaults, and both programs run at once: each job goes to its own
// program's workers, and both runs succeed.
func TestSharedServer(t *testing.T) {
	const n = 300
	bin := buildBinary(t)
	url := startServer(t)
	startWorker(t, bin, url, "w1", 30*time.Second)
	startWorker(t, bin, url, "w2", 30*time.Second)
	onc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer onc.Close()
	octx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- natsexec.Serve(octx, onc, []*flow.Flow{other(n)}, natsexec.WithWorkerName("o1")) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve of other: %v", err)
		}
	}()

	ctx := testwait.Context(t)
	r := startRun(ctx, t, bin, childEnv(t), "--nats", url, "--json", "--n", fmt.Sprint(n))
	f := other(n)
	fs, err := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(onc, f)))
	if err != nil {
		t.Fatal(err)
	}
	tl := r.tally(t)
	checkTally(t, tl, n, "w1", "w2")
	if fs.Kind != state.Success {
		t.Fatalf("other: %v", fs.State)
	}
	where, _ := fs.Task("where-1")
	ran, _ := where.Result.([]string)
	count := map[string]int{}
	for _, w := range ran {
		count[w]++
	}
	if len(ran) != n || count["o1"] != n {
		t.Errorf("other's task runs ran on %v; want all %d on o1", count, n)
	}
	t.Logf("spread: %v; other: %v", tl.PerWorker, count)
}

// TestShortAckWaitWorker: a worker started with --ack-wait 1s, while
// another worker started with the default runs a task longer than that,
// changes nothing: the run's ack wait (30 s, the default) is the one in
// force, the short one's worker says so, and the long task is neither
// delivered again nor run twice.
func TestShortAckWaitWorker(t *testing.T) {
	bin := buildBinary(t)
	url := startServer(t)
	startWorker(t, bin, url, "w1", 0)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwait.Context(t)
	// One task run of some 4 s of CPU work (longer on a busy machine).
	r := startRun(ctx, t, bin, childEnv(t), "--nats", url, "--json", "--n", "1", "--cpu-ms", "4000")
	info := func() *jetstream.ConsumerInfo {
		t.Helper()
		c, err := js.Consumer(ctx, natsexec.DefaultStream, natsexec.ConsumerName("spread"))
		if err != nil {
			return nil
		}
		ci, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("consumer info: %v", err)
		}
		return ci
	}
	// The mapped task run is taken once "items" was acknowledged and a
	// second job delivered and not acknowledged.
	testwait.Until(t, "w1 runs the long task run", func() bool {
		ci := info()
		return ci != nil && ci.Delivered.Consumer == 2 && ci.NumAckPending == 1
	})
	w2 := startWorker(t, bin, url, "w2", time.Second)
	tl := r.tally(t)
	checkTally(t, tl, 1, "w1")
	ci := info()
	if ci.Config.AckWait != natsexec.DefaultAckWait || ci.Delivered.Consumer != 3 {
		t.Errorf("consumer: ack wait %v, %d deliveries; want the run's %v, and 3 (items, work, tally) with none again",
			ci.Config.AckWait, ci.Delivered.Consumer, natsexec.DefaultAckWait)
	}
	if !strings.Contains(w2.stderr.String(), "natsexec: this worker's ack wait is not the one in force") ||
		!strings.Contains(w2.stderr.String(), "ack_wait_in_force=30s") {
		t.Errorf("w2, started with --ack-wait 1s, does not warn that 30s is in force:\n%s", w2.stderr)
	}
}

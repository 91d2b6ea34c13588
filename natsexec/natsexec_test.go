package natsexec_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/natstest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/runner/executortest"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Input structs of the tests' tasks.
type (
	argX struct {
		X int `prefect:"x"`
	}
	argValues struct {
		Values []int `prefect:"values"`
	}
	argS struct {
		S string `prefect:"s"`
	}
	textIn struct {
		Secret string `prefect:"secret"`
	}
)

func valueTask[T any](name string, v T) *task.Task[task.None, T] {
	return task.New(name, func(context.Context, task.None) (T, error) { return v, nil })
}

func double(name string, opts ...task.Option) *task.Task[argX, int] {
	return task.New(name, func(_ context.Context, in argX) (int, error) { return 2 * in.X, nil }, opts...)
}

func sumTask(name string) *task.Task[argValues, int] {
	return task.New(name, func(_ context.Context, in argValues) (int, error) {
		s := 0
		for _, v := range in.Values {
			s += v
		}
		return s, nil
	})
}

// startServer starts an embedded JetStream server, stopped when the test
// ends, and returns its client URL.
func startServer(t *testing.T) string { return natstest.Start(t).URL }

// connect connects to url, closing the connection when the test ends.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startWorker runs Serve on a connection of its own until the test ends,
// and fails the test if it returns an error.
func startWorker(t *testing.T, url string, flows []*flow.Flow, opts ...natsexec.Option) {
	t.Helper()
	nc := connect(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- natsexec.Serve(ctx, nc, flows, opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func run(t *testing.T, ex runner.Executor, f *flow.Flow, opts ...runner.Option) *runner.FlowState {
	t.Helper()
	fs, err := runner.Run(testwait.Context(t), f, append([]runner.Option{runner.WithExecutor(ex)}, opts...)...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return fs
}

// TestMatchesLocal runs each flow of the executor suite locally and on a
// worker through JetStream: every task's state, result and run count must
// agree.
func TestMatchesLocal(t *testing.T) {
	for _, c := range executortest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			url := startServer(t)
			startWorker(t, url, []*flow.Flow{c.Build()})
			executortest.MatchesLocal(t, c, func(f *flow.Flow) runner.Executor {
				return natsexec.Executor(connect(t, url), f)
			}, nil, nil)
		})
	}
}

// TestPanicIsFailed: a panic on the worker fails the task run with the
// panic's value, and its downstream task TriggerFailed.
func TestPanicIsFailed(t *testing.T) {
	url := startServer(t)
	build := func() *flow.Flow {
		f := flow.New("panics")
		flow.Add(f, task.New("boom", func(context.Context, task.None) (int, error) { panic("kaboom") }))
		return f
	}
	startWorker(t, url, []*flow.Flow{build()})
	f := build()
	fs := run(t, natsexec.Executor(connect(t, url), f), f)
	st := fs.Tasks[0]
	var pe *runner.PanicError
	if st.Kind != state.Failed || !errors.As(st.Err, &pe) || pe.Value != "kaboom" {
		t.Errorf("boom: %v (err %v), want Failed with a panic of \"kaboom\"", st, st.Err)
	}
}

// capture records every message the server routes, on any subject.
type capture struct {
	mu   sync.Mutex
	msgs []*nats.Msg
	nc   *nats.Conn
	// marks gets the subject of each mark the capture sent itself.
	marks chan string
}

// markPrefix starts the subjects of the marks a capture sends itself.
const markPrefix = "_CAPTURE_MARK."

func captureAll(t *testing.T, url string) *capture {
	t.Helper()
	c := &capture{nc: connect(t, url), marks: make(chan string, 16)}
	if _, err := c.nc.Subscribe(">", func(m *nats.Msg) {
		if strings.HasPrefix(m.Subject, markPrefix) {
			c.marks <- m.Subject
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := c.nc.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return c
}

// all returns what was captured up to now: every message the server
// routed before a mark the capture sends itself, which its handler sees
// after them (a round trip to the server alone does not wait for the
// handler, which runs on a goroutine of its own).
func (c *capture) all(t *testing.T) []*nats.Msg {
	t.Helper()
	mark := markPrefix + uuid.NewString()
	if err := c.nc.Publish(mark, nil); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for got := ""; got != mark; {
		select {
		case got = <-c.marks:
		case <-testwait.Context(t).Done():
			t.Fatal("the capture did not get its own mark back")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*nats.Msg(nil), c.msgs...)
}

// makeStream creates the work-queue stream as executors and workers do,
// for a test that plays one of them by hand.
func makeStream(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: natsexec.DefaultStream,
		Subjects: []string{natsexec.DefaultSubjectPrefix + ".>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	return js
}

// jobs fails t if any message captured up to now holds secret, in its data
// or its headers (naming the subject, never showing the value), and
// returns the slugs of the jobs that went to the workers.
func (c *capture) jobs(t *testing.T, secret string) map[string]bool {
	t.Helper()
	slugs := map[string]bool{}
	for _, m := range c.all(t) {
		if strings.Contains(string(m.Data), secret) || strings.Contains(fmt.Sprint(m.Header), secret) {
			t.Errorf("a message on %q holds the secret", m.Subject)
		}
		var j struct {
			Slug string `json:"slug"`
		}
		if strings.HasPrefix(m.Subject, natsexec.DefaultSubjectPrefix+".") && json.Unmarshal(m.Data, &j) == nil {
			slugs[j.Slug] = true
		}
	}
	return slugs
}

// TestSecretStaysHere: a secret task and the tasks downstream of it run in
// the flow program; no message on the server holds the secret, and the
// other tasks still run on the worker.
func TestSecretStaysHere(t *testing.T) {
	const secret = "s3cr3t-NATS-value"
	build := func() *flow.Flow {
		f := flow.New("secret")
		sec := flow.Add(f, tasks.PrefectSecret("NATS_TEST_TOKEN"))
		length := task.New("length", func(_ context.Context, in textIn) (int, error) { return len(in.Secret), nil })
		n := flow.Add(f, length, flow.Bind("secret", sec))
		flow.Add(f, double("d"), flow.Bind("x", n))
		flow.Add(f, valueTask("plain", 4))
		return f
	}
	for _, how := range []string{"WithSecrets", "env"} {
		t.Run(how, func(t *testing.T) {
			var opts []runner.Option
			if how == "env" {
				t.Setenv("PREFECT__CONTEXT__SECRETS__NATS_TEST_TOKEN", secret)
			} else {
				opts = append(opts, runner.WithSecrets(map[string]any{"NATS_TEST_TOKEN": secret}))
			}
			url := startServer(t)
			capt := captureAll(t, url)
			startWorker(t, url, []*flow.Flow{build()})
			f := build()
			fs := run(t, natsexec.Executor(connect(t, url), f), f, opts...)
			if fs.Kind != state.Success {
				t.Fatalf("flow: %v", fs.State)
			}
			if got := fs.Tasks[2].Result; got != 2*len(secret) {
				t.Errorf("d = %#v, want %d", got, 2*len(secret))
			}
			slugs := capt.jobs(t, secret)
			for _, gt := range fs.Graph.Tasks {
				if sent := slugs[gt.Slug]; sent != !(gt.Spec.Secret || gt.FromSecret) {
					t.Errorf("task %q sent to the workers: %v", gt.Slug, sent)
				}
			}
		})
	}
}

// TestOtherVersion: a worker answers a job for another version of its
// flow with an error naming both versions.
func TestOtherVersion(t *testing.T) {
	url := startServer(t)
	build := func(mod func(f *flow.Flow)) *flow.Flow {
		f := flow.New("held")
		v := flow.Add(f, valueTask("v", 1))
		flow.Add(f, double("d"), flow.Bind("x", v))
		if mod != nil {
			mod(f)
		}
		return f
	}
	startWorker(t, url, []*flow.Flow{build(nil)})

	same := build(nil)
	if fs := run(t, natsexec.Executor(connect(t, url), same), same); fs.Kind != state.Success || fs.Tasks[1].Result != 2 {
		t.Errorf("the same flow, built again: %v, d = %#v; want Success and 2", fs.State, fs.Tasks[1].Result)
	}
	for _, tc := range []struct {
		name string
		mod  func(f *flow.Flow)
	}{
		{"a task more", func(f *flow.Flow) { flow.Add(f, valueTask("extra", 1)) }},
		{"a parameter more", func(f *flow.Flow) { flow.Parameter(f, "p", flow.WithDefault(3)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := build(tc.mod)
			want := fmt.Sprintf(`this worker holds another version of flow "held" (version %s here, %s in the flow run`,
				versionOf(t, build(nil)), versionOf(t, other))
			fs := run(t, natsexec.Executor(connect(t, url), other), other)
			if st := fs.Tasks[0]; st.Kind != state.Failed || st.Err == nil || !strings.Contains(st.Err.Error(), want) {
				t.Errorf("v: %v (err %v), want Failed saying %s", st, st.Err, want)
			}
		})
	}
}

func versionOf(t *testing.T, f *flow.Flow) string {
	t.Helper()
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return natsexec.Version(g)
}

// TestVersion: the version is the same for flows built alike, and differs
// when anything a worker relies on differs.
func TestVersion(t *testing.T) {
	build := func(timeout time.Duration, out bool) *flow.Flow {
		f := flow.New("v")
		v := flow.Add(f, valueTask("v", 1))
		if out {
			flow.Add(f, task.New("d", func(_ context.Context, in argX) (string, error) { return "", nil }), flow.Bind("x", v))
		} else {
			flow.Add(f, double("d", task.WithTimeout(timeout)), flow.Bind("x", v))
		}
		return f
	}
	base := versionOf(t, build(time.Second, false))
	if again := versionOf(t, build(time.Second, false)); again != base {
		t.Errorf("the same flow built twice: versions %s and %s", base, again)
	}
	for name, f := range map[string]*flow.Flow{
		"another timeout":     build(2*time.Second, false),
		"another result type": build(0, true),
	} {
		if v := versionOf(t, f); v == base {
			t.Errorf("%s: the version stayed %s", name, v)
		}
	}
}

// TestTwoWorkersShare: two workers consuming at once both take part in a
// mapped run, and the result is whole.
func TestTwoWorkersShare(t *testing.T) {
	url := startServer(t)
	var counts [2]atomic.Int32
	build := func(calls *atomic.Int32) *flow.Flow {
		f := flow.New("share")
		xs := make([]int, 100)
		for i := range xs {
			xs[i] = i + 1
		}
		list := flow.Add(f, valueTask("list", xs))
		slow := task.New("slow", func(_ context.Context, in argX) (int, error) {
			if calls != nil {
				calls.Add(1)
			}
			time.Sleep(2 * time.Millisecond) // long enough that one worker cannot take it all
			return in.X, nil
		})
		out := flow.Map(f, slow, flow.Bind("x", list))
		flow.Add(f, sumTask("sum"), flow.Bind("values", out))
		return f
	}
	startWorker(t, url, []*flow.Flow{build(&counts[0])}, natsexec.WithConcurrency(4))
	startWorker(t, url, []*flow.Flow{build(&counts[1])}, natsexec.WithConcurrency(4))
	f := build(nil)
	fs := run(t, natsexec.Executor(connect(t, url), f, natsexec.WithSlots(32)), f)
	if got := fs.Tasks[2].Result; got != 5050 {
		t.Errorf("sum = %#v (%v), want 5050", got, fs.Tasks[2])
	}
	a, b := counts[0].Load(), counts[1].Load()
	if a+b != 100 || a == 0 || b == 0 {
		t.Errorf("workers ran %d and %d mapped tasks, want 100 shared by both", a, b)
	}
}

// TestDuplicateAnswersDropped: a "worker" that answers every job twice
// (as a redelivered message may be) does not disturb the run.
func TestDuplicateAnswersDropped(t *testing.T) {
	url := startServer(t)
	nc := connect(t, url)
	js := makeStream(t, nc)
	ctx := context.Background()
	cons, err := js.CreateOrUpdateConsumer(ctx, natsexec.DefaultStream, jetstream.ConsumerConfig{Durable: natsexec.ConsumerName("twice"),
		FilterSubject: natsexec.Subject("twice"), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var j struct {
			TaskRunID uuid.UUID         `json:"task_run_id"`
			RunCount  int               `json:"run_count"`
			Inputs    []json.RawMessage `json:"inputs"`
			Reply     string            `json:"reply"`
		}
		if err := json.Unmarshal(m.Data(), &j); err != nil {
			t.Errorf("job: %v", err)
			return
		}
		x := 10
		if len(j.Inputs) == 1 {
			_ = json.Unmarshal(j.Inputs[0], &x)
			x *= 2
		}
		for range 2 {
			b, _ := json.Marshal(map[string]any{"task_run_id": j.TaskRunID, "run_count": j.RunCount, "result": x})
			_ = nc.Publish(j.Reply, b)
		}
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	f := flow.New("twice")
	v := flow.Add(f, valueTask("v", 10))
	d := flow.Add(f, double("d"), flow.Bind("x", v))
	flow.Add(f, double("dd"), flow.Bind("x", d))
	fs := run(t, natsexec.Executor(connect(t, url), f), f)
	if fs.Kind != state.Success || fs.Tasks[2].Result != 40 {
		t.Errorf("flow %v, dd = %#v, want Success and 40", fs.State, fs.Tasks[2].Result)
	}
}

// TestCancelledRunStopsWaiting: with no worker, a flow run whose context
// ends does not hang; its waiting task run ends Cancelled.
func TestCancelledRunStopsWaiting(t *testing.T) {
	url := startServer(t)
	f := flow.New("nobody")
	flow.Add(f, valueTask("v", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	fs, err := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(connect(t, url), f)))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := fs.Tasks[0]; st.Kind != state.Cancelled {
		t.Errorf("v: %v, want Cancelled", st)
	}
}

// TestServeDrains: when its context ends, a worker finishes the task it
// is running and answers before Serve returns.
func TestServeDrains(t *testing.T) {
	url := startServer(t)
	g := newGate()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- natsexec.Serve(ctx, connect(t, url), []*flow.Flow{g.flow("drain", true, 3)}) }()
	f := g.flow("drain", false, 3)
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(context.Background(), f, runner.WithExecutor(natsexec.Executor(connect(t, url), f)))
		ran <- fs
	}()
	<-g.started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while its task was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release)
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if fs := <-ran; fs == nil || fs.Kind != state.Success || fs.Tasks[0].Result != 3 {
		t.Errorf("run after the worker drained: %v", fs)
	}
}

// TestServeErrors: Serve refuses invalid setups at once, and returns an
// error when it can no longer consume.
func TestServeErrors(t *testing.T) {
	url := startServer(t)
	a, b := flow.New("same"), flow.New("same")
	if err := natsexec.Serve(context.Background(), connect(t, url), []*flow.Flow{a, b}); err == nil ||
		!strings.Contains(err.Error(), `two flows are named "same"`) {
		t.Errorf("two flows of one name: %v", err)
	}
	if err := natsexec.Serve(context.Background(), connect(t, url), nil); err == nil || !strings.Contains(err.Error(), "needs a flow") {
		t.Errorf("no flow: %v", err)
	}
	bad := flow.New("bad")
	flow.Add(bad, double("d")) // x left unbound
	if err := natsexec.Serve(context.Background(), connect(t, url), []*flow.Flow{bad}); err == nil ||
		!strings.Contains(err.Error(), `flow "bad"`) {
		t.Errorf("invalid flow: %v", err)
	}
	nc := connect(t, url)
	served := make(chan error, 1)
	go func() { served <- natsexec.Serve(context.Background(), nc, []*flow.Flow{a}) }()
	// Wait for the consumer, then close the connection under it.
	js, _ := jetstream.New(connect(t, url))
	testwait.Until(t, "the worker makes its consumer", func() bool { // its creation is not observable otherwise
		_, err := js.Consumer(context.Background(), natsexec.DefaultStream, natsexec.ConsumerName("same"))
		return err == nil
	})
	nc.Close()
	if err := <-served; err == nil {
		t.Error("Serve returned nil after its connection closed")
	}
}

// gate holds, on a worker, the first call of the task of a gate's flow
// until the test releases it.
type gate struct {
	started chan struct{} // closed when the worker's first call began
	release chan struct{} // closed by the test to let it return
	calls   atomic.Int32  // the worker's calls
	once    sync.Once
}

func newGate() *gate { return &gate{started: make(chan struct{}), release: make(chan struct{})} }

// flow is the flow called name with one task, "wait", which returns
// result: held by the gate in the worker's build (worker set), at once in
// the flow program's.
func (g *gate) flow(name string, worker bool, result int) *flow.Flow {
	f := flow.New(name)
	flow.Add(f, task.New("wait", func(context.Context, task.None) (int, error) {
		if worker && g.calls.Add(1) == 1 {
			g.once.Do(func() { close(g.started) })
			<-g.release
		}
		return result, nil
	}))
	return f
}

package natsexec_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// seenContext is what a task reports of its run context.
type seenContext struct {
	FlowName, FlowRunName, TaskName, TaskSlug, TaskRunName string
	FlowRunID, TaskRunID                                   uuid.UUID
	TaskRunCount, MapIndex                                 int
	P                                                      int
	Today                                                  string
}

// TestRunContextOnWorker: a task on a worker sees the run context it would
// see in the runner's process, parameters in their Go types included.
func TestRunContextOnWorker(t *testing.T) {
	build := func() *flow.Flow {
		f := flow.New("ctx")
		p := flow.Parameter(f, "p", flow.WithDefault(3))
		items := flow.Add(f, valueTask("items", []int{1, 2}))
		report := func(ctx context.Context, _ argX) (seenContext, error) {
			rc, ok := runner.FromContext(ctx)
			if !ok {
				return seenContext{}, errors.New("no run context")
			}
			p, _ := rc.Parameters["p"].(int)
			return seenContext{rc.FlowName, rc.FlowRunName, rc.TaskName, rc.TaskSlug, rc.TaskRunName,
				rc.FlowRunID, rc.TaskRunID(), rc.TaskRunCount, rc.MapIndex, p, rc.Today()}, nil
		}
		flow.Add(f, task.New("one", report), flow.Bind("x", p))
		flow.Map(f, task.New("each", report), flow.Bind("x", items))
		return f
	}
	opts := []runner.Option{runner.WithParameters(map[string]any{"p": 7}), runner.WithFlowRunID(uuid.New()),
		runner.WithFlowRunName("brave-newt"), runner.WithScheduledStartTime(time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC))}
	url := startServer(t)
	startWorker(t, url, []*flow.Flow{build()})
	local := run(t, runner.Local(), build(), opts...)
	f := build()
	remote := run(t, natsexec.Executor(connect(t, url), f), f, opts...)
	if remote.Kind != state.Success {
		t.Fatalf("flow run on the worker: %v", remote.State)
	}
	for _, slug := range []string{"one-1", "each-1"} {
		got, _ := remote.Task(slug)
		want, _ := local.Task(slug)
		if !reflect.DeepEqual(got.Result, want.Result) {
			t.Errorf("task %s saw %+v on the worker, %+v here", slug, got.Result, want.Result)
		}
	}
	each, _ := remote.Task("each-1")
	if kids, _ := each.Result.([]seenContext); len(kids) != 2 || kids[1].MapIndex != 1 || kids[1].P != 7 {
		t.Errorf("the mapped task's results: %+v; want 2 with map indexes and the parameter", each.Result)
	}
}

// records decodes the JSON lines logged so far.
func records(t *testing.T, b *syncbuf.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the first record with message msg.
func find(recs []map[string]any, msg string) map[string]any {
	for _, r := range recs {
		if r["msg"] == msg {
			return r
		}
	}
	return nil
}

// TestWorkerLogs: what a task logs on a worker reaches the run's logger
// with its level, attributes and the task run's attributes, while the task
// still runs (with a heartbeat); secrets are hidden on both sides: the
// run's own, and one the task resolved on the worker, which never goes on
// the wire.
func TestWorkerLogs(t *testing.T) {
	const (
		runSecret    = "run-side-SECRET-4411"
		workerSecret = "worker-side-SECRET-9902"
	)
	firstSeen := make(chan struct{})
	build := func() *flow.Flow {
		f := flow.New("logs")
		flow.Add(f, task.New("talk", func(ctx context.Context, _ task.None) (int, error) {
			rc, _ := runner.FromContext(ctx)
			log := rc.Logger()
			log.Info("first", "n", 3, slog.Group("g", "k", "v"))
			select { // the record reaches the run before the task ends
			case <-firstSeen:
			case <-testwait.Context(t).Done():
				return 0, errors.New("the first record did not reach the run while the task ran")
			}
			v, err := secrets.Secret("WORKER_ONLY").Get(ctx)
			if err != nil {
				return 0, err
			}
			log.Debug("second", "token", v.Reveal(), "echo", runSecret)
			log.Warn("third " + v.Reveal())
			return 0, fmt.Errorf("denied with %s", v.Reveal())
		}))
		// The run resolves runSecret (a secret task), so its masker hides it.
		flow.Add(f, task.New("s", func(context.Context, task.None) (secrets.Value, error) {
			return secrets.NewValue(runSecret), nil
		}, task.WithSecretResult()))
		return f
	}
	workerCfg, err := config.Load(config.WithEnv([]string{secrets.EnvVar("WORKER_ONLY") + "=" + workerSecret}), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t)
	wire := captureAll(t, url)
	startWorker(t, url, []*flow.Flow{build()}, natsexec.WithConfig(workerCfg), natsexec.WithAckWait(300*time.Millisecond))

	var out syncbuf.Buffer
	h := slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
	logger := slog.New(watchHandler{h, "first", firstSeen, &sync.Once{}})
	f := build()
	fs := run(t, natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(300*time.Millisecond)), f,
		runner.WithLogger(logger), runner.WithResolveSecretsFirst())

	talk := fs.Tasks[0]
	if talk.Kind != state.Failed || talk.Err == nil || !strings.Contains(talk.Err.Error(), "denied with ") {
		t.Fatalf("talk: %v (err %v), want Failed with the task's error", talk, talk.Err)
	}
	recs := records(t, &out)
	first := find(recs, "first")
	if first == nil {
		t.Fatalf("no record \"first\" in the run's log:\n%s", out.String())
	}
	tr, _ := first["task_run"].(map[string]any)
	g, _ := first["g"].(map[string]any)
	if first["level"] != "INFO" || first["n"] != float64(3) || g["k"] != "v" || tr["task_slug"] != "talk-1" {
		t.Errorf("first record: %v; want INFO, n=3, g.k=v and the task run's attributes", first)
	}
	if r := find(recs, "second"); r == nil || r["level"] != "DEBUG" {
		t.Errorf("second record: %v; want it at DEBUG", r)
	}
	for _, s := range []string{runSecret, workerSecret} {
		if strings.Contains(out.String(), s) {
			t.Errorf("the run's log shows the secret %q:\n%s", s, out.String())
		}
		if strings.Contains(talk.Err.Error(), s) {
			t.Errorf("the task's error shows the secret %q: %v", s, talk.Err)
		}
	}
	wire.jobs(t, workerSecret)
}

// watchHandler closes seen the first time a record with message msg is
// handled.
type watchHandler struct {
	slog.Handler
	msg  string
	seen chan struct{}
	once *sync.Once
}

func (h watchHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return h.Handler.Handle(ctx, r)
}

func (h watchHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return watchHandler{h.Handler.WithAttrs(as), h.msg, h.seen, h.once}
}

func (h watchHandler) WithGroup(name string) slog.Handler {
	return watchHandler{h.Handler.WithGroup(name), h.msg, h.seen, h.once}
}

// TestWorkerSecretResultRefused: a task on a worker that returns a secret
// it resolved there fails, and the value never goes on the wire.
func TestWorkerSecretResultRefused(t *testing.T) {
	const workerSecret = "returned-SECRET-5150"
	build := func() *flow.Flow {
		f := flow.New("leaky")
		flow.Add(f, task.New("leak", func(ctx context.Context, _ task.None) (string, error) {
			v, err := secrets.Secret("TOKEN").Get(ctx)
			return v.Reveal(), err
		}))
		return f
	}
	cfg, err := config.Load(config.WithEnv([]string{secrets.EnvVar("TOKEN") + "=" + workerSecret}), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t)
	wire := captureAll(t, url)
	startWorker(t, url, []*flow.Flow{build()}, natsexec.WithConfig(cfg))
	f := build()
	fs := run(t, natsexec.Executor(connect(t, url), f), f)
	if st := fs.Tasks[0]; st.Kind != state.Failed || !strings.Contains(fmt.Sprint(st.Err), "holds a secret its task resolved on this worker") {
		t.Errorf("leak: %v (err %v), want Failed saying the result holds a secret", st, st.Err)
	}
	wire.jobs(t, workerSecret)
}

// TestCancelReachesWorkers: cancelling a flow run stops the task runs its
// workers are running (their context ends) and drops its queued ones,
// which never run.
func TestCancelReachesWorkers(t *testing.T) {
	var started, stopped atomic.Int32
	running := make(chan struct{}, 100)
	build := func(worker bool) *flow.Flow {
		f := flow.New("cancel")
		items := flow.Add(f, valueTask("items", make([]int, 20)))
		flow.Map(f, task.New("wait", func(ctx context.Context, _ argX) (int, error) {
			if worker {
				started.Add(1)
				running <- struct{}{}
				<-ctx.Done()
				stopped.Add(1)
			}
			return 0, ctx.Err()
		}), flow.Bind("x", items))
		return f
	}
	url := startServer(t)
	wnc := connect(t, url)
	wctx, stopWorker := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- natsexec.Serve(wctx, wnc, []*flow.Flow{build(true)}, natsexec.WithConcurrency(2))
	}()
	defer func() { stopWorker(); <-served }()

	f := build(false)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(connect(t, url), f)))
		ran <- fs
	}()
	<-running
	<-running
	cancel()
	fs := <-ran
	if fs == nil || fs.Kind != state.Cancelled {
		t.Fatalf("flow run after cancel: %v, want Cancelled", fs)
	}
	// Polled: the worker's side has no event to wait on.
	testwait.Until(t, "both task runs on the worker see their context end", func() bool { return stopped.Load() >= 2 })
	stopWorker()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	served <- nil // for the deferred wait
	if n := started.Load(); n != 2 {
		t.Errorf("%d task runs started on the worker, want the 2 running when the run was cancelled", n)
	}
	js, err := jetstream.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), natsexec.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(context.Background()); err != nil || info.State.Msgs != 0 {
		t.Errorf("stream after the cancelled run: %+v, %v; want no job left", info.State, err)
	}
}

const silentMsg = "natsexec: the worker running this task run went silent; JetStream delivers it to another worker after the ack wait"

// TestDeadWorkerRedelivered: a worker that dies while running a task run
// goes silent; the run says so, JetStream delivers the task run to another
// worker after the ack wait, and the run succeeds with its result applied
// once.
func TestDeadWorkerRedelivered(t *testing.T) {
	const ackWait = 500 * time.Millisecond
	var calls atomic.Int32
	release := make(chan struct{})
	onA := make(chan struct{})
	build := func(worker string) *flow.Flow {
		f := flow.New("redeliver")
		v := flow.Add(f, valueTask("v", 21))
		flow.Add(f, task.New("d", func(ctx context.Context, in argX) (int, error) {
			if worker == "A" {
				close(onA)
				<-release // hangs until the test ends: A is dead meanwhile
			}
			calls.Add(1)
			return 2 * in.X, nil
		}), flow.Bind("x", v))
		return f
	}
	url := startServer(t)
	anc := connect(t, url)
	aDone := make(chan error, 1)
	go func() {
		aDone <- natsexec.Serve(context.Background(), anc, []*flow.Flow{build("A")}, natsexec.WithWorkerName("A"), natsexec.WithAckWait(ackWait))
	}()
	defer func() { close(release); <-aDone }()

	var out syncbuf.Buffer
	silent := make(chan struct{})
	logger := slog.New(watchHandler{slog.NewJSONHandler(&out, nil), silentMsg, silent, &sync.Once{}})
	f := build("")
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(context.Background(), f, runner.WithLogger(logger),
			runner.WithExecutor(natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(ackWait))))
		ran <- fs
	}()
	<-onA
	time.Sleep(ackWait) // a heartbeat or two from A, so the run knows who has the task run
	anc.Close()         // A dies: no more heartbeats, no answer, no ack
	select {
	case <-silent:
	case <-testwait.Context(t).Done():
		t.Fatalf("the run did not notice its worker died; log:\n%s", out.String())
	}
	startWorker(t, url, []*flow.Flow{build("B")}, natsexec.WithWorkerName("B"), natsexec.WithAckWait(ackWait))
	var fs *runner.FlowState
	select {
	case fs = <-ran:
	case <-testwait.Context(t).Done():
		t.Fatal("the run did not end after its worker died")
	}
	if fs.Kind != state.Success || fs.Tasks[1].Result != 42 || calls.Load() != 1 {
		t.Errorf("run: %v, d = %#v, %d calls finished; want Success, 42, 1", fs.State, fs.Tasks[1].Result, calls.Load())
	}
	if st := fs.Tasks[1]; st.RunCount != 1 {
		t.Errorf("d ran %d times as the runner counts; a redelivery is the same attempt", st.RunCount)
	}
	warn := find(records(t, &out), silentMsg)
	if warn == nil || warn["worker"] != "A" || warn["level"] != "WARN" {
		t.Errorf("warning about the silent worker: %v\nlog:\n%s", warn, out.String())
	}
}

// TestOversizedAnswers: a result over the server's max_payload fails its
// task run once, saying so, rather than being run again and again; log
// records over it are dropped with a record saying how many, and the run
// goes on.
func TestOversizedAnswers(t *testing.T) {
	var bigCalls, chattyCalls atomic.Int32
	build := func() *flow.Flow {
		f := flow.New("big")
		flow.Add(f, task.New("huge", func(context.Context, task.None) (string, error) {
			bigCalls.Add(1)
			return strings.Repeat("x", 2<<20), nil
		}))
		flow.Add(f, task.New("chatty", func(ctx context.Context, _ task.None) (int, error) {
			chattyCalls.Add(1)
			rc, _ := runner.FromContext(ctx)
			line := strings.Repeat("y", 1000)
			for i := range 3000 {
				rc.Logger().Info("line", "i", i, "text", line)
			}
			return 7, nil
		}))
		return f
	}
	url := startServer(t)
	startWorker(t, url, []*flow.Flow{build()})
	var out syncbuf.Buffer
	f := build()
	fs := run(t, natsexec.Executor(connect(t, url), f), f, runner.WithLogger(slog.New(slog.NewJSONHandler(&out, nil))))
	if st := fs.Tasks[0]; st.Kind != state.Failed || !strings.Contains(fmt.Sprint(st.Err), "over the NATS server's max_payload") {
		t.Errorf("huge: %v (err %v), want Failed saying the answer is over max_payload", st, st.Err)
	}
	if st := fs.Tasks[1]; st.Kind != state.Success || st.Result != 7 {
		t.Errorf("chatty: %v, want Success and 7", st)
	}
	if b, c := bigCalls.Load(), chattyCalls.Load(); b != 1 || c != 1 {
		t.Errorf("huge ran %d times, chatty %d; want once each", b, c)
	}
	recs := records(t, &out)
	lines, dropped := 0, false
	for _, r := range recs {
		switch msg, _ := r["msg"].(string); {
		case msg == "line":
			lines++
		case strings.HasPrefix(msg, "natsexec: ") && strings.Contains(msg, "log records of this task run were dropped"):
			dropped = true
		}
	}
	if lines == 0 || lines >= 3000 || !dropped {
		t.Errorf("%d of 3000 records reached the run's log, dropped-records record: %t; want some, not all, and the record", lines, dropped)
	}
}

// TestExecutorCutOff: when the flow program's connection closes while a
// worker runs its task, the run ends (its task run Failed, saying why)
// rather than waiting forever, and the worker drops the job whose answer
// nobody can take.
func TestExecutorCutOff(t *testing.T) {
	g := newGate()
	url := startServer(t)
	startWorker(t, url, []*flow.Flow{g.flow("cutoff", true, 1)})
	nc := connect(t, url)
	f := g.flow("cutoff", false, 1)
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(context.Background(), f, runner.WithExecutor(natsexec.Executor(nc, f)))
		ran <- fs
	}()
	<-g.started
	nc.Close()
	var fs *runner.FlowState
	select {
	case fs = <-ran:
	case <-testwait.Context(t).Done():
		close(g.release)
		t.Fatal("the run did not end after its connection closed")
	}
	close(g.release)
	if st := fs.Tasks[0]; st.Kind != state.Failed || !strings.Contains(fmt.Sprint(st.Err), "connection to the NATS server closed") {
		t.Errorf("wait: %v (err %v), want Failed saying the connection closed", st, st.Err)
	}
	js, err := jetstream.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), natsexec.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := testwait.Deadline(t); ; {
		info, err := st.Info(context.Background())
		if err == nil && info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream after the worker answered nobody: %+v, %v; want the job dropped", info, err)
		}
		time.Sleep(10 * time.Millisecond) // the worker's Term has no event to wait on
	}
}

// TestExecutorClosedWhileQueuing: a connection closed while a job's
// queuing waits for the stream's acknowledgement fails the task run
// saying so (the job reached a worker, but no answer can come).
func TestExecutorClosedWhileQueuing(t *testing.T) {
	g := newGate()
	url := startServer(t)
	startWorker(t, url, []*flow.Flow{g.flow("closing", true, 1)})
	p := startCutProxy(t, url)
	nc := connect(t, p.url())
	f := g.flow("closing", false, 1)
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(context.Background(), f, runner.WithExecutor(deafAfterStart{natsexec.Executor(nc, f), p}))
		ran <- fs
	}()
	<-g.started
	nc.Close()
	fs := <-ran
	close(g.release)
	if st := fs.Tasks[0]; st.Kind != state.Failed || !strings.Contains(fmt.Sprint(st.Err), "connection to the NATS server closed") {
		t.Errorf("wait: %v (err %v), want Failed saying the connection closed", st, st.Err)
	}
}

// TestSecretParameter: a parameter that holds a secret stays in the flow
// program with the tasks it feeds; the other tasks still run on workers,
// and no message holds the secret.
func TestSecretParameter(t *testing.T) {
	const secret = "param-SECRET-7788"
	type tokenIn struct {
		Token secrets.Value `prefect:"token"`
	}
	build := func() *flow.Flow {
		f := flow.New("secret-param")
		tok := flow.Parameter[secrets.Value](f, "token")
		flow.Add(f, valueTask("plain", 3))
		flow.Add(f, task.New("use", func(ctx context.Context, in tokenIn) (int, error) {
			if _, on := natsexec.WorkerName(ctx); on {
				return 0, errors.New("a task fed by a secret parameter ran on a worker")
			}
			return len(in.Token.Reveal()), nil
		}), flow.Bind("token", tok))
		return f
	}
	url := startServer(t)
	wire := captureAll(t, url)
	startWorker(t, url, []*flow.Flow{build()})
	f := build()
	fs := run(t, natsexec.Executor(connect(t, url), f), f, runner.WithParameters(map[string]any{"token": secrets.NewValue(secret)}))
	if fs.Kind != state.Success {
		t.Fatalf("run: %v %v", fs.State, fs.Tasks)
	}
	if use, _ := fs.Task("use-1"); use.Result != len(secret) {
		t.Errorf("use: %v", use)
	}
	if jobs := wire.jobs(t, secret); !jobs["plain-1"] || len(jobs) != 1 {
		t.Errorf("jobs went to the worker for %v; want plain-1 alone", jobs)
	}
}

// TestTinyAckWait: an ack wait too short to mean anything is raised to
// natsexec.MinAckWait, not a crash.
func TestTinyAckWait(t *testing.T) {
	url := startServer(t)
	startWorker(t, url, []*flow.Flow{chainOf(3)}, natsexec.WithAckWait(time.Nanosecond))
	f := chainOf(3)
	if fs := run(t, natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(time.Nanosecond)), f); fs.Kind != state.Success {
		t.Errorf("run with a 1ns ack wait: %v", fs.State)
	}
}

func chainOf(n int) *flow.Flow {
	f := flow.New("chain-of")
	prev := flow.Add(f, valueTask("v", 1))
	for range n {
		prev = flow.Add(f, double("d"), flow.Bind("x", prev))
	}
	return f
}

// TestMaxDeliveries: a task run delivered more often than allowed (its
// workers kept dying) fails, saying so, without being run again.
func TestMaxDeliveries(t *testing.T) {
	var calls atomic.Int32
	build := func() *flow.Flow {
		f := flow.New("crashy")
		flow.Add(f, task.New("boom", func(context.Context, task.None) (int, error) {
			calls.Add(1)
			return 1, nil
		}))
		return f
	}
	url := startServer(t)
	js := makeStream(t, connect(t, url))
	ctx := context.Background()
	// A "worker" that takes the job and dies with it: no ack, no answer.
	cons, err := js.CreateOrUpdateConsumer(ctx, natsexec.DefaultStream, jetstream.ConsumerConfig{
		Durable: natsexec.ConsumerName("crashy"), FilterSubject: natsexec.Subject("crashy"),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: natsexec.MinAckWait})
	if err != nil {
		t.Fatal(err)
	}
	f := build()
	ran := make(chan *runner.FlowState, 1)
	ex := natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(natsexec.MinAckWait))
	runCtx, cancel := context.WithDeadline(ctx, testwait.Deadline(t))
	defer cancel()
	go func() {
		fs, _ := runner.Run(runCtx, f, runner.WithExecutor(ex))
		ran <- fs
	}()
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	taken := 0
	for range batch.Messages() {
		taken++
	}
	if taken != 1 {
		t.Fatalf("the dying worker took %d jobs (%v), want 1", taken, batch.Error())
	}
	startWorker(t, url, []*flow.Flow{build()}, natsexec.WithMaxDeliveries(1), natsexec.WithAckWait(natsexec.MinAckWait))
	fs := <-ran
	if st := fs.Tasks[0]; st.Kind != state.Failed || !strings.Contains(fmt.Sprint(st.Err), "was delivered 2 times and no worker answered") {
		t.Errorf("boom: %v (err %v), want Failed saying it was delivered too often", st, st.Err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the task ran %d times; a task run delivered too often is not run", n)
	}
}

// cutProxy forwards TCP connections to a NATS server until cut: then it
// closes them, and refuses new ones while refusing is set. While deaf is
// set, what the server sends is dropped: the client hears nothing, as
// when the connection goes between a request and its answer.
type cutProxy struct {
	ln      net.Listener
	target  string
	refuse  atomic.Bool
	deaf    atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
	copying sync.WaitGroup
}

func startCutProxy(t *testing.T, serverURL string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: strings.TrimPrefix(serverURL, "nats://")}
	p.copying.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if p.refuse.Load() || err != nil {
				c.Close()
				if s != nil {
					s.Close()
				}
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.copying.Go(func() { io.Copy(s, c); s.Close(); c.Close() })
			p.copying.Go(func() { io.Copy(c, p.fromServer(s)); s.Close(); c.Close() })
		}
	})
	t.Cleanup(func() { ln.Close(); p.cut(); p.copying.Wait() })
	return p
}

func (p *cutProxy) url() string { return "nats://" + p.ln.Addr().String() }

// fromServer reads what the server sends, less what comes while deaf.
func (p *cutProxy) fromServer(s net.Conn) io.Reader {
	r, w := io.Pipe()
	p.copying.Go(func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 && !p.deaf.Load() {
				if _, werr := w.Write(buf[:n]); werr != nil {
					s.Close()
					return
				}
			}
			if err != nil {
				w.CloseWithError(err)
				return
			}
		}
	})
	return r
}

// cut closes the connections through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestExecutorReconnects: a flow program whose connection is lost for a
// while, as its worker answers (nobody listens: the worker drops the job),
// queues the job again once it is back, and the run ends. When the
// stream's acknowledgement of the job went with the connection too, the
// job is sent again under its message ID, queued once, and queued anew as
// the worker dropped it (before, the queuing failed the task run after its
// 10 s wait, or the run hung).
func TestExecutorReconnects(t *testing.T) {
	for _, tc := range []struct {
		name string
		deaf bool // the program hears nothing once its session is open
	}{
		{"answer lost", false},
		{"acknowledgement lost", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			url := startServer(t)
			// A short ack wait: an answer whose confirmation does not come
			// (the server still routes to the program's old connection) is
			// sent again after half of it.
			startWorker(t, url, []*flow.Flow{g.flow("blip", true, 1)}, natsexec.WithAckWait(2*time.Second))
			p := startCutProxy(t, url)
			nc, err := nats.Connect(p.url(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			f := g.flow("blip", false, 1)
			var exec runner.Executor = natsexec.Executor(nc, f, natsexec.WithAckWait(2*time.Second))
			if tc.deaf {
				exec = deafAfterStart{exec, p}
			}
			ran := make(chan *runner.FlowState, 1)
			ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(t))
			defer cancel()
			go func() {
				fs, _ := runner.Run(ctx, f, runner.WithExecutor(exec))
				ran <- fs
			}()
			<-g.started
			p.refuse.Store(true)
			p.cut()
			for nc.IsConnected() {
				time.Sleep(5 * time.Millisecond) // the client's state has no event to wait on here
			}
			close(g.release)        // the worker answers now, to nobody
			waitStreamEmpty(t, url) // and drops the job, finding nobody
			p.deaf.Store(false)
			p.refuse.Store(false)
			fs := <-ran
			if st := fs.Tasks[0]; fs.Kind != state.Success || st.Result != 1 {
				t.Errorf("run after the reconnection: %v, wait %v; want Success and 1", fs.State, st)
			}
			if n := g.calls.Load(); n != 2 {
				t.Errorf("the task ran %d times; want 2 (its first answer was lost)", n)
			}
		})
	}
}

// deafAfterStart makes its proxy deaf once the executor's session is
// open.
type deafAfterStart struct {
	runner.Executor
	p *cutProxy
}

func (d deafAfterStart) Start(ctx context.Context) (runner.Session, error) {
	s, err := d.Executor.Start(ctx)
	d.p.deaf.Store(true)
	return s, err
}

// TestBusyWorkerTakesOnlyWhatItRuns: a worker whose slots are all busy
// takes no more jobs, so none waits in it past its ack wait to be
// delivered again (and run twice, or fail as delivered too often).
func TestBusyWorkerTakesOnlyWhatItRuns(t *testing.T) {
	// An ack wait long enough that a loaded machine does not miss the
	// running tasks' heartbeats (a third of it), short enough that a job
	// buffered behind the busy slots would outlive it.
	const tasks, ackWait = 12, time.Second
	var calls atomic.Int32
	build := func() *flow.Flow {
		f := flow.New("busy")
		for i := range tasks {
			flow.Add(f, task.New(fmt.Sprint("t", i), func(context.Context, task.None) (int, error) {
				calls.Add(1)
				time.Sleep(time.Duration(300+600*(i%3)) * time.Millisecond) // up to 1.5 ack waits
				return i, nil
			}))
		}
		return f
	}
	url := startServer(t)
	startWorker(t, url, []*flow.Flow{build()}, natsexec.WithConcurrency(2), natsexec.WithAckWait(ackWait), natsexec.WithMaxDeliveries(1))
	f := build()
	ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(t))
	defer cancel()
	fs, err := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(ackWait))))
	if err != nil {
		t.Fatal(err)
	}
	if fs.Kind != state.Success {
		for i, st := range fs.Tasks {
			t.Logf("%s: %v %v", fs.Graph.Tasks[i].Slug, st, st.Err)
		}
		t.Errorf("run: %v, want Success", fs.State)
	}
	if n := calls.Load(); n != tasks {
		t.Errorf("%d calls for %d task runs: some were delivered again to a busy worker", n, tasks)
	}
}

// TestNoWorkerWarned: task runs that no worker takes make the run say so,
// early (three heartbeats, not an ack wait), at WARN, naming the flow,
// the stream, the subject, the consumer, the NATS server and the command
// that starts a worker. A minute's ack wait makes the grace 3 s.
func TestNoWorkerWarned(t *testing.T) {
	const (
		msg     = "natsexec: waiting for workers: no worker has taken a task run of this flow yet; start workers holding this flow on this NATS server"
		ackWait = time.Minute
	)
	url := startServer(t)
	f := flow.New("alone")
	flow.Add(f, valueTask("v", 1))
	flow.Add(f, valueTask("w", 2))
	var out syncbuf.Buffer
	warned := make(chan struct{})
	logger := slog.New(watchHandler{slog.NewJSONHandler(&out, nil), msg, warned, &sync.Once{}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(ctx, f, runner.WithLogger(logger),
			runner.WithExecutor(natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(ackWait), natsexec.WithWorkerCommand("alone worker"))))
		ran <- fs
	}()
	select {
	case <-warned:
	case <-testwait.Context(t).Done():
		t.Error("no warning while no worker was there")
	}
	cancel()
	<-ran
	r := find(records(t, &out), msg)
	if r == nil || r["stream"] != natsexec.DefaultStream || r["level"] != "WARN" || r["flow"] != "alone" ||
		r["subject"] != natsexec.Subject("alone") || r["consumer"] != natsexec.ConsumerName("alone") ||
		r["server"] != url || r["start_one"] != "alone worker" {
		t.Errorf("the warning: %v", r)
	}
	if w, err := time.ParseDuration(fmt.Sprint(r["waiting_for"])); err != nil || w >= ackWait {
		t.Errorf("the warning came after %v (%v); want it well before the ack wait, %v", r["waiting_for"], err, ackWait)
	}
}

// waitStreamMsgs waits until the stream holds at least n jobs.
func waitStreamMsgs(t *testing.T, url string, n uint64) {
	t.Helper()
	js, err := jetstream.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	// Polled: the stream's state has no event to wait on.
	testwait.Until(t, fmt.Sprintf("the stream holds %d jobs", n), func() bool {
		st, err := js.Stream(context.Background(), natsexec.DefaultStream)
		return err == nil && st.CachedInfo().State.Msgs >= n
	})
}

// waitStreamEmpty waits until the stream holds no job.
func waitStreamEmpty(t *testing.T, url string) {
	t.Helper()
	js, err := jetstream.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	// Polled: the stream's state has no event to wait on.
	testwait.Until(t, "the stream holds no job", func() bool {
		st, err := js.Stream(context.Background(), natsexec.DefaultStream)
		return err == nil && st.CachedInfo().State.Msgs == 0
	})
}

// TestReconnectLeavesQueuedJobs: a reconnection queues nothing again that
// is still in the stream: a job no worker took yet runs once.
func TestReconnectLeavesQueuedJobs(t *testing.T) {
	var calls atomic.Int32
	build := func(worker bool) *flow.Flow {
		f := flow.New("queued")
		flow.Add(f, task.New("once", func(context.Context, task.None) (int, error) {
			if worker {
				calls.Add(1)
			}
			return 1, nil
		}))
		return f
	}
	url := startServer(t)
	p := startCutProxy(t, url)
	nc, err := nats.Connect(p.url(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	back := nc.StatusChanged(nats.CONNECTED)
	f := build(false)
	ran := make(chan *runner.FlowState, 1)
	ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(t))
	defer cancel()
	go func() {
		fs, _ := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(nc, f)))
		ran <- fs
	}()
	waitStreamMsgs(t, url, 1)
	p.cut()
	<-back
	time.Sleep(300 * time.Millisecond) // a requeue, if any, is done by now
	startWorker(t, url, []*flow.Flow{build(true)})
	if fs := <-ran; fs.Kind != state.Success {
		t.Errorf("run: %v", fs.State)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a job never taken ran %d times after the flow program reconnected", n)
	}
}

// TestCancelAfterReconnectIsPrompt: a run cancelled while its connection
// comes and goes again ends at once: nothing waits on the lost connection.
func TestCancelAfterReconnectIsPrompt(t *testing.T) {
	const tasks = 8
	f := flow.New("prompt")
	for i := range tasks {
		flow.Add(f, valueTask(fmt.Sprint("t", i), i))
	}
	url := startServer(t)
	p := startCutProxy(t, url)
	nc, err := nats.Connect(p.url(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	back := nc.StatusChanged(nats.CONNECTED)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan *runner.FlowState, 1)
	go func() {
		fs, _ := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(nc, f)))
		ran <- fs
	}()
	waitStreamMsgs(t, url, tasks)
	p.refuse.Store(true)
	p.cut()
	for nc.IsConnected() {
		time.Sleep(5 * time.Millisecond) // the client's state has no event to wait on here
	}
	p.refuse.Store(false)
	<-back
	p.refuse.Store(true)
	p.cut() // away again at once
	start := time.Now()
	cancel()
	select {
	case fs := <-ran:
		if fs.Kind != state.Cancelled {
			t.Errorf("run: %v, want Cancelled", fs.State)
		}
	case <-time.After(30 * time.Second): // prompt: the bug this guards against stalled it for minutes
		t.Errorf("the run did not end within 30 s of its cancellation")
		<-ran
	}
	t.Logf("ended %v after the cancellation", time.Since(start).Round(time.Millisecond))
	p.refuse.Store(false)
}

// TestServeEndsWhenConsumerDeleted: a busy worker whose consumer is
// deleted finishes its task run and returns an error saying so.
func TestServeEndsWhenConsumerDeleted(t *testing.T) {
	url := startServer(t)
	g := newGate()
	served := make(chan error, 1)
	go func() {
		served <- natsexec.Serve(context.Background(), connect(t, url), []*flow.Flow{g.flow("cdel", true, 3)}, natsexec.WithConcurrency(1))
	}()
	f := g.flow("cdel", false, 3)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(connect(t, url), f)))
		close(ran)
	}()
	defer func() { cancel(); <-ran }()
	<-g.started
	js, err := jetstream.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(context.Background(), natsexec.DefaultStream, natsexec.ConsumerName("cdel")); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "consuming stream") {
			t.Errorf("Serve after its consumer was deleted: %v", err)
		}
	case <-testwait.Context(t).Done():
		t.Fatal("Serve still runs long after its consumer was deleted")
	}
}

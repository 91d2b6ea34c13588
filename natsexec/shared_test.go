package natsexec_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// TestNames: each flow name has a subject token and a consumer name of its
// own, valid for JetStream, whatever characters it holds.
func TestNames(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes, 300 once encoded
	for _, tc := range []struct{ flow, subject, consumer string }{
		{"spread", "prefect.tasks.spread", "prefect-workers-spread"},
		{"etl-daily_2", "prefect.tasks.etl-daily_2", "prefect-workers-etl-daily_2"},
		{"my flow.v2", "prefect.tasks.my~20flow~2Ev2", "prefect-workers-my~20flow~2Ev2"},
		{"a*b>c/d\\e~f%", "prefect.tasks.a~2Ab~3Ec~2Fd~5Ce~7Ef~25", "prefect-workers-a~2Ab~3Ec~2Fd~5Ce~7Ef~25"},
	} {
		if got := natsexec.Subject(tc.flow); got != tc.subject {
			t.Errorf("Subject(%q) = %q, want %q", tc.flow, got, tc.subject)
		}
		if got := natsexec.ConsumerName(tc.flow); got != tc.consumer {
			t.Errorf("ConsumerName(%q) = %q, want %q", tc.flow, got, tc.consumer)
		}
	}
	if got := natsexec.Subject("x", natsexec.WithStream("S", "jobs.here"), natsexec.WithDurable("team-a")); got != "jobs.here.x" {
		t.Errorf("Subject with WithStream: %q", got)
	}
	if got := natsexec.ConsumerName("x", natsexec.WithDurable("team-a")); got != "team-a-x" {
		t.Errorf("ConsumerName with WithDurable: %q", got)
	}
	// Names that the earlier '_' mapping merged, and long names that share
	// their first 100 characters, stay apart.
	names := []string{"a b", "a.b", "a_b", "a*b", "a>b", "a~b", "a~20b", "a", "", long, long + "x", long + "y"}
	seen := map[string]string{}
	for _, n := range names {
		c := natsexec.ConsumerName(n)
		if prev, dup := seen[c]; dup {
			t.Errorf("flows %q and %q share consumer %q", prev, n, c)
		}
		seen[c] = n
		if strings.ContainsAny(c, " \t\r\n\f.*>/\\%") || len(c) > 160 {
			t.Errorf("ConsumerName(%q) = %q: not a valid, short consumer name", n, c)
		}
		if s := natsexec.Subject(n); strings.Count(s, ".") != 2 || strings.ContainsAny(s, " \t\r\n*>") {
			t.Errorf("Subject(%q) = %q: not the prefix and one token", n, s)
		}
	}
}

// TestProgramsShareAServer: two flow programs, one holding "spread" and
// one "other", each with workers of its own, and a third program holding
// both, run their flows at once on one server: every job goes to a worker
// that holds its flow, and nothing fails.
func TestProgramsShareAServer(t *testing.T) {
	url := startServer(t)
	build := func(name string) *flow.Flow {
		f := flow.New(name)
		items := flow.Add(f, valueTask("items", make([]int, 60)))
		flow.Map(f, task.New("where", func(ctx context.Context, _ argX) (string, error) {
			w, ok := natsexec.WorkerName(ctx)
			if !ok {
				return "", errors.New("not on a worker")
			}
			time.Sleep(time.Millisecond) // long enough that no one worker takes it all
			return w, nil
		}), flow.Bind("x", items))
		return f
	}
	for _, w := range []struct {
		name  string
		flows []string
	}{
		{"spread-1", []string{"spread"}},
		{"spread-2", []string{"spread"}},
		{"other-1", []string{"other"}},
		{"both", []string{"spread", "other"}},
	} {
		var flows []*flow.Flow
		for _, name := range w.flows {
			flows = append(flows, build(name))
		}
		startWorker(t, url, flows, natsexec.WithWorkerName(w.name), natsexec.WithConcurrency(2))
	}
	allowed := map[string][]string{"spread": {"spread-1", "spread-2", "both"}, "other": {"other-1", "both"}}
	var wg sync.WaitGroup
	results := map[string]*runner.FlowState{}
	var mu sync.Mutex
	for name := range allowed {
		f := build(name)
		wg.Go(func() {
			fs, err := runner.Run(testwait.Context(t), f, runner.WithExecutor(natsexec.Executor(connect(t, url), f, natsexec.WithSlots(16))))
			if err != nil {
				t.Errorf("Run %s: %v", name, err)
				return
			}
			mu.Lock()
			results[name] = fs
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, fs := range results {
		if fs.Kind != state.Success {
			for i, st := range fs.Tasks {
				t.Logf("%s %s: %v %v", name, fs.Graph.Tasks[i].Slug, st, st.Err)
			}
			t.Errorf("flow %s: %v, want Success", name, fs.State)
			continue
		}
		where, _ := fs.Task("where-1")
		ran, _ := where.Result.([]string)
		if len(ran) != 60 {
			t.Errorf("flow %s: %d mapped results, want 60", name, len(ran))
		}
		count := map[string]int{}
		for _, w := range ran {
			count[w]++
			if !slices.Contains(allowed[name], w) {
				t.Errorf("flow %s: a task run ran on worker %q, which does not hold it", name, w)
			}
		}
		t.Logf("flow %s: %v", name, count)
	}
	js, err := jetstream.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	for name := range allowed {
		c, err := js.Consumer(context.Background(), natsexec.DefaultStream, natsexec.ConsumerName(name))
		if err != nil {
			t.Errorf("consumer of %s: %v", name, err)
			continue
		}
		if got := c.CachedInfo().Config.FilterSubject; got != natsexec.Subject(name) {
			t.Errorf("consumer of %s takes %q, want %q", name, got, natsexec.Subject(name))
		}
	}
}

// logTo returns a logger writing JSON records to b, that closes seen the
// first time it logs msg.
func logTo(b *syncbuf.Buffer, msg string, seen chan struct{}) *slog.Logger {
	return slog.New(watchHandler{slog.NewJSONHandler(b, nil), msg, seen, &sync.Once{}})
}

const (
	servingMsg = "natsexec: worker serving"
	ackWarnMsg = "natsexec: this worker's ack wait is not the one in force for the flow, which the flow program sets (WithAckWait, nats.ack_wait); the worker heartbeats at the pace of the one in force"
)

// TestHeartbeatKeepsItsJob: a worker running a long task keeps its job,
// whatever ack wait another worker of the flow, started meanwhile, was
// given, and whatever it was given itself: the flow program's ack wait is
// the one in force, and each worker heartbeats at its pace. The task
// outlives two of the short ack wait; it runs once.
func TestHeartbeatKeepsItsJob(t *testing.T) {
	const short = time.Second
	for _, tc := range []struct {
		name string
		// The ack waits given to the flow program and to the workers: A,
		// which takes the task, and B, started while it runs (0: the
		// default).
		program, a, b time.Duration
		// Which worker logs that its ack wait is not the one in force.
		warns string
	}{
		{"a worker started later with a short ack wait", 0, 0, short, "B"},
		{"the flow program sets a short ack wait, the worker a long one", short, time.Minute, 0, "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startServer(t)
			var calls atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			build := func() *flow.Flow {
				f := flow.New("long")
				flow.Add(f, task.New("hold", func(context.Context, task.None) (int, error) {
					if calls.Add(1) == 1 {
						close(started)
						<-release
					}
					return 7, nil
				}))
				return f
			}
			worker := func(name string, d time.Duration, logs *syncbuf.Buffer, serving chan struct{}) {
				startWorker(t, url, []*flow.Flow{build()}, natsexec.WithWorkerName(name), natsexec.WithAckWait(d),
					natsexec.WithLogger(logTo(logs, servingMsg, serving)))
			}
			var aLogs, bLogs syncbuf.Buffer
			aServing, bServing := make(chan struct{}), make(chan struct{})
			worker("A", tc.a, &aLogs, aServing)
			<-aServing
			f := build()
			ran := make(chan *runner.FlowState, 1)
			go func() {
				fs, err := runner.Run(testwait.Context(t), f, runner.WithExecutor(natsexec.Executor(connect(t, url), f, natsexec.WithAckWait(tc.program))))
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				ran <- fs
			}()
			select {
			case <-started:
			case <-testwait.Context(t).Done():
				t.Fatal("the task did not start on worker A")
			}
			worker("B", tc.b, &bLogs, bServing)
			<-bServing
			// What the test claims: no delivery again for this long, two
			// of the short ack wait.
			time.Sleep(2*short + short/2)
			close(release)
			fs := <-ran
			if fs == nil || fs.Kind != state.Success || fs.Tasks[0].Result != 7 {
				t.Fatalf("run: %v", fs)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("the task ran %d times: its job was delivered again while worker A ran it", n)
			}
			js, err := jetstream.New(connect(t, url))
			if err != nil {
				t.Fatal(err)
			}
			c, err := js.Consumer(context.Background(), natsexec.DefaultStream, natsexec.ConsumerName("long"))
			if err != nil {
				t.Fatal(err)
			}
			ci := c.CachedInfo()
			want := natsexec.DefaultAckWait
			if tc.program > 0 {
				want = tc.program
			}
			if ci.Config.AckWait != want || ci.Delivered.Consumer != 1 {
				t.Errorf("consumer: ack wait %v, %d deliveries; want the flow program's %v, 1 delivery", ci.Config.AckWait, ci.Delivered.Consumer, want)
			}
			for name, logs := range map[string]*syncbuf.Buffer{"A": &aLogs, "B": &bLogs} {
				r := find(records(t, logs), ackWarnMsg)
				switch {
				case name == tc.warns && (r == nil || r["ack_wait_in_force"] != want.String() || r["level"] != "WARN"):
					t.Errorf("worker %s's warning: %v; want one naming the ack wait in force, %v\nlog:\n%s", name, r, want, logs)
				case name != tc.warns && r != nil:
					t.Errorf("worker %s, whose ack wait is the one in force or not given, warned: %v", name, r)
				}
			}
		})
	}
}

// TestUpgradeDropsSharedConsumer: the consumer that earlier versions made
// for every flow ("prefect-workers" on "prefect.tasks.>"), which on a
// work-queue stream leaves no subject to a flow's own consumer, is deleted
// by the first worker or flow program of this version to come, and the
// run succeeds.
func TestUpgradeDropsSharedConsumer(t *testing.T) {
	for _, first := range []string{"worker", "flow program"} {
		t.Run(first+" first", func(t *testing.T) {
			url := startServer(t)
			js := makeStream(t, connect(t, url))
			if _, err := js.CreateOrUpdateConsumer(context.Background(), natsexec.DefaultStream, jetstream.ConsumerConfig{
				Durable: natsexec.DefaultDurable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: natsexec.DefaultSubjectPrefix + ".>",
			}); err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			serving := make(chan struct{})
			startIt := func() {
				startWorker(t, url, []*flow.Flow{chainOf(2)}, natsexec.WithLogger(logTo(&logs, servingMsg, serving)))
				<-serving
			}
			if first == "worker" {
				startIt()
				if find(records(t, &logs), "natsexec: deleted the consumer of an earlier version of natsexec, which took every flow's task runs; each flow now has a consumer of its own. Workers of the earlier build still running stop: start them from this build") == nil {
					t.Errorf("the worker did not say it deleted the shared consumer:\n%s", &logs)
				}
			}
			f := chainOf(2)
			ran := make(chan *runner.FlowState, 1)
			ex := natsexec.Executor(connect(t, url), f)
			go func() {
				fs, err := runner.Run(testwait.Context(t), f, runner.WithExecutor(ex))
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				ran <- fs
			}()
			if first != "worker" {
				startIt()
			}
			if fs := <-ran; fs == nil || fs.Kind != state.Success {
				t.Errorf("run: %v", fs)
			}
			if _, err := js.Consumer(context.Background(), natsexec.DefaultStream, natsexec.DefaultDurable); !errors.Is(err, jetstream.ErrConsumerNotFound) {
				t.Errorf("the shared consumer of earlier versions: %v, want it deleted", err)
			}
		})
	}
}

// TestAckWaitConfig: the configuration's nats.ack_wait, a duration or a
// number of seconds.
func TestAckWaitConfig(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"", 0, ""},
		{"45s", 45 * time.Second, ""},
		{"2m", 2 * time.Minute, ""},
		{"90", 90 * time.Second, ""},
		{"1.5", 1500 * time.Millisecond, ""},
		{"10ms", 0, "want at least 100ms"},
		{"soon", 0, `nats.ack_wait is "soon"`},
		{"-3", 0, "want a duration"},
	} {
		t.Run(fmt.Sprintf("%q", tc.value), func(t *testing.T) {
			var env []string
			if tc.value != "" {
				env = append(env, "PREFECT__NATS__ACK_WAIT="+tc.value)
			}
			cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := natsexec.AckWait(cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("AckWait: %v, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("AckWait = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

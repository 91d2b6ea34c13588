package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Input structs shared by the tests' tasks.
type (
	argX struct {
		X int `prefect:"x"`
	}
	argXY struct {
		X int `prefect:"x"`
		Y int `prefect:"y"`
	}
	argValues struct {
		Values []int `prefect:"values"`
	}
	argS struct {
		S string `prefect:"s"`
	}
)

// testExecutors are the executors every behaviour runs on.
var testExecutors = []struct {
	name string
	ex   runner.Executor
}{
	{"Local", runner.Local()},
	{"Parallel", runner.Parallel(4)},
}

// eachExecutor runs fn as a subtest once per executor of testExecutors.
func eachExecutor(t *testing.T, fn func(t *testing.T, ex runner.Executor)) {
	t.Helper()
	for _, e := range testExecutors {
		t.Run(e.name, func(t *testing.T) { fn(t, e.ex) })
	}
}

// eachExecutorInBubble is eachExecutor with fn in a synctest bubble: the
// run reads the bubble's clock, so retry delays, timeouts and cache
// lifetimes pass at once and to the nanosecond, however loaded the machine;
// time.Sleep moves the time on between runs.
func eachExecutorInBubble(t *testing.T, fn func(t *testing.T, ex runner.Executor)) {
	t.Helper()
	eachExecutor(t, func(t *testing.T, ex runner.Executor) {
		synctest.Test(t, func(t *testing.T) { fn(t, ex) })
	})
}

// runFlow runs f on ex and fails the test if the run could not start.
func runFlow(t *testing.T, ex runner.Executor, f *flow.Flow, opts ...runner.Option) *runner.FlowState {
	t.Helper()
	fs, err := runner.Run(context.Background(), f, append([]runner.Option{runner.WithExecutor(ex)}, opts...)...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if fs == nil {
		t.Fatal("Run returned a nil FlowState and no error")
	}
	return fs
}

// wantState fails the test unless st has the kind and message given.
func wantState(t *testing.T, what string, st state.State, kind state.Kind, msg string) {
	t.Helper()
	if st.Kind != kind || st.Message != msg {
		t.Errorf("%s: state = %v, want %v", what, st, state.New(kind, msg))
	}
}

// wantKind fails the test unless st has the kind given.
func wantKind(t *testing.T, what string, st state.State, kind state.Kind) {
	t.Helper()
	if st.Kind != kind {
		t.Errorf("%s: state = %v, want kind %v", what, st, kind)
	}
}

// wantResult fails the test unless n succeeded with the result want.
func wantResult[T comparable](t *testing.T, fs *runner.FlowState, n flow.Node[T], want T) {
	t.Helper()
	got, ok := runner.ResultOf(fs, n)
	if !ok || got != want {
		t.Errorf("result of %s = %v (ok %v, state %v), want %v", n.Slug(), got, ok, fs.Of(n), want)
	}
}

// errBoom is the error the failing tasks return.
var errBoom = errors.New("boom")

// valueTask returns a task called name that returns v and counts its calls.
func valueTask[T any](name string, v T, calls *atomic.Int32, opts ...task.Option) *task.Task[task.None, T] {
	return task.New(name, func(context.Context, task.None) (T, error) {
		if calls != nil {
			calls.Add(1)
		}
		return v, nil
	}, opts...)
}

// failingTask returns a task called name that always fails with errBoom.
func failingTask(name string, calls *atomic.Int32, opts ...task.Option) *task.Task[task.None, int] {
	return task.New(name, func(context.Context, task.None) (int, error) {
		if calls != nil {
			calls.Add(1)
		}
		return 0, errBoom
	}, opts...)
}

// skippingTask returns a task called name that ends Skipped.
func skippingTask(name string) *task.Task[task.None, int] {
	return task.New(name, func(context.Context, task.None) (int, error) {
		return 0, task.Skip("skipped on purpose")
	})
}

// double is a task that doubles its input x.
func double(name string, opts ...task.Option) *task.Task[argX, int] {
	return task.New(name, func(_ context.Context, in argX) (int, error) { return 2 * in.X, nil }, opts...)
}

// sumTask adds up its input values.
func sumTask(name string, opts ...task.Option) *task.Task[argValues, int] {
	return task.New(name, func(_ context.Context, in argValues) (int, error) {
		s := 0
		for _, v := range in.Values {
			s += v
		}
		return s, nil
	}, opts...)
}

// recordingClock is a runner.Clock that records what the runner waits for
// on it: After(d) moves its time on by d and returns a channel that has
// already fired. Only the tests of WithClock's contract use it; a test that
// only needs time to pass runs in a synctest bubble (eachExecutorInBubble).
type recordingClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

var _ runner.Clock = (*recordingClock)(nil)

func (c *recordingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *recordingClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// transition is one state change a state handler saw.
type transition struct {
	Old, New state.State
}

func (tr transition) String() string { return tr.Old.String() + " -> " + tr.New.String() }

// transitionLog records the state changes its handler sees; safe for
// concurrent use.
type transitionLog struct {
	mu  sync.Mutex
	all []transition
}

func (l *transitionLog) handler(_ context.Context, old, new state.State) state.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, transition{old, new})
	return new
}

func (l *transitionLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.all))
	for i, tr := range l.all {
		out[i] = tr.Old.Kind.String() + "->" + tr.New.Kind.String()
	}
	return out
}

func (l *transitionLog) transitions() []transition {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]transition(nil), l.all...)
}

// logRecord is one record a recordingHandler received, its attributes
// flattened to "group.key" = value.
type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// logRecorder collects the records of every recordingHandler made from it.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

func (r *logRecorder) logger() *slog.Logger { return slog.New(&recordingHandler{rec: r}) }

func (r *logRecorder) all() []logRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logRecord(nil), r.records...)
}

// recordingHandler is a slog.Handler that keeps every record, at every level.
type recordingHandler struct {
	rec    *logRecorder
	attrs  map[string]string
	prefix string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	m := make(map[string]string, len(h.attrs)+r.NumAttrs())
	for k, v := range h.attrs {
		m[k] = v
	}
	r.Attrs(func(a slog.Attr) bool {
		flattenAttr(m, h.prefix, a)
		return true
	})
	h.rec.mu.Lock()
	h.rec.records = append(h.rec.records, logRecord{Level: r.Level, Msg: r.Message, Attrs: m})
	h.rec.mu.Unlock()
	return nil
}

func (h *recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	m := make(map[string]string, len(h.attrs)+len(attrs))
	for k, v := range h.attrs {
		m[k] = v
	}
	for _, a := range attrs {
		flattenAttr(m, h.prefix, a)
	}
	return &recordingHandler{rec: h.rec, attrs: m, prefix: h.prefix}
}

func (h *recordingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &recordingHandler{rec: h.rec, attrs: h.attrs, prefix: h.prefix + name + "."}
}

func flattenAttr(m map[string]string, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, sub := range a.Value.Group() {
			flattenAttr(m, p, sub)
		}
		return
	}
	if a.Key == "" {
		return
	}
	m[prefix+a.Key] = a.Value.String()
}

// concurrencyMeter measures how many task runs are inside it at once.
type concurrencyMeter struct {
	cur, max atomic.Int32
}

func (m *concurrencyMeter) enter() {
	n := m.cur.Add(1)
	for {
		old := m.max.Load()
		if n <= old || m.max.CompareAndSwap(old, n) {
			return
		}
	}
}

func (m *concurrencyMeter) leave() { m.cur.Add(-1) }

// groupBarrier holds task runs in groups of size, by order of arrival: a run
// waits until size-1 more have arrived. With a limit of size runs at once,
// every group overlaps, so the runs reach the limit for sure, and no group
// waits for a run the limit keeps out (the runs in flight are at most one
// incomplete group plus complete groups, which finish). The number of runs
// must be a multiple of size.
type groupBarrier struct {
	size    int
	mu      sync.Mutex
	arrived int
	gates   []chan struct{}
}

func newGroupBarrier(size, total int) *groupBarrier {
	b := &groupBarrier{size: size, gates: make([]chan struct{}, (total+size-1)/size)}
	for i := range b.gates {
		b.gates[i] = make(chan struct{})
	}
	return b
}

// wait blocks until the caller's group is complete or ctx is done.
func (b *groupBarrier) wait(ctx context.Context) error {
	b.mu.Lock()
	a := b.arrived
	b.arrived++
	if a/b.size >= len(b.gates) {
		b.mu.Unlock()
		return errors.New("more runs arrived at the barrier than it was made for")
	}
	gate := b.gates[a/b.size]
	if (a+1)%b.size == 0 {
		close(gate)
	}
	b.mu.Unlock()
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

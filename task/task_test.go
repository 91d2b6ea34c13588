package task_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// mixedIn exercises every way a field can name, hide or relax an input.
type mixedIn struct {
	A      int    `prefect:"a"`
	Hidden string `prefect:"-"`
	hidden int    //nolint:unused // only its presence matters: unexported fields are not inputs
	B      string // no tag: the field name
	C      []int  `prefect:"c,optional"`
	D      any    `prefect:",optional"` // empty name: the field name, still optional
	R      io.Reader
}

func echo[In any](ctx context.Context, in In) (In, error) { return in, nil }

func TestNewInputs(t *testing.T) {
	tk := task.New("mixed", echo[mixedIn])
	spec := tk.Spec()
	if spec.Err != nil {
		t.Fatalf("Spec().Err = %v", spec.Err)
	}
	want := []task.Input{
		{Name: "a", Type: reflect.TypeFor[int]()},
		{Name: "B", Type: reflect.TypeFor[string]()},
		{Name: "c", Type: reflect.TypeFor[[]int](), Optional: true},
		{Name: "D", Type: reflect.TypeFor[any](), Optional: true},
		{Name: "R", Type: reflect.TypeFor[io.Reader]()},
	}
	if !reflect.DeepEqual(spec.Inputs, want) {
		t.Errorf("Inputs =\n%+v\nwant\n%+v", spec.Inputs, want)
	}
	if spec.Output != reflect.TypeFor[mixedIn]() {
		t.Errorf("Output = %v, want %v", spec.Output, reflect.TypeFor[mixedIn]())
	}
}

func TestNewNoInputs(t *testing.T) {
	tk := task.New("none", func(context.Context, task.None) (task.None, error) { return task.None{}, nil })
	if err := tk.Spec().Err; err != nil {
		t.Fatalf("Spec().Err = %v", err)
	}
	if n := len(tk.Spec().Inputs); n != 0 {
		t.Errorf("a task.None task has %d inputs", n)
	}
	if got, err := tk.Call(context.Background(), nil); err != nil || got != (task.None{}) {
		t.Errorf("Call = %v, %v", got, err)
	}
}

func TestNewDefaults(t *testing.T) {
	tk := task.New("add", func(ctx context.Context, in struct{ X, Y int }) (float64, error) { return 0, nil })
	s := tk.Spec()
	if s.Name != "add" {
		t.Errorf("Name = %q", s.Name)
	}
	if s.Slug != "" {
		t.Errorf("Slug = %q, want empty (the flow chooses one)", s.Slug)
	}
	if s.Trigger.Name() != "all_successful" || !s.Trigger.IsAllSuccessful() {
		t.Errorf("Trigger = %v, want all_successful", s.Trigger)
	}
	if !s.SkipOnUpstreamSkip {
		t.Error("SkipOnUpstreamSkip = false, want true")
	}
	if s.Output != reflect.TypeFor[float64]() {
		t.Errorf("Output = %v, want float64", s.Output)
	}
	if s.MaxRetries != 0 || s.RetryDelay != 0 || s.Timeout != 0 || s.CacheFor != 0 || s.CacheKey != "" ||
		s.Checkpoint != nil || s.RunName != "" || len(s.Tags) != 0 || len(s.StateHandlers) != 0 {
		t.Errorf("a task without options has options set: %+v", s)
	}
	if s.Err != nil {
		t.Errorf("Err = %v", s.Err)
	}
}

func TestNewErrors(t *testing.T) {
	type dupIn struct {
		X int `prefect:"x"`
		Y int `prefect:"x"`
	}
	type dupFieldIn struct {
		X int
		Y int `prefect:"X"`
	}
	tests := []struct {
		name string
		spec *task.Spec
		want []string
	}{
		{"non-struct input", task.New("n", echo[int]).Spec(),
			[]string{`task "n": input type int is not a struct`, "task.None"}},
		{"pointer input", task.New("p", echo[*mixedIn]).Spec(),
			[]string{`task "p": input type *task_test.mixedIn is not a struct`}},
		{"duplicate tag", task.New("d", echo[dupIn]).Spec(),
			[]string{`task "d": input type task_test.dupIn names input "x" twice`}},
		{"tag equal to a field name", task.New("d2", echo[dupFieldIn]).Spec(),
			[]string{`names input "X" twice`}},
		{"no name", task.New("", echo[task.None]).Spec(),
			[]string{"a task needs a name"}},
		{"nil function", task.New[task.None, int]("nil", nil).Spec(),
			[]string{`task "nil" has a nil function`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec.Err == nil {
				t.Fatal("Spec().Err = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(tc.spec.Err.Error(), w) {
					t.Errorf("Spec().Err = %q\nwant it to contain %q", tc.spec.Err, w)
				}
			}
		})
	}
}

func TestNewNonStructHasNoInputs(t *testing.T) {
	tk := task.New("n", echo[string])
	if tk.Spec().Inputs != nil {
		t.Errorf("Inputs = %v, want none", tk.Spec().Inputs)
	}
}

func TestCallBindsByIndex(t *testing.T) {
	tk := task.New("mixed", echo[mixedIn])
	buf := bytes.NewBufferString("r")
	got, err := tk.Call(context.Background(), []any{7, "bee", []int{1, 2}, 3.5, buf})
	if err != nil {
		t.Fatal(err)
	}
	want := mixedIn{A: 7, B: "bee", C: []int{1, 2}, D: 3.5, R: buf}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Call gave %+v, want %+v", got, want)
	}
}

func TestCallNilLeavesZero(t *testing.T) {
	tk := task.New("mixed", echo[mixedIn])
	got, err := tk.Call(context.Background(), []any{nil, "b", nil, nil, nil})
	if err != nil {
		t.Fatal(err)
	}
	if want := (mixedIn{B: "b"}); !reflect.DeepEqual(got, want) {
		t.Errorf("Call gave %+v, want %+v", got, want)
	}
	// Fewer args than inputs leaves the rest zero too.
	got, err = tk.Call(context.Background(), []any{5})
	if err != nil {
		t.Fatal(err)
	}
	if want := (mixedIn{A: 5}); !reflect.DeepEqual(got, want) {
		t.Errorf("Call with one arg gave %+v, want %+v", got, want)
	}
}

func TestCallPassesContextAndError(t *testing.T) {
	type key struct{}
	boom := errors.New("boom")
	tk := task.New("ctx", func(ctx context.Context, _ task.None) (string, error) {
		return ctx.Value(key{}).(string), boom
	})
	got, err := tk.Call(context.WithValue(context.Background(), key{}, "v"), nil)
	if got != "v" || !errors.Is(err, boom) {
		t.Errorf("Call = %v, %v; want v, boom", got, err)
	}
}

func TestCallInputTypeError(t *testing.T) {
	type myInt int
	called := false
	tk := task.New("mixed", func(ctx context.Context, in mixedIn) (int, error) {
		called = true
		return 0, nil
	})
	tests := []struct {
		name      string
		args      []any
		input     string
		want, got reflect.Type
	}{
		{"string for int", []any{"seven"}, "a", reflect.TypeFor[int](), reflect.TypeFor[string]()},
		{"named int for int", []any{myInt(7)}, "a", reflect.TypeFor[int](), reflect.TypeFor[myInt]()},
		{"int64 for int", []any{int64(7)}, "a", reflect.TypeFor[int](), reflect.TypeFor[int64]()},
		{"second input", []any{1, 2}, "B", reflect.TypeFor[string](), reflect.TypeFor[int]()},
		{"slice element type", []any{1, "b", []string{"x"}}, "c", reflect.TypeFor[[]int](), reflect.TypeFor[[]string]()},
		{"not an io.Reader", []any{1, "b", nil, nil, "text"}, "R", reflect.TypeFor[io.Reader](), reflect.TypeFor[string]()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called = false
			_, err := tk.Call(context.Background(), tc.args)
			var ite *task.InputTypeError
			if !errors.As(err, &ite) {
				t.Fatalf("Call error = %v, want a *task.InputTypeError", err)
			}
			if called {
				t.Error("the function ran despite a badly typed input")
			}
			want := task.InputTypeError{Task: "mixed", Input: tc.input, Want: tc.want, Got: tc.got}
			if *ite != want {
				t.Errorf("error = %+v, want %+v", *ite, want)
			}
			msg := fmt.Sprintf("task %q: input %q wants %v but was given %v", "mixed", tc.input, tc.want, tc.got)
			if err.Error() != msg {
				t.Errorf("error text = %q, want %q", err, msg)
			}
		})
	}
}

func TestOptionsSetSpec(t *testing.T) {
	h := func(ctx context.Context, old, new state.State) state.State { return new }
	trig := task.AnyFailed
	tk := task.New("opts", echo[task.None],
		task.WithSlug("my-slug"),
		task.WithTags("db"), task.WithTags("io", "net"),
		task.WithRetryDelay(2*time.Second), task.WithMaxRetries(3), // either order
		task.WithTimeout(time.Minute),
		task.WithTrigger(trig),
		task.WithSkipOnUpstreamSkip(false),
		task.WithCheckpoint(false),
		task.WithCacheFor(time.Hour),
		task.WithCacheKey("shared"),
		task.WithStateHandlers(h, h), task.WithStateHandlers(h),
		task.WithRunName("fetch-{url}"),
	)
	s := tk.Spec()
	if s.Err != nil {
		t.Fatalf("Err = %v", s.Err)
	}
	if s.Slug != "my-slug" {
		t.Errorf("Slug = %q", s.Slug)
	}
	if !reflect.DeepEqual(s.Tags, []string{"db", "io", "net"}) {
		t.Errorf("Tags = %q", s.Tags)
	}
	if s.MaxRetries != 3 || s.RetryDelay != 2*time.Second {
		t.Errorf("retries = %d after %v", s.MaxRetries, s.RetryDelay)
	}
	if s.Timeout != time.Minute {
		t.Errorf("Timeout = %v", s.Timeout)
	}
	if s.Trigger.Name() != "any_failed" {
		t.Errorf("Trigger = %v", s.Trigger)
	}
	if s.SkipOnUpstreamSkip {
		t.Error("SkipOnUpstreamSkip = true")
	}
	if s.Checkpoint == nil || *s.Checkpoint {
		t.Errorf("Checkpoint = %v, want false", s.Checkpoint)
	}
	if s.CacheFor != time.Hour || s.CacheKey != "shared" {
		t.Errorf("cache = %v %q", s.CacheFor, s.CacheKey)
	}
	if len(s.StateHandlers) != 3 {
		t.Errorf("%d state handlers, want 3", len(s.StateHandlers))
	}
	if s.RunName != "fetch-{url}" {
		t.Errorf("RunName = %q", s.RunName)
	}

	r := task.New("r", echo[task.None], task.WithRetries(4, time.Millisecond)).Spec()
	if r.Err != nil || r.MaxRetries != 4 || r.RetryDelay != time.Millisecond {
		t.Errorf("WithRetries(4, 1ms): %d, %v, %v", r.MaxRetries, r.RetryDelay, r.Err)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   []task.Option
		is     error    // a sentinel the error must match, if any
		want   []string // texts the error must contain
		errors int      // how many problems are reported
	}{
		{"max retries without delay", []task.Option{task.WithMaxRetries(2)},
			task.ErrRetryDelayRequired, []string{"task \"t\": A time.Duration `retry_delay` must be provided if max_retries > 0"}, 1},
		{"delay without max retries", []task.Option{task.WithRetryDelay(time.Second)},
			task.ErrMaxRetriesRequired, []string{"task \"t\": A `max_retries` argument greater than 0 must be provided if specifying a retry delay."}, 1},
		{"zero retries with a delay", []task.Option{task.WithRetries(0, time.Second)},
			task.ErrMaxRetriesRequired, nil, 1},
		{"negative max retries", []task.Option{task.WithMaxRetries(-1)},
			nil, []string{`task "t": max_retries is -1; it must be 0 or more`}, 1},
		{"negative retry delay", []task.Option{task.WithRetries(1, -time.Second)},
			nil, []string{`task "t": retry_delay is -1s; it must be 0 or more`}, 1},
		{"negative timeout", []task.Option{task.WithTimeout(-time.Second)},
			nil, []string{`task "t": timeout is -1s; it must be positive, or 0 for none`}, 1},
		{"negative cache_for", []task.Option{task.WithCacheFor(-time.Minute)},
			nil, []string{`task "t": cache_for is -1m0s; it must be positive, or 0 for no caching`}, 1},
		{"empty tag", []task.Option{task.WithTags("ok", "")},
			nil, []string{`task "t": tag 1 is empty`}, 1},
		{"zero trigger", []task.Option{task.WithTrigger(task.Trigger{})},
			nil, []string{`task "t": trigger is not set`}, 1},
		{"nil state handler", []task.Option{task.WithStateHandlers(nil)},
			nil, []string{`task "t": task.WithStateHandlers: handler 0 is nil; pass only non-nil handlers`}, 1},
		{"nil among state handlers", []task.Option{task.WithStateHandlers(func(_ context.Context, _, n state.State) state.State { return n }, nil)},
			nil, []string{`task "t": task.WithStateHandlers: handler 1 is nil`}, 1},
		{"nil WithOnFailure", []task.Option{task.WithOnFailure(nil)},
			nil, []string{`task "t": task.WithOnFailure: the function is nil`}, 1},
		{"several problems at once", []task.Option{task.WithMaxRetries(1), task.WithTimeout(-1), task.WithTags("")},
			task.ErrRetryDelayRequired, []string{"retry_delay", "timeout is -1ns", "tag 0 is empty"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := task.New("t", echo[task.None], tc.opts...).Spec().Err
			if err == nil {
				t.Fatal("Spec().Err = nil, want an error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%q, %q) = false", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q\nwant it to contain %q", err, w)
				}
			}
			n := 1
			var list *multierror.Error
			if errors.As(err, &list) {
				n = len(list.WrappedErrors())
			}
			if n != tc.errors {
				t.Errorf("error reports %d problems, want %d:\n%v", n, tc.errors, err)
			}
		})
	}
}

func TestValidOptionsHaveNoError(t *testing.T) {
	for name, opts := range map[string][]task.Option{
		"retries":             {task.WithRetries(1, 0)},
		"zero timeout":        {task.WithTimeout(0)},
		"zero cache_for":      {task.WithCacheFor(0)},
		"zero max retries":    {task.WithMaxRetries(0)},
		"tags":                {task.WithTags("a", "b")},
		"custom trigger":      {task.WithTrigger(task.NewTrigger("mine", func([]state.State) error { return nil }))},
		"delay then retries":  {task.WithRetryDelay(time.Second), task.WithMaxRetries(1)},
		"checkpoint and more": {task.WithCheckpoint(true), task.WithCacheFor(time.Second), task.WithCacheKey("k")},
	} {
		if err := task.New("t", echo[task.None], opts...).Spec().Err; err != nil {
			t.Errorf("%s: Spec().Err = %v", name, err)
		}
	}
}

func TestCheckpoints(t *testing.T) {
	tests := []struct {
		name       string
		opts       []task.Option
		runDefault bool
		want       bool
	}{
		{"unset follows run (on)", nil, true, true},
		{"unset follows run (off)", nil, false, false},
		{"on overrides run off", []task.Option{task.WithCheckpoint(true)}, false, true},
		{"on with run on", []task.Option{task.WithCheckpoint(true)}, true, true},
		{"off overrides run on", []task.Option{task.WithCheckpoint(false)}, true, false},
		{"off with run off", []task.Option{task.WithCheckpoint(false)}, false, false},
		{"last option wins", []task.Option{task.WithCheckpoint(false), task.WithCheckpoint(true)}, false, true},
		{"a secret task never (run on)", []task.Option{task.WithSecretResult()}, true, false},
		{"a secret task never, even asked", []task.Option{task.WithSecretResult(), task.WithCheckpoint(true)}, true, false},
	}
	for _, tc := range tests {
		s := task.New("t", echo[task.None], tc.opts...).Spec()
		if got := s.Checkpoints(tc.runDefault); got != tc.want {
			t.Errorf("%s: Checkpoints(%v) = %v, want %v", tc.name, tc.runDefault, got, tc.want)
		}
	}
}

func TestSignals(t *testing.T) {
	tests := []struct {
		err  error
		kind state.Kind
		text string
	}{
		{task.Fail("no"), state.Failed, "Failed signal: no"},
		{task.Skip("not today"), state.Skipped, "Skipped signal: not today"},
		{task.Retry("again"), state.Retrying, "Retrying signal: again"},
		{task.Succeed("fine"), state.Success, "Success signal: fine"},
		{task.Pause("wait"), state.Paused, "Paused signal: wait"},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			if tc.err.Error() != tc.text {
				t.Errorf("Error() = %q, want %q", tc.err, tc.text)
			}
			wrapped := []error{
				tc.err,
				fmt.Errorf("step: %w", tc.err),
				fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", tc.err)),
				errors.Join(errors.New("other"), tc.err),
			}
			for _, err := range wrapped {
				sig, ok := task.AsSignal(err)
				if !ok {
					t.Errorf("AsSignal(%q) found no signal", err)
					continue
				}
				if sig.Kind != tc.kind {
					t.Errorf("AsSignal(%q).Kind = %v, want %v", err, sig.Kind, tc.kind)
				}
				if want := strings.TrimPrefix(tc.text, tc.kind.String()+" signal: "); sig.Message != want {
					t.Errorf("AsSignal(%q).Message = %q, want %q", err, sig.Message, want)
				}
			}
		})
	}
}

func TestAsSignalNoSignal(t *testing.T) {
	for _, err := range []error{nil, errors.New("plain"), fmt.Errorf("wrapped: %w", io.EOF)} {
		if sig, ok := task.AsSignal(err); ok || sig != nil {
			t.Errorf("AsSignal(%v) = %v, %v; want nil, false", err, sig, ok)
		}
	}
}

func TestWithOnFailure(t *testing.T) {
	var got []state.State
	tk := task.New("t", echo[task.None], task.WithOnFailure(func(ctx context.Context, failed state.State) {
		got = append(got, failed)
	}))
	hs := tk.Spec().StateHandlers
	if len(hs) != 1 {
		t.Fatalf("WithOnFailure added %d handlers, want 1", len(hs))
	}
	running := state.New(state.Running, "")
	for _, tc := range allKindsForHandler() {
		got = nil
		next := state.New(tc, "msg "+tc.String())
		out := hs[0](context.Background(), running, next)
		if out.Kind != next.Kind || out.Message != next.Message {
			t.Errorf("handler changed %v into %v; it should only observe", next, out)
		}
		fired := len(got) == 1
		if fired != tc.IsFailed() {
			t.Errorf("WithOnFailure on %v fired=%v, want %v", tc, fired, tc.IsFailed())
		}
		if fired && got[0].Message != next.Message {
			t.Errorf("WithOnFailure got %v, want %v", got[0], next)
		}
	}
}

func allKindsForHandler() []state.Kind {
	var ks []state.Kind
	for k := state.Pending; k <= state.Cancelled; k++ {
		ks = append(ks, k)
	}
	return ks
}

// TestTaskReusable checks that one task value can be called concurrently:
// Call must not share the input struct between calls.
func TestTaskReusable(t *testing.T) {
	tk := task.New("sq", func(ctx context.Context, in struct{ X int }) (int, error) { return in.X * in.X, nil })
	done := make(chan error)
	for i := range 8 {
		go func() {
			got, err := tk.Call(context.Background(), []any{i})
			if err == nil && got != i*i {
				err = fmt.Errorf("Call(%d) = %v", i, got)
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

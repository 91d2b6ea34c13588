package runner_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// loadConfig loads a configuration from env alone: no user file.
func loadConfig(t *testing.T, env ...string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatalf("config.Load(%q): %v", env, err)
	}
	return cfg
}

func TestTaskDefaults(t *testing.T) {
	const p = "PREFECT__TASKS__DEFAULTS__"
	tests := []struct {
		env     []string
		want    task.Defaults
		wantErr string // a part of the error; "" for none
	}{
		{env: nil},
		{env: []string{p + "MAX_RETRIES=2", p + "RETRY_DELAY=5"}, want: task.Defaults{MaxRetries: 2, RetryDelay: 5 * time.Second}},
		{env: []string{p + "TIMEOUT=30"}, want: task.Defaults{Timeout: 30 * time.Second}},
		{env: []string{p + "MAX_RETRIES=false", p + "TIMEOUT=false"}},
		{env: []string{p + "MAX_RETRIES=true", p + "RETRY_DELAY=1"}, want: task.Defaults{MaxRetries: 1, RetryDelay: time.Second}},
		{env: []string{p + "RETRY_DELAY=7"}, want: task.Defaults{RetryDelay: 7 * time.Second}},
		{env: []string{p + "MAX_RETRIES=2"}, wantErr: "tasks.defaults.max_retries is 2 but tasks.defaults.retry_delay is not set"},
		{env: []string{p + "MAX_RETRIES=-1", p + "RETRY_DELAY=1"}, wantErr: "tasks.defaults.max_retries is -1; it must be a whole number, 0 or more"},
		{env: []string{p + "MAX_RETRIES=many", p + "RETRY_DELAY=1"}, wantErr: "tasks.defaults.max_retries is many"},
		{env: []string{p + "MAX_RETRIES=1", p + "RETRY_DELAY=1.5"}, wantErr: "tasks.defaults.retry_delay is 1.5; it must be a whole number of seconds"},
		{env: []string{p + "TIMEOUT=-3"}, wantErr: "tasks.defaults.timeout is -3"},
		{env: []string{p + "TIMEOUT=soon"}, wantErr: "tasks.defaults.timeout is soon"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			got, err := runner.TaskDefaults(loadConfig(t, tc.env...))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("TaskDefaults: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("TaskDefaults = %+v, %v; want an error saying %q", got, err, tc.wantErr)
			case tc.wantErr == "" && got != tc.want:
				t.Errorf("TaskDefaults = %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("config file", func(t *testing.T) {
		home := t.TempDir()
		dir := filepath.Join(home, ".prefect")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		toml := "[tasks.defaults]\nmax_retries = 2\nretry_delay = 3\ntimeout = 60\n"
		if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(config.WithEnv(nil), config.WithHome(home))
		if err != nil {
			t.Fatal(err)
		}
		got, err := runner.TaskDefaults(cfg)
		if want := (task.Defaults{MaxRetries: 2, RetryDelay: 3 * time.Second, Timeout: time.Minute}); err != nil || got != want {
			t.Errorf("TaskDefaults = %+v, %v; want %+v", got, err, want)
		}
	})
}

// TestRunTakesTaskDefaults checks that tasks.defaults apply to the tasks
// that set no retries or timeout of their own, and only to those.
func TestRunTakesTaskDefaults(t *testing.T) {
	const p = "PREFECT__TASKS__DEFAULTS__"
	cfg := loadConfig(t, p+"MAX_RETRIES=2", p+"RETRY_DELAY=10", p+"TIMEOUT=60")
	eachExecutorInBubble(t, func(t *testing.T, ex runner.Executor) {
		var plain, noRetries atomic.Int32
		f := flow.New("defaults")
		a := flow.Add(f, failingTask("plain", &plain))
		b := flow.Add(f, failingTask("no-retries", &noRetries, task.WithMaxRetries(0)))
		slow := flow.Add(f, task.New("slow", func(ctx context.Context, _ task.None) (int, error) {
			<-ctx.Done() // the default timeout ends it
			return 0, ctx.Err()
		}))
		own := flow.Add(f, task.New("own-timeout", func(ctx context.Context, _ task.None) (int, error) {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(2 * time.Minute): // past the default, within its own
				return 1, nil
			}
		}, task.WithTimeout(3*time.Minute), task.WithMaxRetries(0)))

		start := time.Now()
		fs := runFlow(t, ex, f, runner.WithConfig(cfg))
		if got := plain.Load(); got != 3 {
			t.Errorf("a task without options ran %d times, want 3 (tasks.defaults.max_retries = 2)", got)
		}
		if took := time.Since(start); took < 20*time.Second {
			t.Errorf("the run took %v; two retries 10s apart take 20s at least", took)
		}
		wantKind(t, "plain", fs.Of(a), state.Failed)
		if got := noRetries.Load(); got != 1 {
			t.Errorf("a task WithMaxRetries(0) ran %d times, want 1", got)
		}
		wantKind(t, "no-retries", fs.Of(b), state.Failed)
		// The default timeout applies on each of its 3 attempts.
		wantKind(t, "slow", fs.Of(slow), state.TimedOut)
		if st := fs.Of(slow); st.RunCount != 3 {
			t.Errorf("slow ran %d times, want 3", st.RunCount)
		}
		wantResult(t, fs, own, 1)
	})

	t.Run("WithTaskDefaults wins", func(t *testing.T) {
		var calls atomic.Int32
		f := flow.New("defaults")
		flow.Add(f, failingTask("plain", &calls))
		runFlow(t, runner.Local(), f, runner.WithConfig(cfg), runner.WithTaskDefaults(task.Defaults{}))
		if got := calls.Load(); got != 1 {
			t.Errorf("ran %d times, want 1: WithTaskDefaults(zero) sets no retries", got)
		}
	})
}

func TestRunRefusesBadTaskDefaults(t *testing.T) {
	f := flow.New("defaults")
	flow.Add(f, failingTask("plain", nil))
	cfg := loadConfig(t, "PREFECT__TASKS__DEFAULTS__MAX_RETRIES=3")
	_, err := runner.Run(context.Background(), f, runner.WithConfig(cfg))
	if !errors.Is(err, runner.ErrInvalidRun) || !errors.Is(err, task.ErrRetryDelayRequired) || !strings.Contains(err.Error(), "tasks.defaults.max_retries is 3") {
		t.Errorf("Run with max_retries and no retry_delay: %v; want ErrInvalidRun naming tasks.defaults.max_retries and wrapping task.ErrRetryDelayRequired", err)
	}
	_, err = runner.Run(context.Background(), f, runner.WithTaskDefaults(task.Defaults{MaxRetries: -1}))
	if !errors.Is(err, runner.ErrInvalidRun) || !strings.Contains(err.Error(), "WithTaskDefaults") {
		t.Errorf("Run WithTaskDefaults(MaxRetries: -1): %v; want ErrInvalidRun naming WithTaskDefaults", err)
	}
}

// TestRunReadsProcessConfig checks that a run without WithConfig takes
// tasks.defaults from the process's configuration (its environment here),
// in a child process whose environment sets them.
func TestRunReadsProcessConfig(t *testing.T) {
	if os.Getenv("RUNNER_TEST_CHILD") == "1" {
		var calls atomic.Int32
		f := flow.New("defaults")
		flow.Add(f, failingTask("plain", &calls))
		if _, err := runner.Run(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		if got := calls.Load(); got != 2 {
			t.Fatalf("ran %d times, want 2 (PREFECT__TASKS__DEFAULTS__MAX_RETRIES=1)", got)
		}
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunReadsProcessConfig$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RUNNER_TEST_CHILD=1", "HOME="+t.TempDir(),
		"PREFECT__TASKS__DEFAULTS__MAX_RETRIES=1", "PREFECT__TASKS__DEFAULTS__RETRY_DELAY=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

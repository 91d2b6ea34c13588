package natsexec_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// TestWorkerTaintsTheTask: a task that fetches a secret on its worker and
// returns a value derived from it (which holds no form of the secret, so
// it may cross the wire) is treated as the runner treats such a task run
// here: in a checkpointing run, neither its result nor that of the task
// downstream of it reaches the result store, unless a task asks.
func TestWorkerTaintsTheTask(t *testing.T) {
	const workerSecret = "worker-only-SECRET-7342"
	for _, optIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithCheckpoint(%v)", optIn), func(t *testing.T) {
			var opts []task.Option
			if optIn {
				opts = append(opts, task.WithCheckpoint(true))
			}
			build := func() *flow.Flow {
				f := flow.New("derive")
				derived := flow.Add(f, task.New("derive", func(ctx context.Context, _ task.None) (string, error) {
					v, err := secrets.Secret("TOKEN").Get(ctx)
					return fmt.Sprintf("DERIVED-%d", len(v.Reveal())), err
				}, opts...))
				flow.Add(f, task.New("use", func(_ context.Context, in struct {
					X string `prefect:"x"`
				}) (string, error) {
					return "USED-" + in.X, nil
				}, opts...), flow.Bind("x", derived))
				return f
			}
			cfg, err := config.Load(config.WithEnv([]string{secrets.EnvVar("TOKEN") + "=" + workerSecret}), config.WithHome(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			url := startServer(t)
			startWorker(t, url, []*flow.Flow{build()}, natsexec.WithConfig(cfg))
			dir := t.TempDir()
			store, err := result.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			f := build()
			fs := run(t, natsexec.Executor(connect(t, url), f), f, runner.WithCheckpointing(true), runner.WithResultStore(store))
			for _, st := range fs.Tasks {
				if st.Kind != state.Success {
					t.Fatalf("task states %v; want Success", fs.Tasks)
				}
			}
			stored := storedText(t, dir)
			for _, want := range []string{"DERIVED-", "USED-"} {
				if got := strings.Contains(stored, want); got != optIn {
					t.Errorf("the result store holds %s: %v, want %v (files: %q)", want, got, optIn, stored)
				}
			}
		})
	}
}

// storedText returns the contents of every file under dir, joined.
func storedText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

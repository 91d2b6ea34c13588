package runner_test

// Taint follows the value: a task that fetches a secret itself, with
// secrets.Secret(...).Get, secrets.Get[T] or secrets.Mask, is treated like a
// task downstream of a secret task. Its result is not checkpointed nor
// cached unless it asks with task.WithCheckpoint(true), and the tasks
// downstream of it are treated the same way. The results here are digests
// of the secret, which the masker cannot recognise: only the taint keeps
// them out of the store.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/result"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

const taintSecret = "taint-s3cr3t-value"

// digest is what the tasks return: computed from the secret, and holding
// none of the forms the masker knows.
func digest(s string) string {
	sum := sha256.Sum256([]byte("salt:" + s))
	return "digest-" + hex.EncodeToString(sum[:8])
}

type digestIn struct {
	D string `prefect:"d"`
}

// storedFiles returns the text of every file under dir.
func storedFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// holding returns the files whose text holds s.
func holding(files map[string]string, s string) []string {
	var out []string
	for p, text := range files {
		if strings.Contains(text, s) {
			out = append(out, p)
		}
	}
	return out
}

func TestTaintFollowsTheValue(t *testing.T) {
	fetchers := []struct {
		name  string
		fetch func(ctx context.Context) (string, error)
	}{
		{"Secret.Get", func(ctx context.Context) (string, error) {
			v, err := secrets.Secret(leakSecretName).Get(ctx)
			return v.Reveal(), err
		}},
		{"Get[T]", func(ctx context.Context) (string, error) {
			return secrets.Get[string](ctx, leakSecretName)
		}},
		{"Mask", func(ctx context.Context) (string, error) {
			// A token the task obtained another way, registered by hand.
			tok := "minted-" + taintSecret
			secrets.Mask(ctx, secrets.NewValue(tok))
			return tok, nil
		}},
		{"Get under a derived context", func(ctx context.Context) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return secrets.Get[string](ctx, leakSecretName)
		}},
	}
	type want struct{ stored bool }
	cases := []struct {
		name string
		// build adds the tasks; it returns the task whose result is
		// looked for, and whether it must be stored.
		build func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool)
	}{
		{"fetching task", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			return flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
				s, err := fetch(ctx)
				return digest(s), err
			})), false
		}},
		{"fetching task that asks for its checkpoint", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			return flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
				s, err := fetch(ctx)
				return digest(s), err
			}, task.WithCheckpoint(true))), true
		}},
		{"cached fetching task", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			return flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
				s, err := fetch(ctx)
				return digest(s), err
			}, task.WithCacheFor(time.Hour))), false
		}},
		{"downstream of a fetching task", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			up := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
				s, err := fetch(ctx)
				return digest(s), err
			}, task.WithCheckpoint(false)))
			mid := flow.Add(f, task.New("mid", func(ctx context.Context, in digestIn) (string, error) {
				return "mid-" + in.D, nil
			}), flow.Bind("d", up))
			return flow.Add(f, task.New("down", func(ctx context.Context, in digestIn) (string, error) {
				return "down-" + in.D, nil
			}), flow.Bind("d", mid)), false
		}},
		{"downstream that asks for its checkpoint", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			up := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
				s, err := fetch(ctx)
				return digest(s), err
			}, task.WithCheckpoint(false)))
			return flow.Add(f, task.New("down", func(ctx context.Context, in digestIn) (string, error) {
				return "down-" + in.D, nil
			}, task.WithCheckpoint(true)), flow.Bind("d", up)), true
		}},
		{"mapped children sharing one fetch", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			// The usual pattern: the first child fetches, the others
			// reuse what it fetched without asking again.
			var once sync.Once
			var tok string
			var ferr error
			list := flow.Add(f, task.New("list", func(ctx context.Context, _ task.None) ([]int, error) {
				return []int{0, 1, 2, 3, 4, 5, 6, 7}, nil
			}))
			return flow.Map(f, task.New("fetch", func(ctx context.Context, in argX) (string, error) {
				once.Do(func() { tok, ferr = fetch(ctx) })
				return digest(tok), ferr
			}), flow.Bind("x", list)), false
		}},
		{"retry after a fetching attempt", func(f *flow.Flow, fetch func(context.Context) (string, error)) (flow.Ref, bool) {
			// The first attempt fetches and fails; the second reuses
			// what the first fetched.
			var tok string
			return flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
				rc, _ := runner.FromContext(ctx)
				if rc.TaskRunCount == 1 {
					var err error
					if tok, err = fetch(ctx); err != nil {
						return "", err
					}
					return "", errors.New("try again")
				}
				return digest(tok), nil
			}, task.WithRetries(1, 0))), false
		}},
	}
	for _, fe := range fetchers {
		for _, c := range cases {
			for _, ex := range leakExecutors {
				t.Run(fe.name+"/"+c.name+"/"+ex.name, func(t *testing.T) {
					f := flow.New("taint")
					plain := flow.Add(f, task.New("plain", func(ctx context.Context, _ task.None) (string, error) {
						return "plain-result", nil
					}))
					ref, wantStored := c.build(f, fe.fetch)
					dir := t.TempDir()
					store, err := result.NewLocal(dir)
					if err != nil {
						t.Fatal(err)
					}
					fs, err := runner.Run(t.Context(), f, runner.WithExecutor(ex.new()),
						runner.WithSecrets(map[string]any{leakSecretName: taintSecret}),
						runner.WithCheckpointing(true), runner.WithResultStore(store))
					if err != nil {
						t.Fatal(err)
					}
					if fs.Kind != state.Success {
						t.Fatalf("flow ended %v: %v", fs.State, fs.Tasks)
					}
					files := storedFiles(t, dir)
					// The run checkpoints: the plain task's result is there.
					if len(holding(files, "plain-result")) == 0 || fs.Of(plain).Location == "" {
						t.Fatalf("plain was not checkpointed: %v", files)
					}
					st := fs.Of(ref)
					results := []string{}
					if st.Kind == state.Mapped {
						for _, c := range st.Children {
							results = append(results, c.Result.(string))
							if !wantStored && c.Location != "" {
								t.Errorf("a child has Location %q; want none", c.Location)
							}
						}
					} else {
						results = append(results, st.Result.(string))
						if wantStored != (st.Location != "") {
							t.Errorf("Location %q; want one: %v", st.Location, wantStored)
						}
					}
					for _, r := range slices.Compact(results) {
						if got := holding(files, r); wantStored != (len(got) > 0) {
							t.Errorf("result %q stored in %v; want stored: %v", r, got, wantStored)
						}
					}
					for p, text := range files {
						if strings.Contains(text, taintSecret) {
							t.Errorf("%s holds the secret: %s", p, text)
						}
					}
				})
			}
		}
	}
}

// fromSecretExecutor runs tasks here, as Local does, and records what
// TaskRun.FromSecret said of each: an executor that sends tasks elsewhere
// must keep those here.
type fromSecretExecutor struct {
	mu   *sync.Mutex
	seen map[string]bool
}

func (e fromSecretExecutor) Start(context.Context) (runner.Session, error) { return e, nil }
func (e fromSecretExecutor) Slots() int                                    { return 1 }
func (e fromSecretExecutor) Close() error                                  { return nil }
func (e fromSecretExecutor) Submit(run *runner.TaskRun) {
	e.mu.Lock()
	e.seen[run.Slug()] = run.FromSecret()
	e.mu.Unlock()
	run.Execute()
}

// A task downstream of one that fetched a secret may receive it: an
// executor is told so (TaskRun.FromSecret), as for a task downstream of a
// secret task.
func TestTaintReachesExecutors(t *testing.T) {
	f := flow.New("taint-exec")
	fetch := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
		s, err := secrets.Get[string](ctx, leakSecretName)
		return "Bearer " + s, err
	}))
	use := flow.Add(f, task.New("use", func(ctx context.Context, in digestIn) (string, error) {
		return in.D, nil
	}), flow.Bind("d", fetch))
	flow.Add(f, task.New("after", func(ctx context.Context, in digestIn) (int, error) {
		return len(in.D), nil
	}), flow.Bind("d", use))
	flow.Add(f, task.New("apart", func(ctx context.Context, _ task.None) (int, error) { return 1, nil }))
	ex := fromSecretExecutor{mu: &sync.Mutex{}, seen: map[string]bool{}}
	fs, err := runner.Run(t.Context(), f, runner.WithExecutor(ex),
		runner.WithSecrets(map[string]any{leakSecretName: taintSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if fs.Kind != state.Success {
		t.Fatalf("flow ended %v", fs.State)
	}
	want := map[string]bool{"fetch-1": false, "use-1": true, "after-1": true, "apart-1": false}
	for slug, w := range want {
		if got, ok := ex.seen[slug]; !ok || got != w {
			t.Errorf("TaskRun.FromSecret() of %s = %v, want %v", slug, got, w)
		}
	}
}

// taintingExecutor calls each task "elsewhere" (Start, Complete with the
// result of a call made here) and reports that the tasks named in tainted
// were handed a secret there.
type taintingExecutor struct{ tainted map[string]bool }

func (e taintingExecutor) Start(context.Context) (runner.Session, error) { return e, nil }
func (e taintingExecutor) Slots() int                                    { return 1 }
func (e taintingExecutor) Close() error                                  { return nil }
func (e taintingExecutor) Submit(run *runner.TaskRun) {
	if !run.Start() {
		return
	}
	out := "remote-" + run.Slug()
	if e.tainted[run.Slug()] {
		run.Taint()
	}
	run.Complete(out, nil)
}

// An executor that calls tasks elsewhere reports a task handed a secret
// there with TaskRun.Taint: it is then not checkpointed, and neither are
// the tasks downstream of it.
func TestTaintFromAnExecutor(t *testing.T) {
	f := flow.New("taint-remote")
	fetch := flow.Add(f, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) { return "", nil }))
	down := flow.Add(f, task.New("down", func(ctx context.Context, in digestIn) (string, error) { return "", nil }), flow.Bind("d", fetch))
	apart := flow.Add(f, task.New("apart", func(ctx context.Context, _ task.None) (string, error) { return "", nil }))
	fs, err := runner.Run(t.Context(), f, runner.WithExecutor(taintingExecutor{map[string]bool{"fetch-1": true}}),
		runner.WithCheckpointing(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref    flow.Ref
		stored bool
	}{{fetch, false}, {down, false}, {apart, true}} {
		st := fs.Of(c.ref)
		if st.Kind != state.Success || (st.Location != "") != c.stored {
			t.Errorf("%v ended %v at %q; want Success, stored: %v", c.ref, st, st.Location, c.stored)
		}
	}
}

// A task that runs a flow of its own, in which a task fetches a secret, is
// tainted too: the value may reach its result through the inner run's.
func TestTaintCrossesNestedRuns(t *testing.T) {
	inner := flow.New("inner")
	innerFetch := flow.Add(inner, task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
		s, err := secrets.Get[string](ctx, leakSecretName)
		return digest(s), err
	}))
	outer := flow.New("outer")
	wrap := flow.Add(outer, task.New("wrap", func(ctx context.Context, _ task.None) (string, error) {
		fs, err := runner.Run(ctx, inner, runner.WithSecrets(map[string]any{leakSecretName: taintSecret}))
		if err != nil {
			return "", err
		}
		d, _ := runner.ResultOf(fs, innerFetch)
		return "wrapped-" + d, nil
	}))
	plain := flow.Add(outer, task.New("plain", func(ctx context.Context, _ task.None) (string, error) { return "p", nil }))
	fs, err := runner.Run(t.Context(), outer, runner.WithCheckpointing(true))
	if err != nil {
		t.Fatal(err)
	}
	if st := fs.Of(wrap); st.Kind != state.Success || st.Location != "" {
		t.Errorf("wrap ended %v at %q; want Success, not stored", st, st.Location)
	}
	if st := fs.Of(plain); st.Location == "" {
		t.Errorf("plain was not stored: %v", st)
	}
}

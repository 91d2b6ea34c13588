// Package gobuild builds Go packages into binaries for tests that run them
// as processes: the prefect command, flow programs, examples.
//
//	bin := gobuild.Build(t, "../../examples/deploy", "deploy") // removed when t ends
//
// or, for a binary many tests of a process share:
//
//	var spread = gobuild.NewOnce(".", "spread")
//	func TestMain(m *testing.M) { code := m.Run(); spread.Remove(); os.Exit(code) }
//	... bin := spread.Path(t)
package gobuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds one build: a cold cache on a small machine takes a
// minute or two for the biggest binaries here.
const buildTimeout = 5 * time.Minute

// Build builds the package pkg (as `go build` takes it, relative to the
// test's directory) into a binary called name in a folder removed when tb
// ends, and returns its path. A failed build fails tb with its output.
func Build(tb testing.TB, pkg, name string) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), name)
	if err := build(pkg, bin); err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Once is a binary built at most once per test process, for all its tests
// and benchmarks. Make it with NewOnce, as a package variable; call Remove
// from TestMain once the tests ran.
type Once struct {
	pkg, name string
	once      sync.Once
	dir, bin  string
	err       error
}

// NewOnce returns a binary of pkg called name, not built yet.
func NewOnce(pkg, name string) *Once { return &Once{pkg: pkg, name: name} }

// Path builds the binary the first time it is asked for and returns its
// path; a failed build fails tb (and every later caller) with its output.
func (o *Once) Path(tb testing.TB) string {
	tb.Helper()
	o.once.Do(func() {
		if o.dir, o.err = os.MkdirTemp("", "prefect-test-"+o.name+"-"); o.err != nil {
			return
		}
		o.bin = filepath.Join(o.dir, o.name)
		o.err = build(o.pkg, o.bin)
	})
	if o.err != nil {
		tb.Fatal(o.err)
	}
	return o.bin
}

// Remove deletes the binary, if it was built.
func (o *Once) Remove() {
	if o.dir != "" {
		os.RemoveAll(o.dir)
	}
}

// build runs `go build -o bin pkg`.
func build(pkg, bin string) error {
	gotool, err := goTool()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gotool, "build", "-o", bin, pkg)
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// goTool finds the go command: on PATH, or in GOROOT.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the go command, which builds the binaries these tests run, is neither on PATH nor in GOROOT")
}

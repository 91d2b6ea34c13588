package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestMain removes the binary the tests built, once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the binary, built once for all the tests of the process.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildBinary builds this command, once per test process, and returns its
// path.
func buildBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		gotool, err := exec.LookPath("go")
		if err != nil {
			built.err = fmt.Errorf("the go command is needed to build the binary: %w", err)
			return
		}
		if built.dir, err = os.MkdirTemp("", "prefect-cli-test-"); err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(built.dir, "prefect")
		if out, err := exec.Command(gotool, "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// startTestServer creates a tenant and an API key with bin, starts the
// server on a loopback port and returns its URL, the key and its data
// folder. The server is stopped with SIGTERM when the test ends, and the
// test fails if it does not stop cleanly.
func startTestServer(t *testing.T, bin string) (url, key, data string) {
	t.Helper()
	data = t.TempDir()
	env := cliEnv(t)
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
	key = strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
	p := startServerOn(t, bin, data, env)
	t.Cleanup(func() { p.stop(t) }) // before startServerOn's kill
	return p.url, key, data
}

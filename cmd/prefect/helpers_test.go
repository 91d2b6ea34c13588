package main

import (
	"github.com/prefect-go/prefect/internal/gobuild"
	"os"
	"strings"
	"testing"
)

// TestMain removes the binaries the tests built, once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	prefectBin.Remove()
	agentFlowsBin.Remove()
	os.Exit(code)
}

// prefectBin is this command, built once for all the tests of the process.
var prefectBin = gobuild.NewOnce(".", "prefect")

// buildBinary builds this command, once per test process, and returns its
// path.
func buildBinary(t testing.TB) string {
	t.Helper()
	return prefectBin.Path(t)
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

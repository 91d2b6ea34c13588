package main

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds this command into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "prefect")
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startTestServer creates a tenant and an API key with bin, starts the
// server on a loopback port and returns its URL, the key and its data
// folder. The server is stopped with SIGTERM when the test ends, and the
// test fails if it does not stop cleanly.
func startTestServer(t *testing.T, bin string) (url, key, data string) {
	t.Helper()
	data = t.TempDir()
	env := cliEnv(t)
	cmd := func(args ...string) (string, string, error) {
		return cliRun(bin, env, append(args, "--data-dir", data)...)
	}
	if _, stderr, err := cmd("server", "create-tenant", "acme"); err != nil {
		t.Fatalf("create-tenant: %v\n%s", err, stderr)
	}
	key, stderr, err := cmd("server", "create-api-key", "--tenant", "acme")
	if err != nil {
		t.Fatalf("create-api-key: %v\n%s", err, stderr)
	}
	key = strings.TrimSpace(key)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv := exec.CommandContext(ctx, bin, "server", "start", "--port", "0", "--data-dir", data)
	srv.Env = env
	srv.WaitDelay = 5 * time.Second
	stderrPipe, err := srv.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cancel()
		_ = srv.Process.Signal(syscall.SIGTERM)
		if err := srv.Wait(); err != nil {
			t.Errorf("the server did not stop cleanly: %v", err)
		}
	})
	addr := regexp.MustCompile(`address=(http://127\.0\.0\.1:\d+)`)
	lines := bufio.NewScanner(stderrPipe)
	for lines.Scan() {
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatal("the server never said where it listens")
	}
	go func() {
		for lines.Scan() { // keep draining the log
		}
	}()
	return url, key, data
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
)

// buildBinary builds this command into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "prefect")
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServerEndToEnd runs the real binary: a tenant and a key are created,
// the server starts on a loopback port, the Go client sets, reads, lists and
// deletes a secret, the database holds no plaintext, and SIGTERM stops the
// server cleanly.
func TestServerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	env := append(os.Environ(), "HOME="+t.TempDir())
	cmd := func(args ...string) (string, string, error) {
		c := exec.Command(bin, append(args, "--data-dir", data)...)
		c.Env = env
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		return out.String(), errOut.String(), err
	}
	if _, stderr, err := cmd("server", "create-tenant", "acme"); err != nil {
		t.Fatalf("create-tenant: %v\n%s", err, stderr)
	}
	key, stderr, err := cmd("server", "create-api-key", "--tenant", "acme")
	if err != nil {
		t.Fatalf("create-api-key: %v\n%s", err, stderr)
	}
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "pgo_") {
		t.Fatalf("the key printed is %q", key)
	}
	if _, _, err := cmd("server", "create-api-key", "--tenant", "nobody"); err == nil {
		t.Errorf("a key for an unknown tenant was created")
	}
	var exitErr *exec.ExitError
	if _, _, err := cmd("server", "frobnicate"); !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Errorf("an unknown subcommand: %v; want exit status 2", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "server", "start", "--port", "0", "--data-dir", data)
	srv.Env = env
	srv.WaitDelay = 5 * time.Second
	stderrPipe, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	addr := regexp.MustCompile(`address=(http://127\.0\.0\.1:\d+)`)
	lines := bufio.NewScanner(stderrPipe)
	url := ""
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

	const value = "plaintext-that-must-not-be-on-disk-42"
	c, err := client.New(url+"/graphql", client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if err := c.SetSecret(ctx, "DB_PASSWORD", value); err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	got, err := c.SecretValue(ctx, "DB_PASSWORD")
	if err != nil || got != value {
		t.Fatalf("SecretValue = %v, %v", got, err)
	}
	names, err := c.SecretNames(ctx)
	if err != nil || len(names) != 1 || names[0] != "DB_PASSWORD" {
		t.Errorf("SecretNames = %v, %v", names, err)
	}
	if _, err := c.SecretValue(ctx, "MISSING"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("a missing secret: %v; want ErrNotFound", err)
	}
	bad, _ := client.New(url, client.WithAPIKey("pgo_wrong"), client.WithRetries(0, 0))
	defer bad.CloseIdleConnections()
	if _, err := bad.SecretValue(ctx, "DB_PASSWORD"); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("a wrong key: %v; want ErrUnauthenticated", err)
	}
	// Nothing on disk holds the value in clear.
	files, _ := filepath.Glob(filepath.Join(data, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the plaintext value", filepath.Base(f))
		}
	}
	if err := c.DeleteSecret(ctx, "DB_PASSWORD"); err != nil {
		t.Errorf("DeleteSecret: %v", err)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Errorf("the server did not stop cleanly on SIGTERM: %v", err)
	}
}

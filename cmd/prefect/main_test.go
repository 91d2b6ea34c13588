package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
)

// TestServerEndToEnd runs the real binary: a tenant and a key are created,
// the server starts on a loopback port, the Go client sets, reads, lists and
// deletes a secret, and the database holds no plaintext. (startTestServer
// checks that SIGTERM stops the server cleanly.)
func TestServerEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	url, key, data := startTestServer(t, bin)
	if !strings.HasPrefix(key, "pgo_") {
		t.Fatalf("the key printed is %q", key)
	}
	run := func(args ...string) error {
		c := exec.Command(bin, args...)
		c.Env = cliEnv(t)
		return c.Run()
	}
	if err := run("server", "create-api-key", "--tenant", "nobody", "--data-dir", data); err == nil {
		t.Errorf("a key for an unknown tenant was created")
	}
	var exitErr *exec.ExitError
	if err := run("server", "frobnicate"); !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Errorf("an unknown subcommand: %v; want exit status 2", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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
}

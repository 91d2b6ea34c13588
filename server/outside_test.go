package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOutsideModule builds and runs testdata/outside, a program of another
// module that serves secrets from a store of its own with nothing but the
// public packages (server, server/seal, orchestration): no package of
// server's API may need an internal one.
func TestOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program of another module")
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "outside", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion, err := exec.Command(gotool, "list", "-m", "-f", "{{.GoVersion}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	mod := "module example.com/outside\n\ngo " + strings.TrimSpace(string(goVersion)) + "\n\n" +
		"require github.com/prefect-go/prefect v0.0.0\n\n" +
		"replace github.com/prefect-go/prefect => " + root + "\n"
	for name, data := range map[string][]byte{"main.go": src, "go.mod": []byte(mod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Offline: every module it needs is this module's, in the module cache.
	cmd := exec.CommandContext(ctx, gotool, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run of a program outside the module: %v\n%s", err, out)
	}
	want := `{"data":{"set_secret":{"success":true}}}` + "\n" + `{"data":{"secret_value":"s3cr3t"}}` + "\n" + "true true\n"
	if string(out) != want {
		t.Errorf("it printed:\n%s\nwant:\n%s", out, want)
	}
}

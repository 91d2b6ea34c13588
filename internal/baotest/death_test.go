//go:build linux

package baotest_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/internal/testwait"
)

// gone reports whether the process pid has ended: no such process, or a
// zombie that its new parent has yet to reap.
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	return strings.Contains(s[strings.LastIndex(s, ")")+1:], " Z ")
}

// A test binary that dies (as go test -timeout makes it, skipping every
// cleanup) leaves neither its server running nor a copy of the binary in
// the temporary folder: the server is killed with it, and the binary is
// kept, checked, in the cache folder for the next run.
func TestDyingTestBinaryLeavesNothing(t *testing.T) {
	if os.Getenv("BAOTEST_CHILD") != "" {
		srv := baotest.Start(t)
		os.Stdout.WriteString("PID " + strconv.Itoa(srv.Pid()) + "\n")
		time.Sleep(time.Hour) // until killed
		return
	}
	if os.Getenv(baotest.EnvBinary) != "" {
		t.Skipf("%s is set: nothing is unpacked", baotest.EnvBinary)
	}
	cache, tmp := t.TempDir(), t.TempDir()
	// A damaged binary left in the cache is replaced.
	if err := os.MkdirAll(filepath.Join(cache, "prefect-go-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "prefect-go-test", "bao-2.5.5"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDyingTestBinaryLeavesNothing$", "-test.v")
	cmd.Env = append(os.Environ(), "BAOTEST_CHILD=1", "XDG_CACHE_HOME="+cache, "TMPDIR="+tmp, "CI=true")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	var lines []string
	for sc := bufio.NewScanner(out); pid == 0 && sc.Scan(); {
		lines = append(lines, sc.Text())
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(p)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if pid == 0 {
		t.Fatalf("the child printed no server PID:\n%s", strings.Join(lines, "\n"))
	}
	t.Cleanup(func() {
		if !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	testwait.Until(t, fmt.Sprintf("the server (PID %d) has ended with the test binary that started it", pid), func() bool { return gone(pid) })

	filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > 1<<20 {
				t.Errorf("the dead test binary left %s (%d bytes) in its temporary folder", path, fi.Size())
			}
		}
		return nil
	})
	b, err := os.ReadFile(filepath.Join(cache, "prefect-go-test", "bao-2.5.5"))
	if err != nil {
		t.Fatalf("the cache holds no binary: %v", err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != "fda267ac90e5eededd21ae8d676476e8d62692a8743e10a3181c7b453aff289d" {
		t.Errorf("the cached binary's SHA-256 is %s, not the build's", got)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "prefect-go-test"))
	if len(entries) != 1 {
		t.Errorf("the cache folder holds %d entries; want the binary alone", len(entries))
	}
}

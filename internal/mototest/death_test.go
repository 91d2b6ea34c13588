//go:build linux

package mototest_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/mototest"
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
	s := string(b)
	return strings.Contains(s[strings.LastIndex(s, ")")+1:], " Z ")
}

// A test binary that dies (as go test -timeout makes it, skipping Main's
// Stop) does not leave its server running.
func TestDyingTestBinaryKillsTheServer(t *testing.T) {
	if os.Getenv("MOTOTEST_CHILD") != "" {
		srv, err := mototest.Start(testwait.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("PID " + strconv.Itoa(srv.Pid()) + "\n")
		time.Sleep(time.Hour) // until killed
		return
	}
	if _, err := exec.LookPath(mototest.Program); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDyingTestBinaryKillsTheServer$", "-test.v")
	cmd.Env = append(os.Environ(), "MOTOTEST_CHILD=1")
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
			syscall.Kill(-pid, syscall.SIGKILL) // its group, which it leads
		}
	})
	testwait.Until(t, fmt.Sprintf("the server (PID %d) has ended with the test binary that started it", pid), func() bool { return gone(pid) })
}

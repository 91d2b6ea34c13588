//go:build unix

package agent

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/secrets"
)

// childEnv names the variable that makes the test binary a child process
// of a test instead of running the tests: its value is the mode, and the
// arguments are the mode's. Tests launch the binary itself as a flow run's
// command, so they need no other program.
const childEnv = "GO_AGENT_TEST_CHILD"

// TestMain runs the test binary as a child when childEnv says so; else it
// runs the tests and fails them if any goroutine outlives them: Run
// promises that none of the goroutines it starts outlives it.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode, os.Args[1:]))
	}
	becomeSubreaper()
	goleak.VerifyTestMain(m)
}

// child is the test binary as a flow-run process. Modes:
//
//	env FILE            write the environment to FILE, one entry a line; exit 0
//	exit CODE N         write "line 1" to "line N", stdout and stderr by turns; exit CODE
//	printenv CODE NAME… write the value of each variable NAME, and its base64; exit CODE
//	sleep [PIDFILE]     write "PID" to PIDFILE; sleep
//	spawn PIDFILE       start a grandchild that sleeps, in the same group; write "PID GRANDCHILD_PID"; sleep
//	waitfile PIDFILE FILE  write "PID"; exit 0 once FILE exists
//	agent PIDFILE       run an agent whose one run is "sleep PIDFILE"
//	crash FILE          resolve the secret S, whose value only FILE holds (as if
//	                    from the secret server), print it, then die of a panic
//	                    holding it in another goroutine
func child(mode string, args []string) int {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch mode {
	case "env":
		if err := os.WriteFile(arg(0), []byte(strings.Join(os.Environ(), "\n")), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "exit":
		code, _ := strconv.Atoi(arg(0))
		n, _ := strconv.Atoi(arg(1))
		for i := 1; i <= n; i++ {
			w := os.Stdout
			if i%2 == 0 {
				w = os.Stderr
			}
			fmt.Fprintf(w, "line %d\n", i)
		}
		return code
	case "printenv":
		code, _ := strconv.Atoi(arg(0))
		for _, name := range args[1:] {
			v := os.Getenv(name)
			fmt.Printf("%s is %s (base64 %s)\n", name, v, base64.StdEncoding.EncodeToString([]byte(v)))
		}
		return code
	case "sleep":
		if arg(0) != "" {
			writePIDs(arg(0), os.Getpid())
		}
		time.Sleep(time.Hour)
		return 0
	case "spawn":
		exe, _ := os.Executable()
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), childEnv+"=sleep")

		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		writePIDs(arg(0), os.Getpid(), cmd.Process.Pid)
		time.Sleep(time.Hour)
		return 0
	case "waitfile":
		writePIDs(arg(0), os.Getpid())
		for {
			if _, err := os.Stat(arg(1)); err == nil {
				return 0
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "crash":
		b, err := os.ReadFile(arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		r := secrets.NewResolver(secrets.WithRunSecrets(map[string]any{"S": string(b)}))
		v, err := r.Get(context.Background(), "S")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tok := v.Reveal()
		fmt.Printf("auth failed for token %s (basic %s)\n", tok, base64.StdEncoding.EncodeToString([]byte("user:"+tok)))
		go func() { panic("lost the connection holding " + tok) }()
		time.Sleep(time.Hour)
		return 0
	case "agent":
		f := newFake()
		cmd, env := childCommand("sleep", arg(0))
		f.add(FlowRun{ID: "r1", Command: cmd, Env: env})
		a, err := New(f, WithPollInterval(5*time.Millisecond))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		a.Run(context.Background()) // until killed
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
	return 2
}

// writePIDs writes pids to file in one step (rename), so that a reader
// never sees half of it.
func writePIDs(file string, pids ...int) {
	var b strings.Builder
	for i, pid := range pids {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(strconv.Itoa(pid))
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		panic(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		panic(err)
	}
}

// childCommand returns the command and run environment that make the test
// binary a child in mode with args. (A binary built with -race sleeps a
// second at exit unless GORACE says otherwise.)
func childCommand(mode string, args ...string) ([]string, map[string]string) {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return append([]string{exe}, args...), map[string]string{childEnv: mode, "GORACE": "atexit_sleep_ms=0"}
}

// readPIDs waits for a child to write file and returns the PIDs in it.
// Should the test fail before they end, they are killed when it ends.
func readPIDs(t *testing.T, file string) []int {
	t.Helper()
	var pids []int
	t.Cleanup(func() {
		if t.Failed() {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	eventually(t, "the child writes "+file, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			pids = append(pids, pid)
		}
		return true
	})
	return pids
}

// gone waits until no process has the ID pid: kill(pid, 0) fails with
// ESRCH. The test binary is a subreaper (where the system has them), so a
// killed grandchild is its child: gone reaps it, since a zombie still
// answers kill.
func gone(t *testing.T, pid int) {
	t.Helper()
	eventually(t, fmt.Sprintf("process %d ends", pid), func() bool {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return syscall.Kill(pid, 0) == syscall.ESRCH
	})
}

// alive reports whether a process with ID pid exists.
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// eventually polls cond until it holds (testwait.Until). It is for what
// the test cannot be told of, such as a process ending.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, cond)
}

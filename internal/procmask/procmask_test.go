//go:build unix

package procmask

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The test binary plays the flow-run process when this variable names what
// it is to do.
const childEnv = "PROCMASK_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "send-then-die":
		Send("first-secret", "second-secret", "first-secret", "")
		Send("third\nsecret")
		// What a crashing task leaves behind: the value on stdout, then
		// an abrupt end (no deferred call, no flush of anything).
		os.Stdout.WriteString("auth failed for first-secret")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "inspect":
		Init()
		// The variable is gone and the descriptor is closed on exec.
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, ChildFD, syscall.F_GETFD, 0)
		_, still := os.LookupEnv(EnvVar)
		if errno != 0 || flags&syscall.FD_CLOEXEC == 0 || still {
			os.Stdout.WriteString("not taken up")
			os.Exit(1)
		}
		os.Stdout.WriteString("ok")
		os.Exit(0)
	case "not-a-pipe":
		Send("must-not-be-written")
		os.Exit(0)
	}
	os.Exit(2)
}

// child starts the test binary as a child doing what, with extra as its
// descriptor 3, and returns its output once it has ended.
func child(t *testing.T, what string, extra *os.File) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+what, Env())
	cmd.ExtraFiles = []*os.File{extra}
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.String(), err
}

func TestValuesReachTheParentOfADyingProcess(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	done := make(chan error, 1)
	go func() { done <- Read(r, func(v string) { got = append(got, v) }) }()
	out, err := child(t, "send-then-die", w)
	w.Close()
	if err == nil {
		t.Fatal("the child was to die of SIGKILL")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "first-secret") {
		t.Fatalf("child output %q: the child did not get as far as printing", out)
	}
	want := []string{"first-secret", "second-secret", "third\nsecret"}
	if !slices.Equal(got, want) {
		t.Fatalf("parent read %q, want %q (each once, in order)", got, want)
	}
}

func TestChildTakesUpThePipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := child(t, "inspect", w)
	w.Close()
	if err != nil || out != "ok" {
		t.Fatalf("child: %v, %q", err, out)
	}
}

// A descriptor that is not a pipe (a stale variable, a file the process
// opened) must never receive a value.
func TestNoValueToAFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "fd3")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := child(t, "not-a-pipe", f); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 0 {
		t.Fatalf("the file received %q", b)
	}
}

func TestReadRejectsAnOversizedFrame(t *testing.T) {
	var calls int
	err := Read(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 'x'}), func(string) { calls++ })
	if err == nil || calls != 0 {
		t.Fatalf("Read = %v after %d values; want ErrFrame and none", err, calls)
	}
}

func TestReadKeepsACutValue(t *testing.T) {
	var buf bytes.Buffer
	if err := writeValue(&buf, "whole-value"); err != nil {
		t.Fatal(err)
	}
	if err := writeValue(&buf, "cut-in-the-middle"); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := Read(bytes.NewReader(buf.Bytes()[:buf.Len()-6]), func(v string) { got = append(got, v) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"whole-value", "cut-in-the-"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

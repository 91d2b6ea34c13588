// Package procmask hands the secret values a flow-run process resolves to
// the agent that launched it, so that the agent can mask them in the output
// it captures from the process.
//
// The runner masks every secret it resolves in what the run logs and
// reports. What it cannot mask is what the process writes on its own:
// fmt.Println(token) in a task, log.Fatalf("auth failed for %s", token),
// or the Go runtime's crash report of a goroutine that panicked holding a
// secret. The agent keeps the last lines of that output for the run's final
// state message. It knows the secrets of the environment it passes on, but
// not those the process fetches from the secret server or any other store.
//
// So the agent gives the process one more pipe, named by the environment
// variable [EnvVar], and the process writes each secret value it resolves
// to it before the value reaches any task ([Send]; package secrets does so
// for every value it resolves). A write to a pipe is in the kernel once the
// call returns, so the agent reads every value the process ever held, even
// when the process dies in the middle of printing one; it reads them all
// before it masks the output. A pipe on the same machine was chosen over
// telling the agent the names through the server (which the agent would
// then have to look up, and which covers only the server's secrets), and
// over a supervisor process inside the flow program (one more process per
// run, for what the agent already is).
//
// Values cross from the process to its parent only, which is on the same
// machine and launched it with the same secrets in its environment. Without
// [EnvVar] (a process not launched by an agent), Send does nothing.
package procmask

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
)

// EnvVar names the environment variable holding the number of the file
// descriptor a process writes its secret values to. It is not a Prefect
// configuration key (those begin with PREFECT__).
const EnvVar = "PREFECT_GO_MASK_FD"

// ChildFD is the descriptor the pipe has in the child when it is the first
// of exec.Cmd's ExtraFiles.
const ChildFD = 3

// MaxValue bounds one value on the pipe. The secret server takes values up
// to 256 KiB; a longer one is cut, and its pieces masked, by the reader.
const MaxValue = 1 << 20

var sink struct {
	once sync.Once
	mu   sync.Mutex
	w    *os.File            // nil when there is no pipe, or it broke
	sent map[string]struct{} // values written already; guarded by mu
}

// Init takes up the pipe named by [EnvVar], if any: it marks the descriptor
// close-on-exec, so that programs the process starts neither inherit it nor
// keep it open after the process dies, and removes the variable from the
// environment, so that they do not mistake another descriptor for it. Send
// calls Init; a program calls it first thing to do this before it starts
// anything (program.Main does).
func Init() {
	sink.once.Do(func() {
		v, ok := os.LookupEnv(EnvVar)
		if !ok {
			return
		}
		os.Unsetenv(EnvVar)
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 3 {
			return
		}
		sink.w = openPipe(fd)
		sink.sent = map[string]struct{}{}
	})
}

// Send writes each non-empty value to the launcher's pipe, once per value
// in the life of the process, and returns when the pipe holds it. Without
// a pipe it does nothing. A pipe that fails (the agent died) is dropped.
func Send(values ...string) {
	Init()
	if sink.w == nil {
		return
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, v := range values {
		if sink.w == nil {
			return
		}
		if _, ok := sink.sent[v]; ok || v == "" {
			continue
		}
		if err := writeValue(sink.w, v); err != nil {
			sink.w.Close()
			sink.w = nil
			return
		}
		sink.sent[v] = struct{}{}
	}
}

// writeValue writes one frame: the value's length (4 bytes, big-endian),
// then the value, in one write so that a reader never waits on half a frame
// from a live writer.
func writeValue(w io.Writer, v string) error {
	if len(v) > MaxValue {
		v = v[:MaxValue]
	}
	buf := make([]byte, 4+len(v))
	binary.BigEndian.PutUint32(buf, uint32(len(v)))
	copy(buf[4:], v)
	_, err := w.Write(buf)
	return err
}

// Env returns the variable to set in the child's environment for a pipe
// passed as its first extra file.
func Env() string { return EnvVar + "=" + strconv.Itoa(ChildFD) }

// ErrFrame is returned by Read for a frame longer than MaxValue: the writer
// is not a process of ours.
var ErrFrame = errors.New("procmask: frame longer than MaxValue")

// Read reads values from r (the read end of the pipe) until EOF, calling fn
// with each. A value cut by the writer's death is passed on as far as it
// was written: it is still a secret's beginning. At EOF Read returns nil.
func Read(r io.Reader, fn func(string)) error {
	br := bufio.NewReader(r)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > MaxValue {
			return fmt.Errorf("%w (%d bytes)", ErrFrame, n)
		}
		buf := make([]byte, n)
		k, err := io.ReadFull(br, buf)
		if k > 0 {
			fn(string(buf[:k]))
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
	}
}

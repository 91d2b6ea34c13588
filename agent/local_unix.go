//go:build unix

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prefect-go/prefect/internal/procmask"
	"github.com/prefect-go/prefect/internal/redact"
)

// outputGrace is how long Wait waits, once the process group is dead, for
// the output pipe to close: only a process that left the group can still
// hold it open.
const outputGrace = time.Second

// Launch starts spec.Command; see [LocalLauncher].
func (l LocalLauncher) Launch(ctx context.Context, spec LaunchSpec) (Process, error) {
	if len(spec.Command) == 0 {
		return nil, errors.New("no command to run")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	env := spec.Env
	if env == nil {
		env = []string{} // nil would make exec pass on the agent's environment
	}
	if spec.Dir != "" {
		// A missing directory would fail in the child, where Go reports it
		// as the command's path not being found.
		fi, err := os.Stat(spec.Dir)
		if err != nil {
			return nil, fmt.Errorf("working directory %s: %w", spec.Dir, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("working directory %s is not a directory", spec.Dir)
		}
	}
	path, err := lookPath(spec.Command[0], envValue(env, "PATH"))
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// The secrets the process resolves come back on a pipe of their own
	// (package procmask), so that Tail can mask them.
	mr, mw, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	env = append(slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, procmask.EnvVar+"=")
	}), procmask.Env())
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Command,
		Dir:         spec.Dir,
		Env:         env,
		Stdout:      w, // an *os.File: the child writes to it directly
		Stderr:      w,
		ExtraFiles:  []*os.File{mw}, // descriptor 3, procmask.ChildFD
		SysProcAttr: sysProcAttr(),
	}
	err = cmd.Start()
	w.Close() // the child holds its own copies
	mw.Close()
	if err != nil {
		r.Close()
		mr.Close()
		return nil, err
	}
	lines := l.TailLines
	if lines <= 0 {
		lines = defaultTailLines
	}
	p := &localProcess{
		cmd:    cmd,
		out:    r,
		tail:   newTailBuffer(lines, tailBytes),
		copied: make(chan struct{}),
		masks:  mr,
		masker: redact.New(),
		masked: make(chan struct{}),
	}
	go p.copyOutput()
	go p.readMasks()
	return p, nil
}

type localProcess struct {
	cmd    *exec.Cmd
	out    *os.File // read end of the output pipe
	tail   *tailBuffer
	copied chan struct{}  // closed when copyOutput returns
	masks  *os.File       // read end of the pipe of secret values (procmask)
	masker *redact.Masker // the values read from masks
	masked chan struct{}  // closed when readMasks returns

	mu    sync.Mutex
	ended bool // the process was reaped and its group killed; guarded by mu

	once sync.Once
	exit Exit
	err  error
}

func (p *localProcess) copyOutput() {
	defer close(p.copied)
	io.Copy(p.tail, p.out) // ends at EOF, or when Wait closes p.out
}

// readMasks registers each value the process sends with p.masker, until
// the process and everything it started are gone (EOF) or Wait gives up.
func (p *localProcess) readMasks() {
	defer close(p.masked)
	if procmask.Read(p.masks, p.masker.Add) != nil {
		// A frame no process of ours writes: keep draining, so that a
		// writer never blocks on a full pipe and hangs its run.
		io.Copy(io.Discard, p.masks)
	}
}

func (p *localProcess) Wait() (Exit, error) {
	p.once.Do(func() {
		st, err := p.cmd.Process.Wait()
		p.mu.Lock()
		p.ended = true
		// Kill what the flow left running. The group's ID cannot have
		// been reused yet: a PID is not handed out again while a group
		// of that ID has members, and an empty group ignores the signal.
		killGroup(p.cmd.Process.Pid)
		p.mu.Unlock()
		// Both pipes close when the group is gone. Every value the
		// process sent is in the mask pipe's buffer by now, so a reader
		// that reaches EOF has them all; only a process that left the
		// group, holding a pipe open, makes Wait give up on it.
		t := time.NewTimer(outputGrace)
		expired := false
		for _, done := range []chan struct{}{p.copied, p.masked} {
			if expired {
				break
			}
			select {
			case <-done:
			case <-t.C:
				expired = true
			}
		}
		t.Stop()
		p.out.Close()
		p.masks.Close()
		<-p.copied
		<-p.masked
		if err != nil {
			p.err = err
			return
		}
		p.exit = Exit{Code: st.ExitCode()}
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.exit = Exit{Code: -1, Signal: ws.Signal().String()}
		}
	})
	return p.exit, p.err
}

func (p *localProcess) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return nil // Wait killed the group when the process ended
	}
	return killGroup(p.cmd.Process.Pid)
}

// Tail returns the last lines with every secret value the process sent
// masked. The lines are masked joined, so that a secret spanning lines is
// masked whole.
func (p *localProcess) Tail() []string {
	lines := p.tail.Lines()
	if p.masker.Empty() || len(lines) == 0 {
		return lines
	}
	return strings.Split(p.masker.Redact(strings.Join(lines, "\n")), "\n")
}

// killGroup sends SIGKILL to the process group pgid; a group that no
// longer exists is no error.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// lookPath finds file in the directories of path (a PATH value), as
// exec.LookPath does in the agent's own PATH. A name with a '/' is used as
// it is. Empty entries of path, which would mean the current directory,
// are skipped.
func lookPath(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// envValue returns the value of name in env (KEY=VALUE entries; the last
// one wins, as for exec.Cmd.Env).
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

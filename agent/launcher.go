package agent

import (
	"context"
	"strconv"
)

// A Launcher starts flow-run processes. [LocalLauncher] starts them on this
// machine; a Docker or Kubernetes launcher would start a container or a job
// and satisfy the same two interfaces, without changes to the agent.
type Launcher interface {
	// Launch starts the process spec describes and returns once it has
	// started. ctx bounds the starting only: the process outlives it and
	// ends by itself or through [Process.Kill]. An error means nothing was
	// started (or whatever was is already gone).
	Launch(ctx context.Context, spec LaunchSpec) (Process, error)
}

// A LaunchSpec says what to start for one flow run.
type LaunchSpec struct {
	RunID   string   // the flow run's ID, for names and labels
	Command []string // the argv; Command[0] is looked up in the agent's PATH when it has no '/'
	Dir     string   // working directory; "" is the agent's
	Env     []string // the whole environment, KEY=VALUE each (nothing else is inherited)
}

// A Process is one started flow run. Its methods may be called from
// different goroutines: the agent waits in one and kills from another.
type Process interface {
	// Wait waits for the process to end and returns how it ended. Later
	// calls return the same. The error is for failures to learn the end
	// (a lost container, say), not for a process that failed.
	Wait() (Exit, error)

	// Kill ends the process and everything it started (for LocalLauncher,
	// its process group) at once. Killing a process that has ended is not
	// an error.
	Kill() error

	// Tail returns the last lines the process wrote, stdout and stderr
	// interleaved, oldest first, without line ends; at most a launcher's
	// chosen number. Every line is whole: a line whose beginning the
	// launcher no longer holds is left out, so that a masker sees every
	// secret in full. It may be called at any time, also after Wait.
	//
	// The launcher masks in them every secret value the process resolved,
	// which the agent cannot know: LocalLauncher reads them from a pipe
	// the process writes each value to before any task has it (package
	// secrets does this in every process an agent launches), so that even
	// the output of a process that died mid-write is masked once Wait has
	// returned. A launcher that cannot do this leaves the server's own
	// masking (of the tenant's stored secrets) and the agent's (of the
	// environment's) as the only ones.
	Tail() []string
}

// An Exit is how a process ended.
type Exit struct {
	// Code is the exit code, or -1 when a signal ended the process.
	Code int
	// Signal names the signal that ended the process ("killed",
	// "terminated", as syscall.Signal's String gives), or is "".
	Signal string
}

// Success reports whether the process exited with code 0.
func (e Exit) Success() bool { return e.Code == 0 && e.Signal == "" }

// String returns "exit status 3" or "signal: killed", the words of
// os.ProcessState.
func (e Exit) String() string {
	if e.Signal != "" {
		return "signal: " + e.Signal
	}
	return "exit status " + strconv.Itoa(e.Code)
}

// LocalLauncher starts each flow run as a process on this machine, as
// Prefect 1's local agent does. The zero LocalLauncher is ready to use.
//
// Command[0] without a '/' is looked up in the PATH of the run's own
// environment (LaunchSpec.Env), as Python's subprocess does; a relative
// path with a '/' is taken relative to Dir. The process gets exactly
// LaunchSpec.Env, stdin from /dev/null, and stdout and stderr on one pipe
// whose last lines Tail returns; nothing of it is printed. It also gets a
// second pipe as descriptor 3, named by the variable PREFECT_GO_MASK_FD,
// on which it hands back the secret values it resolves, for Tail to mask.
//
// Each process leads a process group of its own (Setpgid), so that Kill
// reaches everything it started, and when the process ends, whatever it
// left running in its group is killed: a flow run leaves no process
// behind. A process that leaves its group (setsid, or a daemon) escapes
// both. On Linux the process is also killed if the agent dies without
// killing it (Pdeathsig SIGKILL, which reaches that process only, not its
// children). LocalLauncher needs a Unix system; elsewhere Launch fails.
type LocalLauncher struct {
	// TailLines is how many lines Process.Tail returns at most; 0 means 20.
	// Tail looks at the last 64 KiB of output.
	TailLines int
}

const (
	defaultTailLines = 20
	tailBytes        = 64 << 10
)

var _ Launcher = LocalLauncher{}

package agent

import "syscall"

// sysProcAttr puts the process in a group of its own, and has Linux kill it
// when the agent dies. Pdeathsig follows the thread that started the
// process, not the agent's process: Go keeps its threads for the life of
// the program, except that a goroutine that exits while locked to its
// thread (runtime.LockOSThread) ends that thread, which would kill the
// flow runs it started. Nothing in the agent does that.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

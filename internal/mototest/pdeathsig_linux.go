package mototest

import "syscall"

// sysProcAttr puts the server in a process group of its own, so that Stop
// can signal whatever the pyenv shim or the server starts beside the
// Python process it execs into, and has Linux kill it when the test
// binary dies (a timeout's panic skips Main's Stop); the shim execs
// Python in the same process, which keeps the setting. Pdeathsig follows
// the thread that started the process, which Go keeps for the life of the
// program unless a goroutine exits locked to it; nothing here does that.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

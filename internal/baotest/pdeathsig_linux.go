package baotest

import "syscall"

// sysProcAttr has Linux kill the server when the test binary dies: a
// timeout's panic skips the cleanup that stops it. Pdeathsig follows the
// thread that started the process, which Go keeps for the life of the
// program unless a goroutine exits locked to it (runtime.LockOSThread);
// nothing here does that.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

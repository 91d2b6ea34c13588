//go:build unix && !linux

package mototest

import "syscall"

// sysProcAttr puts the server in a process group of its own (see the
// Linux version); only Linux kills a child when its parent dies.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

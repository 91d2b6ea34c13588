//go:build unix && !linux

package agent

import "syscall"

// sysProcAttr puts the process in a group of its own.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

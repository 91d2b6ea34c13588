//go:build !linux

package baotest

import "syscall"

// sysProcAttr is nil: only Linux kills a child when its parent dies.
func sysProcAttr() *syscall.SysProcAttr { return nil }

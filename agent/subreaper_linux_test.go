package agent

import "syscall"

// becomeSubreaper makes the test binary the parent of the processes its
// children orphan, so that gone can reap them: whatever PID 1 is here, it
// may leave zombies, which kill(pid, 0) still finds.
func becomeSubreaper() {
	const prSetChildSubreaper = 36
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

//go:build unix

package procmask

import (
	"os"
	"syscall"
)

// openPipe returns fd as a file if it is an open pipe, else nil: a stale
// variable must not make the process write secrets to whatever file has
// that number.
func openPipe(fd int) *os.File {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "procmask")
}

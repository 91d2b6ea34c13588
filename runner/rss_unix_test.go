//go:build unix

package runner_test

import (
	"runtime"
	"syscall"
)

// peakRSSMiB returns the most memory the test process has held resident so
// far, in MiB (ru_maxrss: KiB on Linux, bytes on Darwin), or 0 if unknown.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	kib := float64(ru.Maxrss)
	if runtime.GOOS == "darwin" {
		kib /= 1024
	}
	return kib / 1024
}

//go:build !unix

package runner_test

// peakRSSMiB returns 0: this system does not say.
func peakRSSMiB() float64 { return 0 }

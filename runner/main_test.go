package runner_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: Run
// promises that none of the goroutines it starts outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

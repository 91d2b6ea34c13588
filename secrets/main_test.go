package secrets_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a lookup leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

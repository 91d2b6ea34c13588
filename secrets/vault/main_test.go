package vault_test

import (
	"testing"

	"github.com/prefect-go/prefect/internal/baotest"
)

// TestMain checks for leaked goroutines and removes the OpenBao binary the
// tests unpacked.
func TestMain(m *testing.M) { baotest.Main(m) }

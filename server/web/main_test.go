package web_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// browser test's chromedp contexts, servers and console reader must all
// end with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

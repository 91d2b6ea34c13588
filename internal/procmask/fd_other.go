//go:build !unix

package procmask

import "os"

// openPipe returns nil: agents launch flow runs locally on Unix only.
func openPipe(int) *os.File { return nil }

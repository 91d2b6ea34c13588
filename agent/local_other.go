//go:build !unix

package agent

import (
	"context"
	"errors"
)

// Launch fails: LocalLauncher needs process groups, which this system lacks.
func (LocalLauncher) Launch(context.Context, LaunchSpec) (Process, error) {
	return nil, errors.New("the local launcher needs a Unix system")
}

// Package envflag parses the --env NAME=VALUE entries of the commands that
// start flow runs, as Prefect 1's agents parse theirs. Package agent
// (agent.ParseEnv, the public name) and package program (a flow program's
// own commands) both use it, so that program need not import agent.
//
//	env, err := envflag.Parse([]string{"REGION=eu", "K=A=B"}) // K is "A=B"
//	if errors.Is(err, envflag.ErrInvalid) { ... } // a usage error
package envflag

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by the errors of [Parse]: a usage
// error, to be reported with the command's usage. Package agent exports it
// as agent.ErrInvalidEnv.
var ErrInvalid = errors.New("invalid environment variable")

// Parse parses --env entries as Prefect 1's agents do: each entry is split
// at its first '=' (K=A=B sets K to "A=B"), and a later entry for the same
// name replaces an earlier one. An entry without '=' (quoted: it has no
// value), with an empty name or with a NUL byte (named, its value not
// shown) is an error matching [ErrInvalid]; every bad entry is reported,
// not only the first.
func Parse(entries []string) (map[string]string, error) {
	env := make(map[string]string, len(entries))
	var errs []error
	for _, e := range entries {
		k, v, ok := strings.Cut(e, "=")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: --env %q has no '=': write it as NAME=VALUE", ErrInvalid, e))
		case k == "":
			errs = append(errs, fmt.Errorf("%w: an --env entry has an empty name (not shown, as its value may be secret): write it as NAME=VALUE", ErrInvalid))
		case strings.IndexByte(e, 0) >= 0:
			errs = append(errs, fmt.Errorf("%w: --env %s=... holds a NUL byte, which no environment can", ErrInvalid, k))
		default:
			env[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return env, nil
}

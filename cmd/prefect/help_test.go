package main

import (
	"strings"
	"testing"
)

// TestHelpEverywhere asks every command and subcommand for help, with -h,
// --help and `prefect help ...`: each prints its usage on stdout, nothing
// on stderr, and exits 0, with no server configured or running (help
// needs none).
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	env := cliEnv(t) // cloud.api at its default: nothing is asked of it
	// Each path, and what its usage line starts with.
	paths := map[string]string{
		"":                      "usage: prefect COMMAND",
		"server":                "usage: prefect server COMMAND",
		"server start":          "usage: prefect server start",
		"server create-tenant":  "usage: prefect server create-tenant NAME",
		"server create-api-key": "usage: prefect server create-api-key --tenant NAME",
		"server list-api-keys":  "usage: prefect server list-api-keys --tenant NAME",
		"server revoke-api-key": "usage: prefect server revoke-api-key ID",
		"server rotate-key":     "usage: prefect server rotate-key",
		"server audit":          "usage: prefect server audit",
		"secrets":               "usage: prefect secrets COMMAND",
		"secrets set":           "usage: prefect secrets set NAME",
		"secrets get":           "usage: prefect secrets get NAME",
		"secrets list":          "usage: prefect secrets list",
		"secrets delete":        "usage: prefect secrets delete NAME",
		"agent":                 "usage: prefect agent COMMAND",
		"agent local":           "usage: prefect agent local COMMAND",
		"agent local start":     "usage: prefect agent local start",
		"run":                   "usage: prefect run --name FLOW",
		"flows":                 "usage: prefect flows COMMAND",
		"flows list":            "usage: prefect flows list",
		"flows schedule":        "usage: prefect flows schedule NAME --on|--off",
		"runs":                  "usage: prefect runs COMMAND",
		"runs list":             "usage: prefect runs list",
		"runs show":             "usage: prefect runs show ID",
		"runs cancel":           "usage: prefect runs cancel ID",
		"runs logs":             "usage: prefect runs logs ID",
	}
	for path, want := range paths {
		words := strings.Fields(path)
		for _, args := range [][]string{
			append(words[:len(words):len(words)], "-h"),
			append(words[:len(words):len(words)], "--help"),
			append([]string{"help"}, words...),
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				out, errOut, err := cliRun(bin, env, args...)
				if err != nil {
					t.Errorf("exit: %v; want 0\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
				}
				if !strings.HasPrefix(out, want) {
					t.Errorf("stdout does not start with %q:\n%s", want, out)
				}
				if errOut != "" {
					t.Errorf("stderr is not empty:\n%s", errOut)
				}
			})
		}
	}
}

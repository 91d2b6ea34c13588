package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelp: -h and --help print the usage to stdout, print nothing to
// stderr, run nothing and exit 0: asking for help is not a mistake. A bad
// flag still exits 2, the usage on stderr.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // contained in stdout
		stderr string // contained in stderr; "" wants it empty
	}{
		{[]string{"-h"}, 0, "usage: secrets", ""},
		{[]string{"--help"}, 0, "usage: secrets", ""},
		{[]string{"-help"}, 0, "usage: secrets", ""},
		{[]string{"--no-such-flag"}, 2, "", "usage: secrets"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if tc.stdout == "" && out.Len() != 0 || !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q, want it to hold %q", out.String(), tc.stdout)
			}
			if tc.stderr == "" && errOut.Len() != 0 || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to hold %q", errOut.String(), tc.stderr)
			}
		})
	}
}

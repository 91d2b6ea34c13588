package server_test

import (
	"context"
	"strings"
	"testing"
)

// A secret stored as text that is itself JSON reaches a run decoded, by
// Prefect's rule (a string that parses as JSON is decoded): the run holds,
// and may print, a value the stored text only contains. The server masks
// that value too, as the run's own masker does.
func TestDecodedSecretTextIsMasked(t *testing.T) {
	forEachSQLStore(t, func(t *testing.T, f *sqlFixture) {
		ctx := context.Background()
		c := runsClient(t, f.srv.URL, f.keyA)
		for _, tc := range []struct {
			name, stored, runSees string
		}{
			// A value pasted with its quotes: '"p4ss..."'.
			{"QUOTED", `"quoted-CANARY-1a2b3c"`, "quoted-CANARY-1a2b3c"},
			// JSON escapes, decoded by the run.
			{"ESCAPED", `"esc-CANARY-\u00e9\u00e8-77"`, "esc-CANARY-éè-77"},
			// A number with blanks around it: the run holds the number.
			{"NUMBER", " 98765432109 ", "98765432109"},
		} {
			if err := c.SetSecret(ctx, tc.name, tc.stored); err != nil {
				t.Fatal(err)
			}
			run, _ := runningRun(t, c, nil, nil, "")
			write := logWriter(t, c, run.ID)
			if got := write("auth failed for " + tc.runSees); strings.Contains(got, tc.runSees) {
				t.Errorf("secret %s stored as %q: the run's %q is stored as %q", tc.name, tc.stored, tc.runSees, got)
			}
		}
	})
}

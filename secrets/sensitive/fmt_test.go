package sensitive_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/secrets/sensitive"
)

// TestUnexportedFieldAllVerbs checks that fmt, which cannot call methods
// through unexported fields, still never reaches the secret with any verb.
func TestUnexportedFieldAllVerbs(t *testing.T) {
	type inner struct{ v sensitive.Value }
	type outer struct {
		in  inner
		p   *inner
		Pub sensitive.Value
	}
	x := outer{in: inner{sensitive.NewValue(leak)}, p: &inner{sensitive.NewValue(leak)}, Pub: sensitive.NewValue(leak)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p", "%t", "%e", "%U"} {
		for _, arg := range []any{x, &x, x.in, &x.in, []inner{x.in}, map[string]inner{"k": x.in}} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, leak) || strings.Contains(out, fmt.Sprintf("%x", leak)) {
				t.Errorf("%s of %T shows the secret: %s", verb, arg, out)
			}
		}
	}
	var found int
	sensitive.Find(x, func(v sensitive.Value) {
		if v.Reveal() == leak {
			found++
		}
	})
	if found != 3 {
		t.Errorf("Find found %d values, want 3", found)
	}
}

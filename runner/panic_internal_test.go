package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/redact"
)

// A PanicError masks, when printed, the secrets registered after it was
// made; its Value is replaced when the run ends (hidePanics).
func TestPanicErrorMasksAtPrintTime(t *testing.T) {
	const tok = "print-time-s3cr3t"
	type creds struct {
		User string
		Key  []byte
	}
	m := redact.New()
	d := &driver{masker: m}
	pe := d.newPanic(creds{"admin", []byte(tok)})
	if _, ok := pe.Value.(creds); !ok {
		t.Fatalf("Value %#v replaced before any secret was known", pe.Value)
	}
	m.Add(tok)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		got := fmt.Sprintf(verb, pe)
		for _, leak := range []string{tok, fmt.Sprintf("%x", tok), strings.Trim(fmt.Sprint([]byte(tok)), "[]"), fmt.Sprintf("%#v", []byte(tok))[len("[]byte{"):20]} {
			if strings.Contains(got, leak) {
				t.Errorf("%s of the PanicError shows %q: %s", verb, leak, got)
			}
		}
		if verb != "%x" && !strings.Contains(got, redact.Marker) {
			t.Errorf("%s of the PanicError = %s; want the secret masked", verb, got)
		}
	}
	if _, ok := pe.Value.(creds); !ok {
		t.Fatalf("Value %#v replaced before the run ended", pe.Value)
	}
	d.hidePanics()
	if got, ok := pe.Value.(string); !ok || strings.Contains(got, tok) {
		t.Errorf("after the run, Value = %#v; want a string with the secret masked", pe.Value)
	}
}

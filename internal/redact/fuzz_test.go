package redact

import (
	"strings"
	"testing"
)

// FuzzRedact registers secret and redacts text with the secret, and one of
// its derived forms, inserted. No form may be left visible. A secret of one
// to eight '*' is part of Marker itself: it is still masked wherever it
// occurs, and the check allows it inside Markers (see visible). Without '*'
// in any form, the result must equal the brute-force masking exactly; with
// one, the mask may only grow.
//
//	go test -fuzz FuzzRedact -fuzztime 30s ./internal/redact/
func FuzzRedact(f *testing.F) {
	for _, seed := range [][2]string{
		{"hunter2", "password=; retry"},
		{"a", "banana"},
		{" ", "two words"},
		{"pass", "password123 pass"},
		{`"q"`, `{"k":"\"q\""}`},
		{"é", "\xc3\xa9\xc3"},
		{"\xff", "%FF \ufffd"},
		{"*", "a*b**c"},
		{"**", "***"},
		{Marker, Marker + "*"},
		{"*********", "********"},
		{"*x", "xxxx"},
		{"x*", "xx*x"},
		{"**x**", "*x*"},
		{"$%", "100%$"},
		{"0", "0000"},
		{strings.Repeat("ab", 40), strings.Repeat("ba", 60)},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, secret, text string) {
		if secret == "" {
			return // Add ignores it
		}
		m := New()
		m.Add(secret)
		forms := wantForms(secret)
		k := len(text) / 2
		in := text[:k] + secret + text[k:] + " " + forms[len(text)%len(forms)]
		out := m.Redact(in)
		for _, f := range forms {
			if visible(out, f) {
				t.Fatalf("Redact(%q) = %q: form %q visible", in, out, f)
			}
		}
		star := false
		for _, f := range forms {
			star = star || strings.Contains(f, "*")
		}
		if naive := naiveRedact(in, forms); !star && out != naive {
			t.Fatalf("Redact(%q) = %q, want %q", in, out, naive)
		}
		if again := m.Redact(out); again != out {
			t.Fatalf("Redact(%q) = %q, then %q", in, out, again)
		}
		if !m.Contains(in) {
			t.Fatalf("Contains(%q) = false", in)
		}
		checkCovers(t, m, in)
	})
}

package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzRedact registers secret, then, for every form of it (computed by
// wantForms from the standard library's encoders, not by forms()), redacts
// prefix+form+suffix: no form may be left visible. It also redacts base64
// of prefix+secret+suffix, in both alphabets, padded and not, where the
// characters that stand for the secret alone must be masked (for a secret
// of 5 bytes or more). A secret of one to eight '*' is part of Marker
// itself: it is still masked wherever it occurs, and the check allows it
// inside Markers (see visible). Without '*' in any form, the result must
// equal the brute-force masking exactly; with one, the mask may only grow.
//
//	go test -run '^$' -fuzz FuzzRedact -fuzztime 60s ./internal/redact/
func FuzzRedact(f *testing.F) {
	for _, seed := range [][3]string{
		{"hunter2", "password=", "; retry"},
		{"a", "ban", "ana"},
		{" ", "two", "words"},
		{"pass", "password123 ", "pass"},
		{`"q"`, `{"k":"\"`, `q\""}`},
		{"é", "\xc3", "\xa9\xc3"},
		{"\xff", "%FF ", "\ufffd"},
		{"*", "a*b", "**c"},
		{"**", "*", "**"},
		{Marker, "", Marker + "*"},
		{"*********", "", "********"},
		{"*x", "x", "xxx"},
		{"x*", "xx", "*x"},
		{"**x**", "*", "x*"},
		{"$%", "100", "%$"},
		{"0", "00", "00"},
		{"naïve 🙂\u2028", "user:", "\x7f"},
		{"s3cr3t-t0ken", "admin:", ""},
		{"-----BEGIN KEY-----\r\nMIIBOgIBAAJBAKj34GkxFhD90vcN\r\n-----END KEY-----\n", "key=", "\n"},
		{"\xfb\xff\xbf\xfb\xff", "\x00", "\xff\xff"},
		{strings.Repeat("ab", 40), strings.Repeat("ba", 30), "b"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	encodings := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
	f.Fuzz(func(t *testing.T, secret, prefix, suffix string) {
		if secret == "" {
			return // Add ignores it
		}
		if len(secret) > 256 || len(prefix)+len(suffix) > 256 {
			// Each form is checked against each: a secret of many short
			// lines has thousands. Longer values find nothing new.
			return
		}
		m := New()
		m.Add(secret)
		forms := wantForms(secret)
		star := false
		for _, f := range forms {
			star = star || strings.Contains(f, "*")
		}
		check := func(in string) {
			t.Helper()
			out := m.Redact(in)
			for _, f := range forms {
				if visible(out, f) {
					t.Fatalf("secret %q: Redact(%q) = %q: form %q visible", secret, in, out, f)
				}
			}
			if naive := naiveRedact(in, forms); !star && out != naive {
				t.Fatalf("secret %q: Redact(%q) = %q, want %q", secret, in, out, naive)
			}
			if again := m.Redact(out); again != out {
				t.Fatalf("secret %q: Redact(%q) = %q, then %q", secret, in, out, again)
			}
			checkCovers(t, m, in)
		}
		for _, f := range forms {
			in := prefix + f + suffix
			if !m.Contains(in) {
				t.Fatalf("secret %q: Contains(%q) = false", secret, in)
			}
			check(in)
		}
		if len(secret) < minEmbedded {
			return
		}
		for _, enc := range encodings {
			text := enc.EncodeToString([]byte(prefix + secret + suffix))
			run := stableRun(enc, prefix, secret, suffix)
			if out := m.Redact(text); strings.Contains(out, run) {
				t.Fatalf("secret %q: Redact(%q) = %q: %q, which stands for the secret alone, visible",
					secret, text, out, run)
			}
			check(text)
		}
	})
}

package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

func ExampleMasker_Redact_basicAuth() {
	m := New()
	m.Add("s3cr3t-t0ken")
	header := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cr3t-t0ken"))
	fmt.Println(header)
	fmt.Println(m.Redact(header))
	// Output:
	// Authorization: Basic YWRtaW46czNjcjN0LXQwa2Vu
	// Authorization: Basic YWRtaW46********
}

// wantForms is the list of forms Add must register for v, computed here
// from the standard library's encoders (and fmt's), independently of
// forms().
func wantForms(v string) []string {
	b := []byte(v)
	goJSON := func(escapeHTML bool) string {
		var w strings.Builder
		enc := json.NewEncoder(&w)
		enc.SetEscapeHTML(escapeHTML)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		out := strings.TrimSuffix(w.String(), "\n")
		return out[1 : len(out)-1]
	}
	plain := goJSON(false)
	q := strconv.Quote(v)
	qa := strconv.QuoteToASCII(v)
	all := []string{
		v,
		base64.StdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(v),
		url.PathEscape(v),
		url.User(v).String(),
		goJSON(true),
		plain,
		pythonJSON(plain),
		upperEscapes(pythonJSON(plain)),
		minimalJSON(plain),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		q[1 : len(q)-1],
		qa[1 : len(qa)-1],
		strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(b), "["), "]"),
		strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", b), "[]byte{"), "}"),
		fmt.Sprintf("% x", b),
		fmt.Sprintf("% X", b),
	}
	if len(b) >= 5 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for a := range 3 {
				all = append(all, stableRun(enc, strings.Repeat("\x00", a), v, ""))
			}
		}
	}
	if strings.Contains(v, "\n") || strings.HasSuffix(v, "\r") {
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimSuffix(line, "\r")
			if len(line) >= 4 && strings.TrimSpace(line) != "" {
				all = append(all, wantForms(line)...)
			}
		}
	}
	var out []string
	for _, f := range all {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// stableRun returns the characters of enc's encoding of prefix+secret+suffix
// that stand for bits of secret alone: character i stands for bits 6i to
// 6i+5 of the text.
func stableRun(enc *base64.Encoding, prefix, secret, suffix string) string {
	e := enc.EncodeToString([]byte(prefix + secret + suffix))
	first, end := 8*len(prefix), 8*(len(prefix)+len(secret))
	var run []byte
	for i := range len(e) {
		if 6*i >= first && 6*i+6 <= end {
			run = append(run, e[i])
		}
	}
	return string(run)
}

// escapes calls f for each escape (a backslash and what follows it) and
// each other rune of the JSON string body s, and joins what f returns.
func mapEscapes(s string, f func(esc string) string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		n := 1
		switch {
		case s[i] == '\\' && s[i+1] == 'u':
			n = 6
		case s[i] == '\\':
			n = 2
		}
		b.WriteString(f(s[i : i+n]))
		i += n
	}
	return b.String()
}

// pythonJSON turns the body encoding/json wrote without HTML escaping into
// the one Python's json.dumps writes: DEL and non-ASCII as \u escapes, with
// surrogate pairs.
func pythonJSON(goBody string) string {
	var b strings.Builder
	for _, r := range goBody {
		switch {
		case r == 0x7f:
			b.WriteString(`\u007f`)
		case r < 0x80:
			b.WriteRune(r)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		}
	}
	return b.String()
}

// upperEscapes writes the hex digits of every \u escape in upper case.
func upperEscapes(body string) string {
	return mapEscapes(body, func(esc string) string {
		if strings.HasPrefix(esc, `\u`) {
			return `\u` + strings.ToUpper(esc[2:])
		}
		return esc
	})
}

// minimalJSON undoes the escapes encoding/json adds beyond JSON's own:
// U+2028, U+2029 and U+FFFD (for invalid UTF-8) stay as they are.
func minimalJSON(goBody string) string {
	return mapEscapes(goBody, func(esc string) string {
		switch esc {
		case `\u2028`, `\u2029`, `\ufffd`:
			r, _ := strconv.ParseUint(esc[2:], 16, 32)
			return string(rune(r))
		}
		return esc
	})
}

// TestForms has a row for each form forms() makes, with a secret whose form
// no other encoder makes, so that dropping a form fails its row.
func TestForms(t *testing.T) {
	basic := func(enc *base64.Encoding, prefix, secret string) string {
		return stableRun(enc, prefix, secret, "!")
	}
	// \xfb\xff make '+' and '/' in standard base64, '-' and '_' in URL.
	const ones = "\xfb\xff\xbf\xfb\xff\xbf\xfb"
	tests := []struct {
		name, secret, form string
	}{
		{"value", "hunter2", "hunter2"},
		{"base64", "\xfb\xff", "+/8="},
		{"base64 url", "\xfb\xff", "-_8="},
		{"base64 raw", "\xfb\xff", "+/8"},
		{"base64 raw url", "\xfb\xff", "-_8"},
		{"query escape", "a b/c?", "a+b%2Fc%3F"},
		{"path escape", "a b/c?", "a%20b%2Fc%3F"},
		// A password in a URL's userinfo ("postgres://app:p%40ss=w$rd@db"),
		// as url.URL.String prints it: '@', ':', '/' and '?' escaped, '$',
		// '&', '+', ',', ';' and '=' not.
		{"userinfo escape", "p@ss=w$rd:", "p%40ss=w$rd%3A"},
		{"json html", "x<y>&z", `x\u003cy\u003e\u0026z`},
		{"json", "<é\u2028\x01", "<é\\u2028\\u0001"},
		{"json ascii", "é\x7f", `\u00e9\u007f`},
		{"json ascii surrogates", "🙂", `\ud83d\ude42`},
		{"json ascii upper", "é", `\u00E9`},
		{"json minimal", "\u2028\"", "\u2028\\\""},
		{"hex", "key", "6b6579"},
		{"hex upper", "key", "6B6579"},
		{"go quoted", "é\x01", `é\x01`},
		{"go quoted ascii", "é\x01", `\u00e9\x01`},
		{"byte list", "Su", "83 117"},
		{"byte list go syntax", "Su", "0x53, 0x75"},
		{"spaced hex", "key", "6b 65 79"},
		{"spaced hex upper", "\xab\xcd", "AB CD"},
		{"embedded base64 0", ones, basic(base64.StdEncoding, "", ones)},
		{"embedded base64 1", ones, basic(base64.StdEncoding, "x", ones)},
		{"embedded base64 2", ones, basic(base64.StdEncoding, "xy", ones)},
		{"embedded base64 url 0", ones, basic(base64.URLEncoding, "", ones)},
		{"embedded base64 url 1", ones, basic(base64.URLEncoding, "x", ones)},
		{"embedded base64 url 2", ones, basic(base64.URLEncoding, "xy", ones)},
		{"line", "-----BEGIN-----\r\nMIIBOg\r\n-----END-----\n", "MIIBOg"},
		{"line's form", "-----BEGIN-----\nMIIBOg\n-----END-----", "TUlJQk9n"},
		{"trailing CR", "crlf-value\r", "crlf-value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forms(tt.secret)
			if got[0] != tt.secret {
				t.Errorf("first form = %q, want the value", got[0])
			}
			if !slices.Contains(got, tt.form) {
				t.Errorf("forms(%q) = %q: missing %q", tt.secret, got, tt.form)
			}
			if !slices.Contains(wantForms(tt.secret), tt.form) {
				t.Errorf("the test's own wantForms(%q) lacks %q", tt.secret, tt.form)
			}
			m := New()
			m.Add(tt.secret)
			if in, out := "<"+tt.form+">", m.Redact("<"+tt.form+">"); out != "<"+Marker+">" {
				t.Errorf("Redact(%q) = %q", in, out)
			}
		})
	}
	for _, v := range testValues() {
		got, want := forms(v), wantForms(v)
		slices.Sort(want)
		got = slices.Compact(slices.Sorted(slices.Values(got)))
		if !slices.Equal(got, want) {
			t.Errorf("forms(%.40q):\n got %.300q\nwant %.300q", v, got, want)
		}
	}
}

// TestFormsLeftOut: what forms() leaves out on purpose.
func TestFormsLeftOut(t *testing.T) {
	tests := []struct {
		name, secret, notForm string
	}{
		{"short line", "-----BEGIN-----\nabc\n-----END-----", "abc"},
		{"blank line", "-----BEGIN-----\n      \n-----END-----", "      "},
		{"line end", "-----BEGIN-----\r\nabcd\r\n-----END-----", "abcd\r"},
		{"base64 run of a short secret", "\xfb\xff\xbf\xfb", basicRun("x", "\xfb\xff\xbf\xfb")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forms(tt.secret); slices.Contains(got, tt.notForm) {
				t.Errorf("forms(%q) holds %q", tt.secret, tt.notForm)
			}
		})
	}
}

func basicRun(prefix, secret string) string {
	return stableRun(base64.StdEncoding, prefix, secret, "!")
}

// TestEmbeddedBase64 masks base64 of text holding a secret, with prefixes
// and suffixes of every length 0 to 5 (every alignment, with and without
// padding), in both alphabets, padded and not: the characters that stand
// for the secret alone must all be masked.
func TestEmbeddedBase64(t *testing.T) {
	fill := []string{"\x00\x00\x00\x00\x00", "\xff\xff\xff\xff\xff", "user:", "Bearer"[:5], "\xfb\xef\xbe\x10\x41"}
	encodings := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
	for _, secret := range []string{"hunt2", "hunter2", "s3cr3t-t0ken", "\xfb\xff\xbf\xfb\xff\xbf\xfb", "naïve 🙂 token", strings.Repeat("xyz", 40)} {
		m := New()
		m.Add(secret)
		for pl := range 6 {
			for sl := range 6 {
				for i, f := range fill {
					prefix, suffix := f[:pl], fill[(i+1)%len(fill)][:sl]
					for _, enc := range encodings {
						text := enc.EncodeToString([]byte(prefix + secret + suffix))
						out := m.Redact("Authorization: Basic " + text + "\n")
						run := stableRun(enc, prefix, secret, suffix)
						if strings.Contains(out, run) || !strings.Contains(out, Marker) {
							t.Fatalf("secret %q in %q+secret+%q: Redact(%q) = %q, which shows %q",
								secret, prefix, suffix, text, out, run)
						}
					}
				}
			}
		}
	}
}

// TestLines: every line of a multi-line secret is masked on its own, in its
// forms too, as a tail of the output would show it.
func TestLines(t *testing.T) {
	key := "-----BEGIN RSA PRIVATE KEY-----\r\n" +
		"MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\r\n" +
		"KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm\r\n" +
		"o3qGy0t6z09AIJtH+5OeRV1be+N4cDYJKffGzDa88vQENZiRm0GRq6a+HPGQMd2k\r\n" +
		"-----END RSA PRIVATE KEY-----\r\n"
	m := New()
	m.Add(key)
	lines := strings.Split(key, "\r\n")
	tail := strings.Join(lines[2:], "\n")
	if out := m.Redact(tail); strings.Contains(out, "KUpRKfFL") || strings.Contains(out, "o3qGy0t6") {
		t.Errorf("Redact(tail) = %q", out)
	}
	js, _ := json.Marshal(lines[3] + "\n" + lines[4])
	if out := m.Redact(string(js)); strings.Contains(out, "o3qGy0t6") {
		t.Errorf("Redact(%s) = %q", js, out)
	}

	// A one-line secret ending in "\r" ($(cat file) of a file saved with
	// CRLF) loses it when its line is split off output: the agent's tail
	// shows "...holding tok", not "tok\r".
	for _, tc := range []struct{ secret, shown string }{
		{"crlf-file-secret-value\r", "crlf-file-secret-value"},
		{"two-carriage-returns\r\r", "two-carriage-returns"},
		{"mid\rdle-and-end\r", "mid\rdle-and-end"},
	} {
		m := New()
		m.Add(tc.secret)
		line := "panic: lost the connection holding " + tc.shown
		if out := m.Redact(line); strings.Contains(out, tc.shown) {
			t.Errorf("secret %q: Redact(%q) = %q", tc.secret, line, out)
		}
		if b64 := base64.StdEncoding.EncodeToString([]byte(tc.shown)); strings.Contains(m.Redact(b64), b64) {
			t.Errorf("secret %q: base64 of %q is not masked", tc.secret, tc.shown)
		}
	}
}

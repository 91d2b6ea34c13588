package redact

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// minEmbedded is the shortest secret whose base64 runs (see base64Runs) are
// registered. Five bytes leave a run of at least six characters at every
// alignment; a secret of four would leave four or five, which random base64
// (digests, keys, images) holds by chance every few megabytes.
const minEmbedded = 5

// minLine is the shortest line of a multi-line secret registered on its own.
// It matches the four bytes below which secrets.Value.RevealAll leaves the
// pieces of a table out: shorter pieces occur everywhere by chance.
const minLine = 4

// forms returns secret and every form Add registers for it, the value first
// and the empty ones left out; the package documentation lists them. This
// is the one place they are made.
func forms(secret string) []string {
	// The forms but those of JSON and Go quoting (most often the value
	// itself, and not written) take about 37 bytes a byte of the value;
	// the lines of a multi-line value as many again.
	size := 40*len(secret) + 64
	if multiLine(secret) {
		size *= 2
	}
	w := formWriter{buf: make([]byte, 0, size), spans: make([][2]int, 0, 32)}
	w.forms(secret)
	return w.done()
}

// forms writes secret's forms to w.
func (w *formWriter) forms(secret string) {
	b := []byte(secret)
	w.value(secret)
	w.buf = base64.StdEncoding.AppendEncode(w.buf, b)
	w.next()
	w.buf = base64.URLEncoding.AppendEncode(w.buf, b)
	w.next()
	w.buf = base64.RawStdEncoding.AppendEncode(w.buf, b)
	w.next()
	w.buf = base64.RawURLEncoding.AppendEncode(w.buf, b)
	w.next()
	w.buf = append(w.buf, url.QueryEscape(secret)...)
	w.next()
	w.buf = append(w.buf, url.PathEscape(secret)...)
	w.next()
	// A password in a URL's userinfo, as url.URL.String (and so an error
	// or log line quoting "postgres://app:"+password+"@db") prints it:
	// it escapes '@', ':', '/' and '?', where PathEscape leaves the first
	// two, and leaves '$', '&', '+', ',', ';' and '=', which QueryEscape
	// escapes.
	w.buf = append(w.buf, url.User(secret).String()...)
	w.next()
	if !plain(secret) { // else each of these is the value itself
		// The body of a JSON string as encoding/json writes it, with and
		// without HTML escaping, and as other encoders do: Python's
		// json.dumps (every non-ASCII rune as \u with lower-case hex, runes
		// past U+FFFF as a surrogate pair), the same in upper case
		// (Jackson, Gson), and with only the escapes JSON requires
		// (JavaScript's JSON.stringify, Python with ensure_ascii=False),
		// which leaves U+2028 and U+2029 as they are.
		for _, flags := range []int{escapeGo | escapeHTML, escapeGo, escapeASCII, escapeASCII | escapeUpper, 0} {
			w.buf = appendJSON(w.buf, secret, flags)
			w.next()
		}
		// Go quoting differs from JSON's (\x01, not \u0001); it is how
		// fmt.Errorf("bad token %q", tok) and slog.TextHandler write a
		// value. %+q writes QuoteToASCII's \u00e9 and \U0001f642.
		w.buf = strconv.AppendQuote(w.buf, secret)
		w.nextCut(1, 1)
		w.buf = strconv.AppendQuoteToASCII(w.buf, secret)
		w.nextCut(1, 1)
	}
	w.buf = hex.AppendEncode(w.buf, b)
	w.next()
	w.buf = appendUpperHex(w.buf, b)
	w.next()
	// fmt's %v and %d of a []byte, "[115 51 99]": without the brackets, so
	// that a slice inside a printed struct or a longer list is found too.
	w.buf = appendDecimalList(w.buf, b)
	w.next()
	// %#v of a []byte, "[]byte{0x73, 0x33, 0x63}", and % x, % X.
	w.buf = appendGoHexList(w.buf, b)
	w.next()
	w.buf = appendSpacedHex(w.buf, b, lowerHex)
	w.next()
	w.buf = appendSpacedHex(w.buf, b, upperHex)
	w.next()
	if len(b) >= minEmbedded {
		text := make([]byte, len(b)+2)
		w.base64Runs(text, b, base64.RawStdEncoding)
		w.base64Runs(text, b, base64.RawURLEncoding)
	}
	// Each line of a multi-line secret (a PEM key, a config file) is a
	// secret of its own, with its forms: a printout cut short (a tail, a
	// truncated message) may show some lines whole and not the rest, in any
	// of the forms above. Blank lines and those shorter than minLine are
	// left out, as they would mask text everywhere and hide nothing.
	// A secret ending in "\r" (a line of a file saved with CRLF, less its
	// "\n") is a line too: printed on a line of its own, it loses the
	// "\r" to whatever splits the output into lines (the agent's tail).
	if multiLine(secret) {
		for line := range strings.Lines(secret) {
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if len(line) >= minLine && strings.TrimSpace(line) != "" {
				w.forms(line) // shorter, with no '\n' and one '\r' less at its end
			}
		}
	}
}

// multiLine reports whether secret has lines of its own to register: it
// holds a '\n', or ends in '\r'.
func multiLine(secret string) bool {
	return strings.IndexByte(secret, '\n') >= 0 || strings.HasSuffix(secret, "\r")
}

// A formWriter collects forms in one buffer, so that making them costs
// about one allocation, not one each.
type formWriter struct {
	buf   []byte
	mark  int      // where the form being written starts in buf
	cur   string   // the value whose forms are being written
	spans [][2]int // the forms, buf[start:end], in order
}

// value starts the forms of v, and records v itself.
func (w *formWriter) value(v string) {
	w.cur = v
	w.buf = append(w.buf, v...)
	w.spans = append(w.spans, [2]int{w.mark, len(w.buf)})
	w.mark = len(w.buf)
}

// next records what was written since the last form as a form.
func (w *formWriter) next() { w.nextCut(0, 0) }

// nextCut records what was written since the last form, less its first
// head and last tail bytes, as a form. A form equal to the value, or to the
// form just before it (base64 whose two alphabets agree), is dropped right
// away: most values have many such.
func (w *formWriter) nextCut(head, tail int) {
	start, end := w.mark+head, len(w.buf)-tail
	f := w.buf[start:end]
	last := w.spans[len(w.spans)-1]
	if string(f) != w.cur && string(f) != string(w.buf[last[0]:last[1]]) {
		w.spans = append(w.spans, [2]int{start, end})
		w.mark = len(w.buf)
		return
	}
	w.buf = w.buf[:w.mark]
}

// done returns the forms recorded, empty ones left out. They share one
// string: w.buf itself, which nothing writes to after this.
func (w *formWriter) done() []string {
	all := unsafe.String(unsafe.SliceData(w.buf), len(w.buf))
	out := make([]string, 0, len(w.spans))
	for _, sp := range w.spans {
		if sp[0] < sp[1] {
			out = append(out, all[sp[0]:sp[1]])
		}
	}
	w.buf = nil
	return out
}

// plain reports whether every form of JSON and Go quoting leaves s as it
// is: it is printable ASCII without '"', '\\' and the characters HTML
// escaping changes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < ' ' || c > '~', c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// Flags of appendJSON.
const (
	escapeGo    = 1 << iota // U+2028, U+2029 and invalid UTF-8 (as \ufffd) escaped, as encoding/json does
	escapeHTML              // '<', '>' and '&' as \u003c, \u003e and \u0026
	escapeASCII             // DEL and every non-ASCII rune as \u, past U+FFFF as a surrogate pair
	escapeUpper             // \u00E9 rather than \u00e9
)

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

// appendJSON appends s as the body of a JSON string literal, with the
// escapes JSON requires ('"', '\\', and control characters as \b, \f, \n,
// \r, \t or \u00XX) and those flags asks for. Invalid UTF-8 becomes U+FFFD,
// as a decoder that replaces errors leaves it, escaped with escapeGo or
// escapeASCII.
func appendJSON(b []byte, s string, flags int) []byte {
	digits := lowerHex
	if flags&escapeUpper != 0 {
		digits = upperHex
	}
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15])
	}
	ascii := flags&escapeASCII != 0
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < ' ',
			ascii && r >= 0x7f && r <= 0xffff,
			flags&escapeHTML != 0 && (r == '<' || r == '>' || r == '&'),
			flags&escapeGo != 0 && (r == '\u2028' || r == '\u2029' || r == utf8.RuneError):
			b = u(b, r)
		case ascii && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b = u(u(b, r1), r2)
		default:
			b = utf8.AppendRune(b, r) // an invalid byte reads as U+FFFD
		}
	}
	return b
}

// appendUpperHex appends b in upper-case hex, as %X writes it.
func appendUpperHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

// appendDecimalList appends b as fmt's %v writes a []byte, less the
// brackets: "115 51 99".
func appendDecimalList(dst, b []byte) []byte {
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ' ')
		}
		switch {
		case c >= 100:
			dst = append(dst, '0'+c/100, '0'+c/10%10, '0'+c%10)
		case c >= 10:
			dst = append(dst, '0'+c/10, '0'+c%10)
		default:
			dst = append(dst, '0'+c)
		}
	}
	return dst
}

// appendGoHexList appends b as fmt's %#v writes a []byte, less "[]byte{"
// and "}": "0x73, 0x33, 0x9".
func appendGoHexList(dst, b []byte) []byte {
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		dst = append(dst, '0', 'x')
		if c >= 16 {
			dst = append(dst, lowerHex[c>>4])
		}
		dst = append(dst, lowerHex[c&15])
	}
	return dst
}

// appendSpacedHex appends b as fmt's % x (or % X) writes it: "73 33 63".
func appendSpacedHex(dst, b []byte, digits string) []byte {
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

// base64Runs writes, for each of the three ways b can fall on base64's
// three-byte groups inside a longer text ("user:" + b, encoded whole for an
// Authorization: Basic header), the run of characters enc writes that
// depends on the bytes of b alone. Character i of an encoding stands for
// bits 6i to 6i+5 of the text; with b starting at byte a of its group, the
// characters from the first at or after bit 8a to the last ending by bit
// 8(a+len(b)) are fixed by b, whatever surrounds it. The ones before and
// after mix in bits of the neighbours (or the padding) and are left out.
// This is how GitHub Actions masks a secret inside base64.
// text is scratch space of len(b)+2 bytes.
func (w *formWriter) base64Runs(text, b []byte, enc *base64.Encoding) {
	for a := range 3 {
		copy(text[a:], b) // any bytes before it would do: they are cut off
		w.buf = enc.AppendEncode(w.buf, text[:a+len(b)])
		n := len(w.buf) - w.mark
		w.nextCut((8*a+5)/6, n-8*(a+len(b))/6)
	}
}

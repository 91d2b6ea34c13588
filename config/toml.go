package config

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// TOML is read with github.com/BurntSushi/toml, after prescan has checked
// the limits the library cannot be trusted with (it spends time in n² on a
// value nested n deep, or a key of n parts). Values are the library's:
// int64, float64, string, bool, time.Time (local dates and times in its
// zones "datetime-local", "date-local" and "time-local"), []any and
// map[string]any, arrays of tables turned into []any by normalize.

// A tomlError is a TOML text refused: where (a byte offset), the key being
// read when known, a reason that quotes nothing of the text (it may hold a
// secret), and the kind (ErrSyntax or ErrLimit). For ErrSyntax, parse is
// the library's error.
type tomlError struct {
	pos    int
	key    []string
	reason string
	kind   error
	parse  *toml.ParseError
}

// parseTOML reads data, a whole TOML document.
func parseTOML(data string) (map[string]any, *tomlError) {
	if e := prescan(data); e != nil {
		return nil, e
	}
	var m map[string]any
	if _, err := toml.Decode(data, &m); err != nil {
		e := &tomlError{reason: withhold(err.Error(), data), kind: ErrSyntax}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.parse = &pe
			e.pos = min(max(pe.Position.Start, 0), len(data))
			if pe.LastKey != "" {
				e.key = []string{pe.LastKey}
			}
			e.reason = withhold(pe.Message, around(data, e.pos, pe.Position.Len))
		}
		return nil, e
	}
	if m == nil {
		m = map[string]any{}
	}
	return normalize(m).(map[string]any), nil
}

// A syntaxError is BurntSushi/toml's refusal of a file. Its text is the
// library's reason, less what withhold takes out; errors.As reaches the
// library's toml.ParseError itself, whose own texts quote the file. The
// ParseError is not in the Unwrap chain, so that no code printing the
// chain's texts can print the file's values.
type syntaxError struct {
	reason string
	parse  *toml.ParseError
}

func (e *syntaxError) Error() string        { return "invalid TOML: " + e.reason }
func (e *syntaxError) Is(target error) bool { return target == ErrSyntax }

// As gives the library's error for a target of type *toml.ParseError (the
// type toml.Decode returns) or **toml.ParseError.
func (e *syntaxError) As(target any) bool {
	if e.parse == nil {
		return false
	}
	switch t := target.(type) {
	case *toml.ParseError:
		*t = *e.parse
	case **toml.ParseError:
		pe := *e.parse
		*t = &pe
	default:
		return false
	}
	return true
}

// withhold returns msg, BurntSushi/toml's reason for refusing a text, with
// "…" in place of what may be a value from the file: every quoted text,
// except one character that is no letter or digit (',' or '\n' says what
// was expected or found, and shows nothing of a value), and every other
// word of four bytes or more that near, the lines around the error, holds
// (the library writes a number out of range unquoted). The rest is the
// library's own wording: nothing here depends on what its messages say, so
// a message reworded, or new, is shown as well, and a value in it is still
// withheld.
func withhold(msg, near string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		c := msg[i]
		switch {
		case c == ' ':
			b.WriteByte(c)
			i++
		case opensQuote(msg, i):
			end := quoteEnd(msg, i)
			if end < 0 {
				// No closing quote: all the rest may be the file's.
				b.WriteByte(c)
				b.WriteString("…")
				return b.String()
			}
			if q := msg[i:end]; isSymbol(q) {
				b.WriteString(q)
			} else {
				b.WriteByte(c)
				b.WriteString("…")
				b.WriteByte(msg[end-1])
			}
			i = end
		default:
			j := i + 1
			for j < len(msg) && msg[j] != ' ' && !opensQuote(msg, j) {
				j++
			}
			word := msg[i:j]
			if core := strings.Trim(word, ".,:;()[]{}"); len(core) >= 4 && strings.Contains(near, core) {
				word = strings.Replace(word, core, "…", 1)
			}
			b.WriteString(word)
			i = j
		}
	}
	return b.String()
}

// opensQuote reports whether msg[i] begins a quoted text: a quote at the
// start or after a space or an opening bracket (not an apostrophe).
func opensQuote(msg string, i int) bool {
	return (msg[i] == '"' || msg[i] == '\'') && (i == 0 || strings.IndexByte(" ([:", msg[i-1]) >= 0)
}

// quoteEnd returns the end of the quoted text at msg[i]: a Go-quoted
// string or rune ("%q"), else the next like quote that ends a word ('%s'),
// else -1.
func quoteEnd(msg string, i int) int {
	if q, err := strconv.QuotedPrefix(msg[i:]); err == nil {
		return i + len(q)
	}
	for k := i + 1; k < len(msg); k++ {
		if msg[k] == msg[i] && (k+1 == len(msg) || strings.IndexByte(" .,:;)]", msg[k+1]) >= 0) {
			return k + 1
		}
	}
	return -1
}

// isSymbol reports whether the quoted text q is one character, unquoted,
// that is neither a letter nor a digit.
func isSymbol(q string) bool {
	s, err := strconv.Unquote(q)
	if err != nil {
		s = q[1 : len(q)-1]
	}
	r, size := utf8.DecodeRuneInString(s)
	return size > 0 && size == len(s) && !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// around returns the lines of text from the one before the error (which
// starts at byte pos, n bytes long) to the one after it: the library
// places some errors at the end of the line before the text they name.
func around(text string, pos, n int) string {
	lo := strings.LastIndexByte(text[:pos], '\n')
	if lo > 0 {
		lo = strings.LastIndexByte(text[:lo], '\n')
	}
	hi := min(pos+max(n, 0), len(text))
	for range 2 {
		nl := strings.IndexByte(text[hi:], '\n')
		if nl < 0 {
			hi = len(text)
			break
		}
		hi += nl + 1
	}
	return text[lo+1 : hi]
}

// normalize turns BurntSushi's []map[string]any (arrays of tables) into
// []any, so that every sequence has one Go type.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
		return t
	case []map[string]any:
		out := make([]any, len(t))
		for i, m := range t {
			out[i] = normalize(m)
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
		return t
	}
	return v
}

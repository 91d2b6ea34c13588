package python

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set. Its elements are distinct under Python's equality
// (1, 1.0 and True are one element), in the order first met.
type Set []any

// Dict is a Python dict: its items in insertion order, each key distinct
// under Python's equality.
type Dict []Item

// Item is one key and its value in a Dict.
type Item struct {
	Key, Value any
}

// Python's limits, which LiteralEval, Str and Repr keep.
const (
	// MaxNesting is how deeply brackets may nest in a literal, and unary
	// signs stack on a number: CPython's tokenizer stops at 200 open
	// brackets.
	MaxNesting = 200
	// MaxIntDigits is the most decimal digits an int may be read from or
	// printed as (sys.int_info.default_max_str_digits, since Python 3.11
	// and the 3.7-3.10 security releases). CPython set the limit because
	// the conversion takes time quadratic in the digits; math/big takes
	// 1.5 s for a million.
	MaxIntDigits = 4300
)

// ErrIntTooLong is the error of Str and Repr for an int of more than
// MaxIntDigits decimal digits, where Python raises ValueError.
var ErrIntTooLong = errors.New("python: an int of more than 4300 decimal digits cannot be printed (Python's limit)")

// Repr returns Python's repr() of v. Go values outside the list in the
// package doc print as fmt.Sprint prints them. The only error is
// ErrIntTooLong.
func Repr(v any) (string, error) {
	var b strings.Builder
	if err := writeRepr(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Str returns Python's str() of v: a string is itself, a time.Time is the
// text of str() of the datetime, date or time Prefect's TOML reader made,
// and anything else is its Repr (a container prints its elements with
// repr(); a time inside one prints as str() prints it, one of the
// differences from CPython the package doc lists).
//
// A time.Time in one of the zones BurntSushi/toml gives local dates and
// times ("date-local", "time-local", "datetime-local") is Python's naive
// date, time or datetime; any other is an aware datetime, printed with its
// UTC offset.
func Str(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case time.Time:
		return timeStr(t), nil
	}
	return Repr(v)
}

// writeRepr writes Repr(v) to b: one buffer for a whole nested value, so
// the time is linear in the text (joining each level's parts copied the
// text of a value once for every level above it).
func writeRepr(b *strings.Builder, v any) error {
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case *big.Int:
		if tooManyDigits(t) {
			return ErrIntTooLong
		}
		b.WriteString(t.String())
	case json.Number:
		// DecodeJSON's integer past int64: its digits are its repr.
		b.WriteString(t.String())
	case float64:
		b.WriteString(floatRepr(t, true))
	case complex128:
		b.WriteString(complexRepr(t))
	case string:
		writeQuote(b, t)
	case []byte:
		writeBytes(b, t)
	case time.Time:
		b.WriteString(timeStr(t))
	case []any:
		b.WriteByte('[')
		if err := writeItems(b, t); err != nil {
			return err
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		if err := writeItems(b, t); err != nil {
			return err
		}
		if len(t) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case Set:
		if len(t) == 0 {
			b.WriteString("set()")
			break
		}
		b.WriteByte('{')
		if err := writeItems(b, t); err != nil {
			return err
		}
		b.WriteByte('}')
	case Dict:
		b.WriteByte('{')
		for i, it := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeRepr(b, it.Key); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writeRepr(b, it.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(t) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuote(b, k)
			b.WriteString(": ")
			if err := writeRepr(b, t[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
	return nil
}

func writeItems(b *strings.Builder, items []any) error {
	for i, x := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := writeRepr(b, x); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tooManyDigits reports whether |n| has more than MaxIntDigits decimal
// digits, without the quadratic conversion to decimal.
func tooManyDigits(n *big.Int) bool {
	if n.BitLen() <= MaxIntDigits*3 { // 2^12900 < 10^4300
		return false
	}
	return n.CmpAbs(pow10MaxDigits()) >= 0
}

var pow10MaxDigits = sync.OnceValue(func() *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(MaxIntDigits), nil)
})

// floatRepr is Python's float repr: the shortest digits that read back as
// f, in fixed notation for decimal exponents from -5 to 15, else d.ddde+XX.
// addDot adds the ".0" a float repr has and a complex's parts do not.
func floatRepr(f float64, addDot bool) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	var out string
	switch {
	case decpt <= -4 || decpt > 16:
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		out += fmt.Sprintf("e%s%02d", sign, exp)
	case decpt <= 0:
		out = "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		out = digits + strings.Repeat("0", decpt-len(digits))
		if addDot {
			out += ".0"
		}
	default:
		out = digits[:decpt] + "." + digits[decpt:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

// complexRepr is Python's complex repr: "2j" when the real part is +0,
// else "(1-2j)".
func complexRepr(c complex128) string {
	re, im := real(c), imag(c)
	imText := floatRepr(im, false)
	if re == 0 && !math.Signbit(re) {
		return imText + "j"
	}
	if !strings.HasPrefix(imText, "-") {
		imText = "+" + imText
	}
	return "(" + floatRepr(re, false) + imText + "j)"
}

// writeQuote writes Python's repr of a str: single quotes unless the text
// holds ' and no ", and what is not printable escaped.
func writeQuote(b *strings.Builder, s string) {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	b.WriteRune(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(b, `\udc%02x`, s[i]) // Python's surrogateescape
			i++
			continue
		}
		i += size
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case printable(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
}

// printable is Python's str.isprintable for one character. Go's
// unicode.IsPrint means the same (letters, marks, numbers, punctuation,
// symbols and the ASCII space), up to the two Unicode versions.
func printable(r rune) bool {
	return r >= ' ' && r < 0x7f || r > 0x7f && unicode.IsPrint(r)
}

// writeBytes writes Python's repr of bytes: b'...', printable ASCII as
// itself and every other byte escaped.
func writeBytes(b *strings.Builder, p []byte) {
	quote := byte('\'')
	if bytes.IndexByte(p, '\'') >= 0 && bytes.IndexByte(p, '"') < 0 {
		quote = '"'
	}
	b.WriteByte('b')
	b.WriteByte(quote)
	for _, c := range p {
		switch {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(quote)
}

// timeStr is str() of the datetime, date or time that Python's toml
// package makes of a TOML date or time.
func timeStr(t time.Time) string {
	frac := func(s string) string {
		if us := t.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
		return s
	}
	switch t.Location().String() {
	case "date-local":
		return t.Format("2006-01-02")
	case "time-local":
		return frac(t.Format("15:04:05"))
	case "datetime-local":
		return frac(t.Format("2006-01-02 15:04:05"))
	}
	s := frac(t.Format("2006-01-02 15:04:05"))
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return s + fmt.Sprintf("%s%02d:%02d", sign, off/3600, off%3600/60)
}

// Truth is Python's truth test (bool(v), operator.truth): None, False,
// zero and empty containers are false, everything else true.
func Truth(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int:
		return t != 0
	case int64:
		return t != 0
	case *big.Int:
		return t.Sign() != 0
	case float64:
		return t != 0
	case complex128:
		return t != 0
	case string:
		return t != ""
	case []byte:
		return len(t) > 0
	case []any:
		return len(t) > 0
	case Tuple:
		return len(t) > 0
	case Set:
		return len(t) > 0
	case Dict:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

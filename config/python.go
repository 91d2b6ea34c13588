package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// Python str() and repr(), for inserting a referenced value into text.

// pyStr is Python's str() of a loaded value. Tuples and sets load as []any
// and print as lists; maps print with sorted keys.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if t, ok := v.(time.Time); ok {
		return pyTime(t)
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

// writeRepr writes pyRepr(v) to b: one buffer for a whole nested value, so
// the time is linear in the text (joining each level's parts copied the text
// of a value once for every level above it).
func writeRepr(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case *big.Int:
		b.WriteString(t.String())
	case float64:
		b.WriteString(pyFloat(t, true))
	case complex128:
		b.WriteString(pyComplex(t))
	case string:
		writeQuote(b, t)
	case []byte:
		writeBytes(b, t)
	case time.Time:
		b.WriteString(pyTime(t))
	case []any:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(t) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuote(b, k)
			b.WriteString(": ")
			writeRepr(b, t[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}

// pyFloat is Python's float repr: the shortest round-tripping digits, fixed
// notation for exponents from -5 to 15, else d.ddde+XX.
func pyFloat(f float64, addDot bool) string {
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

func pyComplex(c complex128) string {
	re, im := real(c), imag(c)
	imText := pyFloat(im, false)
	if re == 0 && !math.Signbit(re) {
		return imText + "j"
	}
	if !strings.HasPrefix(imText, "-") {
		imText = "+" + imText
	}
	return "(" + pyFloat(re, false) + imText + "j)"
}

func pyQuote(s string) string {
	var b strings.Builder
	writeQuote(&b, s)
	return b.String()
}

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
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
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

func pyBytes(p []byte) string {
	var b strings.Builder
	writeBytes(&b, p)
	return b.String()
}

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

// pyTime is str() of the datetime, date or time Python's toml package makes.
func pyTime(t time.Time) string {
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

// ---------------------------------------------------------------------------
// Python literals: a small ast.literal_eval.
//
// It accepts what literal_eval accepts on Python 3.9+: numbers (ints with
// underscores and 0x/0o/0b, floats, imaginary j), strings and bytes with any
// quotes, prefixes r/u/b and escapes, implicit concatenation, True, False,
// None, tuples (also bare "1, 2"), lists, dicts, sets, set(), unary +/- on a
// number and int/float +/- imaginary; comments and bracketed newlines.
// Ints past int64 become *big.Int; tuples and sets become []any; dict keys
// become their Python str(). Not supported, so such text stays a string: \N{}
// escapes and "..." (Ellipsis).

type litKind int

const (
	litConst litKind = iota
	litUnary
	litBinary
	litTuple
	litList
	litSet
	litDict
)

type litNode struct {
	kind litKind
	val  any // litConst: int64, *big.Int, float64, complex128, string, []byte, bool, nil
	op   byte
	elts []*litNode // elements; dict keys; unary operand; binary left, right
	vals []*litNode // dict values
}

const maxLiteralNesting = 200 // Python's tokenizer limit on nested brackets

type litParser struct {
	s       string
	pos     int
	depth   int // open brackets: newlines are whitespace inside them
	nesting int
}

func parseLiteral(src string) (any, bool) {
	if strings.IndexByte(src, 0) >= 0 {
		return nil, false
	}
	src = strings.TrimLeft(src, " \t")
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	p := &litParser{s: src}
	if !p.skipLeadingLines() {
		return nil, false
	}
	n, ok := p.topLevel()
	if !ok || !p.atEnd() {
		return nil, false
	}
	return convertLiteral(n)
}

func (p *litParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *litParser) peekAt(k int) byte {
	if p.pos+k < len(p.s) {
		return p.s[p.pos+k]
	}
	return 0
}

// skipLeadingLines skips blank and comment-only lines; the first line with
// code must not be indented.
func (p *litParser) skipLeadingLines() bool {
	for {
		col := 0
		for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\f') {
			if p.s[p.pos] == '\f' {
				col = 0
			} else {
				col++
			}
			p.pos++
		}
		switch p.peek() {
		case 0:
			return true
		case '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
			continue
		case '\n':
			p.pos++
			continue
		}
		return col == 0
	}
}

func (p *litParser) skipSpace() {
	for p.pos < len(p.s) {
		switch c := p.s[p.pos]; {
		case c == ' ' || c == '\t' || c == '\f':
			p.pos++
		case c == '\\' && p.peekAt(1) == '\n':
			p.pos += 2
		case c == '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
		case c == '\n' && p.depth > 0:
			p.pos++
		default:
			return
		}
	}
}

// atEnd accepts trailing whitespace, comments and blank lines only.
func (p *litParser) atEnd() bool {
	for {
		p.skipSpace()
		switch p.peek() {
		case 0:
			return p.pos >= len(p.s)
		case '\n':
			p.pos++
		default:
			return false
		}
	}
}

func (p *litParser) topLevel() (*litNode, bool) {
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.skipSpace()
	if p.peek() != ',' {
		return first, true
	}
	elts := []*litNode{first}
	for p.peek() == ',' {
		p.pos++
		p.skipSpace()
		if c := p.peek(); c == 0 || c == '\n' {
			break
		}
		n, ok := p.expr()
		if !ok {
			return nil, false
		}
		elts = append(elts, n)
		p.skipSpace()
	}
	return &litNode{kind: litTuple, elts: elts}, true
}

// expr parses a sum of factors and insists that what follows can end an
// expression, so any other operator, call, subscript or attribute fails.
func (p *litParser) expr() (*litNode, bool) {
	left, ok := p.factor()
	if !ok {
		return nil, false
	}
	for {
		p.skipSpace()
		c := p.peek()
		if c != '+' && c != '-' {
			break
		}
		if p.peekAt(1) == '=' || c == '-' && p.peekAt(1) == '>' {
			return nil, false
		}
		p.pos++
		right, ok := p.factor()
		if !ok {
			return nil, false
		}
		left = &litNode{kind: litBinary, op: c, elts: []*litNode{left, right}}
	}
	switch p.peek() {
	case 0, '\n', ',', ')', ']', '}', ':':
		return left, true
	}
	return nil, false
}

func (p *litParser) factor() (*litNode, bool) {
	p.skipSpace()
	if p.nesting >= maxLiteralNesting {
		return nil, false
	}
	p.nesting++
	defer func() { p.nesting-- }()
	switch c := p.peek(); c {
	case '+', '-':
		p.pos++
		operand, ok := p.factor()
		if !ok {
			return nil, false
		}
		return &litNode{kind: litUnary, op: c, elts: []*litNode{operand}}, true
	}
	return p.atom()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentByte(c byte) bool { return isWordByte(c) || c >= 0x80 }

func (p *litParser) atom() (*litNode, bool) {
	c := p.peek()
	switch {
	case c == '(':
		return p.paren()
	case c == '[':
		elts, ok := p.sequence(']')
		return &litNode{kind: litList, elts: elts}, ok
	case c == '{':
		return p.brace()
	case isDigit(c) || c == '.' && isDigit(p.peekAt(1)):
		return p.number()
	case c == '\'' || c == '"':
		return p.stringAtom()
	case isIdentByte(c):
		if p.stringPrefixLen() >= 0 {
			return p.stringAtom()
		}
		start := p.pos
		for p.pos < len(p.s) && isIdentByte(p.s[p.pos]) {
			p.pos++
		}
		switch p.s[start:p.pos] {
		case "True":
			return &litNode{kind: litConst, val: true}, true
		case "False":
			return &litNode{kind: litConst, val: false}, true
		case "None":
			return &litNode{kind: litConst, val: nil}, true
		case "set": // set() is the one call literal_eval accepts
			p.skipSpace()
			if p.peek() != '(' {
				return nil, false
			}
			p.pos++
			p.depth++
			p.skipSpace()
			p.depth--
			if p.peek() != ')' {
				return nil, false
			}
			p.pos++
			return &litNode{kind: litSet}, true
		}
	}
	return nil, false
}

func (p *litParser) open() bool {
	p.pos++
	p.depth++
	return p.depth <= maxLiteralNesting
}

func (p *litParser) close() {
	p.pos++
	p.depth--
}

// sequence parses "[a, b, ...]"-style element lists with a trailing comma.
func (p *litParser) sequence(end byte) ([]*litNode, bool) {
	if !p.open() {
		return nil, false
	}
	p.skipSpace()
	if p.peek() == end {
		p.close()
		return []*litNode{}, true
	}
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	return p.elements(end, first)
}

// elements parses the rest of a comma-separated list whose first element
// is already parsed, through its closing end; a trailing comma is allowed.
func (p *litParser) elements(end byte, first *litNode) ([]*litNode, bool) {
	elts := []*litNode{first}
	for {
		p.skipSpace()
		switch p.peek() {
		case end:
			p.close()
			return elts, true
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == end {
				continue
			}
			n, ok := p.expr()
			if !ok {
				return nil, false
			}
			elts = append(elts, n)
		default:
			return nil, false
		}
	}
}

func (p *litParser) paren() (*litNode, bool) {
	if !p.open() {
		return nil, false
	}
	p.skipSpace()
	if p.peek() == ')' {
		p.close()
		return &litNode{kind: litTuple}, true
	}
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.skipSpace()
	switch p.peek() {
	case ')':
		p.close()
		return first, true // parentheses make no node: "-(1)" is -1
	case ',':
		elts, ok := p.elements(')', first)
		if !ok {
			return nil, false
		}
		return &litNode{kind: litTuple, elts: elts}, true
	}
	return nil, false
}

func (p *litParser) brace() (*litNode, bool) {
	if !p.open() {
		return nil, false
	}
	p.skipSpace()
	if p.peek() == '}' {
		p.close()
		return &litNode{kind: litDict}, true
	}
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.skipSpace()
	if p.peek() != ':' {
		// A set: {a, b, ...}
		elts, ok := p.elements('}', first)
		if !ok {
			return nil, false
		}
		return &litNode{kind: litSet, elts: elts}, true
	}
	d := &litNode{kind: litDict}
	key := first
	for {
		p.pos++ // the colon
		val, ok := p.expr()
		if !ok {
			return nil, false
		}
		d.elts, d.vals = append(d.elts, key), append(d.vals, val)
		p.skipSpace()
		switch p.peek() {
		case '}':
			p.close()
			return d, true
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == '}' {
				p.close()
				return d, true
			}
			if key, ok = p.expr(); !ok {
				return nil, false
			}
			p.skipSpace()
			if p.peek() != ':' {
				return nil, false
			}
		default:
			return nil, false
		}
	}
}

// scanDigits reads digits of one base with single underscores between them
// (and, after a 0x/0o/0b prefix, before the first).
func scanDigits(s string, i int, ok func(byte) bool, leadingUnderscore bool) (string, int, bool) {
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		if c == '_' {
			if b.Len() == 0 && !leadingUnderscore || i+1 >= len(s) || !ok(s[i+1]) {
				return "", i, false
			}
			i++
			continue
		}
		if !ok(c) {
			break
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i, b.Len() > 0
}

func intConst(digits string, base int) (*litNode, bool) {
	if n, err := strconv.ParseInt(digits, base, 64); err == nil {
		return &litNode{kind: litConst, val: n}, true
	}
	if base == 10 && len(digits) > maxIntDigits {
		return nil, false // ValueError in Python: too many digits for int()
	}
	n, _ := new(big.Int).SetString(digits, base)
	return &litNode{kind: litConst, val: n}, true
}

func (p *litParser) number() (*litNode, bool) {
	s := p.s
	i := p.pos
	if s[i] == '0' && i+1 < len(s) && strings.IndexByte("xXoObB", s[i+1]) >= 0 {
		base, valid := 16, func(c byte) bool {
			return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		}
		switch s[i+1] {
		case 'o', 'O':
			base, valid = 8, func(c byte) bool { return '0' <= c && c <= '7' }
		case 'b', 'B':
			base, valid = 2, func(c byte) bool { return c == '0' || c == '1' }
		}
		digits, j, ok := scanDigits(s, i+2, valid, true)
		if !ok || j < len(s) && isIdentByte(s[j]) {
			return nil, false
		}
		p.pos = j
		return intConst(digits, base)
	}
	var intPart, frac, exp string
	isFloat := false
	if isDigit(s[i]) {
		var ok bool
		if intPart, i, ok = scanDigits(s, i, isDigit, false); !ok {
			return nil, false
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i < len(s) && isDigit(s[i]) {
			var ok bool
			if frac, i, ok = scanDigits(s, i, isDigit, false); !ok {
				return nil, false
			}
		} else if intPart == "" {
			return nil, false
		}
		isFloat = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		sign := ""
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			sign = s[j : j+1]
			j++
		}
		if j >= len(s) || !isDigit(s[j]) {
			return nil, false
		}
		d, k, ok := scanDigits(s, j, isDigit, false)
		if !ok {
			return nil, false
		}
		exp, i, isFloat = "e"+sign+d, k, true
	}
	imag := false
	if i < len(s) && (s[i] == 'j' || s[i] == 'J') {
		imag = true
		i++
	}
	if i < len(s) && isIdentByte(s[i]) {
		return nil, false
	}
	p.pos = i
	if !isFloat && !imag {
		if len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0") != "" {
			return nil, false // "01": leading zeros are a SyntaxError
		}
		return intConst(intPart, 10)
	}
	if intPart == "" {
		intPart = "0"
	}
	if frac == "" {
		frac = "0"
	}
	f, err := strconv.ParseFloat(intPart+"."+frac+exp, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, false
	}
	if imag {
		return &litNode{kind: litConst, val: complex(0, f)}, true
	}
	return &litNode{kind: litConst, val: f}, true
}

// stringPrefixLen returns the length of a string prefix (r, u, b, f and
// their valid pairs, any case) directly followed by a quote, or -1.
func (p *litParser) stringPrefixLen() int {
	for n := 1; n <= 2; n++ {
		if q := p.peekAt(n); q == '\'' || q == '"' {
			switch strings.ToLower(p.s[p.pos : p.pos+n]) {
			case "r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt":
				return n
			}
			return -1
		}
		if !isWordByte(p.peekAt(n - 1)) {
			return -1
		}
	}
	return -1
}

// stringAtom parses adjacent string literals, which Python concatenates.
func (p *litParser) stringAtom() (*litNode, bool) {
	var b strings.Builder
	kind := -1 // 0 str, 1 bytes
	for {
		n := 0
		if c := p.peek(); c != '\'' && c != '"' {
			if n = p.stringPrefixLen(); n < 0 {
				break
			}
		}
		prefix := strings.ToLower(p.s[p.pos : p.pos+n])
		if strings.ContainsAny(prefix, "ft") {
			return nil, false // f-strings and t-strings are not constants
		}
		isBytes := strings.Contains(prefix, "b")
		k := 0
		if isBytes {
			k = 1
		}
		if kind >= 0 && kind != k {
			return nil, false // cannot mix bytes and str
		}
		kind = k
		p.pos += n
		if !p.stringBody(&b, strings.Contains(prefix, "r"), isBytes) {
			return nil, false
		}
		p.skipSpace()
	}
	if kind == 1 {
		return &litNode{kind: litConst, val: []byte(b.String())}, true
	}
	return &litNode{kind: litConst, val: b.String()}, true
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (p *litParser) tripleQuote(q byte) bool {
	return p.pos+2 < len(p.s) && p.s[p.pos] == q && p.s[p.pos+1] == q && p.s[p.pos+2] == q
}

func (p *litParser) stringBody(b *strings.Builder, raw, isBytes bool) bool {
	s := p.s
	q := s[p.pos]
	triple := p.tripleQuote(q)
	if triple {
		p.pos += 3
	} else {
		p.pos++
	}
	for {
		if p.pos >= len(s) {
			return false // unterminated
		}
		c := s[p.pos]
		if triple && p.tripleQuote(q) {
			p.pos += 3
			return true
		}
		if !triple && c == q {
			p.pos++
			return true
		}
		if !triple && c == '\n' {
			return false
		}
		if isBytes && c >= 0x80 {
			return false // bytes can only contain ASCII literal characters
		}
		if c != '\\' {
			b.WriteByte(c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(s) {
			return false
		}
		e := s[p.pos+1]
		if raw {
			// The backslash stays, and it keeps the next character (even a
			// quote or newline) from ending the string.
			_, size := utf8.DecodeRuneInString(s[p.pos+1:])
			if isBytes && e >= 0x80 {
				return false
			}
			b.WriteString(s[p.pos : p.pos+1+size])
			p.pos += 1 + size
			continue
		}
		p.pos += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && p.pos < len(s) && '0' <= s[p.pos] && s[p.pos] <= '7'; k++ {
				v = v*8 + int(s[p.pos]-'0')
				p.pos++
			}
			if isBytes {
				if v > 0xff {
					return false
				}
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
		case 'x':
			if p.pos+2 > len(s) || !isHex(s[p.pos]) || !isHex(s[p.pos+1]) {
				return false
			}
			v, _ := strconv.ParseUint(s[p.pos:p.pos+2], 16, 8)
			p.pos += 2
			if isBytes {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
		case 'u', 'U', 'N':
			if isBytes {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			if e == 'N' {
				return false // \N{NAME} needs Unicode's name table
			}
			n := 4
			if e == 'U' {
				n = 8
			}
			if p.pos+n > len(s) {
				return false
			}
			for k := 0; k < n; k++ {
				if !isHex(s[p.pos+k]) {
					return false
				}
			}
			v, _ := strconv.ParseUint(s[p.pos:p.pos+n], 16, 32)
			if v > unicode.MaxRune {
				return false
			}
			p.pos += n
			if 0xdc80 <= v && v <= 0xdcff {
				// Python's surrogateescape for a byte that is not UTF-8,
				// as pyQuote writes it: the byte itself.
				b.WriteByte(byte(v))
				continue
			}
			b.WriteRune(rune(v))
		default:
			// An unknown escape keeps its backslash; the character after
			// it is read normally.
			b.WriteByte('\\')
			p.pos--
		}
	}
}

func convertLiteral(n *litNode) (any, bool) {
	switch n.kind {
	case litConst:
		return n.val, true
	case litUnary:
		return signedNum(n)
	case litBinary:
		// Only int/float +/- imaginary, as in "1+2j".
		left, ok := signedNum(n.elts[0])
		if !ok {
			return nil, false
		}
		right, ok := n.elts[1].val.(complex128)
		if n.elts[1].kind != litConst || !ok {
			return nil, false
		}
		var l float64
		switch t := left.(type) {
		case int64:
			l = float64(t)
		case *big.Int:
			f, _ := new(big.Float).SetInt(t).Float64()
			if math.IsInf(f, 0) {
				return nil, false // OverflowError in Python
			}
			l = f
		case float64:
			l = t
		default:
			return nil, false
		}
		if n.op == '+' {
			return complex(l, 0) + right, true
		}
		return complex(l, 0) - right, true
	case litTuple, litList:
		out := make([]any, len(n.elts))
		for i, e := range n.elts {
			v, ok := convertLiteral(e)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	case litSet:
		out := []any{}
		seen := map[string]bool{}
		for _, e := range n.elts {
			v, ok := convertLiteral(e)
			if !ok {
				return nil, false
			}
			h, ok := hashKey(e, v)
			if !ok {
				return nil, false // unhashable: TypeError in Python
			}
			if !seen[h] {
				seen[h] = true
				out = append(out, v)
			}
		}
		return out, true
	case litDict:
		type slot struct {
			text string
			val  any
		}
		var order []string
		slots := map[string]*slot{}
		for i, k := range n.elts {
			kv, ok := convertLiteral(k)
			if !ok {
				return nil, false
			}
			vv, ok := convertLiteral(n.vals[i])
			if !ok {
				return nil, false
			}
			h, ok := hashKey(k, kv)
			if !ok {
				return nil, false
			}
			if s, dup := slots[h]; dup {
				s.val = vv // Python keeps the first key and the last value
				continue
			}
			text, ok := keyText(k, kv)
			if !ok {
				return nil, false
			}
			slots[h] = &slot{text: text, val: vv}
			order = append(order, h)
		}
		out := make(map[string]any, len(order))
		for _, h := range order {
			out[slots[h].text] = slots[h].val
		}
		return out, true
	}
	return nil, false
}

func signedNum(n *litNode) (any, bool) {
	if n.kind == litUnary {
		v, ok := num(n.elts[0])
		if !ok {
			return nil, false
		}
		if n.op == '+' {
			return v, true
		}
		switch t := v.(type) {
		case int64:
			if t == math.MinInt64 {
				return new(big.Int).Neg(big.NewInt(t)), true
			}
			return -t, true
		case *big.Int:
			r := new(big.Int).Neg(t)
			if r.IsInt64() {
				return r.Int64(), true
			}
			return r, true
		case float64:
			return -t, true
		case complex128:
			return -t, true
		}
	}
	return num(n)
}

func num(n *litNode) (any, bool) {
	if n.kind != litConst {
		return nil, false
	}
	switch n.val.(type) {
	case int64, *big.Int, float64, complex128:
		return n.val, true
	}
	return nil, false
}

// hashKey gives equal keys to values Python's hash/eq treat as equal
// (1 == 1.0 == True); ok is false for unhashable values. Integers are in hex,
// which, unlike decimal, takes time linear in their size.
func hashKey(n *litNode, v any) (string, bool) {
	var b strings.Builder
	if !writeHashKey(&b, n, v) {
		return "", false
	}
	return b.String(), true
}

func writeHashKey(b *strings.Builder, n *litNode, v any) bool {
	if n.kind == litTuple {
		items := v.([]any)
		b.WriteString("t(")
		for i, e := range n.elts {
			if i > 0 {
				b.WriteByte(',')
			}
			if !writeHashKey(b, e, items[i]) {
				return false
			}
		}
		b.WriteByte(')')
		return true
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("N")
	case bool:
		if t {
			b.WriteString("n1")
		} else {
			b.WriteString("n0")
		}
	case int64:
		b.WriteString("n" + strconv.FormatInt(t, 16))
	case *big.Int:
		b.WriteString("n" + t.Text(16))
	case float64:
		if t == math.Trunc(t) && !math.IsInf(t, 0) {
			i, _ := new(big.Float).SetFloat64(t).Int(nil)
			b.WriteString("n" + i.Text(16))
		} else {
			b.WriteString("f" + strconv.FormatFloat(t, 'g', -1, 64))
		}
	case complex128:
		if imag(t) == 0 {
			return writeHashKey(b, &litNode{kind: litConst}, real(t))
		}
		b.WriteString("c" + strconv.FormatComplex(t, 'g', -1, 128))
	case string:
		// The length keeps ("a,sb",) apart from ("a", "b").
		b.WriteString("s" + strconv.Itoa(len(t)) + ":" + t)
	case []byte:
		b.WriteString("b" + strconv.Itoa(len(t)) + ":" + string(t))
	default:
		return false
	}
	return true
}

// keyText is str() of a dict key: Go maps need string keys. ok is false for
// an integer key too long for str() (Python raises ValueError), which makes
// the literal stay a string.
func keyText(n *litNode, v any) (string, bool) {
	var b strings.Builder
	if !writeKeyText(&b, n, v, true) {
		return "", false
	}
	return b.String(), true
}

// writeKeyText writes str() of a key (top) or repr() of a tuple's element.
func writeKeyText(b *strings.Builder, n *litNode, v any, top bool) bool {
	if n.kind == litTuple {
		items := v.([]any)
		b.WriteByte('(')
		for i, e := range n.elts {
			if i > 0 {
				b.WriteString(", ")
			}
			if !writeKeyText(b, e, items[i], false) {
				return false
			}
		}
		if len(n.elts) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
		return true
	}
	if i, ok := v.(*big.Int); ok && tooManyDigits(i) {
		return false
	}
	if top {
		b.WriteString(pyStr(v))
	} else {
		writeRepr(b, v)
	}
	return true
}

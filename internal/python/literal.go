package python

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LiteralEval is Python's ast.literal_eval of src, on CPython 3.11: ok is
// false where literal_eval raises (SyntaxError, ValueError, TypeError,
// MemoryError or RecursionError), and for the few literals the package doc
// lists as refused.
//
// It reads numbers (ints with underscores and 0x/0o/0b, floats, imaginary
// j), strings and bytes with any quotes, prefixes r/u/b and escapes,
// adjacent strings (concatenated), True, False, None, tuples (also a bare
// "1, 2"), lists, dicts, sets, set(), a unary + or - on a number, an int or
// float plus or minus an imaginary number, comments and newlines inside
// brackets; leading spaces and tabs are ignored, as literal_eval does since
// Python 3.9. A src that is not UTF-8 is refused: its bytes are lone
// surrogates to Python, which compile() cannot encode. Values have the Go types of the package doc; an int is an
// int64 when it fits one. Of a set's elements, or a dict's keys, that
// Python's == finds equal (1, 1.0, True), the first is kept, and a dict
// keeps the last value; an unhashable element or key (a list, dict or set)
// is refused, as Python raises TypeError.
//
// The time it takes is linear in len(src).
func LiteralEval(src string) (v any, ok bool) {
	if strings.IndexByte(src, 0) >= 0 {
		return nil, false // CPython: source code cannot contain null bytes
	}
	if !utf8.ValidString(src) {
		// A byte that is not UTF-8 is a lone surrogate to Python
		// (os.environ's surrogateescape), which compile() cannot encode:
		// literal_eval raises UnicodeEncodeError.
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
	return convert(n)
}

// The parser makes a tree of nodes, as Python's parser makes an AST, and
// convert then evaluates it as literal_eval evaluates the AST: a literal
// that parses may still be refused (an unhashable key, -'a').

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

type litParser struct {
	s       string
	pos     int
	depth   int // open brackets: newlines are whitespace inside them
	nesting int
	escapes []int // offsets of the bytes \udc80-\udcff wrote in the string being read
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
		case c == '\\' && p.peekAt(1) == '\n' && p.pos+2 < len(p.s):
			// A line continuation; one that ends the text is a
			// SyntaxError (unexpected EOF), so it is left unread.
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
	if p.nesting >= MaxNesting {
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

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isIdentByte reports whether c may be part of a Python name: every
// non-ASCII byte may, as far as telling a name from a literal needs.
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
	return p.depth <= MaxNesting
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
	if base == 10 && len(digits) > MaxIntDigits {
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
	p.escapes = p.escapes[:0]
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
	return &litNode{kind: litConst, val: unjoin(b.String(), p.escapes)}, true
}

// unjoin replaces with U+FFFD each byte that a \udc80-\udcff escape wrote
// (at the offsets escapes) and that, with its neighbours, makes a UTF-8
// character: '\udcc3\udca9' is two lone surrogates to Python, not the
// bytes of "é". Only such bytes can join, as the rest of s is UTF-8.
func unjoin(s string, escapes []int) string {
	if len(escapes) < 2 {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is in b
	for _, at := range escapes {
		if at < done {
			continue // replaced with the character it began
		}
		// A character that holds this byte starts at most 3 bytes before.
		for start := max(at-3, done); start <= at; start++ {
			r, size := utf8.DecodeRuneInString(s[start:])
			if r == utf8.RuneError || start+size <= at {
				continue
			}
			b.WriteString(s[done:start])
			b.WriteString(strings.Repeat("\uFFFD", size))
			done = start + size
			break
		}
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
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
				// as Repr writes it: the byte itself.
				p.escapes = append(p.escapes, b.Len())
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

// convert evaluates a parsed literal.
func convert(n *litNode) (any, bool) {
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
	case litList:
		return convertAll(n.elts)
	case litTuple:
		out, ok := convertAll(n.elts)
		return Tuple(out), ok
	case litSet:
		out := Set{}
		seen := map[string]bool{}
		for _, e := range n.elts {
			v, ok := convert(e)
			if !ok {
				return nil, false
			}
			h, ok := hashKey(v)
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
		out := Dict{}
		at := map[string]int{} // a key's hashKey: its index in out
		for i, k := range n.elts {
			kv, ok := convert(k)
			if !ok {
				return nil, false
			}
			vv, ok := convert(n.vals[i])
			if !ok {
				return nil, false
			}
			h, ok := hashKey(kv)
			if !ok {
				return nil, false
			}
			if j, dup := at[h]; dup {
				out[j].Value = vv // Python keeps the first key and the last value
				continue
			}
			at[h] = len(out)
			out = append(out, Item{kv, vv})
		}
		return out, true
	}
	return nil, false
}

func convertAll(nodes []*litNode) ([]any, bool) {
	out := make([]any, len(nodes))
	for i, e := range nodes {
		v, ok := convert(e)
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
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

// hashKey gives equal keys to values Python's hash and == treat as equal
// (1 == 1.0 == True == 1+0j); ok is false for an unhashable value. Ints
// are in hex, which, unlike decimal, takes time linear in their size.
func hashKey(v any) (string, bool) {
	var b strings.Builder
	if !writeHashKey(&b, v) {
		return "", false
	}
	return b.String(), true
}

func writeHashKey(b *strings.Builder, v any) bool {
	switch t := v.(type) {
	case Tuple:
		b.WriteString("t(")
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			if !writeHashKey(b, e) {
				return false
			}
		}
		b.WriteByte(')')
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
			return writeHashKey(b, real(t))
		}
		b.WriteString("c" + strconv.FormatComplex(t, 'g', -1, 128))
	case string:
		// The length keeps ("a,sb",) apart from ("a", "b").
		b.WriteString("s" + strconv.Itoa(len(t)) + ":" + t)
	case []byte:
		b.WriteString("b" + strconv.Itoa(len(t)) + ":" + string(t))
	default:
		return false // a list, set or dict
	}
	return true
}

package config

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A TOML reader whose time is linear in the size of the file.
//
// It reads TOML 1.1 as github.com/BurntSushi/toml v1.6.0 (which this package
// used before) does, and gives the same Go values: int64, float64, string,
// bool, time.Time (local dates and times in the zones "datetime-local",
// "date-local" and "time-local"), []any and map[string]any; arrays of tables
// are []any of map[string]any. Every file it accepts, BurntSushi accepts too,
// with the same values (FuzzTOML checks this), down to BurntSushi's own rules
// for reopening a table. It refuses two things BurntSushi let through, both
// invalid TOML: a key given a value where dotted keys or headers made a
// table (a.b.c = 1 then a.b = 2, which BurntSushi read as a.b.c = 1, dropping
// the 2), and a dotted key through an array value (a = [1] then a.b = 2,
// which replaced the array).
//
// BurntSushi spent time in proportion to a key's whole dotted path at every
// nesting level (it rebuilt the path as text to look up each level), so one
// value nested n deep cost n² and a table name of n parts n²; here each level
// costs the same, because tables keep their own children and a key's dotted
// path is only spelled out for an error message.

// Local date and time zones as BurntSushi names them; pyTime reads the names.
var (
	localOffset   = func() int { _, o := time.Now().Zone(); return o }()
	localDatetime = time.FixedZone("datetime-local", localOffset)
	localDate     = time.FixedZone("date-local", localOffset)
	localTime     = time.FixedZone("time-local", localOffset)
)

// tomlTable is what the reader knows of one table while it reads: its map
// (the value it returns), its sub-tables and arrays of tables, and whether a
// [header] may still define it.
type tomlTable struct {
	m        map[string]any
	kids     map[string]*tomlTable // tables and arrays of tables in m, by key
	aot      bool                  // an array of tables; last is its newest table
	last     *tomlTable            //
	implicit bool                  // made by [a.b] (for a) or a dotted key, not yet by a header
	level    int                   // root 0; one more for each table, array and key part
	keyLen   int                   // length of the dotted path from the root
	parent   *tomlTable            // for naming a key in an error
	name     string                //
}

func newTomlTable(parent *tomlTable, name string, level int) *tomlTable {
	t := &tomlTable{m: map[string]any{}, parent: parent, name: name, level: level}
	switch {
	case parent == nil:
	case parent.aot: // a table in an array of tables: same key
		t.keyLen = parent.keyLen
	case parent.parent == nil: // below the root: no dot
		t.keyLen = len(name)
	default:
		t.keyLen = parent.keyLen + 1 + len(name)
	}
	return t
}

// child returns the sub-table or array of tables at key, or nil.
func (t *tomlTable) child(key string) *tomlTable {
	if t.kids == nil {
		return nil
	}
	return t.kids[key]
}

func (t *tomlTable) link(key string, c *tomlTable) {
	if t.kids == nil {
		t.kids = map[string]*tomlTable{}
	}
	t.kids[key] = c
}

// path is the dotted path of t, for error messages only.
func (t *tomlTable) path() []string {
	var parts []string
	for ; t != nil && t.parent != nil; t = t.parent {
		if !t.parent.aot {
			parts = append(parts, t.name)
		}
	}
	slices.Reverse(parts)
	return parts
}

// errRedefined marks a tomlError about a key or table defined twice (the
// reader's rule rather than BurntSushi's); Load reports it as ErrSyntax.
var errRedefined = errors.New("key or table defined twice")

// tomlError is raised by panic inside the reader and recovered by parseTOML.
type tomlError struct {
	pos    int
	key    []string // the key being read, when known
	reason string
	kind   error // ErrSyntax, errRedefined or ErrLimit
}

type tomlReader struct {
	s    string
	pos  int
	root *tomlTable
	cur  *tomlTable // the table key/value lines go into

	// The key being read, for errors: the table it is in and its parts.
	keyTable *tomlTable
	keyParts []string
}

// parseTOML reads a TOML document. On failure it returns the byte offset of
// the problem, the key being read (if any), a description that never quotes
// the file, and the kind (ErrSyntax, errRedefined or ErrLimit).
func parseTOML(data string) (m map[string]any, err *tomlError) {
	// A BOM is skipped, as BurntSushi does (even UTF-16's, which is not TOML).
	skip := 0
	if strings.HasPrefix(data, "\xff\xfe") || strings.HasPrefix(data, "\xfe\xff") {
		skip = 2
	} else if strings.HasPrefix(data, "\xef\xbb\xbf") {
		skip = 3
	}
	if e := checkText(data, skip); e != nil {
		return nil, e
	}
	r := &tomlReader{s: data, pos: skip}
	r.root = newTomlTable(nil, "", 0)
	r.cur = r.root
	defer func() {
		if x := recover(); x != nil {
			e, ok := x.(*tomlError)
			if !ok {
				panic(x)
			}
			m, err = nil, e
		}
	}()
	r.document()
	return r.root.m, nil
}

// checkText rejects what BurntSushi's lexer rejects wherever it appears: bytes
// that are not UTF-8, control characters other than tab and newline, and a
// carriage return not followed by a newline. It also names NUL bytes at the
// start, the sign of a UTF-16 file.
func checkText(s string, from int) *tomlError {
	if i := strings.IndexByte(s[from:min(len(s), from+6)], 0); i >= 0 {
		return &tomlError{pos: from + i, reason: "the file contains NUL bytes (TOML files must be UTF-8)", kind: ErrSyntax}
	}
	for i := from; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\r' && (i+1 >= len(s) || s[i+1] != '\n'):
				return &tomlError{pos: i, reason: "a carriage return not followed by a newline", kind: ErrSyntax}
			case c < ' ' && c != '\t' && c != '\n' && c != '\r' || c == 0x7f:
				return &tomlError{pos: i, reason: "control character in the file", kind: ErrSyntax}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return &tomlError{pos: i, reason: "the file is not valid UTF-8", kind: ErrSyntax}
		}
		i += size
	}
	return nil
}

func (r *tomlReader) fail(pos int, reason string) {
	panic(&tomlError{pos: pos, key: r.errKey(), reason: reason, kind: ErrSyntax})
}

func (r *tomlReader) failKind(pos int, kind error, reason string) {
	panic(&tomlError{pos: pos, key: r.errKey(), reason: reason, kind: kind})
}

// errKey is the key being read, for an error; nil past MaxKeyLength, which
// would make the error too long to read.
func (r *tomlReader) errKey() []string {
	if r.keyTable == nil {
		return nil
	}
	key := append(r.keyTable.path(), r.keyParts...)
	n := len(key) - 1
	for _, p := range key {
		if n += len(p); n > MaxKeyLength {
			return nil
		}
	}
	return key
}

func (r *tomlReader) peek() byte {
	if r.pos < len(r.s) {
		return r.s[r.pos]
	}
	return 0
}

func (r *tomlReader) peekAt(k int) byte {
	if r.pos+k < len(r.s) {
		return r.s[r.pos+k]
	}
	return 0
}

func (r *tomlReader) skipSpace() {
	for r.pos < len(r.s) && (r.s[r.pos] == ' ' || r.s[r.pos] == '\t') {
		r.pos++
	}
}

// skipBlank skips spaces, newlines and comments (inside arrays and inline
// tables, and between top-level lines).
func (r *tomlReader) skipBlank() {
	for r.pos < len(r.s) {
		switch r.s[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		case '#':
			r.skipComment()
		default:
			return
		}
	}
}

func (r *tomlReader) skipComment() {
	if i := strings.IndexByte(r.s[r.pos:], '\n'); i >= 0 {
		r.pos += i
		if r.pos > 0 && r.s[r.pos-1] == '\r' {
			r.pos--
		}
		return
	}
	r.pos = len(r.s)
}

// endOfLine reads what may follow a header or a key/value on its line.
func (r *tomlReader) endOfLine() {
	r.skipSpace()
	if r.peek() == '#' {
		r.skipComment()
	}
	switch r.peek() {
	case 0, '\n', '\r': // 0: the end (checkText refused NUL bytes)
		return
	}
	r.fail(r.pos, "expected a newline after a value")
}

func (r *tomlReader) document() {
	for {
		r.skipBlank()
		if r.pos >= len(r.s) {
			return
		}
		r.keyTable, r.keyParts = nil, nil
		if r.peek() == '[' {
			r.header()
		} else {
			r.keyTable = r.cur
			r.keyValue(r.cur)
		}
		r.endOfLine()
	}
}

// key reads a dotted key up to (not including) what ends it, recording the
// parts in r.keyParts as it goes so that errors can name them.
func (r *tomlReader) key(inHeader bool) []string {
	r.skipSpace()
	switch c := r.peek(); {
	case inHeader && (c == ']' || c == 0 && r.pos >= len(r.s)):
		r.fail(r.pos, "invalid table name")
	case inHeader && c == '.':
		r.fail(r.pos, "invalid table name")
	case c == '=' || c == '.' || c == 0 && r.pos >= len(r.s):
		r.fail(r.pos, "blank key name")
	}
	for {
		r.skipSpace()
		start := r.pos
		var part string
		switch r.peek() {
		case '"':
			r.pos++
			part = r.basicString(start)
		case '\'':
			r.pos++
			part = r.literalString(start)
		default:
			for r.pos < len(r.s) && isBareKeyByte(r.s[r.pos]) {
				r.pos++
			}
			if r.pos == start {
				if inHeader {
					r.fail(r.pos, "invalid table name")
				}
				r.fail(r.pos, "invalid key")
			}
			part = r.s[start:r.pos]
		}
		r.keyParts = append(r.keyParts, part)
		r.skipSpace()
		if r.peek() != '.' {
			return r.keyParts
		}
		r.pos++
		r.skipSpace()
		switch c := r.peek(); {
		case inHeader && (c == ']' || c == 0 && r.pos >= len(r.s)):
			r.fail(r.pos, "invalid table name")
		case c == '=' || c == '.' || c == 0 && r.pos >= len(r.s):
			r.fail(r.pos, "blank key name")
		}
	}
}

func isBareKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// checkKey applies the key limits to a key of parts below t.
func (r *tomlReader) checkKey(pos int, t *tomlTable, parts []string) {
	if t.level+len(parts) > MaxDepth {
		r.failKind(pos, ErrLimit, depthLimitText)
	}
	n := t.keyLen
	for i, p := range parts {
		if i > 0 || t.parent != nil {
			n++ // the dot
		}
		n += len(p)
	}
	if n > MaxKeyLength {
		r.keyTable, r.keyParts = nil, nil // too long to print
		r.failKind(pos, ErrLimit, keyLimitText)
	}
}

// header reads [a.b] or [[a.b]] and makes its table the current one.
func (r *tomlReader) header() {
	start := r.pos
	r.pos++
	array := r.peek() == '['
	if array {
		r.pos++
	}
	r.keyTable, r.keyParts = r.root, nil
	parts := r.key(true)
	if r.peek() != ']' {
		r.fail(r.pos, "invalid table name")
	}
	r.pos++
	if array {
		if r.peek() != ']' {
			r.fail(r.pos, "invalid table name")
		}
		r.pos++
	}
	r.checkKey(start, r.root, parts)

	t := r.root
	for _, p := range parts[:len(parts)-1] {
		t = r.descend(start, t, p, false)
	}
	name := parts[len(parts)-1]
	c := t.child(name)
	switch {
	case c == nil:
		if _, taken := t.m[name]; taken {
			r.failKind(start, errRedefined, "the key already has a value, so it cannot be a table")
		}
		c = r.newTable(start, t, name, array)
		if array {
			c = c.last
		}
	case array && c.aot:
		c = r.appendTable(start, t, name, c)
	case array:
		r.failKind(start, errRedefined, "the key is already a table, so it cannot be an array of tables")
	case c.aot:
		r.failKind(start, errRedefined, "the key is already an array of tables")
	case c.implicit:
		c.implicit = false
	default:
		r.failKind(start, errRedefined, "the table is defined twice")
	}
	r.cur = c
}

// descend goes from t into its sub-table name for a header or a dotted key,
// making it (implicitly) when there is none; into an array of tables, it goes
// to the newest table, as BurntSushi does (for dotted keys too). As in
// BurntSushi, a dotted key that goes through a table that is already there
// closes it to headers: after a.x = 1, [a] may follow, after a.x = 1 and
// a.y = 2 it may not.
func (r *tomlReader) descend(pos int, t *tomlTable, name string, dotted bool) *tomlTable {
	c := t.child(name)
	switch {
	case c == nil:
		if _, taken := t.m[name]; taken {
			r.failKind(pos, errRedefined, "the key already has a value, so it cannot be a table")
		}
		c = r.newTable(pos, t, name, false)
		c.implicit = true
	case c.aot:
		c = c.last
	case dotted:
		c.implicit = false
	}
	return c
}

func (r *tomlReader) newTable(pos int, t *tomlTable, name string, array bool) *tomlTable {
	if t.level+1 > MaxDepth {
		r.failKind(pos, ErrLimit, depthLimitText)
	}
	c := newTomlTable(t, name, t.level+1)
	t.link(name, c)
	if !array {
		t.m[name] = c.m
		return c
	}
	c.aot = true
	t.m[name] = []any{}
	r.appendTable(pos, t, name, c)
	return c
}

func (r *tomlReader) appendTable(pos int, t *tomlTable, name string, arr *tomlTable) *tomlTable {
	if arr.level+1 > MaxDepth {
		r.failKind(pos, ErrLimit, depthLimitText)
	}
	e := newTomlTable(arr, "", arr.level+1)
	arr.last = e
	t.m[name] = append(t.m[name].([]any), e.m)
	return e
}

// keyValue reads "key = value" into t.
func (r *tomlReader) keyValue(t *tomlTable) {
	start := r.pos
	r.keyTable, r.keyParts = t, nil
	parts := r.key(false)
	if r.peek() != '=' {
		r.fail(r.pos, "expected '=' after a key")
	}
	r.pos++
	r.checkKey(start, t, parts)
	for _, p := range parts[:len(parts)-1] {
		t = r.descend(start, t, p, true)
	}
	name := parts[len(parts)-1]
	r.skipSpace()
	v, inline := r.value(t.level+1, t, name)
	if _, taken := t.m[name]; taken {
		r.failKind(start, errRedefined, "duplicate key")
	}
	t.m[name] = v
	if inline != nil {
		t.link(name, inline)
	}
}

// value reads one value at the given level. An inline table comes back with
// its table too, so that dotted keys may add to it later; parent and name
// place it (for errors and key lengths).
func (r *tomlReader) value(level int, parent *tomlTable, name string) (any, *tomlTable) {
	if level > MaxDepth {
		r.failKind(r.pos, ErrLimit, depthLimitText)
	}
	start := r.pos
	c := r.peek()
	switch {
	case isDigitByte(c):
		return r.numberOrDate(), nil
	case c == '[':
		return r.array(level, parent, name), nil
	case c == '{':
		t := r.inlineTable(level, parent, name)
		return t.m, t
	case c == '"':
		if strings.HasPrefix(r.s[r.pos:], `"""`) {
			r.pos += 3
			return r.multilineBasic(start), nil
		}
		r.pos++
		return r.basicString(start), nil
	case c == '\'':
		if strings.HasPrefix(r.s[r.pos:], `'''`) {
			r.pos += 3
			return r.multilineLiteral(start), nil
		}
		r.pos++
		return r.literalString(start), nil
	case c == 'i' || c == 'n':
		if strings.HasPrefix(r.s[r.pos:], "inf") {
			r.pos += 3
			return math.Inf(1), nil
		}
		if strings.HasPrefix(r.s[r.pos:], "nan") {
			r.pos += 3
			return math.NaN(), nil
		}
	case c == '+' || c == '-':
		return r.signedNumber(), nil
	case c == '.':
		r.fail(r.pos, "invalid float")
	}
	if ru, _ := utf8.DecodeRuneInString(r.s[r.pos:]); unicode.IsLetter(ru) {
		end := r.pos
		for end < len(r.s) {
			ru, size := utf8.DecodeRuneInString(r.s[end:])
			if !unicode.IsLetter(ru) {
				break
			}
			end += size
		}
		switch r.s[r.pos:end] {
		case "true":
			r.pos = end
			return true, nil
		case "false":
			r.pos = end
			return false, nil
		}
	}
	r.fail(r.pos, "expected a value")
	return nil, nil
}

func (r *tomlReader) array(level int, parent *tomlTable, name string) []any {
	r.pos++ // [
	out := make([]any, 0, 2)
	for {
		r.skipBlank()
		switch r.peek() {
		case ']':
			r.pos++
			return out
		case ',':
			r.fail(r.pos, "expected a value")
		}
		if r.pos >= len(r.s) {
			r.fail(r.pos, "unexpected end of file")
		}
		v, _ := r.value(level+1, parent, name)
		out = append(out, v)
		r.skipBlank()
		switch r.peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return out
		default:
			r.fail(r.pos, "expected ',' or a closing bracket")
		}
	}
}

// inlineTable reads {k = v, ...}; TOML 1.1 allows newlines, comments and a
// trailing comma inside.
func (r *tomlReader) inlineTable(level int, parent *tomlTable, name string) *tomlTable {
	r.pos++ // {
	t := newTomlTable(parent, name, level)
	keyTable, keyParts := r.keyTable, r.keyParts
	for {
		r.skipBlank()
		switch r.peek() {
		case '}':
			r.pos++
			r.keyTable, r.keyParts = keyTable, keyParts
			return t
		case ',':
			r.fail(r.pos, "expected a key")
		}
		if r.pos >= len(r.s) {
			r.fail(r.pos, "unexpected end of file")
		}
		r.keyValue(t)
		r.keyTable, r.keyParts = keyTable, keyParts
		r.skipBlank()
		switch r.peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return t
		default:
			r.fail(r.pos, "expected ',' or a closing bracket")
		}
	}
}

// ---------------------------------------------------------------------------
// Strings

// basicString reads the rest of "..." (the quote is read); start is where the
// string began, for errors.
func (r *tomlReader) basicString(start int) string {
	s := r.s
	i := r.pos
	// Fast path: no escapes.
	for i < len(s) && s[i] != '"' && s[i] != '\\' && s[i] != '\n' && s[i] != '\r' {
		i++
	}
	if i < len(s) && s[i] == '"' {
		out := s[r.pos:i]
		r.pos = i + 1
		return out
	}
	var b strings.Builder
	b.WriteString(s[r.pos:i])
	r.pos = i
	for {
		if r.pos >= len(s) {
			r.fail(start, "unterminated string")
		}
		switch c := s[r.pos]; c {
		case '"':
			r.pos++
			return b.String()
		case '\n', '\r':
			r.fail(r.pos, "strings cannot contain newlines")
		case '\\':
			r.escape(&b, false)
		default:
			b.WriteByte(c)
			r.pos++
		}
	}
}

// escape reads one escape sequence at r.pos (the backslash) into b.
func (r *tomlReader) escape(b *strings.Builder, multiline bool) {
	s := r.s
	at := r.pos
	if r.pos+1 >= len(s) {
		r.fail(at, "unterminated string")
	}
	e := s[r.pos+1]
	r.pos += 2
	switch e {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case 'e':
		b.WriteByte(0x1b)
	case '"':
		b.WriteByte('"')
	case '\\':
		b.WriteByte('\\')
	case 'x', 'u', 'U':
		n := 2
		switch e {
		case 'u':
			n = 4
		case 'U':
			n = 8
		}
		if r.pos+n > len(s) {
			r.fail(at, "invalid escape sequence in a string")
		}
		for k := 0; k < n; k++ {
			if !isHexByte(s[r.pos+k]) {
				r.fail(at, "invalid escape sequence in a string")
			}
		}
		v, _ := strconv.ParseUint(s[r.pos:r.pos+n], 16, 32)
		if !utf8.ValidRune(rune(v)) {
			r.fail(at, "invalid escape sequence in a string")
		}
		r.pos += n
		b.WriteRune(rune(v))
	default:
		if multiline && (e == ' ' || e == '\t' || e == '\n' || e == '\r') {
			// A line-ending backslash: only blanks until the newline, then
			// every blank and newline up to the next text is dropped.
			j := r.pos - 1
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j < len(s) && (s[j] == '\n' || s[j] == '\r') {
				for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
					j++
				}
				r.pos = j
				return
			}
		}
		r.fail(at, "invalid escape sequence in a string")
	}
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

// literalString reads the rest of '...'.
func (r *tomlReader) literalString(start int) string {
	s := r.s
	i := r.pos
	for i < len(s) && s[i] != '\'' && s[i] != '\n' && s[i] != '\r' {
		i++
	}
	switch {
	case i >= len(s):
		r.fail(start, "unterminated string")
	case s[i] != '\'':
		r.fail(i, "strings cannot contain newlines")
	}
	out := s[r.pos:i]
	r.pos = i + 1
	return out
}

// closingQuotes reports whether the run of quotes q at r.pos closes a
// multi-line string whose text starts at from, and how many of its quotes
// belong to the text. It follows BurntSushi's lexer step by step: a run of
// three to five quotes closes the string (one or two are text) and six or more
// are an error, except just after an escaped backslash, where six close it.
func (r *tomlReader) closingQuotes(from int, q byte) (closes bool, text int) {
	s := r.s
	n := 0
	for r.pos+n < len(s) && s[r.pos+n] == q {
		n++
	}
	if n < 3 {
		return false, n
	}
	five := strings.Repeat(string(q), 5)
	for k := 0; n-k >= 4; k++ {
		cur := s[from : r.pos+k+3]
		if strings.HasSuffix(cur, five) && (q == '\'' || !strings.HasSuffix(cur, `\"""""`)) {
			r.fail(r.pos, "too many quotes at the end of a string")
		}
		text = k + 1
	}
	return true, text
}

// multilineBasic reads the rest of """...""".
func (r *tomlReader) multilineBasic(start int) string {
	s := r.s
	from := r.pos
	r.skipFirstNewline()
	var b strings.Builder
	for {
		if r.pos >= len(s) {
			r.fail(start, "unterminated string")
		}
		switch c := s[r.pos]; c {
		case '"':
			closes, text := r.closingQuotes(from, '"')
			for k := 0; k < text; k++ {
				b.WriteByte('"')
			}
			r.pos += text
			if closes {
				r.pos += 3
				return b.String()
			}
		case '\\':
			r.escape(&b, true)
		default:
			j := r.pos + 1
			for j < len(s) && s[j] != '"' && s[j] != '\\' {
				j++
			}
			b.WriteString(s[r.pos:j])
			r.pos = j
		}
	}
}

// multilineLiteral reads the rest of ”'...”'.
func (r *tomlReader) multilineLiteral(start int) string {
	s := r.s
	from := r.pos
	r.skipFirstNewline()
	text0 := r.pos
	for {
		i := strings.IndexByte(s[r.pos:], '\'')
		if i < 0 {
			r.fail(start, "unterminated string")
		}
		r.pos += i
		closes, text := r.closingQuotes(from, '\'')
		r.pos += text
		if closes {
			out := s[text0:r.pos]
			r.pos += 3
			return out
		}
	}
}

func (r *tomlReader) skipFirstNewline() {
	if r.peek() == '\n' {
		r.pos++
	} else if r.peek() == '\r' && r.peekAt(1) == '\n' {
		r.pos += 2
	}
}

// ---------------------------------------------------------------------------
// Numbers, dates and times: the token is cut where BurntSushi's lexer cuts it
// and checked with its rules, so both accept the same texts.

func (r *tomlReader) scan(ok func(byte) bool) {
	for r.pos < len(r.s) && ok(r.s[r.pos]) {
		r.pos++
	}
}

func isDecimalByte(c byte) bool { return isDigitByte(c) || c == '_' }
func isFloatByte(c byte) bool {
	return isDigitByte(c) || c == '_' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'
}
func isDateByte(c byte) bool {
	switch c {
	case '-', ':', 'T', 't', ' ', '.', 'Z', 'z', '+':
		return true
	}
	return isDigitByte(c)
}

func (r *tomlReader) numberOrDate() any {
	start := r.pos
	if r.s[r.pos] == '0' {
		r.pos++
		switch c := r.peek(); {
		case isDigitByte(c):
			return r.digitsOrDate(start)
		case c == '_':
			return r.decimal(start)
		case c == '.' || c == 'e' || c == 'E':
			return r.float(start)
		case c == 'b' || c == 'o' || c == 'x':
			valid := isHexByte
			switch c {
			case 'b':
				valid = func(c byte) bool { return c == '0' || c == '1' }
			case 'o':
				valid = func(c byte) bool { return '0' <= c && c <= '7' }
			}
			r.pos++
			if !valid(r.peek()) {
				r.fail(start, "invalid integer")
			}
			r.scan(func(c byte) bool { return valid(c) || c == '_' })
			return r.integer(start)
		}
		return r.integer(start)
	}
	return r.digitsOrDate(start)
}

func (r *tomlReader) digitsOrDate(start int) any {
	r.scan(isDigitByte)
	switch c := r.peek(); {
	case c == '-' || c == ':':
		r.scan(isDateByte)
		return r.datetime(start)
	case c == '_':
		return r.decimal(start)
	case c == '.' || c == 'e' || c == 'E':
		return r.float(start)
	}
	return r.integer(start)
}

func (r *tomlReader) decimal(start int) any {
	r.scan(isDecimalByte)
	if c := r.peek(); c == '.' || c == 'e' || c == 'E' {
		return r.float(start)
	}
	return r.integer(start)
}

func (r *tomlReader) signedNumber() any {
	start := r.pos
	r.pos++
	switch c := r.peek(); {
	case c == 'i':
		if !strings.HasPrefix(r.s[r.pos:], "inf") {
			r.fail(start, "invalid float")
		}
		r.pos += 3
		return r.float(start)
	case c == 'n':
		if !strings.HasPrefix(r.s[r.pos:], "nan") {
			r.fail(start, "invalid float")
		}
		r.pos += 3
		return r.float(start)
	case c == '0' && (r.peekAt(1) == 'b' || r.peekAt(1) == 'o' || r.peekAt(1) == 'x'):
		r.fail(start, "a sign on a non-decimal number")
	case c == '.':
		r.fail(start, "invalid float")
	case !isDigitByte(c):
		r.fail(start, "invalid number")
	}
	return r.decimal(start)
}

func (r *tomlReader) integer(start int) any {
	text := r.s[start:r.pos]
	if !numUnderscoresOK(text) || numHasLeadingZero(text) {
		r.fail(start, "invalid integer")
	}
	n, err := strconv.ParseInt(text, 0, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			r.fail(start, "number out of range")
		}
		r.fail(start, "invalid integer")
	}
	return n
}

// float reads from start to the end of a float token; an inf or nan is read.
func (r *tomlReader) float(start int) any {
	r.scan(isFloatByte)
	text := r.s[start:r.pos]
	parts := strings.FieldsFunc(text, func(c rune) bool { return c == '.' || c == 'e' || c == 'E' })
	for _, p := range parts {
		if !numUnderscoresOK(p) {
			r.fail(start, "invalid float")
		}
	}
	if len(parts) > 0 && numHasLeadingZero(parts[0]) || !numPeriodsOK(text) {
		r.fail(start, "invalid float")
	}
	val := strings.ReplaceAll(text, "_", "")
	neg := false
	if val == "+nan" || val == "-nan" {
		neg, val = val == "-nan", "nan"
	}
	f, err := strconv.ParseFloat(val, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			r.fail(start, "number out of range")
		}
		r.fail(start, "invalid float")
	}
	if neg {
		f = math.Copysign(f, -1)
	}
	return f
}

// numHasLeadingZero, numUnderscoresOK and numPeriodsOK are BurntSushi's.
func numHasLeadingZero(s string) bool {
	if len(s) > 1 && s[0] == '0' && !(s[1] == 'b' || s[1] == 'o' || s[1] == 'x') {
		return true
	}
	return len(s) > 2 && (s[0] == '-' || s[0] == '+') && s[1] == '0'
}

func numUnderscoresOK(s string) bool {
	switch s {
	case "nan", "+nan", "-nan", "inf", "-inf", "+inf":
		return true
	}
	accept := false
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && !accept {
			return false
		}
		accept = isHexByte(s[i])
	}
	return accept
}

func numPeriodsOK(s string) bool {
	period := false
	for i := 0; i < len(s); i++ {
		if period && !isDigitByte(s[i]) {
			return false
		}
		period = s[i] == '.'
	}
	return !period
}

var dateLayouts = []struct {
	layout string
	zone   *time.Location
}{
	{time.RFC3339Nano, time.Local},
	{"2006-01-02T15:04:05.999999999", localDatetime},
	{"2006-01-02", localDate},
	{"15:04:05.999999999", localTime},
	{"2006-01-02T15:04Z07:00", time.Local},
	{"2006-01-02T15:04", localDatetime},
	{"15:04", localTime},
}

var dateReplacer = strings.NewReplacer("z", "Z", "t", "T", " ", "T")

func (r *tomlReader) datetime(start int) any {
	text := dateReplacer.Replace(strings.TrimSpace(r.s[start:r.pos]))
	for _, d := range dateLayouts {
		t, err := time.ParseInLocation(d.layout, text, d.zone)
		if err == nil {
			if missingLeadingZero(text, d.layout) {
				break
			}
			return t
		}
	}
	r.fail(start, "invalid date or time")
	return nil
}

// missingLeadingZero is BurntSushi's: time.Parse accepts "1:02" for "15:04".
func missingLeadingZero(d, l string) bool {
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '.' || c == 'Z' {
			return false
		}
		if (c < '0' || c > '9') && d[i] != c {
			return true
		}
	}
	return false
}

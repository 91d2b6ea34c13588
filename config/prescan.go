package config

import "strings"

// prescan checks a TOML text against MaxDepth and MaxKeyLength before
// BurntSushi/toml reads it. The library spells a key's whole dotted path
// out at every level it descends, so a value nested n levels deep, or a key
// of n parts, costs it time in n²: 5,000 nested inline tables took seconds.
// Within the limits that cost is bounded, and reading stays linear in the
// size of the file.
//
// prescan reads only what the limits need: it skips strings and comments,
// follows brackets and braces, and measures keys (a table header's, then
// each key's within it). Everything else, and every syntax error, is left
// to the library; a text prescan accepts may still be refused there.
func prescan(s string) *tomlError {
	p := scanner{s: s}
	return p.run()
}

// A frame is an open array or inline table.
type frame struct {
	table   bool     // '{' rather than '['
	level   int      // the level of its contents' keys (table) or elements (array)
	pathLen int      // bytes of the key path from the top to it
	path    []string // that key path, for messages
}

type scanner struct {
	s      string
	i      int
	frames []frame

	// Top-level state: the table header's level, path length and path.
	headLevel, headLen int
	headPath           []string
	// The key being read: where it began, its parts and bytes so far.
	inKey            bool
	keyStart         int
	keyParts, keyLen int
	// The level, path length and path of the value being read.
	valLevel, valLen int
	valPath          []string
}

func (p *scanner) run() *tomlError {
	p.startKey()
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == '\n':
			p.i++
			if len(p.frames) == 0 {
				p.startKey()
			}
		case c == ' ' || c == '\t' || c == '\r':
			p.i++
		case c == '"' || c == '\'':
			start := p.i
			p.skipString()
			if p.inKey {
				p.keyBegins(start)
				p.keyLen += p.i - start
			}
		case p.inKey && len(p.frames) == 0 && c == '[' && p.keyParts == 0 && p.keyLen == 0:
			if e := p.header(); e != nil {
				return e
			}
		case p.inKey && c == '.':
			p.keyParts++
			p.keyLen++
			p.i++
		case p.inKey && c == '=':
			if e := p.endKey(); e != nil {
				return e
			}
			p.i++
		case p.inKey && c == '}' && len(p.frames) > 0 && p.frames[len(p.frames)-1].table:
			p.frames = p.frames[:len(p.frames)-1] // {} : an empty inline table
			p.inKey = false
			p.i++
		case p.inKey:
			p.keyBegins(p.i)
			p.keyLen++
			p.i++
		case c == '[' || c == '{':
			f := frame{table: c == '{', level: p.valLevel, pathLen: p.valLen, path: p.valPath}
			if !f.table {
				f.level++
			}
			if f.level > MaxDepth {
				return p.failAt(p.i, f.path, depthLimitText)
			}
			p.frames = append(p.frames, f)
			p.i++
			if f.table {
				p.startKey()
			} else {
				p.valLevel = f.level
			}
		case c == ']' || c == '}':
			if len(p.frames) > 0 {
				p.frames = p.frames[:len(p.frames)-1]
			}
			p.i++
		case c == ',':
			p.i++
			if n := len(p.frames); n > 0 {
				if f := p.frames[n-1]; f.table {
					p.startKey()
				} else {
					p.valLevel, p.valLen, p.valPath = f.level, f.pathLen, f.path
				}
			}
		default:
			p.i++ // part of a number, a date, true or false
		}
	}
	return nil
}

// startKey begins reading a key: at the top of a line, after '{' or after
// ',' in an inline table.
func (p *scanner) startKey() {
	p.inKey, p.keyStart, p.keyParts, p.keyLen = true, p.i, 0, 0
}

// keyBegins notes where the key begins, at its first byte.
func (p *scanner) keyBegins(at int) {
	if p.keyLen == 0 && p.keyParts == 0 {
		p.keyStart = at
	}
}

// endKey checks the key read, at its '=', and begins its value.
func (p *scanner) endKey() *tomlError {
	level, pathLen, path := p.headLevel, p.headLen, p.headPath
	if n := len(p.frames); n > 0 {
		level, pathLen, path = p.frames[n-1].level, p.frames[n-1].pathLen, p.frames[n-1].path
	}
	path = append(path[:len(path):len(path)], keyParts(p.s[p.keyStart:p.i])...)
	level += p.keyParts + 1
	pathLen += p.keyLen
	if pathLen > 0 && level > 1 {
		pathLen++ // the '.' joining it to its table's path
	}
	p.inKey = false
	p.valLevel, p.valLen, p.valPath = level, pathLen, path
	switch {
	case level > MaxDepth:
		return p.failAt(p.keyStart, path, depthLimitText)
	case pathLen > MaxKeyLength:
		return p.failAt(p.keyStart, nil, keyLimitText) // too long to name
	}
	return nil
}

// keyParts splits a key as written ("a.b", `"a.b".c`) into its parts, for
// messages: bare parts as they are, quoted ones with their quotes.
func keyParts(key string) []string {
	var parts []string
	start, quote := 0, byte(0)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(key[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(key[start:]))
}

// header reads a table header, [a.b] or [[a.b]], and sets the level and
// path its keys hang from.
func (p *scanner) header() *tomlError {
	start := p.i
	p.i++
	if p.i < len(p.s) && p.s[p.i] == '[' {
		p.i++
	}
	parts, n, from := 1, 0, p.i
	for p.i < len(p.s) && p.s[p.i] != ']' && p.s[p.i] != '\n' {
		switch c := p.s[p.i]; c {
		case '"', '\'':
			from := p.i
			p.skipString()
			n += p.i - from
			continue
		case '.':
			parts++
		}
		n++
		p.i++
	}
	p.headLevel, p.headLen, p.headPath = parts, n, keyParts(p.s[from:p.i])
	if strings.HasPrefix(p.s[start:], "[[") {
		p.headLevel++ // each table of an array of tables is a level below it
	}
	switch {
	case p.headLevel > MaxDepth:
		return p.failAt(start, p.headPath, depthLimitText)
	case n > MaxKeyLength:
		return p.failAt(start, nil, keyLimitText)
	}
	for p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
	}
	p.inKey = false // the rest of the line is the library's to judge
	return nil
}

// skipString moves past a string that starts at p.i: basic or literal,
// on one line or several. An unterminated one ends the text (the library
// reports it).
func (p *scanner) skipString() {
	q := p.s[p.i]
	if strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3)) {
		end := strings.Repeat(string(q), 3)
		p.i += 3
		for p.i < len(p.s) {
			if q == '"' && p.s[p.i] == '\\' {
				p.i = min(p.i+2, len(p.s)) // a backslash may end the text
				continue
			}
			if strings.HasPrefix(p.s[p.i:], end) {
				p.i += 3
				// Up to two more quotes belong to the string ("""a"""").
				for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] == q; k++ {
					p.i++
				}
				return
			}
			p.i++
		}
		return
	}
	p.i++
	for p.i < len(p.s) && p.s[p.i] != '\n' {
		switch p.s[p.i] {
		case '\\':
			if q == '"' {
				p.i = min(p.i+2, len(p.s)) // a backslash may end the text
				continue
			}
		case q:
			p.i++
			return
		}
		p.i++
	}
}

func (p *scanner) failAt(pos int, key []string, reason string) *tomlError {
	return &tomlError{pos: min(pos, len(p.s)), key: key, reason: reason, kind: ErrLimit}
}

package config

import (
	"errors"
	"strings"

	"github.com/BurntSushi/toml"
)

// TOML is read with github.com/BurntSushi/toml, after prescan has checked
// the limits the library cannot be trusted with (it spends time in n² on a
// value nested n deep, or a key of n parts). Values are the library's:
// int64, float64, string, bool, time.Time (local dates and times in its
// zones "datetime-local", "date-local" and "time-local"), []any and
// map[string]any, arrays of tables turned into []any by normalize.

// A tomlError is a TOML text refused: where (a byte offset), the key being
// read when known, a fixed reason that never quotes the text (it may hold a
// secret), and the kind (ErrSyntax or ErrLimit).
type tomlError struct {
	pos    int
	key    []string
	reason string
	kind   error
}

// parseTOML reads data, a whole TOML document.
func parseTOML(data string) (map[string]any, *tomlError) {
	if e := prescan(data); e != nil {
		return nil, e
	}
	var m map[string]any
	if _, err := toml.Decode(data, &m); err != nil {
		e := &tomlError{reason: "syntax error", kind: ErrSyntax}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.pos = min(max(pe.Position.Start, 0), len(data))
			if pe.LastKey != "" {
				e.key = strings.Split(pe.LastKey, ".")
			}
			e.reason = tomlReason(pe.Message)
		}
		return nil, e
	}
	if m == nil {
		m = map[string]any{}
	}
	return normalize(m).(map[string]any), nil
}

// tomlReason turns a BurntSushi/toml message into a fixed description,
// because the message may quote the offending value (a secret, say). A
// message the table does not know is "syntax error": the position still
// says where.
func tomlReason(msg string) string {
	for _, r := range [...]struct{ match, reason string }{
		{"Invalid integer", "invalid integer"},
		{"nvalid float", "invalid float"},
		{"floats must start with a digit", "invalid float"},
		{"not a binary number", "invalid binary number"},
		{"not an octal number", "invalid octal number"},
		{"not a hexadecimal number", "invalid hexadecimal number"},
		{"cannot use sign with non-decimal", "a sign on a non-decimal number"},
		{"expected a digit", "invalid number"},
		{"out of range", "number out of range"},
		{"out of the safe", "number out of range"},
		{"invalid datetime", "invalid date or time"},
		{"invalid duration", "invalid duration"},
		{"has already been defined", "duplicate key"},
		{"already created as a hash", "key already defined as a table"},
		{"cannot be used as an array", "key already defined; it cannot be an array of tables"},
		{"is not a table", "key is not a table"},
		{"escape", "invalid escape sequence in a string"},
		{"hexadecimal digits after", "invalid escape sequence in a string"},
		{"Escaped character", "invalid escape sequence in a string"},
		{"strings cannot contain newlines", "strings cannot contain newlines"},
		{"newlines not allowed within inline tables", "newlines are not allowed within inline tables"},
		{"control characters", "control character in the file"},
		{"invalid UTF-8", "the file is not valid UTF-8"},
		{"NULL bytes", "the file contains NUL bytes (TOML files must be UTF-8)"},
		{"unexpected EOF", "unexpected end of file"},
		{"expected value", "expected a value"},
		{"key name appears blank", "blank key name"},
		{"expected '.' or '='", "expected '=' after a key"},
		{"expected a top-level item to end", "expected a newline after a value"},
		{"table name", "invalid table name"},
		{"comma", "expected ',' or a closing bracket"},
	} {
		if strings.Contains(msg, r.match) {
			return r.reason
		}
	}
	return "syntax error"
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

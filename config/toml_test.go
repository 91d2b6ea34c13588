package config

import (
	"errors"
	"strings"
	"testing"
)

// Where the TOML reader refuses what BurntSushi let through, and how its
// syntax errors read: the line and column of the problem, the key, a fixed
// reason.
func TestTOMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want string // Error() after "config: FILE"
	}{
		// BurntSushi read this as a.b.c = 1 and dropped the 2.
		{"a.b.c = 1\na.b = 2\n", `:2:1: key "a.b": invalid TOML: duplicate key`},
		{"[a.b.c]\n[a]\nb = 1\n", `:3:1: key "a.b": invalid TOML: duplicate key`},
		// BurntSushi replaced the array with a table.
		{"a = [1]\na.b = 2\n", `:2:1: key "a.b": invalid TOML: the key already has a value, so it cannot be a table`},
		{"[a]\nx = 1\n[a]\n", `:3:1: key "a": invalid TOML: the table is defined twice`},
		{"a = {b = 1}\n[a]\n", `:2:1: key "a": invalid TOML: the table is defined twice`},
		{"a = 1\n[[a]]\n", `:2:1: key "a": invalid TOML: the key already has a value, so it cannot be a table`},
		{"[[a]]\n[a]\n", `:2:1: key "a": invalid TOML: the key is already an array of tables`},
		{"[a]\n[[a]]\n", `:2:1: key "a": invalid TOML: the key is already a table, so it cannot be an array of tables`},
		{"x.y = 1\nx.z = 2\n[x]\n", `:3:1: key "x": invalid TOML: the table is defined twice`},
		{"[t]\nk = tru\n", `:2:5: key "t.k": invalid TOML: expected a value`},
		{"k = \"a\\qb\"\n", `:1:7: key "k": invalid TOML: invalid escape sequence in a string`},
		{"k = 'a\nb'\n", `:1:7: key "k": invalid TOML: strings cannot contain newlines`},
		{"k = \"\"\"abc\n", `:1:5: key "k": invalid TOML: unterminated string`},
		{"k = 1 2\n", `:1:7: key "k": invalid TOML: expected a newline after a value`},
		{"k = [1 2]\n", `:1:8: key "k": invalid TOML: expected ',' or a closing bracket`},
		{"k = {a = 1 b = 2}\n", `:1:12: key "k": invalid TOML: expected ',' or a closing bracket`},
		{"k = 0x\n", `:1:5: key "k": invalid TOML: invalid integer`},
		{"k = 99999999999999999999\n", `:1:5: key "k": invalid TOML: number out of range`},
		{"k = 1.\n", `:1:5: key "k": invalid TOML: invalid float`},
		{"k = 2021-02-30\n", `:1:5: key "k": invalid TOML: invalid date or time`},
		{"[a.]\n", `:1:4: key "a": invalid TOML: invalid table name`},
		{"= 1\n", `:1:1: invalid TOML: blank key name`},
		{"k\n= 1\n", `:1:2: key "k": invalid TOML: expected '=' after a key`},
		{"k = 1\r\nj = 2\rx = 3\n", `:2:6: invalid TOML: a carriage return not followed by a newline`},
		{"k = \"\x01\"\n", `:1:6: invalid TOML: control character in the file`},
		{"k = \"\xff\"\n", `:1:6: invalid TOML: the file is not valid UTF-8`},
		{"\x00k = 1\n", `:1:1: invalid TOML: the file contains NUL bytes (TOML files must be UTF-8)`},
	}
	for _, tt := range tests {
		home := newHome(t)
		path := userFile(t, home, tt.file)
		e := loadErr(t, home)
		if !errors.Is(e, ErrSyntax) {
			t.Errorf("%q: %q is not ErrSyntax", tt.file, e)
		}
		if want := "config: " + path + tt.want; e.Error() != want {
			t.Errorf("%q:\n got %s\nwant %s", tt.file, strings.TrimPrefix(e.Error(), "config: "+path), tt.want)
		}
	}
}

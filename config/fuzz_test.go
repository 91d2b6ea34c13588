package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// The seed entries below and those in testdata/fuzz run with every go test;
// go test -fuzz FuzzX -fuzztime 1m ./config/ explores further.

// FuzzTOML reads a file with this package's TOML reader and with
// BurntSushi/toml, which Load used before: whatever the reader accepts,
// BurntSushi accepts with the same values, and where the reader refuses what
// BurntSushi accepts it is for one of its deliberate rules (a key or table
// defined twice) or a limit.
func FuzzTOML(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gerr := parseTOML(s)
		if gerr != nil && (gerr.pos < 0 || gerr.pos > len(s)) {
			t.Fatalf("error at %d, outside the file (%d bytes)", gerr.pos, len(s))
		}
		want, berr, ok := burntSushi(s)
		if !ok {
			return // BurntSushi panicked: its bug, nothing to compare
		}
		switch {
		case gerr == nil && berr != nil:
			t.Fatalf("reader accepts %q (%#v); BurntSushi: %v", s, got, berr)
		case gerr == nil && !sameTOML(got, want):
			t.Fatalf("reader reads %q as\n%#v\nBurntSushi as\n%#v", s, got, want)
		case gerr != nil && berr == nil && gerr.kind != errRedefined && gerr.kind != ErrLimit:
			t.Fatalf("reader refuses %q (%s at %d); BurntSushi accepts it as %#v", s, gerr.reason, gerr.pos, want)
		}
	})
}

func burntSushi(s string) (m map[string]any, err error, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err = toml.Decode(s, &m)
	return m, err, true
}

var tomlSeeds = []string{
	"",
	"a = 1\n",
	"# comment\r\n[t]\r\nk = 'v' # c\r\n",
	"a.b.c = 1\na.b.d = [1, 2.5, 'x', \"y\", true, 1979-05-27]\n",
	"[a]\n[a.b]\n[[c]]\nx = 1\n[[c]]\n[c.d]\ny = 2\n",
	"t = {a = 1, b.c = {d = [{e = 1}]}, }\nu = {\n  x = 1, # c\n}\n",
	"s = \"\\u00e9\\U0001F600\\x41\\e\\t\\\"\"\nl = 'C:\\path'\n",
	"m = \"\"\"\nline\\\n   next \"\" \"\"\"\"\"\nr = '''\none ''\n'''''\n",
	"i = [0x1F, 0o17, 0b101, +1_000, -0, 9223372036854775807]\n",
	"f = [1.5, -0.0, 1e10, 6.02E+23, inf, -inf, nan, +nan, 1_0.0_1]\n",
	"d = [1979-05-27T07:32:00Z, 1979-05-27T00:32:00.999999-07:00, 1979-05-27 07:32:00, 07:32:00.5, 07:32, 1979-05-27T07:32]\n",
	"\"quoted key\" = 1\n'lit.key' = 2\n\"\" = 3\na . b = 4\n",
	"x.y = 1\n[x]\nz = 2\n",
	"a = {b = 1}\na.c = 2\n[a.d]\n",
	"[[a]]\nb.c = 1\n[a.b]\n",
	"a = 1\na = 2\n",
	"a.b.c = 1\na.b = 2\n",
	"a = [1]\na.b = 2\n",
	"[a]\n[a]\n",
	"a = 1 b = 2\n",
	"a = \"\\q\"\n",
	"a = 01\n",
	"a = 1__0\n",
	"a = 1979-02-30\n",
	"a = \"x\n",
	"a = {b = 1\n",
	"a = [1,,2]\n",
	"a = \"\"\"x\"\"\"\"\"\"\n",
	"a\r = 1\n",
	"a = \x01\n",
	"\xff = 1\n",
	"\xef\xbb\xbfa = 1\n",
}

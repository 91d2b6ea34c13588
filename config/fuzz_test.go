package config

import (
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/prefect-go/prefect/internal/python"
)

// The seed entries below and those in testdata/fuzz run with every go test;
// go test -fuzz FuzzX -fuzztime 1m ./config/ explores further.

// FuzzTOML reads a file with parseTOML: BurntSushi/toml behind prescan's
// limits. An error is placed inside the file; a file too short to reach a
// limit (each level of depth takes a byte) is never refused by prescan, and
// is read exactly as BurntSushi reads it.
func FuzzTOML(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gerr := parseTOML(s)
		if gerr != nil && (gerr.pos < 0 || gerr.pos > len(s)) {
			t.Fatalf("error at %d, outside the file (%d bytes)", gerr.pos, len(s))
		}
		if len(s) > MaxDepth {
			return
		}
		if gerr != nil && gerr.kind == ErrLimit {
			t.Fatalf("prescan refuses %q, %d bytes: %s", s, len(s), gerr.reason)
		}
		want, berr, ok := burntSushi(s)
		if !ok {
			return // BurntSushi panicked: its bug, nothing to compare
		}
		switch {
		case (gerr == nil) != (berr == nil):
			t.Fatalf("parseTOML: %v; BurntSushi: %v", gerr, berr)
		case gerr == nil && !sameTOML(got, normalize(want)):
			t.Fatalf("parseTOML reads %q as\n%#v\nBurntSushi as\n%#v", s, got, want)
		}
	})
}

func mustRepr(t *testing.T, v any) string {
	t.Helper()
	s, err := python.Repr(v)
	if err != nil {
		t.Fatalf("Repr(%#v): %v", v, err)
	}
	return s
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

// FuzzLiteral: coercion's literal step (Python's literal_eval in config's
// types) never panics, and a value it makes, printed with Python's repr(),
// reads back as the same value, so that a value put into text by a ${key}
// reference and read again is unchanged. Two kinds of value are left out,
// as in Python: a float that is not finite (repr gives inf or nan, which
// literal_eval refuses) and an integer of more than 4300 digits (repr
// raises ValueError). internal/python's FuzzLiteralEval fuzzes the parser
// itself against Python's rules.
func FuzzLiteral(f *testing.F) {
	for _, s := range literalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := literal(s)
		if !ok || !reprable(v) {
			return
		}
		text := mustRepr(t, v)
		back, ok := literal(text)
		if !ok {
			t.Fatalf("literal(%q) = %#v, whose repr %q does not parse", s, v, text)
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("literal(%q) = %#v; its repr %q parses as %#v", s, v, text, back)
		}
	})
}

// reprable reports whether repr() of v parses back in Python.
func reprable(v any) bool {
	switch t := v.(type) {
	case float64:
		return !math.IsInf(t, 0) && !math.IsNaN(t)
	case complex128:
		return reprable(real(t)) && reprable(imag(t))
	case *big.Int:
		_, err := python.Repr(t)
		return err == nil
	case []any:
		for _, x := range t {
			if !reprable(x) {
				return false
			}
		}
	case map[string]any:
		for _, x := range t {
			if !reprable(x) {
				return false
			}
		}
	}
	return true
}

var literalSeeds = []string{
	"0", "-7.5", "0x_ff", "1_000", "1e-3", "2j", "1-2j", "-(2j)", "None", "True",
	"'a\\tb'", `"it's"`, `r'\d'`, `b'\x00\xff'`, `'\u00e9\U0001F600'`, `'\udcff'`,
	"'''a\nb'''", "'a' 'b'", "[1, [2, (3,)], {}]", "(1,)", "1, 2,",
	"{'a': 1, 'a': 2}", "{1: 'x', True: 'y', 1.0: 'z'}", "{(1, 'a'): [b'x']}",
	"{('a,sb',): 1, ('a', 'b'): 2}", "{None, 'a', (1, 2), 'a'}", "set()",
	"[\n 1, # one\n 2\n]", "99999999999999999999", "-0.0", "1e400",
	strings.Repeat("[", 199) + strings.Repeat("]", 199),
	strings.Repeat("-", 150) + "1",
}

// FuzzLoad loads a config file with an environment (one variable a line) and
// checks what must hold whatever they say:
//   - Load returns or fails with an *Error; it never panics;
//   - an error never shows a value: not the secret planted in the file, nor
//     the one planted in a variable;
//   - a load that succeeds holds the planted variable's secret exactly;
//   - the result is the same whether the text is the user file or
//     backend.toml (Load merges them in that order, over the defaults);
//   - two loads of the same input give the same result (nothing depends on
//     map order).
func FuzzLoad(f *testing.F) {
	for _, s := range loadSeeds {
		f.Add(s.file, s.env)
	}
	f.Fuzz(func(t *testing.T, file, env string) {
		const fileSecret, envSecret = "planted/fileSecret!9", "planted/envSecret!7"
		if strings.Contains(file+env, "planted") {
			return // the input names the secret itself, so it may be in errors
		}
		home := t.TempDir()
		dir := filepath.Join(home, ".prefect")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		vars := []string{"HOME=" + home}
		for _, line := range strings.Split(env, "\n") {
			name, _, _ := strings.Cut(line, "=")
			switch name {
			case "HOME", userPathVar, backendPathVar, "PREFECT__CONTEXT__SECRETS__FuzzPlanted":
				continue // the harness sets these
			}
			vars = append(vars, line)
		}
		vars = append(vars, "PREFECT__CONTEXT__SECRETS__FuzzPlanted="+envSecret)
		text := "fuzz_planted = \"" + fileSecret + "\"\n" + file

		load := func(user, backend string) (*Config, error) {
			u, b := filepath.Join(dir, "u.toml"), filepath.Join(dir, "b.toml")
			for path, content := range map[string]string{u: user, b: backend} {
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return Load(WithHome(home), WithEnv(append(vars, "PREFECT__USER_CONFIG_PATH="+u, "PREFECT__BACKEND_CONFIG_PATH="+b)))
		}
		c, err := load(text, "")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			for err := error(e); err != nil; err = errors.Unwrap(err) {
				if msg := err.Error(); strings.Contains(msg, fileSecret) || strings.Contains(msg, envSecret) {
					t.Fatalf("error text %q shows a planted secret", msg)
				}
			}
			if _, err2 := load("", text); err2 == nil {
				t.Fatalf("the text fails as the user file (%v) and loads as backend.toml", err)
			}
			return
		}
		if got := c.Secrets()["FuzzPlanted"]; got != envSecret {
			t.Fatalf("context.secrets.FuzzPlanted = %#v; want the variable's value", got)
		}
		m := c.Map()
		again, err := load(text, "")
		if err != nil {
			t.Fatalf("second load: %v", err)
		}
		if m2 := again.Map(); !sameTOML(m, m2) {
			t.Fatalf("two loads differ:\n%#v\n%#v", m, m2)
		}
		swapped, err := load("", text)
		if err != nil {
			t.Fatalf("loads as the user file, fails as backend.toml: %v", err)
		}
		if m2 := swapped.Map(); !sameTOML(m, m2) {
			t.Fatalf("as the user file:\n%#v\nas backend.toml:\n%#v", m, m2)
		}
	})
}

var loadSeeds = []struct{ file, env string }{
	{"", ""},
	{"[context.secrets]\nA = \"a\"\nB = \"{'x': [1, 2]}\"\n", "PREFECT__CONTEXT__SECRETS__C=[1, 2]"},
	{"backend = \"server\"\n[server]\nport = 5000\n", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false"},
	{"[r]\nbig = \"{'x': {'y': 1}}\"\nb = \"${r.big}\"\nc = \"x${r.big}\"\n", "PREFECT__R__B__Z=2\nPREFECT__R__B__X__W=3"},
	{"[v]\nhome = \"~/x\"\npath = \"$HOME/y:${HOME}\"\nref = \"${v.home}/z\"\n", "PREFECT__V__E=$HOME"},
	{"[tasks.defaults]\nmax_retries = 3\nretry_delay = 10\ntimeout = false\n", "PREFECT__TASKS__DEFAULTS__MAX_RETRIES=None"},
	{"a = {b = [1, {c = 2}]}\n[[t]]\nx = 1\n[[t]]\nx = 2\n", "PREFECT__A__B=x"},
	{"cloud = 1\n", ""},
	{"[context.secrets]\nTOKEN = s3cr3t\n", ""},
	{"k = \"" + strings.Repeat("$A", 20) + "\"\n", "PREFECT__X=${k}${k}"},
	{"x = " + strings.Repeat("{a = ", 100) + "1" + strings.Repeat("}", 100) + "\n", ""},
	{"", "PREFECT__CONTEXT__SECRETS={\"A\": 1}\nPREFECT__CONTEXT__SECRETS__B=2"},
}

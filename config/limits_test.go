package config

import (
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Each limit fails with a text that names the file and line (or the
// variable), the key where it can, and the limit; never a value.
func TestLimits(t *testing.T) {
	t.Parallel()
	deepKey := func(first string, n int) string { return first + strings.Repeat(".a", n-1) }
	big600k := strings.Repeat("b", 600_000)
	tests := []struct {
		name string
		file string   // the user file; "" for none
		env  []string // besides HOME
		want string   // the error text, with FILE for the user file's path
	}{
		{
			name: "file size",
			file: "a = 1\n#" + strings.Repeat("x", MaxFileSize-7) + "\n",
			want: "config: FILE: the file is 1048577 bytes; the limit is 1048576 bytes (1 MiB)",
		},
		{
			name: "inline tables 101 deep",
			file: "x = " + strings.Repeat("{a = ", 100) + "1" + strings.Repeat("}", 100) + "\n",
			want: `config: FILE:1:501: key "` + deepKey("x", 101) + `": values nest more than 100 levels deep (each table, array and dotted-key part is a level)`,
		},
		{
			name: "arrays 101 deep", // the 99th [ opens level 101
			file: "[t]\nx = " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
			want: `config: FILE:2:103: key "t.x": values nest more than 100 levels deep (each table, array and dotted-key part is a level)`,
		},
		{
			name: "dotted key of 101 parts",
			file: "ok = 1\n" + deepKey("a", 101) + " = 1\n",
			want: `config: FILE:2:1: key "` + deepKey("a", 101) + `": values nest more than 100 levels deep (each table, array and dotted-key part is a level)`,
		},
		{
			name: "table name of 101 parts",
			file: "[" + deepKey("a", 101) + "]\n",
			want: `config: FILE:1:1: key "` + deepKey("a", 101) + `": values nest more than 100 levels deep (each table, array and dotted-key part is a level)`,
		},
		{
			name: "a key in a table 100 deep",
			file: "[" + deepKey("a", 100) + "]\n\n  k = 1\n",
			want: `config: FILE:3:3: key "` + deepKey("a", 100) + `.k": values nest more than 100 levels deep (each table, array and dotted-key part is a level)`,
		},
		{
			name: "array of tables 100 deep",
			file: "[[" + deepKey("a", 100) + "]]\n", // the table in the array is level 101
			want: `config: FILE:1:1: key "` + deepKey("a", 100) + `": values nest more than 100 levels deep (each table, array and dotted-key part is a level)`,
		},
		{
			name: "key of 1025 bytes",
			file: "[s]\n" + strings.Repeat("k", 1023) + " = 1\n",
			want: "config: FILE:2:1: a key is longer than 1024 bytes (counting its dotted path from the top)",
		},
		{
			name: "quoted key part",
			file: "\"" + strings.Repeat("k", 1025) + "\" = 1\n",
			want: "config: FILE:1:1: a key is longer than 1024 bytes (counting its dotted path from the top)",
		},
		{
			name: "key below a long table name",
			file: "[" + strings.Repeat("t", 1000) + "]\n" + strings.Repeat("k", 24) + " = 1\n",
			want: "config: FILE:2:1: a key is longer than 1024 bytes (counting its dotted path from the top)",
		},
		{
			name: "key inside an inline table",
			file: strings.Repeat("t", 1000) + " = {" + strings.Repeat("k", 24) + " = 1}\n",
			want: "config: FILE:1:1005: a key is longer than 1024 bytes (counting its dotted path from the top)",
		},
		{
			name: "variable of 101 parts",
			env:  []string{"PREFECT__" + strings.Repeat("A__", 100) + "A=1"},
			want: "config: environment variable PREFECT__" + strings.Repeat("A__", 100) + "A: the name has more than 100 parts",
		},
		{
			name: "variable name of 1025 bytes after PREFECT__",
			env:  []string{"PREFECT__CONTEXT__SECRETS__" + strings.Repeat("K", 1025-16) + "=1"},
			want: "config: environment variable PREFECT__CONTEXT__SECRETS__" + strings.Repeat("K", 1025-16) + ": a key is longer than 1024 bytes (counting its dotted path from the top)",
		},
		{
			name: "$VAR expansion in a file past 1 MiB",
			file: "[v]\nx = \"$BIG$BIG\"\n",
			env:  []string{"BIG=" + big600k},
			want: `config: FILE: key "v.x": $VAR expansion makes the value longer than 1048576 bytes (1 MiB)`,
		},
		{
			name: "$VAR expansion in a variable past 1 MiB",
			env:  []string{"BIG=" + big600k, "PREFECT__CONTEXT__SECRETS__X=$BIG$BIG"},
			want: `config: environment variable PREFECT__CONTEXT__SECRETS__X: key "context.secrets.X": $VAR expansion makes the value longer than 1048576 bytes (1 MiB)`,
		},
		{
			name: "$VAR that doubles itself",
			env:  []string{"A=$A$A" + strings.Repeat("/", 4096), "PREFECT__X=$A"},
			want: `config: environment variable PREFECT__X: key "x": $VAR expansion makes the value longer than 1048576 bytes (1 MiB)`,
		},
		{
			name: "${key} references past 1 MiB",
			file: "[v]\na = \"" + big600k + "\"\nb = \"${v.a}${v.a}\"\n",
			want: `config: FILE: key "v.b": a ${key} reference makes the value longer than 1048576 bytes (1 MiB)`,
		},
		{
			name: "interpolation past 16 MiB in all",
			file: func() string {
				var b strings.Builder
				b.WriteString("[v]\n")
				for i := range 40 {
					fmt.Fprintf(&b, "k%02d = \"$BIG\"\n", i)
				}
				return b.String()
			}(),
			env:  []string{"BIG=" + big600k},
			want: `config: FILE: key "v.k27": $VAR expansion and ${key} references add more than 16777216 bytes (16 MiB) to the configuration`,
		},
		{
			name: "an integer too long for str() put into text",
			file: "[v]\nn = \"0x" + strings.Repeat("f", 3600) + "\"\ns = \"n=${v.n}\"\n",
			want: `config: FILE: key "v.s": an integer of more than 4300 digits cannot be put into text (Python's limit)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := newHome(t)
			path := filepath.Join(home, ".prefect", "config.toml")
			if tt.file != "" {
				writeFile(t, path, tt.file)
			}
			e := loadErr(t, home, append(tt.env, "HOME="+home)...)
			if !errors.Is(e, ErrLimit) {
				t.Errorf("error %q is not ErrLimit", e)
			}
			if want := strings.ReplaceAll(tt.want, "FILE", path); e.Error() != want {
				t.Errorf("Error() =\n%s\nwant\n%s", short(e.Error()), short(want))
			}
		})
	}
}

// short keeps failure messages readable when keys run to 200 bytes.
func short(s string) string {
	if len(s) > 400 {
		return s[:200] + "..." + s[len(s)-200:]
	}
	return s
}

// What is just within each limit loads.
func TestWithinLimits(t *testing.T) {
	t.Parallel()
	big500k := strings.Repeat("b", 500_000)
	tests := []struct {
		name  string
		file  string
		env   []string
		key   string // a key that must then hold want
		want  any
		check func(t *testing.T, c *Config)
	}{
		{name: "file of 1 MiB", file: "a = 1\n#" + strings.Repeat("x", MaxFileSize-8) + "\n", key: "a", want: int64(1)},
		{
			name: "inline tables 100 deep",
			file: "x = " + strings.Repeat("{a = ", 99) + "1" + strings.Repeat("}", 99) + "\n",
			key:  "x" + strings.Repeat(".a", 99), want: int64(1),
		},
		{
			name: "arrays 100 deep",
			file: "x = " + strings.Repeat("[", 99) + "1" + strings.Repeat("]", 99) + "\n",
			check: func(t *testing.T, c *Config) {
				v, _ := c.Get("x")
				for range 99 {
					l, ok := v.([]any)
					if !ok || len(l) != 1 {
						t.Fatalf("x is not 99 nested lists")
					}
					v = l[0]
				}
				if v != int64(1) {
					t.Errorf("innermost value %#v; want 1", v)
				}
			},
		},
		{name: "dotted key of 100 parts", file: "a" + strings.Repeat(".a", 99) + " = 1\n", key: "a" + strings.Repeat(".a", 99), want: int64(1)},
		{name: "key of 1024 bytes", file: "[s]\n" + strings.Repeat("k", 1022) + " = 1\n", key: "s." + strings.Repeat("k", 1022), want: int64(1)},
		{name: "variable of 100 parts", env: []string{"PREFECT__" + strings.Repeat("A__", 99) + "A=1"}, key: "a" + strings.Repeat(".a", 99), want: int64(1)},
		{name: "$VAR expansion to 1 MiB", file: "[v]\nx = \"$BIG$BIG\"\n", env: []string{"BIG=" + big500k}, key: "v.x", want: big500k + big500k},
		{
			// A value longer than 1 MiB to begin with is kept; it only may
			// not grow.
			name: "a variable longer than 1 MiB", env: []string{"PREFECT__V__X=" + big500k + big500k + big500k},
			key: "v.x", want: big500k + big500k + big500k,
		},
		{
			name: "an integer of 4300 digits put into text",
			file: "[v]\nn = \"" + strings.Repeat("9", 4300) + "\"\ns = \"${v.n}!\"\n",
			key:  "v.s", want: strings.Repeat("9", 4300) + "!",
		},
		{
			// A whole reference takes the integer itself; no text is made.
			name: "a longer integer taken whole",
			file: "[v]\nn = \"0x" + strings.Repeat("f", 3600) + "\"\nm = \"${v.n}\"\n",
			check: func(t *testing.T, c *Config) {
				m, _ := c.Get("v.m")
				want, _ := new(big.Int).SetString(strings.Repeat("f", 3600), 16)
				if n, ok := m.(*big.Int); !ok || n.Cmp(want) != 0 {
					t.Errorf("v.m = %T; want the *big.Int", m)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := newHome(t)
			if tt.file != "" {
				userFile(t, home, tt.file)
			}
			c := mustLoad(t, home, tt.env...)
			if tt.key != "" {
				got, ok := c.Get(tt.key)
				if !ok || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Get(%.40q...) = %.60v (%T); want %.60v", tt.key, got, got, tt.want)
				}
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

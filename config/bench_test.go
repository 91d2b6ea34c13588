package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shapes are configuration files that grow with n in one direction each.
// Every one stays within the limits at n = 10,000, so the benchmarks time
// parsing, not refusal; ns/byte should stay flat as n grows.
var shapes = []struct {
	name string
	file func(n int) string
	env  func(n int) []string
}{
	{name: "nested-inline-tables", file: func(n int) string {
		// Depth is limited, so width grows: n/50 keys each holding 50 levels.
		var b strings.Builder
		for i := 0; i < n/50; i++ {
			fmt.Fprintf(&b, "k%d = %s1%s\n", i, strings.Repeat("{a = ", 50), strings.Repeat("}", 50))
		}
		return b.String()
	}},
	{name: "nested-arrays", file: func(n int) string {
		var b strings.Builder
		for i := 0; i < n/50; i++ {
			fmt.Fprintf(&b, "k%d = %s1%s\n", i, strings.Repeat("[", 50), strings.Repeat("]", 50))
		}
		return b.String()
	}},
	{name: "dotted-table-names", file: func(n int) string {
		var b strings.Builder
		for i := 0; i < n/50; i++ {
			fmt.Fprintf(&b, "[t%d%s]\nk = 1\n", i, strings.Repeat(".a", 49))
		}
		return b.String()
	}},
	{name: "dotted-keys", file: func(n int) string {
		var b strings.Builder
		for i := 0; i < n/50; i++ {
			fmt.Fprintf(&b, "t%d%s = 1\n", i, strings.Repeat(".a", 49))
		}
		return b.String()
	}},
	{name: "tables", file: func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "[t%d]\nk = 1\n", i)
		}
		return b.String()
	}},
	{name: "nested-tables", file: func(n int) string {
		// Many sub-tables of one table, and of one sub-table.
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "[a.b.t%d]\nk = 1\n", i)
		}
		return b.String()
	}},
	{name: "keys", file: func(n int) string {
		var b strings.Builder
		b.WriteString("[s]\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "k%d = \"v%d\"\n", i, i)
		}
		return b.String()
	}},
	{name: "array-of-tables", file: func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "[[a]]\nk = %d\n", i)
		}
		return b.String()
	}},
	{name: "keys-under-a-deep-table", file: func(n int) string {
		var b strings.Builder
		b.WriteString("[t" + strings.Repeat(".a", 49) + "]\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "k%d = %d\n", i, i)
		}
		return b.String()
	}},
	{name: "wide-inline-table", file: func(n int) string {
		var b strings.Builder
		b.WriteString("t = {")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "k%d = %d, ", i, i)
		}
		b.WriteString("z = 0}\n")
		return b.String()
	}},
	{name: "wide-array", file: func(n int) string {
		var b strings.Builder
		b.WriteString("a = [")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "%d, ", i)
		}
		b.WriteString("0]\n")
		return b.String()
	}},
	{name: "long-string", file: func(n int) string {
		return "s = \"" + strings.Repeat(`abc\tdef\"`, n) + "\"\n"
	}},
	{name: "literal-long-string", file: func(n int) string {
		// A Python string literal with escapes inside a TOML literal string.
		return "s = '''\"" + strings.Repeat(`ab\n\x41\u00e9\'`, n) + "\"'''\n"
	}},
	{name: "literal-nested-lists", file: func(n int) string {
		// Python-literal lists as deep as allowed, n/50 of them in one value.
		one := strings.Repeat("[", 50) + "1" + strings.Repeat("]", 50)
		return "s = \"[" + strings.TrimSuffix(strings.Repeat(one+", ", n/50), ", ") + "]\"\n"
	}},
	{name: "literal-dict", file: func(n int) string {
		var b strings.Builder
		b.WriteString("s = \"{")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "'k%d': [%d, 'v'], ", i, i)
		}
		b.WriteString("}\"\n")
		return b.String()
	}},
	{name: "literal-hex-int", file: func(n int) string {
		return "s = \"0x" + strings.Repeat("fedcba9876", n) + "\"\n"
	}},
	{name: "references-to-a-table", file: func(n int) string {
		// One dict of n entries and n/10 keys that each take it whole.
		var b strings.Builder
		b.WriteString("[r]\nbig = \"{")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "'k%d': %d, ", i, i)
		}
		b.WriteString("}\"\n")
		for i := 0; i < n/10; i++ {
			fmt.Fprintf(&b, "k%d = \"${r.big}\"\n", i)
		}
		return b.String()
	}},
	{name: "many-vars-in-a-value", file: func(n int) string {
		return "s = \"" + strings.Repeat("$V/", n) + "\"\n"
	}, env: func(int) []string { return []string{"V=value"} }},
	{name: "many-references", file: func(n int) string {
		var b strings.Builder
		b.WriteString("[r]\nbase = \"x\"\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "k%d = \"${r.base}/%d\"\n", i, i)
		}
		return b.String()
	}},
	{name: "env-vars", env: func(n int) []string {
		env := make([]string, n)
		for i := range env {
			env[i] = fmt.Sprintf("PREFECT__CONTEXT__SECRETS__S%d__X=%d", i, i)
		}
		return env
	}},
}

// BenchmarkLoadSizes loads each shape at n = 1k, 2k, 5k and 10k and reports
// ns/byte (of the file and the variables): linear parsing keeps it flat.
//
//	go test -run '^$' -bench LoadSizes -benchtime 3x ./config/
func BenchmarkLoadSizes(b *testing.B) {
	for _, s := range shapes {
		for _, n := range []int{1000, 2000, 5000, 10000} {
			b.Run(fmt.Sprintf("%s/n=%d", s.name, n), func(b *testing.B) {
				home := b.TempDir()
				if err := os.MkdirAll(filepath.Join(home, ".prefect"), 0o755); err != nil {
					b.Fatal(err)
				}
				size := 0
				if s.file != nil {
					data := s.file(n)
					size += len(data)
					if err := os.WriteFile(filepath.Join(home, ".prefect", "config.toml"), []byte(data), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				var env []string
				if s.env != nil {
					env = s.env(n)
					for _, kv := range env {
						size += len(kv)
					}
				}
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := Load(WithHome(home), WithEnv(env)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size), "ns/byte")
			})
		}
	}
}

// BenchmarkLoadPastLimits times the inputs of issue 11, which took seconds
// (5,000 nested inline tables 19 s, a table name of 10,000 parts 11 s): they
// pass MaxDepth and MaxKeyLength now, and Load refuses them after reading
// only as far as the limit.
//
//	go test -run '^$' -bench LoadPastLimits ./config/
func BenchmarkLoadPastLimits(b *testing.B) {
	for _, n := range []int{1000, 2000, 5000, 10000} {
		for _, s := range []struct {
			name string
			file string
		}{
			{"nested-inline-tables", "x = " + strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n) + "\n"},
			{"dotted-table-name", "[" + strings.Repeat("a.", n-1) + "a]\nk = 1\n"},
		} {
			b.Run(fmt.Sprintf("%s/n=%d", s.name, n), func(b *testing.B) {
				home := b.TempDir()
				if err := os.MkdirAll(filepath.Join(home, ".prefect"), 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(home, ".prefect", "config.toml"), []byte(s.file), 0o600); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(s.file)))
				for b.Loop() {
					if _, err := Load(WithHome(home), WithEnv(nil)); !errors.Is(err, ErrLimit) {
						b.Fatalf("Load: %v; want ErrLimit", err)
					}
				}
			})
		}
	}
}

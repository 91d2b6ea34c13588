package python

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// FuzzLiteralEval: LiteralEval never panics, and what it reads keeps
// Python's limits and survives repr():
//   - the value nests at most MaxNesting deep;
//   - an int of more than MaxIntDigits digits comes only from a hex, octal
//     or binary literal (a decimal one is refused), and Repr fails on it
//     with ErrIntTooLong, as Python's repr() raises ValueError;
//   - Repr's text is at most five times the literal's size (the worst is a
//     short float such as 9e15, printed 9000000000000000.0), which keeps
//     config's interpolation linear;
//   - that text reads back as an equal value (== as in Python, so -0.0
//     equals 0.0). Only a value holding inf or nan is left out: its repr
//     is no literal, in Python too.
//
// The seeds are the inputs of testdata/python3.jsonl and those below;
// go test -fuzz FuzzLiteralEval -fuzztime 1m ./internal/python/ explores
// further.
func FuzzLiteralEval(f *testing.F) {
	for _, s := range literalSeeds {
		f.Add(s)
	}
	for _, r := range python3Rows(f) {
		if r.Src != nil {
			f.Add(*r.Src)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		v, ok := LiteralEval(src)
		if !ok {
			return
		}
		if d := depth(v); d > MaxNesting {
			t.Fatalf("LiteralEval(%q) nests %d deep", src, d)
		}
		text, err := Repr(v)
		if err != nil {
			if !errors.Is(err, ErrIntTooLong) || !hugeInt(v) {
				t.Fatalf("Repr(LiteralEval(%q)): %v", src, err)
			}
			if !nonDecimal.MatchString(src) {
				t.Fatalf("LiteralEval(%q) read a decimal int of more than %d digits", src, MaxIntDigits)
			}
			return
		}
		if len(text) > 5*len(src) {
			t.Fatalf("Repr(LiteralEval(%q)) = %q, %d bytes from %d", src, text, len(text), len(src))
		}
		if !finite(v) {
			return
		}
		back, ok := LiteralEval(text)
		if !ok {
			t.Fatalf("LiteralEval(%q) = %#v, whose repr %q is refused", src, v, text)
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("LiteralEval(%q) = %#v; its repr %q reads as %#v", src, v, text, back)
		}
	})
}

var nonDecimal = regexp.MustCompile(`0[xXoObB]`)

var literalSeeds = []string{
	"0", "-7.5", "0x_ff", "1_000", "1e-3", "2j", "1-2j", "-(2j)", "None", "True",
	"'a\\tb'", `"it's"`, `r'\d'`, `b'\x00\xff'`, `'\u00e9\U0001F600'`, `'\udcff'`,
	"'''a\nb'''", "'a' 'b'", "[1, [2, (3,)], {}]", "(1,)", "1, 2,",
	"{'a': 1, 'a': 2}", "{1: 'x', True: 'y', 1.0: 'z'}", "{(1, 'a'): [b'x']}",
	"{('a,sb',): 1, ('a', 'b'): 2}", "{None, 'a', (1, 2), 'a'}", "set()",
	"[\n 1, # one\n 2\n]", "99999999999999999999", "-0.0", "1e400", "9e15", "-0j",
	"'\\udcc3\\udca9'", "0x" + strings.Repeat("f", 3600), "5\\\n",
	strings.Repeat("[", 199) + strings.Repeat("]", 199),
	strings.Repeat("-", 150) + "1",
}

// children returns the items of a container value (a dict's keys and
// values in turn), and false for a scalar.
func children(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case Tuple:
		return t, true
	case Set:
		return t, true
	case Dict:
		items := make([]any, 0, 2*len(t))
		for _, it := range t {
			items = append(items, it.Key, it.Value)
		}
		return items, true
	}
	return nil, false
}

// depth is how deeply containers nest in v: 0 for a scalar.
func depth(v any) int {
	items, ok := children(v)
	if !ok {
		return 0
	}
	d := 0
	for _, x := range items {
		d = max(d, depth(x))
	}
	return d + 1
}

// walk reports whether f holds for some scalar in v.
func walk(v any, f func(any) bool) bool {
	items, ok := children(v)
	if !ok {
		return f(v)
	}
	for _, x := range items {
		if walk(x, f) {
			return true
		}
	}
	return false
}

func hugeInt(v any) bool {
	return walk(v, func(x any) bool {
		n, ok := x.(*big.Int)
		return ok && tooManyDigits(n)
	})
}

// finite reports whether v holds no inf or nan, which repr() prints as
// text no literal reads.
func finite(v any) bool {
	bad := func(f float64) bool { return math.IsInf(f, 0) || math.IsNaN(f) }
	return !walk(v, func(x any) bool {
		switch t := x.(type) {
		case float64:
			return bad(t)
		case complex128:
			return bad(real(t)) || bad(imag(t))
		}
		return false
	})
}

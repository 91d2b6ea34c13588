package python

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLiteralEval checks the Go type and value of what LiteralEval reads
// (TestPython3 checks, through Repr, what Python reads from the same text).
func TestLiteralEval(t *testing.T) {
	t.Parallel()
	negZero := math.Copysign(0, -1)
	tests := []struct {
		in   string
		want any // refused: LiteralEval must refuse it
	}{
		{"0", int64(0)}, {"00", int64(0)}, {"0_0", int64(0)}, {"7", int64(7)}, {"1_000_000", int64(1000000)},
		{"0x_ff", int64(255)}, {"0XFF", int64(255)}, {"0o777", int64(511)}, {"0b1_0", int64(2)},
		{"-0x10", int64(-16)}, {"- 5", int64(-5)}, {"-(5)", int64(-5)}, {"+(5)", int64(5)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", bigInt("9223372036854775808")},
		{"-9223372036854775809", bigInt("-9223372036854775809")},
		{"-0x8000000000000000", int64(math.MinInt64)},
		{"1.5", 1.5}, {"1.", 1.0}, {".25", 0.25}, {"1e-3", 0.001}, {"1E+3", 1000.0}, {"1_0.5_0", 10.5},
		{"01.5", 1.5}, {"1.e2", 100.0}, {"1e400", math.Inf(1)}, {"-1e400", math.Inf(-1)}, {"-0.0", negZero},
		{"2j", complex(0, 2)}, {"1.5J", complex(0, 1.5)}, {"01j", complex(0, 1)},
		{"1+2j", complex(1, 2)}, {"1-2j", complex(1, -2)}, {"-1.5+2j", complex(-1.5, 2)},
		{"+1j", complex(0, 1)}, {"-(2j)", complex(negZero, -2)}, {"99999999999999999999+1j", complex(1e20, 1)},
		{"True", true}, {"False", false}, {"None", nil},
		{"'a'", "a"}, {`"a"`, "a"}, {"'''a\nb'''", "a\nb"}, {`"""q"q"""`, `q"q`},
		{`'it\'s'`, "it's"}, {`"tab\there"`, "tab\there"}, {`'\x41\101\u00e9\U0001F600'`, "AAé😀"},
		{`'\q'`, `\q`}, {`'a\` + "\n" + `b'`, "ab"}, {`r'\n'`, `\n`}, {`R"\d+"`, `\d+`}, {`r'\''`, `\'`},
		{`u'x'`, "x"}, {`'a' "b" 'c'`, "abc"}, {"('a'\n 'b')", "ab"}, {`'é'`, "é"},
		{`'\udcff\udc80\U0000dcc3\udc7f'`, "\xff\x80\xc3\ufffd"},
		{`'\udcc3\udca9'`, "\ufffd\ufffd"}, {`'a\udcc3' '\udca9b'`, "a\ufffd\ufffdb"}, {`'\udcc3é'`, "\xc3é"},
		{`b'a\x00'`, []byte{'a', 0}}, {`rb'\x00'`, []byte(`\x00`)}, {`B'\N'`, []byte(`\N`)}, {`b''`, []byte{}},
		{"[]", []any{}}, {"[1, [2, [3]]]", []any{int64(1), []any{int64(2), []any{int64(3)}}}},
		{"[1,]", []any{int64(1)}}, {"[\n 1, # one\n 2\n]", []any{int64(1), int64(2)}},
		{"()", Tuple{}}, {"(1,)", Tuple{int64(1)}}, {"(1)", int64(1)},
		{"((1, 2), 3)", Tuple{Tuple{int64(1), int64(2)}, int64(3)}},
		{"1,", Tuple{int64(1)}}, {"1, 2,", Tuple{int64(1), int64(2)}},
		{"{}", Dict{}}, {"{'a': 1, 'b': [2]}", Dict{{"a", int64(1)}, {"b", []any{int64(2)}}}},
		{"{'a': 1, 'a': 2}", Dict{{"a", int64(2)}}}, {"{1: 'x', True: 'y'}", Dict{{int64(1), "y"}}},
		{"{(1, 'a'): 1}", Dict{{Tuple{int64(1), "a"}, int64(1)}}}, {"{None: 1}", Dict{{nil, int64(1)}}},
		{"{1.5: 'a', 2j: 'b', b'x': 'c', ((1,), 2): 'd', 2.0: 'e', 2: 'f', -0.0: 'g'}", Dict{
			{1.5, "a"}, {complex(0, 2), "b"}, {[]byte("x"), "c"}, {Tuple{Tuple{int64(1)}, int64(2)}, "d"},
			{2.0, "f"}, {negZero, "g"},
		}},
		{"{('a,sb',): 1, ('a', 'b'): 2}", Dict{{Tuple{"a,sb"}, int64(1)}, {Tuple{"a", "b"}, int64(2)}}},
		{"{None, 'a', b'a', (1, 2), 'a'}", Set{nil, "a", []byte("a"), Tuple{int64(1), int64(2)}}},
		{"{1, 2, 1.0}", Set{int64(1), int64(2)}}, {"{0, False, -0.0, 0j}", Set{int64(0)}},
		{"{('a,sb',), ('a', 'b')}", Set{Tuple{"a,sb"}, Tuple{"a", "b"}}},
		{"set()", Set{}}, {"set( )", Set{}},
		{"{0x" + strings.Repeat("f", 4000) + ": 1}", Dict{{bigInt("0x" + strings.Repeat("f", 4000)), int64(1)}}},
		{"  5  ", int64(5)}, {"\t5", int64(5)}, {"5 # comment", int64(5)}, {"\n5\n", int64(5)}, {"# c\n5", int64(5)},
		{"5\r\n", int64(5)}, {"\\\n5", int64(5)}, {"5\\\n ", int64(5)},
		{strings.Repeat("9", 4300), bigInt(strings.Repeat("9", 4300))},
		{strings.Repeat("1", 4301) + ".0", math.Inf(1)}, // Python limits int digits, not float digits
		{"0x" + strings.Repeat("f", 4000), bigInt("0x" + strings.Repeat("f", 4000))},

		{"", refused}, {" ", refused}, {"01", refused}, {"0_7", refused}, {"1_", refused},
		{"1__0", refused}, {"0x", refused}, {"0b2", refused}, {"1e", refused}, {"1abc", refused},
		{"1.2.3", refused}, {"..5", refused}, {"...", refused}, {"--1", refused}, {"-True", refused},
		{"-'a'", refused}, {"~1", refused}, {"1 + 2", refused}, {"2j + 1", refused}, {"1 + -2j", refused},
		{"1+2j+3j", refused}, {"2 * 3", refused}, {"x", refused}, {"true", refused}, {"none", refused},
		{"None()", refused}, {"[1][0]", refused}, {"{'a': 1}['a']", refused}, {"(1).real", refused},
		{"f'x'", refused}, {"'a' f'b'", refused}, {"'a' b'b'", refused}, {"'a", refused},
		{"'a\nb'", refused}, {`'\x4'`, refused}, {`'\N{DASH}'`, refused}, {"b'é'", refused},
		{"[1, 2", refused}, {"[1 2]", refused}, {"{1: 2, 3}", refused}, {"{[1]: 2}", refused},
		{"{[1]}", refused}, {"{([1],): 2}", refused}, {"{**a}", refused}, {"[*a]", refused},
		{"1 if 1 else 2", refused}, {"lambda: 1", refused}, {"\n 5", refused}, {"5\n6", refused},
		{"a\x00", refused}, {"set(1)", refused}, {"1:2", refused}, {"(1 2)", refused},
		{"5\\\n", refused}, {"5\\\r\n", refused}, {"'\xff'", refused}, {"5 # \xff", refused},
		{strings.Repeat("9", 4301), refused}, // Python's ValueError: too many digits for int()
	}
	for _, tt := range tests {
		got, ok := LiteralEval(tt.in)
		if tt.want == refused {
			if ok {
				t.Errorf("LiteralEval(%.60q) = %#.60v; want it refused", tt.in, got)
			}
			continue
		}
		if !ok {
			t.Errorf("LiteralEval(%.60q) refused; want %#.60v", tt.in, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LiteralEval(%.60q) = %#.60v (%T); want %#.60v (%T)", tt.in, got, got, tt.want, tt.want)
		}
	}
}

type refusedType struct{}

var refused = refusedType{}

// TestNesting checks MaxNesting: brackets and signs nest up to it, as in
// CPython 3.11, and no further.
func TestNesting(t *testing.T) {
	t.Parallel()
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	tests := []struct {
		name, open, close string
	}{
		{"lists", "[", "]"}, {"tuples", "(", ",)"}, {"parentheses", "(", ")"},
		{"dicts", "{1: ", "}"}, {"mixed", "[(", ",)]"}, {"signs", "-", ""},
	}
	for _, tt := range tests {
		n := MaxNesting
		if tt.name == "mixed" {
			n = MaxNesting / 2 // each level is two brackets
		}
		// Python refuses a second sign ("--1") whatever the depth; what
		// matters is that a deep stack of them costs no more than its size.
		if _, ok := LiteralEval(nest(tt.open, tt.close, n-1)); !ok && tt.name != "signs" {
			t.Errorf("%s %d deep: refused", tt.name, n-1)
		}
		if v, ok := LiteralEval(nest(tt.open, tt.close, n+1)); ok {
			t.Errorf("%s %d deep: %.40v; want it refused", tt.name, n+1, v)
		}
	}
}

// Repr and Str on values no literal makes: Go's int, maps, times, NaN,
// json.Number, and the ints Python will not print.
func TestReprStr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        any
		repr, str string
	}{
		{nil, "None", "None"}, {true, "True", "True"}, {42, "42", "42"}, {int64(-42), "-42", "-42"},
		{bigInt("123456789012345678901"), "123456789012345678901", "123456789012345678901"},
		{json.Number("123456789012345678901"), "123456789012345678901", "123456789012345678901"},
		{30.0, "30.0", "30.0"}, {math.NaN(), "nan", "nan"}, {math.Inf(-1), "-inf", "-inf"},
		{"it's", `"it's"`, "it's"}, {"bad\xffbyte", `'bad\udcffbyte'`, "bad\xffbyte"},
		{[]any{"bad\xff"}, `['bad\udcff']`, `['bad\udcff']`},
		{[]byte("a'b"), `b"a'b"`, `b"a'b"`},
		{Tuple{}, "()", "()"}, {Tuple{"a"}, "('a',)", "('a',)"}, {Set{}, "set()", "set()"},
		{Set{int64(1)}, "{1}", "{1}"}, {Dict{}, "{}", "{}"}, {Dict{{Tuple{int64(1)}, Set{}}}, "{(1,): set()}", "{(1,): set()}"},
		{map[string]any{"b": 1.0, "a": []any{}}, "{'a': [], 'b': 1.0}", "{'a': [], 'b': 1.0}"},
		{map[string]any(nil), "{}", "{}"},
		{time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC), "2020-01-02 03:04:05.000006+00:00", "2020-01-02 03:04:05.000006+00:00"},
		{time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("", -(7*3600+30*60))), "2020-01-02 03:04:05-07:30", "2020-01-02 03:04:05-07:30"},
		{time.Date(1979, 5, 27, 0, 0, 0, 0, time.FixedZone("date-local", 0)), "1979-05-27", "1979-05-27"},
		{time.Date(0, 1, 1, 7, 32, 0, 500000000, time.FixedZone("time-local", 0)), "07:32:00.500000", "07:32:00.500000"},
		{time.Date(1979, 5, 27, 7, 32, 0, 0, time.FixedZone("datetime-local", 0)), "1979-05-27 07:32:00", "1979-05-27 07:32:00"},
		// Python would print [datetime.date(1979, 5, 27)]: see the package doc.
		{[]any{time.Date(1979, 5, 27, 0, 0, 0, 0, time.FixedZone("date-local", 0))}, "[1979-05-27]", "[1979-05-27]"},
		{time.Second, "1s", "1s"}, // not a Python value: fmt.Sprint
	}
	for _, tt := range tests {
		if got, err := Repr(tt.in); err != nil || got != tt.repr {
			t.Errorf("Repr(%#v) = %q, %v; want %q", tt.in, got, err, tt.repr)
		}
		if got, err := Str(tt.in); err != nil || got != tt.str {
			t.Errorf("Str(%#v) = %q, %v; want %q", tt.in, got, err, tt.str)
		}
	}

	// Python's ValueError: an int past 4300 digits has no decimal text, so
	// neither has a value that holds one.
	huge := bigInt("1" + strings.Repeat("0", MaxIntDigits)) // 4301 digits
	for _, v := range []any{huge, []any{1, huge}, Tuple{huge}, Set{huge}, Dict{{huge, 1}}, Dict{{1, huge}}, map[string]any{"k": huge}} {
		if s, err := Repr(v); !errors.Is(err, ErrIntTooLong) {
			t.Errorf("Repr(%T holding 10**4300) = %.40q, %v; want ErrIntTooLong", v, s, err)
		}
		if s, err := Str(v); !errors.Is(err, ErrIntTooLong) {
			t.Errorf("Str(%T holding 10**4300) = %.40q, %v; want ErrIntTooLong", v, s, err)
		}
	}
	if s, err := Str(bigInt(strings.Repeat("9", MaxIntDigits))); err != nil || len(s) != MaxIntDigits {
		t.Errorf("Str(an int of 4300 nines) = %.40q, %v; want its digits", s, err)
	}
}

func TestTruth(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, false, 0, int64(0), bigInt("0"), 0.0, math.Copysign(0, -1), complex(0, 0), "", []byte{}, []any{}, Tuple{}, Set{}, Dict{}, map[string]any{}} {
		if Truth(v) {
			t.Errorf("Truth(%#v) = true; Python: False", v)
		}
	}
	for _, v := range []any{true, 1, int64(-1), bigInt("99999999999999999999"), 0.5, math.NaN(), complex(0, 1), " ", []byte{0}, []any{nil}, Tuple{nil}, Set{0}, Dict{{0, 0}}, map[string]any{"": nil}, time.Time{}} {
		if !Truth(v) {
			t.Errorf("Truth(%#v) = false; Python: True", v)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]any{
		`3`:                        3,
		`-7.5`:                     -7.5,
		`1e3`:                      1000.0,
		`1e400`:                    math.Inf(1),
		`"s"`:                      "s",
		`{"a": [1, 2.5, "x"]}`:     map[string]any{"a": []any{1, 2.5, "x"}},
		`123456789012345678901234`: json.Number("123456789012345678901234"),
		`null`:                     nil,
	} {
		got, err := DecodeJSON([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeJSON(%s) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `1 2`, `"a" x`, `NaN`} {
		if v, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%q) = %#v; want an error", bad, v)
		}
	}
}

package python

import (
	"bufio"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// python3Row is one line of testdata/python3.jsonl, which
// testdata/python3.py wrote with CPython 3.11; see that script for the
// fields.
type python3Row struct {
	Src        *string  `json:"src"`
	Repr       *string  `json:"repr"`
	Str        *string  `json:"str"`
	StrNotUTF8 bool     `json:"str_not_utf8"`
	Error      string   `json:"error"`
	ReprError  string   `json:"repr_error"`
	Float      string   `json:"float"`
	Complex    []string `json:"complex"`
	JSON       *string  `json:"json"`
	Unprint    []rune   `json:"unprintable"`
	Unassigned bool     `json:"unassigned"`
}

func python3Rows(t testing.TB) []python3Row {
	t.Helper()
	f, err := os.Open("testdata/python3.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []python3Row
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r python3Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", sc.Bytes(), err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// Where LiteralEval knowingly differs from CPython (see the package doc).
// Each must still differ, so that the list stays true.
var literalDivergences = map[string]string{
	`'\N{EM DASH}'`:                  `\N{NAME} needs Unicode's name table; refused`,
	"...":                            "Ellipsis is refused",
	`'\ud800'`:                       "a surrogate outside U+DC80-U+DCFF reads as U+FFFD",
	`'\udc7f'`:                       "a surrogate outside U+DC80-U+DCFF reads as U+FFFD",
	`'\udcff\udc80\U0000dcc3\udc7f'`: "a surrogate outside U+DC80-U+DCFF reads as U+FFFD",
	`'\udcc3\udca9'`:                 "surrogates whose bytes would make a UTF-8 character read as U+FFFD",
	`'\udce2\udc82\udcac'`:           "surrogates whose bytes would make a UTF-8 character read as U+FFFD",
	"{('a,sb',), ('a', 'b')}":        "a set keeps the order written; Python prints hash order",
}

// Where DecodeJSON knowingly differs from json.loads.
var jsonDivergences = map[string]string{
	"NaN":                     "encoding/json refuses it",
	"Infinity":                "encoding/json refuses it",
	"-Infinity":               "encoding/json refuses it",
	`"\ud800"`:                "encoding/json reads a lone surrogate as U+FFFD",
	strings.Repeat("1", 4301): "json.loads refuses an int past 4300 digits; DecodeJSON keeps its digits",
}

// TestPython3 checks LiteralEval, Repr, Str and DecodeJSON against what
// CPython 3.11 printed for the same input, exactly.
func TestPython3(t *testing.T) {
	t.Parallel()
	rows := python3Rows(t)
	var srcs, floats, complexes, jsons, diverged int
	for _, r := range rows {
		switch {
		case r.Src != nil:
			srcs++
			if literalRow(t, r) {
				diverged++
			}
		case r.Float != "":
			floats++
			f := parseHexFloat(t, r.Float)
			if got, _ := Repr(f); got != *r.Repr {
				t.Errorf("Repr(float %s) = %s; Python: %s", r.Float, got, *r.Repr)
			}
		case r.Complex != nil:
			complexes++
			c := complex(parseHexFloat(t, r.Complex[0]), parseHexFloat(t, r.Complex[1]))
			if got, _ := Repr(c); got != *r.Repr {
				t.Errorf("Repr(complex(%s, %s)) = %s; Python: %s", r.Complex[0], r.Complex[1], got, *r.Repr)
			}
		case r.JSON != nil:
			jsons++
			if jsonRow(t, r) {
				diverged++
			}
		}
	}
	if srcs < 800 || floats < 1500 || complexes < 300 || jsons < 30 {
		t.Errorf("the table has %d literals, %d floats, %d complex, %d JSON texts; want at least 800, 1500, 300, 30",
			srcs, floats, complexes, jsons)
	}
	if want := len(literalDivergences) + len(jsonDivergences); diverged != want {
		t.Errorf("%d rows matched a known divergence; the lists hold %d", diverged, want)
	}
}

// literalRow checks one literal; it reports whether the row is a known
// divergence.
func literalRow(t *testing.T, r python3Row) (divergence bool) {
	t.Helper()
	src := *r.Src
	v, ok := LiteralEval(src)
	if why, known := literalDivergences[src]; known {
		got, _ := Repr(v)
		if ok && r.Repr != nil && got == *r.Repr {
			t.Errorf("LiteralEval(%q) now agrees with Python (%s): remove it from literalDivergences (%s)", src, got, why)
		}
		return true
	}
	if r.Error != "" {
		if ok {
			t.Errorf("LiteralEval(%.80q) = %.80v; Python raises %s", src, v, r.Error)
		}
		return false
	}
	if !ok {
		t.Errorf("LiteralEval(%.80q) refused; Python reads it", src)
		return false
	}
	got, err := Repr(v)
	if r.ReprError != "" {
		if !errors.Is(err, ErrIntTooLong) {
			t.Errorf("Repr(LiteralEval(%.80q)) = %.80q, %v; Python raises %s", src, got, err, r.ReprError)
		}
		return false
	}
	if err != nil || got != *r.Repr {
		t.Errorf("Repr(LiteralEval(%.80q)) = %.80q, %v; Python: %.80q", src, got, err, *r.Repr)
	}
	want := *r.Repr
	if r.Str != nil {
		want = *r.Str
	}
	if s, err := Str(v); r.StrNotUTF8 {
		if utf8.ValidString(s) {
			t.Errorf("Str(LiteralEval(%q)) = %q; want bytes that are not UTF-8 for Python's lone surrogates", src, s)
		}
	} else if err != nil || s != want {
		t.Errorf("Str(LiteralEval(%.80q)) = %.80q, %v; Python: %.80q", src, s, err, want)
	}
	return false
}

func jsonRow(t *testing.T, r python3Row) (divergence bool) {
	t.Helper()
	text := *r.JSON
	v, err := DecodeJSON([]byte(text))
	got, _ := Repr(v)
	if why, known := jsonDivergences[text]; known {
		if err == nil && r.Repr != nil && got == *r.Repr {
			t.Errorf("DecodeJSON(%q) now agrees with Python: remove it from jsonDivergences (%s)", text, why)
		}
		return true
	}
	switch {
	case r.Error != "" && err == nil:
		t.Errorf("DecodeJSON(%.80q) = %.80v; Python raises %s", text, got, r.Error)
	case r.Error == "" && (err != nil || got != *r.Repr):
		t.Errorf("DecodeJSON(%.80q): Repr %.80q, %v; Python: %.80q", text, got, err, *r.Repr)
	}
	return false
}

func parseHexFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("float %s: %v", s, err)
	}
	return f
}

// TestPrintable checks, for every code point, that Repr escapes it exactly
// when Python 3.11 does, except for characters Unicode 14 (Python's) had
// not assigned and Go's newer Unicode has.
func TestPrintable(t *testing.T) {
	t.Parallel()
	type span struct {
		lo, hi     rune
		unassigned bool
	}
	var spans []span
	for _, r := range python3Rows(t) {
		if r.Unprint != nil {
			spans = append(spans, span{r.Unprint[0], r.Unprint[1], r.Unassigned})
		}
	}
	if len(spans) < 100 {
		t.Fatalf("%d unprintable spans in the table; want the whole of Unicode", len(spans))
	}
	newer, i := 0, 0
	for c := rune(0); c <= utf8.MaxRune; c++ {
		for i < len(spans) && spans[i].hi < c {
			i++
		}
		pyPrint, unassigned := true, false
		if i < len(spans) && spans[i].lo <= c {
			pyPrint, unassigned = false, spans[i].unassigned
		}
		if c >= 0xd800 && c <= 0xdfff {
			continue // a surrogate is no rune of a Go string
		}
		switch goPrint := printable(c); {
		case goPrint == pyPrint:
		case goPrint && unassigned:
			newer++
		default:
			t.Errorf("U+%04X: printable %v; Python 3.11: %v", c, goPrint, pyPrint)
		}
	}
	// Unicode 15 assigned 4,489 characters; the test fails if Go's
	// tables grow so far past Python's that the allowance hides a bug.
	if newer > 10000 {
		t.Errorf("%d characters printable here and unassigned in Python 3.11", newer)
	}
	t.Logf("%d characters assigned after Unicode 14 print as themselves", newer)
}

// bigInt is a test helper for *big.Int literals.
func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic(s)
	}
	return n
}

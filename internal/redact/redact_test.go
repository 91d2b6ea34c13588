package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func Example() {
	m := New()
	m.Add("s3cr3t/t0ken") // the value a secret resolved to

	fmt.Println(m.Redact("GET /api?token=s3cr3t%2Ft0ken failed"))
	err := m.Error(fmt.Errorf("login with %q: %w", "s3cr3t/t0ken", fs.ErrPermission))
	fmt.Println(err, errors.Is(err, fs.ErrPermission))
	// Output:
	// GET /api?token=******** failed
	// login with "********": permission denied true
}

// visible reports whether form can be seen in out outside the Markers. A
// form of one to eight '*' is part of every Marker; it is visible only in a
// run of '*' at least as long as itself that is not exactly one Marker
// (Redact never leaves a Marker touching another '*' when such a form is
// registered).
func visible(out, form string) bool {
	if strings.Trim(form, "*") != "" || len(form) > len(Marker) {
		return strings.Contains(out, form)
	}
	for run := range strings.FieldsFuncSeq(out, func(r rune) bool { return r != '*' }) {
		if len(run) >= len(form) && len(run) != len(Marker) {
			return true
		}
	}
	return false
}

// naiveRedact marks every byte of every occurrence of every form, found by
// trying each form at each position, and replaces each run of marked bytes
// with one Marker. Redact must agree with it whenever no form contains '*'.
func naiveRedact(s string, forms []string) string {
	covered := make([]bool, len(s))
	for _, f := range forms {
		for i := 0; i+len(f) <= len(s); i++ {
			if s[i:i+len(f)] == f {
				for j := i; j < i+len(f); j++ {
					covered[j] = true
				}
			}
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !covered[i] {
			b.WriteByte(s[i])
			continue
		}
		b.WriteString(Marker)
		for i+1 < len(s) && covered[i+1] {
			i++
		}
	}
	return b.String()
}

// testValues are the secrets every property test runs over: the awkward
// characters, sizes and shapes, then random ones.
func testValues() []string {
	vs := []string{
		"hunter2",
		"p@ss w0rd!",
		`with "double" and 'single' quotes`,
		"line1\nline2\r\n\ttabbed",
		"$HOME ${VAR} $$ $1",
		"100% %2F %zz %",
		"naïve ünïcödé ✓ 日本語 🙂",
		`{"user":"admin","pass":"x<y>&z","n":[1,2.5,null]}`,
		"<script>alert('x')</script>&amp;",
		"a", "Z", "0", " ", "%", "\"", "\\", "/", "+", "=", "\n", "\x00",
		"é", "🙂", "\u2028", "\xff\xfe invalid utf-8",
		"ab", "abc", "abcd", "pass", "password", "password123", "123",
		"https://user:pw@example.com/a b/c?q=1&r=2#frag",
		"sk_live_4eC39HqLyjWDarjtT1zdp7dc",
		"-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END KEY-----",
		"*", "**", "***", Marker, Marker + "*", "*x", "x*", "**x**", "a*b", "pass*word*",
		"*********************",
		strings.Repeat("x", 4096),
		strings.Repeat("ab", 2048),
	}
	r := rand.New(rand.NewPCG(7, 11))
	big := make([]byte, 4096)
	for i := range big {
		big[i] = byte(32 + r.IntN(95))
	}
	vs = append(vs, string(big))
	alphabet := []rune("abcXYZ019 \"'\\\n\t$%&<>=+/*{}:,.é日🙂\x00")
	for range 150 {
		n := 1 + r.IntN(24)
		if r.IntN(10) == 0 {
			n = 1 + r.IntN(600)
		}
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		vs = append(vs, string(rs))
	}
	return vs
}

func TestAddIgnoresEmpty(t *testing.T) {
	m := New()
	m.Add("")
	if !m.Empty() {
		t.Fatal("Empty() = false after Add(\"\")")
	}
	if got := m.Redact("anything"); got != "anything" {
		t.Fatalf("Redact = %q", got)
	}
	var zero Masker
	if !zero.Empty() || zero.Redact("x") != "x" || zero.Contains("x") {
		t.Fatal("the zero Masker is not empty")
	}
	zero.Add("x")
	if zero.Redact("axb") != "a"+Marker+"b" {
		t.Fatal("the zero Masker does not mask after Add")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"none registered", nil, "token=abc", "token=abc"},
		{"empty text", []string{"abc"}, "", ""},
		{"plain", []string{"hunter2"}, "password is hunter2.", "password is ********."},
		{"every occurrence", []string{"hunter2"}, "hunter2 hunter2", "******** ********"},
		{"no match", []string{"hunter2"}, "hunter3", "hunter3"},
		{"base64", []string{"hunter2"}, "Basic aHVudGVyMg==", "Basic ********"},
		{"url query", []string{"a b&c"}, "?p=a+b%26c&q=1", "?p=********&q=1"},
		{"url path", []string{"a b/c"}, "/x/a%20b%2Fc/y", "/x/********/y"},
		{"json", []string{`say "hi"`}, `{"m":"say \"hi\""}`, `{"m":"********"}`},
		{"json html", []string{"<b>"}, `{"m":"\u003cb\u003e"}`, `{"m":"********"}`},
		{"go quoted", []string{"tab\tx"}, `bad token "tab\tx"`, `bad token "********"`},
		{"hex", []string{"key"}, "6b6579 6B6579", "******** ********"},
		{"longest first", []string{"pass", "password", "password123"}, "password123 password pass", "******** ******** ********"},
		{"registered short first", []string{"abc", "abcdef"}, "xabcdefx", "x********x"},
		{"overlap", []string{"abcd", "cdef"}, "xabcdefx", "x********x"},
		{"overlap three", []string{"abc", "cde", "efg"}, "abcdefg!", "********!"},
		{"adjacent", []string{"hunter2"}, "hunter2hunter2", "********"},
		{"one character", []string{"a"}, "banana", "b********n********n********"},
		{"one character run", []string{"a"}, "baaad", "b********d"},
		{"unicode", []string{"日本"}, "x日本語", "x********語"},
		{"secret is the marker", []string{Marker}, "a********b", "a********b"},
		{"star", []string{"*"}, "a*b**c", "a********b********c"},
		{"two stars", []string{"**"}, "a*b**c***d", "a*b********c********d"},
		{"nine stars", []string{"*********"}, "a*********b", "a********b"},
		{"nine stars after a mask", []string{"*********", "x"}, "x********", "********"},
		{"star completed by marker", []string{"*x"}, "*xx", "********"},
		{"star completed on the left", []string{"x*"}, "xx*", "********"},
		{"star completed repeatedly", []string{"*x"}, "*xxxxxx!", "********!"},
		{"star via another secret", []string{"*b", "a"}, "ab", "********"},
		{"star spans two masks", []string{"a", "*-*"}, "a-a", "********"},
		{"star stays apart", []string{"*b", "a"}, "a-b", "********-b"},
		{"star form union", []string{"q", "*ab", "*a"}, "qabc", "********c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			for _, s := range tt.secrets {
				m.Add(s)
			}
			got := m.Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := m.Redact(got); again != got {
				t.Errorf("Redact is not idempotent: %q -> %q", got, again)
			}
		})
	}
}

// TestRedactEachValue registers each test value on its own and redacts text
// that embeds the value and each derived form: none may be left visible, and
// the text around them must come through exactly as an independent,
// brute-force masking leaves it.
func TestRedactEachValue(t *testing.T) {
	for i, v := range testValues() {
		want := wantForms(v)
		m := New()
		m.Add(v)
		var b strings.Builder
		b.WriteString("BEGIN ")
		for j, f := range want {
			fmt.Fprintf(&b, "<%d|%s|%d> ", j, f, j)
		}
		b.WriteString(`json={"k":` + strconv.Quote(v) + `} END`)
		in := b.String()
		out := m.Redact(in)
		for _, f := range want {
			if visible(out, f) {
				t.Errorf("value %d %.40q: form %.40q visible in %.200q", i, v, f, out)
			}
		}
		star := slices.ContainsFunc(want, func(f string) bool { return strings.Contains(f, "*") })
		if naive := naiveRedact(in, want); !star && out != naive {
			t.Errorf("value %d %.40q:\n got %.300q\nwant %.300q", i, v, naive, out)
		}
		if again := m.Redact(out); again != out {
			t.Errorf("value %d %.40q: Redact is not idempotent", i, v)
		}
		if !m.Contains(in) {
			t.Errorf("value %d %.40q: Contains(text) = false", i, v)
		}
	}
}

// TestRedactAllValues registers every test value in one Masker: values that
// are substrings of one another, overlap and share derived forms.
func TestRedactAllValues(t *testing.T) {
	values := testValues()
	m := New()
	var all []string
	for _, v := range values {
		m.Add(v)
		for _, f := range wantForms(v) {
			if !slices.Contains(all, f) {
				all = append(all, f)
			}
		}
	}
	if got := registered(m); len(got) != len(all) {
		t.Fatalf("registered %d forms, want %d", len(got), len(all))
	}
	r := rand.New(rand.NewPCG(3, 5))
	for range 50 {
		var b strings.Builder
		for range 8 {
			b.WriteString(" plain text ")
			b.WriteString(all[r.IntN(len(all))])
		}
		in := b.String()
		out := m.Redact(in)
		for _, f := range all {
			if visible(out, f) {
				t.Fatalf("form %.40q visible in %.200q", f, out)
			}
		}
		if again := m.Redact(out); again != out {
			t.Fatalf("Redact is not idempotent on %.200q", out)
		}
	}
}

// TestRedactRandom compares Redact with the brute-force masking on random
// text over a small alphabet, where secrets overlap, nest and repeat, and
// checks the invariants when a form contains '*'.
func TestRedactRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	gen := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for _, alphabet := range []string{"ab", "abc", "ab*", "a*", "abc*-"} {
		for range 2000 {
			m := New()
			var forms []string
			for range 1 + r.IntN(4) {
				v := gen(alphabet, 1+r.IntN(5))
				m.Add(v)
				for _, f := range wantForms(v) {
					if !slices.Contains(forms, f) {
						forms = append(forms, f)
					}
				}
			}
			in := gen(alphabet, r.IntN(40))
			out := m.Redact(in)
			star := slices.ContainsFunc(forms, func(f string) bool { return strings.Contains(f, "*") })
			if naive := naiveRedact(in, forms); !star && out != naive {
				t.Fatalf("forms %q, Redact(%q) = %q, want %q", forms, in, out, naive)
			}
			for _, f := range forms {
				if visible(out, f) {
					t.Fatalf("forms %q, Redact(%q) = %q: %q visible", forms, in, out, f)
				}
			}
			if again := m.Redact(out); again != out {
				t.Fatalf("forms %q, Redact(%q) = %q, then %q", forms, in, out, again)
			}
			checkCovers(t, m, in)
		}
	}
}

// registered returns every form m holds, in no particular order.
func registered(m *Masker) []string {
	st := m.cur.Load()
	if st == nil {
		return nil
	}
	var out []string
	for _, ix := range st.classes {
		if ix != nil {
			for i := range uint32(ix.nf) {
				out = append(out, ix.form(i))
			}
		}
	}
	if st.short != nil {
		for _, l := range st.short.byFirst {
			out = append(out, l...)
		}
	}
	return out
}

// checkCovers checks that the spans Redact masks cover every occurrence of
// every form in s: settling star forms may only widen them.
func checkCovers(t *testing.T, m *Masker, s string) {
	t.Helper()
	st := m.cur.Load()
	if st == nil {
		return
	}
	in := st.spans(s, nil)
	out := in
	if len(st.star) > 0 {
		out = st.settle(s, slices.Clone(in))
	}
	for _, p := range in {
		if !slices.ContainsFunc(out, func(q span) bool { return q.start <= p.start && p.end <= q.end }) {
			t.Fatalf("%q: span %v of an occurrence is not inside the masked spans %v", s, p, out)
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i].start <= out[i-1].end {
			t.Fatalf("%q: masked spans %v overlap or touch", s, out)
		}
	}
}

func TestContains(t *testing.T) {
	m := New()
	if m.Contains("x") {
		t.Fatal("empty Masker contains x")
	}
	m.Add("hunter2")
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"hunter", false},
		{"xhunter2x", true},
		{"aHVudGVyMg", true},
		{"68756E74657232", true},
		{"hunter 2", false},
	} {
		if got := m.Contains(tt.s); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestRedactAllocations(t *testing.T) {
	m := New()
	if n := testing.AllocsPerRun(100, func() { _ = m.Redact(record) }); n != 0 {
		t.Errorf("Redact with no secrets: %v allocations, want 0", n)
	}
	for _, s := range benchSecrets(10) {
		m.Add(s)
	}
	_ = m.Redact(record) // build the matcher
	if n := testing.AllocsPerRun(100, func() { _ = m.Redact(record) }); n != 0 {
		t.Errorf("Redact with no match: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.Contains(record) }); n != 0 {
		t.Errorf("Contains: %v allocations, want 0", n)
	}
}

func TestRedactReturnsInputUntouched(t *testing.T) {
	m := New()
	s := strings.Repeat("no secret here ", 10)
	if got := m.Redact(s); unsafe.StringData(got) != unsafe.StringData(s) || len(got) != len(s) {
		t.Fatal("Redact with no secrets did not return its input")
	}
	m.Add("hunter2")
	if got := m.Redact(s); unsafe.StringData(got) != unsafe.StringData(s) || len(got) != len(s) {
		t.Fatal("Redact with no match did not return its input")
	}
}

// TestConcurrentAddRedact adds secrets from several goroutines while others
// redact; run with -race. Once Add(v) has returned, every Redact must mask v.
func TestConcurrentAddRedact(t *testing.T) {
	m := New()
	const writers, perWriter, readers = 4, 50, 4
	added := make(chan string, writers*perWriter)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				v := fmt.Sprintf("secret-%d-%d-value", w, i)
				m.Add(v)
				added <- v
			}
		})
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		rg.Go(func() {
			var seen []string
			for {
				select {
				case <-stop:
					return
				case v := <-added:
					seen = append(seen, v)
				default:
				}
				for _, v := range seen {
					if out := m.Redact("x " + v + " y"); out != "x ******** y" {
						errs <- fmt.Errorf("after Add(%q): Redact = %q", v, out)
						return
					}
				}
				_ = m.Contains("nothing to see")
				_ = m.Empty()
			}
		})
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		for i := range perWriter {
			v := fmt.Sprintf("secret-%d-%d-value", w, i)
			if m.Redact(v) != Marker {
				t.Fatalf("%q not masked at the end", v)
			}
		}
	}
}

// A pathological text for a form containing '*': every step of widening
// the mask completes the form again. It must stay linear, not quadratic.
func TestStarWideningIsLinear(t *testing.T) {
	m := New()
	m.Add("*x")
	in := "*" + strings.Repeat("x", 1<<20) + "!"
	if got := m.Redact(in); got != Marker+"!" {
		t.Fatalf("Redact = %.40q...", got)
	}
}

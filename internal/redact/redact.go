// Package redact masks the secret values of a flow run in the text the run
// produces: log records, state messages, error text, panic messages and
// task-run names.
//
// A Masker belongs to one flow run. Every secret resolved during the run is
// registered with Add, and Redact replaces every occurrence of the secret,
// and of each form it takes when it is printed or passed on, with Marker:
//
//	m := redact.New()
//	m.Add(token)               // once the secret is resolved
//	msg = m.Redact(msg)        // "auth failed for ********"
//	err = m.Error(err)         // Error() and fmt masked, errors.Is still works
//	log := slog.New(m.Handler(h))
//
// The forms Add registers for a secret s:
//
//   - s itself;
//   - base64 of s: standard and URL-safe, padded and not;
//   - base64 of any text that holds s ("Authorization: Basic " +
//     base64("user:"+s)), padded or not: for each of the three places s
//     can start in base64's three-byte groups, and for each alphabet, the
//     run of characters that depends on the bytes of s alone, when s has 5
//     bytes or more (each run then has 6 characters or more);
//   - url.QueryEscape and url.PathEscape, and a URL's userinfo as
//     url.URL.String writes it ("postgres://app:p%40ss=w$rd@db");
//   - the body of a JSON string: as encoding/json writes it, with and
//     without HTML escaping; with DEL and every non-ASCII rune as \u00e9
//     (a rune past U+FFFF as a surrogate pair, \ud83d\ude00), as Python's
//     json.dumps writes it; the same with upper-case hex, \u00E9; and with
//     only the escapes JSON requires, as JavaScript's JSON.stringify writes
//     it;
//   - the body of a Go quoted string: %q (strconv.Quote) and %+q
//     (strconv.QuoteToASCII);
//   - hex, lower and upper case (%x, %X), and spaced (% x, % X);
//   - a []byte printed by fmt: %v or %d, "[115 51 99]", without its
//     brackets (so within a printed struct or a longer list too), and the
//     body of %#v, "0x73, 0x33, 0x63";
//   - each line of a multi-line secret (a PEM key), without its line end
//     (\n or \r\n), when it has 4 bytes or more and is not blank, with all
//     of the forms above; and so a secret ending in "\r" without it.
//
// Not covered, knowingly:
//
//   - a value split across two Redact calls (two log records, two
//     attributes, two writes), or cut short: only whole lines of a
//     multi-line secret are registered on their own;
//   - pieces shorter than four bytes: a line of a multi-line secret, or a
//     value inside a secret table, which callers (secrets.Value.RevealAll)
//     do not register on their own (the whole secret is masked); and base64
//     of text holding a secret shorter than five bytes;
//   - encodings not listed: compression, encryption, hashes, base32, base64
//     broken into lines (MIME), HTML entities, shell quoting, Python's
//     bytes repr (b'\xc3\xa9'), .NET's default JSON (\u0022, \u002B), a
//     secret in another case or Unicode normalisation, and forms of forms
//     (the base64 of a secret's hex, a URL-escaped JSON string);
//   - values that never pass through the Masker, such as a task's result,
//     and the task's own error values, which errors.As hands back only when
//     they show no secret (see Error).
//
// Occurrences that overlap or touch are masked together by one Marker, so a
// secret that contains another is masked whole and no byte of any registered
// form is left visible. The only registered forms Redact's output can contain
// are those that are part of Marker itself: a secret made of one to eight
// '*' is masked like any other, but its value is still "visible" inside each
// Marker. A form containing '*' could reappear where a Marker meets the text
// around it ("*x" in "*xx" would leave "********x"); Redact widens the mask
// until no such occurrence is left.
//
// Cost: with nothing registered, Redact returns its input and allocates
// nothing, and with no match it allocates nothing either. It reads the text
// every 4 bytes when every form has 7 bytes or more (every form of a
// one-line secret of 7 bytes or more), and more often for shorter forms:
// one hash and one bit test per read, and a comparison with the registered
// forms only where the bit is set. Redact takes no lock. Add extends the
// matcher in place, in time linear in the length of the new forms, and
// nothing is rebuilt when a secret is added or a record is masked (match.go
// describes the design).
package redact

import (
	"sync"
	"sync/atomic"
)

// Marker replaces every masked occurrence.
const Marker = "********"

// A Masker masks the secrets registered with it. The zero Masker is ready to
// use and masks nothing. A Masker is safe for concurrent use: Add may be
// called from many goroutines while others call Redact.
type Masker struct {
	mu    sync.Mutex          // serialises Add
	added map[string]struct{} // secrets given to Add; guarded by mu
	cur   atomic.Pointer[state]
}

// New returns a Masker with nothing registered.
func New() *Masker { return &Masker{} }

// Add registers a secret value and its derived forms (see the package
// documentation). Empty values are ignored, and so is any derived form that
// is empty or already registered. Once Add returns, every Redact masks the
// value.
func (m *Masker) Add(secret string) {
	if secret == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.added[secret]; ok {
		return // a run registers the same value again and again
	}
	if m.added == nil {
		m.added = make(map[string]struct{})
	}
	m.added[secret] = struct{}{}
	if st := m.cur.Load().add(forms(secret)); st != nil {
		m.cur.Store(st)
	}
}

// Empty reports whether nothing is registered, in which case Redact returns
// its input untouched.
func (m *Masker) Empty() bool { return m.cur.Load() == nil }

// Redact returns s with every occurrence of a registered form replaced by
// Marker. Occurrences that overlap or touch are replaced together by one
// Marker, so a longer secret that contains a shorter one is masked whole.
func (m *Masker) Redact(s string) string {
	st := m.cur.Load()
	if st == nil {
		return s
	}
	return st.redact(s)
}

// Contains reports whether s contains any registered form.
func (m *Masker) Contains(s string) bool {
	st := m.cur.Load()
	if st == nil {
		return false
	}
	return st.contains(s)
}

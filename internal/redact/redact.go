// Package redact masks the secret values of a flow run in the text the run
// produces: log records, state messages, error text, panic messages and
// task-run names.
//
// A Masker belongs to one flow run. Every secret resolved during the run is
// registered with Add, which also registers the forms the value takes when it
// is printed or passed on: base64 (standard and URL-safe, padded and not), URL
// query and path escaping, the body of a JSON string literal (with and without
// HTML escaping), the body of a Go quoted string (%q) and hex (lower and upper
// case). Redact replaces every occurrence of any registered form with Marker:
//
//	m := redact.New()
//	m.Add(token)               // once the secret is resolved
//	msg = m.Redact(msg)        // "auth failed for ********"
//	err = m.Error(err)         // Error() masked, errors.Is/As still work
//	log := slog.New(m.Handler(h))
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
// only every step bytes, step being the length of the shortest registered
// form less three, at most eight: one hash and one bit test per read, and a
// comparison with the registered forms only where the bit is set. A secret
// shorter than eight bytes adds a second such pass with a smaller step, and
// one with a form of one to three bytes a pass over every byte. Redact takes
// no lock; Add copies nothing but the new forms, and the matcher for a new
// set of secrets is built once, by the first Redact or Contains that sees it.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/bits"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	seen  map[string]struct{} // forms registered so far; guarded by mu
	forms []string            // the same forms in registration order; guarded by mu, append-only
	cur   atomic.Pointer[snapshot]
}

// New returns a Masker with nothing registered.
func New() *Masker { return &Masker{} }

// Add registers a secret value and its derived forms (see the package
// documentation). Empty values are ignored, and so is any derived form that
// is empty or equal to the value.
func (m *Masker) Add(secret string) {
	if secret == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = make(map[string]struct{})
	}
	n := len(m.forms)
	for _, f := range forms(secret) {
		if _, ok := m.seen[f]; ok {
			continue
		}
		m.seen[f] = struct{}{}
		m.forms = append(m.forms, f)
	}
	if len(m.forms) == n {
		return
	}
	// Older snapshots keep reading m.forms[:their length]; Add only ever
	// writes past it, so sharing the backing array is safe and Add stays
	// cheap when a run registers many secrets.
	m.cur.Store(&snapshot{forms: m.forms[:len(m.forms):len(m.forms)]})
}

// Empty reports whether nothing is registered, in which case Redact returns
// its input untouched.
func (m *Masker) Empty() bool { return m.cur.Load() == nil }

// Redact returns s with every occurrence of a registered form replaced by
// Marker. Occurrences that overlap or touch are replaced together by one
// Marker, so a longer secret that contains a shorter one is masked whole.
func (m *Masker) Redact(s string) string {
	sn := m.cur.Load()
	if sn == nil || s == "" {
		return s
	}
	return sn.matcher().redact(s)
}

// Contains reports whether s contains any registered form.
func (m *Masker) Contains(s string) bool {
	sn := m.cur.Load()
	if sn == nil {
		return false
	}
	return sn.matcher().contains(s)
}

// forms returns secret and its derived forms, the empty ones left out.
func forms(secret string) []string {
	b := []byte(secret)
	quoted := strconv.Quote(secret)
	out := []string{
		secret,
		base64.StdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(secret),
		url.PathEscape(secret),
		jsonBody(secret, true),
		jsonBody(secret, false),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		// Go quoting differs from JSON's (\x01, not \u0001); it is how
		// fmt.Errorf("bad token %q", tok) and slog.TextHandler write a
		// value.
		quoted[1 : len(quoted)-1],
	}
	return slices.DeleteFunc(out, func(f string) bool { return f == "" })
}

// jsonBody returns s as encoding/json writes it inside a string literal,
// without the quotes.
func jsonBody(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return "" // cannot happen: every string encodes
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(body[1 : len(body)-1])
}

// A snapshot is the immutable set of forms registered at one moment. Its
// matcher is built on first use, so a burst of Adds costs one build.
type snapshot struct {
	forms []string
	once  sync.Once
	m     *matcher
}

func (sn *snapshot) matcher() *matcher {
	sn.once.Do(func() { sn.m = newMatcher(sn.forms) })
	return sn.m
}

// A matcher finds every occurrence of a fixed set of forms.
//
// Forms of four bytes or more are found by sampling the text. If every form
// in a group is at least n bytes long, an occurrence of one always covers
// the four bytes at some multiple of step = n-3, starting less than step
// bytes into the form. So the text is read only at multiples of step: a bit
// set indexed by a hash of the four bytes there rules out almost every one,
// and a map from four bytes to every (form, offset < step) holding them
// confirms the rest. Forms of 8 bytes or more, every form of a secret of
// eight bytes or more, make one group, read every min(n-3, maxStep) bytes;
// forms of 4 to 7 bytes make a second, read every n-3 bytes; forms of 1 to
// 3 bytes are looked up by their first byte at every position.
type matcher struct {
	groups   [2]sampler    // forms of 8 bytes or more, then of 4 to 7
	short    [256][]string // forms of 1 to 3 bytes by first byte, longest first
	isShort  [256]bool     // short[c] is not empty
	hasShort bool          // some short[c] is not empty
	star     []string      // forms containing '*', which a Marker can complete
	maxStar  int           // length of the longest form in star
}

// maxStep bounds the sampling step, and so the number of offsets indexed
// per form (memory, and build time) for long secrets.
const maxStep = 8

// A sampler finds the forms of one group; a zero sampler finds nothing.
type sampler struct {
	step   int               // distance between the positions read
	filter []uint64          // bit hash(k) is set for every key k of grams
	shift  uint              // hash(k) = k*hashMul >> shift
	grams  map[uint32][]gram // four bytes → the forms holding them at off
}

type gram struct {
	form string
	off  int
}

const hashMul = 0x9E3779B1

func load4(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

func newMatcher(forms []string) *matcher {
	mt := &matcher{}
	var long, mid []string
	for _, f := range forms {
		if strings.IndexByte(f, '*') >= 0 {
			mt.star = append(mt.star, f)
			mt.maxStar = max(mt.maxStar, len(f))
		}
		switch {
		case len(f) >= 8:
			long = append(long, f)
		case len(f) >= 4:
			mid = append(mid, f)
		default:
			mt.short[f[0]] = append(mt.short[f[0]], f)
			mt.isShort[f[0]], mt.hasShort = true, true
		}
	}
	for _, l := range mt.short {
		slices.SortFunc(l, func(a, b string) int { return len(b) - len(a) })
	}
	mt.groups[0] = newSampler(long)
	mt.groups[1] = newSampler(mid)
	return mt
}

func newSampler(forms []string) sampler {
	if len(forms) == 0 {
		return sampler{}
	}
	n := len(forms[0])
	for _, f := range forms {
		n = min(n, len(f))
	}
	sm := sampler{step: min(n-3, maxStep), grams: make(map[uint32][]gram)}
	for _, f := range forms {
		for off := range sm.step {
			k := load4(f, off)
			sm.grams[k] = append(sm.grams[k], gram{f, off})
		}
	}
	// About 32 bits per key keeps false hits near 3%; at least 4096 bits,
	// at most 2^24 (2 MiB).
	logBits := min(max(bits.Len(uint(len(sm.grams))*32-1), 12), 24)
	sm.shift = uint(32 - logBits)
	sm.filter = make([]uint64, 1<<logBits/64)
	for k := range sm.grams {
		h := k * hashMul >> sm.shift
		sm.filter[h>>6] |= 1 << (h & 63)
	}
	return sm
}

// hit returns the first position from p on, p+step, p+2*step, ..., whose
// four bytes pass the filter, or -1. Every Redact spends most of its time in
// this loop, which is why it makes no call (nothing to spill) and leaves the
// map to its caller.
func (sm *sampler) hit(s string, p int) int {
	filter, shift, step := sm.filter, sm.shift&31, sm.step
	for ; p+4 <= len(s); p += step {
		h := load4(s, p) * hashMul >> shift
		if filter[h>>6]&(1<<(h&63)) != 0 {
			return p
		}
	}
	return -1
}

// find appends to dst the span of every occurrence of the group's forms in
// s, in no particular order; with first, it stops after one.
func (sm *sampler) find(s string, dst []span, first bool) []span {
	if sm.step == 0 {
		return dst
	}
	for p := sm.hit(s, 0); p >= 0; p = sm.hit(s, p+sm.step) {
		for _, g := range sm.grams[load4(s, p)] {
			a := p - g.off
			if a >= 0 && len(s)-a >= len(g.form) && s[a:a+len(g.form)] == g.form {
				dst = append(dst, span{a, a + len(g.form)})
				if first {
					return dst
				}
			}
		}
	}
	return dst
}

// findShort is find for the forms of 1 to 3 bytes. At each position only the
// longest form is kept: the others lie inside it.
func (mt *matcher) findShort(s string, dst []span, first bool) []span {
	if !mt.hasShort {
		return dst
	}
	for i := 0; i < len(s); i++ {
		if !mt.isShort[s[i]] {
			continue
		}
		for _, f := range mt.short[s[i]] {
			if len(s)-i >= len(f) && s[i:i+len(f)] == f {
				dst = append(dst, span{i, i + len(f)})
				if first {
					return dst
				}
				break
			}
		}
	}
	return dst
}

func (mt *matcher) find(s string, dst []span, first bool) []span {
	dst = mt.groups[0].find(s, dst, first)
	if first && len(dst) > 0 {
		return dst
	}
	dst = mt.groups[1].find(s, dst, first)
	if first && len(dst) > 0 {
		return dst
	}
	return mt.findShort(s, dst, first)
}

func (mt *matcher) contains(s string) bool {
	var buf [1]span
	return len(mt.find(s, buf[:0], true)) > 0
}

// A span is the byte range [start, end) of the input that one Marker replaces.
type span struct{ start, end int }

// spans appends to dst the ranges of s covered by occurrences of the forms,
// in order, with ranges that overlap or touch merged into one.
func (mt *matcher) spans(s string, dst []span) []span {
	n := len(dst)
	dst = mt.find(s, dst, false)
	found := dst[n:]
	if len(found) == 0 {
		return dst
	}
	slices.SortFunc(found, func(a, b span) int { return a.start - b.start })
	out := found[:1]
	for _, p := range found[1:] {
		if last := &out[len(out)-1]; p.start <= last.end {
			last.end = max(last.end, p.end)
		} else {
			out = append(out, p)
		}
	}
	return dst[:n+len(out)]
}

func (mt *matcher) redact(s string) string {
	var buf [8]span
	sp := mt.spans(s, buf[:0])
	if len(sp) == 0 {
		return s
	}
	if len(mt.star) > 0 {
		sp = mt.settle(s, sp)
	}
	size := len(s)
	for _, p := range sp {
		size += len(Marker) - (p.end - p.start)
	}
	var b strings.Builder
	b.Grow(size)
	prev := 0
	for _, p := range sp {
		b.WriteString(s[prev:p.start])
		b.WriteString(Marker)
		prev = p.end
	}
	b.WriteString(s[prev:])
	return b.String()
}

// settle widens the spans of s until no form containing '*' occurs across
// the edge of a Marker. in holds the spans of every occurrence in s itself,
// merged; the result is in the same form.
//
// The spans are taken left to right onto a stack. A new occurrence must
// overlap a Marker and reach into the text beside it, so each time a span
// is pushed or widened only the text around its own Marker is searched; a
// hit widens the span to take in the bytes the occurrence covered, merging
// with the spans on either side if they are reached. Each widening takes in
// at least one more byte of s, so the work is bounded by len(s) searches of
// a window of 2*(longest such form)+len(Marker) bytes.
func (mt *matcher) settle(s string, in []span) []span {
	out := make([]span, 0, len(in))
	var w window
	for k := 0; k < len(in); {
		out = append(out, in[k])
		k++
		for {
			v, ok := mt.violation(s, out, in[k:], &w)
			if !ok {
				break
			}
			top := &out[len(out)-1]
			top.start, top.end = min(top.start, v.start), max(top.end, v.end)
			for len(out) > 1 && out[len(out)-2].end >= out[len(out)-1].start {
				t := out[len(out)-1]
				out = out[:len(out)-1]
				p := &out[len(out)-1]
				p.start, p.end = min(p.start, t.start), max(p.end, t.end)
			}
			top = &out[len(out)-1]
			for k < len(in) && in[k].start <= top.end {
				top.end = max(top.end, in[k].end)
				k++
			}
		}
	}
	return out
}

// A window is the output around one Marker, byte by byte, with the input
// range each byte stands for: its own position for a byte of text, the whole
// span for a byte of a Marker.
type window struct {
	text []byte
	from []span
}

func (w *window) reset() { w.text, w.from = w.text[:0], w.from[:0] }

func (w *window) add(c byte, from span) {
	w.text = append(w.text, c)
	w.from = append(w.from, from)
}

// violation looks for forms containing '*' that overlap the Marker of the
// last span in done and reach past it into the text, in the output that
// done, pending and s make. It returns that span widened to take in the
// input each such occurrence covers.
func (mt *matcher) violation(s string, done, pending []span, w *window) (span, bool) {
	ctx := mt.maxStar - 1
	top := done[len(done)-1]
	w.reset()
	// Left of the Marker, collected backwards and then reversed.
	pos, j := top.start, len(done)-2
	for len(w.text) < ctx && pos > 0 {
		if j >= 0 && done[j].end == pos {
			for range len(Marker) {
				w.add('*', done[j])
			}
			pos = done[j].start
			j--
			continue
		}
		pos--
		w.add(s[pos], span{pos, pos + 1})
	}
	slices.Reverse(w.text)
	slices.Reverse(w.from)
	ms := len(w.text)
	for range len(Marker) {
		w.add('*', top)
	}
	pos, j = top.end, 0
	for len(w.text)-ms-len(Marker) < ctx && pos < len(s) {
		if j < len(pending) && pending[j].start == pos {
			for range len(Marker) {
				w.add('*', pending[j])
			}
			pos = pending[j].end
			j++
			continue
		}
		w.add(s[pos], span{pos, pos + 1})
		pos++
	}
	me := ms + len(Marker)
	// Take in every such occurrence at once, so the result does not depend
	// on the order the forms were registered in.
	v, found := top, false
	for _, f := range mt.star {
		// Occurrences that overlap the Marker lie in text[lo:hi].
		lo, hi := max(0, ms-len(f)+1), min(len(w.text), me+len(f)-1)
		for a := lo; a < hi; a++ {
			i := bytes.Index(w.text[a:hi], []byte(f))
			if i < 0 {
				break
			}
			a += i
			if a < ms || a+len(f) > me {
				v.start = min(v.start, w.from[a].start)
				v.end = max(v.end, w.from[a+len(f)-1].end)
				found = true
			}
		}
	}
	return v, found
}

// Error returns err wrapped so that its Error text is masked. errors.Is and
// errors.As see the chain of err, but the wrapper has no Unwrap method, so
// errors.Unwrap cannot hand back the unmasked text. The text is masked each
// time Error is called, with the secrets registered by then, so an error kept
// in a state and printed later is masked for secrets resolved after it was
// wrapped. nil stays nil, and an error Error already wrapped is returned as
// is.
func (m *Masker) Error(err error) error {
	if err == nil {
		return nil
	}
	if me, ok := err.(*maskedError); ok && me.m == m {
		return err
	}
	return &maskedError{m: m, err: err}
}

type maskedError struct {
	m   *Masker
	err error
}

var _ interface {
	error
	Is(error) bool
	As(any) bool
} = (*maskedError)(nil)

func (e *maskedError) Error() string        { return e.m.Redact(e.err.Error()) }
func (e *maskedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *maskedError) As(target any) bool   { return errors.As(e.err, target) }

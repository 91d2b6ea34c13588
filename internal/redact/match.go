package redact

import (
	"bytes"
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"
)

// How forms are found, and what it costs.
//
// Forms of four bytes or more are found by sampling the text. If a form is
// n bytes long and step <= n-3, then among any step consecutive offsets of
// the form that leave four bytes after them (its keys: see keyStart), an
// occurrence has one at a multiple of step of the text. So the text is
// read only at multiples of step: a bit set (the filter) indexed by a hash
// of the four bytes there rules out almost every position, and a hash
// table from four bytes to every (form, offset) holding them confirms the
// rest. Forms fall in three classes by length, each with a fixed step: 7
// bytes or more are read every 4 bytes, 5 and 6 every 2, 4 at every byte;
// forms of 1 to 3 bytes are looked up by their first byte at every
// position. A 200-byte record costs 50 reads when every form is in the
// first class (every form of a one-line secret of 7 bytes or more), one
// hash and one bit test each.
//
// Because each class's step is fixed, registering a form never changes
// what is already indexed: Add sets the bits of the form's step keys in
// the filter and links its entries at the heads of their buckets, and
// nothing is rebuilt when a secret is added or a record is masked. (The
// matcher this replaces chose its step from the shortest form registered,
// so each Add made the next Redact rebuild it whole: k secrets, each
// followed by a record, cost O(k^2).) Readers take no lock: filter words,
// bucket heads and chunks are read atomically, and an entry is written
// before it is linked, so a Redact that runs beside an Add sees each new
// entry whole or not at all, and every one once Add has returned.
//
// When a class has no room left, Add makes it a new filter, buckets and
// chains at twice the size (or more), links every entry in them again and
// publishes it; Redact calls already running keep the old tables, which
// hold everything registered when they began. Entries and forms stay where
// they are, in chunks the old and the new index share. Each entry is so
// linked about twice on average, and registering k secrets takes time and
// memory linear in the number of their forms: about 20 bytes for each
// entry a class has room for (it has room for at most twice the entries
// it holds, and at first for 128).
//
// A step of 4 rather than 8 halves the entries, and so the cost of Add,
// for twice the reads in Redact: a run masks far more records than it
// resolves secrets, but reads are cheap (a 200-byte record with 100
// secrets registered is masked in about 0.1 µs when nothing matches). The
// filter has 16 bits for each entry a class has room for (a false hit on
// about 3% of reads when the class is half full, 6% when full), at least
// 2048 and at most 2^24 bits.

// steps is the reading step of each class of forms of 4 bytes or more.
var steps = [...]int{4, 2, 1}

// classOf returns the class of a form of n >= 4 bytes: the first whose step
// is at most n-3.
func classOf(n int) int {
	switch {
	case n >= 7:
		return 0
	case n >= 5:
		return 1
	}
	return 2
}

// A state is what Redact reads: the classes' indexes, the short forms and
// the forms containing '*', as they were when the last Add returned. Add
// publishes a new state each time it registers a new form; the indexes it
// points to may be shared with earlier states and gain entries, but a state
// never loses one.
type state struct {
	classes [len(steps)]*index // nil while a class is empty
	short   *shortForms        // nil while there are none
	star    []string           // forms containing '*', which a Marker can complete
	maxStar int                // length of the longest form in star
}

// shortForms are the forms of 1 to 3 bytes. Add replaces the whole value
// when one is added; short forms are rare.
type shortForms struct {
	byFirst [256][]string // by first byte, longest first
	has     [256]bool     // byFirst[c] is not empty
}

// An index finds the forms of one class. Readers use step, the shifts and
// the tables, and load filter words, bucket heads and chunks atomically; n
// and nf belong to Add, under Masker.mu. Entries and forms live in chunks
// that never move, shared with the index this one grew from, so growing
// copies neither: only the filter, the buckets and next are made anew. An
// index holds no pointer but to its chunks and the forms' strings, so the
// garbage collector has little to scan.
type index struct {
	step    int
	fshift  uint     // filter bit of key k: k*hashMul >> fshift
	filter  []uint64 // bit hash(k) is set for every key k of an entry
	bshift  uint     // bucket of key k: k*hashMul >> bshift
	buckets []uint32 // 1 + the newest entry of each bucket, or 0
	next    []uint32 // 1 + the entry after entry i in its bucket, or 0
	entries []atomic.Pointer[entryChunk]
	forms   []atomic.Pointer[formChunk]
	n, nf   int
}

// An entry says that form ref>>3 holds key ref&7 bytes after its keyStart.
// It is written before it is linked, and never after.
type entry struct{ key, ref uint32 }

// chunkBits sets the size of a chunk: 256 entries (2 KiB) or forms (4 KiB).
const chunkBits = 8

type (
	entryChunk [1 << chunkBits]entry
	formChunk  [1 << chunkBits]string
)

func (ix *index) entry(i uint32) *entry {
	return &ix.entries[i>>chunkBits].Load()[i&(1<<chunkBits-1)]
}

func (ix *index) form(i uint32) string {
	return ix.forms[i>>chunkBits].Load()[i&(1<<chunkBits-1)]
}

const hashMul = 0x9E3779B1

// minEntries is the capacity of the smallest index, with 64 buckets and a
// 2048-bit filter.
const minEntries = 128

func load4(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

// newIndex returns an index for step with room for size entries (a power
// of two), half as many buckets, and 16 filter bits an entry, at most 2^24
// (2 MiB), holding the chunks of ix (which may be nil) and nothing linked.
func newIndex(ix *index, step, size int) *index {
	bb := bits.Len(uint(size)) - 2
	fb := min(bb+5, 24)
	nx := &index{
		step:    step,
		fshift:  uint(32 - fb),
		filter:  make([]uint64, 1<<fb/64),
		bshift:  uint(32 - bb),
		buckets: make([]uint32, 1<<bb),
		next:    make([]uint32, size),
		entries: make([]atomic.Pointer[entryChunk], (size-1)>>chunkBits+1),
		forms:   make([]atomic.Pointer[formChunk], (size/step-1)>>chunkBits+1),
	}
	if ix != nil {
		for i := range ix.entries {
			nx.entries[i].Store(ix.entries[i].Load())
		}
		for i := range ix.forms {
			nx.forms[i].Store(ix.forms[i].Load())
		}
		nx.n, nx.nf = ix.n, ix.nf
	}
	return nx
}

// has reports whether form f, which has at least step+3 bytes, is held.
func (ix *index) has(f string) bool {
	k := load4(f, keyStart(len(f), ix.step))
	for i := atomic.LoadUint32(&ix.buckets[k*hashMul>>ix.bshift]); i != 0; i = ix.next[i-1] {
		if e := ix.entry(i - 1); e.key == k && e.ref&7 == 0 && ix.form(e.ref>>3) == f {
			return true
		}
	}
	return false
}

// keyStart returns where the step keys of a form of n bytes start: at the
// last step+3 bytes. Any window of step consecutive offsets would do, but
// secrets of one kind share their beginning (sk_live_, a JWT's header, hex
// and base64 of those) far more often than their end, and a key many forms
// share makes every read that finds it compare the text with each of them.
// (Secrets that share their last bytes too, "...-2024!", still do.)
func keyStart(n, step int) int { return n - 3 - step }

// insert adds form f, which has at least step+3 bytes, to an index that
// readers may be reading; there must be room.
func (ix *index) insert(f string) {
	fi := uint32(ix.nf)
	if fi&(1<<chunkBits-1) == 0 {
		ix.forms[fi>>chunkBits].Store(new(formChunk))
	}
	ix.forms[fi>>chunkBits].Load()[fi&(1<<chunkBits-1)] = f
	ix.nf++
	w := keyStart(len(f), ix.step)
	for j := range ix.step {
		i := uint32(ix.n)
		if i&(1<<chunkBits-1) == 0 {
			ix.entries[i>>chunkBits].Store(new(entryChunk))
		}
		e := ix.entry(i)
		*e = entry{key: load4(f, w+j), ref: fi<<3 | uint32(j)}
		h := e.key * hashMul
		b := h >> ix.fshift
		atomic.OrUint64(&ix.filter[b>>6], 1<<(b&63))
		head := &ix.buckets[h>>ix.bshift]
		ix.next[i] = atomic.LoadUint32(head)
		atomic.StoreUint32(head, i+1) // publishes the entry, complete
		ix.n++
	}
}

// withRoom returns ix if it has room for extra more forms, or a new index
// holding ix's forms with room for them. ix may be nil.
func withRoom(ix *index, step, extra int) *index {
	need := extra * step
	if ix != nil && ix.n+need <= len(ix.next) {
		return ix
	}
	size := minEntries
	if ix != nil {
		need += ix.n
		size = 2 * len(ix.next)
	}
	for size < need {
		size *= 2
	}
	nx := newIndex(ix, step, size)
	// Readers of ix may walk its chains still, which nx leaves alone: it
	// links the same entries anew in tables of its own. Nobody reads nx
	// yet, so plain writes do.
	for i := range uint32(nx.n) {
		h := nx.entry(i).key * hashMul
		b := h >> nx.fshift
		nx.filter[b>>6] |= 1 << (b & 63)
		head := &nx.buckets[h>>nx.bshift]
		nx.next[i], *head = *head, i+1
	}
	return nx
}

// add returns st with the forms of fs it does not hold yet added, as a
// new state sharing what it can with st (which may be nil), or nil if it
// holds them all.
func (st *state) add(fs []string) *state {
	nst := &state{}
	if st != nil {
		*nst = *st
	}
	var count [len(steps)]int
	for _, f := range fs {
		if len(f) >= 4 {
			count[classOf(len(f))]++
		}
	}
	for c, n := range count {
		if n > 0 {
			nst.classes[c] = withRoom(nst.classes[c], steps[c], n)
		}
	}
	added := false
	for _, f := range fs {
		if len(f) < 4 {
			if !nst.addShort(f) {
				continue
			}
		} else if ix := nst.classes[classOf(len(f))]; ix.has(f) {
			continue
		} else {
			ix.insert(f)
		}
		added = true
		if strings.IndexByte(f, '*') >= 0 {
			// Appending to the shared array is safe: an older state reads
			// only its own length of it.
			nst.star = append(nst.star, f)
			nst.maxStar = max(nst.maxStar, len(f))
		}
	}
	if !added {
		return nil
	}
	return nst
}

// addShort adds a form of 1 to 3 bytes, if it is new, to a copy of the
// short forms: older states read the old ones.
func (st *state) addShort(f string) bool {
	if st.short != nil && slices.Contains(st.short.byFirst[f[0]], f) {
		return false
	}
	sf := &shortForms{}
	if st.short != nil {
		*sf = *st.short
	}
	l := append(slices.Clip(sf.byFirst[f[0]]), f)
	slices.SortStableFunc(l, func(a, b string) int { return len(b) - len(a) })
	sf.byFirst[f[0]], sf.has[f[0]] = l, true
	st.short = sf
	return true
}

// hit returns the first position from p on, p+step, p+2*step, ..., whose
// four bytes pass the filter, or -1. Every Redact spends most of its time in
// this loop, which is why it makes no call (an atomic load is one move) and
// leaves the buckets to its caller.
func (ix *index) hit(s string, p int) int {
	filter, shift, step := ix.filter, ix.fshift&31, ix.step
	for ; p+4 <= len(s); p += step {
		h := load4(s, p) * hashMul >> shift
		if atomic.LoadUint64(&filter[h>>6])&(1<<(h&63)) != 0 {
			return p
		}
	}
	return -1
}

// find appends to dst the span of every occurrence of the class's forms in
// s, in no particular order; with first, it stops after one.
func (ix *index) find(s string, dst []span, first bool) []span {
	for p := ix.hit(s, 0); p >= 0; p = ix.hit(s, p+ix.step) {
		k := load4(s, p)
		for i := atomic.LoadUint32(&ix.buckets[k*hashMul>>(ix.bshift&31)]); i != 0; i = ix.next[i-1] {
			e := ix.entry(i - 1)
			if e.key != k {
				continue
			}
			f := ix.form(e.ref >> 3)
			a := p - keyStart(len(f), ix.step) - int(e.ref&7)
			if a >= 0 && len(s)-a >= len(f) && s[a:a+len(f)] == f {
				dst = append(dst, span{a, a + len(f)})
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
func (sf *shortForms) find(s string, dst []span, first bool) []span {
	for i := 0; i < len(s); i++ {
		if !sf.has[s[i]] {
			continue
		}
		for _, f := range sf.byFirst[s[i]] {
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

func (st *state) find(s string, dst []span, first bool) []span {
	for _, ix := range st.classes {
		if ix == nil {
			continue
		}
		dst = ix.find(s, dst, first)
		if first && len(dst) > 0 {
			return dst
		}
	}
	if st.short != nil {
		dst = st.short.find(s, dst, first)
	}
	return dst
}

func (st *state) contains(s string) bool {
	var buf [1]span
	return len(st.find(s, buf[:0], true)) > 0
}

// A span is the byte range [start, end) of the input that one Marker replaces.
type span struct{ start, end int }

// spans appends to dst the ranges of s covered by occurrences of the forms,
// in order, with ranges that overlap or touch merged into one.
func (st *state) spans(s string, dst []span) []span {
	n := len(dst)
	dst = st.find(s, dst, false)
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

func (st *state) redact(s string) string {
	if s == "" {
		return s
	}
	var buf [8]span
	sp := st.spans(s, buf[:0])
	if len(sp) == 0 {
		return s
	}
	if len(st.star) > 0 {
		sp = st.settle(s, sp)
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
func (st *state) settle(s string, in []span) []span {
	out := make([]span, 0, len(in))
	var w window
	for k := 0; k < len(in); {
		out = append(out, in[k])
		k++
		for {
			v, ok := st.violation(s, out, in[k:], &w)
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
func (st *state) violation(s string, done, pending []span, w *window) (span, bool) {
	ctx := st.maxStar - 1
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
	for _, f := range st.star {
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

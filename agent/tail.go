package agent

import (
	"bytes"
	"sync"
)

// A tailBuffer keeps the last bytes a process writes, for Process.Tail. It
// holds between max and 2*max bytes once that much was written, so a write
// costs a copy of max bytes only every max bytes.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	cut   bool // bytes before buf were dropped
	max   int  // bytes looked at by lines
	lines int  // lines returned at most
}

func newTailBuffer(lines, max int) *tailBuffer {
	return &tailBuffer{lines: lines, max: max}
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		n := copy(t.buf, t.buf[len(t.buf)-t.max:])
		t.buf = t.buf[:n]
		t.cut = true
	}
	return len(p), nil
}

// Lines returns the last t.lines whole lines of the last t.max bytes,
// without their line ends ("\n" or "\r\n"). When bytes before those were
// dropped, the first line, whose beginning is gone, is left out.
func (t *tailBuffer) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	view, cut := t.buf, t.cut
	if len(view) > t.max {
		view, cut = view[len(view)-t.max:], true
	}
	if cut {
		i := bytes.IndexByte(view, '\n')
		if i < 0 {
			return nil // one line longer than max: none of it is whole
		}
		view = view[i+1:]
	}
	view = bytes.TrimSuffix(view, []byte("\n"))
	if len(view) == 0 {
		return nil
	}
	parts := bytes.Split(view, []byte("\n"))
	if len(parts) > t.lines {
		parts = parts[len(parts)-t.lines:]
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(bytes.TrimSuffix(p, []byte("\r")))
	}
	return out
}

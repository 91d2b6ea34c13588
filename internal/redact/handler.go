package redact

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// Handler returns an slog.Handler that masks each record and hands it to h.
// The message, every attribute's key and value, and every group's name (of
// a group attribute or of WithGroup) are masked. Values are masked as they
// are written:
//
//   - a LogValuer is resolved first, and groups are masked member by member;
//   - a value of kind Any is written as its fmt text (an error's Error text,
//     a Stringer's String, []byte as a string, anything else as %+v), so h
//     never sees a struct whose fields, marshalled, could hold a secret;
//   - numbers, booleans, durations and times keep their kind unless their
//     text contains a registered form, in which case they become the masked
//     text.
//
// The attributes given to WithAttrs are resolved when they are given, and
// they and the names given to WithGroup are masked again whenever a secret
// has been added since, so a logger made before a secret was resolved still
// masks it. While nothing is registered,
// records pass through untouched.
func (m *Masker) Handler(h slog.Handler) slog.Handler {
	return &handler{m: m, base: h}
}

type handler struct {
	m     *Masker
	base  slog.Handler
	ops   []op // WithGroup and WithAttrs calls, in order, to apply to base
	built atomic.Pointer[built]
}

// An op is one WithGroup (attrs == nil) or WithAttrs call.
type op struct {
	group string
	attrs []slog.Attr
}

// built is base with the ops applied, their names and attributes masked
// with st.
type built struct {
	st *state
	h  slog.Handler
}

var _ slog.Handler = (*handler)(nil)

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	st := h.m.cur.Load()
	inner := h.inner(st)
	if st == nil {
		return inner.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, st.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(st.attr(a))
		return true
	})
	return inner.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(op{attrs: resolveAll(attrs)})
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(op{group: name})
}

func (h *handler) with(o op) *handler {
	ops := make([]op, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &handler{m: h.m, base: h.base, ops: append(ops, o)}
}

// inner returns base with the ops applied and their names and attributes
// masked with st, rebuilding it only when a secret has been added since the
// last build. Two records racing past an Add may both rebuild; the results
// are the same.
func (h *handler) inner(st *state) slog.Handler {
	if len(h.ops) == 0 {
		return h.base
	}
	if b := h.built.Load(); b != nil && b.st == st {
		return b.h
	}
	in := h.base
	for _, o := range h.ops {
		if o.attrs == nil {
			name := o.group
			if st != nil {
				name = st.redact(name)
			}
			in = in.WithGroup(name)
			continue
		}
		attrs := o.attrs
		if st != nil {
			attrs = make([]slog.Attr, len(o.attrs))
			for i, a := range o.attrs {
				attrs[i] = st.attr(a)
			}
		}
		in = in.WithAttrs(attrs)
	}
	h.built.Store(&built{st: st, h: in})
	return in
}

// resolveAll returns attrs with every LogValuer, in groups too, resolved.
func resolveAll(attrs []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		a.Value = a.Value.Resolve()
		if a.Value.Kind() == slog.KindGroup {
			a.Value = slog.GroupValue(resolveAll(a.Value.Group())...)
		}
		out[i] = a
	}
	return out
}

// attr returns a with its key masked and its value resolved and masked. A
// group's key is its name.
func (st *state) attr(a slog.Attr) slog.Attr {
	a.Key = st.redact(a.Key)
	v := a.Value.Resolve()
	var buf [64]byte
	switch v.Kind() {
	case slog.KindString:
		v = slog.StringValue(st.redact(v.String()))
	case slog.KindAny:
		v = st.anyValue(v.Any())
	case slog.KindGroup:
		v = st.group(v)
	case slog.KindInt64:
		v = st.scalar(v, strconv.AppendInt(buf[:0], v.Int64(), 10))
	case slog.KindUint64:
		v = st.scalar(v, strconv.AppendUint(buf[:0], v.Uint64(), 10))
	case slog.KindFloat64:
		v = st.scalar(v, strconv.AppendFloat(buf[:0], v.Float64(), 'g', -1, 64))
	case slog.KindBool:
		v = st.scalar(v, strconv.AppendBool(buf[:0], v.Bool()))
	case slog.KindDuration:
		// TextHandler writes a duration as its String, JSONHandler as
		// nanoseconds.
		if d := v.Duration(); st.contains(d.String()) {
			v = slog.StringValue(st.redact(d.String()))
		} else {
			v = st.scalar(v, strconv.AppendInt(buf[:0], int64(d), 10))
		}
	case slog.KindTime:
		v = st.scalar(v, v.Time().AppendFormat(buf[:0], time.RFC3339Nano))
	}
	a.Value = v
	return a
}

// scalar returns v, or its text masked if the text contains a form.
func (st *state) scalar(v slog.Value, text []byte) slog.Value {
	if !st.contains(string(text)) {
		return v
	}
	return slog.StringValue(st.redact(string(text)))
}

func (st *state) anyValue(x any) slog.Value {
	var text string
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case []byte:
		text = string(x)
	case error:
		text = fmt.Sprint(x) // fmt turns a panicking Error method into text
	default:
		text = fmt.Sprintf("%+v", x) // a Stringer's String
	}
	return slog.StringValue(st.redact(text))
}

// group masks the members of a group.
func (st *state) group(v slog.Value) slog.Value {
	attrs := v.Group()
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = st.attr(a)
	}
	return slog.GroupValue(out...)
}

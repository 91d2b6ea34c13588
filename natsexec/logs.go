package natsexec

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// A task's log records cross the wire as the JSON lines of slog's
// JSONHandler: the worker's task logs through one writing into a
// logBuffer, and every heartbeat and the answer carry what it holds. The
// executor logs each record again, at its level and time, through the run
// context's logger of the task run, which adds the flow and task run
// attributes and hides the run's secrets like any other record.

// logBuffer collects the JSON lines a slog.JSONHandler writes, one per
// record (the handler writes each record whole, in one Write).
type logBuffer struct {
	mu    sync.Mutex
	lines []json.RawMessage
}

func (b *logBuffer) Write(p []byte) (int, error) {
	line := json.RawMessage(bytes.TrimSpace(slices.Clone(p)))
	b.mu.Lock()
	b.lines = append(b.lines, line)
	b.mu.Unlock()
	return len(p), nil
}

// take returns the lines written since the last take.
func (b *logBuffer) take() []json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.lines
	b.lines = nil
	return lines
}

// The keys the worker's JSONHandler writes that are not the record's own
// attributes: the built-in ones, and the groups runner.Context.Logger adds,
// which the executor's logger adds again.
var notAttrs = map[string]bool{
	slog.TimeKey: true, slog.LevelKey: true, slog.MessageKey: true, slog.SourceKey: true,
	"flow_run": true, "task_run": true,
}

// replay logs the records of lines through logger, each with its time,
// level, message and attributes (in key order; numbers come back as
// float64). A line that does not read is skipped.
func replay(ctx context.Context, logger *slog.Logger, lines []json.RawMessage) {
	h := logger.Handler()
	for _, line := range lines {
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		var level slog.Level
		if s, ok := rec[slog.LevelKey].(string); !ok || level.UnmarshalText([]byte(s)) != nil {
			level = slog.LevelInfo
		}
		if !h.Enabled(ctx, level) {
			continue
		}
		t, _ := time.Parse(time.RFC3339Nano, str(rec[slog.TimeKey]))
		r := slog.NewRecord(t, level, str(rec[slog.MessageKey]), 0)
		for k := range notAttrs {
			delete(rec, k)
		}
		r.AddAttrs(attrs(rec)...)
		_ = h.Handle(ctx, r)
	}
}

// attrs turns a decoded JSON object back into attributes, objects into
// groups.
func attrs(m map[string]any) []slog.Attr {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		if sub, ok := m[k].(map[string]any); ok {
			out = append(out, slog.Attr{Key: k, Value: slog.GroupValue(attrs(sub)...)})
			continue
		}
		out = append(out, slog.Any(k, m[k]))
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

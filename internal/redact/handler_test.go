package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func ExampleMasker_Handler() {
	m := New()
	log := slog.New(m.Handler(slog.NewTextHandler(exampleOut{}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	})))
	m.Add("hunter2")
	log.Info("login as admin/hunter2", "password", "hunter2", "err", errors.New("bad password hunter2"))
	// Output:
	// level=INFO msg="login as admin/********" password=******** err="bad password ********"
}

type exampleOut struct{}

func (exampleOut) Write(p []byte) (int, error) { fmt.Print(string(p)); return len(p), nil }

// handlerSecret needs escaping in JSON, in Go quoting and in URLs.
const handlerSecret = `s3cr3t <&> "q" é`

type account struct {
	User  string
	Token string
}

type creds struct{ user, pass string }

func (c creds) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.user), slog.String("pass", c.pass))
}

type tokenValuer string

func (t tokenValuer) LogValue() slog.Value { return slog.StringValue(string(t)) }

type stringer struct{ s string }

func (s stringer) String() string { return "stringer(" + s.s + ")" }

var handlers = []struct {
	name string
	new  func(*bytes.Buffer) slog.Handler
}{
	{"json", func(b *bytes.Buffer) slog.Handler {
		return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
	}},
	{"text", func(b *bytes.Buffer) slog.Handler {
		return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
	}},
}

func TestHandler(t *testing.T) {
	secret := handlerSecret
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		keep []string // text that must still be in the output
	}{
		{"message", func(l *slog.Logger) { l.Info("connecting with " + secret) }, []string{"connecting with"}},
		{"string attr", func(l *slog.Logger) { l.Info("m", "password", secret, "user", "admin") }, []string{"password", "admin"}},
		{"error attr", func(l *slog.Logger) { l.Error("m", "err", fmt.Errorf("auth %q failed", secret)) }, []string{"auth", "failed"}},
		{"error attr base64", func(l *slog.Logger) {
			l.Error("m", "err", errors.New("header Basic czNjcjN0IDwmPiAicSIgw6k="))
		}, []string{"header Basic"}},
		{"any struct", func(l *slog.Logger) { l.Info("m", "acct", account{User: "admin", Token: secret}) }, []string{"admin"}},
		{"any pointer", func(l *slog.Logger) { l.Info("m", "acct", &account{User: "admin", Token: secret}) }, []string{"admin"}},
		{"any map", func(l *slog.Logger) { l.Info("m", "env", map[string]string{"TOKEN": secret}) }, []string{"TOKEN"}},
		{"bytes", func(l *slog.Logger) { l.Info("m", "body", []byte("token="+secret)) }, []string{"token="}},
		{"stringer", func(l *slog.Logger) { l.Info("m", "s", stringer{secret}) }, []string{"stringer("}},
		{"group", func(l *slog.Logger) {
			l.Info("m", slog.Group("req", slog.String("auth", secret), slog.Int("n", 1)))
		}, []string{"req", "auth"}},
		{"nested group", func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", slog.Any("c", []string{secret}))))
		}, []string{"a", "b"}},
		{"with attrs", func(l *slog.Logger) { l.With("token", secret).Info("m") }, []string{"token"}},
		{"with group", func(l *slog.Logger) {
			l.WithGroup("req").With("auth", secret).WithGroup("inner").Info("m", "k", secret)
		}, []string{"req", "auth", "inner"}},
		{"log valuer", func(l *slog.Logger) { l.Info("m", "tok", tokenValuer(secret)) }, []string{"tok"}},
		{"log valuer group", func(l *slog.Logger) { l.Info("m", "creds", creds{"admin", secret}) }, []string{"admin"}},
		{"log valuer in with", func(l *slog.Logger) { l.With("creds", creds{"admin", secret}).Info("m") }, []string{"admin"}},
		{"log valuer in group", func(l *slog.Logger) {
			l.Info("m", slog.Group("g", slog.Any("tok", tokenValuer(secret))))
		}, []string{"g"}},
		{"url", func(l *slog.Logger) {
			l.Info("m", "url", "https://x.example/cb?t=s3cr3t+%3C%26%3E+%22q%22+%C3%A9")
		}, []string{"https://x.example/cb?t="}},
		{"hex", func(l *slog.Logger) { l.Debug("m", "dump", fmt.Sprintf("%x", secret)) }, []string{"dump"}},
	}
	for _, tt := range tests {
		for _, hc := range handlers {
			t.Run(tt.name+"/"+hc.name, func(t *testing.T) {
				var buf bytes.Buffer
				m := New()
				m.Add(secret)
				l := slog.New(m.Handler(hc.new(&buf)))
				tt.log(l)
				out := buf.String()
				if out == "" {
					t.Fatal("nothing logged")
				}
				for _, f := range wantForms(secret) {
					if strings.Contains(out, f) {
						t.Errorf("form %q of the secret in %s", f, out)
					}
				}
				if !strings.Contains(out, Marker) {
					t.Errorf("no Marker in %s", out)
				}
				for _, k := range tt.keep {
					if !strings.Contains(out, k) {
						t.Errorf("%q lost from %s", k, out)
					}
				}
				if hc.name == "json" && !json.Valid(buf.Bytes()) {
					t.Errorf("invalid JSON: %s", out)
				}
			})
		}
	}
}

func TestHandlerScalars(t *testing.T) {
	tests := []struct {
		secret string
		attr   slog.Attr
		want   string // in the JSON output
	}{
		{"4242", slog.Int("pin", 4242), `"pin":"********"`},
		{"4242", slog.Int("n", 14242), `"n":"1********"`},
		{"4242", slog.Uint64("n", 4242), `"n":"********"`},
		{"2.75", slog.Float64("f", 2.75), `"f":"********"`},
		{"4242", slog.Int("n", 4243), `"n":4243`},
		{"1500000000", slog.Duration("d", 1500*time.Millisecond), `"d":"********"`},
		{"1.5s", slog.Duration("d", 1500*time.Millisecond), `"d":"********"`},
		{"true", slog.Bool("b", true), `"b":"********"`},
		{"2026-01-14", slog.Time("t", time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC)), `"t":"********T00:00:00Z"`},
		{"x", slog.Any("nil", nil), `"nil":null`},
	}
	for _, tt := range tests {
		t.Run(tt.attr.String(), func(t *testing.T) {
			var buf bytes.Buffer
			m := New()
			m.Add(tt.secret)
			slog.New(m.Handler(slog.NewJSONHandler(&buf, nil))).Info("m", tt.attr)
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("got %s, want it to hold %s", buf.String(), tt.want)
			}
		})
	}
}

// TestHandlerLaterSecret: a logger made (With) before the secret was added
// masks it afterwards, in its attributes and in new records.
func TestHandlerLaterSecret(t *testing.T) {
	var buf bytes.Buffer
	m := New()
	l := slog.New(m.Handler(slog.NewJSONHandler(&buf, nil))).WithGroup("run").With("param", "tok-123")
	l.Info("before")
	if !strings.Contains(buf.String(), "tok-123") {
		t.Fatalf("not yet a secret, but masked: %s", buf.String())
	}
	buf.Reset()
	m.Add("tok-123")
	l.Info("after", "again", "tok-123")
	if strings.Contains(buf.String(), "tok-123") {
		t.Fatalf("secret added later is visible: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"run":{"param":"********","again":"********"}`) {
		t.Fatalf("groups or attrs lost: %s", buf.String())
	}
}

func TestHandlerPassThrough(t *testing.T) {
	noTime := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	logAll := func(l *slog.Logger) {
		l.With("a", 1).WithGroup("g").Info("msg", "acct", account{"admin", "x"}, "b", []byte("hi"), "d", time.Second)
	}
	var want, got bytes.Buffer
	logAll(slog.New(slog.NewJSONHandler(&want, noTime)))
	logAll(slog.New(New().Handler(slog.NewJSONHandler(&got, noTime))))
	if got.String() != want.String() {
		t.Errorf("with nothing registered:\n got %s\nwant %s", got.String(), want.String())
	}
}

func TestHandlerEnabled(t *testing.T) {
	m := New()
	h := m.Handler(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	if h.Enabled(ctx, slog.LevelInfo) || !h.Enabled(ctx, slog.LevelError) {
		t.Error("Enabled does not follow the wrapped handler")
	}
	if h.WithGroup("") != h || h.WithAttrs(nil) != h {
		t.Error("WithGroup(\"\") or WithAttrs(nil) did not return the handler")
	}
	if !h.WithGroup("g").Enabled(ctx, slog.LevelWarn) {
		t.Error("Enabled lost after WithGroup")
	}
}

// TestHandlerKeys: attribute keys and group names are masked like values,
// wherever they come from, with the secrets registered when the record is
// handled.
func TestHandlerKeys(t *testing.T) {
	secret := handlerSecret
	for _, hc := range handlers {
		t.Run(hc.name, func(t *testing.T) {
			var buf bytes.Buffer
			m := New()
			l := slog.New(m.Handler(hc.new(&buf))).
				WithGroup("run-"+secret).
				With("with-"+secret, 1, slog.Group("wgroup-"+secret, slog.Int("in-"+secret, 2))).
				WithGroup("inner-" + secret)
			m.Add(secret) // after the logger was made
			l.Info("m", "attr-"+secret, 3, slog.Group("group-"+secret, slog.Int("member-"+secret, 4)))
			out := buf.String()
			for _, f := range wantForms(secret) {
				if strings.Contains(out, f) {
					t.Errorf("form %q of the secret in %s", f, out)
				}
			}
			for _, k := range []string{"run-", "with-", "wgroup-", "in-", "inner-", "attr-", "group-", "member-"} {
				if !strings.Contains(out, k+Marker) {
					t.Errorf("no %q in %s", k+Marker, out)
				}
			}
			if hc.name == "json" && !json.Valid(buf.Bytes()) {
				t.Errorf("invalid JSON: %s", out)
			}
		})
	}
}

// TestHandlerConcurrent logs from several goroutines through one derived
// logger while secrets are added; run with -race.
func TestHandlerConcurrent(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	m := New()
	l := slog.New(m.Handler(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))).With("run", "r1")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				v := fmt.Sprintf("secret-%d-%d-value", g, i)
				m.Add(v)
				l.Info("resolved "+v, "v", v)
			}
		})
	}
	wg.Wait()
	if strings.Contains(buf.String(), "-value") {
		t.Error("a secret was logged after it was added")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

package redact

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// record is a typical 200-byte log line that contains no secret.
const record = `2026-01-14T10:32:07.118Z INFO task run "fetch-orders[3]" finished: ` +
	`state=Success duration=1.204s rows=18342 url=https://api.example.com/v2/orders?page=3 ` +
	`retries=0 cache=miss checkpoint=local:/var/lib/`

// benchSecrets returns n secrets shaped like API tokens, passwords and keys.
func benchSecrets(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 12+r.IntN(28))
		for j := range b {
			b[j] = alnum[r.IntN(len(alnum))]
		}
		switch i % 4 {
		case 0:
			out[i] = "sk_live_" + string(b)
		case 1:
			out[i] = "p@ss w0rd/" + string(b)
		case 2:
			out[i] = string(b)
		default:
			out[i] = fmt.Sprintf("%x", b)
		}
	}
	return out
}

// benchCounts are the numbers of secrets the benchmarks register: one run
// resolves a handful, a large one hundreds.
var benchCounts = []int{1, 10, 100, 1000}

// BenchmarkRedact measures Redact on a 200-byte record with no match:
//
//	go test -run '^$' -bench . -benchmem ./internal/redact/
func BenchmarkRedact(b *testing.B) {
	if len(record) != 200 {
		b.Fatalf("record is %d bytes, want 200", len(record))
	}
	for _, n := range append([]int{0}, benchCounts...) {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			m := New()
			for _, s := range benchSecrets(n) {
				m.Add(s)
			}
			if m.Redact(record) != record {
				b.Fatal("the record matched a secret")
			}
			b.ResetTimer()
			for b.Loop() {
				if m.Redact(record) != record {
					b.Fatal("changed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
		})
	}
}

// BenchmarkRedactShortSecrets is the slow case: 10 secrets of 2 to 6
// bytes, whose forms of 3 bytes or less are looked for at every byte.
func BenchmarkRedactShortSecrets(b *testing.B) {
	m := New()
	for _, s := range []string{"Q7", "zq9", "xK2p", "Vv0w!", "jj8Jq", "Xq4Lk8", "pW", "9zQ", "kL0v", "Uu7#e"} {
		m.Add(s)
	}
	if m.Redact(record) != record {
		b.Fatal("the record matched a secret")
	}
	for b.Loop() {
		_ = m.Redact(record)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// BenchmarkRedactMatch measures a record with one secret in it.
func BenchmarkRedactMatch(b *testing.B) {
	for _, n := range benchCounts {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			secrets := benchSecrets(n)
			m := New()
			for _, s := range secrets {
				m.Add(s)
			}
			line := record[:100] + secrets[len(secrets)/2] + record[100:]
			if m.Redact(line) != record[:100]+Marker+record[100:] {
				b.Fatalf("Redact(%q) = %q", line, m.Redact(line))
			}
			b.ResetTimer()
			for b.Loop() {
				_ = m.Redact(line)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
		})
	}
}

// BenchmarkRedactLookalike measures a record holding tokens shaped like
// the registered ones, sharing their beginnings but none of them: a JWT
// and an sk_live_ key, with 1000 secrets registered, a quarter of them
// sk_live_ keys and a hundred JWTs (whose first 36 characters are all the
// same).
func BenchmarkRedactLookalike(b *testing.B) {
	m := New()
	for _, s := range benchSecrets(1000) {
		m.Add(s)
	}
	const header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	subs, sigs := benchSecrets(100), benchSecrets(200)[100:]
	for i, s := range subs {
		m.Add(header + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"`+s+`"}`)) + "." + sigs[i])
	}
	line := record[:100] + "sk_live_notregistered000 Bearer " + header + "eyJzdWIiOiJub2JvZHkifQ.c2lnbmF0dXJl " + record[100:]
	if m.Redact(line) != line {
		b.Fatalf("Redact(%q) = %q", line, m.Redact(line))
	}
	for b.Loop() {
		_ = m.Redact(line)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// BenchmarkResolve measures what registering secrets costs a run: k secrets
// resolved one after the other, each followed by one Redact (a log record
// saying it was resolved), starting from a new Masker. µs/run is the whole
// sequence, ns/secret its share per secret; cpu-µs/run is the CPU time the
// process used for it, which a busy machine does not inflate.
func BenchmarkResolve(b *testing.B) {
	for _, n := range benchCounts {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			secrets := benchSecrets(n)
			cpu := cpuTime()
			for b.Loop() {
				m := New()
				for _, s := range secrets {
					m.Add(s)
					if m.Redact(record) != record {
						b.Fatal("the record matched a secret")
					}
				}
			}
			perRun := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(perRun/1e3, "µs/run")
			b.ReportMetric(perRun/float64(n), "ns/secret")
			if cpu := cpuTime() - cpu; cpu > 0 {
				// All the process's threads, the garbage collector's too.
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "cpu-µs/run")
			}
		})
	}
}

// BenchmarkHandler measures one record through Handler over a JSONHandler
// writing to io.Discard, at 10 secrets, against the bare JSONHandler.
func BenchmarkHandler(b *testing.B) {
	m := New()
	for _, s := range benchSecrets(10) {
		m.Add(s)
	}
	err := errors.New("connection reset by peer")
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"bare", slog.NewJSONHandler(io.Discard, nil)},
		{"masked", m.Handler(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h).With("flow_run", "nightly-etl-42", "task", "fetch-orders")
			b.ResetTimer()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "task run finished",
					slog.String("state", "Success"),
					slog.Duration("duration", 1204*time.Millisecond),
					slog.Int("rows", 18342),
					slog.String("url", "https://api.example.com/v2/orders?page=3"),
					slog.Any("error", err),
				)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
		})
	}
}

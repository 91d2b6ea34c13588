package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/servertest"
)

// BenchmarkLoadWAL is BenchmarkLoad's secret_value read at 16 clients over
// SQLite, watching the files on disk: it samples the write-ahead log and
// the database file every 100 ms, logs the largest log of every 5 s, and
// reports wal-max-MiB and files-max-MiB, the largest log and the largest
// database plus log seen, and data-MiB, the database file at the end. Each
// read writes an audit row, so reads alone grow the log. Give it a time:
//
//	go test -run '^$' -bench LoadWAL -benchtime=60s ./server/
func BenchmarkLoadWAL(b *testing.B) {
	const secrets, clients = 300, 16
	ctx := context.Background()
	env := servertest.New(b)
	srv := newLoadServer(b, env.Handler(), env.Key)
	c := srv.client
	names := make([]string, secrets)
	for i := range names {
		names[i] = fmt.Sprintf("load/secret-%03d", i)
		if err := c.SetSecret(ctx, names[i], fmt.Sprintf("value-%03d-%s", i, "0123456789abcdef0123456789abcdef")); err != nil {
			b.Fatal(err)
		}
	}
	db := filepath.Join(env.Dir, "server.db")
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}

	var (
		wg                sync.WaitGroup
		maxWAL, maxFiles  int64
		windowWAL, window int64 // the largest log of the current 5 s
		start             time.Time
		quit              = make(chan struct{})
	)
	sample := func() {
		w, d := size(db+"-wal"), size(db)
		maxWAL, maxFiles, windowWAL = max(maxWAL, w), max(maxFiles, w+d), max(windowWAL, w)
		if n := int64(time.Since(start) / (5 * time.Second)); n > window {
			b.Logf("%3ds: log up to %6.1f MiB, database %5.1f MiB", n*5, mib(windowWAL), mib(d))
			window, windowWAL = n, 0
		}
	}
	start = time.Now()
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sample()
			case <-quit:
				return
			}
		}
	})
	runLoad(b, clients, srv, func(i int) error {
		_, err := c.SecretValue(ctx, names[i%secrets])
		return err
	})
	close(quit)
	wg.Wait()
	sample()
	b.ReportMetric(mib(maxWAL), "wal-max-MiB")
	b.ReportMetric(mib(maxFiles), "files-max-MiB")
	b.ReportMetric(mib(size(db)), "data-MiB")
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

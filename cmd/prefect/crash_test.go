package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/server/store"
)

// TestCrashKeepsAcknowledgedWrites SIGKILLs the real server while sixteen
// clients are setting secrets, restarts it on the same data folder and
// master key, and checks that every write the server acknowledged is there
// with its value, that nothing was invented, that the database is sound and
// that no value is on disk in clear.
//
// A write in flight at the kill may or may not have landed, so the value
// read back for a name may be any write to it that was not acknowledged,
// or an acknowledged one unless another acknowledged write to that name
// was sent after its acknowledgement came back (and must then have been
// applied after it). Each writer has its own names, one of them rewritten
// with increasing values, and every writer also rewrites one shared name.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	// Not parallel: it checks that it leaves no goroutine behind.
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // runs last
	const (
		writers  = 16
		killAt   = 200   // acknowledged writes before the kill
		maxWrite = 20000 // per writer; a bound in case the kill never comes
	)
	bin := buildBinary(t)
	data := t.TempDir()
	env := cliEnv(t)
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
	key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))

	// Every value holds tag, which nothing else written holds: finding tag
	// in a file is finding a value in clear.
	tag := "plain-" + rand.Text()
	srv := startServerOn(t, bin, data, env)
	c := newCrashClient(t, srv.url, key)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		acked    atomic.Int64
		inflight atomic.Int64
		killing  atomic.Bool
		reached  = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
		logs     = make([][]write, writers)
	)
	for w := range writers {
		wg.Go(func() {
			set := func(name, value string) bool {
				wr := write{name: name, value: value, sent: time.Now()}
				inflight.Add(1)
				err := c.SetSecret(ctx, name, value)
				inflight.Add(-1)
				if err == nil {
					wr.acked = time.Now()
					if acked.Add(1) == killAt {
						once.Do(func() { close(reached) })
					}
				} else {
					wr.err = err
					wr.beforeKill = !killing.Load()
				}
				logs[w] = append(logs[w], wr)
				return err == nil
			}
			for i := range maxWrite {
				if !set(fmt.Sprintf("w%02d/n%05d", w, i), fmt.Sprintf("%s-w%02d-n%05d", tag, w, i)) ||
					!set(fmt.Sprintf("w%02d/over", w), fmt.Sprintf("%s-w%02d-over-%05d", tag, w, i)) {
					return
				}
				if i%4 == w%4 && !set("shared", fmt.Sprintf("%s-shared-w%02d-%05d", tag, w, i)) {
					return
				}
			}
		})
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-reached:
	case <-stopped:
	}
	killing.Store(true)
	flying := inflight.Load()
	srv.kill(t)
	<-stopped
	c.CloseIdleConnections()

	// Every writer ran until the kill cut it off.
	byName := map[string][]write{}
	var order []string
	for w, log := range logs {
		if len(log) == 0 {
			t.Fatalf("writer %d wrote nothing", w)
		}
		for _, wr := range log {
			if wr.err != nil && wr.beforeKill {
				t.Errorf("writer %d: %s failed before the kill: %v", w, wr.name, wr.err)
			}
			if _, ok := byName[wr.name]; !ok {
				order = append(order, wr.name)
			}
			byName[wr.name] = append(byName[wr.name], wr)
		}
		if last := log[len(log)-1]; last.err == nil {
			t.Errorf("writer %d stopped without an error (after %d writes)", w, len(log))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if n := acked.Load(); n < killAt {
		t.Fatalf("only %d writes were acknowledged before the writers stopped", n)
	}
	t.Logf("killed after %d acknowledged writes, %d in flight", acked.Load(), flying)
	noPlaintext(t, data, tag, "after the kill", "server.db", "server.db-wal")

	srv = startServerOn(t, bin, data, env)
	c = newCrashClient(t, srv.url, key)
	for _, name := range order {
		allowed, mayBeMissing := outcomes(byName[name])
		got, err := c.SecretValue(ctx, name)
		switch {
		case errors.Is(err, client.ErrNotFound):
			if !mayBeMissing {
				t.Errorf("%s: acknowledged, but missing after the restart", name)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		default:
			if s, _ := got.(string); !allowed[s] {
				t.Errorf("%s = %q after the restart; want one of %q", name, got, keys(allowed))
			}
		}
	}
	names, err := c.SecretNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			t.Errorf("the restarted server lists %q, which nobody wrote", n)
		}
	}
	c.CloseIdleConnections()
	noPlaintext(t, data, tag, "after the restart", "server.db")
	srv.stop(t)
	noPlaintext(t, data, tag, "after a clean stop", "server.db")

	// The database opens at the current schema and passes SQLite's check.
	st, err := store.OpenSQLite(ctx, filepath.Join(data, "server.db"))
	if err != nil {
		t.Fatalf("reopening the database: %v", err)
	}
	defer st.Close()
	if v, err := st.SchemaVersion(ctx); err != nil || v != store.SchemaVersion {
		t.Errorf("schema version %d, %v; want %d", v, err, store.SchemaVersion)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "server.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}

// write is one SetSecret call: acked is zero unless the server acknowledged
// it.
type write struct {
	name, value string
	sent, acked time.Time
	err         error
	beforeKill  bool // err came before the test killed the server
}

// outcomes returns the values a name may hold after a crash, given every
// write to it, and whether it may be missing. A write not acknowledged may
// have landed or not. An acknowledged write may be the last one unless an
// acknowledged write was sent after it was acknowledged: the server applied
// that one later.
func outcomes(ws []write) (allowed map[string]bool, mayBeMissing bool) {
	allowed = map[string]bool{}
	var lastSent time.Time // of the acknowledged writes
	for _, w := range ws {
		if !w.acked.IsZero() && w.sent.After(lastSent) {
			lastSent = w.sent
		}
	}
	mayBeMissing = lastSent.IsZero()
	for _, w := range ws {
		if w.acked.IsZero() || !lastSent.After(w.acked) {
			allowed[w.value] = true
		}
	}
	return allowed, mayBeMissing
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// noPlaintext fails the test if a file of the data folder holds tag, or if
// one of the files named in want is missing.
func noPlaintext(t *testing.T, dir, tag, when string, want ...string) {
	t.Helper()
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", when, err)
			continue
		}
		if bytes.Contains(b, []byte(tag)) {
			t.Errorf("%s: %s holds a value in clear", when, filepath.Base(f))
		}
	}
}

// newCrashClient returns a client that never retries, so that a nil error
// means the server acknowledged that very request, with enough idle
// connections for the test's writers.
func newCrashClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	c, err := client.New(url+"/graphql", client.WithAPIKey(key), client.WithRetries(0, 0),
		client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// prefectCLI runs the binary to completion and returns its standard output;
// a failure fails the test.
func prefectCLI(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := cliRun(bin, env, args...)
	if err != nil {
		t.Fatalf("prefect %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// serverProcess is "prefect server start" on a data folder the test chose.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	log    *announceWriter
	exited chan struct{} // closed when Wait has returned
	err    error         // Wait's, once exited is closed
}

// startServerOn starts the server on data and a loopback port, with extra
// arguments if any, and returns once it says where it listens. Unless the
// test kills or stops it first, it is killed when the test ends.
func startServerOn(t *testing.T, bin, data string, env []string, extra ...string) *serverProcess {
	t.Helper()
	return launchServer(t, bin, env, append([]string{"--port", "0", "--data-dir", data}, extra...)...)
}

// launchServer runs "prefect server start" with args, as startServerOn.
func launchServer(t testing.TB, bin string, env []string, args ...string) *serverProcess {
	t.Helper()
	p := &serverProcess{
		cmd:    exec.Command(bin, append([]string{"server", "start"}, args...)...),
		log:    &announceWriter{re: regexp.MustCompile(`address=(http://127\.0\.0\.1:\d+)`), found: make(chan string, 1)},
		exited: make(chan struct{}),
	}
	p.cmd.Env = env
	p.cmd.Stderr = p.log
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	select {
	case p.url = <-p.log.found:
		return p
	case <-p.exited:
		t.Fatalf("the server exited before it listened: %v\n%s", p.err, p.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not say where it listens within 30s\n%s", p.log)
	}
	return nil
}

// kill SIGKILLs the server and waits for it to end.
func (p *serverProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the server ended with %v, not killed\n%s", p.err, p.log)
	}
}

// stop SIGTERMs the server and fails the test unless it stops cleanly.
func (p *serverProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	<-p.exited
	if p.err != nil {
		t.Errorf("the server did not stop cleanly: %v\n%s", p.err, p.log)
	}
}

// announceWriter keeps the server's log and sends the first submatch of re
// found in it to found.
type announceWriter struct {
	re    *regexp.Regexp
	found chan string
	mu    sync.Mutex
	buf   bytes.Buffer
	sent  bool
}

func (w *announceWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if !w.sent {
		whole := w.buf.Bytes()[:bytes.LastIndexByte(w.buf.Bytes(), '\n')+1] // whole lines only
		if m := w.re.FindSubmatch(whole); m != nil {
			w.sent = true
			w.found <- string(m[1])
		}
	}
	return len(b), nil
}

func (w *announceWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

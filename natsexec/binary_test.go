package natsexec_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/natstest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/runner/executortest"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// natsServerBinary returns the path of a nats-server binary: on PATH, or
// where Debian's nats-server package puts it (/usr/sbin, which a non-root
// PATH may lack), or "" when there is none.
func natsServerBinary() string {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// needNATSServerBinary returns the nats-server binary's path. Without one
// it skips the test, or fails it under CI (CI=true), whose .ci/run
// installs Debian's nats-server package.
func needNATSServerBinary(t *testing.T) string {
	t.Helper()
	bin := natsServerBinary()
	if bin != "" {
		return bin
	}
	const where = "no nats-server binary on PATH, in /usr/sbin or in /usr/bin"
	if os.Getenv("CI") == "true" {
		t.Fatal(where + "; .ci/run installs it (Debian package nats-server), so CI must have it")
	}
	t.Skip(where + "; install Debian's nats-server package (apt-get install nats-server) to run this test")
	return ""
}

// natsServer is a JetStream server the test started.
type natsServer struct {
	url      string
	storeDir string // the JetStream store directory (-sd, StoreDir)
	stop     func() // stops it and waits until it is gone; idempotent, also run on cleanup
}

// startBinaryServer starts the nats-server binary bin as a child process
// with JetStream on a free loopback port, storing in a fresh temporary
// directory, and waits until JetStream answers. The process gets SIGTERM
// when stopped (SIGKILL 5 s later) and is always waited for.
func startBinaryServer(t *testing.T, bin string) *natsServer {
	t.Helper()
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		t.Logf("%s: %s", bin, bytes.TrimSpace(out))
	}
	// The free port may be taken between the probe and the server's start:
	// try a few ports.
	var lastErr error
	for range 3 {
		s, err := tryStartBinaryServer(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting %s: %v", bin, lastErr)
	return nil
}

func tryStartBinaryServer(t *testing.T, bin string) (*natsServer, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	storeDir, logDir := t.TempDir(), t.TempDir()
	logFile, err := os.Create(filepath.Join(logDir, "nats-server.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", storeDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	serverLog := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				t.Errorf("nats-server (pid %d) ignored SIGTERM for 5 s; killing it", cmd.Process.Pid)
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}
	// Registered after t.TempDir, so it runs before the directories go.
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("nats-server log:\n%s", serverLog())
		}
	})

	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := testwait.Deadline(t)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("nats-server exited (%v) before it was ready; its log:\n%s", waitErr, serverLog())
		default:
		}
		if err = natstest.Ready(url); err == nil {
			return &natsServer{url: url, storeDir: storeDir, stop: stop}, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("JetStream at %s not ready after 10 s (last: %v); nats-server log:\n%s", url, err, serverLog())
		}
		time.Sleep(50 * time.Millisecond) // the server's readiness is not observable otherwise
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEmbeddedServer is startServer returning the store directory too,
// and a stop function to end the server before the test does.
func startEmbeddedServer(t *testing.T) *natsServer {
	t.Helper()
	srv := natstest.Start(t)
	return &natsServer{url: srv.URL, storeDir: srv.StoreDir, stop: srv.Stop}
}

// TestDebianNATSServer runs each flow of the executor suite through a
// separate nats-server process (Debian's package, an older server than the
// embedded one) with two workers: every task's state, result and run count
// must agree with the local executor's, as in TestMatchesLocal.
func TestDebianNATSServer(t *testing.T) {
	srv := startBinaryServer(t, needNATSServerBinary(t))
	for _, c := range executortest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			// Both workers hold one build of the flow, as two consumers in
			// one process would: the cases that count calls (retries,
			// signals) then count across both.
			held := []*flow.Flow{c.Build()}
			startWorker(t, srv.url, held)
			startWorker(t, srv.url, held)
			executortest.MatchesLocal(t, c, func(f *flow.Flow) runner.Executor {
				return natsexec.Executor(connect(t, srv.url), f)
			}, nil, nil)
		})
	}
}

// The secret of TestStoreHoldsNoSecret, with characters encoding/json
// escapes, so that its JSON form differs from its bytes; and a canary that
// goes to the workers in a task's input, to show the scans find what did
// go through the stream.
const (
	storeSecret = `s3cr3t<&>"store"-b1n4ry-7Qx`
	storeCanary = "canary-4f1d-not-a-secret"
)

// secretForms returns the forms of s a leak could take in the store: its
// bytes, its JSON string form, and its base64 encodings (standard and URL
// alphabets) at each of the three alignments it may have in a longer
// encoded text.
func secretForms(s string) map[string][]byte {
	forms := map[string][]byte{"raw": []byte(s)}
	q, _ := json.Marshal(s)
	forms["json"] = q[1 : len(q)-1] // inside a longer JSON string too
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
		for shift := range 3 {
			// The characters fully determined by s: whole 3-byte groups
			// of s after shift bytes of anything.
			b := enc.e.EncodeToString(append(make([]byte, shift), s...))
			from := 0
			if shift > 0 {
				from = 4
			}
			to := 4 * ((shift + len(s)) / 3)
			forms[fmt.Sprintf("%s@%d", enc.name, shift)] = []byte(b[from:to])
		}
	}
	return forms
}

// findForms returns the names of the forms in data.
func findForms(data []byte, forms map[string][]byte) []string {
	var found []string
	for name, f := range forms {
		if bytes.Contains(data, f) {
			found = append(found, name)
		}
	}
	return found
}

// TestStoreHoldsNoSecret runs a flow with a secret task on a nats-server
// binary and on the embedded server, then scans every message left in the
// stream, before the server stops, and every file of the JetStream store,
// after: the secret is in none of them, in any form.
//
// On the work-queue stream the workers make, an acknowledged message is
// erased from the store, so the scan sees only what is left; each server
// is therefore also run with the stream made beforehand as a stream that
// keeps every message ("kept"), where a canary value that goes to a worker
// must be found by the same scans, showing they see what went through.
func TestStoreHoldsNoSecret(t *testing.T) {
	build := func() *flow.Flow {
		f := flow.New("store secret")
		sec := flow.Add(f, tasks.PrefectSecret("NATS_STORE_TOKEN"))
		length := task.New("length", func(_ context.Context, in textIn) (int, error) { return len(in.Secret), nil })
		n := flow.Add(f, length, flow.Bind("secret", sec))
		flow.Add(f, double("d"), flow.Bind("x", n))
		flow.Add(f, valueTask("plain", 4))
		echo := task.New("echo", func(_ context.Context, in argS) (string, error) { return in.S, nil })
		flow.Add(f, echo, flow.Const("s", storeCanary))
		return f
	}
	for _, kind := range []string{"binary", "embedded"} {
		for _, keep := range []bool{false, true} {
			name := kind + "/workqueue"
			if keep {
				name = kind + "/kept"
			}
			t.Run(name, func(t *testing.T) {
				var srv *natsServer
				if kind == "binary" {
					srv = startBinaryServer(t, needNATSServerBinary(t))
				} else {
					srv = startEmbeddedServer(t)
				}
				// The run, its workers and connections end with this
				// subtest, before the server stops.
				ran := false
				t.Run("run", func(t *testing.T) {
					nc := connect(t, srv.url)
					if keep {
						keepAllMessages(t, nc)
					}
					held := []*flow.Flow{build()}
					startWorker(t, srv.url, held)
					startWorker(t, srv.url, held)
					f := build()
					fs := run(t, natsexec.Executor(connect(t, srv.url), f), f,
						runner.WithSecrets(map[string]any{"NATS_STORE_TOKEN": storeSecret}))
					if fs.Kind != state.Success {
						for i, st := range fs.Tasks {
							t.Logf("%s: %v (err %v)", fs.Graph.Tasks[i].Slug, st, st.Err)
						}
						t.Fatalf("flow: %v", fs.State)
					}
					ran = true
					if got := fs.Tasks[2].Result; got != 2*len(storeSecret) {
						t.Errorf("d = %#v, want %d", got, 2*len(storeSecret))
					}
					if got := fs.Tasks[4].Result; got != storeCanary {
						t.Errorf("echo = %#v, want the canary", got)
					}
					checkStreamMessages(t, nc, keep)
				})
				if !ran {
					return
				}
				srv.stop()
				checkStoreFiles(t, srv.storeDir, keep)
			})
		}
	}
}

// keepAllMessages makes the task stream before any worker or executor
// does, as one that keeps every message after it is acknowledged.
func keepAllMessages(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwait.Context(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      natsexec.DefaultStream,
		Subjects:  []string{natsexec.DefaultSubjectPrefix + ".>"},
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
	}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
}

// checkStreamMessages reads every message left in the task stream and
// fails the test if one holds the secret in any form; with keep (the
// stream keeps every message), also if one is missing or none holds the
// canary.
func checkStreamMessages(t *testing.T, nc *nats.Conn, keep bool) {
	t.Helper()
	ctx := testwait.Context(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, natsexec.DefaultStream)
	if err != nil {
		t.Fatalf("stream %s: %v", natsexec.DefaultStream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.LastSeq == 0 {
		t.Fatal("the stream never held a message: the workers ran nothing")
	}
	forms := secretForms(storeSecret)
	left, canary := 0, false
	for seq := info.State.FirstSeq; seq != 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // acknowledged, hence deleted from the work queue
		}
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		left++
		hdr, _ := json.Marshal(m.Header)
		if found := findForms(append(m.Data, hdr...), forms); len(found) > 0 {
			t.Errorf("stream message %d on %q holds the secret (as %s)", seq, m.Subject, strings.Join(found, ", "))
		}
		canary = canary || bytes.Contains(m.Data, []byte(storeCanary))
	}
	t.Logf("stream: %d messages published, %d left and checked", info.State.LastSeq, left)
	if keep && (uint64(left) != info.State.LastSeq || !canary) {
		t.Errorf("the stream kept %d of %d messages, canary found: %v; want all, with the canary", left, info.State.LastSeq, canary)
	}
}

// checkStoreFiles fails the test if any file under dir holds the secret in
// any form, or if there is no stream data to scan; with keep (the stream
// kept every message), also if the canary, which went through the stream,
// is not found: a scan that cannot see what went through proves nothing.
func checkStoreFiles(t *testing.T, dir string, keep bool) {
	t.Helper()
	forms := secretForms(storeSecret)
	files, size, streamFiles := 0, int64(0), 0
	canary := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files++
		size += int64(len(data))
		if strings.Contains(filepath.ToSlash(rel), "/streams/"+natsexec.DefaultStream+"/") {
			streamFiles++
		}
		if found := findForms(data, forms); len(found) > 0 {
			t.Errorf("store file %s holds the secret (as %s)", rel, strings.Join(found, ", "))
		}
		if bytes.Contains(data, []byte(storeCanary)) {
			canary = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scanning the store %s: %v", dir, err)
	}
	t.Logf("store: scanned %d files, %d bytes, %d of stream %s", files, size, streamFiles, natsexec.DefaultStream)
	if files == 0 || size == 0 || streamFiles == 0 {
		t.Errorf("the store %s holds no data of stream %s (%d files, %d bytes): the scan proves nothing",
			dir, natsexec.DefaultStream, files, size)
	}
	if keep && !canary {
		t.Errorf("the canary sent to a worker is in no store file: the scan cannot see what went through the stream")
	}
}

// Package mototest runs moto_server, a local imitation of AWS's APIs
// (https://docs.getmoto.org), for tests of code that talks to AWS: one
// server per test package, started on first use on a free loopback port,
// and stopped, with every process it started, when the package's tests end
// (on Linux, killed too when the test binary dies without ending them).
//
//	func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		srv := mototest.Shared(t) // skips without moto_server, fails under CI=true
//		client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
//			o.BaseEndpoint = aws.String(srv.URL)
//		})
//	}
//
// moto_server comes with the machine's Python (pip install 'moto[server]');
// on a machine without it the tests that need it skip, saying why, except
// when CI=true, where a missing server fails them: CI must not pass by
// testing nothing.
//
// Main also makes the package's tests hermetic towards AWS: the SDK's
// shared configuration and credentials files point at empty files and the
// EC2 instance metadata service is off, so that a test of the SDK's default
// credential chain reads only what the test sets, and nothing a test does
// reaches real AWS or the machine's own profiles.
package mototest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-go/prefect/internal/testwait"
)

// Program is the command that runs the server.
const Program = "moto_server"

// ErrNotInstalled is matched by Start's error when moto_server is not on
// the PATH.
var ErrNotInstalled = errors.New(Program + " is not on the PATH (pip install 'moto[server]')")

// Server is a running moto_server.
type Server struct {
	// URL is where it listens: http://127.0.0.1:PORT, the BaseEndpoint of
	// every AWS client the tests make.
	URL string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	err  error         // the process's exit, once done is closed
	out  *tail
	once sync.Once
}

// Start starts moto_server on a free loopback port and returns when it
// answers HTTP requests, or when ctx ends. The port is chosen by binding
// port 0 and releasing it; should another process take it meanwhile, the
// server exits and Start tries another, a few times.
func Start(ctx context.Context) (*Server, error) {
	path, err := exec.LookPath(Program)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	var last error
	for range 3 {
		s, err := start(ctx, path)
		if err == nil {
			return s, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func start(ctx context.Context, path string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// Its own process group, so that Stop can signal whatever the pyenv
	// shim or the server starts beside the Python process it execs into;
	// on Linux, killed should the test binary die.
	cmd.SysProcAttr = sysProcAttr()
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{}), out: &tail{max: 8 << 10}}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	// Should a process of the group outlive the server holding its output
	// pipe, Wait gives up on the pipe rather than hang.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mototest: starting %s: %w", Program, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the server until it answers, it exits or ctx ends.
// Nothing tells us when it is ready but its answers.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("mototest: %s exited before answering (%v); its output ends:\n%s", Program, s.err, s.out)
		case <-ctx.Done():
			return fmt.Errorf("mototest: %s at %s not answering: %w; its output ends:\n%s", Program, s.URL, ctx.Err(), s.out)
		case <-tick.C:
		}
	}
}

// Stop ends the server and every process of its group, and waits for
// them: SIGTERM first, SIGKILL to whatever is left after a few seconds.
// Later calls do nothing and return the same.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		pgid := s.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.done
		}
		// The group leader is gone; wait for any other member too, which
		// init reaps: a process left behind would outlive go test.
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(-pgid, 0) == nil {
			if time.Now().After(deadline) {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				err = fmt.Errorf("mototest: processes of %s's group %d outlived it", Program, pgid)
				break
			}
			time.Sleep(10 * time.Millisecond) // their end is observable only by polling
		}
	})
	return err
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mototest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
	ran bool
}

// Shared returns the test package's server, starting it on first use, and
// stops tb when there is none: it skips, naming the reason, or fails when
// the environment variable CI is "true". Main stops the server.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.ran {
		shared.ran = true
		ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(tb))
		shared.srv, shared.err = Start(ctx)
		cancel()
	}
	if shared.err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but there is no moto server: %v", shared.err)
		}
		tb.Skipf("no moto server: %v", shared.err)
	}
	return shared.srv
}

// Main runs m for a package's TestMain, hermetic towards AWS (see the
// package doc), and stops the shared server after the tests; it returns
// the exit code. A server that will not stop fails the run.
func Main(m *testing.M) int {
	restore, err := hermetic()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer restore()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}

// The variables through which the SDK could find credentials, a profile
// or a region that are not the test's.
var awsEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM",
	"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
}

// hermetic sets the process's environment for tests (see the package doc)
// and returns what puts it back.
func hermetic() (restore func(), err error) {
	dir, err := os.MkdirTemp("", "mototest-aws")
	if err != nil {
		return nil, fmt.Errorf("mototest: %w", err)
	}
	set := map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("mototest: %w", err)
		}
	}
	saved := map[string]*string{}
	for _, k := range awsEnv {
		if v, ok := os.LookupEnv(k); ok {
			saved[k] = &v
		} else {
			saved[k] = nil
		}
		os.Unsetenv(k)
	}
	for k, v := range set {
		if old, ok := os.LookupEnv(k); ok {
			saved[k] = &old
		} else {
			saved[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, v := range saved {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
		os.RemoveAll(dir)
	}, nil
}

// tail keeps the last max bytes written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// Pid returns the server's process id, which is also its process group's.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

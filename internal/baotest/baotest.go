// Package baotest starts OpenBao servers for tests: a real Vault API (KV v2
// at secret/, token and AppRole auth), each a "bao server -dev" process on a
// free loopback port, ready when Start returns and stopped when the test
// ends.
//
//	func TestMain(m *testing.M) { baotest.Main(m) }
//
//	func TestRead(t *testing.T) {
//		srv := baotest.Start(t)
//		c := srv.Client(t) // an *api.Client holding the root token
//		...
//	}
//
// The binary is the one $PREFECT_TEST_BAO names (.ci/run sets it); without
// it, the xz-compressed build in shared/tools/openbao (beside the module, or
// in /work/shared) is unpacked once into the user's cache folder,
// prefect-go-test/bao-2.5.5 under [os.UserCacheDir] (written whole, by
// renaming, and checked against its SHA-256 before each use), where later
// test binaries find it: a test binary that dies (go test -timeout) leaves
// no copy of it behind. Without either, a test that needs OpenBao skips,
// except when CI=true, where it fails: CI must not pass by testing
// nothing.
//
// On Linux a server is killed when the test binary dies, whose cleanups
// then do not run.
package baotest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/internal/syncbuf"
	"github.com/prefect-go/prefect/internal/testwait"
)

// EnvBinary names the variable holding the path of an unpacked bao binary.
const EnvBinary = "PREFECT_TEST_BAO"

// RootToken is the root token of every server Start starts.
const RootToken = "root"

// packed is the compressed build's name in shared/tools/openbao.
const packed = "bao-2.5.5-linux-amd64.xz"

// unpackedSHA256 is the SHA-256 of the unpacked build, as
// shared/tools/openbao/README.md gives it.
const unpackedSHA256 = "fda267ac90e5eededd21ae8d676476e8d62692a8743e10a3181c7b453aff289d"

// cacheName is the unpacked build's name in the cache folder.
const cacheName = "bao-2.5.5"

// Server is a running OpenBao dev server.
type Server struct {
	// Addr is its API address, http://127.0.0.1:PORT (what VAULT_ADDR holds).
	Addr string
	// Token is its root token.
	Token string

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returns
	out    *syncbuf.Buffer

	approleOnce sync.Once
	approleErr  error
}

var (
	mainCalled atomic.Bool

	unpackOnce sync.Once
	unpackPath string
	unpackErr  error
)

// Main runs a test package's tests with goleak's check for leaked
// goroutines (opts are goleak's), and exits. Call it from TestMain: Start
// refuses to run without it.
func Main(m *testing.M, opts ...goleak.Option) {
	mainCalled.Store(true)
	goleak.VerifyTestMain(m, opts...)
}

// binary returns the bao binary to run, unpacking it on first use, or a
// reason why there is none.
func binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	unpackOnce.Do(func() { unpackPath, unpackErr = unpack() })
	return unpackPath, unpackErr
}

// CacheDir returns the folder the unpacked build is kept in:
// prefect-go-test under the user's cache folder, or under the temporary
// folder when there is none.
func CacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "prefect-go-test")
}

// unpack returns the unpacked build in the cache folder, unpacking the
// compressed one there first unless it is there already, whole and
// untouched (its SHA-256 is checked).
func unpack() (string, error) {
	dir := CacheDir()
	dst := filepath.Join(dir, cacheName)
	if err := verify(dst); err == nil {
		return dst, nil
	}
	var candidates []string
	if root, ok := moduleRoot(); ok {
		candidates = append(candidates, filepath.Join(root, "..", "shared", "tools", "openbao", packed))
	}
	candidates = append(candidates, filepath.Join("/work/shared/tools/openbao", packed))
	var src string
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			src = c
			break
		}
	}
	if src == "" {
		return "", fmt.Errorf("no OpenBao binary: set %s to an unpacked bao, or provide %s (looked in %v)", EnvBinary, packed, candidates)
	}
	xz, err := exec.LookPath("xz")
	if err != nil {
		return "", fmt.Errorf("unpacking %s: %w", src, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", src, err)
	}
	// Unpacked beside its final name and renamed once checked, so that
	// another test binary doing the same at the same time, or a run
	// killed half-way, never leaves a partial binary under that name.
	f, err := os.CreateTemp(dir, cacheName+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("unpacking %s: %w", src, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	var stderr bytes.Buffer
	cmd := exec.Command(xz, "-dc", src)
	cmd.Stdout, cmd.Stderr = f, &stderr
	err = cmd.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("unpacking %s: %w: %s", src, err, stderr.Bytes())
	}
	if err := verify(tmp); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", src, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", src, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", src, err)
	}
	return dst, nil
}

// verify checks that the file at path is the unpacked build.
func verify(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != unpackedSHA256 {
		return fmt.Errorf("%s has SHA-256 %s, not the build's %s", path, got, unpackedSHA256)
	}
	return nil
}

// moduleRoot returns the folder holding go.mod, above the working
// directory (a test runs in its package's folder).
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}

// Start starts a server, stopped when tb ends. Without a binary it skips
// tb, or fails it when CI=true.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if !mainCalled.Load() {
		tb.Fatal("baotest.Start: the package's TestMain must call baotest.Main(m), which checks for leaked goroutines")
	}
	bin, err := binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but %v", err)
		}
		tb.Skipf("baotest: %v", err)
	}
	// A free port can be taken between our closing it and bao binding it;
	// bao then exits at once, and another port is tried.
	var last error
	for range 5 {
		srv, err := start(tb, bin)
		if err == nil {
			return srv
		}
		last = err
	}
	tb.Fatal(last)
	return nil
}

// start runs one server and waits until it is ready or has exited.
func start(tb testing.TB, bin string) (*Server, error) {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	// A dev server keeps its data in memory; HOME and TMPDIR point into
	// the test's folder so that whatever it writes (the token helper's
	// file, say) goes when the test ends.
	home := tb.TempDir()
	cmd := exec.Command(bin, "server", "-dev", "-dev-no-store-token",
		"-dev-root-token-id="+RootToken, "-dev-listen-address="+listen)
	cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home)
	// Killed should the test binary die (go test -timeout), which skips
	// the cleanup that stops it.
	cmd.SysProcAttr = sysProcAttr()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("baotest: starting %s: %w", bin, err)
	}
	srv := &Server{Addr: "http://" + listen, Token: RootToken, cmd: cmd, exited: make(chan struct{}), out: out}
	go func() { cmd.Wait(); close(srv.exited) }()
	tb.Cleanup(srv.stop)

	deadline := testwait.Deadline(tb)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		select {
		case <-srv.exited:
			return nil, fmt.Errorf("baotest: bao exited before it was ready (%v); its output:\n%s", cmd.ProcessState, out.String())
		default:
		}
		if ready(hc, srv.Addr) {
			return srv, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("baotest: bao at %s not ready by the test's deadline; its output:\n%s", srv.Addr, out.String())
		}
		time.Sleep(10 * time.Millisecond) // readiness is not observable otherwise
	}
}

// ready reports whether the server at addr says it is initialised,
// unsealed and active.
func ready(hc *http.Client, addr string) bool {
	resp, err := hc.Get(addr + "/v1/sys/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop ends the server and waits for it: SIGTERM, then SIGKILL if it has
// not exited by the test's deadline.
func (s *Server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.cmd.Process.Kill()
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Client returns a client of the server holding the root token. Its idle
// connections are closed when tb ends, so that goleak sees no goroutine
// left behind.
func (s *Server) Client(tb testing.TB) *api.Client {
	tb.Helper()
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		tb.Fatalf("baotest: %v", cfg.Error)
	}
	cfg.Address = s.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		tb.Fatalf("baotest: %v", err)
	}
	c.SetToken(s.Token)
	tb.Cleanup(cfg.HttpClient.CloseIdleConnections)
	return c
}

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Output returns what the server has printed so far, for a failure
// message.
func (s *Server) Output() string { return s.out.String() }

// Policy writes the ACL policy name with the given HCL rules.
func (s *Server) Policy(tb testing.TB, name, rules string) {
	tb.Helper()
	if err := s.Client(tb).Sys().PutPolicyWithContext(tb.Context(), name, rules); err != nil {
		tb.Fatalf("baotest: writing policy %s: %v", name, err)
	}
}

// NewToken creates a token holding the given policies, valid for an hour.
func (s *Server) NewToken(tb testing.TB, policies ...string) string {
	tb.Helper()
	sec, err := s.Client(tb).Auth().Token().CreateWithContext(tb.Context(), &api.TokenCreateRequest{Policies: policies, TTL: "1h"})
	if err != nil || sec == nil || sec.Auth == nil {
		tb.Fatalf("baotest: creating a token: %v", err)
	}
	return sec.Auth.ClientToken
}

// AppRole enables AppRole auth at approle/ (once per server), makes the
// role called role, whose tokens hold the given policies, and returns its
// role_id and a new secret_id.
func (s *Server) AppRole(tb testing.TB, role string, policies ...string) (roleID, secretID string) {
	tb.Helper()
	c := s.Client(tb)
	ctx := tb.Context()
	s.approleOnce.Do(func() {
		s.approleErr = c.Sys().EnableAuthWithOptionsWithContext(ctx, "approle", &api.EnableAuthOptions{Type: "approle"})
	})
	if s.approleErr != nil {
		tb.Fatalf("baotest: enabling AppRole: %v", s.approleErr)
	}
	path := "auth/approle/role/" + role
	if _, err := c.Logical().WriteWithContext(ctx, path, map[string]any{"token_policies": policies, "token_ttl": "1h"}); err != nil {
		tb.Fatalf("baotest: creating AppRole role %s: %v", role, err)
	}
	r, err := c.Logical().ReadWithContext(ctx, path+"/role-id")
	if err != nil || r == nil {
		tb.Fatalf("baotest: reading the role_id of %s: %v", role, err)
	}
	w, err := c.Logical().WriteWithContext(ctx, path+"/secret-id", nil)
	if err != nil || w == nil {
		tb.Fatalf("baotest: creating a secret_id for %s: %v", role, err)
	}
	roleID, _ = r.Data["role_id"].(string)
	secretID, _ = w.Data["secret_id"].(string)
	if roleID == "" || secretID == "" {
		tb.Fatalf("baotest: AppRole role %s: no role_id or secret_id in Vault's answers", role)
	}
	return roleID, secretID
}

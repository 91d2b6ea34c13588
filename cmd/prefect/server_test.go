package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
	"github.com/prefect-go/prefect/state"
)

// cliEnv is a scratch environment for the binary: its own HOME, so no
// user configuration applies, plus extra.
func cliEnv(t testing.TB, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extra...)
}

// cliRun runs the binary and returns its output and exit error.
func cliRun(bin string, env []string, args ...string) (stdout, stderr string, err error) {
	c := exec.Command(bin, args...)
	c.Env = env
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err = c.Run()
	return out.String(), errOut.String(), err
}

func newTestClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(url+"/graphql", client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// TestRotateKeyWhileServing rotates the master key of a running server
// while clients keep reading and writing: no request fails, every secret is
// rewrapped under the new key, the old key leaves the key file, and a
// restarted server reads everything with the new key alone.
func TestRotateKeyWhileServing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	env := cliEnv(t)
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
	key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
	srv := startServerOn(t, bin, data, env)
	c := newTestClient(t, srv.url, key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const n = 50
	for i := range n {
		if err := c.SetSecret(ctx, fmt.Sprintf("S%02d", i), fmt.Sprintf("value-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	keyPath := filepath.Join(data, "master.key")
	before, err := seal.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}

	// Readers and a writer run through the whole rotation.
	var (
		stop        atomic.Bool
		reads       atomic.Int64
		wg          sync.WaitGroup
		failMu      sync.Mutex
		failures    []string
		writerCount atomic.Int64
	)
	fail := func(format string, a ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, a...))
		}
	}
	for r := range 4 {
		wg.Go(func() {
			for i := r; !stop.Load(); i++ {
				name := fmt.Sprintf("S%02d", i%n)
				v, err := c.SecretValue(ctx, name)
				if err != nil || v != fmt.Sprintf("value-%02d", i%n) {
					fail("reading %s during the rotation: %v, %v", name, v, err)
				}
				reads.Add(1)
			}
		})
	}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			if err := c.SetSecret(ctx, fmt.Sprintf("W%04d", i), "written-during-rotation"); err != nil {
				fail("writing W%04d during the rotation: %v", i, err)
			}
			writerCount.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	})
	out, errOut, err := cliRun(bin, env, "server", "rotate-key", "--data-dir", data, "--grace", "1500ms")
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, errOut)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if reads.Load() == 0 || writerCount.Load() == 0 {
		t.Fatalf("the clients did nothing during the rotation (%d reads, %d writes)", reads.Load(), writerCount.Load())
	}
	after, err := seal.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Keys()) != 1 || after.Current().ID() == before.Current().ID() {
		t.Fatalf("key file after rotation holds %v; want one new key (was %v)", after, before)
	}
	if !strings.Contains(out, "rotated:") || !strings.Contains(out, after.Current().ID()) {
		t.Errorf("rotate-key said %q", out)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after rotation: %v, %v", fi.Mode().Perm(), err)
	}

	// A restarted server has only the new key, and reads every secret.
	srv.stop(t)
	srv = startServerOn(t, bin, data, env)
	c = newTestClient(t, srv.url, key)
	for i := range n {
		name := fmt.Sprintf("S%02d", i)
		if v, err := c.SecretValue(ctx, name); err != nil || v != fmt.Sprintf("value-%02d", i) {
			t.Errorf("after restart, %s = %v, %v", name, v, err)
		}
	}
	names, err := c.SecretNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "W") {
			if v, err := c.SecretValue(ctx, name); err != nil || v != "written-during-rotation" {
				t.Errorf("after restart, %s = %v, %v", name, v, err)
			}
		}
	}
	srv.stop(t)
}

// Rotation with keys in the environment: one key is refused with the
// procedure; "NEW,OLD" rewraps every secret under NEW, which alone then
// reads them.
func TestRotateKeyFromEnvironment(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	oldKey, _ := seal.NewMasterKey()
	newKey, _ := seal.NewMasterKey()
	oldEnv := cliEnv(t, MasterKeyEnv+"="+oldKey.Encode())
	prefectCLI(t, bin, oldEnv, "server", "create-tenant", "acme", "--data-dir", data)
	key := strings.TrimSpace(prefectCLI(t, bin, oldEnv, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
	srv := startServerOn(t, bin, data, oldEnv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := newTestClient(t, srv.url, key).SetSecret(ctx, "DB", "v1"); err != nil {
		t.Fatal(err)
	}
	srv.stop(t)

	_, errOut, err := cliRun(bin, oldEnv, "server", "rotate-key", "--data-dir", data)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errOut, "NEW,OLD") {
		t.Errorf("rotate-key with one key in the environment: %v\n%s", err, errOut)
	}
	bothEnv := cliEnv(t, MasterKeyEnv+"="+newKey.Encode()+","+oldKey.Encode())
	out, errOut, err := cliRun(bin, bothEnv, "server", "rotate-key", "--data-dir", data)
	if err != nil || !strings.Contains(out, "rewrapped 1 secrets") {
		t.Fatalf("rotate-key with NEW,OLD: %v\n%s%s", err, out, errOut)
	}
	srv = startServerOn(t, bin, data, cliEnv(t, MasterKeyEnv+"="+newKey.Encode()))
	if v, err := newTestClient(t, srv.url, key).SecretValue(ctx, "DB"); err != nil || v != "v1" {
		t.Errorf("with the new key alone: %v, %v", v, err)
	}
	if !strings.Contains(srv.log.String(), newKey.ID()) || strings.Contains(srv.log.String(), "lacks") {
		t.Errorf("server log:\n%s", srv.log)
	}
	srv.stop(t)

	// A server given a key that sealed nothing refuses to start, naming the
	// key the data needs (TestStartRefusesKeysThatOpenNothing has more).
	other, _ := seal.NewMasterKey()
	_, errOut, err = cliRun(bin, cliEnv(t, MasterKeyEnv+"="+other.Encode()), "server", "start", "--port", "0", "--data-dir", data)
	if err == nil || !strings.Contains(errOut, "open none of the stored secrets") || !strings.Contains(errOut, newKey.ID()) {
		t.Errorf("a server with the wrong key: %v\n%s", err, errOut)
	}
}

// TestAuditCommand: every set, read, delete and refused key shows in
// "prefect server audit", as a table and as JSON Lines, never a value.
func TestAuditCommand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	url, key, data := startTestServer(t, bin)
	env := cliEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const value = "audit-must-never-show-this"
	c := newTestClient(t, url, key)
	if err := c.SetSecret(ctx, "DB", value); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SecretValue(ctx, "DB"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SecretValue(ctx, "NOPE"); !errors.Is(err, client.ErrNotFound) {
		t.Fatal(err)
	}
	if err := c.DeleteSecret(ctx, "DB"); err != nil {
		t.Fatal(err)
	}
	bad, _ := client.New(url, client.WithAPIKey("pgo_not-a-key"), client.WithRetries(0, 0))
	defer bad.CloseIdleConnections()
	bad.SecretNames(ctx)

	table := prefectCLI(t, bin, env, "server", "audit", "--tenant", "acme", "--data-dir", data)
	for _, want := range []string{"OPERATION", "set_secret", "secret_value", "not_found", "delete_secret", "DB", "NOPE"} {
		if !strings.Contains(table, want) {
			t.Errorf("the audit table lacks %q:\n%s", want, table)
		}
	}
	lines := strings.Split(strings.TrimSpace(prefectCLI(t, bin, env, "server", "audit", "--tenant", "acme", "--json", "--limit", "2", "--data-dir", data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("--limit 2 gave %d lines", len(lines))
	}
	var newest map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &newest); err != nil {
		t.Fatal(err)
	}
	if newest["operation"] != "delete_secret" || newest["secret_name"] != "DB" || newest["outcome"] != "ok" || newest["api_key_id"] == "" || newest["count"] != 1.0 {
		t.Errorf("newest event %v; want the delete of DB", newest)
	}
	denied := prefectCLI(t, bin, env, "server", "audit", "--unknown-keys", "--data-dir", data)
	if !strings.Contains(denied, "authenticate") || !strings.Contains(denied, "denied") {
		t.Errorf("--unknown-keys lacks the refused key:\n%s", denied)
	}
	for _, out := range []string{table, denied, strings.Join(lines, "\n")} {
		if strings.Contains(out, value) || strings.Contains(out, key) {
			t.Error("the audit output holds a value or an API key")
		}
	}
	for _, args := range [][]string{
		{"server", "audit"},
		{"server", "audit", "--tenant", "acme", "--unknown-keys"},
		{"server", "audit", "--tenant", "acme", "--limit", "-1"},
		{"server", "audit", "--tenant", "acme", "extra"},
	} {
		_, errOut, err := cliRun(bin, env, append(args, "--data-dir", data)...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v: %v (%s); want exit status 2", args, err, errOut)
		}
	}
	if _, errOut, err := cliRun(bin, env, "server", "audit", "--tenant", "nobody", "--data-dir", data); err == nil || !strings.Contains(errOut, "nobody") {
		t.Errorf("an unknown tenant: %v, %s", err, errOut)
	}
}

// The server's flags default to the configuration: server.data_dir and
// server.port, from the config file or PREFECT__SERVER__* variables.
func TestServerConfigKeys(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".prefect"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[server]\ndata_dir = %q\n", data)
	if err := os.WriteFile(filepath.Join(home, ".prefect", "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "PREFECT__SERVER__PORT=" + strconv.Itoa(port)}
	prefectCLI(t, bin, env, "server", "create-tenant", "acme")
	if _, err := os.Stat(filepath.Join(data, "server.db")); err != nil {
		t.Fatalf("server.data_dir was not used: %v", err)
	}
	key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme"))
	srv := launchServer(t, bin, env)
	if want := fmt.Sprintf("http://127.0.0.1:%d", port); srv.url != want {
		t.Errorf("listening at %s; want %s from PREFECT__SERVER__PORT", srv.url, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := newTestClient(t, srv.url, key).SetSecret(ctx, "A", "b"); err != nil {
		t.Error(err)
	}
	srv.stop(t)

	bad := append(env[:2:2], "PREFECT__SERVER__DATABASE_URL=mysql://x")
	if _, errOut, err := cliRun(bin, bad, "server", "create-tenant", "x"); err == nil || !strings.Contains(errOut, "postgres://") {
		t.Errorf("a non-PostgreSQL database URL: %v, %s", err, errOut)
	}
}

// TestPostgresReplicas runs two servers on one PostgreSQL database with the
// same master key: what one writes, the other reads, and a tenant and key
// made by the CLI work on both.
func TestPostgresReplicas(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	db := pgtest.URL(t)
	bin := buildBinary(t)
	mk, _ := seal.NewMasterKey()
	env := cliEnv(t, MasterKeyEnv+"="+mk.Encode())
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--database-url", db)
	key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--database-url", db))
	a := startServerOn(t, bin, t.TempDir(), env, "--database-url", db)
	b := startServerOn(t, bin, t.TempDir(), env, "--database-url", db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca, cb := newTestClient(t, a.url, key), newTestClient(t, b.url, key)
	const value = "written-through-replica-a"
	if err := ca.SetSecret(ctx, "SHARED", value); err != nil {
		t.Fatal(err)
	}
	if v, err := cb.SecretValue(ctx, "SHARED"); err != nil || v != value {
		t.Fatalf("replica b reads %v, %v", v, err)
	}
	if err := cb.DeleteSecret(ctx, "SHARED"); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SecretValue(ctx, "SHARED"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("after b deleted it, a reads: %v", err)
	}
	for _, p := range []*serverProcess{a, b} {
		if strings.Contains(p.log.String(), "postgres://") {
			t.Errorf("the server log holds the database URL:\n%s", p.log)
		}
		p.stop(t)
	}
}

// A server whose key file is missing, beside a database of secrets sealed
// under other keys, refuses to start instead of sealing under a new key.
func TestStartRefusesANewKeyBesideOldSecrets(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	url, key, data := startTestServer(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := newTestClient(t, url, key).SetSecret(ctx, "DB", "v"); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "master.key")
	_, errOut, err := cliRun(bin, cliEnv(t), "server", "start", "--port", "0", "--data-dir", data, "--master-key-file", elsewhere)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errOut, "no key file at") {
		t.Errorf("start with a missing key file: %v\n%s", err, errOut)
	}
	if _, err := os.Stat(elsewhere); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new key file was kept: %v", err)
	}
}

// A server given keys that open none of the stored secrets (another
// deployment's key file, or a wrong $PREFECT_SERVER_MASTER_KEY) refuses to
// start, naming the keys the data needs, rather than serve a store split
// in two; --allow-unreadable-secrets starts it anyway.
func TestStartRefusesKeysThatOpenNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	url, key, data := startTestServer(t, bin)
	if err := newTestClient(t, url, key).SetSecret(testwait.Context(t), "DB", "v"); err != nil {
		t.Fatal(err)
	}
	// Another deployment's key file.
	otherKeys := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := seal.OpenKeyFile(otherKeys); err != nil {
		t.Fatal(err)
	}
	wrong, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"another key file", nil, []string{"--master-key-file", otherKeys}},
		{"a wrong key in the environment", []string{MasterKeyEnv + "=" + wrong.Encode()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"server", "start", "--port", "0", "--data-dir", data}, tc.args...)
			_, errOut, err := cliRun(bin, cliEnv(t, tc.env...), args...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errOut, "open none of the stored secrets, which are sealed under") {
				t.Errorf("start: %v\n%s", err, errOut)
			}
			p := startServerOn(t, bin, data, cliEnv(t, tc.env...), append(tc.args, "--allow-unreadable-secrets")...)
			p.stop(t)
		})
	}
}

// A password on the command line is warned about, and never logged.
func TestStartWarnsOfPasswordInURL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	const pw = "pw-CANARY-77"
	// Nothing listens on port 1: the start fails after the warning.
	_, errOut, err := cliRun(bin, cliEnv(t), "server", "start", "--data-dir", t.TempDir(),
		"--database-url", "postgres://u:"+pw+"@127.0.0.1:1/db?connect_timeout=2")
	if err == nil || !strings.Contains(errOut, "process list") || strings.Contains(errOut, pw) {
		t.Errorf("start with a password in --database-url: %v\n%s", err, errOut)
	}
}

// A server that never takes up the new key (here: a writer that keeps
// sealing under the old one) makes rotate-key put the old key back and
// fail, rather than drop a key that secrets are sealed under. And a second
// rotation at once is refused.
func TestRotateKeyKeepsOldKeyForLateWriters(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	env := cliEnv(t)
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
	keyPath := filepath.Join(data, "master.key")
	old, _, err := seal.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenSQLite(ctx, filepath.Join(data, "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.Tenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { // the stale server
		for i := 0; ctx.Err() == nil; i++ {
			name := fmt.Sprintf("STALE%04d", i)
			sl, err := seal.Seal(old.Current(), tn.ID, name, []byte("v"))
			if err == nil {
				st.PutSecret(ctx, tn.ID, name, sl)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	if err := os.WriteFile(keyPath+".rotating", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := cliRun(bin, env, "server", "rotate-key", "--data-dir", data, "--grace", "1s")
	if err == nil || !strings.Contains(errOut, "another rotate-key is running") {
		t.Errorf("rotate-key beside a running one: %v\n%s", err, errOut)
	}
	os.Remove(keyPath + ".rotating")

	_, errOut, err = cliRun(bin, env, "server", "rotate-key", "--data-dir", data, "--grace", "1s")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errOut, "the old keys are back") {
		t.Fatalf("rotate-key with a late writer: %v\n%s", err, errOut)
	}
	after, err := seal.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := after.Key(old.Current().ID()); !ok || len(after.Keys()) != 2 {
		t.Errorf("after the failed rotation the key file holds %v; want the new key and %s", after, old.Current().ID())
	}
	if _, err := os.Stat(keyPath + ".rotating"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rotation lock is left behind: %v", err)
	}
}

// -h lists the flags with their defaults on stdout, exit status 0, and
// never a database URL from the configuration.
func TestHelpFlag(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	out, errOut, err := cliRun(bin, cliEnv(t, "PREFECT__SERVER__DATABASE_URL=postgres://u:pw-CANARY@h/db"), "server", "start", "-h")
	if err != nil || !strings.Contains(out, "--port") || !strings.Contains(out, "--database-url") {
		t.Errorf("start -h: %v\n%s%s", err, out, errOut)
	}
	if strings.Contains(out+errOut, "pw-CANARY") {
		t.Error("start -h shows the database URL's password")
	}
}

// A run whose process died without a word is failed by the server once
// its heartbeat is older than --run-timeout.
func TestServerFailsSilentRuns(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	env := cliEnv(t)
	prefectCLI(t, bin, env, "server", "create-tenant", "acme", "--data-dir", data)
	key := strings.TrimSpace(prefectCLI(t, bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data))
	if _, errOut, err := cliRun(bin, env, "server", "start", "--data-dir", data, "--run-timeout", "1s"); err == nil || !strings.Contains(errOut, "a shorter timeout fails live runs") {
		t.Errorf("--run-timeout 1s: %v, %s; want a usage error", err, errOut)
	}
	srv := startServerOn(t, bin, data, append(env, "PREFECT__CLOUD__HEARTBEAT_INTERVAL=0.1"), "--run-timeout", "1s")
	defer srv.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newTestClient(t, srv.url, key)
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "f", Command: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := c.ClaimFlowRuns(ctx, "agent-that-dies", nil, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	if _, err := c.SetFlowRunState(ctx, run.ID, claimed[0].Version, state.Running, ""); err != nil {
		t.Fatal(err)
	}
	for deadline := testwait.Deadline(t); ; time.Sleep(100 * time.Millisecond) {
		got, err := c.FlowRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == state.Failed {
			if !strings.Contains(got.Message, "no heartbeat") {
				t.Errorf("message %q", got.Message)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the silent run is still %s", got.State)
		}
	}
}

func TestShown(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":             "plain",
		"two\nlines":        "two | lines",
		"esc\x1b[2Jcleared": "esc?[2Jcleared",
		"tab\tkept":         "tab\tkept",
		"bell\a":            "bell?",
	} {
		if got := shown(in); got != want {
			t.Errorf("shown(%q) = %q, want %q", in, got, want)
		}
	}
}

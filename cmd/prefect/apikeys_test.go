package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/pgtest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/server/seal"
)

// TestAPIKeyLifecycle lists, uses and revokes API keys with the binary
// while a server runs on the same store, SQLite or PostgreSQL: the list
// shows IDs, names and times and never a key, the revoked key is refused
// by the running server within its --auth-cache-ttl of the revocation
// (shortened here; server's TestRevokedKeyRefusedWithinCacheTTL holds the
// default), as an unknown key is, and the audit log holds each key's
// making and revocation.
func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	const ttl = 500 * time.Millisecond
	// serve makes tenant acme and a key of it in the store where names,
	// and serves it with a running server.
	serve := func(t *testing.T, env, where []string) (url, key string) {
		prefectCLI(t, bin, env, append([]string{"server", "create-tenant", "acme"}, where...)...)
		key = strings.TrimSpace(prefectCLI(t, bin, env, append([]string{"server", "create-api-key", "--tenant", "acme"}, where...)...))
		srv := startServerOn(t, bin, t.TempDir(), env, append(where, "--auth-cache-ttl", ttl.String())...)
		t.Cleanup(func() { srv.stop(t) })
		return srv.url, key
	}
	t.Run("sqlite", func(t *testing.T) {
		env, where := cliEnv(t), []string{"--data-dir", t.TempDir()}
		url, key := serve(t, env, where)
		testAPIKeyLifecycle(t, bin, env, where, url, key, ttl)
	})
	t.Run("postgres", func(t *testing.T) {
		mk, _ := seal.NewMasterKey()
		env, where := cliEnv(t, MasterKeyEnv+"="+mk.Encode()), []string{"--database-url", pgtest.URL(t)}
		url, key := serve(t, env, where)
		testAPIKeyLifecycle(t, bin, env, where, url, key, ttl)
	})
}

// listedKey is a line of list-api-keys --json.
type listedKey struct {
	ID       string  `json:"id"`
	TenantID string  `json:"tenant_id"`
	Name     string  `json:"name"`
	Created  string  `json:"created"`
	LastUsed *string `json:"last_used"`
	Revoked  *string `json:"revoked"`
}

func testAPIKeyLifecycle(t *testing.T, bin string, env, where []string, url, firstKey string, ttl time.Duration) {
	ctx := testwait.Context(t)
	cli := func(args ...string) string {
		t.Helper()
		return prefectCLI(t, bin, env, append(args, where...)...)
	}
	// fails runs the binary, which must exit with status code; its
	// standard error must say each of says.
	fails := func(code int, says []string, args ...string) string {
		t.Helper()
		_, errOut, err := cliRun(bin, env, append(args, where...)...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != code {
			t.Errorf("prefect %s: %v (%s); want exit status %d", strings.Join(args, " "), err, errOut, code)
		}
		for _, s := range says {
			if !strings.Contains(errOut, s) {
				t.Errorf("prefect %s says %q, not %q", strings.Join(args, " "), errOut, s)
			}
		}
		return errOut
	}
	list := func(args ...string) []listedKey {
		t.Helper()
		var keys []listedKey
		for line := range strings.Lines(cli(append([]string{"server", "list-api-keys", "--tenant", "acme", "--json"}, args...)...)) {
			var k listedKey
			if err := json.Unmarshal([]byte(line), &k); err != nil {
				t.Fatalf("list-api-keys --json printed %q: %v", line, err)
			}
			keys = append(keys, k)
		}
		return keys
	}

	out, errOut, err := cliRun(bin, env, append([]string{"server", "create-api-key", "--tenant", "acme", "--name", "laptop"}, where...)...)
	if err != nil {
		t.Fatalf("create-api-key: %v\n%s", err, errOut)
	}
	key := strings.TrimSpace(out)
	m := regexp.MustCompile(`API key (\S+) created`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("create-api-key does not name the key's ID: %q", errOut)
	}
	id := m[1]
	c, err := client.New(url+"/graphql", client.WithAPIKey(key), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	if _, err := c.SecretNames(ctx); err != nil {
		t.Fatal(err)
	}

	// The server notes the use in the background.
	var keys []listedKey
	testwait.Until(t, "list-api-keys shows laptop used", func() bool {
		keys = list()
		return len(keys) == 2 && keys[1].LastUsed != nil
	})
	if first := keys[0]; first.Name == "laptop" || first.LastUsed != nil || first.Revoked != nil || keys[1].ID != id || keys[1].Name != "laptop" {
		t.Errorf("list-api-keys --json: %+v; want the first key, never used, then laptop (%s)", keys, id)
	}
	table := cli("server", "list-api-keys", "--tenant", "acme")
	for _, want := range []string{"ID", "NAME", "CREATED", "LAST USED", id, "laptop", "never"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}

	said := cli("server", "revoke-api-key", id)
	revoked := time.Now() // the revocation has committed
	if !strings.Contains(said, id) || !strings.Contains(said, "revoked") {
		t.Errorf("revoke-api-key says %q", said)
	}
	// Until it is refused, the server may go on trusting the key, but no
	// request that starts ttl after the revocation may pass.
	testwait.Until(t, "the server refuses the revoked key", func() bool {
		start := time.Now()
		_, err := c.SecretNames(ctx)
		if err == nil && start.Sub(revoked) >= ttl {
			t.Fatalf("a request %v after the revocation passed; the bound is %v", start.Sub(revoked), ttl)
		}
		return errors.Is(err, client.ErrUnauthenticated)
	})
	t.Logf("refused %v after the revocation (bound %v)", time.Since(revoked).Round(time.Millisecond), ttl)
	// As the CLI sees it: the answer an unknown key gets.
	secretsEnv := func(k string) []string {
		return append(env[:len(env):len(env)], "PREFECT__CLOUD__API="+url+"/graphql", "PREFECT__CLOUD__API_KEY="+k)
	}
	_, revokedSays, err1 := cliRun(bin, secretsEnv(key), "secrets", "list")
	_, unknownSays, err2 := cliRun(bin, secretsEnv("pgo_"+strings.Repeat("x", 43)), "secrets", "list")
	if err1 == nil || err2 == nil || revokedSays != unknownSays {
		t.Errorf("secrets list with the revoked key: %v %q; with an unknown key: %v %q; want the same failure", err1, revokedSays, err2, unknownSays)
	}
	if _, err := newTestClient(t, url, firstKey).SecretNames(ctx); err != nil {
		t.Errorf("the other key stopped working: %v", err)
	}

	fails(1, []string{id, "already revoked"}, "server", "revoke-api-key", id)
	fails(1, []string{`"no-such-id"`}, "server", "revoke-api-key", "no-such-id")
	fails(2, nil, "server", "revoke-api-key")
	fails(2, nil, "server", "revoke-api-key", id, "another")
	if says := fails(2, []string{"not the key itself"}, "server", "revoke-api-key", key); strings.Contains(says, key) {
		t.Error("revoke-api-key quotes a key given in place of an ID")
	}
	fails(2, nil, "server", "list-api-keys")
	fails(2, []string{"--auth-cache-ttl"}, "server", "start", "--auth-cache-ttl", "0")
	fails(1, []string{"nobody"}, "server", "list-api-keys", "--tenant", "nobody")

	if keys := list(); len(keys) != 1 || keys[0].ID == id {
		t.Errorf("after the revocation, list-api-keys: %+v; want the first key alone", keys)
	}
	all := list("--all")
	if len(all) != 2 || all[1].ID != id || all[1].Revoked == nil || all[1].LastUsed == nil || all[0].Revoked != nil {
		t.Errorf("list-api-keys --all: %+v; want laptop revoked, with its last use", all)
	}
	if table := cli("server", "list-api-keys", "--tenant", "acme", "--all"); !strings.Contains(table, "REVOKED") {
		t.Errorf("list-api-keys --all has no REVOKED column:\n%s", table)
	}

	// Each key's making and laptop's revocation are on record, by ID.
	events := map[string]bool{}
	for line := range strings.Lines(cli("server", "audit", "--tenant", "acme", "--json", "--limit", "0")) {
		var e struct {
			Operation string `json:"operation"`
			Outcome   string `json:"outcome"`
			KeyID     string `json:"api_key_id"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		events[e.Operation+" "+e.KeyID+" "+e.Outcome] = true
	}
	for _, want := range []string{"create_api_key " + all[0].ID + " ok", "create_api_key " + id + " ok", "revoke_api_key " + id + " ok"} {
		if !events[want] {
			t.Errorf("the audit log lacks %q: %v", want, events)
		}
	}

	// The name is free again.
	if again := strings.TrimSpace(cli("server", "create-api-key", "--tenant", "acme", "--name", "laptop")); again == key {
		t.Error("a new key equals the revoked one")
	}
	for _, out := range []string{table, strings.Join(strings.Fields(cli("server", "list-api-keys", "--tenant", "acme", "--all", "--json")), "")} {
		if strings.Contains(out, key) || strings.Contains(out, firstKey) {
			t.Error("list-api-keys prints a key")
		}
	}
}

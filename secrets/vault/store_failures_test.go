package vault_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/vault"
)

// withUserinfo returns addr with a user and the password pw in it.
func withUserinfo(addr, pw string) string {
	return strings.Replace(addr, "://", "://prefect:"+pw+"@", 1)
}

// closedAddr returns the address of a loopback port nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	return addr
}

// An address's userinfo never shows: not in String(), a NotFoundError, a
// refusal, a failure to connect or to make the client.
func TestStoreHidesAddressUserinfo(t *testing.T) {
	srv := baotest.Start(t)
	const pw = "addr-pa55-4e1d"
	tokenCreds := map[string]any{"VAULT_TOKEN": srv.Token}
	check := func(t *testing.T, what, text string) {
		t.Helper()
		if strings.Contains(text, pw) {
			t.Errorf("%s shows the address's password: %q", what, text)
		}
		if !strings.Contains(text, "********@") {
			t.Errorf("%s does not show the address, its userinfo hidden: %q", what, text)
		}
	}

	src := openStore(t, srv, map[string]any{"address": withUserinfo(srv.Addr, pw), "path": prefix()}, tokenCreds)
	check(t, "String()", src.String())
	_, err := src.Lookup(t.Context(), "MISSING")
	if !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Lookup(MISSING): %v; want ErrNotFound", err)
	}
	check(t, "the NotFoundError", err.Error())

	for name, tc := range map[string]struct {
		addr  string
		creds map[string]any
	}{
		"Refused":     {withUserinfo(srv.Addr, pw), map[string]any{"VAULT_TOKEN": leak}},
		"Unreachable": {withUserinfo(closedAddr(t), pw), tokenCreds},
		"NoCreds":     {withUserinfo(srv.Addr, pw), nil},
		"BadAddress":  {"http://prefect:" + pw + "@127.0.0.1:notaport", tokenCreds},
	} {
		t.Run(name, func(t *testing.T) {
			ss := secrets.StoreSettings{Kind: vault.StoreName, Settings: map[string]any{"address": tc.addr}, CredentialsName: vault.DefaultCredentialsSecret}
			if tc.creds != nil {
				ss.Credentials = secrets.NewValue(tc.creds)
			}
			src, err := vault.OpenStore(t.Context(), ss, noEnv)
			if err == nil {
				vault.CloseIdle(src)
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), leak) {
				t.Errorf("the error shows a password: %q", err)
			}
			if name != "BadAddress" {
				check(t, "the error", err.Error())
			}
		})
	}
}

// A refusal matches secrets.ErrAccessDenied besides the package's own
// sentinel; an outage (Vault unreachable, throttling) does not.
func TestStoreRefusalsAreAccessDenied(t *testing.T) {
	srv := baotest.Start(t)
	p := prefix()
	kv := srv.Client(t).KVv2("secret")
	for _, n := range []string{"OPEN", "HIDDEN"} {
		if _, err := kv.Put(t.Context(), p+"/"+n, map[string]any{"value": leak}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Policy(t, "open-only", `path "secret/data/`+p+`/OPEN" { capabilities = ["read"] }`)
	tok := srv.NewToken(t, "open-only")
	src := openStore(t, srv, map[string]any{"path": p}, map[string]any{"VAULT_TOKEN": tok})

	_, err := src.Lookup(t.Context(), "HIDDEN")
	if !errors.Is(err, vault.ErrForbidden) || !errors.Is(err, secrets.ErrAccessDenied) {
		t.Errorf("Lookup of a secret the policy denies: %v; want ErrForbidden and secrets.ErrAccessDenied", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the error spans several lines: %q", err)
	}

	_, err = vault.OpenStore(t.Context(), secrets.StoreSettings{
		Kind: vault.StoreName, Settings: map[string]any{"address": srv.Addr},
		Credentials: secrets.NewValue(map[string]any{"VAULT_TOKEN": leak}),
	}, noEnv)
	if !errors.Is(err, vault.ErrAuth) || !errors.Is(err, secrets.ErrAccessDenied) {
		t.Errorf("Open with a token Vault refuses: %v; want ErrAuth and secrets.ErrAccessDenied", err)
	}

	t.Run("Unreachable", func(t *testing.T) {
		_, err := vault.OpenStore(t.Context(), secrets.StoreSettings{
			Kind: vault.StoreName, Settings: map[string]any{"address": closedAddr(t)},
			Credentials: secrets.NewValue(map[string]any{"VAULT_TOKEN": srv.Token}),
		}, noEnv)
		if err == nil || errors.Is(err, secrets.ErrAccessDenied) || errors.Is(err, vault.ErrAuth) {
			t.Errorf("Open of an unreachable Vault: %v; want an error matching neither ErrAuth nor secrets.ErrAccessDenied", err)
		}
	})

	t.Run("Throttled", func(t *testing.T) {
		// A Vault that knows the token and answers every read 429, as
		// a rate limit quota does.
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/v1/auth/token/lookup-self" {
				json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"ttl": 0}})
				return
			}
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(map[string]any{"errors": []string{"request path \"" + r.URL.Path + "\": rate limit quota exceeded"}})
		}))
		defer hs.Close()
		t.Setenv("VAULT_MAX_RETRIES", "0")
		src := openStore(t, srv, map[string]any{"address": hs.URL}, map[string]any{"VAULT_TOKEN": srv.Token})
		_, err := src.Lookup(t.Context(), "OPEN")
		if err == nil || errors.Is(err, secrets.ErrAccessDenied) || errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("Lookup throttled: %v; want a failure matching neither secrets.ErrAccessDenied nor ErrNotFound", err)
		}
	})
}

// A mount that is not KV v2 (none at all, or KV version 1) is an error
// naming it, not a missing secret: Vault answers 404 for both.
func TestStoreMountNotKVv2(t *testing.T) {
	srv := baotest.Start(t)
	c := srv.Client(t)
	if err := c.Sys().MountWithContext(t.Context(), "kv1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatalf("mounting KV v1 at kv1/: %v", err)
	}
	if _, err := c.Logical().WriteWithContext(t.Context(), "kv1/prefect/DB", map[string]any{"value": leak}); err != nil {
		t.Fatal(err)
	}
	for _, mount := range []string{"secrt", "kv1"} {
		t.Run(mount, func(t *testing.T) {
			src := openStore(t, srv, map[string]any{"mount": mount}, map[string]any{"VAULT_TOKEN": srv.Token})
			for _, name := range []string{"DB", "MISSING"} {
				_, err := src.Lookup(t.Context(), name)
				if !errors.Is(err, vault.ErrNotKVv2) || errors.Is(err, secrets.ErrNotFound) {
					t.Fatalf("Lookup(%s) under the mount %s: %v; want ErrNotKVv2, not ErrNotFound", name, mount, err)
				}
				if msg := err.Error(); !strings.Contains(msg, "the mount "+mount+"/ is not a KV v2 mount") || strings.Contains(msg, "\n") {
					t.Errorf("error %q does not say on one line that %s/ is not a KV v2 mount", msg, mount)
				}
			}
		})
	}
	t.Run("KVv2", func(t *testing.T) {
		// A KV v2 mount's missing secret is still not found, and the
		// mount is asked about once.
		src := openStore(t, srv, map[string]any{"path": prefix()}, map[string]any{"VAULT_TOKEN": srv.Token})
		for range 2 {
			if _, err := src.Lookup(t.Context(), "MISSING"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("Lookup(MISSING): %v; want ErrNotFound", err)
			}
		}
	})
	t.Run("Task", func(t *testing.T) {
		t.Setenv("VAULT_ADDR", srv.Addr)
		err := call(t, vault.Secret("kv1/prefect/DB"), map[string]any{"VAULT_TOKEN": srv.Token})
		if !errors.Is(err, vault.ErrNotKVv2) || errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "kv1/") {
			t.Errorf("the task reading a KV v1 mount: %v; want ErrNotKVv2 naming kv1/", err)
		}
	})
}

// VAULT_AGENT_ADDR, which Vault's client prefers to the address it is
// given, is ignored: requests go to the address configured and printed.
func TestVaultAgentAddrIgnored(t *testing.T) {
	srv := server(t)
	t.Setenv("VAULT_AGENT_ADDR", "http://127.0.0.1:1")
	src := openStore(t, srv, map[string]any{"path": "app"}, map[string]any{"VAULT_TOKEN": srv.Token})
	v, err := src.Lookup(t.Context(), "db")
	if err != nil {
		t.Fatalf("Lookup(db) with VAULT_AGENT_ADDR set: %v", err)
	}
	if m, _ := v.(map[string]any); m["password"] != leak {
		t.Errorf("Lookup(db) is not the secret written")
	}
	r := runFlow(t, vault.Secret("secret/app/db"), map[string]any{"VAULT_TOKEN": srv.Token}, nil)
	if st := r.fs.Of(r.secret); !st.IsSuccessful() {
		t.Errorf("the task with VAULT_AGENT_ADDR set: %v (%v)", st, st.Err)
	}
}

// The task's credentials are the run's own, never a store's: with
// secrets.sources = ["vault"] and that store unreachable, a task whose
// credentials are not set fails for want of them, not for the store.
func TestSecretCredentialsNotFromStores(t *testing.T) {
	srv := server(t)
	cfg, err := config.Load(config.WithHome(t.TempDir()), config.WithEnv([]string{
		`PREFECT__SECRETS__SOURCES=["vault"]`,
		"PREFECT__SECRETS__VAULT__ADDRESS=" + closedAddr(t),
		"PREFECT__SECRETS__VAULT__CREDENTIALS=MY_CREDS",
		"PREFECT__CONTEXT__SECRETS__MY_CREDS=" + `{"VAULT_TOKEN": "` + srv.Token + `"}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, f *flow.Flow) *runner.FlowState {
		t.Helper()
		fs, err := runner.Run(context.Background(), f, runner.WithConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	t.Run("Set", func(t *testing.T) {
		f := flow.New("creds")
		n := flow.Add(f, vault.Secret("secret/app/db", vault.WithCredentialsSecret("MY_CREDS")))
		if st := run(t, f).Of(n); !st.IsSuccessful() {
			t.Errorf("the task: %v (%v)", st, st.Err)
		}
	})
	t.Run("Unset", func(t *testing.T) {
		f := flow.New("creds")
		n := flow.Add(f, vault.Secret("secret/app/db"))
		st := run(t, f).Of(n)
		if !st.IsFailed() || !errors.Is(st.Err, secrets.ErrNotFound) || strings.Contains(st.Err.Error(), "asking") {
			t.Errorf("the task without credentials: %v (%v); want a failure for the missing VAULT_CREDENTIALS, without asking the store", st, st.Err)
		}
	})
}

// A timely login that fails while the token is valid leaves the store with
// it; once the token has expired, the failure is the lookup's.
func TestStoreReloginFailureKeepsValidToken(t *testing.T) {
	srv := baotest.Start(t)
	c := srv.Client(t)
	p := prefix()
	if _, err := c.KVv2("secret").Put(t.Context(), p+"/DB", map[string]any{"value": leak}); err != nil {
		t.Fatal(err)
	}
	srv.Policy(t, "short", `path "secret/data/`+p+`/*" { capabilities = ["read"] }`)
	roleID, _ := srv.AppRole(t, "short", "short")
	// Tokens of 3 seconds, and a secret_id good for one login.
	if _, err := c.Logical().WriteWithContext(t.Context(), "auth/approle/role/short", map[string]any{"token_policies": []string{"short"}, "token_ttl": "3s", "token_max_ttl": "3s"}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Logical().WriteWithContext(t.Context(), "auth/approle/role/short/secret-id", map[string]any{"num_uses": 1})
	if err != nil || w == nil {
		t.Fatalf("creating a secret_id: %v", err)
	}
	secretID, _ := w.Data["secret_id"].(string)
	src := openStore(t, srv, map[string]any{"path": p}, map[string]any{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID})
	// The store's login began before this, so its two thirds are over
	// by then.
	opened := time.Now()
	token := vault.TokenOf(src)

	// Past two thirds of the token's life: the login fails (the
	// secret_id is used up), the token still serves.
	time.Sleep(time.Until(opened.Add(2100 * time.Millisecond)))
	if v, err := src.Lookup(t.Context(), "DB"); err != nil || v != leak {
		t.Fatalf("Lookup(DB) with a still valid token after a failed login: %v", err)
	}
	if vault.TokenOf(src) != token {
		t.Errorf("the store no longer holds its valid token")
	}
	// Past its life, as Vault counts it, which is never before the
	// store does: the login's failure is the lookup's.
	testwait.Until(t, "Vault no longer knows the store's token", func() bool {
		_, err := c.Auth().Token().LookupWithContext(t.Context(), token)
		return err != nil
	})
	_, err = src.Lookup(t.Context(), "DB")
	if !errors.Is(err, vault.ErrAuth) || strings.Contains(err.Error(), token) || strings.Contains(err.Error(), secretID) {
		t.Errorf("Lookup(DB) after the token expired, the login failing: %v; want ErrAuth, without a credential", err)
	}
}

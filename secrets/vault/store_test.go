package vault_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/secretstest"
	"github.com/prefect-go/prefect/secrets/vault"
)

// noEnv is an environment without VAULT_ADDR or vault_addr.
func noEnv(string) string { return "" }

// prefix returns a path no other test writes under.
func prefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "t-" + hex.EncodeToString(b[:])
}

// openStore opens the store over srv, under the settings given (address
// and a fresh path prefix added unless set), with creds as its
// credentials, and closes its idle connections when t ends.
func openStore(t *testing.T, srv *baotest.Server, settings map[string]any, creds map[string]any) secrets.Source {
	t.Helper()
	if _, ok := settings["address"]; !ok {
		settings["address"] = srv.Addr
	}
	src, err := vault.OpenStore(t.Context(), secrets.StoreSettings{
		Kind: vault.StoreName, Settings: settings,
		CredentialsName: vault.DefaultCredentialsSecret, Credentials: secrets.NewValue(creds),
	}, noEnv)
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { vault.CloseIdle(src) })
	return src
}

func TestStoreConformance(t *testing.T) {
	srv := baotest.Start(t)
	kv := srv.Client(t).KVv2("secret")
	secretstest.Run(t, func(t *testing.T, held map[string]any) secrets.Source {
		p := prefix()
		for name, v := range held {
			// A table is stored as itself, anything else as the
			// secret's one key "value": the store reads both ways.
			data, ok := v.(map[string]any)
			if !ok {
				data = map[string]any{"value": v}
			}
			if _, err := kv.Put(t.Context(), p+"/"+name, data); err != nil {
				t.Fatalf("writing %s: %v", name, err)
			}
		}
		return openStore(t, srv, map[string]any{"path": p}, map[string]any{"VAULT_TOKEN": srv.Token})
	})
}

func TestStoreLookup(t *testing.T) {
	srv := baotest.Start(t)
	kv := srv.Client(t).KVv2("secret")
	p := prefix()
	for path, data := range map[string]map[string]any{
		p + "/ONE":         {"value": leak},
		p + "/TABLE":       {"user": "app", "password": leak},
		p + "/VALUE_PLUS":  {"value": leak, "note": "two keys: the whole table"},
		p + "/team/NESTED": {"value": "nested"},
		p + "/OUTSIDE":     {"value": "under the prefix"},
		"outside/SECRET":   {"value": "not under the prefix"},
	} {
		if _, err := kv.Put(t.Context(), path, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Put(t.Context(), p+"/DELETED", map[string]any{"value": leak}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(t.Context(), p+"/DELETED"); err != nil {
		t.Fatal(err)
	}
	src := openStore(t, srv, map[string]any{"path": "/" + p + "/"}, map[string]any{"VAULT_TOKEN": srv.Token})

	for _, tc := range []struct {
		name string
		want string // the value's text; "" for not found
	}{
		{"ONE", leak},
		{"TABLE", `{"password":"` + leak + `","user":"app"}`},
		{"VALUE_PLUS", `{"note":"two keys: the whole table","value":"` + leak + `"}`},
		{"team/NESTED", "nested"},
		{"DELETED", ""},
		{"../outside/SECRET", ""},
		{"./ONE", ""},
		{"team//NESTED", ""},
		{"", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := src.Lookup(t.Context(), tc.name)
			if tc.want == "" {
				if !errors.Is(err, secrets.ErrNotFound) {
					t.Errorf("Lookup(%q): %v; want ErrNotFound", tc.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tc.name, err)
			}
			if got := secrets.NewValue(v).Reveal(); got != tc.want {
				t.Errorf("Lookup(%q) is not the secret written (%d bytes, want %d)", tc.name, len(got), len(tc.want))
			}
		})
	}

	want := "Vault at " + srv.Addr + ", KV v2 secret/" + p
	if got := src.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	_, err := src.Lookup(t.Context(), "MISSING")
	var nf *secrets.NotFoundError
	if !errors.As(err, &nf) || nf.Name != "MISSING" || !slices.Equal(nf.Tried, []string{want}) {
		t.Errorf("Lookup of a missing secret: %#v; want a NotFoundError naming it and the store", err)
	}
}

func TestStoreAppRole(t *testing.T) {
	srv := baotest.Start(t)
	kv := srv.Client(t).KVv2("secret")
	if _, err := kv.Put(t.Context(), "prefect/DB", map[string]any{"value": leak}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "prefect/HIDDEN", map[string]any{"value": leak}); err != nil {
		t.Fatal(err)
	}
	srv.Policy(t, "prefect", `
path "secret/data/prefect/*" { capabilities = ["read"] }
path "secret/data/prefect/HIDDEN" { capabilities = ["deny"] }`)
	roleID, secretID := srv.AppRole(t, "prefect", "prefect")
	// The defaults: mount secret, path prefect, the address from VAULT_ADDR.
	src, err := vault.OpenStore(t.Context(), secrets.StoreSettings{
		Kind: vault.StoreName, CredentialsName: "VAULT_CREDENTIALS",
		Credentials: secrets.NewValue(map[string]any{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID}),
	}, func(k string) string {
		if k == "VAULT_ADDR" {
			return srv.Addr
		}
		return ""
	})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { vault.CloseIdle(src) })
	if s := src.String(); strings.Contains(s, vault.TokenOf(src)) || strings.Contains(s, secretID) {
		t.Errorf("String() shows a credential")
	}

	lookup := func(t *testing.T) {
		t.Helper()
		v, err := src.Lookup(t.Context(), "DB")
		if err != nil {
			t.Fatalf("Lookup(DB): %v", err)
		}
		if v != leak {
			t.Fatalf("Lookup(DB) is not the secret written")
		}
	}
	lookup(t)

	t.Run("ForbiddenKeepsTheToken", func(t *testing.T) {
		before := vault.TokenOf(src)
		_, err := src.Lookup(t.Context(), "HIDDEN")
		if !errors.Is(err, vault.ErrForbidden) || errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("Lookup(HIDDEN): %v; want ErrForbidden", err)
		}
		if !strings.Contains(err.Error(), "HIDDEN") {
			t.Errorf("error %q does not name the secret", err)
		}
		if vault.TokenOf(src) != before {
			t.Errorf("a policy's refusal made the store log in again")
		}
	})

	t.Run("RevokedTokenLogsInAgain", func(t *testing.T) {
		old := vault.TokenOf(src)
		if err := srv.Client(t).Auth().Token().RevokeTreeWithContext(t.Context(), old); err != nil {
			t.Fatalf("revoking the store's token: %v", err)
		}
		// Many runs at once meet the revoked token: each gets the
		// secret, through one new login or another.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				v, err := src.Lookup(t.Context(), "DB")
				if err == nil && v != leak {
					err = errors.New("not the secret written")
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Lookup(DB) after the token was revoked: %v", err)
			}
		}
		if vault.TokenOf(src) == old {
			t.Errorf("the store still holds the revoked token")
		}
	})

	t.Run("RevokedTokenCredentials", func(t *testing.T) {
		tok := srv.NewToken(t, "prefect")
		src := openStore(t, srv, map[string]any{}, map[string]any{"VAULT_TOKEN": tok})
		if _, err := src.Lookup(t.Context(), "DB"); err != nil {
			t.Fatalf("Lookup(DB): %v", err)
		}
		if err := srv.Client(t).Auth().Token().RevokeTreeWithContext(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		// A token given as it is cannot be replaced: the lookup fails.
		if _, err := src.Lookup(t.Context(), "DB"); !errors.Is(err, vault.ErrForbidden) || strings.Contains(err.Error(), tok) {
			t.Errorf("Lookup(DB) with a revoked token: %v; want ErrForbidden, without the token", err)
		}
	})
}

func TestStoreRegistered(t *testing.T) {
	if !slices.Contains(secrets.Stores(), vault.StoreName) {
		t.Errorf("secrets.Stores() = %v; importing the package registers %q", secrets.Stores(), vault.StoreName)
	}
}

func TestStoreBadSettings(t *testing.T) {
	srv := baotest.Start(t)
	tokenCreds := secrets.NewValue(map[string]any{"VAULT_TOKEN": srv.Token})
	for _, tc := range []struct {
		name     string
		settings map[string]any
		creds    secrets.Value
		credName string
		want     string
		is       error
	}{
		{"UnknownKey", map[string]any{"adress": srv.Addr}, tokenCreds, "",
			"[secrets.vault] adress: unknown setting; valid: address, mount, path, namespace", vault.ErrSettings},
		{"NotAString", map[string]any{"address": srv.Addr, "mount": int64(2)}, tokenCreds, "",
			"[secrets.vault] mount: must be a string, not an integer", vault.ErrSettings},
		{"Boolean", map[string]any{"address": srv.Addr, "path": true}, tokenCreds, "",
			"[secrets.vault] path: must be a string, not a boolean", vault.ErrSettings},
		{"EmptyMount", map[string]any{"address": srv.Addr, "mount": "/"}, tokenCreds, "",
			`[secrets.vault] mount: must not be empty; leave it out for "secret"`, vault.ErrSettings},
		{"NoAddress", nil, tokenCreds, "",
			"vault: no address: set [secrets.vault] address, or VAULT_ADDR or vault_addr in the environment", vault.ErrNoAddress},
		{"NoCredentials", map[string]any{"address": srv.Addr}, secrets.Value{}, "MY_VAULT",
			"vault: no credentials for the Vault at " + srv.Addr + ": set the secret MY_VAULT to a table holding VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_KUBE_AUTH_ROLE and VAULT_KUBE_AUTH_PATH", vault.ErrAuth},
		{"UnsupportedCredentials", map[string]any{"address": srv.Addr}, secrets.NewValue(map[string]any{"TOKEN": leak}), "",
			"Unable to authenticate with vault service.  Supported methods: token, appRole and kubernetesRole", vault.ErrAuth},
		{"TokenNotAString", map[string]any{"address": srv.Addr}, secrets.NewValue(map[string]any{"VAULT_TOKEN": 12345678}), "",
			"vault: the credentials secret VAULT_CREDENTIALS: VAULT_TOKEN must be a string, not int", vault.ErrAuth},
		{"BadToken", map[string]any{"address": srv.Addr}, secrets.NewValue(map[string]any{"VAULT_TOKEN": leak}), "",
			"Vault at " + srv.Addr + ", KV v2 secret/prefect: Unable to autheticate with vault using supplied credentials (token): GET /v1/auth/token/lookup-self: HTTP 403: permission denied", vault.ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.credName
			if name == "" {
				name = vault.DefaultCredentialsSecret
			}
			src, err := vault.OpenStore(t.Context(), secrets.StoreSettings{Kind: vault.StoreName, Settings: tc.settings, CredentialsName: name, Credentials: tc.creds}, noEnv)
			if err == nil {
				vault.CloseIdle(src)
				t.Fatalf("Open succeeded; want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q\nwant  %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q does not match %v", err, tc.is)
			}
			if strings.Contains(err.Error(), leak) {
				t.Errorf("the error shows a credential")
			}
		})
	}
}

// The registered Open reads VAULT_ADDR and vault_addr from the process's
// environment.
func TestStoreAddressFromEnvironment(t *testing.T) {
	srv := baotest.Start(t)
	for _, v := range []string{"VAULT_ADDR", "vault_addr"} {
		t.Run(v, func(t *testing.T) {
			t.Setenv("VAULT_ADDR", "")
			t.Setenv("vault_addr", "")
			t.Setenv(v, srv.Addr)
			src, err := vault.Open(context.Background(), secrets.StoreSettings{Kind: vault.StoreName, CredentialsName: "VAULT_CREDENTIALS", Credentials: secrets.NewValue(map[string]any{"VAULT_TOKEN": srv.Token})})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer vault.CloseIdle(src)
			if !strings.Contains(src.String(), srv.Addr) {
				t.Errorf("String() = %q; want the address from %s", src, v)
			}
		})
	}
}

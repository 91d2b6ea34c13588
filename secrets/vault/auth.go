package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/prefect-go/prefect/secrets"
)

// The keys of a credentials table, Prefect's.
const (
	keyToken     = "VAULT_TOKEN"
	keyRoleID    = "VAULT_ROLE_ID"
	keySecretID  = "VAULT_SECRET_ID"
	keyKubeRole  = "VAULT_KUBE_AUTH_ROLE"
	keyKubePath  = "VAULT_KUBE_AUTH_PATH"
	keyKubeToken = "VAULT_KUBE_TOKEN_FILE"
)

// DefaultKubeTokenFile is where a Kubernetes pod finds its service
// account's token, the JWT that Kubernetes auth sends when the credentials
// name no VAULT_KUBE_TOKEN_FILE.
const DefaultKubeTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// DefaultCredentialsSecret is the secret that holds the credentials unless
// told otherwise, Prefect's.
const DefaultCredentialsSecret = "VAULT_CREDENTIALS"

// approleMount is where AppRole auth is mounted: hvac's default, which
// Prefect's VaultSecret does not change.
const approleMount = "approle"

// method is an auth method.
type method int

const (
	methodToken method = iota
	methodAppRole
	methodKubernetes
)

// creds are the credentials, parsed.
type creds struct {
	method    method
	token     string // methodToken
	roleID    string // methodAppRole
	secretID  string
	kubeRole  string // methodKubernetes
	kubePath  string // the mount, as in auth/<kubePath>/login
	kubeToken string // the file holding the JWT
}

// parseCreds reads a credentials table, in Prefect's order: VAULT_TOKEN,
// then VAULT_ROLE_ID with VAULT_SECRET_ID, then VAULT_KUBE_AUTH_ROLE with
// VAULT_KUBE_AUTH_PATH. name is the secret it came from, for errors.
func parseCreds(name string, v secrets.Value) (creds, error) {
	unsupported := &Error{Kind: ErrAuth, Msg: msgUnsupported}
	var m map[string]any
	if err := v.Decode(&m); err != nil || m == nil {
		// Decode's error names types only; still, say nothing more
		// than Prefect does.
		return creds{}, unsupported
	}
	str := func(key string) (string, bool, error) {
		x, ok := m[key]
		if !ok {
			return "", false, nil
		}
		s, isStr := x.(string)
		if !isStr {
			return "", true, &Error{Kind: ErrAuth, Msg: fmt.Sprintf("vault: the credentials secret %s: %s must be a string, not %T", name, key, x)}
		}
		return s, true, nil
	}
	var (
		c    creds
		errs []error
	)
	get := func(key string) (string, bool) {
		s, ok, err := str(key)
		if err != nil {
			errs = append(errs, err)
		}
		return s, ok
	}
	if tok, ok := get(keyToken); ok {
		c.method, c.token = methodToken, tok
	} else if role, ok := get(keyRoleID); ok {
		sid, ok2 := get(keySecretID)
		if !ok2 {
			return creds{}, firstOr(errs, unsupported)
		}
		c.method, c.roleID, c.secretID = methodAppRole, role, sid
	} else if kr, ok := get(keyKubeRole); ok {
		kp, ok2 := get(keyKubePath)
		if !ok2 {
			return creds{}, firstOr(errs, unsupported)
		}
		c.method, c.kubeRole, c.kubePath, c.kubeToken = methodKubernetes, kr, strings.Trim(kp, "/"), DefaultKubeTokenFile
		if f, ok := get(keyKubeToken); ok {
			c.kubeToken = f
		}
	} else {
		return creds{}, firstOr(errs, unsupported)
	}
	if len(errs) > 0 {
		return creds{}, errs[0]
	}
	return c, nil
}

func firstOr(errs []error, def error) error {
	if len(errs) > 0 {
		return errs[0]
	}
	return def
}

// newClient returns a client of the Vault at addr and the HTTP client
// under it (whose idle connections its user closes when done). It takes
// the rest of Vault's usual environment (VAULT_CACERT, VAULT_SKIP_VERIFY,
// VAULT_NAMESPACE, ...) as Vault's own tools do, but never a token from
// VAULT_TOKEN: the credentials say how to log in.
func newClient(addr, namespace string) (*api.Client, *http.Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, nil, fmt.Errorf("vault: reading Vault's environment (VAULT_CACERT, ...): %w", cfg.Error)
	}
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: a client of %s: %w", addr, err)
	}
	c.ClearToken()
	if namespace != "" {
		c.SetNamespace(namespace)
	}
	return c, cfg.HttpClient, nil
}

// session is a client logged in with some credentials. It is safe for
// concurrent use: api.Client is, and logins take turns.
type session struct {
	c     *api.Client
	creds creds

	mu        sync.Mutex // held while logging in
	refreshAt time.Time  // when to log in again; zero: never
}

// login logs in with the session's credentials and checks the token, as
// Prefect does (is_authenticated). The token Vault issues, and the
// Kubernetes JWT, are registered with ctx's masker. The caller holds s.mu
// or is the session's only user.
func (s *session) login(ctx context.Context) error {
	refused := func(how string, err error) error {
		return &Error{Kind: ErrAuth, Msg: msgRefused + " (" + how + ")", Err: err}
	}
	switch s.creds.method {
	case methodToken:
		s.c.SetToken(s.creds.token)
		if _, err := s.c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
			return refused("token", err)
		}
		return nil
	case methodAppRole:
		return s.loginAt(ctx, "auth/"+approleMount+"/login", "appRole", map[string]any{
			"role_id": s.creds.roleID, "secret_id": s.creds.secretID,
		}, refused)
	case methodKubernetes:
		jwt, err := os.ReadFile(s.creds.kubeToken)
		if err != nil {
			// The error names the file, not what it holds.
			return refused("kubernetesRole: reading the token file", err)
		}
		tok := strings.TrimSpace(string(jwt))
		secrets.Mask(ctx, secrets.NewValue(tok))
		return s.loginAt(ctx, "auth/"+s.creds.kubePath+"/login", "kubernetesRole", map[string]any{
			"role": s.creds.kubeRole, "jwt": tok,
		}, refused)
	}
	return &Error{Kind: ErrAuth, Msg: msgUnsupported}
}

// loginAt logs in by writing body to path, and keeps the token it gets.
func (s *session) loginAt(ctx context.Context, path, how string, body map[string]any, refused func(string, error) error) error {
	// A token left from an earlier login must not go with the request:
	// Vault would answer 403 for an expired one.
	s.c.ClearToken()
	sec, err := s.c.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		return refused(how+" at "+path, err)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return refused(how+" at "+path, errors.New("Vault's answer holds no token"))
	}
	secrets.Mask(ctx, secrets.NewValue(sec.Auth.ClientToken))
	s.c.SetToken(sec.Auth.ClientToken)
	s.refreshAt = time.Time{}
	if ttl := time.Duration(sec.Auth.LeaseDuration) * time.Second; ttl > 0 {
		// Log in again at two thirds of the token's life, as Vault's
		// LifetimeWatcher renews, so that lookups never meet it expired
		// in the common case.
		s.refreshAt = time.Now().Add(ttl * 2 / 3)
	}
	return nil
}

// canRelogin reports whether the session can get a new token by itself.
func (s *session) canRelogin() bool { return s.creds.method != methodToken }

// fresh logs in again when the token is due for it.
func (s *session) fresh(ctx context.Context) error {
	if !s.canRelogin() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refreshAt.IsZero() || time.Now().Before(s.refreshAt) {
		return nil
	}
	return s.login(ctx)
}

// relogin logs in again after a request made with the token used was
// refused with 403, if that token is still the session's and Vault no
// longer knows it (expired or revoked); a token Vault still accepts was
// refused by a policy, and a new one would be too. It reports whether the
// request is worth retrying.
func (s *session) relogin(ctx context.Context, used string) (bool, error) {
	if !s.canRelogin() {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c.Token() != used {
		return true, nil // another caller logged in meanwhile
	}
	_, err := s.c.Auth().Token().LookupSelfWithContext(ctx)
	if err == nil || !isForbidden(err) {
		return false, nil
	}
	if err := s.login(ctx); err != nil {
		return false, err
	}
	return true, nil
}

func isForbidden(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

// outcome is how a read ended, for the caller to word the error.
type outcome int

const (
	found outcome = iota
	missing
	forbidden
	failed
)

// read reads the KV v2 secret at mount/path: its data, or how it failed
// (with the cause). A secret whose current version is deleted is missing.
// Under a session that can log in again, a 403 for a token Vault has
// dropped is answered by one login and one more try.
func (s *session) read(ctx context.Context, mount, path string) (map[string]any, outcome, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, failed, err
	}
	for try := 0; ; try++ {
		used := s.c.Token()
		kv, err := s.c.KVv2(mount).Get(ctx, path)
		switch {
		case err == nil && kv.Data == nil:
			return nil, missing, nil
		case err == nil:
			return kv.Data, found, nil
		case errors.Is(err, api.ErrSecretNotFound):
			return nil, missing, err
		case isForbidden(err) && try == 0:
			again, lerr := s.relogin(ctx, used)
			if lerr != nil {
				return nil, failed, lerr
			}
			if again {
				continue
			}
			return nil, forbidden, err
		case isForbidden(err):
			return nil, forbidden, err
		}
		return nil, failed, err
	}
}

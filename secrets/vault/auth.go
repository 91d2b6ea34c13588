package vault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/prefect-go/prefect/internal/redact"
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
	var unsupported error = &Error{Kind: ErrAuth, Msg: msgUnsupported}
	var m map[string]any
	if err := v.Decode(&m); err != nil || m == nil {
		// Decode's error names types only; still, say nothing more
		// than Prefect does.
		return creds{}, unsupported
	}
	var bad error // the first key that is set but not a string
	get := func(key string) (string, bool) {
		x, ok := m[key]
		if !ok {
			return "", false
		}
		s, isStr := x.(string)
		if !isStr && bad == nil {
			bad = &Error{Kind: ErrAuth, Msg: fmt.Sprintf("vault: the credentials secret %s: %s must be a string, not %T", name, key, x)}
		}
		return s, true
	}
	var c creds
	if tok, ok := get(keyToken); ok {
		c.method, c.token = methodToken, tok
	} else if role, ok := get(keyRoleID); ok {
		sid, ok2 := get(keySecretID)
		if !ok2 {
			return creds{}, cmp.Or(bad, unsupported)
		}
		c.method, c.roleID, c.secretID = methodAppRole, role, sid
	} else if kr, ok := get(keyKubeRole); ok {
		kp, ok2 := get(keyKubePath)
		if !ok2 {
			return creds{}, cmp.Or(bad, unsupported)
		}
		c.method, c.kubeRole, c.kubePath, c.kubeToken = methodKubernetes, kr, strings.Trim(kp, "/"), DefaultKubeTokenFile
		if f, ok := get(keyKubeToken); ok {
			c.kubeToken = f
		}
	} else {
		return creds{}, cmp.Or(bad, unsupported)
	}
	if bad != nil {
		return creds{}, bad
	}
	return c, nil
}

// newClient returns a client of the Vault at addr and the HTTP client
// under it (whose idle connections its user closes when done). It takes
// the rest of Vault's usual environment (VAULT_CACERT, VAULT_SKIP_VERIFY,
// VAULT_NAMESPACE, ...) as Vault's own tools do, but never a token from
// VAULT_TOKEN: the credentials say how to log in; nor VAULT_AGENT_ADDR,
// which Vault's client would send requests to instead of addr: the
// address used is the one configured, and printed.
func newClient(addr, namespace string) (*api.Client, *http.Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, nil, fmt.Errorf("vault: reading Vault's environment (VAULT_CACERT, ...): %w", cfg.Error)
	}
	cfg.Address = addr
	cfg.AgentAddress = ""
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, nil, &Error{Msg: "vault: a client of " + redact.URL(addr), Err: err}
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
	expiresAt time.Time  // when the token stops being valid; zero: never

	kv2 sync.Map // mount -> true: a mount known to be KV v2
}

// login logs in with the session's credentials and checks the token, as
// Prefect does (is_authenticated). The token Vault issues, and the
// Kubernetes JWT, are registered with ctx's masker. The caller holds s.mu
// or is the session's only user.
func (s *session) login(ctx context.Context) error {
	refused := func(how string, err error) error {
		if !isRefusal(err) {
			// Vault was not reached, or failed: not a refusal of the
			// credentials, which would take access away.
			return &Error{Msg: "vault: logging in (" + how + ") at " + redact.URL(s.c.Address()), Err: err}
		}
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
			return &Error{Kind: ErrAuth, Msg: msgRefused + " (kubernetesRole: reading the token file)", Err: err}
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
// The session's token stays as it was until then, for the lookups going on
// meanwhile, and when the login fails.
func (s *session) loginAt(ctx context.Context, path, how string, body map[string]any, refused func(string, error) error) error {
	r := s.c.NewRequest(http.MethodPut, "/v1/"+path)
	// A token left from an earlier login must not go with the request:
	// Vault would answer 403 for an expired one.
	r.ClientToken = ""
	if err := r.SetJSONBody(body); err != nil {
		return refused(how+" at "+path, err)
	}
	start := time.Now()
	resp, err := s.c.RawRequestWithContext(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return refused(how+" at "+path, err)
	}
	sec, err := api.ParseSecret(resp.Body)
	if err != nil || sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return &Error{Kind: ErrAuth, Msg: msgRefused + " (" + how + " at " + path + ")", Err: errors.New("Vault's answer holds no token")}
	}
	secrets.Mask(ctx, secrets.NewValue(sec.Auth.ClientToken))
	s.c.SetToken(sec.Auth.ClientToken)
	s.refreshAt, s.expiresAt = time.Time{}, time.Time{}
	if ttl := time.Duration(sec.Auth.LeaseDuration) * time.Second; ttl > 0 {
		// Log in again at two thirds of the token's life, as Vault's
		// LifetimeWatcher renews, so that lookups never meet it expired
		// in the common case. Its life counts from the request.
		s.refreshAt = start.Add(ttl * 2 / 3)
		s.expiresAt = start.Add(ttl)
	}
	return nil
}

// canRelogin reports whether the session can get a new token by itself.
func (s *session) canRelogin() bool { return s.creds.method != methodToken }

// fresh logs in again when the token is due for it. A login that fails
// while the token is still valid leaves the session with it, and is tried
// again later (a third of the token's remaining life on, at least a
// second): only a token no longer valid makes the login's failure the
// lookup's.
func (s *session) fresh(ctx context.Context) error {
	if !s.canRelogin() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refreshAt.IsZero() || time.Now().Before(s.refreshAt) {
		return nil
	}
	err := s.login(ctx)
	if err == nil || ctx.Err() != nil {
		return err
	}
	now := time.Now()
	if s.expiresAt.IsZero() || !now.Before(s.expiresAt) {
		return err
	}
	s.refreshAt = now.Add(max(s.expiresAt.Sub(now)/3, time.Second))
	return nil
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

// isRefusal reports whether Vault answered a login with a refusal of the
// credentials (400, 401, 403), rather than failing or not being reached.
func isRefusal(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch re.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// outcome is how a read ended, for the caller to word the error.
type outcome int

const (
	found outcome = iota
	missing
	forbidden
	notKVv2 // the mount is not a KV v2 one
	failed
)

// read reads the KV v2 secret at mount/path: its data, or how it failed
// (with the cause). A secret whose current version is deleted is missing.
// Under a session that can log in again, a 403 for a token Vault has
// dropped is answered by one login and one more try.
//
// Vault answers 404 both for a secret a KV v2 mount does not hold (with no
// errors) and for a path no mount serves ("no handler for route"): the
// latter, and a mount Vault says is not KV v2 (KV v1 answers a missing
// key alike), are notKVv2, never missing.
func (s *session) read(ctx context.Context, mount, path string) (map[string]any, outcome, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, failed, err
	}
	for try := 0; ; try++ {
		used := s.c.Token()
		data, how, err := s.get(ctx, mount, path)
		switch {
		case how == forbidden && try == 0:
			again, lerr := s.relogin(ctx, used)
			if lerr != nil {
				return nil, failed, lerr
			}
			if again {
				continue
			}
		case how == missing:
			if s.mountIsNotKVv2(ctx, mount) {
				return nil, notKVv2, err
			}
		}
		return data, how, err
	}
}

// get makes one read of mount/data/path.
func (s *session) get(ctx context.Context, mount, path string) (map[string]any, outcome, error) {
	resp, err := s.c.Logical().ReadRawWithContext(ctx, mount+"/data/"+path)
	if resp != nil {
		defer resp.Body.Close()
	}
	var re *api.ResponseError
	switch {
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		if errors.As(err, &re) && len(re.Errors) > 0 {
			return nil, notKVv2, err
		}
		// A deleted version's answer holds its metadata, and no data.
		return nil, missing, fmt.Errorf("%w: at %s/data/%s", api.ErrSecretNotFound, mount, path)
	case isForbidden(err):
		return nil, forbidden, err
	case err != nil:
		return nil, failed, err
	}
	sec, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, failed, err
	}
	if sec == nil || sec.Data == nil {
		return nil, missing, nil
	}
	raw, ok := sec.Data["data"]
	if !ok {
		// KV v1 would answer so for a key called data/path.
		return nil, notKVv2, errors.New("Vault's answer has no data field, as a KV v2 one does")
	}
	data, ok := raw.(map[string]any)
	if !ok || data == nil {
		return nil, missing, nil
	}
	return data, found, nil
}

// mountIsNotKVv2 asks Vault what the mount is, after a 404 that a KV v1
// mount gives as well as a KV v2 one without the secret, and reports
// whether Vault says it is anything but KV v2. When Vault does not say (the
// token may not ask, or Vault is not reached) it reports false: the secret
// is missing, as the 404 said. A mount found KV v2 is not asked about again.
func (s *session) mountIsNotKVv2(ctx context.Context, mount string) bool {
	if _, ok := s.kv2.Load(mount); ok {
		return false
	}
	sec, err := s.c.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+mount)
	if err != nil || sec == nil || sec.Data == nil {
		return false
	}
	typ, _ := sec.Data["type"].(string)
	var version string
	if opts, ok := sec.Data["options"].(map[string]any); ok {
		version, _ = opts["version"].(string)
	}
	if (typ == "kv" && version == "2") || typ == "kv-v2" {
		s.kv2.Store(mount, true)
		return false
	}
	return true
}

package vault

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
)

// StoreName is the kind under which the store is registered: "vault" in
// the configuration's secrets.sources, with its settings in [secrets.vault].
const StoreName = "vault"

func init() {
	secrets.RegisterStore(StoreName, secrets.StoreKind{Open: open, Credentials: DefaultCredentialsSecret})
}

// The store's settings, in the order errors list them.
var settingNames = []string{"address", "mount", "path", "namespace"}

// storeSettings are the [secrets.vault] table, read.
type storeSettings struct {
	address, mount, path, namespace string
}

// parseSettings reads the store's table; env looks up the environment.
func parseSettings(m map[string]any, env func(string) string) (storeSettings, error) {
	st := storeSettings{mount: "secret", path: "prefect"}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad key reported is the same every time
	for _, k := range keys {
		var dst *string
		switch k {
		case "address":
			dst = &st.address
		case "mount":
			dst = &st.mount
		case "path":
			dst = &st.path
		case "namespace":
			dst = &st.namespace
		default:
			return st, &Error{Kind: ErrSettings, Msg: fmt.Sprintf("[secrets.vault] %s: unknown setting; valid: %s", k, strings.Join(settingNames, ", "))}
		}
		s, ok := m[k].(string)
		if !ok {
			return st, &Error{Kind: ErrSettings, Msg: fmt.Sprintf("[secrets.vault] %s: must be a string, not %s", k, config.Kind(m[k]))}
		}
		*dst = s
	}
	st.mount, st.path = strings.Trim(st.mount, "/"), strings.Trim(st.path, "/")
	if st.mount == "" {
		return st, &Error{Kind: ErrSettings, Msg: `[secrets.vault] mount: must not be empty; leave it out for "secret"`}
	}
	if st.address == "" {
		st.address = envAddress(env)
	}
	if st.address == "" {
		return st, &Error{Kind: ErrNoAddress, Msg: "vault: no address: set [secrets.vault] address, or VAULT_ADDR or vault_addr in the environment"}
	}
	return st, nil
}

// open is the store's StoreKind.Open: it reads the settings, logs in and
// returns the Source.
func open(ctx context.Context, ss secrets.StoreSettings) (secrets.Source, error) {
	return openStore(ctx, ss, os.Getenv)
}

// store is the Source: the KV v2 secrets under mount/path, read through
// one logged-in session shared by every run of the process.
type store struct {
	st storeSettings
	s  *session
	hc *http.Client
}

var _ secrets.Source = (*store)(nil)

func openStore(ctx context.Context, ss secrets.StoreSettings, env func(string) string) (*store, error) {
	st, err := parseSettings(ss.Settings, env)
	if err != nil {
		return nil, err
	}
	credsName := ss.CredentialsName
	if credsName == "" {
		credsName = DefaultCredentialsSecret
	}
	if ss.Credentials.IsZero() {
		return nil, &Error{Kind: ErrAuth, Msg: fmt.Sprintf("vault: no credentials for the Vault at %s: set the secret %s to a table holding VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_KUBE_AUTH_ROLE and VAULT_KUBE_AUTH_PATH", redact.URL(st.address), credsName)}
	}
	cr, err := parseCreds(credsName, ss.Credentials)
	if err != nil {
		return nil, err
	}
	c, hc, err := newClient(st.address, st.namespace)
	if err != nil {
		return nil, err
	}
	src := &store{st: st, s: &session{c: c, creds: cr}, hc: hc}
	// Log in now: bad credentials or an unreachable Vault are reported
	// when the store opens, not as the failure of some later lookup.
	if err := src.s.login(ctx); err != nil {
		hc.CloseIdleConnections()
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return src, nil
}

// Lookup reads the KV v2 secret <mount>/<path>/<name>: a secret holding one
// key, "value", gives that value; any other gives its whole table.
func (src *store) Lookup(ctx context.Context, name string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validName(name) {
		// No KV path can hold it; the next source may.
		return nil, &secrets.NotFoundError{Name: name, Tried: []string{src.String()}}
	}
	p := name
	if src.st.path != "" {
		p = src.st.path + "/" + name
	}
	data, how, err := src.s.read(ctx, src.st.mount, p)
	switch how {
	case found:
		if v, ok := data["value"]; ok && len(data) == 1 {
			return v, nil
		}
		return data, nil
	case missing:
		return nil, &secrets.NotFoundError{Name: name, Tried: []string{src.String()}}
	case forbidden:
		return nil, &Error{Kind: ErrForbidden, Msg: fmt.Sprintf("%s: Access forbidden: %s", src, name), Err: err}
	case notKVv2:
		return nil, &Error{Kind: ErrNotKVv2, Msg: fmt.Sprintf("%s: reading %s: the mount %s/ is not a KV v2 mount (no such mount, or another engine or KV version 1): check [secrets.vault] mount", src, name, src.st.mount), Err: err}
	}
	return nil, &Error{Msg: fmt.Sprintf("%s: reading %s", src, name), Err: err}
}

// validName reports whether name makes a KV path below the prefix: not
// empty, and no empty, "." or ".." segment that would leave it.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// String says where the store looks: "Vault at ADDR, KV v2 mount/path",
// the address's userinfo hidden.
func (src *store) String() string {
	s := "Vault at " + redact.URL(src.st.address) + ", KV v2 " + src.st.mount
	if src.st.path != "" {
		s += "/" + src.st.path
	}
	if src.st.namespace != "" {
		s += " (namespace " + src.st.namespace + ")"
	}
	return s
}

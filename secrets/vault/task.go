package vault

import (
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
)

// In is the input of a [Secret] task: the secret's path, when it is given
// at run time instead of when the task is made (bind it to a flow
// parameter, say).
type In struct {
	// Name, when set, is the path "<mount_point>/<path>" to read instead
	// of the task's own.
	Name string `prefect:"name,optional"`
}

// Option configures a [Secret] task.
type Option func(*options)

type options struct {
	credentials string
	taskOpts    []task.Option
	errs        []error
}

// WithCredentialsSecret names the secret holding the credentials (Prefect's
// vault_credentials_secret); the default is [DefaultCredentialsSecret]. The
// name must not be empty.
func WithCredentialsSecret(name string) Option {
	return func(o *options) {
		if name == "" {
			o.errs = append(o.errs, fmt.Errorf("vault.WithCredentialsSecret: the secret name is empty; leave the option out for %s", DefaultCredentialsSecret))
			return
		}
		o.credentials = name
	}
}

// WithTaskOptions passes task options (a slug, tags, retries, a timeout) to
// the task.
func WithTaskOptions(opts ...task.Option) Option {
	return func(o *options) { o.taskOpts = append(o.taskOpts, opts...) }
}

// secretPath is Prefect's pattern for a task's secret path.
var secretPath = regexp.MustCompile(`^([^/]+)/(.+)$`)

// Secret returns Prefect's VaultSecret: a task that reads the KV v2 secret
// at path, "<mount_point>/<path>" ("secret/app/db" is app/db in the mount
// secret/), from the Vault at $VAULT_ADDR (or $vault_addr), and returns its
// data, a table (map[string]any), as a secrets.Value. The task is named
// after the path, or "VaultSecret" when path is empty; then the path must
// be bound to its "name" input, which also overrides a path given here.
//
// It logs in with the credentials in the secret [DefaultCredentialsSecret]
// (or the one [WithCredentialsSecret] names), resolved from the run's
// local secrets and the secret server, never from a remote store
// (secrets.Credentials): a table holding VAULT_TOKEN; or VAULT_ROLE_ID and VAULT_SECRET_ID
// (AppRole, mounted at approle/); or VAULT_KUBE_AUTH_ROLE and
// VAULT_KUBE_AUTH_PATH, the mount of Kubernetes auth, with
// VAULT_KUBE_TOKEN_FILE, the file holding the service account's JWT
// (default [DefaultKubeTokenFile]).
//
// Like tasks.PrefectSecret, its result is never checkpointed, and the
// secret's values, and the token it logged in with, are hidden in the
// run's output. Its errors are Prefect's, in Prefect's order:
//
//   - `VAULT_ADDR url var not found. ...`: [ErrNoAddress];
//   - the credentials secret's own error when it is not set
//     (secrets.ErrNotFound);
//   - `Unable to authenticate with vault service.  Supported methods: ...`
//     for credentials of another shape, and `Unable to autheticate with
//     vault using supplied credentials` when Vault refuses them: [ErrAuth];
//   - `Invalid secret path: NAME.  Expected: "<mount_point>/<path>"`:
//     [ErrInvalidPath];
//   - `Secret not found: NAME`: secrets.ErrNotFound;
//   - `Access forbidden: NAME`: [ErrForbidden].
//
// A path whose mount is not a KV v2 one is an error matching [ErrNotKVv2],
// not secrets.ErrNotFound; a refusal ([ErrAuth], [ErrForbidden]) also
// matches secrets.ErrAccessDenied.
func Secret(path string, opts ...Option) *task.Task[In, secrets.Value] {
	o := options{credentials: DefaultCredentialsSecret}
	for _, opt := range opts {
		if opt == nil {
			o.errs = append(o.errs, fmt.Errorf("vault.Secret: an option is nil"))
			continue
		}
		opt(&o)
	}
	taskOpts := []task.Option{task.WithSecretResult()}
	for _, err := range o.errs {
		taskOpts = append(taskOpts, task.WithOptionError(err))
	}
	taskOpts = append(taskOpts, o.taskOpts...)

	name := path
	if name == "" {
		name = "VaultSecret"
	}
	return task.New(name, func(ctx context.Context, in In) (secrets.Value, error) {
		p := path
		if in.Name != "" {
			p = in.Name
		}
		if p == "" {
			return secrets.Value{}, secrets.ErrNoName
		}
		return read(ctx, p, o.credentials)
	}, taskOpts...)
}

// envAddress returns the Vault address from the environment env looks
// up, as Prefect reads it: VAULT_ADDR, else vault_addr.
func envAddress(env func(string) string) string {
	if a := env("VAULT_ADDR"); a != "" {
		return a
	}
	return env("vault_addr")
}

// read is the task's work, Prefect's _get_vault_secret.
func read(ctx context.Context, name, credsName string) (secrets.Value, error) {
	addr := envAddress(os.Getenv)
	if addr == "" {
		return secrets.Value{}, &Error{Kind: ErrNoAddress, Msg: msgNoAddress}
	}
	// From the run's local secrets and the secret server, never from a
	// remote store: Vault's own credentials cannot be in Vault, and
	// another store's outage must not stop this task.
	cv, err := secrets.Credentials(ctx, credsName)
	if err != nil {
		return secrets.Value{}, err
	}
	cr, err := parseCreds(credsName, cv)
	if err != nil {
		return secrets.Value{}, err
	}
	c, hc, err := newClient(addr, "")
	if err != nil {
		return secrets.Value{}, err
	}
	// One client per run, as Prefect makes one: drop its connections
	// when done rather than leave them to the process.
	defer hc.CloseIdleConnections()
	s := &session{c: c, creds: cr}
	if err := s.login(ctx); err != nil {
		return secrets.Value{}, err
	}
	m := secretPath.FindStringSubmatch(name)
	if m == nil {
		return secrets.Value{}, &Error{Kind: ErrInvalidPath, Msg: fmt.Sprintf(`Invalid secret path: %s.  Expected: "<mount_point>/<path>"`, name)}
	}
	data, how, err := s.read(ctx, m[1], m[2])
	switch how {
	case found:
		v := secrets.NewValue(data)
		secrets.Mask(ctx, v)
		return v, nil
	case missing:
		// Prefect's messages alone; Vault's answer stays in the chain.
		return secrets.Value{}, &Error{Kind: secrets.ErrNotFound, Msg: "Secret not found: " + name, Err: err, terse: true}
	case forbidden:
		return secrets.Value{}, &Error{Kind: ErrForbidden, Msg: "Access forbidden: " + name, Err: err, terse: true}
	case notKVv2:
		return secrets.Value{}, &Error{Kind: ErrNotKVv2, Msg: fmt.Sprintf("vault: reading %s at %s: the mount %s/ is not a KV v2 mount (no such mount, or another engine or KV version 1)", name, redact.URL(addr), m[1]), Err: err}
	}
	if _, ok := err.(*Error); ok {
		return secrets.Value{}, err // a login's, which says what failed
	}
	return secrets.Value{}, &Error{Msg: "vault: reading " + name + " at " + redact.URL(addr), Err: err}
}

package vault_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/vault"
	"github.com/prefect-go/prefect/task"
)

// leak is the secret's value; no log line or error may show it.
const leak = "db-pa55w0rd-that-must-not-leak"

// hermetic keeps the machine's ~/.prefect and PREFECT__* out of a run.
func hermetic(t *testing.T) runner.Option {
	t.Helper()
	cfg, err := config.Load(config.WithEnv(nil), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return runner.WithConfig(cfg)
}

// server starts OpenBao with the KV v2 secret secret/app/db, a policy
// "app" that may read secret/app/* only, and VAULT_ADDR pointing at it.
func server(t *testing.T) *baotest.Server {
	t.Helper()
	srv := baotest.Start(t)
	if _, err := srv.Client(t).KVv2("secret").Put(t.Context(), "app/db", map[string]any{"user": "app", "password": leak}); err != nil {
		t.Fatalf("writing secret/app/db: %v", err)
	}
	if _, err := srv.Client(t).KVv2("secret").Put(t.Context(), "other/db", map[string]any{"password": leak}); err != nil {
		t.Fatalf("writing secret/other/db: %v", err)
	}
	srv.Policy(t, "app", `path "secret/data/app/*" { capabilities = ["read"] }`)
	t.Setenv("VAULT_ADDR", srv.Addr)
	t.Setenv("vault_addr", "")
	return srv
}

type dbIn struct {
	DB map[string]any `prefect:"db"`
}

// result is a run of a flow of a Secret task feeding a task that logs the
// secret's password.
type result struct {
	fs     *runner.FlowState
	secret flow.Node[secrets.Value]
	got    map[string]any // what the downstream task was given
	logs   string
}

// runFlow runs sec, with creds as the run's VAULT_CREDENTIALS (none when
// nil) and params as its parameters, into a task that logs the password.
func runFlow(t *testing.T, sec *task.Task[vault.In, secrets.Value], creds any, params map[string]any, bind ...flow.Binding) result {
	t.Helper()
	var logs bytes.Buffer
	var got map[string]any
	f := flow.New("vault")
	if params != nil {
		name := flow.Parameter[string](f, "path")
		bind = append(bind, flow.Bind("name", name))
	}
	node := flow.Add(f, sec, bind...)
	flow.Add(f, task.New("use", func(ctx context.Context, in dbIn) (int, error) {
		got = in.DB
		rc, _ := runner.FromContext(ctx)
		pw, _ := in.DB["password"].(string)
		rc.Logger().Info("connecting with "+pw, "password", pw)
		return len(in.DB), nil
	}), flow.Bind("db", node))
	opts := []runner.Option{hermetic(t), runner.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}
	if creds != nil {
		opts = append(opts, runner.WithSecrets(map[string]any{"VAULT_CREDENTIALS": creds, "MY_CREDS": creds}))
	}
	if params != nil {
		opts = append(opts, runner.WithParameters(params))
	}
	fs, err := runner.Run(context.Background(), f, opts...)
	if err != nil {
		t.Fatalf("runner.Run: %v", err)
	}
	return result{fs: fs, secret: node, got: got, logs: logs.String()}
}

func TestSecretReadsAndMasks(t *testing.T) {
	srv := server(t)
	roleID, secretID := srv.AppRole(t, "app", "app")
	for _, tc := range []struct {
		name   string
		task   *task.Task[vault.In, secrets.Value]
		creds  map[string]any
		params map[string]any
	}{
		{"Token", vault.Secret("secret/app/db"), map[string]any{"VAULT_TOKEN": srv.NewToken(t, "app")}, nil},
		{"RootToken", vault.Secret("secret/app/db"), map[string]any{"VAULT_TOKEN": srv.Token}, nil},
		{"AppRole", vault.Secret("secret/app/db"), map[string]any{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID}, nil},
		{"OtherCredentialsSecret", vault.Secret("secret/app/db", vault.WithCredentialsSecret("MY_CREDS")), map[string]any{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID}, nil},
		{"PathFromParameter", vault.Secret(""), map[string]any{"VAULT_TOKEN": srv.NewToken(t, "app")}, map[string]any{"path": "secret/app/db"}},
		{"ParameterOverridesPath", vault.Secret("secret/app/nope"), map[string]any{"VAULT_TOKEN": srv.NewToken(t, "app")}, map[string]any{"path": "secret/app/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runFlow(t, tc.task, tc.creds, tc.params)
			if !r.fs.IsSuccessful() {
				t.Fatalf("flow %v; secret task %v (%v)", r.fs.State, r.fs.Of(r.secret), r.fs.Of(r.secret).Err)
			}
			if r.got["user"] != "app" || r.got["password"] != leak || len(r.got) != 2 {
				t.Errorf("the downstream task got a table with keys %v, not the secret's (user, password)", keys(r.got))
			}
			v, ok := runner.ResultOf(r.fs, r.secret)
			if m, err := secrets.As[map[string]any](v); !ok || err != nil || m["password"] != leak {
				t.Errorf("the task's result is not the secret's table (ok %v, err %v)", ok, err)
			}
			if strings.Contains(r.logs, leak) {
				t.Errorf("the run's logs show the secret's value:\n%s", strings.ReplaceAll(r.logs, leak, "<LEAK>"))
			}
			if !strings.Contains(r.logs, "connecting with "+secrets.Redacted) {
				t.Errorf("the run's logs do not show the logged password masked:\n%s", r.logs)
			}
			if tok, _ := tc.creds["VAULT_TOKEN"].(string); tok != "" && strings.Contains(r.logs, tok) {
				t.Errorf("the run's logs show the token")
			}
		})
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestSecretErrors(t *testing.T) {
	srv := server(t)
	appToken := srv.NewToken(t, "app")
	roleID, _ := srv.AppRole(t, "app", "app")
	for _, tc := range []struct {
		name  string
		addr  string // VAULT_ADDR; "-" for unset (and vault_addr too)
		path  string
		creds any
		want  string // the whole message
		is    error
	}{
		{"NoAddress", "-", "secret/app/db", map[string]any{"VAULT_TOKEN": appToken},
			`VAULT_ADDR url var not found. Either "VAULT_ADDR" or "vault_addr" env var required.`, vault.ErrNoAddress},
		{"NoCredentials", "", "secret/app/db", nil,
			`Local Secret "VAULT_CREDENTIALS" was not found. `, secrets.ErrNotFound},
		{"UnsupportedCredentials", "", "secret/app/db", map[string]any{"WRONG_TOKEN": leak},
			"Unable to authenticate with vault service.  Supported methods: token, appRole and kubernetesRole", vault.ErrAuth},
		{"RoleWithoutSecretID", "", "secret/app/db", map[string]any{"VAULT_ROLE_ID": roleID},
			"Unable to authenticate with vault service.  Supported methods: token, appRole and kubernetesRole", vault.ErrAuth},
		{"CredentialsNotATable", "", "secret/app/db", leak,
			"Unable to authenticate with vault service.  Supported methods: token, appRole and kubernetesRole", vault.ErrAuth},
		{"BadToken", "", "secret/app/db", map[string]any{"VAULT_TOKEN": leak},
			"Unable to autheticate with vault using supplied credentials (token): GET /v1/auth/token/lookup-self: HTTP 403: permission denied", vault.ErrAuth},
		{"BadSecretID", "", "secret/app/db", map[string]any{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": leak},
			"Unable to autheticate with vault using supplied credentials (appRole at auth/approle/login): PUT /v1/auth/approle/login: HTTP 400: invalid role or secret ID", vault.ErrAuth},
		{"InvalidPath", "", "nomount", map[string]any{"VAULT_TOKEN": appToken},
			`Invalid secret path: nomount.  Expected: "<mount_point>/<path>"`, vault.ErrInvalidPath},
		{"InvalidPathTrailingSlash", "", "secret/", map[string]any{"VAULT_TOKEN": appToken},
			`Invalid secret path: secret/.  Expected: "<mount_point>/<path>"`, vault.ErrInvalidPath},
		{"NotFound", "", "secret/app/nope", map[string]any{"VAULT_TOKEN": appToken},
			"Secret not found: secret/app/nope", secrets.ErrNotFound},
		{"Forbidden", "", "secret/other/db", map[string]any{"VAULT_TOKEN": appToken},
			"Access forbidden: secret/other/db", vault.ErrForbidden},
		{"ForbiddenAppRole", "", "secret/other/db", nil, // creds filled below
			"Access forbidden: secret/other/db", vault.ErrForbidden},
		// Not a refusal: neither ErrAuth nor secrets.ErrAccessDenied.
		{"Unreachable", "http://127.0.0.1:1", "secret/app/db", map[string]any{"VAULT_TOKEN": appToken},
			"vault: logging in (token) at http://127.0.0.1:1: ", nil},
		{"UnreachableUserinfo", "http://prefect:" + leak + "@127.0.0.1:1", "secret/app/db", map[string]any{"VAULT_TOKEN": appToken},
			"vault: logging in (token) at http://********@127.0.0.1:1: ", nil},
		{"NoSuchMount", "", "secrt/app/db", map[string]any{"VAULT_TOKEN": srv.Token},
			"vault: reading secrt/app/db at " + srv.Addr + ": the mount secrt/ is not a KV v2 mount (no such mount, or another engine or KV version 1): GET /v1/secrt/data/app/db: HTTP 404: no handler for route \"secrt/data/app/db\". route entry not found.", vault.ErrNotKVv2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.addr {
			case "-":
				t.Setenv("VAULT_ADDR", "")
			case "":
			default:
				t.Setenv("VAULT_ADDR", tc.addr)
			}
			creds := tc.creds
			if tc.name == "ForbiddenAppRole" {
				rid, sid := srv.AppRole(t, "app", "app")
				creds = map[string]any{"VAULT_ROLE_ID": rid, "VAULT_SECRET_ID": sid}
			}
			r := runFlow(t, vault.Secret(tc.path), creds, nil)
			st := r.fs.Of(r.secret)
			if !st.IsFailed() {
				t.Fatalf("the secret task is %v; want Failed", st)
			}
			msg := st.Err.Error()
			// A want ending in a space is a prefix: the rest is a cause.
			if strings.HasSuffix(tc.want, " ") && !strings.HasPrefix(msg, tc.want) || !strings.HasSuffix(tc.want, " ") && msg != tc.want {
				t.Errorf("error %q\nwant  %q", msg, tc.want)
			}
			if tc.is != nil && !errors.Is(st.Err, tc.is) {
				t.Errorf("error %q does not match %v", msg, tc.is)
			}
			refusal := tc.is == vault.ErrAuth || tc.is == vault.ErrForbidden
			if errors.Is(st.Err, secrets.ErrAccessDenied) != refusal {
				t.Errorf("error %q: errors.Is(secrets.ErrAccessDenied) = %v, want %v", msg, !refusal, refusal)
			}
			if tc.is != secrets.ErrNotFound && errors.Is(st.Err, secrets.ErrNotFound) {
				t.Errorf("error %q matches secrets.ErrNotFound", msg)
			}
			if strings.Contains(msg, leak) || strings.Contains(st.Message, leak) || strings.Contains(r.logs, leak) {
				t.Errorf("the error, state or logs show a secret value")
			}
			if !r.fs.IsFailed() {
				t.Errorf("flow %v; want Failed", r.fs.State)
			}
		})
	}
}

// call runs sec outside a flow run, with creds as VAULT_CREDENTIALS: the
// run's masker would hide the credentials' values (the mount, the file)
// wherever they appear, also in the errors this test reads.
func call(t *testing.T, sec *task.Task[vault.In, secrets.Value], creds map[string]any) error {
	t.Helper()
	cfg, err := config.Load(config.WithEnv(nil), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithRunSecrets(map[string]any{"VAULT_CREDENTIALS": creds}))
	_, err = sec.Call(secrets.NewContext(context.Background(), r), nil)
	return err
}

// Kubernetes auth needs a cluster to succeed; here it can only be seen to
// read the token file and ask the mount the credentials name, and to keep
// the JWT out of its error and the run's logs.
func TestSecretKubernetesAuth(t *testing.T) {
	server(t)
	const jwt = "eyJhbGciOiJSUzI1NiJ9.a-service-account-jwt-that-must-not-leak"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(jwt+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		creds map[string]any
		want  []string
	}{
		// OpenBao has no Kubernetes auth mounted: the login is refused
		// at the path the credentials name, proof that it was asked.
		{"TokenFile", map[string]any{"VAULT_KUBE_AUTH_ROLE": "app", "VAULT_KUBE_AUTH_PATH": "k8s-prod", "VAULT_KUBE_TOKEN_FILE": file},
			[]string{"Unable to autheticate with vault using supplied credentials (kubernetesRole at auth/k8s-prod/login): PUT /v1/auth/k8s-prod/login: HTTP 403"}},
		{"MissingTokenFile", map[string]any{"VAULT_KUBE_AUTH_ROLE": "app", "VAULT_KUBE_AUTH_PATH": "k8s-prod", "VAULT_KUBE_TOKEN_FILE": file + ".nope"},
			[]string{"kubernetesRole: reading the token file", file + ".nope"}},
	}
	if _, err := os.Stat(vault.DefaultKubeTokenFile); err != nil {
		cases = append(cases, struct {
			name  string
			creds map[string]any
			want  []string
		}{"DefaultTokenFile", map[string]any{"VAULT_KUBE_AUTH_ROLE": "app", "VAULT_KUBE_AUTH_PATH": "kubernetes"},
			[]string{"reading the token file", vault.DefaultKubeTokenFile}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := call(t, vault.Secret("secret/app/db"), tc.creds)
			if !errors.Is(err, vault.ErrAuth) {
				t.Fatalf("error %v; want one matching ErrAuth", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), jwt) {
				t.Errorf("the error shows the JWT")
			}
			// In a run, the JWT is masked too: the task registers it
			// before it sends it.
			r := runFlow(t, vault.Secret("secret/app/db"), tc.creds, nil)
			if st := r.fs.Of(r.secret); !st.IsFailed() || strings.Contains(st.Err.Error(), jwt) || strings.Contains(r.logs, jwt) {
				t.Errorf("in a run: the secret task is %v; or its error or the logs show the JWT", st)
			}
		})
	}
}

func TestSecretTask(t *testing.T) {
	sec := vault.Secret("secret/app/db")
	if sec.Spec().Name != "secret/app/db" || !sec.Spec().Secret {
		t.Errorf("Secret: name %q, secret result %v; want the path and true", sec.Spec().Name, sec.Spec().Secret)
	}
	if name := vault.Secret("").Spec().Name; name != "VaultSecret" {
		t.Errorf("Secret(\"\") is named %q, want VaultSecret", name)
	}
	for _, tc := range []struct {
		name string
		opt  vault.Option
		want string
	}{
		{"EmptyCredentialsSecret", vault.WithCredentialsSecret(""), "vault.WithCredentialsSecret: the secret name is empty"},
		{"NilOption", nil, "an option is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := vault.Secret("secret/x", tc.opt).Spec().Err
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Spec().Err = %v; want one saying %q", err, tc.want)
			}
		})
	}
	t.Run("NoName", func(t *testing.T) {
		t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
		r := runFlow(t, vault.Secret(""), map[string]any{"VAULT_TOKEN": "x"}, nil)
		if err := r.fs.Of(r.secret).Err; !errors.Is(err, secrets.ErrNoName) {
			t.Errorf("a Secret task without a path: %v; want secrets.ErrNoName", err)
		}
	})
}

// The task registers what it reads, and the token AppRole gave it, with
// the run's masker before anything can print them (the runner also masks
// a secret task's result; the token it never sees).
func TestSecretRegistersWithTheMasker(t *testing.T) {
	srv := server(t)
	roleID, secretID := srv.AppRole(t, "app", "app")
	cfg, err := config.Load(config.WithEnv(nil), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var masked []secrets.Value
	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.OnResolve(func(v secrets.Value) { masked = append(masked, v) }),
		secrets.WithRunSecrets(map[string]any{"VAULT_CREDENTIALS": map[string]any{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID}}))
	if _, err := vault.Secret("secret/app/db").Call(secrets.NewContext(context.Background(), r), nil); err != nil {
		t.Fatal(err)
	}
	var value, token bool
	root := srv.Client(t)
	for _, v := range masked {
		if slices.Contains(v.RevealAll(), leak) {
			value = true
			continue
		}
		s := v.Reveal()
		if strings.HasPrefix(s, "{") {
			continue // the credentials
		}
		if sec, err := root.Auth().Token().LookupWithContext(t.Context(), s); err == nil && sec != nil {
			token = true
		}
	}
	if !value {
		t.Errorf("the secret's value was not registered with the masker")
	}
	if !token {
		t.Errorf("the token AppRole issued was not registered with the masker")
	}
}

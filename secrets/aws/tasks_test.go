package aws_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/aws"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// hermetic returns a configuration of the given environment only, so that
// the machine's ~/.prefect/config.toml plays no part.
func hermetic(t *testing.T, env ...string) runner.Option {
	t.Helper()
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return runner.WithConfig(cfg)
}

// runOne runs a flow of the one task t adds, with the options given, and
// returns the task's state and result.
func runOne(t *testing.T, add func(f *flow.Flow) flow.Node[secrets.Value], opts ...runner.Option) (state.State, secrets.Value) {
	t.Helper()
	f := flow.New("aws")
	n := add(f)
	fs, err := runner.Run(testContext(t), f, append([]runner.Option{hermetic(t)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := runner.ResultOf(fs, n)
	return fs.Of(n), v
}

func testContext(t *testing.T) context.Context { return t.Context() }

// withCreds gives the run an AWS_CREDENTIALS secret with key ID keyID.
func withCreds(keyID string) runner.Option {
	return runner.WithSecrets(map[string]any{"AWS_CREDENTIALS": creds(keyID)})
}

func TestTasksReadValues(t *testing.T) {
	p := newProxy(t)
	prefix := unique()
	table := map[string]any{"user": "admin", "password": leak}
	putSecret(t, prefix+"/table", table)
	putSecret(t, prefix+"/plain", leak)
	putSecret(t, prefix+"/number", 1234)
	putParameter(t, prefix+"-string", leak, ssmtypes.ParameterTypeString)
	putParameter(t, prefix+"-json", `{"a": 1}`, ssmtypes.ParameterTypeString)
	putParameter(t, prefix+"-secure", leak, ssmtypes.ParameterTypeSecureString)
	at := []aws.Option{aws.WithEndpoint(p.URL), aws.WithRegion(region)}

	for _, c := range []struct {
		name string
		task *task.Task[aws.SecretsManagerIn, secrets.Value]
		pm   *task.Task[aws.ParametersManagerIn, secrets.Value]
		want any // what the result decodes to; nil: anything but leak
	}{
		{name: "JSONSecretIsATable", task: aws.SecretsManager(prefix+"/table", at...), want: table},
		{name: "PlainSecretIsAString", task: aws.SecretsManager(prefix+"/plain", at...), want: leak},
		{name: "JSONNumber", task: aws.SecretsManager(prefix+"/number", at...), want: 1234.0},
		{name: "StringParameter", pm: aws.ParametersManager(prefix+"-string", at...), want: leak},
		{name: "ParameterIsNeverDecoded", pm: aws.ParametersManager(prefix+"-json", at...), want: `{"a": 1}`},
		{name: "SecureStringDecrypted", pm: aws.ParametersManager(prefix+"-secure", append(at, aws.WithDecryption(true))...), want: leak},
		{name: "SecureStringNotDecrypted", pm: aws.ParametersManager(prefix+"-secure", at...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, v := runOne(t, func(f *flow.Flow) flow.Node[secrets.Value] {
				if c.task != nil {
					return flow.Add(f, c.task)
				}
				return flow.Add(f, c.pm)
			}, withCreds("AKIDREAD"))
			if !st.IsSuccessful() {
				t.Fatalf("task: %v", st)
			}
			if c.want == nil {
				if v.Reveal() == leak {
					t.Errorf("a SecureString read without decryption came back decrypted")
				}
				return
			}
			var got any
			if err := v.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if secrets.NewValue(got).Reveal() != secrets.NewValue(c.want).Reveal() || typeOf(got) != typeOf(c.want) {
				t.Errorf("the result is a %s that differs from the %s stored", typeOf(got), typeOf(c.want))
			}
		})
	}
	if keys := p.Keys(); len(keys) == 0 || slices.IndexFunc(keys, func(k string) bool { return k != "AKIDREAD" }) >= 0 {
		t.Errorf("requests signed with %v; want AWS_CREDENTIALS's key, AKIDREAD, only", keys)
	}
}

func typeOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "table"
	case string:
		return "string"
	case nil:
		return "nothing"
	}
	return "number"
}

// Where a task's credentials come from, in Prefect's order: the input,
// the credentials secret, the SDK's default chain.
func TestTaskCredentials(t *testing.T) {
	prefix := unique()
	putSecret(t, prefix+"/s", "v1234")
	putParameter(t, prefix+"-p", "v1234", ssmtypes.ParameterTypeString)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)

	for _, c := range []struct {
		name    string
		opts    []aws.Option
		secrets map[string]any
		input   string // the secret the credentials input is bound to
		want    string // the access key that signs
	}{
		{name: "Input", input: "MINE", secrets: map[string]any{"MINE": creds("AKIDINPUT"), "AWS_CREDENTIALS": creds("AKIDSECRET")}, want: "AKIDINPUT"},
		{name: "AWS_CREDENTIALS", secrets: map[string]any{"AWS_CREDENTIALS": creds("AKIDSECRET")}, want: "AKIDSECRET"},
		{name: "WithCredentialsSecret", opts: []aws.Option{aws.WithCredentialsSecret("OTHER")},
			secrets: map[string]any{"OTHER": creds("AKIDOTHER"), "AWS_CREDENTIALS": creds("AKIDSECRET")}, want: "AKIDOTHER"},
		{name: "SessionToken", secrets: map[string]any{"AWS_CREDENTIALS": map[string]any{
			"ACCESS_KEY": "AKIDTOKEN", "SECRET_ACCESS_KEY": secretKey, "SESSION_TOKEN": "tok"}}, want: "AKIDTOKEN"},
		{name: "DefaultChain", want: "AKIDENV"},
	} {
		for _, kind := range []string{"SecretsManager", "ParametersManager"} {
			t.Run(c.name+"/"+kind, func(t *testing.T) {
				p := newProxy(t)
				opts := append([]aws.Option{aws.WithEndpoint(p.URL), aws.WithRegion(region)}, c.opts...)
				st, v := runOne(t, func(f *flow.Flow) flow.Node[secrets.Value] {
					var b []flow.Binding
					if c.input != "" {
						b = append(b, flow.Bind("credentials", flow.Add(f, tasks.PrefectSecret(c.input))))
					}
					if kind == "SecretsManager" {
						return flow.Add(f, aws.SecretsManager(prefix+"/s", opts...), b...)
					}
					return flow.Add(f, aws.ParametersManager(prefix+"-p", opts...), b...)
				}, runner.WithSecrets(c.secrets))
				if !st.IsSuccessful() || v.Reveal() != "v1234" {
					t.Fatalf("task: %v", st)
				}
				if keys := p.Keys(); !slices.Equal(keys, []string{c.want}) {
					t.Errorf("requests signed with %v; want %s", keys, c.want)
				}
			})
		}
	}
}

// The name given at run time, through the task's input, wins.
func TestTaskNameFromParameter(t *testing.T) {
	prefix := unique()
	putSecret(t, prefix+"/a", "from-a")
	putSecret(t, prefix+"/b", "from-b")
	putParameter(t, prefix+"-b", "param-b", ssmtypes.ParameterTypeString)
	at := []aws.Option{aws.WithEndpoint(motoURL(t)), aws.WithRegion(region)}
	f := flow.New("by-name")
	secretName := flow.Parameter(f, "secret", flow.WithDefault(prefix+"/a"))
	paramName := flow.Parameter(f, "parameter", flow.WithDefault(""))
	sm := flow.Add(f, aws.SecretsManager(prefix+"/a", at...), flow.Bind("secret", secretName))
	pm := flow.Add(f, aws.ParametersManager("", at...), flow.Bind("parameter_name", paramName))
	fs, err := runner.Run(testContext(t), f, hermetic(t), withCreds("AKIDNAME"),
		runner.WithParameters(map[string]any{"secret": prefix + "/b", "parameter": prefix + "-b"}))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := runner.ResultOf(fs, sm); v.Reveal() != "from-b" {
		t.Errorf("SecretsManager read another secret than the one its input names")
	}
	if v, _ := runner.ResultOf(fs, pm); v.Reveal() != "param-b" {
		t.Errorf("ParametersManager read another parameter than the one its input names: %v", fs.Of(pm))
	}
}

func TestTaskFailures(t *testing.T) {
	// The SDK retries throttling, with backoff; once is enough to see it.
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	p := newProxy(t)
	prefix := unique()
	putSecret(t, prefix+"/binary", []byte(leak))
	at := []aws.Option{aws.WithEndpoint(p.URL), aws.WithRegion(region)}
	sm := func(name string, opts ...aws.Option) func(*flow.Flow) flow.Node[secrets.Value] {
		return func(f *flow.Flow) flow.Node[secrets.Value] {
			return flow.Add(f, aws.SecretsManager(name, append(at, opts...)...))
		}
	}
	pm := func(name string, opts ...aws.Option) func(*flow.Flow) flow.Node[secrets.Value] {
		return func(f *flow.Flow) flow.Node[secrets.Value] {
			return flow.Add(f, aws.ParametersManager(name, append(at, opts...)...))
		}
	}
	for _, c := range []struct {
		name  string
		add   func(*flow.Flow) flow.Node[secrets.Value]
		creds any
		is    error  // matched by the task's error
		code  string // the smithy.APIError the error wraps, if any
		says  []string
	}{
		{"NoSecretName", sm(""), creds("AKID"), secrets.ErrNoName, "", []string{"A secret name must be provided."}},
		{"NoParameterName", pm(""), creds("AKID"), aws.ErrNoParameterName, "", []string{"A parameter name must be provided."}},
		{"MissingSecret", sm(prefix + "/nope"), creds("AKID"), secrets.ErrNotFound, "ResourceNotFoundException",
			[]string{`secret "` + prefix + `/nope" is not in AWS Secrets Manager (us-east-1, endpoint ` + p.URL + `)`}},
		{"MissingParameter", pm(prefix + "-nope"), creds("AKID"), secrets.ErrNotFound, "ParameterNotFound",
			[]string{`parameter "` + prefix + `-nope" is not in AWS Systems Manager Parameter Store`}},
		{"SecretAccessDenied", sm(prefix + "/x"), creds("DENIED"), nil, "AccessDeniedException", []string{prefix + "/x"}},
		{"ParameterAccessDenied", pm(prefix + "-x"), creds("DENIED"), nil, "AccessDeniedException", []string{prefix + "-x"}},
		{"SecretExpiredToken", sm(prefix + "/x"), creds("EXPIRED"), nil, "ExpiredTokenException", []string{prefix + "/x"}},
		{"ParameterUnrecognizedClient", pm(prefix + "-x"), creds("UNRECOGNIZED"), nil, "UnrecognizedClientException", []string{prefix + "-x"}},
		{"SecretThrottled", sm(prefix + "/x"), creds("THROTTLED"), nil, "ThrottlingException", []string{prefix + "/x"}},
		{"BinarySecret", sm(prefix + "/binary"), creds("AKID"), aws.ErrBinarySecret, "", []string{"SecretBinary"}},
		{"CredentialsString", sm(prefix + "/x"), leak, aws.ErrBadCredentials, "",
			[]string{"secret AWS_CREDENTIALS", "ACCESS_KEY", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}},
		{"CredentialsWithoutAccessKey", pm(prefix + "-x"), map[string]any{"SECRET_ACCESS_KEY": secretKey}, aws.ErrBadCredentials, "",
			[]string{"secret AWS_CREDENTIALS has no ACCESS_KEY"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _ := runOne(t, c.add, runner.WithSecrets(map[string]any{"AWS_CREDENTIALS": c.creds}))
			if !st.IsFailed() {
				t.Fatalf("task: %v; want Failed", st)
			}
			err := st.Err
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("the error %v does not match %v", err, c.is)
			}
			if c.is == nil && errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("the failure %v matches ErrNotFound", err)
			}
			denied := c.code == "AccessDeniedException" || c.code == "ExpiredTokenException" || c.code == "UnrecognizedClientException"
			if errors.Is(err, secrets.ErrAccessDenied) != denied {
				t.Errorf("errors.Is(%v, secrets.ErrAccessDenied) = %v; want %v", err, !denied, denied)
			}
			var apiErr smithy.APIError
			if c.code != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != c.code) {
				t.Errorf("errors.As(%v, smithy.APIError) gives %v; want code %s", err, apiErr, c.code)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) || !strings.Contains(st.Message, s) {
					t.Errorf("the error %q (message %q) does not say %q", err, st.Message, s)
				}
			}
			for _, s := range []string{leak, secretKey} {
				if strings.Contains(err.Error(), s) || strings.Contains(st.Message, s) {
					t.Errorf("the task's failure shows a secret value or credential: %q", st.Message)
				}
			}
		})
	}
}

// The value a task reads is hidden in the run's logs, each field of a
// table too, even when a downstream task logs it on purpose.
func TestTaskValueIsMasked(t *testing.T) {
	prefix := unique()
	putSecret(t, prefix+"/db", map[string]any{"user": "admin", "password": leak})
	putParameter(t, prefix+"-token", leak+"-param", ssmtypes.ParameterTypeSecureString)
	at := []aws.Option{aws.WithEndpoint(motoURL(t)), aws.WithRegion(region)}

	type dbIn struct {
		DB    map[string]string `prefect:"db"`
		Token string            `prefect:"token"`
	}
	var logs bytes.Buffer
	f := flow.New("masked")
	db := flow.Add(f, aws.SecretsManager(prefix+"/db", at...))
	token := flow.Add(f, aws.ParametersManager(prefix+"-token", append(at, aws.WithDecryption(true))...))
	use := flow.Add(f, task.New("use", func(ctx context.Context, in dbIn) (int, error) {
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("connecting with password "+in.DB["password"]+" and token "+in.Token, "db", in.DB)
		return len(in.DB["password"]), nil
	}), flow.Bind("db", db), flow.Bind("token", token))
	fs, err := runner.Run(testContext(t), f, hermetic(t), withCreds("AKIDMASK"),
		runner.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := runner.ResultOf(fs, use); !fs.IsSuccessful() || n != len(leak) {
		t.Fatalf("flow %v; tasks %v", fs.State, fs.Tasks)
	}
	if strings.Contains(logs.String(), leak) {
		t.Errorf("the run's logs show a secret value (%d bytes of logs)", logs.Len())
	}
	if !strings.Contains(logs.String(), "connecting with password "+secrets.Redacted+" and token "+secrets.Redacted) {
		t.Errorf("the logs do not show the values masked:\n%s", logs.String())
	}
	for _, n := range []flow.Node[secrets.Value]{db, token} {
		if !fs.Graph.Tasks[n.ID()].Spec.Secret {
			t.Errorf("task %s's result is not marked secret", fs.Graph.Tasks[n.ID()].Spec.Name)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		spec *task.Spec
		says string
	}{
		{"DecryptionOnSecretsManager", aws.SecretsManager("x", aws.WithDecryption(true)).Spec(), "ParametersManager only"},
		{"EmptyRegion", aws.ParametersManager("x", aws.WithRegion("")).Spec(), "aws.WithRegion"},
		{"EmptyEndpoint", aws.SecretsManager("x", aws.WithEndpoint("")).Spec(), "aws.WithEndpoint"},
		{"EmptyCredentialsSecret", aws.SecretsManager("x", aws.WithCredentialsSecret("")).Spec(), "aws.WithCredentialsSecret"},
		{"NilOption", aws.SecretsManager("x", nil).Spec(), "nil Option"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.spec.Err == nil || !strings.Contains(c.spec.Err.Error(), c.says) {
				t.Errorf("Spec().Err = %v; want it to say %q", c.spec.Err, c.says)
			}
		})
	}
	spec := aws.SecretsManager("x", aws.WithTaskOptions(task.WithTags("aws"))).Spec()
	if spec.Err != nil || !spec.Secret || spec.Name != "AWSSecretsManager" || !slices.Contains(spec.Tags, "aws") {
		t.Errorf("spec: err %v, secret %v, name %q, tags %v; want no error, a secret result, Prefect's name and the tag", spec.Err, spec.Secret, spec.Name, spec.Tags)
	}
}

// A task registers what it read with the run's masker before returning
// it: the value, and the text it was decoded from, which may differ.
func TestTaskRegistersValueWithMasker(t *testing.T) {
	prefix := unique()
	raw := `{"password":  "` + leak + `"}` // decoding drops the spaces
	putSecret(t, prefix+"/spaced", raw)
	putParameter(t, prefix+"-p", leak+"-p", ssmtypes.ParameterTypeString)
	cfg, err := config.Load(config.WithEnv(nil), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	at := []aws.Option{aws.WithEndpoint(motoURL(t)), aws.WithRegion(region)}
	for _, c := range []struct {
		name string
		task task.Runnable
		want []string
	}{
		{"SecretsManager", aws.SecretsManager(prefix+"/spaced", at...), []string{raw, leak}},
		{"ParametersManager", aws.ParametersManager(prefix+"-p", at...), []string{leak + "-p"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var masked []string
			r := secrets.NewResolver(secrets.WithConfig(cfg),
				secrets.WithRunSecrets(map[string]any{"AWS_CREDENTIALS": creds("AKIDMASKER")}),
				secrets.OnResolve(func(v secrets.Value) { masked = append(masked, v.RevealAll()...) }))
			if _, err := c.task.Call(secrets.NewContext(testContext(t), r), []any{nil, nil}); err != nil {
				t.Fatal(err)
			}
			for i, w := range c.want {
				if !slices.Contains(masked, w) {
					t.Errorf("want %d (%d bytes) was not registered with the masker", i, len(w))
				}
			}
		})
	}
}

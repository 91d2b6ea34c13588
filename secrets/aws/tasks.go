package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
)

// Option configures [SecretsManager] and [ParametersManager]. A bad value
// (an empty name, an option the constructor does not take) never panics
// and is never ignored: the task records it in its Spec().Err, and the
// flow reports it when it is validated, as the tasks of package tasks do.
type Option func(*options)

type options struct {
	region, endpoint string
	credsSecret      string
	decrypt          bool
	taskOpts         []task.Option
	errs             []error
	decryptSet       bool
}

// WithRegion sets the AWS region; without it the SDK's applies
// (AWS_REGION, the profile's). Prefect's boto_kwargs region_name.
func WithRegion(region string) Option {
	return func(o *options) {
		if region == "" {
			o.errs = append(o.errs, errors.New("aws.WithRegion: the region is empty"))
		}
		o.region = region
	}
}

// WithEndpoint sends requests to url instead of AWS's own endpoint: a VPC
// endpoint, or a local imitation such as moto or LocalStack. Prefect's
// boto_kwargs endpoint_url.
func WithEndpoint(url string) Option {
	return func(o *options) {
		if url == "" {
			o.errs = append(o.errs, errors.New("aws.WithEndpoint: the URL is empty"))
		}
		o.endpoint = url
	}
}

// WithCredentialsSecret names the secret the task reads its credentials
// from when its credentials input is unbound; the default is
// AWS_CREDENTIALS, Prefect's.
func WithCredentialsSecret(name string) Option {
	return func(o *options) {
		if name == "" {
			o.errs = append(o.errs, errors.New("aws.WithCredentialsSecret: the name is empty"))
		}
		o.credsSecret = name
	}
}

// WithDecryption says whether [ParametersManager] reads a SecureString
// decrypted (Prefect's with_decryption). The default is false, as boto's
// get_parameter, which Prefect's task calls without it: a SecureString
// then comes back as its ciphertext.
func WithDecryption(on bool) Option {
	return func(o *options) { o.decrypt, o.decryptSet = on, true }
}

// WithTaskOptions passes options to task.New: retries, a timeout, tags.
func WithTaskOptions(opts ...task.Option) Option {
	return func(o *options) { o.taskOpts = append(o.taskOpts, opts...) }
}

func newOptions(opts []Option) *options {
	o := &options{credsSecret: DefaultCredentialsSecret}
	for _, opt := range opts {
		if opt == nil {
			o.errs = append(o.errs, errors.New("aws: a nil Option"))
			continue
		}
		opt(o)
	}
	return o
}

// taskOptions returns the options for task.New: a secret result, the
// caller's options, and every bad value recorded.
func (o *options) taskOptions() []task.Option {
	out := append([]task.Option{task.WithSecretResult()}, o.taskOpts...)
	for _, err := range o.errs {
		out = append(out, task.WithOptionError(err))
	}
	return out
}

// clientSettings resolves the credentials a run of the task uses: the
// credentials input when bound, else the secret the options name, read
// from the run's local secrets and the secret server only, never from a
// remote store (secrets.Credentials: another store's outage must not stop
// the task), else (the secret set nowhere) the SDK's default chain.
func (o *options) clientSettings(ctx context.Context, input secrets.Value) (clientSettings, error) {
	cs := clientSettings{region: o.region, endpoint: o.endpoint}
	var err error
	if !input.IsZero() {
		cs.creds, err = credentialsProvider(input, "the credentials input")
		return cs, err
	}
	v, err := secrets.Credentials(ctx, o.credsSecret)
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return cs, nil
	case err != nil:
		return cs, fmt.Errorf("reading AWS credentials from secret %s: %w", o.credsSecret, err)
	}
	cs.creds, err = credentialsProvider(v, "secret "+o.credsSecret)
	return cs, err
}

// SecretsManagerIn is the input of [SecretsManager]'s task, as the
// arguments of Prefect's AWSSecretsManager.run.
type SecretsManagerIn struct {
	// Secret, when set, is the secret to read instead of the task's own.
	Secret string `prefect:"secret,optional"`
	// Credentials, when bound (to tasks.PrefectSecret("AWS_CREDENTIALS"),
	// say), is a table with ACCESS_KEY, SECRET_ACCESS_KEY and optionally
	// SESSION_TOKEN, used instead of the credentials secret.
	Credentials secrets.Value `prefect:"credentials,optional"`
}

// SecretsManager returns a task that reads the secret called secret from
// AWS Secrets Manager, Prefect's AWSSecretsManager: its SecretString,
// decoded when it is JSON (a key/value secret gives a table), else the
// string itself. A secret stored as SecretBinary is an error matching
// [ErrBinarySecret]. The "secret" input overrides the name at run time;
// without either, the run fails with Prefect's "A secret name must be
// provided." ([secrets.ErrNoName]).
//
// The result is a secret (never checkpointed, hidden in the run's logs,
// states and errors). A secret AWS does not hold is an error matching
// [secrets.ErrNotFound]; other failures wrap the SDK's error, which
// errors.As reaches (a smithy.APIError, say).
//
// It takes [WithRegion], [WithEndpoint], [WithCredentialsSecret] and
// [WithTaskOptions].
func SecretsManager(secret string, opts ...Option) *task.Task[SecretsManagerIn, secrets.Value] {
	o := newOptions(opts)
	if o.decryptSet {
		o.errs = append(o.errs, errors.New("aws.WithDecryption applies to ParametersManager only, not SecretsManager"))
	}
	return task.New("AWSSecretsManager", func(ctx context.Context, in SecretsManagerIn) (secrets.Value, error) {
		name := secret
		if in.Secret != "" {
			name = in.Secret
		}
		if name == "" {
			return secrets.Value{}, secrets.ErrNoName
		}
		cs, err := o.clientSettings(ctx, in.Credentials)
		if err != nil {
			return secrets.Value{}, err
		}
		r, err := newSMReader(ctx, cs, "")
		if err != nil {
			return secrets.Value{}, err
		}
		raw, err := r.get(ctx, name)
		if err != nil {
			return secrets.Value{}, taskError(err, "secret", name, r.where)
		}
		return masked(ctx, raw, decodeJSON(raw)), nil
	}, o.taskOptions()...)
}

// ParametersManagerIn is the input of [ParametersManager]'s task, as the
// arguments of Prefect's AWSParametersManager.run.
type ParametersManagerIn struct {
	// ParameterName, when set, is the parameter to read instead of the
	// task's own.
	ParameterName string `prefect:"parameter_name,optional"`
	// Credentials: as [SecretsManagerIn]'s.
	Credentials secrets.Value `prefect:"credentials,optional"`
}

// ErrNoParameterName is Prefect's error for a parameter task without a
// parameter name.
var ErrNoParameterName = errors.New("A parameter name must be provided.")

// ParametersManager returns a task that reads the parameter called name
// from AWS Systems Manager Parameter Store, Prefect's AWSParametersManager:
// its value, as a string (never decoded). A SecureString is read
// decrypted only under WithDecryption(true). The "parameter_name" input
// overrides the name at run time; without either, the run fails with
// Prefect's "A parameter name must be provided." ([ErrNoParameterName]).
//
// The result and errors are as [SecretsManager]'s. It takes
// [WithDecryption] and the options SecretsManager takes.
func ParametersManager(name string, opts ...Option) *task.Task[ParametersManagerIn, secrets.Value] {
	o := newOptions(opts)
	return task.New("AWSParametersManager", func(ctx context.Context, in ParametersManagerIn) (secrets.Value, error) {
		n := name
		if in.ParameterName != "" {
			n = in.ParameterName
		}
		if n == "" {
			return secrets.Value{}, ErrNoParameterName
		}
		cs, err := o.clientSettings(ctx, in.Credentials)
		if err != nil {
			return secrets.Value{}, err
		}
		r, err := newSSMReader(ctx, cs, "", o.decrypt)
		if err != nil {
			return secrets.Value{}, err
		}
		raw, err := r.get(ctx, n)
		if err != nil {
			return secrets.Value{}, taskError(err, "parameter", n, r.where)
		}
		return masked(ctx, raw, raw), nil
	}, o.taskOptions()...)
}

// masked registers a value read with the run's masker before any task
// can see it, its raw text too when decoding changed it ("1e3" is 1000),
// and returns it as a Value. The Value's RevealAll covers each string of
// a table, so every field of a key/value secret is hidden as well.
func masked(ctx context.Context, raw string, v any) secrets.Value {
	if s, ok := v.(string); !ok || s != raw {
		secrets.Mask(ctx, secrets.NewValue(raw))
	}
	out := secrets.NewValue(v)
	secrets.Mask(ctx, out)
	return out
}

// taskError words a reader's error for a task's run: a name AWS does not
// hold matches secrets.ErrNotFound and still wraps AWS's error.
func taskError(err error, what, name, where string) error {
	if errors.As(err, new(errNotHeld)) {
		return fmt.Errorf("%s %q is not in %s: %w: %w", what, name, where, secrets.ErrNotFound, errors.Unwrap(err))
	}
	return err
}

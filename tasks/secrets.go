// Package tasks holds ready-made tasks: the secret tasks of Prefect 1
// (PrefectSecret, EnvVarSecret) and tasks that use them.
//
// The pattern Prefect recommends, and this package follows: a secret is a
// task node whose result feeds the tasks that need it, as an input. The
// tasks that use credentials never load them themselves, so a flow shows
// where each secret goes, and a test can pass any value in.
//
//	f := flow.New("report")
//	token := flow.Add(f, tasks.PrefectSecret("GITHUB_TOKEN"))
//	flow.Add(f, publish, flow.Bind("token", token))
//
// A secret task's result is a secrets.Value: it prints as ********, it is
// never checkpointed or cached, and a restart fetches it again. The run
// resolves each secret once, however many tasks (or mapped children) use it,
// and hides its value in every log record, state and error of the run.
//
// Prefect's secret tasks for remote stores live in packages of their own,
// so that a program links a store's SDK only when it uses the store:
// VaultSecret is vault.Secret (package secrets/vault); AWSSecretsManager
// and AWSParametersManager are aws.SecretsManager and aws.ParametersManager
// (package secrets/aws).
//
// # Options
//
// The constructors take options named With*; each option's doc says which
// constructors take it. A bad option value (a nil function or client, a
// limit that is not positive, an empty name, an option the constructor does
// not take) never panics and is never ignored, the rule of package task: the
// task records it in its Spec().Err, and the flow reports it, naming the
// task, the option and what is valid, when it is validated (Flow.Validate,
// or runner.Run before anything runs).
package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
)

// SecretIn is the input of a secret task: the secret's name, when it is
// given at run time instead of when the task is made (bind it to a flow
// parameter, say).
type SecretIn struct {
	// Name, when set, is the secret to resolve instead of the task's own.
	Name string `prefect:"name,optional"`
}

// PrefectSecret returns a task that resolves the secret called name at run
// time (see package secrets for where it looks). The task is named after
// the secret, or "PrefectSecret" when name is empty; then the name must be
// bound to its "name" input, which also overrides a name given here.
// Running it without a name fails with Prefect's `A secret name must be
// provided.`
func PrefectSecret(name string, opts ...task.Option) *task.Task[SecretIn, secrets.Value] {
	return secretTask(name, "PrefectSecret", func(ctx context.Context, n string) (secrets.Value, error) {
		return secrets.Secret(n).Get(ctx)
	}, opts)
}

// secretTask makes a secret task named after its secret (or fallback) whose
// name its "name" input can override, which resolves the name with get.
func secretTask(name, fallback string, get func(ctx context.Context, name string) (secrets.Value, error), opts []task.Option) *task.Task[SecretIn, secrets.Value] {
	taskName := name
	if taskName == "" {
		taskName = fallback
	}
	return task.New(taskName, func(ctx context.Context, in SecretIn) (secrets.Value, error) {
		n := name
		if in.Name != "" {
			n = in.Name
		}
		if n == "" {
			return secrets.Value{}, secrets.ErrNoName
		}
		return get(ctx, n)
	}, append([]task.Option{task.WithSecretResult()}, opts...)...)
}

// ErrEnvVarNotSet is matched by the error for a missing variable under
// WithRaiseIfMissing.
var ErrEnvVarNotSet = errors.New("Environment variable not set")

// EnvVarSecret returns a task that reads the environment variable called
// name, Prefect's EnvVarSecret: the value is taken as it is (no coercion, no
// JSON decoding) and hidden in the run's output like any secret. The name
// can be overridden at run time through the "name" input.
//
// It takes [WithCast], [WithRaiseIfMissing] and [WithTaskOptions].
func EnvVarSecret(name string, opts ...Option) *task.Task[SecretIn, secrets.Value] {
	o := newOptions(forEnvVar, opts)
	return secretTask(name, "EnvVarSecret", func(ctx context.Context, n string) (secrets.Value, error) {
		raw, ok := os.LookupEnv(n)
		if !ok {
			if o.raise {
				return secrets.Value{}, fmt.Errorf("%w: %s", ErrEnvVarNotSet, n)
			}
			return secrets.Value{}, nil
		}
		// Register the text before casting: a cast error may quote it.
		secrets.Mask(ctx, secrets.NewValue(raw))
		var v any = raw
		if o.cast != nil {
			var err error
			if v, err = o.cast(raw); err != nil {
				return secrets.Value{}, fmt.Errorf("casting environment variable %s: %w", n, err)
			}
		}
		out := secrets.NewValue(v)
		secrets.Mask(ctx, out)
		return out, nil
	}, o.taskOptions())
}

package agent

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/envflag"
	"github.com/prefect-go/prefect/internal/python"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
)

// ErrInvalidEnv is matched (errors.Is) by the errors of [ParseEnv] and of
// [WithEnv]: a usage error, to be reported with the command's usage.
var ErrInvalidEnv = envflag.ErrInvalid

// ParseEnv parses --env entries as Prefect 1's agents do: each entry is
// split at its first '=' (K=A=B sets K to "A=B"), and a later entry for the
// same name replaces an earlier one. An entry without '=' (quoted: it has
// no value), with an empty name or with a NUL byte (named, its value not
// shown) is an error matching [ErrInvalidEnv]; every bad entry is
// reported, not only the first.
func ParseEnv(entries []string) (map[string]string, error) { return envflag.Parse(entries) }

// ConfigEnv returns the configuration's cloud.agent.env_vars: the
// environment Prefect 1's agents put in every flow run when they are given
// no --env (`env_vars or config.cloud.agent.env_vars`), set as a table
//
//	[cloud.agent.env_vars]
//	DB_HOST = "db.internal"
//
// or as PREFECT__CLOUD__AGENT__ENV_VARS='{"DB_HOST": "db.internal"}'. A
// number or bool is written as Python's str() writes it ("8080", "True"),
// where Prefect would fail when it starts the run; a table or list, or a
// name or value a process environment cannot hold, is an error naming it
// (never its value). An absent or empty table gives nil.
func ConfigEnv(cfg *config.Config) (map[string]string, error) {
	const key = "cloud.agent.env_vars"
	v, ok := cfg.Get(key)
	if !ok || v == nil {
		return nil, nil
	}
	table, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s is %s; it must be a table of names and values, such as {\"DB_HOST\": \"db.internal\"}", ErrInvalidEnv, key, config.Kind(v))
	}
	env := make(map[string]string, len(table))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(table)) {
		switch val := table[name].(type) {
		case string:
			env[name] = val
		case map[string]any, []any, nil:
			errs = append(errs, fmt.Errorf("%w: %s.%s is %s; an environment value must be a string", ErrInvalidEnv, key, name, config.Kind(val)))
		default:
			text, err := python.Str(val)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s.%s cannot be written as text: %w", ErrInvalidEnv, key, name, err))
				continue
			}
			env[name] = text
		}
	}
	if err := errors.Join(append(errs, checkEnv(env))...); err != nil {
		return nil, err
	}
	if len(env) == 0 {
		return nil, nil
	}
	return env, nil
}

// ConfigLabels returns the configuration's cloud.agent.labels: the labels
// Prefect 1's agents take when they are given no --label (`labels or
// config.cloud.agent.labels`), a list of strings, in TOML or as the text of
// a Python list (PREFECT__CLOUD__AGENT__LABELS='["gpu", "eu"]'; the
// default is "[]"). Anything else is an error naming it.
func ConfigLabels(cfg *config.Config) ([]string, error) {
	const key = "cloud.agent.labels"
	v, ok := cfg.Get(key)
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %s; it must be a list of labels, such as [\"gpu\", \"eu\"]", key, config.Kind(v))
	}
	labels := make([]string, 0, len(list))
	for i, l := range list {
		s, ok := l.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s[%d] is %s; a label must be a non-empty string", key, i, describe(l))
		}
		labels = append(labels, s)
	}
	return labels, nil
}

// describe names a configuration value for an error: a string or number
// as it is (labels are not secrets), anything else by its kind.
func describe(v any) string {
	switch v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return config.Kind(v)
}

// checkEnv reports names a process environment cannot hold.
func checkEnv(env map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(env[k], 0) >= 0 {
			errs = append(errs, fmt.Errorf("%w: %q cannot be set: names must be non-empty without '=' or NUL, values without NUL", ErrInvalidEnv, k))
		}
	}
	return errors.Join(errs...)
}

// The variables BuildEnv sets.
const (
	envLoggingLevel    = "PREFECT__LOGGING__LEVEL"
	envBackend         = "PREFECT__BACKEND"
	envUseLocalSecrets = "PREFECT__CLOUD__USE_LOCAL_SECRETS"
	envFlowRunID       = "PREFECT__CONTEXT__FLOW_RUN_ID"
	envFlowID          = "PREFECT__CONTEXT__FLOW_ID"
	envSecretsPrefix   = "PREFECT__CONTEXT__SECRETS__"
)

// BuildEnv returns the environment of a flow run's process, as Prefect 1's
// local agent builds it. Sources, later wins:
//
//  1. agentEnv, the agent's own environment (os.Environ());
//  2. PREFECT__LOGGING__LEVEL=loggingLevel, unless loggingLevel is "";
//  3. flags, the agent's --env values;
//  4. run.Env, the flow's run-config environment and the run's own;
//  5. the values the agent always sets, then forced (from the CLI: API URL
//     and key, tenant, ...), forced winning: PREFECT__BACKEND=cloud,
//     PREFECT__CLOUD__USE_LOCAL_SECRETS=false,
//     PREFECT__CONTEXT__FLOW_RUN_ID=run.ID and
//     PREFECT__CONTEXT__FLOW_ID=run.FlowName (we have no flow IDs).
//
// Prefect drops the variables whose final value is None; in Go a forced
// value of "" stands for None: the variable is left out whatever the lower
// sources said (Prefect 1 so removes PREFECT__CLOUD__TENANT_ID when it has
// no key). An empty value from sources 1 to 4 is kept, set and empty.
//
// The result is sorted, so that equal inputs give equal output. A variable
// PREFECT__CONTEXT__SECRETS__X in it becomes a local secret of the run,
// found before any API lookup.
func BuildEnv(agentEnv []string, loggingLevel string, flags map[string]string, run FlowRun, forced map[string]string) []string {
	env := make(map[string]string, len(agentEnv)+len(flags)+len(run.Env)+8)
	for _, kv := range agentEnv {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	if loggingLevel != "" {
		env[envLoggingLevel] = loggingLevel
	}
	maps.Copy(env, flags)
	maps.Copy(env, run.Env)
	top := map[string]string{
		envBackend:         "cloud",
		envUseLocalSecrets: "false",
		envFlowRunID:       run.ID,
		envFlowID:          run.FlowName,
	}
	maps.Copy(top, forced)
	for k, v := range top {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// envNames returns the names of env's KEY=VALUE entries, for logs.
func envNames(env []string) []string {
	names := make([]string, len(env))
	for i, kv := range env {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	return names
}

// newMasker returns a masker for what a flow-run process with environment
// env may print: the values of sensitive variables, and every secret and
// the API key of the Prefect configuration the process will load from env
// (context.secrets from PREFECT__CONTEXT__SECRETS__* and from the config
// file it points to, decoded as the run decodes them, table by table).
func newMasker(env []string) *redact.Masker {
	m := redact.New()
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); secrets.SensitiveName(k) {
			addSecret(m, v)
		}
	}
	// A configuration that does not load leaves the process without these
	// secrets too; the raw values above are masked all the same.
	if cfg, err := config.Load(config.WithEnv(env)); err == nil {
		for _, v := range cfg.Secrets() {
			for _, s := range secrets.NewValue(v).RevealAll() {
				addSecret(m, s)
			}
		}
		addSecret(m, cfg.String("cloud.api_key"))
	}
	return m
}

// addSecret registers s with m, and the values inside s when it is a JSON
// table or list (secrets.Pieces).
func addSecret(m *redact.Masker, s string) {
	for _, p := range secrets.Pieces(s) {
		m.Add(p)
	}
}

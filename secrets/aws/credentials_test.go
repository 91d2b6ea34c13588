package aws_test

import (
	"encoding/json"
	"testing"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets/aws"
)

// A task's credentials are the run's own, never a remote store's: with a
// store in secrets.sources that cannot be reached, a task finds its
// credentials in the context's secrets, or, without them, falls back to
// the SDK's default chain, without asking the store.
func TestTaskCredentialsNotFromStores(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	prefix := unique()
	putSecret(t, prefix+"/s", "v1234")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	credsJSON, err := json.Marshal(creds("AKIDCONTEXT"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		env  []string
		want string // the access key that signs
	}{
		{"ContextSecret", []string{"PREFECT__CONTEXT__SECRETS__AWS_CREDENTIALS=" + string(credsJSON)}, "AKIDCONTEXT"},
		{"DefaultChain", nil, "AKIDENV"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newProxy(t)
			cfg, err := config.Load(config.WithHome(t.TempDir()), config.WithEnv(append([]string{
				// A store nothing listens for.
				`PREFECT__SECRETS__SOURCES=["aws_parameter_store"]`,
				"PREFECT__SECRETS__AWS_PARAMETER_STORE__ENDPOINT=http://127.0.0.1:1",
				"PREFECT__SECRETS__AWS_PARAMETER_STORE__REGION=" + region,
			}, c.env...)))
			if err != nil {
				t.Fatal(err)
			}
			f := flow.New("aws")
			n := flow.Add(f, aws.SecretsManager(prefix+"/s", aws.WithEndpoint(p.URL), aws.WithRegion(region)))
			fs, err := runner.Run(testContext(t), f, runner.WithConfig(cfg))
			if err != nil {
				t.Fatal(err)
			}
			st := fs.Of(n)
			v, _ := runner.ResultOf(fs, n)
			if !st.IsSuccessful() || v.Reveal() != "v1234" {
				t.Fatalf("task: %v (%v)", st, st.Err)
			}
			if keys := p.Keys(); len(keys) != 1 || keys[0] != c.want {
				t.Errorf("requests signed with %v; want %s", keys, c.want)
			}
		})
	}
}

package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

type pwIn struct {
	Password string `prefect:"password"`
}

// A run whose configuration lists a store in secrets.sources finds a
// secret it does not hold there, with the credentials of its local secret
// AWS_CREDENTIALS, and masks it in its logs.
func TestStoresServeARun(t *testing.T) {
	for _, c := range []struct {
		kind, table, prefix string
		put                 func(t testing.TB, name string)
	}{
		{"aws_secrets_manager", "AWS_SECRETS_MANAGER", unique() + "/",
			func(t testing.TB, name string) { putSecret(t, name, leak) }},
		{"aws_parameter_store", "AWS_PARAMETER_STORE", "/" + unique() + "/",
			func(t testing.TB, name string) { putParameter(t, name, leak, ssmtypes.ParameterTypeSecureString) }},
	} {
		t.Run(c.kind, func(t *testing.T) {
			p := newProxy(t)
			c.put(t, c.prefix+"DB_PASSWORD")
			credsJSON, _ := json.Marshal(creds("AKIDRUN"))
			cfg, err := config.Load(config.WithHome(t.TempDir()), config.WithEnv([]string{
				`PREFECT__SECRETS__SOURCES=["` + c.kind + `"]`,
				"PREFECT__SECRETS__" + c.table + "__ENDPOINT=" + p.URL,
				"PREFECT__SECRETS__" + c.table + "__REGION=" + region,
				"PREFECT__SECRETS__" + c.table + "__PREFIX=" + c.prefix,
				"PREFECT__CONTEXT__SECRETS__AWS_CREDENTIALS=" + string(credsJSON),
			}))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			f := flow.New("from-aws")
			pw := flow.Add(f, tasks.PrefectSecret("DB_PASSWORD"))
			use := flow.Add(f, task.New("use", func(ctx context.Context, in pwIn) (bool, error) {
				rc, _ := runner.FromContext(ctx)
				rc.Logger().Info("connecting with " + in.Password)
				return in.Password == leak, nil
			}), flow.Bind("password", pw))
			fs, err := runner.Run(context.Background(), f, runner.WithConfig(cfg),
				runner.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := runner.ResultOf(fs, use); !ok {
				t.Fatalf("the task did not get the value from %s: flow %v, secret task %v", c.kind, fs.State, fs.Of(pw))
			}
			if strings.Contains(logs.String(), leak) || !strings.Contains(logs.String(), "connecting with "+secrets.Redacted) {
				t.Errorf("the run's logs do not hide the value (%d bytes)", logs.Len())
			}
			if keys := p.Keys(); len(keys) != 1 || keys[0] != "AKIDRUN" {
				t.Errorf("requests signed with %v; want one, with AWS_CREDENTIALS's key", keys)
			}
		})
	}
}

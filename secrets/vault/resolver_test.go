package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

type pwIn struct {
	Password string `prefect:"password"`
}

// A run whose configuration lists "vault" in secrets.sources finds a
// secret it does not hold in Vault, logging in with AppRole credentials
// from its local secrets, and masks it in its logs.
func TestStoreServesARun(t *testing.T) {
	srv := baotest.Start(t)
	p := prefix()
	if _, err := srv.Client(t).KVv2("secret").Put(t.Context(), p+"/DB_PASSWORD", map[string]any{"value": leak}); err != nil {
		t.Fatal(err)
	}
	srv.Policy(t, "run", `path "secret/data/`+p+`/*" { capabilities = ["read"] }`)
	roleID, secretID := srv.AppRole(t, "run", "run")
	creds, _ := json.Marshal(map[string]string{"VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID})
	cfg, err := config.Load(config.WithHome(t.TempDir()), config.WithEnv([]string{
		`PREFECT__SECRETS__SOURCES=["vault"]`,
		"PREFECT__SECRETS__VAULT__ADDRESS=" + srv.Addr,
		"PREFECT__SECRETS__VAULT__PATH=" + p,
		"PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS=" + string(creds),
	}))
	if err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	f := flow.New("from-vault")
	pw := flow.Add(f, tasks.PrefectSecret("DB_PASSWORD"))
	use := flow.Add(f, task.New("use", func(ctx context.Context, in pwIn) (bool, error) {
		rc, _ := runner.FromContext(ctx)
		rc.Logger().Info("connecting with " + in.Password)
		return in.Password == leak, nil
	}), flow.Bind("password", pw))
	fs, err := runner.Run(context.Background(), f, runner.WithConfig(cfg),
		runner.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	if !fs.IsSuccessful() {
		t.Fatalf("flow %v; secret task %v (%v)", fs.State, fs.Of(pw), fs.Of(pw).Err)
	}
	if ok, _ := runner.ResultOf(fs, use); !ok {
		t.Errorf("the task was not given the secret in Vault")
	}
	for what, s := range map[string]string{"the secret's value": leak, "the secret_id": secretID} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the run's logs show %s", what)
		}
	}
	if !strings.Contains(logs.String(), "connecting with ********") {
		t.Errorf("the run's logs do not show the value masked:\n%s", logs.String())
	}
}

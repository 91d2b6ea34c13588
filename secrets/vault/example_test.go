package vault_test

import (
	"context"
	"fmt"
	"log"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/vault"
	"github.com/prefect-go/prefect/task"
)

type connectIn struct {
	DB map[string]any `prefect:"db"`
}

// A flow reads the KV v2 secret app/db from the mount secret/ of the Vault
// at $VAULT_ADDR, logging in with AppRole, and hands its table to the task
// that connects. It needs a Vault, so it is compiled, not run: see the
// package's tests, which run the same against OpenBao.
func ExampleSecret() {
	f := flow.New("nightly-report")
	db := flow.Add(f, vault.Secret("secret/app/db"))
	flow.Add(f, task.New("connect", func(ctx context.Context, in connectIn) (string, error) {
		// in.DB["password"] is the value; the run's logs show it as ********.
		return fmt.Sprintf("%v@%v", in.DB["user"], in.DB["host"]), nil
	}), flow.Bind("db", db))

	fs, err := runner.Run(context.Background(), f, runner.WithSecrets(map[string]any{
		// Usually set in ~/.prefect/config.toml's [context.secrets] or
		// as PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS, not in code.
		"VAULT_CREDENTIALS": map[string]any{"VAULT_ROLE_ID": "…", "VAULT_SECRET_ID": "…"},
	}))
	if err != nil {
		log.Fatal(err)
	}
	v, _ := runner.ResultOf(fs, db)
	fmt.Println(fs.State, v) // the value prints as ********
}

// The store: a program that imports the package can have its runs ask
// Vault for the secrets they do not hold themselves, with secrets.sources
// and [secrets.vault] in its configuration; a task then asks by name as
// for any secret. Secret DB_PASSWORD is the KV v2 secret
// secret/prefect/DB_PASSWORD, written with
// `bao kv put secret/prefect/DB_PASSWORD value=…`.
func Example_store() {
	ctx := context.Background() // a task's context, in a run
	pw, err := secrets.Secret("DB_PASSWORD").Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pw) // ********
}

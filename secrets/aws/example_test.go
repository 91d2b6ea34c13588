package aws_test

import (
	"context"
	"fmt"
	"log"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/aws"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

type dbConfig struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type migrateIn struct {
	DB dbConfig `prefect:"db"`
}

// A key/value secret of AWS Secrets Manager feeds the task that needs it,
// decoded into the struct its input asks for. The credentials come from
// the secret AWS_CREDENTIALS, bound here explicitly; left unbound, the
// task would read that secret itself, or use the SDK's default chain.
// (It needs AWS, or an imitation at the endpoint: it is compiled, not run.)
func ExampleSecretsManager() {
	migrate := task.New("migrate", func(ctx context.Context, in migrateIn) (string, error) {
		return "migrated as " + in.DB.User, nil
	})
	f := flow.New("nightly")
	creds := flow.Add(f, tasks.PrefectSecret("AWS_CREDENTIALS"))
	db := flow.Add(f, aws.SecretsManager("prod/db", aws.WithRegion("us-east-1"), aws.WithEndpoint("http://127.0.0.1:5000")),
		flow.Bind("credentials", creds))
	done := flow.Add(f, migrate, flow.Bind("db", db))

	fs, err := runner.Run(context.Background(), f, runner.WithSecrets(map[string]any{
		"AWS_CREDENTIALS": map[string]any{"ACCESS_KEY": "AKID", "SECRET_ACCESS_KEY": "..."},
	}))
	if err != nil {
		log.Fatal(err)
	}
	v, _ := runner.ResultOf(fs, db)
	msg, _ := runner.ResultOf(fs, done)
	fmt.Println(v)   // ********
	fmt.Println(msg) // migrated as admin
}

// A SecureString parameter, read decrypted; its name is given when the
// flow runs, through the task's parameter_name input.
func ExampleParametersManager() {
	f := flow.New("deploy")
	name := flow.Parameter(f, "token_parameter", flow.WithDefault("/prod/api-token"))
	token := flow.Add(f, aws.ParametersManager("", aws.WithDecryption(true)),
		flow.Bind("parameter_name", name))
	fs, err := runner.Run(context.Background(), f)
	if err != nil {
		log.Fatal(err)
	}
	v, _ := runner.ResultOf(fs, token)
	fmt.Println(v) // ********
}

// A program that imports the package can consult Secrets Manager for any
// secret, through the configuration; OpenSecretsManager is what the
// resolver calls, shown here on its own.
func ExampleOpenSecretsManager() {
	src, err := aws.OpenSecretsManager(context.Background(), secrets.StoreSettings{
		Kind:     aws.SecretsManagerStore,
		Settings: map[string]any{"region": "us-east-1", "prefix": "prod/"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(src)                                          // AWS Secrets Manager (us-east-1, prefix prod/)
	v, err := src.Lookup(context.Background(), "DB_PASSWORD") // prod/DB_PASSWORD
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(secrets.NewValue(v)) // ********
}

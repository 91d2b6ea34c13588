// Command vault runs a flow whose task needs two secrets kept where teams
// keep them: a database password in HashiCorp Vault (or OpenBao) and an
// API token in AWS Secrets Manager. Two secret tasks, Prefect 1's
// VaultSecret (vault.Secret) and AWSSecretsManager (aws.SecretsManager),
// read them when the flow runs and pass them, as inputs, to the task that
// connects; that task never loads a secret itself, and the values never
// show (it logs them, and the log shows ********).
//
// To try it on one machine, start an OpenBao dev server (the build in
// shared/tools/openbao, beside the module) and moto, AWS's emulator
// (pip install 'moto[server]'), both on loopback, store the two secrets,
// and run the command, from the module's root:
//
//	xz -dc ../shared/tools/openbao/bao-2.5.5-linux-amd64.xz > /tmp/bao && chmod +x /tmp/bao
//	/tmp/bao server -dev -dev-root-token-id=root -dev-listen-address=127.0.0.1:8200 &
//	moto_server -H 127.0.0.1 -p 5000 &
//
//	export VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root
//	/tmp/bao kv put secret/app/db user=app password=db-pa55w0rd
//	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url http://127.0.0.1:5000 \
//	  --region us-east-1 secretsmanager create-secret --name app/api-token --secret-string tok-3f9a1c
//
//	export PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS='{"VAULT_TOKEN": "root"}'
//	export PREFECT__CONTEXT__SECRETS__AWS_CREDENTIALS='{"ACCESS_KEY": "testing", "SECRET_ACCESS_KEY": "testing"}'
//	go run ./examples/vault --aws-endpoint http://127.0.0.1:5000
//
// It prints each task's final state and "connected with a 11-character
// password and a 10-character token"; the log shows both as ********. Stop
// the two servers with kill %1 %2. Without the aws command line, curl
// stores the AWS secret as well:
//
//	curl -s http://127.0.0.1:5000/ -H 'X-Amz-Target: secretsmanager.CreateSecret' \
//	  -H 'Content-Type: application/x-amz-json-1.1' \
//	  -H 'Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0' \
//	  -d '{"Name": "app/api-token", "SecretString": "tok-3f9a1c"}'
//
// The Vault secret is secret/app/db (KV v2, with a "password" key) and the
// AWS one app/api-token; --db-path and --token-id read others. Without
// --aws-endpoint the task asks AWS itself, in --region.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/secrets/aws"
	"github.com/prefect-go/prefect/secrets/vault"
	"github.com/prefect-go/prefect/task"
)

// dbCredentials is the Vault secret's data, decoded from its table.
type dbCredentials struct {
	Password string `json:"password"`
}

// connectIn is the input of the task that needs both secrets.
type connectIn struct {
	DB    dbCredentials `prefect:"db"`
	Token string        `prefect:"token"`
}

var connect = task.New("connect", func(ctx context.Context, in connectIn) (string, error) {
	rc, _ := runner.FromContext(ctx)
	// Logged by mistake: the log shows ********.
	rc.Logger().Info("connecting", "password", in.DB.Password, "token", in.Token)
	if in.DB.Password == "" || in.Token == "" {
		return "", errors.New("a credential is empty")
	}
	return fmt.Sprintf("connected with a %d-character password and a %d-character token", len(in.DB.Password), len(in.Token)), nil
})

const usage = `usage: vault [--db-path MOUNT/PATH] [--token-id ID] [--aws-endpoint URL] [--region R]

Runs a flow that reads a database password from Vault ($VAULT_ADDR, with the
secret VAULT_CREDENTIALS) and an API token from AWS Secrets Manager (with
the secret AWS_CREDENTIALS, else AWS's default credentials), passes both to
a task, and prints every task's final state.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, apart from the process: it returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("vault", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	dbPath := fl.String("db-path", "secret/app/db", "the KV v2 secret holding the database password")
	tokenID := fl.String("token-id", "app/api-token", "the Secrets Manager secret holding the API token")
	endpoint := fl.String("aws-endpoint", "", "the AWS endpoint (moto's URL); empty for AWS itself")
	region := fl.String("region", "us-east-1", "the AWS region")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "vault: %v\n%s", err, usage)
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "vault: unexpected argument %q\n%s", fl.Arg(0), usage)
		return 2
	}
	awsOpts := []aws.Option{aws.WithRegion(*region)}
	if *endpoint != "" {
		awsOpts = append(awsOpts, aws.WithEndpoint(*endpoint))
	}

	f := flow.New("vault-example")
	db := flow.Add(f, vault.Secret(*dbPath))
	token := flow.Add(f, aws.SecretsManager(*tokenID, awsOpts...))
	conn := flow.Add(f, connect, flow.Bind("db", db), flow.Bind("token", token))

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	fs, err := runner.Run(ctx, f, runner.WithLogger(logger))
	if err != nil {
		fmt.Fprintf(stderr, "vault: %v\n", err)
		return 1
	}
	for i, gt := range fs.Graph.Tasks {
		fmt.Fprintf(stdout, "%-16s %v\n", gt.Slug, fs.Tasks[i])
	}
	fmt.Fprintf(stdout, "\nflow %s: %v\n", fs.FlowName, fs.State)
	if out, ok := runner.ResultOf(fs, conn); ok {
		fmt.Fprintln(stdout, out)
	}
	if !fs.IsSuccessful() {
		return 1
	}
	return 0
}

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/internal/mototest"
	"github.com/prefect-go/prefect/internal/testwait"
)

func TestMain(m *testing.M) {
	baotest.Main(m) // checks for leaked goroutines
}

// TestExample runs the command against a real OpenBao and a real moto:
// the connecting task gets both secrets, and neither shows in what the
// command prints or logs.
func TestExample(t *testing.T) {
	const (
		password = "db-p4ssw0rd-from-openbao"
		token    = "api-t0ken-from-secrets-manager"
	)
	bao := baotest.Start(t)
	ctx := testwait.Context(t)
	if _, err := bao.Client(t).KVv2("secret").Put(ctx, "app/db", map[string]any{"password": password}); err != nil {
		t.Fatalf("writing the Vault secret: %v", err)
	}
	moto, err := mototest.Start(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but there is no moto server: %v", err)
		}
		t.Skipf("no moto server: %v", err)
	}
	t.Cleanup(func() {
		if err := moto.Stop(); err != nil {
			t.Error(err)
		}
	})
	sm := secretsmanager.NewFromConfig(awssdk.Config{
		Region: "us-east-1",
		Credentials: awssdk.CredentialsProviderFunc(func(context.Context) (awssdk.Credentials, error) {
			return awssdk.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		}),
	}, func(o *secretsmanager.Options) { o.BaseEndpoint = awssdk.String(moto.URL) })
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("app/api-token"), SecretString: awssdk.String(token)}); err != nil {
		t.Fatalf("creating the AWS secret: %v", err)
	}

	t.Setenv("HOME", t.TempDir()) // no user configuration
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("VAULT_ADDR", bao.Addr)
	t.Setenv("PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS", `{"VAULT_TOKEN": "`+bao.Token+`"}`)
	t.Setenv("PREFECT__CONTEXT__SECRETS__AWS_CREDENTIALS", `{"ACCESS_KEY": "testing", "SECRET_ACCESS_KEY": "testing"}`)

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--aws-endpoint", moto.URL}, &stdout, &stderr)
	out, logs := stdout.String(), stderr.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, logs)
	}
	want := "connected with a 24-character password and a 30-character token"
	if !strings.Contains(out, want) || !strings.Contains(out, `flow vault-example: <Success: "All reference tasks succeeded.">`) {
		t.Errorf("stdout lacks %q and the flow's success:\n%s", want, out)
	}
	if !strings.Contains(logs, "password=******** token=********") {
		t.Errorf("the task's log line does not show both secrets masked:\n%s", logs)
	}
	for _, v := range []string{password, token, bao.Token + `"`} {
		if strings.Contains(out, v) || strings.Contains(logs, v) {
			t.Errorf("a secret shows in the output:\nstdout:\n%s\nstderr:\n%s", out, logs)
		}
	}

	// Without the Vault credentials the Vault task fails with Prefect's
	// message, naming the secret, and the command exits 1.
	t.Setenv("PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS", "")
	os.Unsetenv("PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS")
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"--aws-endpoint", moto.URL}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "VAULT_CREDENTIALS") {
		t.Errorf("without VAULT_CREDENTIALS: exit %d; want 1 and a message naming the secret:\n%s", code, stdout.String())
	}
}

// The command's doc holds the commands that set the example up, rather
// than pointing to a walkthrough elsewhere.
func TestDocHasTheCommands(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(src), "package main")
	for _, want := range []string{
		"server -dev -dev-root-token-id=root -dev-listen-address=127.0.0.1:8200",
		"moto_server -H 127.0.0.1 -p 5000",
		"kv put secret/app/db",
		"secretsmanager create-secret --name app/api-token",
		"export VAULT_ADDR=http://127.0.0.1:8200",
		"export PREFECT__CONTEXT__SECRETS__VAULT_CREDENTIALS=",
		"export PREFECT__CONTEXT__SECRETS__AWS_CREDENTIALS=",
		"go run ./examples/vault --aws-endpoint http://127.0.0.1:5000",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the doc does not show %q", want)
		}
	}
	if strings.Contains(doc, "README") {
		t.Errorf("the doc points to the README instead of holding the commands")
	}
}

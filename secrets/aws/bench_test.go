package aws_test

import (
	"context"
	"testing"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/aws"
	"github.com/prefect-go/prefect/secrets/secretstest"
)

// The stores against moto on loopback, uncached, behind a warm cache, and
// with 10,000 askers at once (one call to moto): lookups/s, p99 and store
// calls (secretstest.Bench). moto (Python, a thread per request) is much
// slower than AWS; what the uncached figures show is that a lookup is one
// round trip, and the cached ones what the cache saves.
//
//	go test -run '^$' -bench Lookup -benchtime=2s ./secrets/aws/
func BenchmarkSecretsManagerLookup(b *testing.B) {
	prefix := unique() + "/"
	putSecret(b, prefix+"DB", map[string]any{"user": "u", "password": leak})
	src, err := aws.OpenSecretsManager(context.Background(), secrets.StoreSettings{Kind: aws.SecretsManagerStore,
		Settings: map[string]any{"region": region, "endpoint": motoURL(b), "prefix": prefix}, Credentials: secrets.NewValue(creds("AKIDBENCH"))})
	if err != nil {
		b.Fatal(err)
	}
	secretstest.Bench(b, src, "DB")
}

func BenchmarkParameterStoreLookup(b *testing.B) {
	prefix := "/" + unique() + "/"
	putParameter(b, prefix+"TOKEN", leak, ssmtypes.ParameterTypeSecureString)
	src, err := aws.OpenParameterStore(context.Background(), secrets.StoreSettings{Kind: aws.ParameterStore,
		Settings: map[string]any{"region": region, "endpoint": motoURL(b), "prefix": prefix}, Credentials: secrets.NewValue(creds("AKIDBENCH"))})
	if err != nil {
		b.Fatal(err)
	}
	secretstest.Bench(b, src, "TOKEN")
}

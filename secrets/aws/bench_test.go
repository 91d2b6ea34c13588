package aws_test

import (
	"context"
	"slices"
	"testing"
	"time"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/aws"
)

// benchLookup measures src.Lookup of name against moto: lookups/s and the
// 99th percentile latency. moto (Python, one thread per request) is much
// slower than AWS; what these numbers show is our overhead's trend, and
// that a lookup is one round trip.
func benchLookup(b *testing.B, src secrets.Source, name string) {
	ctx := context.Background()
	if _, err := src.Lookup(ctx, name); err != nil { // warm the connection
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if _, err := src.Lookup(ctx, name); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "lookups/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkSecretsManagerLookup(b *testing.B) {
	prefix := unique() + "/"
	putSecret(b, prefix+"DB", map[string]any{"user": "u", "password": leak})
	src, err := aws.OpenSecretsManager(context.Background(), secrets.StoreSettings{Kind: aws.SecretsManagerStore,
		Settings: map[string]any{"region": region, "endpoint": motoURL(b), "prefix": prefix}, Credentials: secrets.NewValue(creds("AKIDBENCH"))})
	if err != nil {
		b.Fatal(err)
	}
	benchLookup(b, src, "DB")
}

func BenchmarkParameterStoreLookup(b *testing.B) {
	prefix := "/" + unique() + "/"
	putParameter(b, prefix+"TOKEN", leak, ssmtypes.ParameterTypeSecureString)
	src, err := aws.OpenParameterStore(context.Background(), secrets.StoreSettings{Kind: aws.ParameterStore,
		Settings: map[string]any{"region": region, "endpoint": motoURL(b), "prefix": prefix}, Credentials: secrets.NewValue(creds("AKIDBENCH"))})
	if err != nil {
		b.Fatal(err)
	}
	benchLookup(b, src, "TOKEN")
}

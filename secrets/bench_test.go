package secrets_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/secrets"
)

// What a secret costs to look up, three ways:
//
//	go test -run '^$' -bench 'Lookup|GetOutsideRun' -benchmem ./secrets/
//
// Warm: a run's resolver that has resolved the secret once (every task after
// the first that asks for it). Cold: a new resolver per lookup over a
// configuration already loaded, the first lookup of each run. Outside a
// run: secrets.Secret(name).Get with no resolver in the context, which reads
// the configuration (files and environment) again on every call.

// benchConfig loads, once, a configuration that holds n secrets, SECRET_0
// to SECRET_{n-1}, from PREFECT__CONTEXT__SECRETS__* variables.
func benchConfig(b *testing.B, n int) *config.Config {
	b.Helper()
	env := make([]string, n)
	for i := range env {
		env[i] = fmt.Sprintf("%s=value-%d-of-a-realistic-length-0123456789", secrets.EnvVar(fmt.Sprintf("SECRET_%d", i)), i)
	}
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// reportPerGet reports the time per Get explicitly, as ns/op.
func reportPerGet(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/op")
}

func BenchmarkLookupWarm(b *testing.B) {
	ctx := context.Background()
	r := secrets.NewResolver(secrets.WithConfig(benchConfig(b, 10)))
	if _, err := r.Get(ctx, "SECRET_3"); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Get(ctx, "SECRET_3"); err != nil {
			b.Fatal(err)
		}
	}
	reportPerGet(b)
}

func BenchmarkLookupCold(b *testing.B) {
	ctx := context.Background()
	cfg := benchConfig(b, 10)
	b.ReportAllocs()
	for b.Loop() {
		r := secrets.NewResolver(secrets.WithConfig(cfg))
		if _, err := r.Get(ctx, "SECRET_7"); err != nil {
			b.Fatal(err)
		}
	}
	reportPerGet(b)
}

func BenchmarkSecretGetOutsideRun(b *testing.B) {
	dir := b.TempDir()
	// Keep the machine's own ~/.prefect out of the measure.
	b.Setenv("PREFECT__USER_CONFIG_PATH", filepath.Join(dir, "config.toml"))
	b.Setenv("PREFECT__BACKEND_CONFIG_PATH", filepath.Join(dir, "backend.toml"))
	b.Setenv(secrets.EnvVar("MYSECRET"), "value-of-a-realistic-length-0123456789")
	ctx := context.Background()
	if v, err := secrets.Secret("MYSECRET").Get(ctx); err != nil || v.Reveal() != "value-of-a-realistic-length-0123456789" {
		b.Fatalf("Get = %d bytes, %v", len(v.Reveal()), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := secrets.Secret("MYSECRET").Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportPerGet(b)
}

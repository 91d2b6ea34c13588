package vault_test

import (
	"testing"

	"github.com/prefect-go/prefect/internal/baotest"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/secretstest"
	"github.com/prefect-go/prefect/secrets/vault"
)

// The store against a real OpenBao on loopback, uncached, behind a warm
// cache, and with 10,000 askers at once (one call to OpenBao):
//
//	go test -run '^$' -bench Store -benchtime=2s ./secrets/vault/
func BenchmarkStore(b *testing.B) {
	srv := baotest.Start(b)
	if _, err := srv.Client(b).KVv2("secret").Put(b.Context(), "prefect/DB_PASSWORD", map[string]any{"value": "bench-password-0123456789"}); err != nil {
		b.Fatal(err)
	}
	src, err := vault.OpenStore(b.Context(), secrets.StoreSettings{
		Kind: vault.StoreName, Settings: map[string]any{"address": srv.Addr},
		CredentialsName: vault.DefaultCredentialsSecret, Credentials: secrets.NewValue(map[string]any{"VAULT_TOKEN": srv.Token}),
	}, noEnv)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vault.CloseIdle(src) })
	secretstest.Bench(b, src, "DB_PASSWORD")
}

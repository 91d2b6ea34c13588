package server_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
)

// A secret server embedded in a program of one's own: a store (SQLite in a
// folder of its own), a tenant with an API key, a master key, and the
// server as an http.Handler. Secrets are set and read through the Go
// client, or with any HTTP client, as Prefect 1's does.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "prefect-server-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "server.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	tenant, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	key, _, err := st.CreateAPIKey(ctx, tenant.ID, "example") // shown once: the store keeps its hash
	if err != nil {
		log.Fatal(err)
	}
	master, err := seal.NewMasterKey() // or seal.LoadOrCreateKeyFile, to keep it
	if err != nil {
		log.Fatal(err)
	}

	srv := server.New(st, seal.NewKeyring(master))
	defer srv.Close()
	ts := httptest.NewServer(srv) // or http.ListenAndServe(":4200", srv)
	defer ts.Close()

	// Through the Go client.
	c, err := client.New(ts.URL, client.WithAPIKey(key))
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetSecret(ctx, "DB_PASSWORD", "hunter2"); err != nil {
		log.Fatal(err)
	}
	v, err := c.SecretValue(ctx, "DB_PASSWORD")
	fmt.Println(v, err)

	// Through a plain HTTP request.
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/graphql",
		strings.NewReader(`{"query": "query { secret_value(name: \"DB_PASSWORD\") }"}`))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := ts.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)), err)
	// Output:
	// hunter2 <nil>
	// 200 {"data":{"secret_value":"hunter2"}} <nil>
}

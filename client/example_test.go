package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/secrets"
)

func Example() {
	// A stand-in for the secret server; in use, the URL is Prefect
	// Cloud's, or your own server's.
	server := newFakeServer("my-api-key", nil)
	defer server.Close()

	c, err := client.New(server.URL+"/graphql", client.WithAPIKey("my-api-key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()

	err = c.SetSecret(ctx, "DB", map[string]any{"user": "app", "password": "hunter2"})
	if err != nil {
		fmt.Println(err)
		return
	}
	names, _ := c.SecretNames(ctx)
	fmt.Println(names)

	v, _ := c.SecretValue(ctx, "DB")
	fmt.Println(v.(map[string]any)["user"])

	_, err = c.SecretValue(ctx, "MISSING")
	fmt.Println(errors.Is(err, client.ErrNotFound), errors.Is(err, secrets.ErrNotFound))
	// Output:
	// [DB]
	// app
	// true true
}

// A flow run looks for a secret locally first, then, when the configuration
// says backend = "cloud" and cloud.use_local_secrets = false, on the server
// the configuration names.
func ExampleFromConfig() {
	server := newFakeServer("my-api-key", map[string]any{"GITHUB_TOKEN": "ghp_example"})
	defer server.Close()

	home, _ := os.MkdirTemp("", "home")
	defer os.RemoveAll(home)
	cfg, err := config.Load(config.WithHome(home), config.WithEnv([]string{
		"PREFECT__CLOUD__API=" + server.URL,
		"PREFECT__CLOUD__API_KEY=my-api-key",
		"PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
	}))
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := client.FromConfig(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseIdleConnections()

	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithBackend(client.NewSource(c)))
	token, err := r.Get(context.Background(), "GITHUB_TOKEN")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(token)          // a secrets.Value prints masked
	fmt.Println(token.Reveal()) // where the secret is used
	// Output:
	// ********
	// ghp_example
}

// A tenant with many secrets is listed a page at a time: memory holds one
// page however many there are.
func ExampleClient_AllSecretNames() {
	server := newFakeServer("my-api-key", map[string]any{"B": 1, "A": 2, "C": 3, "D": 4, "E": 5})
	defer server.Close()
	c, err := client.New(server.URL+"/graphql", client.WithAPIKey("my-api-key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()

	// Pages of 2, from the first name on.
	for name, err := range c.AllSecretNames(ctx, "", 2) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(name)
	}

	// One page, and where the next starts.
	names, next, _ := c.SecretNamesPage(ctx, "B", 2)
	fmt.Println(names, next)
	// Output:
	// A
	// B
	// C
	// D
	// E
	// [C D] D
}

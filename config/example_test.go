package config_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/prefect-go/prefect/config"
)

// A user file, a backend.toml written by `prefect backend server`, and the
// environment an agent gives a flow run, read the way Prefect 1 reads them.
func Example() {
	home, err := os.MkdirTemp("", "prefect-home")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(home)
	dir := filepath.Join(home, ".prefect")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	write("config.toml", `
[cloud]
use_local_secrets = false

[context.secrets]
DB = "{'host': 'db.internal', 'port': 5432}"
`)
	write("backend.toml", `backend = "server"`)

	cfg, err := config.Load(
		config.WithHome(home),
		config.WithEnv([]string{
			"PREFECT__SERVER__PORT=5000",
			"PREFECT__CONTEXT__SECRETS__ApiToken=s3cr3t",
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	port, _ := cfg.Get("server.port")
	secrets := cfg.Secrets()
	fmt.Println(cfg.String("backend"))
	fmt.Println(cfg.String("cloud.api")) // ${${backend}.endpoint}
	fmt.Printf("%T %v\n", port, port)
	fmt.Println(cfg.Bool("cloud.use_local_secrets"))
	fmt.Println(secrets["DB"].(map[string]any)["port"], len(secrets))

	// Errors name the file, line, column and key, never the value.
	write("config.toml", "[context.secrets]\nApiToken = s3cr3t\n")
	_, err = config.Load(config.WithHome(home), config.WithEnv(nil))
	fmt.Println(errors.Is(err, config.ErrSyntax))
	var e *config.Error
	if errors.As(err, &e) {
		fmt.Println(filepath.Base(e.File), e.Line, e.Column, e.Key)
	}
	// Output:
	// server
	// http://localhost:5000
	// int64 5000
	// false
	// 5432 2
	// true
	// config.toml 2 12 context.secrets.ApiToken
}

package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/template"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/secrets"
)

// hermetic returns a context whose resolver reads the configuration from env
// alone: no ~/.prefect/config.toml, no real environment. A program leaves
// this out; Secret.Get then reads the process's configuration itself.
func hermetic(env ...string) (context.Context, func()) {
	home, err := os.MkdirTemp("", "example-home")
	if err != nil {
		panic(err)
	}
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(home))
	if err != nil {
		panic(err)
	}
	r := secrets.NewResolver(secrets.WithConfig(cfg))
	return secrets.NewContext(context.Background(), r), func() { os.RemoveAll(home) }
}

// A secret set as PREFECT__CONTEXT__SECRETS__NAME is read by name. The
// Value prints redacted; Reveal hands out the text.
func ExampleSecret_Get() {
	ctx, done := hermetic("PREFECT__CONTEXT__SECRETS__GITHUB_TOKEN=ghp_example")
	defer done()

	token, err := secrets.Secret("GITHUB_TOKEN").Get(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token:", token)
	fmt.Println("sent as:", "Bearer "+token.Reveal())

	_, err = secrets.Secret("MISSING").Get(ctx)
	fmt.Println(errors.Is(err, secrets.ErrNotFound))
	var nf *secrets.NotFoundError
	if errors.As(err, &nf) {
		fmt.Println(nf.Name, "looked in:", nf.Tried[0])
	}
	// Output:
	// token: ********
	// sent as: Bearer ghp_example
	// true
	// MISSING looked in: environment variable PREFECT__CONTEXT__SECRETS__MISSING
}

// Get decodes a secret into a Go type: a secret that parses as JSON (or as
// a Python literal, in the configuration) is a number, a table, a list.
func ExampleGet() {
	ctx, done := hermetic(
		"PREFECT__CONTEXT__SECRETS__DB_PORT=5432",
		`PREFECT__CONTEXT__SECRETS__DB={"user": "app", "host": "db1"}`,
	)
	defer done()

	port, err := secrets.Get[int](ctx, "DB_PORT")
	fmt.Println(port, err)

	type db struct {
		User string `json:"user"`
		Host string `json:"host"`
	}
	d, err := secrets.Get[db](ctx, "DB")
	fmt.Printf("%+v %v\n", d, err)

	_, err = secrets.Get[int](ctx, "DB")
	fmt.Println(err)
	// Output:
	// 5432 <nil>
	// {User:app Host:db1} <nil>
	// secrets: a secret of type map[string]interface {} cannot be decoded into int
}

// A Value shows the redaction marker under fmt, encoding/json, log/slog and
// text/template, whatever the verb.
func ExampleValue() {
	v := secrets.NewValue("hunter2")
	fmt.Printf("%v|%+v|%#v|%s|%q\n", v, v, v, v, v)

	b, _ := json.Marshal(struct{ Password secrets.Value }{v})
	fmt.Println(string(b))

	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	log.Info("login", "password", v)

	template.Must(template.New("").Parse("password={{.}}\n")).Execute(os.Stdout, v)

	fmt.Println(v.Reveal() == "hunter2", secrets.Redacted)
	// Output:
	// ********|********|********|********|"********"
	// {"Password":"********"}
	// level=INFO msg=login password=********
	// password=********
	// true ********
}

// vault is a Source of one's own: a map here, a secrets manager in a
// program. A missing secret matches ErrNotFound, and no error or String
// ever shows a value.
type vault struct{ held map[string]string }

func (v vault) Lookup(_ context.Context, name string) (any, error) {
	s, ok := v.held[name]
	if !ok {
		return nil, fmt.Errorf("vault: %q: %w", name, secrets.ErrNotFound)
	}
	return s, nil
}

func (vault) String() string { return "vault://example" }

// A custom Source serves the secrets the run does not hold, when the
// configuration sends lookups to a secret server (backend = "cloud",
// cloud.use_local_secrets = false).
func ExampleSource() {
	home, _ := os.MkdirTemp("", "example-home")
	defer os.RemoveAll(home)
	cfg, err := config.Load(config.WithHome(home), config.WithEnv([]string{
		"PREFECT__BACKEND=cloud",
		"PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := secrets.NewResolver(secrets.WithConfig(cfg),
		secrets.WithRunSecrets(map[string]any{"LOCAL": "given to the run"}),
		secrets.WithBackend(vault{map[string]string{"API_KEY": "k-123"}}))
	ctx := secrets.NewContext(context.Background(), r)

	for _, name := range []string{"LOCAL", "API_KEY", "NOPE"} {
		v, err := secrets.Secret(name).Get(ctx)
		if err != nil {
			fmt.Println(name, errors.Is(err, secrets.ErrNotFound), strings.Contains(err.Error(), "vault://example"))
			continue
		}
		fmt.Println(name, v, v.Reveal())
	}
	// Output:
	// LOCAL ******** given to the run
	// API_KEY ******** k-123
	// NOPE true true
}

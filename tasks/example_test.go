package tasks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// exampleConfig is a configuration read from env alone, so that the
// examples do not depend on the machine's ~/.prefect/config.toml. A program
// leaves runner.WithConfig out.
func exampleConfig(env ...string) (*config.Config, func()) {
	home, err := os.MkdirTemp("", "example-home")
	if err != nil {
		panic(err)
	}
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(home))
	if err != nil {
		panic(err)
	}
	return cfg, func() { os.RemoveAll(home) }
}

type loginIn struct {
	Password string `prefect:"password"`
}

// A secret task feeds the task that needs the secret; the secret's Value
// becomes the string input, and the run hides the value in its logs,
// states and errors.
func ExamplePrefectSecret() {
	cfg, done := exampleConfig("PREFECT__CONTEXT__SECRETS__DB_PASSWORD=s3cr3t")
	defer done()

	login := task.New("login", func(ctx context.Context, in loginIn) (int, error) {
		return len(in.Password), nil
	})
	f := flow.New("nightly")
	password := flow.Add(f, tasks.PrefectSecret("DB_PASSWORD"))
	n := flow.Add(f, login, flow.Bind("password", password))

	fs, err := runner.Run(context.Background(), f, runner.WithConfig(cfg))
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := runner.ResultOf(fs, password)
	length, _ := runner.ResultOf(fs, n)
	fmt.Println(fs.State)
	fmt.Println("secret task's result:", v)
	fmt.Println("login saw", length, "characters")
	// Output:
	// <Success: "All reference tasks succeeded.">
	// secret task's result: ********
	// login saw 6 characters
}

// EnvVarSecret reads an environment variable of the process running the
// flow, as it is or through WithCast; WithRaiseIfMissing fails the task
// when it is not set.
func ExampleEnvVarSecret() {
	os.Setenv("EXAMPLE_WORKERS", "8")
	defer os.Unsetenv("EXAMPLE_WORKERS")
	cfg, done := exampleConfig()
	defer done()

	f := flow.New("env")
	workers := flow.Add(f, tasks.EnvVarSecret("EXAMPLE_WORKERS",
		tasks.WithCast(func(s string) (any, error) { return strconv.Atoi(s) })))
	missing := flow.Add(f, tasks.EnvVarSecret("EXAMPLE_NOT_SET", tasks.WithRaiseIfMissing()))

	fs, err := runner.Run(context.Background(), f, runner.WithConfig(cfg))
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := runner.ResultOf(fs, workers)
	fmt.Println("workers:", v, v.Reveal())
	fmt.Println("missing:", fs.Of(missing))
	// Output:
	// workers: ******** 8
	// missing: <Failed: "Error during execution of task: Environment variable not set: EXAMPLE_NOT_SET">
}

// AddRequest adds a request authenticated with a secret token, and the
// secret task that feeds it the token.
func ExampleAddRequest() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"stars": 42}`)
	}))
	defer api.Close()
	cfg, done := exampleConfig("PREFECT__CONTEXT__SECRETS__GITHUB_TOKEN=tok-123")
	defer done()

	f := flow.New("stars")
	resp := tasks.AddRequest(f, "get-stars", http.MethodGet, flow.Const("url", api.URL+"/repo"),
		tasks.WithTokenSecret("GITHUB_TOKEN"),
		tasks.WithTaskOptions(task.WithRetries(2, 0)))

	fs, err := runner.Run(context.Background(), f, runner.WithConfig(cfg))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := runner.ResultOf(fs, resp)
	fmt.Println(r.Status, string(r.Body))
	for i, t := range fs.Graph.Tasks {
		fmt.Println(t.Slug, fs.Tasks[i])
	}
	// Output:
	// 200 {"stars": 42}
	// GITHUB_TOKEN-1 <Success: "Task run succeeded.">
	// get-stars-1 <Success: "Task run succeeded.">
}

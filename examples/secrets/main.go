// Command secrets is Prefect 1's secret pattern in Go: a PrefectSecret task
// node resolves MYSECRET when the flow runs and passes it, as the input
// "credentials", to the task that uses it. The task never loads the secret
// itself, and the value never shows: the task logs it, and the log shows
// ********.
//
// Set the secret in one of the ways Prefect 1 users know, then run:
//
//	PREFECT__CONTEXT__SECRETS__MYSECRET=s3cr3t go run ./examples/secrets
//
//	# or in ~/.prefect/config.toml (or the file $PREFECT__USER_CONFIG_PATH names):
//	#   [context.secrets]
//	#   MYSECRET = "s3cr3t"
//	go run ./examples/secrets
//
// Without the secret, the secret task fails with Prefect's message
// (`Local Secret "MYSECRET" was not found.`, plus where it looked), the task
// that needed it ends TriggerFailed, and the command exits with status 1.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// useIn is the input of the task that needs the secret: a plain string,
// decoded from the secret by the runner.
type useIn struct {
	Credentials string `prefect:"credentials"`
}

var useCredentials = task.New("use_credentials", func(ctx context.Context, in useIn) (string, error) {
	rc, _ := runner.FromContext(ctx)
	// Logging the secret is a mistake this run forgives: the log shows ********.
	rc.Logger().Info("connecting", "credentials", in.Credentials)
	return fmt.Sprintf("connected with %d-character credentials", len(in.Credentials)), nil
})

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	f := flow.New("secrets-example")
	secret := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	use := flow.Add(f, useCredentials, flow.Bind("credentials", secret))

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fs, err := runner.Run(ctx, f, runner.WithLogger(logger))
	if err != nil {
		fmt.Fprintln(os.Stderr, "secrets:", err)
		os.Exit(2)
	}
	for i, gt := range fs.Graph.Tasks {
		fmt.Printf("%-18s %v\n", gt.Slug, fs.Tasks[i])
	}
	fmt.Printf("\nflow %s: %v\n", fs.FlowName, fs.State)
	if out, ok := runner.ResultOf(fs, use); ok {
		fmt.Println(out)
	}
	if !fs.IsSuccessful() {
		os.Exit(1)
	}
}

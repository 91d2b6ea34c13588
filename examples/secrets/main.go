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
	"errors"
	"flag"
	"fmt"
	"io"
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
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usage is the answer to -h, and follows a mistake in the command line.
const usage = `usage: secrets

Runs a flow whose task needs the secret MYSECRET, resolved at run time
from PREFECT__CONTEXT__SECRETS__MYSECRET or [context.secrets] in
~/.prefect/config.toml, and prints every task's final state. It takes no
flags or arguments.
`

// run is the whole command, apart from the process: it returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("secrets", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage) // asked for: the answer, not a mistake
			return 0
		}
		fmt.Fprintf(stderr, "secrets: %v\n%s", err, usage)
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "secrets: unexpected argument %q\n%s", fl.Arg(0), usage)
		return 2
	}

	f := flow.New("secrets-example")
	secret := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	use := flow.Add(f, useCredentials, flow.Bind("credentials", secret))

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	fs, err := runner.Run(ctx, f, runner.WithLogger(logger))
	if err != nil {
		fmt.Fprintln(stderr, "secrets:", err)
		return 2
	}
	for i, gt := range fs.Graph.Tasks {
		fmt.Fprintf(stdout, "%-18s %v\n", gt.Slug, fs.Tasks[i])
	}
	fmt.Fprintf(stdout, "\nflow %s: %v\n", fs.FlowName, fs.State)
	if out, ok := runner.ResultOf(fs, use); ok {
		fmt.Fprintln(stdout, out)
	}
	if !fs.IsSuccessful() {
		return 1
	}
	return 0
}

// Command deploy is a flow program: a Go binary holding a flow that an
// agent runs on the server's behalf, with secrets forwarded into the run's
// environment.
//
// The flow is the secret pattern of examples/secrets: a PrefectSecret task
// node resolves MYSECRET at run time and hands it to the task that needs
// it. Here the value comes from the agent, so it never has to be on the
// machine where the run is created. The agent forwards its own
// environment to every run, so the secret goes in the agent's
// environment, not on its command line: `--env NAME=VALUE` would put the
// value in the process list, which every user of the machine can read
// (`ps`), and `--env NAME` without a value is refused. The walkthrough
// (README, "Running flows with an agent"), in bash:
//
//	go build -o prefect ./cmd/prefect && go build -o deploy ./examples/deploy
//	./prefect server start & server=$!
//	./prefect server create-tenant demo
//	export PREFECT__CLOUD__API=http://127.0.0.1:4200/graphql
//	export PREFECT__CLOUD__API_KEY=$(./prefect server create-api-key --tenant demo)
//	./deploy register                              # flow secret-pipeline: registered as version 1
//	read -rs MYSECRET                              # type the value: not echoed, not in the history
//	PREFECT__CONTEXT__SECRETS__MYSECRET=$MYSECRET ./prefect agent local start & agent=$!
//	./prefect run --name secret-pipeline --param n=2 --watch
//	kill $agent $server
//
// The agent's command line is only `./prefect agent local start`; the
// value is in its environment, which only its user (and root) can read.
// Instead of the environment, the agent's user can keep the secret in
// the configuration file each run reads (~/.prefect/config.toml, mode
// 0600):
//
//	[context.secrets]
//	MYSECRET = "..."
//
// or on the server itself (`prefect secrets set MYSECRET`), where no agent
// needs to hold it.
package main

import (
	"context"
	"fmt"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

type useIn struct {
	Credentials string `prefect:"credentials"`
	N           int    `prefect:"n"`
}

var useCredentials = task.New("use_credentials", func(ctx context.Context, in useIn) (string, error) {
	rc, _ := runner.FromContext(ctx)
	// Logged by mistake: the run's log, and the server's copy, show ********.
	rc.Logger().Info("connecting", "credentials", in.Credentials)
	return fmt.Sprintf("connected %d times with %d-character credentials", in.N, len(in.Credentials)), nil
})

// Pipeline is the flow this program holds.
func Pipeline() *flow.Flow {
	f := flow.New("secret-pipeline")
	secret := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	n := flow.Parameter(f, "n", flow.WithDefault(1))
	flow.Add(f, useCredentials, flow.Bind("credentials", secret), flow.Bind("n", n))
	return f
}

func main() { program.Main(Pipeline()) }

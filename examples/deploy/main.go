// Command deploy is a flow program: a Go binary holding a flow that an
// agent runs on the server's behalf, with secrets forwarded into the run's
// environment (Prefect 1's `prefect agent local start --env ...`).
//
// The flow is the secret pattern of examples/secrets: a PrefectSecret task
// node resolves MYSECRET at run time and hands it to the task that needs
// it. Here the value comes from the agent's --env, so it never has to be
// on the machine where the run is created. The walkthrough (README,
// "Running flows with an agent"):
//
//	go build -o prefect ./cmd/prefect && go build -o deploy ./examples/deploy
//	./prefect server start &                      # with a tenant and an API key made
//	export PREFECT__CLOUD__API=http://127.0.0.1:4200/graphql PREFECT__CLOUD__API_KEY=pgo_...
//	./deploy register                              # flow secret-pipeline: registered as version 1
//	./prefect agent local start --env PREFECT__CONTEXT__SECRETS__MYSECRET=s3cr3t &
//	./prefect run --name secret-pipeline --param n=2 --watch
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

package agent_test

import (
	"fmt"
	"strings"

	"github.com/prefect-go/prefect/agent"
)

// BuildEnv layers a run's environment, later sources winning.
func ExampleBuildEnv() {
	flags, err := agent.ParseEnv([]string{"PREFECT__CONTEXT__SECRETS__DB=s3cr3t", "REGION=eu", "TEAM=data"})
	if err != nil {
		fmt.Println(err)
		return
	}
	run := agent.FlowRun{ID: "6f1c", FlowName: "etl", Env: map[string]string{"REGION": "us"}}
	forced := map[string]string{"PREFECT__CLOUD__API": "http://127.0.0.1:4200/graphql", "PREFECT__CLOUD__TENANT_ID": ""}
	agentEnv := []string{"HOME=/home/agent", "PREFECT__CLOUD__TENANT_ID=t1", "TEAM=ops"}
	for _, kv := range agent.BuildEnv(agentEnv, "INFO", flags, run, forced) {
		fmt.Println(kv)
	}
	// Output:
	// HOME=/home/agent
	// PREFECT__BACKEND=cloud
	// PREFECT__CLOUD__API=http://127.0.0.1:4200/graphql
	// PREFECT__CLOUD__USE_LOCAL_SECRETS=false
	// PREFECT__CONTEXT__FLOW_ID=etl
	// PREFECT__CONTEXT__FLOW_RUN_ID=6f1c
	// PREFECT__CONTEXT__SECRETS__DB=s3cr3t
	// PREFECT__LOGGING__LEVEL=INFO
	// REGION=us
	// TEAM=data
}

func ExampleParseEnv() {
	env, err := agent.ParseEnv([]string{"A=1", "B=x=y", "A=2"})
	fmt.Println(env, err)
	_, err = agent.ParseEnv([]string{"NOEQUALS"})
	fmt.Println(strings.ReplaceAll(err.Error(), "\n", "; "))
	// Output:
	// map[A:2 B:x=y] <nil>
	// invalid environment variable: --env "NOEQUALS" has no '=': write it as NAME=VALUE
}

package natsexec_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

const programSecret = "program-SECRET-via-agent-env"

type credsIn struct {
	Credentials string `prefect:"credentials"`
	Where       string `prefect:"where"`
}

// deployed is a flow as the README's walkthroughs deploy one: a secret
// task and its consumer, which stay in the flow program, and a task that
// runs on a worker.
func deployed() *flow.Flow {
	f := flow.New("deployed")
	s := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	where := flow.Add(f, task.New("where", func(ctx context.Context, _ task.None) (string, error) {
		w, ok := natsexec.WorkerName(ctx)
		if !ok {
			return "", errors.New("not on a worker")
		}
		return w, nil
	}))
	flow.Add(f, task.New("use", func(_ context.Context, in credsIn) (string, error) {
		if in.Credentials != programSecret {
			return "", errors.New("wrong credentials")
		}
		return "used after " + in.Where, nil
	}), flow.Bind("credentials", s), flow.Bind("where", where))
	return f
}

// TestProgramExecutesOnWorkers: a flow run an agent launches (execute) with
// natsexec.Program calls its tasks on the workers, but for the secret task
// and its consumer; the run succeeds on the server, and no message on the
// bus holds the secret.
func TestProgramExecutesOnWorkers(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	wire := captureAll(t, url)
	startWorker(t, url, []*flow.Flow{deployed()}, natsexec.WithWorkerName("w1"))

	env := servertest.New(t)
	ts := httptest.NewServer(env.Handler())
	t.Cleanup(ts.Close)
	api := ts.URL + "/graphql"
	c, err := client.New(api, client.WithAPIKey(env.Key), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)

	p := natsexec.Program([]*flow.Flow{deployed()})
	t.Setenv("PREFECT__CLOUD__API", api)
	t.Setenv("PREFECT__CLOUD__API_KEY", env.Key)
	t.Setenv("HOME", t.TempDir())
	var out, errOut bytes.Buffer
	if code := p.Run(ctx, []string{"register", "--label", "local"}, &out, &errOut); code != 0 {
		t.Fatalf("register: exit %d: %s", code, errOut.String())
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "deployed"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.ClaimFlowRuns(ctx, "agent", []string{"local"}, 1); err != nil || len(got) != 1 {
		t.Fatalf("claiming the run: %v, %v", got, err)
	}
	cfg, err := config.Load(config.WithHome(t.TempDir()), config.WithEnv([]string{
		"PREFECT__CLOUD__API=" + api, "PREFECT__CLOUD__API_KEY=" + env.Key, "PREFECT__CONTEXT__FLOW_RUN_ID=" + run.ID,
		"PREFECT__NATS__URL=" + url, "PREFECT__CONTEXT__SECRETS__MYSECRET=" + programSecret}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := p.Execute(ctx, c, cfg, &logs); err != nil {
		t.Fatalf("Execute: %v\n%s", err, logs.String())
	}
	got, err := c.FlowRun(ctx, run.ID)
	if err != nil || got.State != state.Success {
		t.Fatalf("run: %+v, %v; want Success", got, err)
	}
	states := map[string]string{}
	for _, tr := range got.TaskRuns {
		states[tr.Slug] = tr.State.String()
	}
	if states["where-1"] != "Success" || states["use-1"] != "Success" {
		t.Errorf("task runs on the server: %v", states)
	}
	if jobs := wire.jobs(t, programSecret); len(jobs) != 1 || !jobs["where-1"] {
		t.Errorf("jobs went to the workers for %v; want where-1 alone, the secret and its consumer staying here", jobs)
	}
}

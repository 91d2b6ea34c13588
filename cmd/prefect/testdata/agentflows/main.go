// Command agentflows is the flow program of the agent's end-to-end tests
// and benchmark (agent_e2e_test.go, agent_bench_test.go): three small flows
// whose tasks leave evidence the tests read back.
//
//   - env-report writes the run's view of the variables the precedence test
//     sets (PRECEDENCE_* and a few PREFECT__*) to the file named by its
//     parameter out, as JSON, and logs PRECEDENCE_A.
//   - nap writes its process ID (and, with spawn, the ID of a `sleep 60` it
//     started in its own process group) to pidfile, then sleeps ms
//     milliseconds; a second task, wake, runs after it.
//   - append appends "RUN_ID UNIX_NANOS\n" to out with one O_APPEND write:
//     every execution of a run leaves one line, and the time its task began.
//   - leak takes the secret LEAKY (from the secret server), prints it to
//     stdout in several forms and makes the process die as mode says: fatal
//     (log.Fatalf with the value), panic (a goroutine of the task panics
//     with an error holding it; the runtime prints it as it crashes) or
//     exit (os.Exit(3) right after printing).
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// reported are the PREFECT__ variables env-report writes, beside every
// PRECEDENCE_* one.
var reported = []string{
	"PREFECT__LOGGING__LEVEL", "PREFECT__CONTEXT__FLOW_RUN_ID", "PREFECT__CONTEXT__FLOW_ID",
	"PREFECT__CLOUD__API", "PREFECT__BACKEND", "PREFECT__CLOUD__USE_LOCAL_SECRETS", "PREFECT__CLOUD__TENANT_ID",
}

// A Var is one variable as the run sees it: Set is false when it is not in
// the environment at all.
type Var struct {
	Set   bool   `json:"set"`
	Value string `json:"value"`
}

type outIn struct {
	Out string `prefect:"out"`
}

var envReport = task.New("report", func(ctx context.Context, in outIn) (int, error) {
	vars := map[string]Var{}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PRECEDENCE_") {
			vars[k] = Var{true, v}
		}
	}
	for _, k := range reported {
		v, ok := os.LookupEnv(k)
		vars[k] = Var{ok, v}
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return 0, err
	}
	if err := writeAtomically(in.Out, b); err != nil {
		return 0, err
	}
	rc, _ := runner.FromContext(ctx)
	rc.Logger().Info("environment reported", "PRECEDENCE_A", os.Getenv("PRECEDENCE_A"))
	return len(vars), nil
})

type napIn struct {
	PIDFile string `prefect:"pidfile"`
	MS      int    `prefect:"ms"`
	Spawn   bool   `prefect:"spawn"`
}

var nap = task.New("nap", func(ctx context.Context, in napIn) (int, error) {
	pids := []string{strconv.Itoa(os.Getpid())}
	if in.Spawn {
		// A grandchild of the agent, in the run's process group: what a
		// task that shells out leaves running.
		sleep := exec.Command("sleep", "60")
		if err := sleep.Start(); err != nil {
			return 0, err
		}
		pids = append(pids, strconv.Itoa(sleep.Process.Pid))
	}
	if in.PIDFile != "" {
		if err := writeAtomically(in.PIDFile, []byte(strings.Join(pids, " "))); err != nil {
			return 0, err
		}
	}
	t := time.NewTimer(time.Duration(in.MS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return in.MS, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

var wake = task.New("wake", func(context.Context, struct{}) (string, error) { return "awake", nil })

var appendRun = task.New("append", func(ctx context.Context, in outIn) (int, error) {
	start := time.Now()
	rc, _ := runner.FromContext(ctx)
	f, err := os.OpenFile(in.Out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := fmt.Fprintf(f, "%s %d\n", rc.FlowRunID, start.UnixNano())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
})

// writeAtomically writes b to path in one step (rename), so that a reader
// polling for path never sees half of it.
func writeAtomically(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func envReportFlow() *flow.Flow {
	f := flow.New("env-report")
	out := flow.Parameter(f, "out", flow.WithDefault(""))
	flow.Add(f, envReport, flow.Bind("out", out))
	return f
}

func napFlow() *flow.Flow {
	f := flow.New("nap")
	pidfile := flow.Parameter(f, "pidfile", flow.WithDefault(""))
	ms := flow.Parameter(f, "ms", flow.WithDefault(0))
	spawn := flow.Parameter(f, "spawn", flow.WithDefault(false))
	slept := flow.Add(f, nap, flow.Bind("pidfile", pidfile), flow.Bind("ms", ms), flow.Bind("spawn", spawn))
	flow.Add(f, wake, flow.After(slept))
	return f
}

func appendFlow() *flow.Flow {
	f := flow.New("append")
	out := flow.Parameter(f, "out", flow.WithDefault(""))
	flow.Add(f, appendRun, flow.Bind("out", out))
	return f
}

type leakIn struct {
	Token string `prefect:"token"`
	Mode  string `prefect:"mode"`
}

var leak = task.New("leak", func(ctx context.Context, in leakIn) (int, error) {
	tok := in.Token
	fmt.Printf("token %s\n", tok)
	fmt.Printf("Authorization: Basic %s\n", base64.StdEncoding.EncodeToString([]byte("user:"+tok)))
	fmt.Printf("ascii %+q\n", tok)
	fmt.Printf("bytes %v\n", []byte(tok))
	switch in.Mode {
	case "fatal":
		log.Fatalf("auth failed for token %s", tok)
	case "panic":
		go func() { panic(fmt.Errorf("lost the connection holding %s", tok)) }()
		select {}
	case "exit":
		os.Exit(3)
	}
	return 0, fmt.Errorf("unknown mode %q", in.Mode)
})

func leakFlow() *flow.Flow {
	f := flow.New("leak")
	mode := flow.Parameter(f, "mode", flow.WithDefault("fatal"))
	token := flow.Add(f, tasks.PrefectSecret("LEAKY"))
	flow.Add(f, leak, flow.Bind("token", token), flow.Bind("mode", mode))
	return f
}

func main() { program.Main(envReportFlow(), napFlow(), appendFlow(), leakFlow()) }

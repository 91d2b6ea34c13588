package runner_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// printReporter prints the states it hears of, and the log records of
// level Warn and above. One that sends them to a server would append them
// to a buffer here and send from a goroutine of its own.
type printReporter struct{}

func (printReporter) FlowState(s state.State) { fmt.Println("flow:", s) }

func (printReporter) TaskState(r runner.TaskReport) {
	name := r.Slug
	if r.MapIndex >= 0 {
		name += fmt.Sprintf("[%d]", r.MapIndex)
	}
	fmt.Printf("%s: %v\n", name, r.State)
}

func (printReporter) Log(r runner.LogReport) {
	if r.Level >= slog.LevelWarn {
		fmt.Printf("log: %v %s\n", r.Level, r.Message)
	}
}

// A Reporter hears of the run as it goes, with the run's secrets masked.
func ExampleWithReporter() {
	type loginIn struct {
		Token string `prefect:"token"`
	}
	type sessionIn struct {
		Session string `prefect:"session"`
	}
	login := task.New("login", func(ctx context.Context, in loginIn) (string, error) {
		return "", fmt.Errorf("the server refused the token %s", in.Token)
	})
	fetch := task.New("fetch", func(ctx context.Context, in sessionIn) (int, error) {
		return 42, nil
	})

	f := flow.New("report")
	token := flow.Add(f, tasks.PrefectSecret("API_TOKEN"))
	session := flow.Add(f, login, flow.Bind("token", token))
	flow.Add(f, fetch, flow.Bind("session", session))

	// On the Local executor the order of the calls is deterministic.
	_, err := runner.Run(context.Background(), f,
		runner.WithReporter(printReporter{}),
		runner.WithSecrets(map[string]any{"API_TOKEN": "s3cr3t-t0ken"}))
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// flow: <Running>
	// API_TOKEN-1: <Pending>
	// login-1: <Pending>
	// fetch-1: <Pending>
	// API_TOKEN-1: <Running>
	// API_TOKEN-1: <Success: "Task run succeeded.">
	// login-1: <Running>
	// log: ERROR Task 'login': Exception encountered during task execution!
	// login-1: <Failed: "Error during execution of task: the server refused the token ********">
	// fetch-1: <TriggerFailed: "Trigger was "all_successful" but some of the upstream tasks failed.">
	// flow: <Failed: "Some reference tasks failed.">
}

package natsexec_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

type chanIn struct {
	C chan int `prefect:"c,optional"`
}

type anyIn struct {
	V any `prefect:"v,optional"`
}

type keyed struct{ A, B int }

type okIn struct {
	When  time.Time         `prefect:"when,optional"`
	Names map[string][]int  `prefect:"names,optional"`
	Pairs []struct{ X int } `prefect:"pairs,optional"`
}

// Check refuses, before any task runs, the inputs and results that do not
// survive JSON, naming each; it lets through what does, and what runs in
// the runner's process anyway (secrets and their downstream tasks).
func TestCheck(t *testing.T) {
	f := flow.New("bad")
	flow.Add(f, task.New("chan", func(context.Context, chanIn) (int, error) { return 0, nil }))
	flow.Add(f, task.New("any", func(context.Context, anyIn) (int, error) { return 0, nil }))
	flow.Add(f, task.New("fn", func(context.Context, task.None) (func(), error) { return nil, nil }))
	flow.Add(f, task.New("mapkey", func(context.Context, task.None) (map[keyed]int, error) { return nil, nil }))
	flow.Add(f, task.New("fine", func(context.Context, okIn) (complex64, error) { return 0, nil }))
	err := natsexec.Check(f)
	if err == nil {
		t.Fatal("Check accepted a flow whose types do not cross the wire")
	}
	for _, want := range []string{`chan-1: input "c" of type chan int`, `any-1: input "v" of type interface {}`, "fn-1: its result of type func()",
		"mapkey-1: its result", "are not strings, integers", "fine-1: its result of type complex64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check's error lacks %q:\n%v", want, err)
		}
	}
	// One problem per line under a count, each reached through the list.
	if header := "natsexec: flow \"bad\" cannot run on workers: 5 problems:\n\t- task chan-1: "; !strings.HasPrefix(err.Error(), header) {
		t.Errorf("Check's error does not begin %q:\n%v", header, err)
	}
	var list *multierror.Error
	if !errors.As(err, &list) || len(list.WrappedErrors()) != 5 {
		t.Errorf("Check's error = %v; want a *multierror.Error of 5", err)
	}
	if strings.Contains(err.Error(), `input "when"`) || strings.Contains(err.Error(), `input "names"`) || strings.Contains(err.Error(), `input "pairs"`) {
		t.Errorf("Check refused types that cross the wire:\n%v", err)
	}

	good := flow.New("good")
	s := flow.Add(good, tasks.PrefectSecret("MYSECRET"))
	// Downstream of a secret, it runs here: its channel never crosses.
	flow.Add(good, task.New("local", func(context.Context, struct {
		S string   `prefect:"s"`
		C chan int `prefect:"c,optional"`
	}) (int, error) {
		return 0, nil
	}), flow.Bind("s", s))
	if err := natsexec.Check(good); err != nil {
		t.Errorf("Check refused tasks that run in the runner's process: %v", err)
	}
}

// A flow run on the executor fails to start, before any task runs, when a
// task's types cannot cross the wire.
func TestExecutorChecksTheFlow(t *testing.T) {
	url := startServer(t)
	nc := connect(t, url)
	f := flow.New("bad")
	flow.Add(f, task.New("any", func(context.Context, anyIn) (int, error) { return 0, nil }))
	_, err := runner.Run(context.Background(), f, runner.WithExecutor(natsexec.Executor(nc, f)))
	if err == nil || !strings.Contains(err.Error(), "cannot run on workers") {
		t.Errorf("running a flow with an `any` input on workers: %v", err)
	}
}

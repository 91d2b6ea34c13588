package runner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
	"github.com/prefect-go/prefect/task"
)

// Run a flow and read its states and a result.
func ExampleRun() {
	type addIn struct {
		X int `prefect:"x"`
		Y int `prefect:"y"`
	}
	add := task.New("add", func(ctx context.Context, in addIn) (int, error) {
		return in.X + in.Y, nil
	})

	f := flow.New("arithmetic")
	three := flow.Add(f, add, flow.Const("x", 1), flow.Const("y", 2))
	thirteen := flow.Add(f, add, flow.Bind("x", three), flow.Const("y", 10))

	// Local is the default executor; Parallel(0) would run independent
	// tasks at once. The states come out the same.
	fs, err := runner.Run(context.Background(), f, runner.WithExecutor(runner.Local()))
	if err != nil {
		fmt.Println(err) // the run could not start
		return
	}
	fmt.Println(fs.State)
	for i, t := range fs.Graph.Tasks {
		fmt.Println(t.Slug, fs.Tasks[i])
	}
	sum, _ := runner.ResultOf(fs, thirteen)
	fmt.Println("result:", sum)
	// Output:
	// <Success: "All reference tasks succeeded.">
	// add-1 <Success: "Task run succeeded.">
	// add-2 <Success: "Task run succeeded.">
	// result: 13
}

// An error a task returns ends up in its state, never in Run's error. Tasks
// downstream of a failure end TriggerFailed under the default trigger; a task
// with the all_finished trigger runs whatever happened.
func ExampleRun_failure() {
	type valueIn struct {
		Value int `prefect:"value"`
	}
	extract := task.New("extract", func(ctx context.Context, _ task.None) (int, error) {
		return 0, errors.New("the source is empty")
	})
	report := task.New("report", func(ctx context.Context, in valueIn) (string, error) {
		return fmt.Sprint("value: ", in.Value), nil
	})
	cleanup := task.New("cleanup", func(ctx context.Context, _ task.None) (task.None, error) {
		return task.None{}, nil
	}, task.WithTrigger(task.AllFinished))

	f := flow.New("failure")
	value := flow.Add(f, extract)
	flow.Add(f, report, flow.Bind("value", value))
	flow.Add(f, cleanup, flow.After(value))

	fs, err := runner.Run(context.Background(), f)
	fmt.Println("err:", err)
	for i, t := range fs.Graph.Tasks {
		fmt.Println(t.Slug, fs.Tasks[i])
	}
	fmt.Println(fs.State)
	// Output:
	// err: <nil>
	// extract-1 <Failed: "Error during execution of task: the source is empty">
	// report-1 <TriggerFailed: "Trigger was "all_successful" but some of the upstream tasks failed.">
	// cleanup-1 <Success: "Task run succeeded.">
	// <Failed: "Some reference tasks failed.">
}

// Parameters are root tasks whose results a run gives by name. One without a
// default is required; a run missing it, or given one the flow does not
// declare, cannot start.
func ExampleRun_parameters() {
	type greetIn struct {
		Greeting string `prefect:"greeting"`
		Name     string `prefect:"name"`
	}
	greet := task.New("greet", func(ctx context.Context, in greetIn) (string, error) {
		return in.Greeting + ", " + in.Name + "!", nil
	})

	f := flow.New("greeter")
	name := flow.Parameter[string](f, "name") // required
	greeting := flow.Parameter(f, "greeting", flow.WithDefault("Hello"))
	message := flow.Add(f, greet, flow.Bind("greeting", greeting), flow.Bind("name", name))

	ctx := context.Background()
	_, err := runner.Run(ctx, f)
	fmt.Println(errors.Is(err, runner.ErrInvalidRun), err)

	for _, params := range []map[string]any{
		{"name": "Ada"},
		{"name": "Grace", "greeting": "Goodbye"},
	} {
		fs, err := runner.Run(ctx, f, runner.WithParameters(params))
		if err != nil {
			fmt.Println(err)
			return
		}
		got, _ := runner.ResultOf(fs, message)
		fmt.Println(got)
	}
	// Output:
	// true the flow run cannot start: Flow.run did not receive the following required parameters: name (flow "greeter": required parameter "name" not given)
	// Hello, Ada!
	// Goodbye, Grace!
}

// flow.Map runs a task once per element of an upstream list. The mapped
// task's state is Mapped, with one child state per element; its result is
// the list of the children's results. flow.Unmapped passes the same value to
// every child.
func ExampleRun_mapping() {
	type scaleIn struct {
		X      int `prefect:"x"`
		Factor int `prefect:"factor"`
	}
	numbers := task.New("numbers", func(ctx context.Context, _ task.None) ([]int, error) {
		return []int{1, 2, 3}, nil
	})
	scale := task.New("scale", func(ctx context.Context, in scaleIn) (int, error) {
		return in.X * in.Factor, nil
	})

	f := flow.New("mapping")
	nums := flow.Add(f, numbers)
	scaled := flow.Map(f, scale,
		flow.Bind("x", nums),                    // mapped over: one child per number
		flow.Unmapped(flow.Const("factor", 10))) // the same for every child

	fs, err := runner.Run(context.Background(), f, runner.WithExecutor(runner.Local()))
	if err != nil {
		fmt.Println(err)
		return
	}
	st := fs.Of(scaled)
	fmt.Println(scaled.Slug(), st)
	for i, child := range st.Children {
		fmt.Printf("  %s[%d] %v: %v\n", scaled.Slug(), i, child, child.Result)
	}
	list, _ := runner.ResultOf(fs, scaled)
	fmt.Println(list)
	// Output:
	// scale-1 <Mapped: "Ready to proceed with mapping.">
	//   scale-1[0] <Success: "Task run succeeded.">: 10
	//   scale-1[1] <Success: "Task run succeeded.">: 20
	//   scale-1[2] <Success: "Task run succeeded.">: 30
	// [10 20 30]
}

// exampleClock is a fake [runner.Clock]: After moves the time forward at once
// instead of waiting, so a run whose tasks wait minutes between retries ends
// in microseconds, and a test needs no sleep.
type exampleClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *exampleClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *exampleClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// A task with retries runs again after its retry delay, which the runner
// waits for on its clock. A fake clock makes retries instant and their
// timing exact. The state handler shows each state the task run goes through.
func ExampleWithClock() {
	start := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := &exampleClock{now: start}

	fetch := task.New("fetch", func(ctx context.Context, _ task.None) (string, error) {
		rc, _ := runner.FromContext(ctx)
		fmt.Printf("  attempt %d at +%v\n", rc.TaskRunCount, clock.Now().Sub(start))
		if rc.TaskRunCount < 3 {
			return "", errors.New("service unavailable")
		}
		return "payload", nil
	},
		task.WithRetries(3, time.Minute),
		task.WithStateHandlers(func(ctx context.Context, old, new state.State) state.State {
			fmt.Printf("%v -> %v\n", old.Kind, new)
			return new
		}))

	f := flow.New("retries")
	fetched := flow.Add(f, fetch)
	fs, err := runner.Run(context.Background(), f, runner.WithClock(clock))
	if err != nil {
		fmt.Println(err)
		return
	}
	st := fs.Of(fetched)
	fmt.Println(st, "after", st.RunCount, "runs")
	fmt.Println("the run took", clock.Now().Sub(start), "of the fake clock's time")
	// Output:
	// Pending -> <Running>
	//   attempt 1 at +0s
	// Running -> <Retrying: "Retrying Task (after attempt 1 of 4)">
	// Retrying -> <Running>
	//   attempt 2 at +1m0s
	// Running -> <Retrying: "Retrying Task (after attempt 2 of 4)">
	// Retrying -> <Running>
	//   attempt 3 at +2m0s
	// Running -> <Success: "Task run succeeded.">
	// <Success: "Task run succeeded."> after 3 runs
	// the run took 2m0s of the fake clock's time
}

// Inside a task, FromContext gives the run context: Prefect's
// prefect.context, with the flow run, the task run, the parameters and the
// scheduled date.
func ExampleFromContext() {
	type greetIn struct {
		Name string `prefect:"name"`
	}
	greet := task.New("greet", func(ctx context.Context, in greetIn) (string, error) {
		rc, ok := runner.FromContext(ctx)
		if !ok {
			return "", errors.New("greet must run inside a flow run")
		}
		greeting := rc.Parameters["greeting"].(string)
		fmt.Printf("%s of %s on %s: map index %d, run %d\n",
			rc.TaskRunName, rc.FlowRunName, rc.Today(), rc.MapIndex, rc.TaskRunCount)
		return greeting + ", " + in.Name, nil
	})

	f := flow.New("hello")
	flow.Parameter(f, "greeting", flow.WithDefault("Hello"))
	flow.Map(f, greet, flow.Const("name", []string{"Ada", "Grace"}))

	_, err := runner.Run(context.Background(), f,
		runner.WithFlowRunName("morning-run"),
		runner.WithScheduledStartTime(time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ok := runner.FromContext(context.Background())
	fmt.Println("outside a task run:", ok)
	// Output:
	// greet-1[0] of morning-run on 2024-03-01: map index 0, run 1
	// greet-1[1] of morning-run on 2024-03-01: map index 1, run 1
	// outside a task run: false
}

// ResultOf returns a task's result with the type of its node, and whether
// the task succeeded. A failed task has no result; its state says why.
func ExampleResultOf() {
	answer := task.New("answer", func(ctx context.Context, _ task.None) (int, error) {
		return 42, nil
	})
	broken := task.New("broken", func(ctx context.Context, _ task.None) (int, error) {
		return 0, errors.New("no answer today")
	})

	f := flow.New("results")
	good := flow.Add(f, answer)
	bad := flow.Add(f, broken)

	fs, err := runner.Run(context.Background(), f)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(runner.ResultOf(fs, good))
	fmt.Println(runner.ResultOf(fs, bad))
	fmt.Println(fs.Of(bad).Err)
	// Output:
	// 42 true
	// 0 false
	// no answer today
}

// Restart runs a flow again from an earlier run's states: tasks that
// succeeded keep their results and do not run again; the others do.
func ExampleRestart() {
	type valueIn struct {
		Value int `prefect:"value"`
	}
	extractRuns := 0
	warehouseUp := false
	extract := task.New("extract", func(ctx context.Context, _ task.None) (int, error) {
		extractRuns++
		return 21, nil
	})
	load := task.New("load", func(ctx context.Context, in valueIn) (int, error) {
		if !warehouseUp {
			return 0, errors.New("the warehouse is down")
		}
		return in.Value * 2, nil
	})

	f := flow.New("restartable")
	value := flow.Add(f, extract)
	loaded := flow.Add(f, load, flow.Bind("value", value))

	ctx := context.Background()
	first, err := runner.Run(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("first run:", first.State)
	fmt.Println("  load:", first.Of(loaded))

	warehouseUp = true // someone fixed it
	second, err := runner.Restart(ctx, f, first)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _ := runner.ResultOf(second, loaded)
	fmt.Println("restart:", second.State)
	fmt.Println("  load:", got, "- extract ran", extractRuns, "time in all")
	// Output:
	// first run: <Failed: "Some reference tasks failed.">
	//   load: <Failed: "Error during execution of task: the warehouse is down">
	// restart: <Success: "All reference tasks succeeded.">
	//   load: 42 - extract ran 1 time in all
}

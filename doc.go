// Package prefect is a workflow engine for Go in the style of Prefect 1.x
// (Prefect Core): a flow is a graph of tasks, and a runner runs each task once
// its upstream tasks have finished, with retries, triggers, mapping, caching
// and checkpoints, leaving every task and the flow in a Prefect state.
//
// This package holds only this overview; the engine is in these packages:
//
//   - task: a Go function plus its options (retries, timeout, trigger, cache).
//   - flow: builds the graph; Add, Map, Parameter and Bind wire tasks together.
//   - runner: runs a flow on an executor, Local or Parallel, and returns its states.
//   - state: Pending, Running, Success, Failed, TriggerFailed, Mapped, ...
//   - result: where checkpoints and cached results are kept.
//   - secrets, tasks, config: secrets resolved as in Prefect 1 (environment,
//     ~/.prefect/config.toml, a secret server), the PrefectSecret and
//     EnvVarSecret tasks, and a value type and run masker that keep secret
//     values out of every log, state and error.
//
// Imports point one way, lightest at the bottom: task and flow link no
// configuration, TOML or HTTP (the secret value type they handle lives in
// secrets/sensitive; secrets re-exports it), runner reaches the secret
// server through secrets without package client, and deps_test.go fails
// when a forbidden import comes back.
//
// A complete flow: a parameter, a task, a task mapped over its result, a run,
// and a result read back.
//
//	type countIn struct {
//		N int `prefect:"n"`
//	}
//	type squareIn struct {
//		X int `prefect:"x"`
//	}
//
//	numbers := task.New("numbers", func(ctx context.Context, in countIn) ([]int, error) {
//		nums := make([]int, in.N)
//		for i := range nums {
//			nums[i] = i + 1
//		}
//		return nums, nil
//	})
//	square := task.New("square", func(ctx context.Context, in squareIn) (int, error) {
//		return in.X * in.X, nil
//	}, task.WithRetries(2, time.Second))
//
//	f := flow.New("squares")
//	n := flow.Parameter(f, "n", flow.WithDefault(3))
//	nums := flow.Add(f, numbers, flow.Bind("n", n))
//	squares := flow.Map(f, square, flow.Bind("x", nums)) // square-1[0], square-1[1], ...
//
//	fs, err := runner.Run(ctx, f, runner.WithParameters(map[string]any{"n": 4}))
//	if err != nil {
//		return err // the run could not start: an invalid flow or parameters
//	}
//	fmt.Println(fs.State) // <Success: "All reference tasks succeeded.">
//	got, ok := runner.ResultOf(fs, squares)
//	fmt.Println(got, ok) // [1 4 9 16] true
//
// Where it differs from Prefect 1, for Go's sake (the behaviour is the same):
//
//   - Inputs are one struct per task, a field per input named by its
//     `prefect` tag, instead of keyword arguments; (*flow.Flow).Validate checks every
//     binding's name and type before anything runs.
//   - A task returns an error instead of raising an exception: the error fails
//     the task ("Error during execution of task: ..."), and a panic is
//     recovered into a failure.
//   - There is no `with Flow():` context: flow.Add returns an explicit
//     flow.Node handle, and downstream tasks name it in flow.Bind or flow.After.
//   - Signals (FAIL, SKIP, RETRY, SUCCESS, PAUSE) are errors a task returns,
//     task.Fail, task.Skip, task.Retry, ..., not exceptions it raises.
//
// Run the example in examples/etl for parameters, mapping, retries and a
// failure with its TriggerFailed downstream in one flow:
//
//	go run ./examples/etl -local
package prefect

// Package natsexec runs a flow's tasks on worker processes through a NATS
// JetStream work queue.
//
// A flow program runs a flow as usual, with this package's executor:
//
//	nc, err := nats.Connect(url)
//	...
//	fs, err := runner.Run(ctx, f, runner.WithExecutor(natsexec.Executor(nc, f)))
//
// and one or more worker processes, built from the same flow code, serve
// the queue until their context ends:
//
//	err := natsexec.Serve(ctx, nc, []*flow.Flow{f})
//
// The runner keeps all the bookkeeping where the flow runs (readiness,
// triggers, retries, mapping, state handlers, caching, checkpoints,
// reporting); only the call of the task's function crosses the wire. For
// each task run the executor calls [runner.TaskRun.Start] and, when the
// function is to be called, publishes one JSON message to the stream
// (default "PREFECT_TASKS", subject "prefect.tasks.<flow name>", in which
// whitespace, '.', '*' and '>' become '_'; the stream is created as a
// work-queue stream if missing):
//
//	{"flow": "etl", "flow_run_id": "…", "task_run_id": "…", "run_count": 1,
//	 "slug": "transform-1", "map_index": -1, "inputs": [3, "x", null],
//	 "reply": "_INBOX.…"}
//
// inputs holds each of the task's inputs in the order of its Spec().Inputs,
// each encoded with encoding/json (null for an unbound optional input). A
// worker consumes the stream with a durable pull consumer, finds the task
// by flow name and slug in the flow's [flow.Graph], decodes each input into
// its Go type, calls the task under its task.WithTimeout, and answers on
// the reply subject with the result as JSON and the error as its kind and
// text: a signal (task.Fail, Skip, Retry, Succeed, Pause) keeps its state
// and message, a timeout stays a timeout, a panic becomes a
// *runner.PanicError holding the panic value's text, any other error keeps
// its text only. It acknowledges the message after answering, so a worker
// that dies mid-task leaves the message to be redelivered. The executor
// decodes the result into the task's result type and passes both to
// [runner.TaskRun.Complete]; an answer to an attempt no longer in flight (a
// redelivery answered twice) is dropped. Results and inputs must therefore
// survive a round trip through encoding/json: [Check] says which do not
// (channels, functions, interfaces such as any, ...), and a flow run on the
// executor fails to start, before any task runs, when one does not. A
// worker that does not hold
// the flow, or whose flow has no task of that slug, answers with an error
// saying so and the task run fails.
//
// # Secrets
//
// A secret never goes on the wire. A secret task (tasks.PrefectSecret, or
// any task.AsSecret) and every task downstream of one (whose inputs may be
// or hold the secret) run in the flow program, with
// [runner.TaskRun.Execute], as [runner.TaskRun] asks of every executor that
// calls tasks elsewhere. Put the tasks that need credentials, and what
// follows from them, where the credentials are.
//
// # Not yet
//
// This is a first slice. Not done yet: a run context on the worker
// (runner.FromContext inside a task run by a worker reports nothing), log
// forwarding from workers, heartbeats from workers to the flow program and
// tuning of redelivery timing (a worker marks its message in progress every
// 10 s while the task runs; the message of a worker silent for 30 s is
// redelivered, and the task may then run twice, its second answer being
// dropped), checking that the worker runs the same version of the flow program,
// cancellation reaching the workers (a cancelled flow run stops waiting,
// but the worker finishes the call), tests against a separate nats-server
// binary, and benchmarks.
package natsexec

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
//	{"flow": "etl", "flow_version": "3f1c…", "flow_run_id": "…",
//	 "task_run_id": "…", "run_count": 1, "slug": "transform-1",
//	 "map_index": -1, "inputs": [3, "x", null],
//	 "context": {"flow_run_name": "…", "parameters": {"n": 3}, …},
//	 "reply": "_INBOX.…"}
//
// inputs holds each of the task's inputs in the order of its Spec().Inputs,
// each encoded with encoding/json (null for an unbound optional input). A
// worker takes jobs with a durable pull consumer, checks the flow's version,
// finds the task by flow name and slug in the flow's [flow.Graph], decodes
// each input into its Go type, calls the task under its task.WithTimeout,
// and answers on the reply subject with the result as JSON and the error
// as its kind and text: a signal (task.Fail, Skip, Retry, Succeed, Pause)
// keeps its state and message, a timeout stays a timeout, a panic becomes
// a *runner.PanicError holding the panic value's text, any other error
// keeps its text only. It acknowledges the job once the flow program
// confirmed the answer, so a worker that dies mid-task leaves the job to
// be delivered again. The executor decodes the result into the task's
// result type and passes both to [runner.TaskRun.Complete]; an answer to an
// attempt no longer in flight (a job delivered again, answered twice) is
// dropped. Results and inputs must therefore survive a round trip through
// encoding/json: [Check] says which do not (channels, functions,
// interfaces such as any, ...), and a flow run on the executor fails to
// start, before any task runs, when one does not. A worker that does not
// hold the flow answers with an error saying so, and the task run fails.
//
// # Secrets
//
// A secret never goes on the wire. A secret task (tasks.PrefectSecret, or
// any task.AsSecret) and every task downstream of one (whose inputs may be
// or hold the secret) run in the flow program, with
// [runner.TaskRun.Execute], as [runner.TaskRun] asks of every executor that
// calls tasks elsewhere. So do the tasks fed by a parameter whose type can
// hold a secrets.Value, whose value jobs do not carry either. Put the tasks
// that need credentials, and what follows from them, where the credentials
// are.
//
// # Versions
//
// A job names the flow's [Version], a digest of its shape (tasks, inputs
// and their Go types, results, timeouts, edges, parameters). A worker whose
// flow of that name has another version answers with an error naming both
// versions, and the task run fails: a worker left running an older build
// fails runs loudly rather than running them wrong. Deploy workers from
// the same build as the program that runs the flow.
//
// # Run context, logs and secrets on a worker
//
// A task on a worker sees the run context it would see in the flow
// program (runner.FromContext: flow run id and name, task run id and
// count, map index, parameters in their Go types, scheduled time). What it
// logs through the context's Logger travels back with the worker's
// heartbeats and its answer, and the flow program logs it through the run's
// logger, with its time, level and attributes: masked and reported to the
// server like every record of the run. A task that resolves a secret on the
// worker (secrets.Secret(...).Get, from the worker's own environment and
// configuration, [WithConfig]) has it masked in what the worker sends;
// a result that holds it is refused, so it never crosses the wire.
//
// # Failures, redelivery and cancellation
//
// JetStream delivers each job at least once. While a task runs, its worker
// heartbeats: every third of the ack wait ([WithAckWait], 30 s by default),
// or every second if that is sooner, it tells the server the message is in
// progress and the flow program that the task runs there. A worker that
// dies, hangs or is cut off stops heartbeating: the flow program logs a
// warning naming it after two missed heartbeats (and another when task
// runs have waited a whole ack wait with no worker saying anything, as
// when none serves the stream), and the server delivers
// the job again, to any worker, once the ack wait is over (up to
// [WithMaxDeliveries] times, 5 by default: a worker given it once more
// fails the task run rather than run it, so a task that crashes its
// worker does not take down every worker in turn). The task may then run
// twice; the first answer for an attempt (task run id and run
// count) completes it and any later one is dropped, so no result is applied
// twice.
//
// A worker sends its outcome as a request, and acknowledges the job
// only once the flow program confirmed it: an outcome whose confirmation
// does not come means the job runs again; one that nobody listens for (the
// flow run is over, or its program is cut off) drops the job, and a flow
// program whose connection comes back queues again the jobs it still
// waits for. A worker takes only as many jobs as it has free slots, so
// none waits in it past its ack wait. A flow program whose connection
// closes ends the task runs it waits for, Failed, rather than waiting
// forever. An outcome must fit in the server's max_payload (1 MiB by
// default): a bigger result fails its task run, saying so (return where
// the data is, not the data), and log records that do not fit are dropped,
// a record saying how many. Retries and timeouts keep their meaning: a
// retry is a new attempt, queued when the runner decides; a timeout is
// enforced by the worker.
//
// When a flow run's context ends (it is cancelled), the task runs waiting
// for workers end Cancelled at once; the executor tells the workers on the
// control subject (the bare subject prefix, outside the stream, so never
// stored), they cancel the context of the flow run's task runs they are
// running and drop its jobs they take later, and the executor deletes its
// jobs still queued.
//
// # Workers
//
// [Serve] is the worker as a library call; [Command] is the `worker`
// subcommand of a flow program (see package program), which drains on
// SIGTERM: it takes no more jobs and lets the running task runs finish and
// answer before it exits.
package natsexec

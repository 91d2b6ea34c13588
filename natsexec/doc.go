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
// (default "PREFECT_TASKS", created as a work-queue stream if missing), on
// the flow's subject ([Subject]: "prefect.tasks.etl" for flow "etl"):
//
//	{"flow": "etl", "flow_version": "3f1c…", "flow_run_id": "…",
//	 "task_run_id": "…", "run_count": 1, "slug": "transform-1",
//	 "map_index": -1, "inputs": [3, "x", null],
//	 "context": {"flow_run_name": "…", "parameters": {"n": 3}, …},
//	 "reply": "_INBOX.…", "ack_wait_ms": 30000}
//
// inputs holds each of the task's inputs in the order of its Spec().Inputs,
// each encoded with encoding/json (null for an unbound optional input). A
// worker takes jobs with the flow's durable pull consumer (see "Subjects
// and consumers"), checks the flow's version, finds the task by flow name
// and slug in the flow's [flow.Graph], decodes each input into its Go
// type, calls the task under its task.WithTimeout,
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
// start, before any task runs, when one does not.
//
// # Subjects and consumers
//
// Each flow has a subject of its own, the prefix and the flow's name as
// one token ("prefect.tasks.etl"), and a durable consumer of its own that
// takes only that subject ([ConsumerName]: "prefect-workers-etl"). A name
// that is not a valid token is encoded, without collisions: letters,
// digits, '-' and '_' stay, any other byte becomes ~XX ("my flow.v2" is
// "my~20flow~2Ev2"). An executor and the workers of one flow program
// derive both from the flow's name, so they agree with no configuration.
// A worker consumes the consumers of the flows it holds, one per flow,
// sharing its slots among them, and never sees another flow's job: flow
// programs share a NATS server with the defaults, each served by its own
// workers. A run of a flow that no worker holds waits, and says so once,
// early: when its task runs have waited three worker heartbeats (3 s with
// the default ack wait) and no worker has said anything, it logs a
// warning to the flow run's logger, "natsexec: waiting for workers",
// naming the flow, stream, subject, consumer and NATS server (and the
// command that starts a worker, [WithWorkerCommand]); it says it again
// only after a worker was heard and then went quiet. A work-queue stream gives each subject to one
// consumer, so a consumer that takes several flows' subjects (or all, as
// the earlier shared one did; see "Upgrading") cannot stand beside them.
//
// The consumer is per flow, not per flow version. Per version, a newer
// build's runs would wait for newer workers while the old ones finish the
// old runs, but a run of a version no worker holds would wait, with a
// warning at most, rather than fail, and every change of a flow's shape
// would leave a consumer behind on the server. Per flow, there is one consumer a flow,
// and a worker of another version still takes the job and fails the task
// run, naming both versions (see "Versions"): the failure is loud, at the
// cost of a rolling upgrade, where old and new workers share the
// consumer. Stop (drain) the old workers, then start the new ones; two
// programs that hold different flows of the same name need different
// streams ([WithStream]) or consumer names ([WithDurable]).
//
// # Secrets
//
// A secret never goes on the wire. A secret task (tasks.PrefectSecret, or
// any task.WithSecretResult) and every task downstream of one (whose inputs may be
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
// heartbeats: every third of the ack wait in force (30 s by default), or
// every second if that is sooner, it tells the server the message is in
// progress and the flow program that the task runs there.
//
// The ack wait is the flow program's: each flow run creates or updates
// the flow's consumer with its executor's [WithAckWait] (the
// configuration's [AckWaitKey], PREFECT__NATS__ACK_WAIT, in a program
// made with [Program]) before it queues a job, and each job carries it. A
// worker never changes an existing consumer's ack wait: it reads the
// consumer's when it starts, and heartbeats at a third of the smaller of
// that and the job's, whatever it was given itself. Its own setting
// (WithAckWait, --ack-wait) is the ack wait of a consumer it creates
// before any run of the flow did; when it differs from the one in force,
// the worker logs a warning naming both, once. So a worker started with
// a short --ack-wait beside others changes nothing for them, and a worker
// started with a long one still heartbeats fast enough to keep its job.
// Flow programs that run the same flow on one server should agree on it
// (they are the same build): the last run to start sets it.
//
// A worker that dies, hangs or is cut off stops heartbeating: the flow
// program logs a warning naming it after two missed heartbeats (and
// another when task runs have waited a whole ack wait with no worker
// saying anything, as when none holds the flow), and the server delivers
// the job again, to any worker of the flow, once the ack wait is over (up to
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
//
// # Upgrading
//
// Versions of this package before per-flow consumers had every worker
// share one consumer, "prefect-workers", on "prefect.tasks.>". On a
// work-queue stream it takes every flow's subject, and no per-flow
// consumer can be made beside it; so the first worker of this version to
// start (it says so in its log, at WARN) or the first flow run of this
// version (on a work-queue stream, when it is in the way) deletes it:
// there is nothing to do by hand. Jobs still queued stay in the stream,
// and the flow's consumer delivers them: the subject of a flow whose name
// is letters, digits, '-' and '_' is what it was. (The earlier build wrote
// other characters as '_': its jobs for "my flow" went to
// "prefect.tasks.my_flow", which no consumer of this version takes; the
// runs that queued them wait, their flow programs warn, and they are to
// be cancelled.) Workers of the earlier build still running lose their
// consumer and exit with an error ("consumer not found"); restarted, they
// cannot make it again beside the per-flow consumers of a work-queue
// stream. Upgrade the workers and the flow programs together, as a change
// of a flow's version asks anyway. A consumer of that name with another
// filter is left alone.
package natsexec

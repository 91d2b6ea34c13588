// Package client talks to a Prefect server: the secrets of Prefect Cloud's
// GraphQL API, which Prefect Cloud and this project's server (package
// server) both answer, and the orchestration of flow runs, which this
// project's server answers. Every call needs an API key of the tenant.
//
//	c, err := client.New("https://api.prefect.io", client.WithAPIKey(key))
//
// # Secrets
//
//	err = c.SetSecret(ctx, "DB_PASSWORD", "hunter2") // any JSON value
//	v, err := c.SecretValue(ctx, "DB_PASSWORD")     // errors.Is(err, client.ErrNotFound) when missing
//	names, err := c.SecretNames(ctx)                 // names only, never values
//	err = c.DeleteSecret(ctx, "DB_PASSWORD")
//
// A server with many secrets lists them a page at a time, sorted, each
// page costing it the same however many there are: [Client.SecretNamesPage]
// returns one page and the cursor of the next, [Client.AllSecretNames]
// iterates over all of them holding one page at a time. These use this
// project's secrets_page query; against Prefect Cloud, which lacks it,
// AllSecretNames falls back on secret_names.
//
//	for name, err := range c.AllSecretNames(ctx, "", 0) { ... }
//
// [FromConfig] builds the client from Prefect's configuration (cloud.api,
// cloud.api_key, cloud.tenant_id). A run reaches the secret server the
// configuration names by itself (backend = "cloud", cloud.use_local_secrets
// = false); [NewSource] makes a client set up otherwise the
// [secrets.Source] it falls back on:
//
//	c, err := client.FromConfig(cfg, client.WithTimeout(30*time.Second))
//	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithBackend(client.NewSource(c)))
//
// # Flow runs
//
// A flow run goes across three programs, each a client of the server; its
// state is a [state.Kind], written on the wire by its Prefect name:
//
//  1. A flow program (package program) registers its flows:
//     [Client.RegisterFlow] with the definition, labels, the command that
//     executes a run and a run-config environment, which the server keeps
//     sealed. A changed flow is a new version.
//  2. A person or program creates a run, Scheduled: [Client.CreateFlowRun]
//     of a flow's newest version (by name) or of a version (by ID), with
//     parameters and an environment of its own.
//  3. An agent (package agent) claims Scheduled runs whose labels it has:
//     [Client.ClaimFlowRuns] makes them Submitted, each to one agent only;
//     [Client.FlowRunEnv] reads a claimed run's environment, and the agent
//     starts the flow's command with it.
//  4. The flow program sets the run Running ([Client.SetFlowRunState]),
//     reports task runs' states and log lines ([Client.SetTaskRunStates],
//     [Client.WriteRunLogs]), calls [Client.Heartbeat], and sets Success or
//     Failed. An agent whose process died sets Failed
//     ([Client.SetFlowRunStateAs], which changes only runs it claimed).
//  5. [Client.CancelFlowRun] makes a Scheduled run Cancelled at once, a
//     Submitted or Running one Cancelling: its agent, polling
//     [Client.FlowRunState], kills the process and sets Cancelled.
//
// People and tools read runs with [Client.FlowRuns], [Client.FlowRun]
// (with its task runs) and [Client.FlowRunLogs], and flows with
// [Client.Flows] and [Client.Flow]. A state change is made only from the
// version read: a run changed meanwhile fails with an error matching
// [ErrConflict], a missing one with [ErrRunNotFound].
//
//	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Parameters: map[string]any{"day": "2024-01-31"}})
//	runs, err := c.FlowRuns(ctx, 20, state.Running, state.Cancelling) // the newest 20 of these
//	if run, err = c.FlowRun(ctx, run.ID); err == nil && run.State.IsFinished() { ... }
//
// # The wire
//
// It does what Prefect 1's Python client does: it POSTs
// {"query": ..., "variables": ...} as application/json to the URL as given,
// the variables being a JSON-encoded string rather than an object, with
// "Authorization: Bearer <key>" when there is a key, and
// "X-Prefect-Tenant-Id: <id>" when there is a tenant ID.
//
// Failures: network errors, attempts that time out (10s each by default,
// [WithTimeout]), HTTP 429 and 5xx are retried with exponential backoff and
// jitter, following any Retry-After ([WithRetries]; 3 retries by default);
// the context bounds the whole call. Nothing else is retried. A missing
// secret matches [ErrNotFound] (and secrets.ErrNotFound), a refused or
// missing key [ErrUnauthenticated]; other answers of the API are a
// *[GraphQLError]. No error ever shows the API key or a secret's value, and
// the package logs nothing.
package client

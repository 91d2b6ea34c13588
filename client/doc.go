// Package client talks to a secret server: Prefect Cloud's GraphQL secrets
// API, or any server that offers the same four operations.
//
//	c, err := client.New("https://api.prefect.io", client.WithAPIKey(key))
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
// cloud.api_key, cloud.tenant_id), and [NewSource] makes it the
// [secrets.Source] a run falls back on when backend = "cloud" and
// cloud.use_local_secrets = false:
//
//	c, err := client.FromConfig(cfg)
//	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithBackend(client.NewSource(c)))
//
// On the wire it does what Prefect 1's Python client does: it POSTs
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

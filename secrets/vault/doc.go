// Package vault reads secrets from HashiCorp Vault (or OpenBao, which
// speaks the same API), two ways:
//
//   - [Secret] is Prefect 1's VaultSecret task: a node of a flow that reads
//     one KV v2 secret, "<mount_point>/<path>", and hands its table to the
//     tasks bound to it, as tasks.PrefectSecret does with a run's secret.
//   - The store "vault", which importing this package registers with
//     package secrets: a run that misses a secret among its own asks Vault
//     for it, when the configuration lists "vault" in secrets.sources.
//     Secret NAME is read from the KV v2 secret <mount>/<path>/NAME.
//
// Both find Vault and log in the same way. The address is $VAULT_ADDR (or
// $vault_addr, or the store's address setting). The credentials are a
// secret of the run, VAULT_CREDENTIALS unless told otherwise, holding a
// table in one of Prefect's three shapes:
//
//	{"VAULT_TOKEN": "hvs.…"}                                 token
//	{"VAULT_ROLE_ID": "…", "VAULT_SECRET_ID": "…"}           AppRole, at approle/
//	{"VAULT_KUBE_AUTH_ROLE": "app", "VAULT_KUBE_AUTH_PATH": "kubernetes",
//	 "VAULT_KUBE_TOKEN_FILE": "/var/run/…/token"}            Kubernetes (file optional)
//
// Vault's other settings come from its usual variables (VAULT_CACERT,
// VAULT_SKIP_VERIFY, VAULT_NAMESPACE, ...); VAULT_TOKEN is never used: the
// credentials say how to log in; nor is VAULT_AGENT_ADDR: requests go to
// the address configured. The credentials secret is resolved from the
// run's local secrets and the secret server only (secrets.Credentials),
// never from a remote store.
//
// The store, for a configuration such as
//
//	[secrets]
//	sources = ["vault"]
//
//	[secrets.vault]
//	address = "https://vault.example.com:8200"  # else VAULT_ADDR
//	mount = "secret"                             # the KV v2 mount (default)
//	path = "prefect"                             # the prefix (default)
//	namespace = "team-a"                         # Vault Enterprise, optional
//
// logs in once when it opens, and is shared by every run of the process. A
// secret that holds a single key "value" is that value (so that
// `bao kv put secret/prefect/DB_PASSWORD value=…` gives a string); any other
// is its table. With AppRole or Kubernetes credentials the store logs in
// again at two thirds of its token's life, and once more when Vault answers
// 403 because the token has expired or been revoked; a token given as
// VAULT_TOKEN is used as it is. Should that timely login fail, the store
// carries on with its token while it is valid, and tries again later.
//
// A 404 of a path no mount serves, or of a mount that is not KV v2 (KV
// version 1, another engine), is an error matching [ErrNotKVv2], never a
// missing secret. A refusal ([ErrAuth], [ErrForbidden]) matches
// secrets.ErrAccessDenied, so that the cache never serves a stale value
// through access taken away; an outage does not.
//
// No error of this package holds a value, a token or a role's secret: they
// name the secret, the path or the setting. An address's userinfo
// ("https://user:pass@host") is hidden wherever it is printed. Values a task reads, and the
// tokens it logs in with, are registered with the run's masker
// (secrets.Mask) before anything can print them.
package vault

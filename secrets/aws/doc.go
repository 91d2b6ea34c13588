// Package aws reads secrets from AWS Secrets Manager and AWS Systems
// Manager Parameter Store, in two ways.
//
// # Tasks
//
// [SecretsManager] and [ParametersManager] are Prefect 1's
// AWSSecretsManager and AWSParametersManager: secret tasks whose result
// feeds the tasks that need it, printed as ******** and hidden in every
// log record, state and error of the run.
//
//	f := flow.New("nightly")
//	db := flow.Add(f, aws.SecretsManager("prod/db", aws.WithRegion("eu-west-1")))
//	flow.Add(f, migrate, flow.Bind("db", db)) // {"user": ..., "password": ...}
//
// A task finds its credentials as Prefect's get_boto_client does: its
// "credentials" input when bound (to tasks.PrefectSecret("AWS_CREDENTIALS"),
// say); else the secret AWS_CREDENTIALS (or the one [WithCredentialsSecret]
// names), from the run's local secrets and the secret server, never from a
// remote store (secrets.Credentials); else, that secret being set nowhere,
// the SDK's default chain: AWS_ACCESS_KEY_ID and its kin, the shared
// configuration files, the instance's or container's role. A credentials
// secret is a table:
//
//	{"ACCESS_KEY": "AKIA...", "SECRET_ACCESS_KEY": "...", "SESSION_TOKEN": "..."}
//
// with SESSION_TOKEN optional.
//
// # Stores
//
// Importing the package also registers both services as secret stores,
// "aws_secrets_manager" and "aws_parameter_store", which a run consults
// for any secret by name once the configuration lists them in
// secrets.sources (see package secrets):
//
//	import _ "github.com/prefect-go/prefect/secrets/aws"
//
//	# ~/.prefect/config.toml
//	[secrets]
//	sources = ["aws_secrets_manager"]
//	[secrets.aws_secrets_manager]
//	region = "eu-west-1"
//	prefix = "prod/"   # DB_PASSWORD is read as prod/DB_PASSWORD
//
// A store takes its credentials from the secret AWS_CREDENTIALS (from the
// run's local secrets or the secret server, never from a store), else from
// the SDK's default chain. [OpenSecretsManager] and [OpenParameterStore]
// list the settings.
//
// # What is read
//
// Secrets Manager gives a secret's SecretString, decoded when it is JSON,
// as Prefect does; a secret stored as SecretBinary is refused
// ([ErrBinarySecret]). Parameter Store gives a parameter's value as a
// string. A name the service does not hold is an error matching
// [secrets.ErrNotFound] (for a store, also a name it could never hold,
// such as one with a space, which is not sent); any other failure (access denied, throttling
// after the SDK's retries, a network error) wraps the SDK's error, so that
// errors.As reaches the service's own (a smithy.APIError), and is never
// taken for an absence. A refusal (AccessDeniedException,
// UnrecognizedClientException, InvalidSignatureException,
// ExpiredTokenException and their kin) also matches
// [secrets.ErrAccessDenied], so that a cache never serves a stale value
// through access taken away; throttling and network failures do not. No
// error holds a value or a credential: they name the secret and the
// service, whose endpoint's userinfo is hidden.
package aws

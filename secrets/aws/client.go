package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/aws/smithy-go"

	"github.com/prefect-go/prefect/internal/python"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
)

// This file is the one place where the tasks and the stores make their
// clients, parse credentials and read values, so that both read AWS alike.

// DefaultCredentialsSecret is the secret holding AWS credentials, the name
// Prefect's get_boto_client reads from the context.
const DefaultCredentialsSecret = "AWS_CREDENTIALS"

// The keys of a credentials table, Prefect's.
const (
	keyAccessKey    = "ACCESS_KEY"
	keySecretKey    = "SECRET_ACCESS_KEY"
	keySessionToken = "SESSION_TOKEN"
)

// ErrBadCredentials is matched by the error for credentials of the wrong
// shape: not a table, or a table without ACCESS_KEY and SECRET_ACCESS_KEY
// strings. The error names the keys expected, never what was given.
var ErrBadCredentials = errors.New("AWS credentials must be a table with the string keys " +
	keyAccessKey + " and " + keySecretKey + ", and optionally " + keySessionToken)

// credentialsProvider reads a credentials table, Prefect's shape:
//
//	{"ACCESS_KEY": "...", "SECRET_ACCESS_KEY": "...", "SESSION_TOKEN": "..."}
//
// It returns nil for the zero Value (the SDK's default chain then applies).
// Other keys are ignored, as Prefect ignores them. what names the table's
// origin for the error (a secret's name, or "the credentials input").
func credentialsProvider(v secrets.Value, what string) (awssdk.CredentialsProvider, error) {
	if v.IsZero() {
		return nil, nil
	}
	// Decode would convert a JSON string to a table, and its errors quote
	// no value, but a string that is not JSON must be refused by shape
	// alone: say what it is, never what it holds.
	m, err := secrets.As[map[string]any](v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, ErrBadCredentials)
	}
	str := func(k string) (string, bool) {
		s, ok := m[k].(string)
		return s, ok && s != ""
	}
	key, okKey := str(keyAccessKey)
	secret, okSecret := str(keySecretKey)
	token, okToken := str(keySessionToken)
	if !okKey || !okSecret {
		var missing []string
		if !okKey {
			missing = append(missing, keyAccessKey)
		}
		if !okSecret {
			missing = append(missing, keySecretKey)
		}
		return nil, fmt.Errorf("%s has no %s: %w", what, strings.Join(missing, " or "), ErrBadCredentials)
	}
	if _, set := m[keySessionToken]; set && !okToken {
		return nil, fmt.Errorf("%s: %s is not a non-empty string: %w", what, keySessionToken, ErrBadCredentials)
	}
	return credentials.NewStaticCredentialsProvider(key, secret, token), nil
}

// clientSettings says how to reach a service.
type clientSettings struct {
	region   string                     // empty: the SDK's (AWS_REGION, the profile)
	endpoint string                     // empty: AWS's own
	creds    awssdk.CredentialsProvider // nil: the SDK's default chain
}

// load returns the SDK configuration for s: the SDK's default loading
// (environment, shared files, instance roles), overridden by what s sets.
func (s clientSettings) load(ctx context.Context) (awssdk.Config, error) {
	var opts []func(*config.LoadOptions) error
	if s.region != "" {
		opts = append(opts, config.WithRegion(s.region))
	}
	if s.creds != nil {
		opts = append(opts, config.WithCredentialsProvider(s.creds))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	return cfg, nil
}

// describe names a service at a region and endpoint, for String and
// errors; it never includes credentials, nor the endpoint's userinfo.
func describe(service, region, endpoint, prefix string) string {
	if region == "" {
		region = "no region set"
	}
	parts := []string{region}
	if endpoint != "" {
		parts = append(parts, "endpoint "+redact.URL(endpoint))
	}
	if prefix != "" {
		parts = append(parts, "prefix "+prefix)
	}
	return service + " (" + strings.Join(parts, ", ") + ")"
}

// deniedCodes are the error codes with which AWS refuses credentials, or
// access with them: unknown, expired or badly signing credentials, or a
// policy that does not let them read.
var deniedCodes = map[string]bool{
	"AccessDeniedException":       true,
	"AccessDenied":                true,
	"UnrecognizedClientException": true,
	"InvalidClientTokenId":        true,
	"InvalidSignatureException":   true,
	"SignatureDoesNotMatch":       true,
	"ExpiredTokenException":       true,
	"ExpiredToken":                true,
}

// errDenied wraps an AWS refusal so that it also matches
// [secrets.ErrAccessDenied]: a cache must not serve a stale value through
// access taken away. Throttling and network failures are not refusals.
type errDenied struct{ err error }

func (e errDenied) Error() string { return e.err.Error() }
func (e errDenied) Unwrap() []error {
	return []error{secrets.ErrAccessDenied, e.err}
}

// classify wraps err in errDenied when AWS refused the request.
func classify(err error) error {
	if apiErr, ok := errors.AsType[smithy.APIError](err); ok && deniedCodes[apiErr.ErrorCode()] {
		return errDenied{err}
	}
	return err
}

// errNotHeld is what a reader returns for a name the service does not
// hold, wrapping the service's own error.
type errNotHeld struct{ err error }

func (e errNotHeld) Error() string { return e.err.Error() }
func (e errNotHeld) Unwrap() error { return e.err }

// smReader reads secrets from AWS Secrets Manager.
type smReader struct {
	client *secretsmanager.Client
	where  string
}

func newSMReader(ctx context.Context, s clientSettings, prefix string) (*smReader, error) {
	cfg, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = awssdk.String(s.endpoint)
		}
	})
	return &smReader{client: client, where: describe("AWS Secrets Manager", cfg.Region, s.endpoint, prefix)}, nil
}

// get returns the secret's SecretString. A secret the service does not
// hold is an errNotHeld. A secret stored as SecretBinary is an error:
// Prefect's task reads SecretString only, and fails (KeyError) without it;
// bytes have no place among the values a flow passes around.
func (r *smReader) get(ctx context.Context, id string) (string, error) {
	out, err := r.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(id)})
	if err != nil {
		if _, ok := errors.AsType[*smtypes.ResourceNotFoundException](err); ok {
			return "", errNotHeld{err}
		}
		return "", fmt.Errorf("reading secret %q from %s: %w", id, r.where, classify(err))
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %q in %s holds SecretBinary, not SecretString: %w", id, r.where, ErrBinarySecret)
	}
	return *out.SecretString, nil
}

// ErrBinarySecret is matched by the error for a Secrets Manager secret
// stored as SecretBinary: only SecretString is read, as in Prefect.
var ErrBinarySecret = errors.New("binary secrets are not read")

// ssmReader reads parameters from AWS Systems Manager Parameter Store.
type ssmReader struct {
	client  *ssm.Client
	where   string
	decrypt bool
}

func newSSMReader(ctx context.Context, s clientSettings, prefix string, decrypt bool) (*ssmReader, error) {
	cfg, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = awssdk.String(s.endpoint)
		}
	})
	return &ssmReader{client: client, where: describe("AWS Systems Manager Parameter Store", cfg.Region, s.endpoint, prefix), decrypt: decrypt}, nil
}

// get returns the parameter's value. A parameter the service does not hold
// is an errNotHeld.
func (r *ssmReader) get(ctx context.Context, name string) (string, error) {
	out, err := r.client.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String(name), WithDecryption: awssdk.Bool(r.decrypt)})
	if err != nil {
		_, notFound := errors.AsType[*ssmtypes.ParameterNotFound](err)
		_, noVersion := errors.AsType[*ssmtypes.ParameterVersionNotFound](err)
		if notFound || noVersion {
			return "", errNotHeld{err}
		}
		return "", fmt.Errorf("reading parameter %q from %s: %w", name, r.where, classify(err))
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", fmt.Errorf("parameter %q in %s came back without a value", name, r.where)
	}
	return *out.Parameter.Value, nil
}

// decodeJSON is Prefect's rule for a SecretString: JSON text gives its
// value (a table, most often), any other text is the string itself.
func decodeJSON(s string) any {
	if v, err := python.DecodeJSON([]byte(s)); err == nil {
		return v
	}
	return s
}

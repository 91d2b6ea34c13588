package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/secrets"
)

// The kinds of store this package registers, as secrets.sources names them.
const (
	SecretsManagerStore = "aws_secrets_manager"
	ParameterStore      = "aws_parameter_store"
)

func init() {
	secrets.RegisterStore(SecretsManagerStore, secrets.StoreKind{Open: OpenSecretsManager, Credentials: DefaultCredentialsSecret})
	secrets.RegisterStore(ParameterStore, secrets.StoreKind{Open: OpenParameterStore, Credentials: DefaultCredentialsSecret})
}

// ErrBadSetting is matched by the error for an unknown or ill-typed key of
// a store's configuration table. The error names the key and the valid ones.
var ErrBadSetting = errors.New("bad setting")

// storeSettings are the keys of a store's table.
type storeSettings struct {
	region, endpoint, prefix string
	decrypt                  bool
}

// parseSettings reads a store's table; valid maps each key it takes to
// the kind of value the key holds ("string" or "boolean").
func parseSettings(kind string, m map[string]any, valid map[string]string) (storeSettings, error) {
	s := storeSettings{decrypt: true}
	keys := slices.Sorted(maps.Keys(valid))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		want, ok := valid[k]
		if !ok {
			return s, fmt.Errorf("secrets.%s: unknown setting %q; the settings are %s: %w", kind, k, strings.Join(keys, ", "), ErrBadSetting)
		}
		v := m[k]
		switch want {
		case "string":
			str, ok := v.(string)
			if !ok {
				return s, fmt.Errorf("secrets.%s: setting %q must be a string, not %s: %w", kind, k, config.Kind(v), ErrBadSetting)
			}
			switch k {
			case "region":
				s.region = str
			case "endpoint":
				s.endpoint = str
			case "prefix":
				s.prefix = str
			}
		case "boolean":
			b, ok := v.(bool)
			if !ok {
				return s, fmt.Errorf("secrets.%s: setting %q must be a boolean (true or false), not %s: %w", kind, k, config.Kind(v), ErrBadSetting)
			}
			s.decrypt = b
		}
	}
	return s, nil
}

// clientFor turns a store's settings and credentials into clientSettings.
func clientFor(st secrets.StoreSettings, s storeSettings) (clientSettings, error) {
	name := st.CredentialsName
	if name == "" {
		name = DefaultCredentialsSecret
	}
	creds, err := credentialsProvider(st.Credentials, "secret "+name)
	if err != nil {
		return clientSettings{}, fmt.Errorf("secrets.%s: %w", st.Kind, err)
	}
	return clientSettings{region: s.region, endpoint: s.endpoint, creds: creds}, nil
}

// OpenSecretsManager opens AWS Secrets Manager as a secret store: the
// [secrets.StoreKind] registered as "aws_secrets_manager". Its settings,
// all optional, are region (else the SDK's: AWS_REGION, the profile),
// endpoint (another URL than AWS's, such as a VPC endpoint or a local
// imitation) and prefix (the secret NAME is read as prefix+NAME, so that
// "prod/" serves prod/DB_PASSWORD as DB_PASSWORD). Without credentials the
// SDK's default chain applies (environment, shared files, instance roles).
//
// Lookup returns the secret's SecretString, decoded when it is JSON, as
// Prefect's AWSSecretsManager task does.
func OpenSecretsManager(ctx context.Context, st secrets.StoreSettings) (secrets.Source, error) {
	s, err := parseSettings(st.Kind, st.Settings, map[string]string{"region": "string", "endpoint": "string", "prefix": "string"})
	if err != nil {
		return nil, err
	}
	cs, err := clientFor(st, s)
	if err != nil {
		return nil, err
	}
	r, err := newSMReader(ctx, cs, s.prefix)
	if err != nil {
		return nil, fmt.Errorf("secrets.%s: %w", st.Kind, err)
	}
	return &smSource{r: r, prefix: s.prefix}, nil
}

// OpenParameterStore opens AWS Systems Manager Parameter Store as a secret
// store: the [secrets.StoreKind] registered as "aws_parameter_store". Its
// settings are those of [OpenSecretsManager] (a prefix such as "/prod/"
// reads hierarchical names) and decrypt (default true): whether a
// SecureString is read decrypted, which needs kms:Decrypt on its key.
//
// Lookup returns the parameter's value as a string; the resolver decodes
// it when it is JSON, as it does every secret.
func OpenParameterStore(ctx context.Context, st secrets.StoreSettings) (secrets.Source, error) {
	s, err := parseSettings(st.Kind, st.Settings, map[string]string{"region": "string", "endpoint": "string", "prefix": "string", "decrypt": "boolean"})
	if err != nil {
		return nil, err
	}
	cs, err := clientFor(st, s)
	if err != nil {
		return nil, err
	}
	r, err := newSSMReader(ctx, cs, s.prefix, s.decrypt)
	if err != nil {
		return nil, fmt.Errorf("secrets.%s: %w", st.Kind, err)
	}
	return &ssmSource{r: r, prefix: s.prefix}, nil
}

// smSource is AWS Secrets Manager as a [secrets.Source]. It holds nothing
// that changes, and the SDK's client is safe for concurrent use.
type smSource struct {
	r      *smReader
	prefix string
}

var _ secrets.Source = (*smSource)(nil)

// Lookup returns the secret prefix+name: the JSON-decoded SecretString,
// or the string itself when it is not JSON.
func (s *smSource) Lookup(ctx context.Context, name string) (any, error) {
	if !validName(s.prefix+name, smNameChars) {
		return nil, &secrets.NotFoundError{Name: name, Tried: []string{s.r.where}}
	}
	raw, err := s.r.get(ctx, s.prefix+name)
	if err != nil {
		return nil, storeError(err, name, s.r.where)
	}
	return decodeJSON(raw), nil
}

// String describes the store: its region, endpoint and prefix.
func (s *smSource) String() string { return s.r.where }

// ssmSource is AWS Systems Manager Parameter Store as a [secrets.Source].
type ssmSource struct {
	r      *ssmReader
	prefix string
}

var _ secrets.Source = (*ssmSource)(nil)

// Lookup returns the value of the parameter prefix+name.
func (s *ssmSource) Lookup(ctx context.Context, name string) (any, error) {
	if !validName(s.prefix+name, ssmNameChars) {
		return nil, &secrets.NotFoundError{Name: name, Tried: []string{s.r.where}}
	}
	raw, err := s.r.get(ctx, s.prefix+name)
	if err != nil {
		return nil, storeError(err, name, s.r.where)
	}
	return raw, nil
}

// String describes the store: its region, endpoint and prefix.
func (s *ssmSource) String() string { return s.r.where }

// storeError turns a reader's error into a store's: a name not held is
// secrets' own not-found error, so that the resolver can go on to the next
// place and list this one among those it tried; anything else (throttling,
// access denied, a network failure) stays a failure, which a cache must not
// mistake for an absence.
func storeError(err error, name, where string) error {
	if errors.As(err, new(errNotHeld)) {
		return &secrets.NotFoundError{Name: name, Tried: []string{where}}
	}
	return err
}

// The characters of the names each service can hold. A store is asked for
// whatever secret a run does not hold itself, by any name; AWS answers a
// name it could never hold with ValidationException, a failure that would
// stop the run rather than let it ask the next source, so such a name is
// not found, without a request. (The tasks send any name, an ARN say, and
// report what AWS answers.)
const (
	alnum        = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	smNameChars  = alnum + "/_+=.@-"
	ssmNameChars = alnum + "/_.-"
)

// validName reports whether name is non-empty and has only valid characters.
func validName(name, valid string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !strings.ContainsRune(valid, r) {
			return false
		}
	}
	return true
}

package aws_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/smithy-go"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/prefect-go/prefect/internal/mototest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/aws"
	"github.com/prefect-go/prefect/secrets/secretstest"
)

// A store kind, as the tests open it.
type storeKind struct {
	name string
	open func(context.Context, secrets.StoreSettings) (secrets.Source, error)
	// prefix returns a prefix of names no other test uses.
	prefix func() string
	put    func(t testing.TB, name string, v any)
}

func storeKinds() []storeKind {
	return []storeKind{
		{aws.SecretsManagerStore, aws.OpenSecretsManager,
			func() string { return unique() + "/" },
			func(t testing.TB, name string, v any) { putSecret(t, name, v) }},
		{aws.ParameterStore, aws.OpenParameterStore,
			func() string { return "/" + unique() + "/" },
			func(t testing.TB, name string, v any) { putParameter(t, name, v, ssmtypes.ParameterTypeSecureString) }},
	}
}

// openAt opens a store of kind k at endpoint with the given settings
// added to region and endpoint, and credentials.
func (k storeKind) openAt(t testing.TB, endpoint string, settings map[string]any, creds secrets.Value) secrets.Source {
	t.Helper()
	m := map[string]any{"region": region, "endpoint": endpoint}
	for key, v := range settings {
		m[key] = v
	}
	src, err := k.open(testwait.Context(t), secrets.StoreSettings{Kind: k.name, Settings: m, CredentialsName: "AWS_CREDENTIALS", Credentials: creds})
	if err != nil {
		t.Fatalf("opening %s: %v", k.name, err)
	}
	return src
}

func TestStoresPassTheConformanceSuite(t *testing.T) {
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			secretstest.Run(t, func(t *testing.T, held map[string]any) secrets.Source {
				prefix := k.prefix()
				for name, v := range held {
					k.put(t, prefix+name, v)
				}
				return k.openAt(t, mototest.Shared(t).URL, map[string]any{"prefix": prefix}, secrets.NewValue(creds("AKIDSUITE")))
			})
		})
	}
}

func TestStoresAreRegistered(t *testing.T) {
	for _, name := range []string{"aws_secrets_manager", "aws_parameter_store"} {
		if !slices.Contains(secrets.Stores(), name) {
			t.Errorf("secrets.Stores() = %v; want %q among them", secrets.Stores(), name)
		}
	}
}

func TestStoreValues(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	ctx := testwait.Context(t)
	prefix := unique()
	putSecret(t, prefix+"/TABLE", map[string]any{"user": "u", "password": leak})
	putSecret(t, prefix+"/PLAIN", leak)
	putParameter(t, "/"+prefix+"/SECURE", leak, ssmtypes.ParameterTypeSecureString)
	putParameter(t, "/"+prefix+"/JSON", `{"a":1}`, ssmtypes.ParameterTypeString)
	endpoint := mototest.Shared(t).URL
	sm := storeKinds()[0].openAt(t, endpoint, map[string]any{"prefix": prefix + "/"}, secrets.Value{})
	ps := storeKinds()[1].openAt(t, endpoint, nil, secrets.Value{})
	raw := storeKinds()[1].openAt(t, endpoint, map[string]any{"decrypt": false}, secrets.Value{})

	for _, c := range []struct {
		name string
		src  secrets.Source
		key  string
		want any
	}{
		{"SecretsManagerDecodesJSON", sm, "TABLE", map[string]any{"user": "u", "password": leak}},
		{"SecretsManagerString", sm, "PLAIN", leak},
		{"ParameterStoreDecrypts", ps, "/" + prefix + "/SECURE", leak},
		{"ParameterStoreKeepsJSONText", ps, "/" + prefix + "/JSON", `{"a":1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.src.Lookup(ctx, c.key)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", c.want) || secrets.NewValue(got).Reveal() != secrets.NewValue(c.want).Reveal() {
				t.Errorf("Lookup(%q) gave a %T that differs from the %T stored", c.key, got, c.want)
			}
		})
	}
	t.Run("ParameterStoreWithoutDecrypt", func(t *testing.T) {
		got, err := raw.Lookup(ctx, "/"+prefix+"/SECURE")
		if err != nil {
			t.Fatal(err)
		}
		if got == leak {
			t.Errorf("decrypt = false read the SecureString decrypted")
		}
	})
}

// A store without credentials uses the SDK's default chain: here, the
// environment's access key.
func TestStoreDefaultChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENVSTORE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			p := newProxy(t)
			src := k.openAt(t, p.URL, nil, secrets.Value{})
			if _, err := src.Lookup(testwait.Context(t), "NOT_THERE"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("Lookup: %v; want ErrNotFound", err)
			}
			if keys := p.Keys(); !slices.Equal(keys, []string{"AKIDENVSTORE"}) {
				t.Errorf("requests signed with %v; want the environment's key", keys)
			}
		})
	}
}

// Failures other than a missing name are not ErrNotFound, wrap the
// service's error, and show no credential; refusals, and they only, match
// secrets.ErrAccessDenied.
func TestStoreFailuresAreNotNotFound(t *testing.T) {
	// The SDK retries throttling, with backoff; once is enough to see it.
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	for _, k := range storeKinds() {
		for _, code := range []string{"AccessDeniedException", "ExpiredTokenException", "UnrecognizedClientException", "ThrottlingException"} {
			t.Run(k.name+"/"+code, func(t *testing.T) {
				p := newProxy(t)
				keyID := map[string]string{"AccessDeniedException": "DENIED1", "ExpiredTokenException": "EXPIRED1",
					"UnrecognizedClientException": "UNRECOGNIZED1", "ThrottlingException": "THROTTLED1"}[code]
				src := k.openAt(t, p.URL, nil, secrets.NewValue(creds(keyID)))
				_, err := src.Lookup(testwait.Context(t), "DB_PASSWORD")
				if err == nil || errors.Is(err, secrets.ErrNotFound) {
					t.Fatalf("Lookup: %v; want a failure that is not ErrNotFound", err)
				}
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
					t.Errorf("errors.As(err, smithy.APIError) gives %v; want code %s", apiErr, code)
				}
				if !strings.Contains(err.Error(), "DB_PASSWORD") || strings.Contains(err.Error(), secretKey) {
					t.Errorf("the error %q should name the secret and show no credential", err)
				}
				if denied := code != "ThrottlingException"; errors.Is(err, secrets.ErrAccessDenied) != denied {
					t.Errorf("errors.Is(%v, secrets.ErrAccessDenied) = %v; want %v", err, !denied, denied)
				}
			})
		}
		t.Run(k.name+"/Unreachable", func(t *testing.T) {
			src := k.openAt(t, "http://127.0.0.1:1", nil, secrets.NewValue(creds("AKID")))
			_, err := src.Lookup(testwait.Context(t), "DB_PASSWORD")
			if err == nil || errors.Is(err, secrets.ErrNotFound) || errors.Is(err, secrets.ErrAccessDenied) {
				t.Errorf("Lookup from an unreachable endpoint: %v; want a failure matching neither ErrNotFound nor ErrAccessDenied", err)
			}
		})
	}
}

// An endpoint's userinfo never shows: not in String(), nor in an error.
func TestStoreHidesEndpointUserinfo(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	const pw = "endpoint-pa55-77c1"
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			src := k.openAt(t, "http://prefect:"+pw+"@127.0.0.1:1", nil, secrets.NewValue(creds("AKIDUSERINFO")))
			if s := src.String(); strings.Contains(s, pw) || !strings.Contains(s, "endpoint http://********@127.0.0.1:1") {
				t.Errorf("String() = %q; want the endpoint with its userinfo hidden", s)
			}
			_, err := src.Lookup(testwait.Context(t), "DB_PASSWORD")
			if err == nil || strings.Contains(err.Error(), pw) {
				t.Errorf("Lookup: %v; want a failure without the endpoint's password", err)
			}
			_, err = src.Lookup(testwait.Context(t), "not a name")
			if !errors.Is(err, secrets.ErrNotFound) || strings.Contains(err.Error(), pw) {
				t.Errorf("Lookup of a name AWS cannot hold: %v; want ErrNotFound without the endpoint's password", err)
			}
		})
	}
}

func TestStoreString(t *testing.T) {
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			src := k.openAt(t, "http://127.0.0.1:1", map[string]any{"prefix": "p/"}, secrets.NewValue(creds("AKIDSTRING")))
			s := src.String()
			service := map[string]string{aws.SecretsManagerStore: "AWS Secrets Manager", aws.ParameterStore: "AWS Systems Manager Parameter Store"}[k.name]
			if want := service + " (us-east-1, endpoint http://127.0.0.1:1, prefix p/)"; s != want {
				t.Errorf("String() = %q; want %q", s, want)
			}
			if strings.Contains(s, "AKIDSTRING") || strings.Contains(s, secretKey) {
				t.Errorf("String() shows credentials: %q", s)
			}
		})
	}
}

func TestOpenRefusesBadSettings(t *testing.T) {
	sm, ps := storeKinds()[0], storeKinds()[1]
	for _, c := range []struct {
		name     string
		kind     storeKind
		settings map[string]any
		creds    secrets.Value
		is       error
		says     []string
	}{
		{"UnknownKey", sm, map[string]any{"regoin": "us-east-1"}, secrets.Value{}, aws.ErrBadSetting,
			[]string{`"regoin"`, "endpoint, prefix, region", "secrets.aws_secrets_manager"}},
		{"DecryptIsParameterStoreOnly", sm, map[string]any{"decrypt": true}, secrets.Value{}, aws.ErrBadSetting,
			[]string{`"decrypt"`, "endpoint, prefix, region"}},
		{"RegionNotString", ps, map[string]any{"region": int64(1)}, secrets.Value{}, aws.ErrBadSetting,
			[]string{`"region"`, "must be a string, not an integer"}},
		{"DecryptNotBool", ps, map[string]any{"decrypt": "yes"}, secrets.Value{}, aws.ErrBadSetting,
			[]string{`"decrypt"`, "must be a boolean", "not a string"}},
		{"PrefixTable", ps, map[string]any{"prefix": map[string]any{"a": leak}}, secrets.Value{}, aws.ErrBadSetting,
			[]string{`"prefix"`, "not a table"}},
		{"CredentialsString", ps, nil, secrets.NewValue(leak), aws.ErrBadCredentials,
			[]string{"AWS_CREDENTIALS", "ACCESS_KEY", "SECRET_ACCESS_KEY"}},
		{"CredentialsWithoutSecretKey", sm, nil, secrets.NewValue(map[string]any{"ACCESS_KEY": leak}), aws.ErrBadCredentials,
			[]string{"AWS_CREDENTIALS has no SECRET_ACCESS_KEY"}},
		{"CredentialsWithBadToken", sm, nil, secrets.NewValue(map[string]any{"ACCESS_KEY": "A", "SECRET_ACCESS_KEY": leak, "SESSION_TOKEN": 3}), aws.ErrBadCredentials,
			[]string{"SESSION_TOKEN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.kind.open(context.Background(), secrets.StoreSettings{Kind: c.kind.name, Settings: c.settings, CredentialsName: "AWS_CREDENTIALS", Credentials: c.creds})
			if !errors.Is(err, c.is) {
				t.Fatalf("Open: %v; want an error matching %v", err, c.is)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), leak) {
				t.Errorf("the error shows a value: %q", err)
			}
		})
	}
}

// Many runs share one store: concurrent lookups must each get their own
// answer (go test -race checks the rest).
func TestStoreConcurrentLookups(t *testing.T) {
	prefix := unique() + "/"
	for i := range 8 {
		putSecret(t, fmt.Sprintf("%sS%d", prefix, i), fmt.Sprintf("v%d", i))
	}
	src := storeKinds()[0].openAt(t, mototest.Shared(t).URL, map[string]any{"prefix": prefix}, secrets.NewValue(creds("AKIDCONC")))
	ctx := testwait.Context(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			got, err := src.Lookup(ctx, fmt.Sprintf("S%d", i%8))
			if err != nil {
				errs <- err
			} else if got != fmt.Sprintf("v%d", i%8) {
				errs <- fmt.Errorf("lookup %d got another secret's value", i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A name the service could never hold is not found, without a request:
// AWS would answer ValidationException, and the run would fail instead of
// asking its next source.
func TestStoreNamesAWSCannotHold(t *testing.T) {
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			p := newProxy(t)
			src := k.openAt(t, p.URL, nil, secrets.NewValue(creds("AKIDNAMES")))
			for _, name := range []string{"with space", "naïve", "x*", "a\nb", ""} {
				if _, err := src.Lookup(testwait.Context(t), name); !errors.Is(err, secrets.ErrNotFound) {
					t.Errorf("Lookup(%q): %v; want ErrNotFound", name, err)
				}
			}
			if keys := p.Keys(); len(keys) != 0 {
				t.Errorf("%d requests sent for names AWS cannot hold", len(keys))
			}
		})
	}
}

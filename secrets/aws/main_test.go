package aws_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/prefect-go/prefect/internal/mototest"
	"github.com/prefect-go/prefect/internal/testwait"
)

// TestMain runs the tests beside one moto server, started by the first
// test that needs it, with the SDK kept from the machine's AWS profiles
// and the instance metadata service (see package mototest).
func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

const region = "us-east-1"

// The credentials the tests use. moto accepts any; the proxy records which
// access key signed each request, so that a test can tell which source of
// credentials a task or store used.
const (
	secretKey = "sk-7d1e0c9b8a" // a credential: must never show
	leak      = "s3cr3t-value-3f9a1c"
)

// proxy stands between the SDK and moto: it records the access key ID of
// each request, and answers as AWS would for the keys that say so: an
// access key starting DENIED gets AccessDeniedException, EXPIRED
// ExpiredTokenException, UNRECOGNIZED UnrecognizedClientException,
// THROTTLED ThrottlingException.
type proxy struct {
	URL  string
	mu   sync.Mutex
	keys []string
}

func newProxy(t testing.TB) *proxy {
	t.Helper()
	target, err := url.Parse(mototest.Shared(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := accessKeyID(r.Header.Get("Authorization"))
		p.mu.Lock()
		p.keys = append(p.keys, key)
		p.mu.Unlock()
		for prefix, code := range map[string]string{"DENIED": "AccessDeniedException", "EXPIRED": "ExpiredTokenException", "UNRECOGNIZED": "UnrecognizedClientException", "THROTTLED": "ThrottlingException"} {
			if strings.HasPrefix(key, prefix) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.Header().Set("X-Amzn-Errortype", code)
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": "the proxy says " + code})
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Keys returns the access key IDs seen so far, in order.
func (p *proxy) Keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.keys...)
}

// accessKeyID reads the key ID from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...".
func accessKeyID(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}

// creds returns a credentials table with the given access key ID.
func creds(keyID string) map[string]any {
	return map[string]any{"ACCESS_KEY": keyID, "SECRET_ACCESS_KEY": secretKey}
}

// seedConfig is the SDK configuration the tests put values into moto with.
func seedConfig() awssdk.Config {
	return awssdk.Config{
		Region: region,
		Credentials: awssdk.CredentialsProviderFunc(func(context.Context) (awssdk.Credentials, error) {
			return awssdk.Credentials{AccessKeyID: "SEED", SecretAccessKey: secretKey}, nil
		}),
	}
}

func smClient(t testing.TB) *secretsmanager.Client {
	endpoint := mototest.Shared(t).URL
	return secretsmanager.NewFromConfig(seedConfig(), func(o *secretsmanager.Options) { o.BaseEndpoint = awssdk.String(endpoint) })
}

func ssmClient(t testing.TB) *ssm.Client {
	endpoint := mototest.Shared(t).URL
	return ssm.NewFromConfig(seedConfig(), func(o *ssm.Options) { o.BaseEndpoint = awssdk.String(endpoint) })
}

// unique returns a name part no other test uses: moto's state lives as
// long as the package's server.
func unique() string {
	var b [5]byte
	rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// putSecret stores a secret in moto's Secrets Manager: a string as it is,
// anything else as JSON text, or bytes as SecretBinary.
func putSecret(t testing.TB, name string, v any) {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: awssdk.String(name)}
	switch x := v.(type) {
	case []byte:
		in.SecretBinary = x
	default:
		s := jsonText(t, v)
		in.SecretString = &s
	}
	if _, err := smClient(t).CreateSecret(testwait.Context(t), in); err != nil {
		t.Fatalf("creating secret %s: %v", name, err)
	}
}

// putParameter stores a parameter in moto's Parameter Store.
func putParameter(t testing.TB, name string, v any, typ ssmtypes.ParameterType) {
	t.Helper()
	_, err := ssmClient(t).PutParameter(testwait.Context(t), &ssm.PutParameterInput{
		Name: awssdk.String(name), Value: awssdk.String(jsonText(t, v)), Type: typ,
	})
	if err != nil {
		t.Fatalf("putting parameter %s: %v", name, err)
	}
}

func jsonText(t testing.TB, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// motoURL returns the moto server's URL, for tests that need no proxy.
func motoURL(t testing.TB) string { return mototest.Shared(t).URL }

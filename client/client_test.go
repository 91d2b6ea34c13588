package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/secretstest"
)

// TestMain fails the package's tests if a request leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	apiKey = "key-0f3a9c-must-not-leak"
	leak   = "s3cr3t-value-must-not-leak"
)

// assertClean fails the test if err's text, or the messages of an API error
// in it, show the API key or any of the given secrets.
func assertClean(t *testing.T, err error, hidden ...string) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)}
	var api *client.GraphQLError
	if errors.As(err, &api) {
		texts = append(texts, api.Messages...)
	}
	for _, text := range texts {
		for _, h := range append([]string{apiKey}, hidden...) {
			if strings.Contains(text, h) {
				t.Errorf("an error shows a secret (%d bytes): %q", len(h), text)
			}
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // in the error; "" for no error
	}{
		{"", "no API URL given; set cloud.api"},
		{"   ", "no API URL given; set cloud.api"},
		{"api.prefect.io", `invalid API URL "api.prefect.io"`},
		{"ftp://api.prefect.io", `invalid API URL "ftp://api.prefect.io"`},
		{"http://", `invalid API URL "http://"`},
		{"http://a b/", `invalid API URL "http://a b/"`},
		// A password never shows, in an address that parses or not.
		{"ftp://u:s3cr3t-pw@api.prefect.io", `invalid API URL "ftp://********@api.prefect.io"`},
		{"https://u:s3cr3t%zz@api.prefect.io/graphql", `invalid API URL "https://********@api.prefect.io/graphql"`},
		{"https://api.prefect.io", ""},
		{"http://localhost:4200/graphql", ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := client.New(tc.url)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New(%q): %v", tc.url, err)
				}
				if got, want := c.String(), "secret server "+tc.url; got != want {
					t.Errorf("String() = %q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%q) = %v; want an error containing %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestStringHidesKey(t *testing.T) {
	c, err := client.New("https://api.prefect.io/graphql", client.WithAPIKey(apiKey), client.WithTenantID("t1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "secret server https://api.prefect.io/graphql"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	assertClean(t, errors.New(fmt.Sprintf("%v %+v %#v %s", c, c, c, c)))
	assertClean(t, errors.New(client.NewSource(c).String()))

	// A password in the URL stays out of String too.
	c, err = client.New("http://user:" + apiKey + "@h/graphql")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "secret server http://user:xxxxx@h/graphql"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, path := range []string{"/graphql", "", "/"} {
		t.Run("path="+path, func(t *testing.T) {
			f := startFake(t, apiKey, nil)
			c, err := client.New(f.URL+path, client.WithAPIKey(apiKey))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.CloseIdleConnections)
			ctx := context.Background()
			values := map[string]any{
				"PLAIN":      leak,
				"INT":        1234,
				"FLOAT":      2.5,
				"BOOL":       true,
				"TABLE":      map[string]any{"user": "u", "password": leak, "port": 5432},
				"LIST":       []any{"a", 1, nil},
				"JSON_TEXT":  `{"x": 42}`, // a string, kept as a string
				"lower_case": "lower",
				"WRAPPED":    secrets.NewValue(leak + "-wrapped"),
			}
			for name, v := range values {
				if err := c.SetSecret(ctx, name, v); err != nil {
					t.Fatalf("SetSecret(%q): %v", name, err)
				}
			}
			for name, v := range values {
				want := v
				if sv, ok := v.(secrets.Value); ok {
					want = sv.Reveal()
				}
				got, err := c.SecretValue(ctx, name)
				if err != nil {
					t.Fatalf("SecretValue(%q): %v", name, err)
				}
				if jsonText(got) != jsonText(want) {
					t.Errorf("SecretValue(%q) came back different (%T, want %T)", name, got, want)
				}
			}
			if got, err := c.SecretValue(ctx, "INT"); err != nil || got != 1234 {
				t.Errorf("SecretValue(INT) = %v (%T), %v; want the int 1234", got, got, err)
			}
			names, err := c.SecretNames(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, 0, len(values))
			for name := range values {
				want = append(want, name)
			}
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("SecretNames() = %q, want %q", names, want)
			}
			if err := c.DeleteSecret(ctx, "PLAIN"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SecretValue(ctx, "PLAIN"); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("SecretValue after DeleteSecret: %v; want ErrNotFound", err)
			}
			if _, ok := f.Secrets()["PLAIN"]; ok {
				t.Errorf("the server still holds PLAIN after DeleteSecret")
			}
			names, err = c.SecretNames(ctx)
			if err != nil || slices.Contains(names, "PLAIN") || len(names) != len(values)-1 {
				t.Errorf("SecretNames() after DeleteSecret = %q, %v", names, err)
			}
		})
	}
}

func TestEmptyList(t *testing.T) {
	f := startFake(t, apiKey, nil)
	names, err := newClient(t, f).SecretNames(context.Background())
	if err != nil || len(names) != 0 {
		t.Errorf("SecretNames() of an empty server = %q, %v; want none", names, err)
	}
}

func TestBadArguments(t *testing.T) {
	f := startFake(t, apiKey, nil)
	c := newClient(t, f)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"SetSecret no name", c.SetSecret(ctx, "", "v"), "A secret name must be provided."},
		{"SecretValue no name", func() error { _, err := c.SecretValue(ctx, ""); return err }(), "A secret name must be provided."},
		{"DeleteSecret no name", c.DeleteSecret(ctx, ""), "A secret name must be provided."},
		{"nil value", c.SetSecret(ctx, "X", nil), "the value is nil"},
		{"zero Value", c.SetSecret(ctx, "X", secrets.Value{}), "the value is nil"},
		{"unencodable value", c.SetSecret(ctx, "X", make(chan int)), "(a chan int) cannot be encoded as JSON"},
		{"nested Value", c.SetSecret(ctx, "X", map[string]any{"pw": secrets.NewValue(leak)}), "the value holds a secrets.Value"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error containing %q", tc.name, tc.err, tc.want)
		}
	}
	if err := c.SetSecret(ctx, "X", ""); err != nil {
		t.Errorf("SetSecret with an empty string: %v; the empty string is a JSON value", err)
	}
	if n := f.Attempts(); n != 1 {
		t.Errorf("the server got %d requests; want only the valid one", n)
	}
}

func TestNotFound(t *testing.T) {
	f := startFake(t, apiKey, map[string]any{"THERE": leak})
	c := newClient(t, f)
	ctx := context.Background()
	_, getErr := c.SecretValue(ctx, "NOT_THERE")
	delErr := c.DeleteSecret(ctx, "NOT_THERE")
	for what, err := range map[string]error{"SecretValue": getErr, "DeleteSecret": delErr} {
		if !errors.Is(err, client.ErrNotFound) || !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s of a missing secret: %v; want it to match client.ErrNotFound and secrets.ErrNotFound", what, err)
			continue
		}
		want := "The secret NOT_THERE was not found.  Please ensure that it was set correctly in your tenant: " + secrets.DocsURL
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.String()) {
			t.Errorf("%s: %q; want Prefect's message %q and where it looked", what, err, want)
		}
		var nf *secrets.NotFoundError
		if !errors.As(err, &nf) || nf.Name != "NOT_THERE" || !nf.Server {
			t.Errorf("%s: errors.As(*secrets.NotFoundError) = %+v", what, nf)
		}
		var api *client.GraphQLError
		if !errors.As(err, &api) || !slices.Contains(api.Messages, "No value found for the requested key") {
			t.Errorf("%s: errors.As(*GraphQLError) = %+v; want the API's message", what, api)
		}
		if errors.Is(err, client.ErrUnauthenticated) {
			t.Errorf("%s: %v matches ErrUnauthenticated", what, err)
		}
		assertClean(t, err, leak)
	}
	if !errors.Is(client.ErrNotFound, secrets.ErrNotFound) {
		t.Errorf("client.ErrNotFound does not match secrets.ErrNotFound")
	}
	if n := f.Attempts(); n != 2 {
		t.Errorf("%d requests; a missing secret is an answer, not retried", n)
	}
}

func TestUnauthenticated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    string // the client's key
		status int    // the fake's answer, when not the GraphQL error
	}{
		{"wrong key", apiKey, 0},
		{"no key", "", 0},
		{"HTTP 401", apiKey, http.StatusUnauthorized},
		{"HTTP 403", apiKey, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, "the-right-key", nil)
			if tc.status != 0 {
				f.set(func(f *fakeServer) { f.failN, f.failWith = 100, tc.status })
			}
			c := newClient(t, f, client.WithAPIKey(tc.key))
			_, err := c.SecretValue(context.Background(), "X")
			if !errors.Is(err, client.ErrUnauthenticated) {
				t.Fatalf("SecretValue with a refused key: %v; want ErrUnauthenticated", err)
			}
			if errors.Is(err, client.ErrNotFound) {
				t.Errorf("%v matches ErrNotFound", err)
			}
			assertClean(t, err)
			if tc.status == 0 && tc.key != "" && !strings.Contains(err.Error(), "UNAUTHENTICATED: invalid API key \"********\"") {
				t.Errorf("%q: want the API's message, the key masked", err)
			}
			if n := f.Attempts(); n != 1 {
				t.Errorf("%d attempts; an authentication failure is not retried", n)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(f *fakeServer)
		opts     []client.Option
		attempts int
		status   int // of the error's *GraphQLError; 0: no error wanted
		want     string
	}{
		{name: "503 twice, then success",
			setup:    func(f *fakeServer) { f.failN, f.failWith = 2, 503 },
			attempts: 3},
		{name: "429 honours Retry-After over a long backoff",
			setup:    func(f *fakeServer) { f.failN, f.failWith, f.after = 3, 429, "0" },
			opts:     []client.Option{client.WithRetries(3, time.Hour)},
			attempts: 4},
		{name: "dropped connections, then success",
			setup:    func(f *fakeServer) { f.dropN = 2 },
			attempts: 3},
		{name: "500 until the retries run out",
			setup:    func(f *fakeServer) { f.failN, f.failWith = 100, 500 },
			opts:     []client.Option{client.WithRetries(2, time.Millisecond)},
			attempts: 3, status: 500, want: "gave up after 3 attempts: the API answered HTTP 500 Internal Server Error: fake failure 500"},
		{name: "no retries",
			setup:    func(f *fakeServer) { f.failN, f.failWith = 100, 503 },
			opts:     []client.Option{client.WithRetries(0, time.Millisecond)},
			attempts: 1, status: 503, want: "gave up after 1 attempt: "},
		{name: "400 is not retried",
			setup:    func(f *fakeServer) { f.failN, f.failWith = 100, 400 },
			attempts: 1, status: 400, want: "the API answered HTTP 400 Bad Request: fake failure 400"},
		{name: "404 is not retried",
			setup:    func(f *fakeServer) { f.failN, f.failWith = 100, 404 },
			attempts: 1, status: 404},
		{name: "422 is not retried",
			setup:    func(f *fakeServer) { f.failN, f.failWith = 100, 422 },
			attempts: 1, status: 422},
		{name: "Retry-After longer than a minute ends the retries",
			setup:    func(f *fakeServer) { f.failN, f.failWith, f.after = 100, 503, "3600" },
			attempts: 1, status: 503, want: "the server asks to retry after 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, apiKey, map[string]any{"X": leak})
			f.set(tc.setup)
			c := newClient(t, f, tc.opts...)
			// A deadline that a wrong wait would pass: the client then
			// gives up at once rather than hang the test.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			v, err := c.SecretValue(ctx, "X")
			if n := f.Attempts(); n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
			assertClean(t, err, leak)
			if tc.status == 0 {
				if err != nil || v != leak {
					t.Fatalf("SecretValue: %v; want the value", err)
				}
				return
			}
			var api *client.GraphQLError
			if !errors.As(err, &api) || api.Status != tc.status {
				t.Fatalf("SecretValue: %v; want a *GraphQLError with status %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to contain %q", err, tc.want)
			}
			if errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrUnauthenticated) {
				t.Errorf("%v matches ErrNotFound or ErrUnauthenticated", err)
			}
		})
	}
}

func TestMutationsRetry(t *testing.T) {
	f := startFake(t, apiKey, nil)
	c := newClient(t, f)
	ctx := context.Background()
	f.set(func(f *fakeServer) { f.failN, f.failWith = 2, 502 })
	if err := c.SetSecret(ctx, "A", leak); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeServer) { f.failN, f.failWith = 2, 504 })
	if err := c.DeleteSecret(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeServer) { f.dropN = 1 })
	if _, err := c.SecretNames(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.Attempts(); n != 8 {
		t.Errorf("%d attempts, want 3+3+2", n)
	}
}

// TestTimeoutPerAttempt runs in a synctest bubble, so that the per-attempt
// timeout is measured on the bubble's clock: a loaded machine cannot make an
// answered attempt look hung. The fake is served in-process (see
// inProcessClient), as real network I/O does not block durably in a bubble.
func TestTimeoutPerAttempt(t *testing.T) {
	t.Run("hung twice, then success", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := inProcessFake(apiKey, map[string]any{"X": "v"})
			f.set(func(f *fakeServer) { f.hangN = 2 })
			c := inProcessClient(t, f, client.WithTimeout(250*time.Millisecond))
			start := time.Now()
			if v, err := c.SecretValue(context.Background(), "X"); err != nil || v != "v" {
				t.Fatalf("SecretValue = %v, %v", v, err)
			}
			if n := f.Attempts(); n != 3 {
				t.Errorf("%d attempts, want 3", n)
			}
			// Two timeouts and two backoffs of at most 1ms and 2ms (the
			// base is 1ms): the bubble's clock moved by that alone.
			if d := time.Since(start); d < 500*time.Millisecond || d > 510*time.Millisecond {
				t.Errorf("the call took %v; want two timeouts of 250ms and two short backoffs", d)
			}
		})
	})
	t.Run("always hung", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := inProcessFake(apiKey, map[string]any{"X": "v"})
			f.set(func(f *fakeServer) { f.hangN = 100 })
			c := inProcessClient(t, f, client.WithTimeout(50*time.Millisecond), client.WithRetries(1, time.Millisecond))
			_, err := c.SecretValue(context.Background(), "X")
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up after 2 attempts: no answer within 50ms") {
				t.Fatalf("SecretValue = %v; want the attempts to time out", err)
			}
			if n := f.Attempts(); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
		})
	})
}

// inProcessFake is a fake server with no listener, for inProcessClient.
func inProcessFake(key string, seed map[string]any) *fakeServer {
	f := &fakeServer{key: key, closed: make(chan struct{}), requests: make(chan struct{}, 1000), secrets: map[string]any{}}
	for k, v := range seed {
		f.secrets[k] = v
	}
	return f
}

// inProcessClient returns a client of f whose requests f serves on a
// goroutine of the test (see handlerTransport); the test fails on any
// problem f saw.
func inProcessClient(t *testing.T, f *fakeServer, opts ...client.Option) *client.Client {
	t.Helper()
	all := append([]client.Option{client.WithAPIKey(f.key), client.WithRetries(3, time.Millisecond),
		client.WithHTTPClient(&http.Client{Transport: handlerTransport{f.serve}})}, opts...)
	c, err := client.New("http://fake.invalid/graphql", all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range f.Problems() {
			t.Errorf("the fake server saw a bad request: %s", p)
		}
	})
	return c
}

// handlerTransport serves a request with a handler, in process: the
// handler runs on a goroutine of its own, and a request whose context ends
// first fails as a real transport's does.
type handlerTransport struct{ h http.HandlerFunc }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ht.h(rec, r)
	}()
	select {
	case <-done:
		return rec.Result(), nil
	case <-r.Context().Done():
		<-done // the handler sees the same context end
		return nil, r.Context().Err()
	}
}

// call runs fn on its own goroutine; its error comes on the channel.
func call(fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return done
}

// waitErr returns the error of a call, failing the test if the call is still
// running after a generous bound.
func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-testwait.Context(t).Done():
		t.Fatal("the call did not return after its cancellation")
		return nil
	}
}

func TestCancellation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeServer)
	}{
		{"while waiting to retry", func(f *fakeServer) { f.failN, f.failWith, f.after = 100, 503, "50" }},
		{"during an attempt", func(f *fakeServer) { f.hangN = 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, apiKey, map[string]any{"X": leak})
			f.set(tc.setup)
			c := newClient(t, f, client.WithRetries(5, time.Hour), client.WithTimeout(time.Hour))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := call(func() error { _, err := c.SecretValue(ctx, "X"); return err })
			<-f.requests // the first attempt has reached the server
			start := time.Now()
			cancel()
			err := waitErr(t, done)
			if !errors.Is(err, context.Canceled) || errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("SecretValue after cancel: %v; want context.Canceled", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the call took %v to end after the cancellation", d)
			}
			if n := f.Attempts(); n != 1 {
				t.Errorf("%d attempts after cancelling; want 1", n)
			}
			assertClean(t, err, leak)
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		f := startFake(t, apiKey, nil)
		c := newClient(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.SetSecret(ctx, "X", "v"); !errors.Is(err, context.Canceled) {
			t.Errorf("SetSecret with a cancelled context: %v", err)
		}
		if n := f.Attempts(); n != 0 {
			t.Errorf("%d requests sent with a cancelled context", n)
		}
	})
}

func TestDeadlineBeforeRetry(t *testing.T) {
	f := startFake(t, apiKey, nil)
	f.set(func(f *fakeServer) { f.failN, f.failWith, f.after = 100, 429, "30" })
	c := newClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.SecretNames(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "the next would start after the context's deadline") {
		t.Errorf("SecretNames = %v; want it to give up before the deadline", err)
	}
	var api *client.GraphQLError
	if !errors.As(err, &api) || api.Status != 429 {
		t.Errorf("%v: want the 429 answer in the chain", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; want no wait for a retry that cannot happen", d)
	}
	if n := f.Attempts(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestSetSecretFailed(t *testing.T) {
	f := startFake(t, apiKey, nil)
	f.set(func(f *fakeServer) { f.setFails = true })
	c := newClient(t, f)
	err := c.SetSecret(context.Background(), "X", leak)
	if err == nil || !strings.HasSuffix(err.Error(), ": Setting secret failed.") || !strings.Contains(err.Error(), `"X"`) {
		t.Fatalf("SetSecret answered success: false: %v; want Prefect's \"Setting secret failed.\"", err)
	}
	assertClean(t, err, leak)
	if n := f.Attempts(); n != 1 {
		t.Errorf("%d attempts; success: false is not retried", n)
	}
}

func TestErrorsHoldNoSecret(t *testing.T) {
	f := startFake(t, apiKey, nil)
	f.set(func(f *fakeServer) { f.echo = true })
	c := newClient(t, f)
	for _, tc := range []struct {
		value  any
		hidden []string
	}{
		{leak, []string{leak}},
		{`quote"and\backslash` + leak, []string{leak, `quote"and`}},
		{map[string]any{"user": "app", "password": leak + "-pw"}, []string{leak + "-pw"}},
		{987654321, []string{"987654321"}},
		{secrets.NewValue(leak + "-in-a-value"), []string{leak + "-in-a-value"}},
	} {
		err := c.SetSecret(context.Background(), "X", tc.value)
		if err == nil || !strings.Contains(err.Error(), `got invalid value {"input":{"name":"X","value":********}}`) &&
			!strings.Contains(err.Error(), `got invalid value {"input":{"name":"X","value":"********"}}`) {
			t.Errorf("SetSecret: %v; want the API's message with the value masked", err)
		}
		assertClean(t, err, tc.hidden...)
	}
}

func TestMalformedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		names   bool // call SecretNames rather than SecretValue
		want    string
	}{
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>"+leak+"</html>")
		}, false, "malformed answer: HTTP 200, Content-Type text/html, not a GraphQL JSON response"},
		{"no data, no errors", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{}`)
		}, false, "malformed answer: no data and no errors"},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			item := `"` + leak + `",`
			body := `{"data": {"secret_value": [` + strings.Repeat(item, (17<<20)/len(item)) + `""]}}`
			io.WriteString(w, body)
		}, false, "the answer (HTTP 200) is larger than 16 MiB"},
		{"secret_names not a list", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data": {"secret_names": {"a": "`+leak+`"}}}`)
		}, true, "the API's secret_names is not a list of names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				mu.Unlock()
				tc.handler(w, r)
			}))
			defer srv.Close()
			// A timeout that even a slow run of the 17 MiB answer stays under.
			c, err := client.New(srv.URL, client.WithRetries(3, time.Millisecond), client.WithTimeout(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			if tc.names {
				_, err = c.SecretNames(context.Background())
			} else {
				_, err = c.SecretValue(context.Background(), "X")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v; want an error containing %q", err, tc.want)
			}
			assertClean(t, err, leak)
			mu.Lock()
			defer mu.Unlock()
			if n != 1 {
				t.Errorf("%d attempts; a malformed answer is not retried", n)
			}
		})
	}
}

func TestTenantHeader(t *testing.T) {
	f := startFake(t, apiKey, map[string]any{"X": "v"})
	f.tenant = "tenant-42"
	c := newClient(t, f, client.WithTenantID("tenant-42"))
	if _, err := c.SecretValue(context.Background(), "X"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	f := startFake(t, apiKey, nil)
	c := newClient(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprintf("S%d", i)
			if err := c.SetSecret(context.Background(), name, i); err != nil {
				errs <- err
				return
			}
			v, err := c.SecretValue(context.Background(), name)
			if err != nil || v != i {
				errs <- fmt.Errorf("%s = %v, %v", name, v, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSource(t *testing.T) {
	secretstest.Run(t, func(t *testing.T, held map[string]any) secrets.Source {
		f := startFake(t, apiKey, held)
		return client.NewSource(newClient(t, f))
	})
}

// loadConfig loads a configuration from env alone: the home is an empty
// directory, so no user file is read.
func loadConfig(t *testing.T, env ...string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.WithEnv(env), config.WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFromConfig(t *testing.T) {
	f := startFake(t, apiKey, map[string]any{"FROM_SERVER": `{"user": "u"}`})
	f.tenant = "tenant-7"
	cfg := loadConfig(t,
		"PREFECT__CLOUD__API="+f.URL+"/graphql",
		"PREFECT__CLOUD__API_KEY="+apiKey,
		"PREFECT__CLOUD__TENANT_ID=tenant-7",
		"PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CONTEXT__SECRETS__LOCAL=local-value",
	)
	c, err := client.FromConfig(cfg, client.WithRetries(0, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	if got, want := c.String(), "secret server "+f.URL+"/graphql"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	ctx := context.Background()
	if v, err := c.SecretValue(ctx, "FROM_SERVER"); err != nil || v != `{"user": "u"}` {
		t.Errorf("SecretValue = %v, %v", v, err)
	}

	// A run's resolver falls back on the server for what is not local.
	r := secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithBackend(client.NewSource(c)))
	if v, err := r.Get(ctx, "LOCAL"); err != nil || v.Reveal() != "local-value" {
		t.Errorf("local secret: %v", err)
	}
	if v, err := r.Get(ctx, "FROM_SERVER"); err != nil || v.Reveal() != `{"user":"u"}` {
		t.Errorf("server secret: %v", err)
	}
	_, err = r.Get(ctx, "NOWHERE")
	var nf *secrets.NotFoundError
	if !errors.As(err, &nf) || !nf.Server || !strings.Contains(err.Error(), "secret server "+f.URL) {
		t.Errorf("missing secret: %v; want Prefect's message for server secrets", err)
	}
	if n := f.Attempts(); n != 3 {
		t.Errorf("%d requests; the local secret must not reach the server", n)
	}
}

// TestResolverSpeaksTheContract checks that the server a resolver reaches
// by itself, from configuration alone (package secrets, without this
// package), sends exactly the requests this client sends (the fake refuses
// any other) with the tenant header, finds what the server holds, and
// fails as this client's errors do: a refused key matches ErrUnauthenticated
// and never shows the key.
func TestResolverSpeaksTheContract(t *testing.T) {
	f := startFake(t, apiKey, map[string]any{"REMOTE": leak})
	f.tenant = "tenant-7"
	env := func(key string) *config.Config {
		return loadConfig(t, "PREFECT__CLOUD__API="+f.URL+"/graphql", "PREFECT__CLOUD__API_KEY="+key,
			"PREFECT__CLOUD__TENANT_ID=tenant-7", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false")
	}
	ctx := context.Background()
	r := secrets.NewResolver(secrets.WithConfig(env(apiKey)))
	if v, err := r.Get(ctx, "REMOTE"); err != nil || v.Reveal() != leak {
		t.Errorf("Get(REMOTE) = %v, %v; want the server's value", v, err)
	}
	if ok, err := r.Exists(ctx, "ABSENT"); ok || err != nil {
		t.Errorf("Exists(ABSENT) = %v, %v", ok, err)
	}
	if _, err := r.Get(ctx, "ABSENT"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Get(ABSENT) = %v; want ErrNotFound", err)
	}

	const wrong = "wrong-key-77c1-must-not-leak"
	_, err := secrets.NewResolver(secrets.WithConfig(env(wrong))).Get(ctx, "REMOTE")
	if !errors.Is(err, client.ErrUnauthenticated) || errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Get with a refused key = %v; want ErrUnauthenticated", err)
	}
	assertClean(t, err, wrong)
}

func TestFromConfigErrors(t *testing.T) {
	if _, err := client.FromConfig(nil); err == nil {
		t.Error("FromConfig(nil) succeeded")
	}
	cfg := loadConfig(t, "PREFECT__CLOUD__API=", "PREFECT__CLOUD__API_KEY="+apiKey)
	_, err := client.FromConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "cloud.api") {
		t.Errorf("FromConfig with an empty cloud.api: %v; want an error naming cloud.api", err)
	}
	assertClean(t, err)
	// The defaults name Prefect Cloud.
	c, err := client.FromConfig(loadConfig(t))
	if err != nil || c.String() != "secret server https://api.prefect.io" {
		t.Errorf("FromConfig with the defaults = %v, %v", c, err)
	}
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prefect-go/prefect/internal/gql"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
)

// ErrNotFound is matched by the error for a secret the server does not
// have. It also matches [secrets.ErrNotFound].
var ErrNotFound error = notFound{}

type notFound struct{}

func (notFound) Error() string        { return "secret not found on the secret server" }
func (notFound) Is(target error) bool { return target == secrets.ErrNotFound }

// ErrUnauthenticated is matched by the error for a request the server
// refused to authenticate: HTTP 401 or 403, or a GraphQL error saying
// UNAUTHENTICATED (as Prefect's client reads it, anywhere in the message or
// as the error's extensions.code; "Malformed Authorization header" too).
// A run's secret lookup refused by the server matches it too.
var ErrUnauthenticated = gql.ErrUnauthenticated

// GraphQLError is an error the API reported: a GraphQL error, or an HTTP
// status other than 200. Messages never hold the client's API key or the
// value being set: the client masks them before they are stored.
type GraphQLError struct {
	// Messages are the "message" fields of the answer's "errors" (at most
	// ten, each cut at 1 KiB), if it had any.
	Messages []string
	// Status is the HTTP status of the answer.
	Status int

	codes []string // the errors' extensions.code values
}

var _ error = (*GraphQLError)(nil)

// newGraphQLError is the GraphQLError the transport's error stands for.
func newGraphQLError(e *gql.Error) error {
	return &GraphQLError{Messages: e.Messages, Status: e.Status, codes: e.Codes}
}

// wire is e as the transport reads it, which says what it means.
func (e *GraphQLError) wire() *gql.Error {
	return &gql.Error{Messages: e.Messages, Status: e.Status, Codes: e.codes}
}

// Error says what the API answered.
func (e *GraphQLError) Error() string { return e.wire().Error() }

// Is makes errors.Is(err, ErrUnauthenticated) true for an authentication
// failure, errors.Is(err, ErrConflict) for a change refused because the
// run changed first, errors.Is(err, ErrRunNotFound) for a missing flow
// or flow run, and errors.Is(err, ErrNoPages) for a server without
// secrets_page.
func (e *GraphQLError) Is(target error) bool {
	switch target {
	case ErrNoPages:
		return e.says(noPagesText)
	case ErrConflict:
		return slices.Contains(e.codes, "CONFLICT")
	case ErrRunNotFound:
		return slices.Contains(e.codes, "NOT_FOUND") && !e.says(gql.NotFoundText)
	case ErrUnauthenticated:
		return e.wire().Unauthenticated()
	}
	return false
}

// Codes returns the extensions.code of each error the API reported (such
// as BAD_USER_INPUT, CONFLICT, NOT_FOUND, INTERNAL), where it gave one.
func (e *GraphQLError) Codes() []string { return slices.Clone(e.codes) }

func (e *GraphQLError) says(text string) bool { return e.wire().Says(text) }

// notFoundError is the error for a missing secret: Prefect's message for
// server secrets, matching ErrNotFound and secrets.ErrNotFound, with
// errors.As reaching the *secrets.NotFoundError and the API's answer.
type notFoundError struct {
	nf  *secrets.NotFoundError
	api *GraphQLError // nil when the server answered null
}

func (e *notFoundError) Error() string        { return e.nf.Error() }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }
func (e *notFoundError) Unwrap() []error {
	if e.api == nil {
		return []error{e.nf}
	}
	return []error{e.nf, e.api}
}

// Client talks to a secret server: Prefect Cloud's GraphQL API, or any
// server with the same secret operations. A Client is safe for concurrent
// use.
type Client struct {
	api  *gql.Client    // the transport, shared with package secrets
	key  string         // the API key
	mask *redact.Masker // the API key
}

// Option configures a [Client]. All are optional.
type Option func(*options)

type options struct {
	key, tenant string
	http        *http.Client
	timeout     time.Duration
	retries     int
	base        time.Duration
}

// WithAPIKey authenticates every request with the key, sent as
// "Authorization: Bearer <key>". An empty key sends no Authorization header.
func WithAPIKey(key string) Option { return func(o *options) { o.key = key } }

// WithTenantID sends the tenant's ID in the X-Prefect-Tenant-Id header, as
// Prefect's client does for an API key that can act for several tenants.
// An empty ID sends no header.
func WithTenantID(id string) Option { return func(o *options) { o.tenant = id } }

// WithHTTPClient sends requests with c; nil keeps the default, a client over
// http.DefaultTransport without a timeout of its own.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.http = c
		}
	}
}

// WithTimeout bounds each attempt (sending the request and reading the
// answer) by d; the default is 10s, and d <= 0 keeps it. The context bounds
// the whole call, retries included.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithRetries retries a failed attempt up to n times (n <= 0: never) when the
// failure is transient: a network error, an attempt that timed out, HTTP 429
// or 5xx. No other 4xx and no GraphQL error is retried. The wait before
// retry i (from 0) is base*2^i, capped at 30s (or base, if longer), with
// jitter: a random point in its upper half. A Retry-After header, in seconds
// or as a date, replaces the backoff; one longer than a minute, or ending
// after the context's deadline, ends the retries at once. The default is 3
// retries from a base of 100ms; base <= 0 keeps 100ms.
func WithRetries(n int, base time.Duration) Option {
	return func(o *options) {
		o.retries = max(n, 0)
		if base > 0 {
			o.base = base
		}
	}
}

// New returns a client for the GraphQL API at url: Prefect's cloud.api, the
// server's root or its /graphql path, whichever the server serves. Requests
// are POSTed to url as it is.
func New(apiURL string, opts ...Option) (*Client, error) {
	o := options{timeout: gql.DefaultTimeout, retries: gql.DefaultRetries, base: gql.DefaultBase}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	api, err := gql.New(apiURL, gql.Options{Key: o.key, Tenant: o.tenant, HTTP: o.http,
		Timeout: o.timeout, Retries: o.retries, Base: o.base, NewError: newGraphQLError})
	if err != nil {
		return nil, err
	}
	c := &Client{api: api, key: o.key, mask: redact.New()}
	c.mask.Add(o.key)
	return c, nil
}

// String returns "secret server <url>", the URL without any password; never
// the API key.
func (c *Client) String() string { return c.api.String() }

// GoString keeps the API key out of %#v.
func (c *Client) GoString() string { return "&client.Client{" + c.String() + "}" }

// CloseIdleConnections closes the idle connections of the client's HTTP
// client (by default, those of http.DefaultTransport).
func (c *Client) CloseIdleConnections() { c.api.CloseIdleConnections() }

// SetSecret stores value, any JSON value (a string, a number, a table...), as
// the secret called name. A [secrets.Value] is stored as the secret it holds;
// a value with one inside (a map of them, say) is refused, as it would be
// stored masked.
// The server's "success: false" is Prefect's error "Setting secret failed.".
func (c *Client) SetSecret(ctx context.Context, name string, value any) error {
	fail := func(err error) error { return fmt.Errorf("setting secret %q on %s: %w", name, c, err) }
	if name == "" {
		return fail(secrets.ErrNoName)
	}
	switch v := value.(type) {
	case secrets.Value:
		value = reveal(v)
	case *secrets.Value:
		if v != nil {
			value = reveal(*v)
		}
	}
	if value == nil {
		return fail(errors.New("the value is nil; a secret's value must be a JSON value other than null"))
	}
	nested := false
	secrets.Find(value, func(secrets.Value) { nested = true })
	if nested {
		// It would be stored as its JSON form, the mask "********".
		return fail(errors.New("the value holds a secrets.Value; pass what it holds (Value.Reveal or Value.Decode)"))
	}
	text, err := json.Marshal(value)
	if err != nil {
		// The encoder's message may quote the value (NaN, a bad
		// json.RawMessage); only its type is safe to show.
		return fail(fmt.Errorf("the value (a %T) cannot be encoded as JSON", value))
	}
	m := redact.New()
	m.Add(c.key)
	m.Add(string(text))
	for _, s := range secrets.NewValue(value).RevealAll() {
		m.Add(s)
	}
	if err := c.api.SetSecret(ctx, name, text, m); err != nil {
		return fail(err)
	}
	return nil
}

// reveal returns what v holds.
func reveal(v secrets.Value) any {
	var raw any
	if v.Decode(&raw) != nil {
		return nil
	}
	return raw
}

// SecretValue returns the value of the secret called name as JSON decodes it:
// a string, a number (int when integral, else float64), a map[string]any or a
// []any. A missing secret is an error matching [ErrNotFound] and
// [secrets.ErrNotFound], with Prefect's message for server secrets.
func (c *Client) SecretValue(ctx context.Context, name string) (any, error) {
	fail := func(err error) error { return fmt.Errorf("reading secret %q from %s: %w", name, c, err) }
	if name == "" {
		return nil, fail(secrets.ErrNoName)
	}
	v, err := c.api.SecretValue(ctx, name)
	if err != nil {
		return nil, c.notFound(name, err, fail)
	}
	return v, nil
}

// DeleteSecret deletes the secret called name. A missing secret is an error
// matching [ErrNotFound] when the server says so; "success: false" is the
// error "Deleting secret failed.".
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	fail := func(err error) error { return fmt.Errorf("deleting secret %q on %s: %w", name, c, err) }
	if name == "" {
		return fail(secrets.ErrNoName)
	}
	if err := c.api.DeleteSecret(ctx, name); err != nil {
		return c.notFound(name, err, fail)
	}
	return nil
}

// SecretNames lists the names of the server's secrets, never their values.
func (c *Client) SecretNames(ctx context.Context) ([]string, error) {
	names, err := c.api.SecretNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the secrets of %s: %w", c, err)
	}
	return names, nil
}

// notFound turns the server's answer that it has no such secret into the
// not-found error, and passes any other error to fail.
func (c *Client) notFound(name string, err error, fail func(error) error) error {
	var miss *gql.MissingError
	if !errors.As(err, &miss) {
		return fail(err)
	}
	nf := &notFoundError{nf: &secrets.NotFoundError{Name: name, Tried: []string{c.String()}, Server: true}}
	if api, ok := miss.Answer.(*GraphQLError); ok {
		nf.api = api
	}
	return nf
}

// isNull reports whether a field of the answer's data is absent or null.
func isNull(raw json.RawMessage) bool { return gql.IsNull(raw) }

// do sends one operation, retrying transient failures, and returns the
// answer's data. m masks the messages of API errors.
func (c *Client) do(ctx context.Context, query string, vars any, m *redact.Masker) (map[string]json.RawMessage, error) {
	return c.api.Do(ctx, query, vars, m)
}

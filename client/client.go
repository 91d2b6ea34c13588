package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prefect-go/prefect/internal/pyjson"
	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
)

// The operations, as Prefect 1's Python client writes them.
const (
	setSecretMutation    = `mutation($input: set_secret_input!) { set_secret(input: $input) { success } }`
	deleteSecretMutation = `mutation($input: delete_secret_input!) { delete_secret(input: $input) { success } }`
	secretValueQuery     = `query($name: String!) { secret_value(name: $name) }`
	secretNamesQuery     = `query { secret_names }`
)

// notFoundText is how the API says that a secret does not exist; Prefect's
// client looks for the same text.
const notFoundText = "No value found for the requested key"

const (
	defaultTimeout = 10 * time.Second
	defaultRetries = 3
	defaultBase    = 100 * time.Millisecond
	// maxBackoff bounds the exponential backoff (unless the base is longer).
	maxBackoff = 30 * time.Second
	// maxRetryAfter is the longest Retry-After the client waits for; a
	// server asking for more ends the retries.
	maxRetryAfter = time.Minute
	// maxBody caps how much of an answer is read.
	maxBody = 16 << 20
	// maxMessages and maxMessageLen keep an error readable when the server
	// answers with many or long messages.
	maxMessages   = 10
	maxMessageLen = 1024
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
var ErrUnauthenticated = errors.New("the API key is missing or was refused: check cloud.api_key or PREFECT__CLOUD__API_KEY")

// GraphQLError is an error the API reported: a GraphQL error, or an HTTP
// status other than 200. Messages never hold the client's API key or the
// value being set: the client masks them before they are stored.
type GraphQLError struct {
	// Messages are the "message" fields of the answer's "errors" (at most
	// ten, each cut at 1 KiB), if it had any.
	Messages []string
	// Status is the HTTP status of the answer.
	Status int

	unauthenticated bool     // said by an error's extensions.code
	codes           []string // the errors' extensions.code values
}

var _ error = (*GraphQLError)(nil)

// Error says what the API answered.
func (e *GraphQLError) Error() string {
	var b strings.Builder
	b.WriteString("the API answered")
	if e.Status != 0 && e.Status != http.StatusOK {
		fmt.Fprintf(&b, " HTTP %d", e.Status)
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
	}
	if len(e.Messages) > 0 {
		b.WriteString(": " + strings.Join(e.Messages, "; "))
	} else if e.Status == 0 || e.Status == http.StatusOK {
		b.WriteString(" with an error but no message")
	}
	if e.Is(ErrUnauthenticated) {
		b.WriteString(" (" + ErrUnauthenticated.Error() + ")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnauthenticated) true for an authentication
// failure, errors.Is(err, ErrConflict) for a change refused because the
// run changed first, errors.Is(err, ErrRunNotFound) for a missing flow
// or flow run, and errors.Is(err, ErrNoPages) for a server without
// secrets_page.
func (e *GraphQLError) Is(target error) bool {
	if target == ErrNoPages {
		return e.says(noPagesText)
	}
	if target == ErrConflict {
		return slices.Contains(e.codes, "CONFLICT")
	}
	if target == ErrRunNotFound {
		return slices.Contains(e.codes, "NOT_FOUND") && !e.says(notFoundText)
	}
	if target != ErrUnauthenticated {
		return false
	}
	if e.unauthenticated || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return true
	}
	for _, m := range e.Messages {
		if strings.Contains(m, "UNAUTHENTICATED") || strings.Contains(m, "Malformed Authorization header") {
			return true
		}
	}
	return false
}

// Codes returns the extensions.code of each error the API reported (such
// as BAD_USER_INPUT, CONFLICT, NOT_FOUND, INTERNAL), where it gave one.
func (e *GraphQLError) Codes() []string { return slices.Clone(e.codes) }

func (e *GraphQLError) says(text string) bool {
	for _, m := range e.Messages {
		if strings.Contains(m, text) {
			return true
		}
	}
	return false
}

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
	url     string // where requests go
	where   string // the URL without a password, for messages
	key     string
	tenant  string
	http    *http.Client
	timeout time.Duration
	retries int
	base    time.Duration
	mask    *redact.Masker // the API key
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
	if strings.TrimSpace(apiURL) == "" {
		return nil, errors.New("secret server client: no API URL given; set cloud.api (PREFECT__CLOUD__API) to the server's URL")
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("secret server client: invalid API URL %q: want an http or https URL such as https://api.prefect.io", redact.URL(apiURL))
	}
	o := options{timeout: defaultTimeout, retries: defaultRetries, base: defaultBase}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.http == nil {
		o.http = &http.Client{Transport: http.DefaultTransport}
	}
	c := &Client{
		url:     apiURL,
		where:   u.Redacted(),
		key:     o.key,
		tenant:  o.tenant,
		http:    o.http,
		timeout: o.timeout,
		retries: o.retries,
		base:    o.base,
		mask:    redact.New(),
	}
	c.mask.Add(o.key)
	return c, nil
}

// String returns "secret server <url>", the URL without any password; never
// the API key.
func (c *Client) String() string { return "secret server " + c.where }

// GoString keeps the API key out of %#v.
func (c *Client) GoString() string { return "&client.Client{" + c.String() + "}" }

// CloseIdleConnections closes the idle connections of the client's HTTP
// client (by default, those of http.DefaultTransport).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

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
	vars := map[string]any{"input": map[string]any{"name": name, "value": json.RawMessage(text)}}
	data, err := c.do(ctx, setSecretMutation, vars, m)
	if err != nil {
		return fail(err)
	}
	if !succeeded(data, "set_secret") {
		return fail(errors.New("Setting secret failed."))
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
	data, err := c.do(ctx, secretValueQuery, map[string]any{"name": name}, c.mask)
	if err != nil {
		return nil, c.notFound(name, err, fail)
	}
	raw := data["secret_value"]
	if isNull(raw) {
		return nil, c.notFound(name, nil, fail)
	}
	v, err := pyjson.Decode(raw)
	if err != nil {
		return nil, fail(errors.New("the API's secret_value is not valid JSON"))
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
	vars := map[string]any{"input": map[string]any{"name": name}}
	data, err := c.do(ctx, deleteSecretMutation, vars, c.mask)
	if err != nil {
		return c.notFound(name, err, fail)
	}
	if !succeeded(data, "delete_secret") {
		return fail(errors.New("Deleting secret failed."))
	}
	return nil
}

// SecretNames lists the names of the server's secrets, never their values.
func (c *Client) SecretNames(ctx context.Context) ([]string, error) {
	data, err := c.do(ctx, secretNamesQuery, nil, c.mask)
	if err != nil {
		return nil, fmt.Errorf("listing the secrets of %s: %w", c, err)
	}
	var names []string
	if raw := data["secret_names"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &names); err != nil {
			return nil, fmt.Errorf("listing the secrets of %s: the API's secret_names is not a list of names", c)
		}
	}
	return names, nil
}

// notFound turns the API's "no value found" into the not-found error, and
// passes any other error to fail.
func (c *Client) notFound(name string, err error, fail func(error) error) error {
	var api *GraphQLError
	if err != nil && (!errors.As(err, &api) || !api.says(notFoundText) || errors.Is(err, ErrUnauthenticated)) {
		return fail(err)
	}
	return &notFoundError{
		nf:  &secrets.NotFoundError{Name: name, Tried: []string{c.String()}, Server: true},
		api: api,
	}
}

func succeeded(data map[string]json.RawMessage, field string) bool {
	var out struct {
		Success bool `json:"success"`
	}
	return json.Unmarshal(data[field], &out) == nil && out.Success
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// request is the body Prefect's client sends: the variables go as a
// JSON-encoded string, not as an object.
type request struct {
	Query     string `json:"query"`
	Variables string `json:"variables"`
}

type response struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// do sends one operation, retrying transient failures, and returns the
// answer's data. m masks the messages of API errors.
func (c *Client) do(ctx context.Context, query string, vars any, m *redact.Masker) (map[string]json.RawMessage, error) {
	varsText, err := json.Marshal(vars) // nil gives "null", as json.dumps(None)
	if err != nil {
		return nil, errors.New("the request's variables cannot be encoded as JSON")
	}
	body, err := json.Marshal(request{Query: query, Variables: string(varsText)})
	if err != nil {
		return nil, errors.New("the request cannot be encoded as JSON")
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := c.attempt(ctx, body, m)
		if res.err == nil {
			return res.data, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !res.retry {
			return nil, res.err
		}
		if attempt > c.retries {
			return nil, fmt.Errorf("gave up after %d %s: %w", attempt, plural(attempt, "attempt"), res.err)
		}
		wait := c.backoff(attempt - 1)
		if res.after >= 0 {
			if res.after > maxRetryAfter {
				return nil, fmt.Errorf("gave up after %d %s: the server asks to retry after %v, more than %v: %w",
					attempt, plural(attempt, "attempt"), res.after, maxRetryAfter, res.err)
			}
			wait = res.after
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return nil, fmt.Errorf("%w: gave up after %d %s, as the next would start after the context's deadline: %w",
				context.DeadlineExceeded, attempt, plural(attempt, "attempt"), res.err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w while waiting to retry after %d %s: %w", ctx.Err(), attempt, plural(attempt, "attempt"), res.err)
		case <-t.C:
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// backoff returns the wait before retry i (from 0): base*2^i, capped, with
// jitter in its upper half so that clients failed together retry apart.
func (c *Client) backoff(i int) time.Duration {
	limit := max(maxBackoff, c.base)
	d := c.base
	for ; i > 0 && d < limit; i-- {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + rand.N(d-half+1)
}

type outcome struct {
	data  map[string]json.RawMessage
	err   error
	retry bool          // the failure is transient
	after time.Duration // the server's Retry-After; < 0 when it gave none
}

// attempt sends the request once.
func (c *Client) attempt(ctx context.Context, body []byte, m *redact.Masker) outcome {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: fmt.Errorf("building the request: %w", err), after: -1}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.tenant != "" {
		req.Header.Set("X-Prefect-Tenant-Id", c.tenant)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportFailure(ctx, actx, "sending the request", err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	resp.Body.Close()
	if err != nil {
		return c.transportFailure(ctx, actx, "reading the answer", err)
	}
	if len(raw) > maxBody {
		return outcome{err: fmt.Errorf("the answer (HTTP %d) is larger than %d MiB", resp.StatusCode, maxBody>>20), after: -1}
	}

	var r response
	isJSON := json.Unmarshal(raw, &r) == nil
	apiErr := &GraphQLError{Status: resp.StatusCode}
	for i, e := range r.Errors {
		if e.Extensions.Code == "UNAUTHENTICATED" {
			apiErr.unauthenticated = true
		}
		if e.Extensions.Code != "" {
			apiErr.codes = append(apiErr.codes, e.Extensions.Code)
		}
		if i == maxMessages {
			apiErr.Messages = append(apiErr.Messages, fmt.Sprintf("(and %d more)", len(r.Errors)-i))
			break
		}
		apiErr.Messages = append(apiErr.Messages, cut(m.Redact(e.Message)))
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || s >= 500:
		return outcome{err: apiErr, retry: true, after: retryAfter(resp.Header.Get("Retry-After"))}
	case s < 200 || s > 299:
		return outcome{err: apiErr, after: -1}
	case !isJSON:
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = "none"
		}
		// The body is not shown: it may hold a secret's value.
		return outcome{err: fmt.Errorf("malformed answer: HTTP %d, Content-Type %s, not a GraphQL JSON response", s, ct), after: -1}
	case len(r.Errors) > 0:
		return outcome{err: apiErr, after: -1}
	case r.Data == nil:
		return outcome{err: errors.New("malformed answer: no data and no errors"), after: -1}
	}
	return outcome{data: r.Data, after: -1}
}

// transportFailure describes a request that got no (whole) answer: the
// caller's context ended (final), or the attempt timed out or the network
// failed (retried).
func (c *Client) transportFailure(ctx, actx context.Context, doing string, err error) outcome {
	if ctx.Err() != nil {
		return outcome{err: ctx.Err(), after: -1}
	}
	if actx.Err() != nil {
		return outcome{err: fmt.Errorf("no answer within %v: %w", c.timeout, context.DeadlineExceeded), retry: true, after: -1}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its URL is already in the message's prefix
	}
	return outcome{err: fmt.Errorf("%s: %w", doing, err), retry: true, after: -1}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; -1 when
// absent or unreadable.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return -1
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		return time.Duration(min(n, 1e9)) * time.Second // 1e9s: 31 years, no overflow
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// cut shortens a message to maxMessageLen bytes, at a rune boundary.
func cut(s string) string {
	if len(s) <= maxMessageLen {
		return s
	}
	i := maxMessageLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

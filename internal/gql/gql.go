// Package gql sends GraphQL operations to a Prefect 1 API as Prefect 1's
// Python client sends them, and reads the answers. It is the one transport
// under package client (every operation) and under package secrets (the
// secret server a run falls back on when the configuration names one).
// It imports neither: secrets can then reach the server with no code from
// the user and without linking client, and client builds on the same
// requests, retries and errors instead of a copy.
//
//	c, err := gql.New(url, gql.Options{Key: key, Retries: gql.DefaultRetries})
//	v, err := c.SecretValue(ctx, "DB_PASSWORD") // a *MissingError when the server has none
//	data, err := c.Do(ctx, `query { secret_names }`, nil, nil)
//
// On the wire: a POST of {"query": ..., "variables": ...} as
// application/json to the URL as given, the variables being a JSON-encoded
// string rather than an object, with "Authorization: Bearer <key>" when
// there is a key and "X-Prefect-Tenant-Id: <id>" when there is a tenant.
//
// Failures: network errors, attempts that time out, HTTP 429 and 5xx are
// retried with exponential backoff and jitter, following any Retry-After;
// the context bounds the whole call. Nothing else is retried. An answer
// of the API that is an error is an [*Error], or whatever
// [Options.NewError] makes of it (package client makes its GraphQLError).
// No error ever shows the API key, nor any text the caller masks.
package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/internal/retry"
)

// The defaults package client documents for its options.
const (
	// DefaultTimeout bounds each attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultRetries is how many times a transient failure is retried.
	DefaultRetries = 3
	// DefaultBase is the first wait before a retry.
	DefaultBase = 100 * time.Millisecond
)

const (
	// maxBackoff bounds the exponential backoff (unless the base is longer).
	maxBackoff = 30 * time.Second
	// maxRetryAfter is the longest Retry-After a client waits for; a
	// server asking for more ends the retries.
	maxRetryAfter = time.Minute
	// maxBody caps how much of an answer is read.
	maxBody = 16 << 20
	// maxMessages and maxMessageLen keep an error readable when the server
	// answers with many or long messages.
	maxMessages   = 10
	maxMessageLen = 1024
)

// ErrUnauthenticated is matched by the error for a request the server
// refused to authenticate (see [Error.Unauthenticated]). Package client
// exports it as client.ErrUnauthenticated.
var ErrUnauthenticated = errors.New("the API key is missing or was refused: check cloud.api_key or PREFECT__CLOUD__API_KEY")

// ErrNoServer is the error for a configuration that names no server (an
// empty cloud.api), saying how to name one.
var ErrNoServer = errors.New("no server configured: set PREFECT__CLOUD__API (cloud.api under [cloud] in ~/.prefect/config.toml) to the server's URL, e.g. http://127.0.0.1:4200/graphql, and PREFECT__CLOUD__API_KEY (cloud.api_key) to an API key")

// Error is an error the API reported: GraphQL errors, or an HTTP status
// other than 200. Its messages are masked before they are stored.
type Error struct {
	// Messages are the "message" fields of the answer's "errors" (at most
	// ten, each cut at 1 KiB, then "(and N more)"), if it had any.
	Messages []string
	// Status is the HTTP status of the answer.
	Status int
	// Codes are the errors' extensions.code values, where they gave one.
	Codes []string
}

var _ error = (*Error)(nil)

// Error says what the API answered.
func (e *Error) Error() string {
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
	if e.Unauthenticated() {
		b.WriteString(" (" + ErrUnauthenticated.Error() + ")")
	}
	return b.String()
}

// Unauthenticated reports whether the server refused to authenticate the
// request: HTTP 401 or 403, or a GraphQL error saying UNAUTHENTICATED (as
// Prefect's client reads it: anywhere in the message, or as the error's
// extensions.code; "Malformed Authorization header" too).
func (e *Error) Unauthenticated() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden ||
		slices.Contains(e.Codes, "UNAUTHENTICATED") ||
		e.Says("UNAUTHENTICATED") || e.Says("Malformed Authorization header")
}

// Says reports whether one of the messages holds text.
func (e *Error) Says(text string) bool {
	for _, m := range e.Messages {
		if strings.Contains(m, text) {
			return true
		}
	}
	return false
}

// Is makes errors.Is(err, ErrUnauthenticated) true for an authentication
// failure.
func (e *Error) Is(target error) bool { return target == ErrUnauthenticated && e.Unauthenticated() }

// Options configures a [Client]. The zero value is valid: no key, no
// tenant, http.DefaultTransport, [DefaultTimeout] per attempt, [DefaultBase]
// for the backoff, and no retries (set Retries to [DefaultRetries] for the
// client's default).
type Options struct {
	// Key is the API key, sent as "Authorization: Bearer <key>"; "" sends
	// no Authorization header. Errors never show it.
	Key string
	// Tenant is sent in the X-Prefect-Tenant-Id header; "" sends none.
	Tenant string
	// HTTP sends the requests; nil means a client over
	// http.DefaultTransport without a timeout of its own.
	HTTP *http.Client
	// Timeout bounds each attempt, sending and reading; <= 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times a transient failure is retried; <= 0
	// means never.
	Retries int
	// Base is the wait before the first retry, doubled for each next one
	// up to 30s (or Base, if longer), with jitter in its upper half; <= 0
	// means DefaultBase.
	Base time.Duration
	// NewError, if set, makes the error that stands for an API error in
	// what the client returns; nil returns the *Error itself.
	NewError func(*Error) error
}

// Client sends operations to one GraphQL API. It is safe for concurrent
// use.
type Client struct {
	url      string // where requests go
	where    string // the URL without a password, for messages
	o        Options
	mask     *redact.Masker // the API key
	newError func(*Error) error
}

// New returns a client for the API at apiURL, where requests are POSTed as
// it is. An empty or malformed URL is an error saying what is wanted.
func New(apiURL string, o Options) (*Client, error) {
	if strings.TrimSpace(apiURL) == "" {
		return nil, errors.New("secret server client: no API URL given; set cloud.api (PREFECT__CLOUD__API) to the server's URL")
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("secret server client: invalid API URL %q: want an http or https URL such as https://api.prefect.io", redact.URL(apiURL))
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Base <= 0 {
		o.Base = DefaultBase
	}
	o.Retries = max(o.Retries, 0)
	c := &Client{url: apiURL, where: u.Redacted(), o: o, mask: redact.New(), newError: o.NewError}
	if c.newError == nil {
		c.newError = func(e *Error) error { return e }
	}
	c.mask.Add(o.Key)
	return c, nil
}

// String returns "secret server <url>", the URL without any password;
// never the API key.
func (c *Client) String() string { return "secret server " + c.where }

// CloseIdleConnections closes the idle connections of the client's HTTP
// client.
func (c *Client) CloseIdleConnections() { c.o.HTTP.CloseIdleConnections() }

// Do sends one operation, retrying transient failures, and returns the
// answer's data. vars is encoded as JSON (nil as null). m masks the
// messages of API errors; nil masks the API key.
func (c *Client) Do(ctx context.Context, query string, vars any, m *redact.Masker) (map[string]json.RawMessage, error) {
	data, _, err := c.do(ctx, query, vars, m)
	return data, err
}

// request is the body Prefect's client sends: the variables go as a
// JSON-encoded string, not as an object.
type request struct {
	Query     string `json:"query"`
	Variables string `json:"variables"`
}

type response struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors answerErrors               `json:"errors"`
}

// answerError is one entry of an answer's errors.
type answerError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// answerErrors are an answer's errors as servers send them: a list of
// error objects, as GraphQL says, or (as Prefect's client also accepts, it
// raises on any "errors") a string, one object, or a list holding strings.
// Anything else is one error whose message is the JSON text.
type answerErrors []answerError

// UnmarshalJSON reads any of the forms above; null is no error.
func (a *answerErrors) UnmarshalJSON(b []byte) error {
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		list = []json.RawMessage{b}
	}
	*a = (*a)[:0]
	for _, raw := range list {
		var e answerError
		var text string
		switch {
		case string(bytes.TrimSpace(raw)) == "null":
			continue
		case json.Unmarshal(raw, &text) == nil:
			e.Message = text
		case json.Unmarshal(raw, &e) == nil:
		default:
			e.Message = string(raw)
		}
		*a = append(*a, e)
	}
	return nil
}

// do is Do, also returning the API's error as it answered it, before
// NewError: the one err holds, if any.
func (c *Client) do(ctx context.Context, query string, vars any, m *redact.Masker) (map[string]json.RawMessage, *Error, error) {
	if m == nil {
		m = c.mask
	}
	varsText, err := json.Marshal(vars) // nil gives "null", as json.dumps(None)
	if err != nil {
		return nil, nil, errors.New("the request's variables cannot be encoded as JSON")
	}
	body, err := json.Marshal(request{Query: query, Variables: string(varsText)})
	if err != nil {
		return nil, nil, errors.New("the request cannot be encoded as JSON")
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		res := c.attempt(ctx, body, m)
		if res.err == nil {
			return res.data, nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if !res.retry {
			return nil, res.api, res.err
		}
		if attempt > c.o.Retries {
			return nil, res.api, fmt.Errorf("gave up after %d %s: %w", attempt, plural(attempt, "attempt"), res.err)
		}
		wait := retry.Backoff{Base: c.o.Base, Max: maxBackoff}.Delay(attempt - 1)
		if res.after >= 0 {
			if res.after > maxRetryAfter {
				return nil, res.api, fmt.Errorf("gave up after %d %s: the server asks to retry after %v, more than %v: %w",
					attempt, plural(attempt, "attempt"), res.after, maxRetryAfter, res.err)
			}
			wait = res.after
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return nil, res.api, fmt.Errorf("%w: gave up after %d %s, as the next would start after the context's deadline: %w",
				context.DeadlineExceeded, attempt, plural(attempt, "attempt"), res.err)
		}
		if err := retry.Sleep(ctx, wait); err != nil {
			return nil, res.api, fmt.Errorf("%w while waiting to retry after %d %s: %w", err, attempt, plural(attempt, "attempt"), res.err)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

type outcome struct {
	data  map[string]json.RawMessage
	err   error
	api   *Error        // the API's error that err stands for, if any
	retry bool          // the failure is transient
	after time.Duration // the server's Retry-After; < 0 when it gave none
}

// failed is the outcome of an error the API answered.
func (c *Client) failed(api *Error, retry bool, after time.Duration) outcome {
	return outcome{err: c.newError(api), api: api, retry: retry, after: after}
}

// attempt sends the request once.
func (c *Client) attempt(ctx context.Context, body []byte, m *redact.Masker) outcome {
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: fmt.Errorf("building the request: %w", err), after: -1}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.o.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Key)
	}
	if c.o.Tenant != "" {
		req.Header.Set("X-Prefect-Tenant-Id", c.o.Tenant)
	}
	resp, err := c.o.HTTP.Do(req)
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
	apiErr := &Error{Status: resp.StatusCode}
	for i, e := range r.Errors {
		if e.Extensions.Code != "" {
			apiErr.Codes = append(apiErr.Codes, e.Extensions.Code)
		}
		if i == maxMessages {
			apiErr.Messages = append(apiErr.Messages, fmt.Sprintf("(and %d more)", len(r.Errors)-i))
			break
		}
		apiErr.Messages = append(apiErr.Messages, cut(m.Redact(e.Message)))
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || s >= 500:
		return c.failed(apiErr, true, retryAfter(resp.Header.Get("Retry-After")))
	case s < 200 || s > 299:
		return c.failed(apiErr, false, -1)
	case !isJSON:
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = "none"
		}
		// The body is not shown: it may hold a secret's value.
		return outcome{err: fmt.Errorf("malformed answer: HTTP %d, Content-Type %s, not a GraphQL JSON response", s, ct), after: -1}
	case len(r.Errors) > 0:
		return c.failed(apiErr, false, -1)
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
		return outcome{err: fmt.Errorf("no answer within %v: %w", c.o.Timeout, context.DeadlineExceeded), retry: true, after: -1}
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

// IsNull reports whether a field of the answer's data is absent or null.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

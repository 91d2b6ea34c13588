package tasks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/task"
)

// DefaultTokenSecret is the secret [AddBearerRequest] reads the token from
// unless told otherwise with [TokenSecret].
const DefaultTokenSecret = "API_TOKEN"

// RequestIn is the input of a [BearerRequest] task.
type RequestIn struct {
	// URL is where the request goes.
	URL string `prefect:"url"`
	// Token is sent as "Authorization: Bearer <token>"; bind it to a secret
	// task. Without one the request goes unauthenticated.
	Token secrets.Value `prefect:"token,optional"`
	// Body is the request body, if any.
	Body []byte `prefect:"body,optional"`
}

// Response is what a [BearerRequest] task returns.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body is the response body, read up to the task's limit.
	Body []byte
}

// RequestOption configures [BearerRequest] and [AddBearerRequest].
type RequestOption func(*requestOptions)

type requestOptions struct {
	client    *http.Client
	secret    string
	maxBody   int64
	taskOpts  []task.Option
	contentTy string
}

// WithHTTPClient sends requests with c instead of http.DefaultClient (nil
// keeps the default).
func WithHTTPClient(c *http.Client) RequestOption {
	return func(o *requestOptions) {
		if c != nil {
			o.client = c
		}
	}
}

// TokenSecret names the secret holding the token, for [AddBearerRequest];
// the default is [DefaultTokenSecret].
func TokenSecret(name string) RequestOption { return func(o *requestOptions) { o.secret = name } }

// MaxBody limits how much of a response body is read (default 10 MiB;
// n <= 0 keeps the default).
func MaxBody(n int64) RequestOption {
	return func(o *requestOptions) {
		if n > 0 {
			o.maxBody = n
		}
	}
}

// ContentType sets the Content-Type of a request with a body.
func ContentType(ct string) RequestOption { return func(o *requestOptions) { o.contentTy = ct } }

// TaskOptions passes task options (retries, timeout, ...) to the request task.
func TaskOptions(opts ...task.Option) RequestOption {
	return func(o *requestOptions) { o.taskOpts = append(o.taskOpts, opts...) }
}

func newRequestOptions(opts []RequestOption) requestOptions {
	o := requestOptions{client: http.DefaultClient, secret: DefaultTokenSecret, maxBody: 10 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// BearerRequest returns a task called name that sends an HTTP request with
// the given method to its "url" input, authenticated with the bearer token
// of its "token" input. A response whose status is not 2xx fails the task
// (and so retries, if the task has them), with the status in the error.
func BearerRequest(name, method string, opts ...RequestOption) *task.Task[RequestIn, Response] {
	o := newRequestOptions(opts)
	return task.New(name, func(ctx context.Context, in RequestIn) (Response, error) {
		var body io.Reader
		if in.Body != nil {
			body = bytes.NewReader(in.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, in.URL, body)
		if err != nil {
			return Response{}, fmt.Errorf("building the %s request: %w", method, err)
		}
		if !in.Token.IsZero() {
			req.Header.Set("Authorization", "Bearer "+in.Token.Reveal())
		}
		if in.Body != nil && o.contentTy != "" {
			req.Header.Set("Content-Type", o.contentTy)
		}
		resp, err := o.client.Do(req)
		if err != nil {
			return Response{}, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, o.maxBody))
		if err != nil {
			return Response{}, fmt.Errorf("%s %s: reading the response: %w", method, req.URL.Redacted(), err)
		}
		out := Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return out, fmt.Errorf("%s %s: %s", method, req.URL.Redacted(), resp.Status)
		}
		return out, nil
	}, o.taskOpts...)
}

// AddBearerRequest adds to f the request task and the secret task that
// feeds it its token: the secret named by [TokenSecret] (default
// [DefaultTokenSecret]), the pattern Prefect's storage classes follow with
// their access_token_secret option. url binds the "url" input (flow.Const or
// flow.Bind with key "url"); more bindings (a body, upstream tasks) may follow.
func AddBearerRequest(f *flow.Flow, name, method string, url flow.Binding, opts []RequestOption, more ...flow.Binding) flow.Node[Response] {
	o := newRequestOptions(opts)
	token := flow.Add(f, PrefectSecret(o.secret))
	bindings := append([]flow.Binding{url, flow.Bind("token", token)}, more...)
	return flow.Add(f, BearerRequest(name, method, opts...), bindings...)
}

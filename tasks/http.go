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

// DefaultTokenSecret is the secret [AddRequest] reads the token from
// unless told otherwise with [WithTokenSecret].
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

// BearerRequest returns a task called name that sends an HTTP request with
// the given method to its "url" input, authenticated with the bearer token
// of its "token" input. A response whose status is not 2xx fails the task
// (and so retries, if the task has them), with the status in the error.
//
// It takes [WithHTTPClient], [WithMaxBody], [WithContentType] and
// [WithTaskOptions].
func BearerRequest(name, method string, opts ...Option) *task.Task[RequestIn, Response] {
	o := newOptions(forRequest, opts)
	return bearerRequest(name, method, o)
}

func bearerRequest(name, method string, o options) *task.Task[RequestIn, Response] {
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
		if in.Body != nil && o.contentType != "" {
			req.Header.Set("Content-Type", o.contentType)
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
	}, o.taskOptions()...)
}

// AddRequest adds to f a [BearerRequest] task called name and the secret
// task that feeds it its token: the secret named by [WithTokenSecret]
// (default [DefaultTokenSecret]), the pattern Prefect's storage classes
// follow with their access_token_secret option. url binds the "url" input
// (flow.Const, or flow.Bind with key "url"); [WithBindings] binds more (a
// body) or orders the request after upstream tasks.
//
//	resp := tasks.AddRequest(f, "publish", http.MethodPost, flow.Const("url", u),
//		tasks.WithTokenSecret("GITHUB_TOKEN"),
//		tasks.WithBindings(flow.Bind("body", body)))
//
// It takes every option of BearerRequest, and WithTokenSecret and
// WithBindings.
func AddRequest(f *flow.Flow, name, method string, url flow.Binding, opts ...Option) flow.Node[Response] {
	o := newOptions(forRequest|forAdd, opts)
	token := flow.Add(f, PrefectSecret(o.secret))
	bindings := append([]flow.Binding{url, flow.Bind("token", token)}, o.bindings...)
	return flow.Add(f, bearerRequest(name, method, o), bindings...)
}

// AddBearerRequest is the former form of [AddRequest], which takes the
// bindings after url as the option WithBindings(more...).
//
// Deprecated: use AddRequest.
func AddBearerRequest(f *flow.Flow, name, method string, url flow.Binding, opts []RequestOption, more ...flow.Binding) flow.Node[Response] {
	return AddRequest(f, name, method, url, append(opts[:len(opts):len(opts)], WithBindings(more...))...)
}

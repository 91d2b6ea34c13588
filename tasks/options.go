package tasks

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// Option configures the tasks of this package. Each option says which
// constructors take it; given to another, it is a bad value like any other
// (see the package doc).
type Option func(*options)

// RequestOption is the former name of [Option] for [BearerRequest] and
// [AddRequest].
//
// Deprecated: use Option.
type RequestOption = Option

// EnvVarOption is the former name of [Option] for [EnvVarSecret].
//
// Deprecated: use Option.
type EnvVarOption = Option

// The constructors an option applies to.
type takers uint8

const (
	forEnvVar  takers = 1 << iota // EnvVarSecret
	forRequest                    // BearerRequest and AddRequest
	forAdd                        // AddRequest only
)

func (k takers) String() string {
	var names []string
	if k&forEnvVar != 0 {
		names = append(names, "EnvVarSecret")
	}
	if k&forRequest != 0 {
		names = append(names, "BearerRequest", "AddRequest")
	} else if k&forAdd != 0 {
		names = append(names, "AddRequest")
	}
	return strings.Join(names, " and ")
}

type options struct {
	taskOpts []task.Option

	// EnvVarSecret
	cast  func(string) (any, error)
	raise bool

	// BearerRequest and AddRequest
	client      *http.Client
	maxBody     int64
	contentType string

	// AddRequest
	secret   string
	bindings []flow.Binding

	used []usedOption // options that apply to some constructors only
	errs []error      // bad values
}

type usedOption struct {
	name string
	by   takers
}

func (o *options) use(name string, k takers) { o.used = append(o.used, usedOption{name, k}) }

func (o *options) bad(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf(format, args...))
}

// newOptions applies opts for the constructor k, with the defaults.
func newOptions(k takers, opts []Option) options {
	o := options{client: http.DefaultClient, secret: DefaultTokenSecret, maxBody: defaultMaxBody}
	for _, opt := range opts {
		if opt == nil {
			o.bad("an option is nil")
			continue
		}
		opt(&o)
	}
	for _, u := range o.used {
		if u.by&k == 0 {
			o.bad("%s applies to %s only", u.name, u.by)
		}
	}
	return o
}

// taskOptions returns the task options to build the task with: the bad
// values first, which task.New reports in the task's Spec.Err, each naming
// the task, as it does its own.
func (o *options) taskOptions() []task.Option {
	opts := make([]task.Option, 0, len(o.errs)+len(o.taskOpts))
	for _, err := range o.errs {
		opts = append(opts, task.WithOptionError(err))
	}
	return append(opts, o.taskOpts...)
}

// WithTaskOptions passes task options (a slug, tags, retries, a timeout) to
// the task. It applies to every constructor.
func WithTaskOptions(opts ...task.Option) Option {
	return func(o *options) { o.taskOpts = append(o.taskOpts, opts...) }
}

// WithCast converts a present variable's text, Prefect's cast (int, say).
// It is not called for a missing variable. For EnvVarSecret only; a nil fn
// is a bad value.
func WithCast(fn func(string) (any, error)) Option {
	return func(o *options) {
		o.use("tasks.WithCast", forEnvVar)
		if fn == nil {
			o.bad("tasks.WithCast: the function is nil; leave the option out to keep the text as it is")
			return
		}
		o.cast = fn
	}
}

// WithRaiseIfMissing fails the task when the variable is not set, with
// Prefect's `Environment variable not set: NAME`; without it a missing
// variable gives the zero Value. For EnvVarSecret only.
func WithRaiseIfMissing() Option {
	return func(o *options) {
		o.use("tasks.WithRaiseIfMissing", forEnvVar)
		o.raise = true
	}
}

// WithHTTPClient sends requests with c instead of http.DefaultClient. For
// BearerRequest and AddRequest; a nil c is a bad value.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		o.use("tasks.WithHTTPClient", forRequest|forAdd)
		if c == nil {
			o.bad("tasks.WithHTTPClient: the client is nil; leave the option out for http.DefaultClient")
			return
		}
		o.client = c
	}
}

const defaultMaxBody = 10 << 20

// WithMaxBody limits how much of a response body is read; the default is
// 10 MiB. For BearerRequest and AddRequest; n must be positive.
func WithMaxBody(n int64) Option {
	return func(o *options) {
		o.use("tasks.WithMaxBody", forRequest|forAdd)
		if n <= 0 {
			o.bad("tasks.WithMaxBody(%d): the limit must be positive; leave the option out for the default, 10 MiB", n)
			return
		}
		o.maxBody = n
	}
}

// WithContentType sets the Content-Type of a request with a body. For
// BearerRequest and AddRequest.
func WithContentType(ct string) Option {
	return func(o *options) {
		o.use("tasks.WithContentType", forRequest|forAdd)
		o.contentType = ct
	}
}

// WithTokenSecret names the secret holding the token; the default is
// [DefaultTokenSecret]. For AddRequest only (a BearerRequest task takes its
// token from its "token" input); the name must not be empty.
func WithTokenSecret(name string) Option {
	return func(o *options) {
		o.use("tasks.WithTokenSecret", forAdd)
		if name == "" {
			o.bad("tasks.WithTokenSecret: the secret name is empty; leave the option out for %s", DefaultTokenSecret)
			return
		}
		o.secret = name
	}
}

// WithBindings binds more inputs of the request task (a "body", say) or
// orders it after upstream tasks (flow.After). For AddRequest only.
func WithBindings(b ...flow.Binding) Option {
	return func(o *options) {
		o.use("tasks.WithBindings", forAdd)
		o.bindings = append(o.bindings, b...)
	}
}

// Cast is the former name of [WithCast].
//
// Deprecated: use WithCast.
func Cast(fn func(string) (any, error)) Option { return WithCast(fn) }

// RaiseIfMissing is the former name of [WithRaiseIfMissing].
//
// Deprecated: use WithRaiseIfMissing.
func RaiseIfMissing() Option { return WithRaiseIfMissing() }

// EnvTaskOptions is the former name of [WithTaskOptions] for EnvVarSecret.
//
// Deprecated: use WithTaskOptions.
func EnvTaskOptions(opts ...task.Option) Option { return WithTaskOptions(opts...) }

// TaskOptions is the former name of [WithTaskOptions].
//
// Deprecated: use WithTaskOptions.
func TaskOptions(opts ...task.Option) Option { return WithTaskOptions(opts...) }

// TokenSecret is the former name of [WithTokenSecret].
//
// Deprecated: use WithTokenSecret.
func TokenSecret(name string) Option { return WithTokenSecret(name) }

// MaxBody is the former name of [WithMaxBody]; unlike it, n <= 0 keeps the
// default, as it always did.
//
// Deprecated: use WithMaxBody.
func MaxBody(n int64) Option {
	if n <= 0 {
		return WithTaskOptions()
	}
	return WithMaxBody(n)
}

// ContentType is the former name of [WithContentType].
//
// Deprecated: use WithContentType.
func ContentType(ct string) Option { return WithContentType(ct) }

package task

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/prefect-go/prefect/state"
)

// Spec is everything the runner needs to know about a task besides its
// function. Options fill it in; the runner only reads it.
type Spec struct {
	// Name is the task's name, shown in states and logs.
	Name string
	// Slug, when set, is the task's unique name in a flow; by default a flow
	// names its tasks name-1, name-2, ...
	Slug string
	// Tags label the task; the runner can limit how many tasks with a tag run at once.
	Tags []string
	// MaxRetries is how many times a failed run is retried.
	MaxRetries int
	// RetryDelay is how long to wait before each retry.
	RetryDelay time.Duration
	// Timeout, when positive, bounds one run of the task's function: its
	// context is cancelled then, and a run that ends after it is TimedOut.
	Timeout time.Duration
	// Trigger decides from the upstream states whether the task runs.
	Trigger Trigger
	// SkipOnUpstreamSkip skips the task when any upstream task was skipped.
	SkipOnUpstreamSkip bool
	// Checkpoint, when not nil, says whether to write the task's result to
	// the run's result store; nil follows the run's setting.
	Checkpoint *bool
	// CacheFor, when positive, keeps a successful result for that long;
	// later runs within it reuse the result instead of running the task.
	CacheFor time.Duration
	// CacheKey names the cache entry; tasks sharing a key share the entry.
	// By default it is the flow name and the task's slug.
	CacheKey string
	// StateHandlers are called on every state change of a task run.
	StateHandlers []StateHandler
	// RunName is a template for each task run's name, such as
	// "fetch-{url}": {name} is replaced by the input called name, or by one
	// of the run context fields map_index, task_run_count, task_name,
	// task_slug, flow_name and flow_run_name.
	RunName string
	// Inputs are the task's named inputs, in order.
	Inputs []Input
	// Output is the type of the task's result.
	Output reflect.Type
	// Secret marks the task's result as a secret (see [WithSecretResult]).
	Secret bool
	// Err records what was wrong with the options the task was built with.
	// A flow reports it when validated.
	Err error

	optionErrs []error // bad values options were given, reported by check

	// Which options were given, so that the run's task defaults fill in
	// only the others (Under).
	retryDelaySet, maxRetriesSet, timeoutSet bool
}

// StateHandler is called when a task run changes state, with the old and new
// states. It returns the state the run takes instead of new: return new to
// only observe. Handlers run on the goroutine that runs the task, so a
// handler shared by tasks must be safe for concurrent use; a panic in a
// handler fails the task run.
type StateHandler func(ctx context.Context, old, new state.State) state.State

// An Option configures a task. A bad value (a negative count or duration,
// an empty tag, a nil handler, a zero trigger) never panics and is never
// ignored: [New] records it in [Spec].Err, naming the task, the value and
// what is valid, and a flow reports it when validated.
type Option func(*Spec)

// WithSlug sets the task's slug, its unique name within a flow.
func WithSlug(slug string) Option { return func(s *Spec) { s.Slug = slug } }

// WithTags labels the task.
func WithTags(tags ...string) Option {
	return func(s *Spec) { s.Tags = append(s.Tags, tags...) }
}

// WithMaxRetries retries a failed run up to n times. It needs [WithRetryDelay]
// too, as Prefect requires retry_delay with max_retries.
func WithMaxRetries(n int) Option {
	return func(s *Spec) { s.MaxRetries, s.maxRetriesSet = n, true }
}

// WithRetryDelay waits d before each retry. It needs [WithMaxRetries] too.
func WithRetryDelay(d time.Duration) Option {
	return func(s *Spec) { s.RetryDelay, s.retryDelaySet = d, true }
}

// WithRetries is WithMaxRetries(max) and WithRetryDelay(delay) in one.
func WithRetries(max int, delay time.Duration) Option {
	return func(s *Spec) { WithMaxRetries(max)(s); WithRetryDelay(delay)(s) }
}

// WithTimeout bounds each run of the task's function by d. The function's
// context is cancelled at the deadline; the function must return for the run
// to end (Go cannot stop a goroutine from outside), and a run that returns
// after the deadline is TimedOut whatever it returned.
func WithTimeout(d time.Duration) Option {
	return func(s *Spec) { s.Timeout, s.timeoutSet = d, true }
}

// Defaults are the retries and timeout of a task that sets none of its
// own: Prefect's tasks.defaults (max_retries, retry_delay, timeout), which
// the runner reads from the configuration (see runner.WithTaskDefaults).
// The zero value sets nothing: no retries, no timeout.
type Defaults struct {
	MaxRetries int           // tasks.defaults.max_retries
	RetryDelay time.Duration // tasks.defaults.retry_delay
	Timeout    time.Duration // tasks.defaults.timeout; 0 for none
}

// Under returns the retries and timeout a run of the task uses under
// defaults d, as Prefect's Task takes tasks.defaults: each of the task's
// own (WithMaxRetries, WithRetryDelay, WithTimeout) when it set it, else
// d's; a task that set its max retries to 0 does not take d's retry delay.
// A task with neither option set takes both of d's.
func (s *Spec) Under(d Defaults) Defaults {
	out := Defaults{MaxRetries: s.MaxRetries, RetryDelay: s.RetryDelay, Timeout: s.Timeout}
	if !s.maxRetriesSet {
		out.MaxRetries = d.MaxRetries
	}
	if !s.retryDelaySet && out.MaxRetries > 0 {
		out.RetryDelay = d.RetryDelay
	}
	if !s.timeoutSet {
		out.Timeout = d.Timeout
	}
	return out
}

// WithTrigger sets the rule that decides from upstream states whether the
// task runs. The default is [AllSuccessful].
func WithTrigger(t Trigger) Option { return func(s *Spec) { s.Trigger = t } }

// WithSkipOnUpstreamSkip sets whether a skipped upstream task skips this one
// (the default) or not.
func WithSkipOnUpstreamSkip(skip bool) Option {
	return func(s *Spec) { s.SkipOnUpstreamSkip = skip }
}

// WithCheckpoint turns writing the task's result to the run's result store on
// or off, whatever the run's default is. A result that may hold a secret (a
// task downstream of a secret task, or one that fetches a secret itself
// while it runs, or downstream of such a task) is written, and cached, only
// with WithCheckpoint(true); a secret task's never is.
func WithCheckpoint(on bool) Option { return func(s *Spec) { s.Checkpoint = &on } }

// WithCacheFor reuses a successful result for d: a later run of the task
// within d, against the same result store, is Cached instead of run.
func WithCacheFor(d time.Duration) Option { return func(s *Spec) { s.CacheFor = d } }

// WithCacheKey names the cache entry, so that tasks can share one.
func WithCacheKey(key string) Option { return func(s *Spec) { s.CacheKey = key } }

// WithStateHandlers adds handlers called on every state change. A nil
// handler is a bad value.
func WithStateHandlers(h ...StateHandler) Option {
	return func(s *Spec) {
		for i, handler := range h {
			if handler == nil {
				s.optionErrs = append(s.optionErrs, fmt.Errorf("task.WithStateHandlers: handler %d is nil; pass only non-nil handlers", i))
				continue
			}
			s.StateHandlers = append(s.StateHandlers, handler)
		}
	}
}

// WithOnFailure calls fn when a run of the task fails (Prefect's
// on_failure); the shorthand for a state handler that only looks at
// failures. A nil fn is a bad value.
func WithOnFailure(fn func(ctx context.Context, failed state.State)) Option {
	if fn == nil {
		return func(s *Spec) {
			s.optionErrs = append(s.optionErrs, errors.New("task.WithOnFailure: the function is nil"))
		}
	}
	return WithStateHandlers(func(ctx context.Context, _, new state.State) state.State {
		if new.IsFailed() {
			fn(ctx, new)
		}
		return new
	})
}

// OnFailure is the former name of [WithOnFailure].
//
// Deprecated: use WithOnFailure.
func OnFailure(fn func(ctx context.Context, failed state.State)) Option {
	return WithOnFailure(fn)
}

// WithSecretResult marks the task's result as a secret, as the secret tasks
// in package tasks are: it is never checkpointed or cached, a restart
// always runs the task again (so the value is fetched fresh), and the
// results of tasks downstream of it are not checkpointed either unless they
// ask for it with WithCheckpoint(true).
func WithSecretResult() Option { return func(s *Spec) { s.Secret = true } }

// AsSecret is the former name of [WithSecretResult].
//
// Deprecated: use WithSecretResult.
func AsSecret() Option { return WithSecretResult() }

// WithOptionError records err as a bad option value of a constructor that
// builds on New with options of its own, as package tasks does: New reports
// it in [Spec].Err beside the task's own problems, and a flow when
// validated, so that every bad value reads the same wherever it was given.
// A nil err records nothing.
func WithOptionError(err error) Option {
	return func(s *Spec) {
		if err != nil {
			s.optionErrs = append(s.optionErrs, err)
		}
	}
}

// WithRunName names each run of the task from a template; see [Spec.RunName].
func WithRunName(template string) Option { return func(s *Spec) { s.RunName = template } }

// The errors options report, word for word as Prefect's where Prefect has them.
var (
	// ErrRetryDelayRequired: max retries without a retry delay.
	ErrRetryDelayRequired = errors.New("A time.Duration `retry_delay` must be provided if max_retries > 0")
	// ErrMaxRetriesRequired: a retry delay without max retries.
	ErrMaxRetriesRequired = errors.New("A `max_retries` argument greater than 0 must be provided if specifying a retry delay.")
)

// check returns what is wrong with the options.
func (s *Spec) check() []error {
	var errs []error
	wrap := func(err error) error { return fmt.Errorf("task %q: %w", s.Name, err) }
	for _, err := range s.optionErrs {
		errs = append(errs, wrap(err))
	}
	switch {
	case s.MaxRetries < 0:
		errs = append(errs, wrap(fmt.Errorf("max_retries is %d; it must be 0 or more", s.MaxRetries)))
	case s.MaxRetries > 0 && !s.retryDelaySet:
		errs = append(errs, wrap(ErrRetryDelayRequired))
	case s.retryDelaySet && s.MaxRetries == 0:
		errs = append(errs, wrap(ErrMaxRetriesRequired))
	}
	if s.RetryDelay < 0 {
		errs = append(errs, wrap(fmt.Errorf("retry_delay is %v; it must be 0 or more", s.RetryDelay)))
	}
	if s.Timeout < 0 {
		errs = append(errs, wrap(fmt.Errorf("timeout is %v; it must be positive, or 0 for none", s.Timeout)))
	}
	if s.CacheFor < 0 {
		errs = append(errs, wrap(fmt.Errorf("cache_for is %v; it must be positive, or 0 for no caching", s.CacheFor)))
	}
	if s.Secret && s.Checkpoint != nil && *s.Checkpoint {
		errs = append(errs, wrap(errors.New("its result is a secret, which is never checkpointed; remove task.WithCheckpoint(true)")))
	}
	if s.Secret && s.CacheFor > 0 {
		errs = append(errs, wrap(errors.New("its result is a secret, which is never cached; remove task.WithCacheFor")))
	}
	if s.Trigger.check == nil {
		errs = append(errs, wrap(errors.New("trigger is not set; use one of the task package's triggers or task.NewTrigger")))
	}
	for i, tag := range s.Tags {
		if tag == "" {
			errs = append(errs, wrap(fmt.Errorf("tag %d is empty", i)))
		}
	}
	return errs
}

// Checkpoints reports whether the task's result is written to the run's
// result store, given the run's own setting. A secret task's never is,
// whatever its options say. The runner also leaves out, unless Checkpoint
// is set to true, the results that may hold a secret, which only it knows
// (see [WithCheckpoint]).
func (s *Spec) Checkpoints(runDefault bool) bool {
	if s.Secret {
		return false
	}
	if s.Checkpoint != nil {
		return *s.Checkpoint
	}
	return runDefault
}

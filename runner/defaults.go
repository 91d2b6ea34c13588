package runner

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/task"
)

// processConfig is the configuration a run without WithConfig takes its
// task defaults from: read once per process, at the first run that needs
// it, as Prefect reads its configuration once when it is imported.
var processConfig = sync.OnceValues(func() (*config.Config, error) { return config.Load() })

// defaults returns the run's task defaults: WithTaskDefaults', else the
// configuration's tasks.defaults.
func (o *options) defaults() (task.Defaults, error) {
	if o.taskDefaults != nil {
		return *o.taskDefaults, nil
	}
	cfg := o.config
	if cfg == nil {
		var err error
		if cfg, err = processConfig(); err != nil {
			return task.Defaults{}, fmt.Errorf("reading tasks.defaults: %w", err)
		}
	}
	return TaskDefaults(cfg)
}

// TaskDefaults reads Prefect's tasks.defaults from cfg: max_retries (a
// count; false is 0), retry_delay and timeout (whole seconds; false or
// absent is none). A max_retries above 0 needs a retry_delay, as Prefect's
// Task requires. A bad value is an error naming the setting, the value and
// what is valid.
func TaskDefaults(cfg *config.Config) (task.Defaults, error) {
	var d task.Defaults
	if v, ok := cfg.Get("tasks.defaults.max_retries"); ok {
		n, ok := v.(int64)
		if b, isBool := v.(bool); isBool {
			n, ok = 0, true
			if b {
				n = 1 // Python's True is the int 1
			}
		}
		if !ok || n < 0 || n > math.MaxInt32 {
			return d, fmt.Errorf("tasks.defaults.max_retries is %v; it must be a whole number, 0 or more (false for none)", v)
		}
		d.MaxRetries = int(n)
	}
	seconds := func(key string) (time.Duration, error) {
		v, ok := cfg.Get(key)
		if !ok {
			return 0, nil
		}
		switch t := v.(type) {
		case time.Duration: // retry_delay: the configuration made it one
			if t >= 0 {
				return t, nil
			}
		case int64:
			if t >= 0 && t <= math.MaxInt64/int64(time.Second) {
				return time.Duration(t) * time.Second, nil
			}
		}
		return 0, fmt.Errorf("%s is %v; it must be a whole number of seconds, 0 or more (false for none)", key, v)
	}
	var err error
	if d.RetryDelay, err = seconds("tasks.defaults.retry_delay"); err != nil {
		return task.Defaults{}, err
	}
	if d.Timeout, err = seconds("tasks.defaults.timeout"); err != nil {
		return task.Defaults{}, err
	}
	if _, set := cfg.Get("tasks.defaults.retry_delay"); d.MaxRetries > 0 && !set {
		return task.Defaults{}, fmt.Errorf("tasks.defaults.max_retries is %d but tasks.defaults.retry_delay is not set: %w", d.MaxRetries, task.ErrRetryDelayRequired)
	}
	return d, nil
}

// settings returns a task's retries and timeout in this run: its own, or
// the run's task defaults where it set none.
func (d *driver) settings(gt *flow.GraphTask) task.Defaults {
	s := gt.Spec
	if !d.hasDefaults {
		return task.Defaults{MaxRetries: s.MaxRetries, RetryDelay: s.RetryDelay, Timeout: s.Timeout}
	}
	return s.Under(d.defaults)
}

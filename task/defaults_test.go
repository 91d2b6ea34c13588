package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/prefect-go/prefect/task"
)

func TestSpecUnder(t *testing.T) {
	d := task.Defaults{MaxRetries: 3, RetryDelay: 10 * time.Second, Timeout: time.Minute}
	tests := []struct {
		name string
		opts []task.Option
		want task.Defaults
	}{
		{"no options: all of the defaults", nil, d},
		{"own retries and delay", []task.Option{task.WithRetries(1, time.Second)}, task.Defaults{MaxRetries: 1, RetryDelay: time.Second, Timeout: time.Minute}},
		{"max retries 0: no retries, no default delay", []task.Option{task.WithMaxRetries(0)}, task.Defaults{Timeout: time.Minute}},
		{"own timeout", []task.Option{task.WithTimeout(5 * time.Second)}, task.Defaults{MaxRetries: 3, RetryDelay: 10 * time.Second, Timeout: 5 * time.Second}},
		{"timeout 0: none, whatever the default", []task.Option{task.WithTimeout(0)}, task.Defaults{MaxRetries: 3, RetryDelay: 10 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := task.New("t", func(context.Context, task.None) (int, error) { return 0, nil }, tc.opts...)
			if err := tk.Spec().Err; err != nil {
				t.Fatal(err)
			}
			if got := tk.Spec().Under(d); got != tc.want {
				t.Errorf("Under(%+v) = %+v, want %+v", d, got, tc.want)
			}
			if got, want := tk.Spec().Under(task.Defaults{}), (task.Defaults{MaxRetries: tk.Spec().MaxRetries, RetryDelay: tk.Spec().RetryDelay, Timeout: tk.Spec().Timeout}); got != want {
				t.Errorf("Under(zero) = %+v, want the task's own %+v", got, want)
			}
		})
	}
}

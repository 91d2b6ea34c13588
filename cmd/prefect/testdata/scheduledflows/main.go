// Command scheduledflows is the flow program of the schedules' end-to-end
// test (schedule_e2e_test.go): one flow, every-second, scheduled every
// second with the parameter who from its clock, whose task checks that the
// run's scheduled start time is the one the server planned (a whole
// second) and says whom it greets.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/schedule"
	"github.com/prefect-go/prefect/task"
)

type greetIn struct {
	Who string `prefect:"who"`
}

func main() {
	s := schedule.Must(schedule.Interval(time.Second,
		schedule.WithStart(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		schedule.WithParameterDefaults(map[string]any{"who": "the clock"})))
	f := flow.New("every-second", flow.WithSchedule(s))
	who := flow.Parameter(f, "who", flow.WithDefault("nobody"))
	flow.Add(f, task.New("greet", func(ctx context.Context, in greetIn) (string, error) {
		rc, _ := runner.FromContext(ctx)
		if start := rc.ScheduledStartTime; start.IsZero() || !start.Equal(start.Truncate(time.Second)) {
			return "", fmt.Errorf("scheduled start %v is not a whole second of the schedule", start)
		}
		if in.Who != "the clock" {
			return "", fmt.Errorf("who = %q, want the clock's parameter default", in.Who)
		}
		return "hello, " + in.Who, nil
	}), flow.Bind("who", who))
	program.Main(f)
}

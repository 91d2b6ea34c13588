package runner_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/state"
)

// countReporter counts what it hears of, as cheaply as a Reporter can.
type countReporter struct{ flows, tasks, logs atomic.Int64 }

func (r *countReporter) FlowState(state.State)       { r.flows.Add(1) }
func (r *countReporter) TaskState(runner.TaskReport) { r.tasks.Add(1) }
func (r *countReporter) Log(runner.LogReport)        { r.logs.Add(1) }

// BenchmarkReporting is BenchmarkEngine's chain and map at 10,000 tasks
// with a Reporter that only counts: what reporting costs the run itself
// (masking, building the reports, the lock, and the Info log record per
// task run that the run makes once someone listens). Beside it, the same
// runs with only a logger at Info writing JSON to io.Discard, which pays
// for that record too. Without either, the engine's figures apply.
//
//	go test -run '^$' -bench Reporting -benchtime=20x ./runner/
func BenchmarkReporting(b *testing.B) {
	for _, shape := range []string{"chain", "map"} {
		f, tasks := benchFlow(shape, 10_000)
		if err := f.Validate(); err != nil {
			b.Fatal(err)
		}
		for _, ex := range []string{"local", "parallel"} {
			b.Run(fmt.Sprintf("%s/%d/%s/reporter", shape, 10_000, ex), func(b *testing.B) {
				e := benchExecutor(ex)
				rep := &countReporter{}
				benchMeasure(b, tasks, func() bool {
					fs, err := runner.Run(context.Background(), f, runner.WithExecutor(e), runner.WithReporter(rep))
					if err != nil {
						b.Fatal(err)
					}
					return fs.Kind == state.Success
				})
				b.ReportMetric(float64(rep.tasks.Load())/float64(b.N)/float64(tasks), "reports/task")
				b.ReportMetric(float64(rep.logs.Load())/float64(b.N)/float64(tasks), "logs/task")
			})
			b.Run(fmt.Sprintf("%s/%d/%s/logger", shape, 10_000, ex), func(b *testing.B) {
				e := benchExecutor(ex)
				logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
				benchMeasure(b, tasks, func() bool {
					fs, err := runner.Run(context.Background(), f, runner.WithExecutor(e), runner.WithLogger(logger))
					if err != nil {
						b.Fatal(err)
					}
					return fs.Kind == state.Success
				})
			})
		}
	}
}

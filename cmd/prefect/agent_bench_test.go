//go:build linux

package main

// BenchmarkAgent measures the local agent with the real binaries: the
// server, `prefect agent local start` and the flow program of
// testdata/agentflows (its flow "append", one task that records when it
// began). Run it with
//
//	go test -run '^$' -bench Agent -benchtime=20x ./cmd/prefect/
//
// Sub-benchmarks, baselines first:
//
//	exec                 start the flow program and let it exit (a usage
//	                     error): the cost of a process, no server
//	first-task/direct    create a run, claim it and exec the flow
//	                     program's `execute` for it, as an agent would,
//	                     without one
//	first-task/agent/poll=100ms, poll=20ms
//	                     create a run and let an agent (--poll-interval
//	                     100ms, 20ms) run it
//	runs/direct          b.N runs at once, claimed, then executed 8 at a
//	                     time without an agent
//	runs/agent           b.N runs at once, one agent (--max-runs 8,
//	                     --poll-interval 100ms) started once they exist
//
// Metrics: ms/first-task is from just before the run is created to when
// its task begins (the flow program writes the time); ms/run to when the
// flow program exits (direct: it exits once the server has the run's final
// state) or to when the test sees the run Success (agent: it polls every
// 10ms); runs/min the rate of runs ending Success.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/state"
)

func BenchmarkAgent(b *testing.B) {
	bin := buildBinary(b)
	flows := buildFlows(b)
	data := b.TempDir()
	env := cliEnv(b)
	if _, errOut, err := cliRun(bin, env, "server", "create-tenant", "acme", "--data-dir", data); err != nil {
		b.Fatalf("create-tenant: %v\n%s", err, errOut)
	}
	out, errOut, err := cliRun(bin, env, "server", "create-api-key", "--tenant", "acme", "--data-dir", data)
	if err != nil {
		b.Fatalf("create-api-key: %v\n%s", err, errOut)
	}
	key := strings.TrimSpace(out)
	srv := launchServer(b, bin, env, "--port", "0", "--data-dir", data)
	env = append(env, "PREFECT__CLOUD__API="+srv.url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
	c, err := client.New(srv.url+"/graphql", client.WithAPIKey(key))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.CloseIdleConnections)
	register(b, flows, env)
	// What an agent gives the flow program, for the runs without one.
	direct := append(slices.Clone(env), "PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false")
	ctx := context.Background()
	newRun := func(b *testing.B, out string) string {
		r, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "append", Parameters: map[string]any{"out": out}})
		if err != nil {
			b.Fatal(err)
		}
		return r.ID
	}
	// claim claims n scheduled runs, as an agent does before it launches
	// them (the server starts only a Submitted run).
	claim := func(b *testing.B, n int) {
		for n > 0 {
			got, err := c.ClaimFlowRuns(ctx, "bench-direct", nil, min(n, 100))
			if err != nil || len(got) == 0 {
				b.Fatalf("claimed %d runs: %v", len(got), err)
			}
			n -= len(got)
		}
	}
	execute := func(id string) error {
		cmd := exec.Command(flows, "execute")
		cmd.Env = append(slices.Clone(direct), "PREFECT__CONTEXT__FLOW_RUN_ID="+id)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("agentflows execute: %v\n%s", err, out)
		}
		return nil
	}
	agent := func(b *testing.B, args ...string) *process {
		return startProcess(b, bin, env, append([]string{"agent", "local", "start"}, args...)...)
	}

	b.Run("exec", func(b *testing.B) {
		for b.Loop() {
			err := exec.Command(flows).Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				b.Fatalf("agentflows without arguments: %v; want exit status 2", err)
			}
		}
	})

	b.Run("first-task/direct", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "starts")
		var toTask, toEnd time.Duration
		for range b.N {
			began := time.Now()
			id := newRun(b, out)
			claim(b, 1)
			if err := execute(id); err != nil {
				b.Fatal(err)
			}
			toEnd += time.Since(began)
			toTask += taskStart(b, out, id).Sub(began)
		}
		b.ReportMetric(ms(toTask)/float64(b.N), "ms/first-task")
		b.ReportMetric(ms(toEnd)/float64(b.N), "ms/run")
	})

	for _, poll := range []string{"100ms", "20ms"} {
		b.Run("first-task/agent/poll="+poll, func(b *testing.B) {
			ag := agent(b, "--poll-interval", poll)
			out := filepath.Join(b.TempDir(), "starts")
			var toTask, toEnd time.Duration
			b.ResetTimer()
			for range b.N {
				began := time.Now()
				id := newRun(b, out)
				waitSuccess(b, c, []string{id}, 10*time.Millisecond, ag)
				toEnd += time.Since(began)
				toTask += taskStart(b, out, id).Sub(began)
			}
			b.ReportMetric(ms(toTask)/float64(b.N), "ms/first-task")
			b.ReportMetric(ms(toEnd)/float64(b.N), "ms/run")
		})
	}

	const parallel = 8
	b.Run("runs/direct", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "starts")
		b.StopTimer()
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = newRun(b, out)
		}
		claim(b, b.N)
		b.StartTimer()
		began := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, parallel)
		for _, id := range ids {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := execute(id); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(began).Minutes(), "runs/min")
	})

	b.Run("runs/agent", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "starts")
		b.StopTimer()
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = newRun(b, out)
		}
		b.StartTimer()
		began := time.Now()
		ag := agent(b, "--poll-interval", "100ms", "--max-runs", strconv.Itoa(parallel))
		waitSuccess(b, c, ids, 50*time.Millisecond, ag)
		b.ReportMetric(float64(b.N)/time.Since(began).Minutes(), "runs/min")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// taskStart returns when the task of run id began, as the flow program
// wrote it to out.
func taskStart(b *testing.B, out, id string) time.Time {
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == id {
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				b.Fatalf("%s: %q", out, line)
			}
			return time.Unix(0, ns)
		}
	}
	b.Fatalf("the task of run %s wrote nothing to %s", id, out)
	return time.Time{}
}

// waitSuccess polls the server every poll until every run of ids is
// Success; one that ends otherwise, or a minute without all ending, fails
// the benchmark.
func waitSuccess(b *testing.B, c *client.Client, ids []string, poll time.Duration, ag *process) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range ids {
		for {
			st, _, err := c.FlowRunState(ctx, id)
			if err == nil && st == state.Success {
				break
			}
			if err == nil && st.IsFinished() {
				b.Fatalf("run %s ended %s\nagent:\n%s", id, st, ag)
			}
			select {
			case <-ctx.Done():
				b.Fatalf("run %s is %s after a minute (%v)\nagent:\n%s", id, st, err, ag)
			case <-time.After(poll):
			}
		}
	}
}

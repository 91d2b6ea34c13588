package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/agent"
	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/internal/testwait"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
	"github.com/prefect-go/prefect/state"
)

const mask = "********"

// The secrets of tenant acme in the masking tests, and what a run may
// write of them.
const (
	plainSecret = "plain-CANARY-7f3a9c"
	pemLine1    = "line-one-CANARY-a1b2c3"
	pemLine2    = "line-two-CANARY-d4e5f6"
	pemSecret   = "-----BEGIN TEST KEY-----\n" + pemLine1 + "\n" + pemLine2 + "\n-----END TEST KEY-----"
	tableUser   = "table-user-CANARY-5c4b"
	tablePW     = "table-pw-CANARY-0d9e"
	flowEnvPW   = "flowenv-pw-CANARY-31"
	flowEnvConf = "runconfig-CANARY-9" // not named secret: kept
	runEnvToken = "runenv-tok-CANARY-77"
	// globexSecret is tenant globex's: not masked in acme's text.
	globexSecret = "globex-CANARY-8a7b6c"
)

// tableJSON is the table secret as a run prints it.
var tableJSON = `{"password":"` + tablePW + `","port":5432,"user":"` + tableUser + `"}`

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// runsClient is a client of the server at url with key that does not retry.
func runsClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(url+"/graphql", client.WithAPIKey(key), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// runningRun registers a flow with env, creates a run of it named name
// with runEnv, claims it as agent-1 and sets it Running: the state a flow
// program writes its reports in. It returns the run and its version.
func runningRun(t *testing.T, c *client.Client, env, runEnv map[string]string, name string) (client.FlowRun, int) {
	t.Helper()
	ctx := context.Background()
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Command: []string{"/srv/etl"}, Env: env}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Name: name, Env: runEnv})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := c.ClaimFlowRuns(ctx, "agent-1", nil, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != run.ID {
		t.Fatalf("ClaimFlowRuns = %+v, %v", claimed, err)
	}
	v, err := c.SetFlowRunStateAs(ctx, "agent-1", run.ID, claimed[0].Version, state.Running, "")
	if err != nil {
		t.Fatal(err)
	}
	return run, v
}

// What a run writes (state messages, task runs, log lines, its name) is
// stored with every value of the tenant's secrets masked, whatever form it
// takes, on SQLite and PostgreSQL: the API shows ********, the database
// holds none of the values. Another tenant's secret is left as it is.
func TestRunTextIsMasked(t *testing.T) {
	forEachSQLStore(t, func(t *testing.T, f *sqlFixture) {
		ctx := context.Background()
		ca, cb := runsClient(t, f.srv.URL, f.keyA), runsClient(t, f.srv.URL, f.keyB)
		for name, v := range map[string]any{
			"PLAIN": plainSecret,
			"PEM":   pemSecret,
			"TABLE": map[string]any{"user": tableUser, "password": tablePW, "port": 5432},
		} {
			if err := ca.SetSecret(ctx, name, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := cb.SetSecret(ctx, "OWN", globexSecret); err != nil {
			t.Fatal(err)
		}
		flowEnv := map[string]string{
			"DB_PASSWORD":             flowEnvPW,
			"REGION":                  flowEnvConf,
			"MODE":                    "prod-eu",                         // not named secret: kept
			"PREFECT__LOGGING__LEVEL": "DEBUG",                           // Prefect's settings: kept
			"PREFECT__CLOUD__API":     "http://api.example.test/graphql", // kept
		}
		run, v := runningRun(t, ca, flowEnv, map[string]string{"RUN_TOKEN": runEnvToken}, "nightly "+plainSecret)
		if run.Name != "nightly "+mask {
			t.Errorf("the run's name = %q, want it masked", run.Name)
		}

		// Every form of every value the runs API can be sent.
		hidden := []string{plainSecret, b64(plainSecret), pemSecret, pemLine2, b64(pemLine1), tableUser, tablePW,
			tableJSON, flowEnvPW, runEnvToken, b64(runEnvToken)}
		kept := []string{globexSecret, flowEnvConf, "prod-eu", "DEBUG", "http://api.example.test/graphql"}
		var trs []client.TaskRun
		var lines []client.LogLine
		for i, x := range append(append([]string{}, hidden...), kept...) {
			trs = append(trs, client.TaskRun{ID: fmt.Sprintf("tr-%d", i), Slug: fmt.Sprintf("task-%d-%s", i, x), MapIndex: -1,
				State: state.Failed, Message: "failed with " + x + " in it"})
			lines = append(lines, client.LogLine{Level: "ERROR", TaskSlug: fmt.Sprintf("task-%d-%s", i, x), Message: "log: " + x + ".", WriterSeq: i + 1})
		}
		if err := ca.SetTaskRunStates(ctx, run.ID, trs); err != nil {
			t.Fatal(err)
		}
		if err := ca.WriteRunLogs(ctx, run.ID, lines); err != nil {
			t.Fatal(err)
		}
		// The agent's settle of a run whose process died: the message ends
		// with the process's last lines, which nobody masked.
		tail := "The flow run's process ended with exit status 2 before the flow run reached a final state. Its last 4 lines of output:\n" +
			"token=" + plainSecret + "\n" + pemSecret + "\nauth: Basic " + b64(tableUser+":"+tablePW) + "\nencoded: " + b64(plainSecret)
		if _, err := ca.SetFlowRunStateAs(ctx, "agent-1", run.ID, v, state.Failed, tail); err != nil {
			t.Fatal(err)
		}

		got, err := ca.FlowRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		logs, err := ca.FlowRunLogs(ctx, run.ID, "", 1000)
		if err != nil || len(logs) != len(lines) {
			t.Fatalf("FlowRunLogs = %d lines, %v; want %d", len(logs), err, len(lines))
		}
		if !strings.HasPrefix(got.Message, "The flow run's process ended") || strings.Count(got.Message, mask) < 4 ||
			strings.Contains(got.Message, b64(tableUser+":"+tablePW)) {
			t.Errorf("the run's message = %q, want its secret lines masked", got.Message)
		}
		if len(got.TaskRuns) != len(trs) {
			t.Fatalf("%d task runs, want %d (masked slugs must stay apart)", len(got.TaskRuns), len(trs))
		}
		var all strings.Builder
		all.WriteString(got.Name + "\n" + got.Message + "\n")
		for _, tr := range got.TaskRuns {
			fmt.Fprintf(&all, "%s %s %s %s\n", tr.ID, tr.Slug, tr.State, tr.Message)
			var i int
			fmt.Sscanf(tr.ID, "tr-%d", &i)
			wantSlug, wantMsg := fmt.Sprintf("task-%d-%s", i, mask), "failed with "+mask+" in it"
			if i >= len(hidden) {
				wantSlug, wantMsg = fmt.Sprintf("task-%d-%s", i, kept[i-len(hidden)]), "failed with "+kept[i-len(hidden)]+" in it"
			}
			if tr.Slug != wantSlug || tr.Message != wantMsg {
				t.Errorf("task run %s: slug %q, message %q; want %q, %q", tr.ID, tr.Slug, tr.Message, wantSlug, wantMsg)
			}
		}
		for _, l := range logs {
			fmt.Fprintf(&all, "%s %s %s\n", l.Level, l.TaskSlug, l.Message)
		}
		for i, l := range logs[:len(hidden)] {
			if l.Message != "log: "+mask+"." || l.TaskSlug != fmt.Sprintf("task-%d-%s", i, mask) {
				t.Errorf("log line %d = %q (task %q), want %q", i, l.Message, l.TaskSlug, "log: "+mask+".")
			}
		}
		for i, l := range logs[len(hidden):] {
			if want := "log: " + kept[i] + "."; l.Message != want {
				t.Errorf("log line of %q = %q, want it as it was", kept[i], l.Message)
			}
		}
		for _, x := range hidden {
			if strings.Contains(all.String(), x) {
				t.Errorf("the API shows a secret's form (%d bytes) in what the run wrote", len(x))
			}
		}
		if strings.Count(all.String(), globexSecret) != 4 { // task run and log line, slug and message
			t.Errorf("another tenant's secret is masked in this tenant's text, or was lost")
		}

		// Nothing in the database, the SQLite WAL included, holds a value.
		scan := func(when string) {
			raw := f.raw(t)
			for _, x := range []string{plainSecret, pemLine1, pemLine2, tableUser, tablePW, flowEnvPW, runEnvToken} {
				for _, form := range []string{x, b64(x)} {
					if bytes.Contains(raw, []byte(form)) {
						t.Errorf("%s: the database holds a secret (%d bytes) in clear", when, len(form))
					}
				}
			}
			if !bytes.Contains(raw, []byte(globexSecret)) {
				t.Errorf("%s: the scan found not even the text left as it was: it scans nothing", when)
			}
		}
		scan("while serving")
		f.st.Close() // checkpoints SQLite's WAL into the file
		scan("closed")
	})
}

// A secret set after a message was stored is masked in the next one,
// whichever server sharing the store set it: each write checks the
// tenant's secrets stamp. A deleted one stays masked until the masker is
// built again (TestMaskerCompacts).
func TestMaskerFollowsSecretChanges(t *testing.T) {
	forEachSQLStore(t, func(t *testing.T, f *sqlFixture) {
		ctx := context.Background()
		other := httptest.NewServer(server.New(f.reopen(t), f.env.Ring))
		t.Cleanup(other.Close)
		c1, c2 := runsClient(t, f.srv.URL, f.keyA), runsClient(t, other.URL, f.keyA)
		run, _ := runningRun(t, c1, nil, nil, "")
		seq := 0
		// write writes text through c, and returns it as read back.
		write := func(c *client.Client, text string) string {
			t.Helper()
			seq++
			if err := c.WriteRunLogs(ctx, run.ID, []client.LogLine{{Level: "INFO", Message: text, WriterSeq: seq}}); err != nil {
				t.Fatal(err)
			}
			logs, err := c1.FlowRunLogs(ctx, run.ID, "", 1000)
			if err != nil || len(logs) != seq {
				t.Fatalf("FlowRunLogs = %d lines, %v", len(logs), err)
			}
			return logs[seq-1].Message
		}
		name := map[string]string{"late-CANARY-4e1": "LATE", "remote-CANARY-9d2": "REMOTE"}
		for _, step := range []struct {
			name         string
			change, via  *client.Client // change sets or deletes; via writes
			set, deleted string         // the secret's value set, or deleted
			text, want   string
		}{
			{name: "not a secret yet", via: c1, text: "late-CANARY-4e1", want: "late-CANARY-4e1"},
			{name: "set on this server", change: c1, via: c1, set: "late-CANARY-4e1", text: "late-CANARY-4e1", want: mask},
			{name: "set on the other server", change: c2, via: c1, set: "remote-CANARY-9d2", text: "remote-CANARY-9d2", want: mask},
			{name: "written on the other server", via: c2, text: "late-CANARY-4e1 remote-CANARY-9d2", want: mask + " " + mask},
			{name: "deleted on the other server", change: c2, via: c1, deleted: "remote-CANARY-9d2", text: "remote-CANARY-9d2", want: mask},
			{name: "set again on the other server", change: c2, via: c1, set: "remote-CANARY-9d2", text: "remote-CANARY-9d2", want: mask},
			{name: "deleted on this server", change: c1, via: c2, deleted: "late-CANARY-4e1", text: "late-CANARY-4e1", want: mask},
		} {
			switch {
			case step.set != "":
				if err := step.change.SetSecret(ctx, name[step.set], step.set); err != nil {
					t.Fatal(err)
				}
			case step.deleted != "":
				if err := step.change.DeleteSecret(ctx, name[step.deleted]); err != nil {
					t.Fatal(err)
				}
			}
			if got := write(step.via, step.text); got != step.want {
				t.Errorf("%s: %q stored as %q, want %q", step.name, step.text, got, step.want)
			}
		}
	})
}

// The values of deleted secrets stay masked until the masker has gained
// CompactSlack values more than its last full build registered; then it
// is built again in the background, without them.
func TestMaskerCompacts(t *testing.T) {
	ctx := context.Background()
	env := servertest.New(t)
	h := env.Handler()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c := runsClient(t, ts.URL, env.Key)
	run, _ := runningRun(t, c, nil, nil, "")
	write := logWriter(t, c, run.ID)
	write("the masker is built, with nothing")
	if err := c.SetSecret(ctx, "GONE", "gone-CANARY-5a"); err != nil {
		t.Fatal(err)
	}
	if got := write("gone-CANARY-5a"); got != mask {
		t.Errorf("a new secret: %q", got)
	}
	if err := c.DeleteSecret(ctx, "GONE"); err != nil {
		t.Fatal(err)
	}
	if got := write("gone-CANARY-5a"); got != mask {
		t.Errorf("a deleted secret, before the masker is built again: %q", got)
	}
	for i := range server.CompactSlack {
		name := fmt.Sprintf("S%d", i)
		sealed, err := env.Ring.Seal(env.Tenant.ID, name, fmt.Appendf(nil, `"many-CANARY-%04d"`, i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Store.PutSecret(ctx, env.Tenant.ID, name, sealed); err != nil {
			t.Fatal(err)
		}
	}
	if got := write("many-CANARY-0007 gone-CANARY-5a"); got != mask+" "+mask {
		t.Errorf("after %d more: %q", server.CompactSlack, got)
	}
	server.WaitMasks(h)
	if got := write("many-CANARY-0007 gone-CANARY-5a"); got != mask+" gone-CANARY-5a" {
		t.Errorf("once built again: %q; want the deleted secret's value as it is", got)
	}
}

// noStamp is a store that keeps no secrets stamp: the server rebuilds its
// masker after MaskTTL.
type noStamp struct {
	server.Store
	server.RunStore
}

// Over a store without a stamp, a secret set by another server is masked
// once the masker is MaskTTL old; one set through this server at once.
// The test runs in a synctest bubble, whose clock moves on only when every
// goroutine in it waits, so the masker's age is exactly what the test
// sleeps. The client's requests are served in process (inProcess), as
// real network I/O does not block durably in a bubble.
func TestMaskerTTLWithoutStamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		env := servertest.New(t)
		h := server.New(noStamp{env.Store, env.Store}, env.Ring)
		defer h.Close()
		c, err := client.New("http://server.invalid/graphql", client.WithAPIKey(env.Key), client.WithRetries(0, 0),
			client.WithHTTPClient(&http.Client{Transport: inProcess{h}}))
		if err != nil {
			t.Fatal(err)
		}
		run, _ := runningRun(t, c, nil, nil, "")
		write := logWriter(t, c, run.ID)
		if err := c.SetSecret(ctx, "HERE", "here-CANARY-1f"); err != nil {
			t.Fatal(err)
		}
		if got := write("here-CANARY-1f"); got != mask {
			t.Errorf("a secret set through this server: stored as %q", got)
		}
		// Another server's put, straight into the store.
		sealed, err := env.Ring.Seal(env.Tenant.ID, "THERE", []byte(`"there-CANARY-2e"`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Store.PutSecret(ctx, env.Tenant.ID, "THERE", sealed); err != nil {
			t.Fatal(err)
		}
		if got := write("there-CANARY-2e"); got != "there-CANARY-2e" {
			t.Errorf("within MaskTTL of the build: stored as %q; the window is documented as MaskTTL", got)
		}
		time.Sleep(server.MaskTTL)
		if got := write("there-CANARY-2e"); got != mask {
			t.Errorf("MaskTTL after the build: stored as %q, want it masked", got)
		}
	})
}

// inProcess is an http.RoundTripper that serves each request with a
// handler on the caller's goroutine.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// failStamp is store.SQL whose secrets stamp fails while fail is set.
type failStamp struct {
	*store.SQL
	fail atomic.Bool
}

func (s *failStamp) SecretsStamp(ctx context.Context, tenantID string) (int64, error) {
	if s.fail.Load() {
		return 0, errors.New("the database is away")
	}
	return s.SQL.SecretsStamp(ctx, tenantID)
}

// When the server cannot read the tenant's secrets (the store fails, or a
// secret is sealed under a key it lacks), a run's text is refused, not
// stored unmasked.
func TestRunTextRefusedWhenSecretsUnreadable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, env *servertest.Env, st *failStamp)
	}{
		{"the stamp cannot be read", func(t *testing.T, _ *servertest.Env, st *failStamp) { st.fail.Store(true) }},
		{"a secret under an unknown key", func(t *testing.T, env *servertest.Env, _ *failStamp) {
			mk, err := seal.NewMasterKey()
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := seal.Seal(mk, env.Tenant.ID, "FOREIGN", []byte(`"foreign-CANARY-3c"`))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.Store.PutSecret(ctx, env.Tenant.ID, "FOREIGN", sealed); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.New(t)
			st := &failStamp{SQL: env.Store}
			var logs bytes.Buffer
			var mu sync.Mutex
			h := server.New(st, env.Ring, server.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))))
			ts := httptest.NewServer(h)
			t.Cleanup(ts.Close)
			c := runsClient(t, ts.URL, env.Key)
			run, v := runningRun(t, c, nil, nil, "")
			tc.spoil(t, env, st)
			err := c.WriteRunLogs(ctx, run.ID, []client.LogLine{{Level: "INFO", Message: "foreign-CANARY-3c"}})
			if err == nil || !strings.Contains(err.Error(), "stores no text unmasked") {
				t.Errorf("WriteRunLogs = %v; want it refused", err)
			}
			if _, err := c.SetFlowRunState(ctx, run.ID, v, state.Failed, "foreign-CANARY-3c"); err == nil {
				t.Error("SetFlowRunState stored a message it could not mask")
			}
			st.fail.Store(false)
			if got, _ := c.FlowRunLogs(ctx, run.ID, "", 10); len(got) != 0 {
				t.Errorf("stored anyway: %+v", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(logs.String(), "to mask what a run writes") || strings.Contains(logs.String(), "CANARY") {
				t.Errorf("the server's log: %s", logs.String())
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// orchestrator is the agent's view of the server, over the Go client, as
// the prefect command's agent has it.
type orchestrator struct {
	c       *client.Client
	agentID string
}

func (o orchestrator) Claim(ctx context.Context, agentID string, labels []string, n int) ([]agent.FlowRun, error) {
	runs, err := o.c.ClaimFlowRuns(ctx, agentID, labels, n)
	if err != nil {
		return nil, err
	}
	out := make([]agent.FlowRun, len(runs))
	for i, r := range runs {
		env, err := o.c.FlowRunEnv(ctx, r.ID, agentID)
		if err != nil {
			return nil, err
		}
		out[i] = agent.FlowRun{ID: r.ID, FlowName: r.FlowName, FlowVersion: r.FlowVersion, Version: r.Version,
			Labels: r.Labels, Command: []string{"/srv/etl"}, Env: env}
	}
	return out, nil
}

func (o orchestrator) RunState(ctx context.Context, runID string) (state.Kind, int, error) {
	return o.c.FlowRunState(ctx, runID)
}

func (o orchestrator) SetState(ctx context.Context, runID string, version int, to state.Kind, message string) (int, error) {
	v, err := o.c.SetFlowRunStateAs(ctx, o.agentID, runID, version, to, message)
	if errors.Is(err, client.ErrConflict) {
		return 0, fmt.Errorf("%w: %w", agent.ErrConflict, err)
	}
	return v, err
}

// crashLauncher starts processes that end at once with exit status 2,
// having printed tail.
type crashLauncher struct{ tail []string }

func (l crashLauncher) Launch(context.Context, agent.LaunchSpec) (agent.Process, error) {
	return crashed(l), nil
}

type crashed crashLauncher

func (p crashed) Wait() (agent.Exit, error) { return agent.Exit{Code: 2}, nil }
func (p crashed) Kill() error               { return nil }
func (p crashed) Tail() []string            { return p.tail }

// The agent's settle of a run whose process died sends the process's last
// lines, masked only with what the agent knows (its environment's
// secrets). A secret the process fetched from the server is masked by the
// server.
func TestAgentTailIsMasked(t *testing.T) {
	ctx := context.Background()
	_, _, c := serveRuns(t)
	if err := c.SetSecret(ctx, "API_TOKEN", plainSecret); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Command: []string{"/srv/etl"}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(orchestrator{c: c, agentID: "agent-tail"}, agent.WithID("agent-tail"),
		agent.WithLauncher(crashLauncher{tail: []string{"fetched token " + plainSecret, "panic: auth " + b64(plainSecret)}}),
		agent.WithPollInterval(10*time.Millisecond), agent.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	var got client.FlowRun
	for deadline := testwait.Deadline(t); ; {
		if got, err = c.FlowRun(ctx, run.ID); err == nil && got.State == state.Failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not settle the run: %+v, %v", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Error(err)
	}
	if !strings.Contains(got.Message, "exit status 2") || strings.Count(got.Message, mask) != 2 ||
		strings.Contains(got.Message, plainSecret) || strings.Contains(got.Message, b64(plainSecret)) {
		t.Errorf("the settled run's message = %q; want the tail's secret masked", got.Message)
	}
}

// logWriter returns a function that writes one log line to run runID and
// returns the line as the server stored it.
func logWriter(t *testing.T, c *client.Client, runID string) func(text string) string {
	seq := 0
	return func(text string) string {
		t.Helper()
		seq++
		ctx := context.Background()
		if err := c.WriteRunLogs(ctx, runID, []client.LogLine{{Level: "INFO", Message: text, WriterSeq: seq}}); err != nil {
			t.Fatal(err)
		}
		logs, err := c.FlowRunLogs(ctx, runID, "", 1000)
		if err != nil || len(logs) != seq {
			t.Fatalf("FlowRunLogs = %d lines, %v", len(logs), err)
		}
		return logs[seq-1].Message
	}
}

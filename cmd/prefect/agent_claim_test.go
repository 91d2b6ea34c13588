package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
)

// Claim, when no claimed run could be started, reports every one under a
// count, each naming what failed, in one error errors.As can take apart.
func TestClaimReportsEveryRunItCouldNotStart(t *testing.T) {
	env := servertest.New(t)
	h := env.Handler()
	var flowsDown atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		if flowsDown.Load() && bytes.Contains(body, []byte("flow(id:")) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"errors":[{"message":"the flow store is down"}]}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL+"/graphql", client.WithAPIKey(env.Key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx := context.Background()
	if _, _, _, err := c.RegisterFlow(ctx, client.FlowRegistration{Name: "f", Command: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	flowsDown.Store(true)
	o := &orchestrator{c: c}
	runs, err := o.Claim(ctx, "agent-1", nil, 2)
	if err == nil || len(runs) != 0 {
		t.Fatalf("Claim = %v, %v; want no runs and an error", runs, err)
	}
	header := "2 claimed flow runs could not be started:\n\t- "
	if !strings.HasPrefix(err.Error(), header) || strings.Count(err.Error(), "\n\t- ") != 2 ||
		strings.Count(err.Error(), "the flow store is down") != 2 {
		t.Errorf("Claim's error =\n%v\nwant it to begin %q and give both runs' reason", err, header)
	}
	var list *multierror.Error
	if !errors.As(err, &list) || len(list.WrappedErrors()) != 2 {
		t.Fatalf("Claim's error = %T; want a *multierror.Error of 2", err)
	}
	// Runs of one flow fail alike: each line names its run.
	if a, b := list.Errors[0].Error(), list.Errors[1].Error(); !strings.HasPrefix(a, "flow run ") || a == b {
		t.Errorf("the runs' problems do not name their runs: %q, %q", a, b)
	}
}

package web_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/state"
)

// TestFlowRunsPageInChromium drives the Flow runs page in a real headless
// Chromium against the real server over SQLite, while the test plays the
// agent and the flow program through the Go client: the list follows the
// runs' states, a run's view shows its graph, task table, parameters and
// log and follows them until the run is finished, then stops asking; a run
// is cancelled from the list. A secret in a run's environment never reaches
// the browser. With PREFECT_WEB_SCREENSHOT_RUNS=file.png it also writes a
// screenshot of a running run's view.
func TestFlowRunsPageInChromium(t *testing.T) {
	browser := findBrowser(t)
	ctx := t.Context()

	env := servertest.New(t)
	srv := env.Handler()
	rec := &recorder{}
	ts := httptest.NewServer(rec.wrap(srv))
	t.Cleanup(ts.Close)
	direct := httptest.NewServer(srv) // the test's own calls, out of the record
	t.Cleanup(direct.Close)
	cl, err := client.New(direct.URL+"/graphql", client.WithAPIKey(env.Key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)

	// A flow extract -> transform -> load, with a mapped use_credentials
	// beside transform.
	def, err := json.Marshal(program.Definition{
		Name: "etl",
		Tasks: []program.TaskDef{
			{Slug: "extract-1", Name: "extract"},
			{Slug: "transform-1", Name: "transform", Upstream: []string{"extract-1"}},
			{Slug: "use_credentials-1", Name: "use_credentials", Mapped: true, Secret: true, Upstream: []string{"extract-1"}},
			{Slug: "load-1", Name: "load", Upstream: []string{"transform-1"}},
		},
		Parameters: []program.ParameterDef{{Name: "n", Type: "int"}},
		Reference:  []string{"load-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	flowID, _, _, err := cl.RegisterFlow(ctx, client.FlowRegistration{Name: "etl", Definition: def, Command: []string{"etl"}})
	if err != nil {
		t.Fatal(err)
	}
	canary := "canary-" + rand.Text()
	run1, err := cl.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Name: "nightly-1",
		Parameters: map[string]any{"n": 5, "region": "eu-west"}, Env: map[string]string{"SECRET_X": canary}})
	if err != nil {
		t.Fatal(err)
	}
	run2, err := cl.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Name: "nightly-2"})
	if err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, browser)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, b.pageText())
		}
	}
	waitFor := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Fatalf("waiting until %s (%s): %v\n%s", what, expr, err, b.pageText())
		}
	}
	text := func(sel string) string {
		t.Helper()
		return eval[string](t, b, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? "(none)"`, sel))
	}
	row := func(id string) string { return fmt.Sprintf(`#run-rows tr[data-id=%q]`, id) }
	node := func(slug string) string { return fmt.Sprintf(`#run-graph g.node[data-slug=%q]`, slug) }
	report := func(trs ...client.TaskRun) {
		t.Helper()
		if err := cl.SetTaskRunStates(ctx, run1.ID, trs); err != nil {
			t.Fatal(err)
		}
	}
	logs := func(lines ...string) {
		t.Helper()
		var ll []client.LogLine
		for _, l := range lines {
			level, msg, _ := strings.Cut(l, " ")
			ll = append(ll, client.LogLine{Level: level, Message: msg, TaskSlug: "transform-1"})
		}
		if err := cl.WriteRunLogs(ctx, run1.ID, ll); err != nil {
			t.Fatal(err)
		}
	}
	tr := func(slug string, i int, k state.Kind, msg string) client.TaskRun {
		return client.TaskRun{ID: fmt.Sprintf("%s[%d]", slug, i), Slug: slug, MapIndex: i, State: k, Message: msg}
	}

	// Sign in on the runs page's address: the runs are listed, scheduled.
	do("signing in",
		chromedp.Navigate(ts.URL+"/#/runs"),
		chromedp.WaitVisible(chromedp.ID("api-key")),
		chromedp.SendKeys(chromedp.ID("api-key"), env.Key),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.ID("runs")),
	)
	waitFor("both runs are listed", `document.querySelectorAll("#run-rows tr").length === 2`)
	if got := text(row(run1.ID) + " .state"); got != "Scheduled" {
		t.Errorf("run 1 is listed %q, want Scheduled", got)
	}
	if got := text(row(run1.ID) + " td.flow"); got != "etl v1" {
		t.Errorf("run 1's flow is listed %q, want etl v1", got)
	}
	if got := eval[string](t, b, `document.getElementById("nav-runs").getAttribute("aria-current") + " " + document.getElementById("secrets").hidden + " " + document.title`); got != "page true Flow runs · Prefect server" {
		t.Errorf("nav, secrets hidden, title: %q", got)
	}

	// An agent claims both and starts them, and a third run is made: the
	// list follows, the newest run on top, without rebuilding the other
	// rows.
	eval[bool](t, b, `(document.querySelector('`+row(run1.ID)+`').dataset.kept = "yes") !== ""`)
	claimed, err := cl.ClaimFlowRuns(ctx, "test-agent", nil, 2)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimFlowRuns = %d runs, %v", len(claimed), err)
	}
	version := map[string]int{}
	for _, r := range claimed {
		if version[r.ID], err = cl.SetFlowRunState(ctx, r.ID, r.Version, state.Running, "running on test-agent"); err != nil {
			t.Fatal(err)
		}
	}
	report(tr("extract-1", -1, state.Success, ""), tr("transform-1", -1, state.Running, ""), tr("load-1", -1, state.Pending, ""),
		tr("use_credentials-1", -1, state.Mapped, "5 children"),
		tr("use_credentials-1", 0, state.Success, ""), tr("use_credentials-1", 1, state.Success, ""), tr("use_credentials-1", 2, state.Success, ""),
		tr("use_credentials-1", 3, state.Running, ""), tr("use_credentials-1", 4, state.Retrying, "connection reset; retry 1 of 3 in 1s"))
	logs("INFO extracted 120 rows", "WARN 3 rows without a date")
	run3, err := cl.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Name: "nightly-3"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor("run 3 is listed first, run 1 Running", `document.querySelector("#run-rows tr")?.dataset.id === "`+run3.ID+`" &&
		document.querySelector('`+row(run1.ID)+` .state').textContent === "Running"`)
	if got := eval[string](t, b, `[...document.querySelectorAll("#run-rows tr")].map(r => r.querySelector("a").textContent + ":" + r.querySelector(".state").textContent + ":" + !r.querySelector("button.cancel").hidden).join(" ")`); got != "nightly-3:Scheduled:true nightly-2:Running:true nightly-1:Running:true" {
		t.Errorf("listed (name:state:cancellable): %q", got)
	}
	if eval[string](t, b, `document.querySelector('`+row(run1.ID)+`').dataset.kept ?? ""`) != "yes" {
		t.Errorf("a refresh of the list replaced run 1's row")
	}

	// Run 1's view: the graph, the task table, the parameters, the log.
	do("opening run 1", chromedp.Click(chromedp.CSS(row(run1.ID)+" a")))
	waitFor("the graph is drawn", `document.querySelectorAll("#run-graph svg g.node").length === 4`)
	waitFor("the task table is filled", `document.querySelectorAll("#task-rows tr").length === 9`)
	waitFor("the log shows 2 lines", `document.querySelectorAll("#run-log .line").length === 2`)
	if got := eval[string](t, b, `location.hash + " " + document.title`); got != "#/runs/"+run1.ID+" Flow run nightly-1 · Prefect server" {
		t.Errorf("hash and title: %q", got)
	}
	for sel, want := range map[string]string{
		"#run-name":           "nightly-1",
		"#run-state":          "Running",
		"#run-message":        "running on test-agent",
		"#run-flow":           "etl",
		"#run-flow-version":   "1",
		"#run-agent":          "test-agent",
		"#graph-svg-title":    "Task graph of flow etl: 4 tasks",
		"#run-log .line .msg": "extracted 120 rows",
	} {
		if got := text(sel); got != want {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	var params map[string]any
	if err := json.Unmarshal([]byte(text("#run-parameters")), &params); err != nil || params["region"] != "eu-west" || params["n"] != 5.0 {
		t.Errorf("the parameters shown: %q (%v)", text("#run-parameters"), err)
	}
	if document(t, b).hidden("#run-cancel") {
		t.Errorf("a running run's view has no Cancel button")
	}
	// One node a task, in layers by longest path: extract, then transform
	// and use_credentials, then load; each coloured by its state.
	type nodeInfo struct {
		Class, State, Status, X string
	}
	nodes := func() map[string]nodeInfo {
		t.Helper()
		var out map[string]nodeInfo
		js := eval[string](t, b, `JSON.stringify(Object.fromEntries([...document.querySelectorAll("#run-graph g.node")].map(g => [g.dataset.slug, {
			Class: [...g.classList].filter(c => c.startsWith("state-")).join(" "), State: g.dataset.state,
			Status: g.querySelector(".status").textContent, X: g.getAttribute("transform").split(/[( ]/)[1]}])))`)
		if err := json.Unmarshal([]byte(js), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := nodes()
	for slug, want := range map[string]nodeInfo{
		"extract-1":         {"state-success", "Success", "Success", "12"},
		"transform-1":       {"state-running", "Running", "Running", "264"},
		"use_credentials-1": {"state-running", "Running", "3/5 Success", "264"},
		"load-1":            {"state-pending", "Pending", "Pending", "516"},
	} {
		if got[slug] != want {
			t.Errorf("node %s: %+v, want %+v", slug, got[slug], want)
		}
	}
	if n := eval[int](t, b, `document.querySelectorAll("#run-graph path.edge").length`); n != 3 {
		t.Errorf("the graph has %d edges, want 3", n)
	}
	if got := eval[string](t, b, `document.querySelector('`+node("use_credentials-1")+` title').textContent`); got != "use_credentials-1 (3/5 Success · 1 Running · 1 Retrying) — 5 children (reads a secret)" {
		t.Errorf("the mapped task's tooltip says %q", got)
	}
	// Colours: a node's outline is its state's colour, the badge's too.
	colours := eval[string](t, b, `[
		getComputedStyle(document.querySelector('`+node("extract-1")+` .box')).stroke,
		getComputedStyle(document.querySelector("#task-rows tr[data-slug='extract-1'] .state")).color,
		getComputedStyle(document.querySelector('`+node("transform-1")+` .box')).stroke,
		getComputedStyle(document.querySelector("#run-state")).color].join(" | ")`)
	if c := strings.Split(colours, " | "); len(c) != 4 || c[0] != c[1] || c[2] != c[3] || c[0] == c[2] {
		t.Errorf("success node | success badge | running node | running badge colours: %s", colours)
	}
	if got := eval[string](t, b, `[...document.querySelectorAll("#task-rows tr")].map(r => r.dataset.slug + "[" + r.querySelector(".map-index").textContent + "]=" + r.querySelector(".state").textContent).join(" ")`); got != "extract-1[]=Success transform-1[]=Running use_credentials-1[]=Mapped use_credentials-1[0]=Success use_credentials-1[1]=Success use_credentials-1[2]=Success use_credentials-1[3]=Running use_credentials-1[4]=Retrying load-1[]=Pending" {
		t.Errorf("task table: %s", got)
	}
	if got := text(`#task-rows tr[data-slug="use_credentials-1"][data-map-index="4"] td.message`); got != "connection reset; retry 1 of 3 in 1s" {
		t.Errorf("the retrying child's message: %q", got)
	}
	if got := eval[string](t, b, `[...document.querySelectorAll("#run-log .line")].map(l => l.querySelector(".level").textContent + " " + l.querySelector(".task").textContent + " " + l.querySelector(".msg").textContent).join("\n")`); got != "INFO transform-1 extracted 120 rows\nWARN transform-1 3 rows without a date" {
		t.Errorf("the log shows:\n%s", got)
	}
	if path := os.Getenv("PREFECT_WEB_SCREENSHOT_RUNS"); path != "" {
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote a screenshot of the run's view to %s", path)
	}

	// The run goes on: the view follows, appending to the log.
	eval[bool](t, b, `(document.querySelector("#run-log .line").dataset.kept = "yes") !== ""`)
	report(tr("transform-1", -1, state.Success, "120 rows"), tr("load-1", -1, state.Running, ""),
		tr("use_credentials-1", 3, state.Success, ""), tr("use_credentials-1", 4, state.Success, ""))
	logs("INFO transformed 120 rows")
	waitFor("transform turns Success", `document.querySelector('`+node("transform-1")+`').classList.contains("state-success")`)
	waitFor("the mapped task is done", `document.querySelector('`+node("use_credentials-1")+` .status').textContent === "5/5 Success"`)
	waitFor("the log has 3 lines", `document.querySelectorAll("#run-log .line").length === 3`)
	if got := nodes(); got["load-1"].Class != "state-running" || got["use_credentials-1"].Class != "state-success" {
		t.Errorf("nodes after the update: %+v", got)
	}
	if eval[string](t, b, `document.querySelector("#run-log .line").dataset.kept ?? ""`) != "yes" {
		t.Errorf("the log was rebuilt rather than appended to")
	}
	if rec.count(`"after":null`) == 0 || rec.count(`"after":"`) == 0 {
		t.Errorf("the log was not read from the start, then on from a cursor")
	}

	// The run ends; its last log line comes just before. The view shows
	// the end, then stops asking.
	report(tr("load-1", -1, state.Success, ""))
	logs("INFO loaded 120 rows")
	if _, err := cl.SetFlowRunState(ctx, run1.ID, version[run1.ID], state.Success, "All reference tasks succeeded."); err != nil {
		t.Fatal(err)
	}
	waitFor("the view shows the run finished", `document.getElementById("run-live").dataset.live === "false"`)
	if got := text("#run-state") + " " + text("#run-message"); got != "Success All reference tasks succeeded." {
		t.Errorf("the finished run shows %q", got)
	}
	if got := nodes(); got["load-1"].Class != "state-success" {
		t.Errorf("load after the run: %+v", got["load-1"])
	}
	if n := eval[int](t, b, `document.querySelectorAll("#run-log .line").length`); n != 4 {
		t.Errorf("the finished run's log shows %d lines, want 4", n)
	}
	if !document(t, b).hidden("#run-cancel") {
		t.Errorf("a finished run's view offers Cancel")
	}
	if got := text("#status"); got != "Flow run nightly-1 is now Success." {
		t.Errorf("the status says %q", got)
	}
	before := rec.started.Load()
	time.Sleep(3 * time.Second) // what is measured is that nothing happens
	if n := rec.started.Load() - before; n != 0 {
		all := rec.all()
		for _, x := range all[max(0, len(all)-int(n)):] {
			t.Errorf("in the 3 s after the run finished, the page asked: %.160s", x.request)
		}
	}

	// Back to the list: cancel run 2, which is running.
	do("going back to the list", chromedp.Click(chromedp.CSS(".back a")))
	waitFor("the list shows run 1 Success", `document.querySelector('`+row(run1.ID)+` .state')?.textContent === "Success"`)
	if !document(t, b).hidden(row(run1.ID) + " button.cancel") {
		t.Errorf("a finished run is offered for cancelling")
	}
	do("cancelling run 2",
		chromedp.Click(chromedp.CSS(row(run2.ID)+" button.cancel")),
		chromedp.WaitVisible(chromedp.ID("cancel-dialog")),
	)
	if got := text("#cancel-name"); got != "nightly-2" {
		t.Errorf("the dialog asks about %q", got)
	}
	do("confirming", chromedp.Click(chromedp.ID("cancel-confirm")))
	waitFor("the list shows run 2 Cancelling", `document.querySelector('`+row(run2.ID)+` .state').textContent === "Cancelling"`)
	if st, _, err := cl.FlowRunState(ctx, run2.ID); err != nil || st != state.Cancelling {
		t.Errorf("run 2 on the server: %q, %v; want Cancelling", st, err)
	}
	if got := text("#status"); got != "Asked flow run nightly-2 to stop: it is Cancelling until its agent stops it." {
		t.Errorf("the status says %q", got)
	}
	if !document(t, b).hidden(row(run2.ID) + " button.cancel") {
		t.Errorf("a cancelling run is offered for cancelling again")
	}

	// Runs planned for later: one asked for with a scheduled start, one the
	// server's scheduler made. Each row shows its planned start as the
	// other times are shown; the scheduler's is marked. A run's view shows
	// it too.
	planned := time.Now().Add(3 * time.Hour).Truncate(time.Second).UTC()
	later, err := cl.CreateFlowRun(ctx, client.NewFlowRun{FlowName: "etl", Name: "later-1", ScheduledStart: planned})
	if err != nil {
		t.Fatal(err)
	}
	autoPlanned := planned.Add(time.Hour)
	auto, err := env.Store.CreateFlowRun(ctx, orchestration.FlowRun{TenantID: env.Tenant.ID, FlowID: flowID, Name: "auto-1",
		ScheduledStart: autoPlanned, IdempotencyKey: orchestration.ScheduleKey("etl", autoPlanned)})
	if err != nil {
		t.Fatal(err)
	}
	plannedISO, autoISO := planned.Format(time.RFC3339), autoPlanned.Format(time.RFC3339)
	shown := func(iso string) string { // how the page shows a time
		return eval[string](t, b, fmt.Sprintf(`new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" }).format(new Date(%q))`, iso))
	}
	waitFor("the planned runs are listed", `document.querySelectorAll("#run-rows tr").length === 5`)
	plannedCell := func(id string) string {
		return eval[string](t, b, `(() => { const td = document.querySelector('`+row(id)+` td.planned'); if (!td) return "(none)";
			const note = td.querySelector(".note"); return td.querySelector("time").getAttribute("datetime") + " | " + td.querySelector("time").textContent + " | " +
			(note && !note.hidden && note.getClientRects().length > 0 ? note.textContent + " (" + note.title + ")" : "unmarked") })()`)
	}
	for id, want := range map[string]string{
		later.ID: plannedISO + " | " + shown(plannedISO) + " | unmarked",
		auto.ID:  autoISO + " | " + shown(autoISO) + " | scheduled (Created by the server's scheduler from the flow's schedule)",
		run1.ID:  run1.ScheduledStart.UTC().Format(time.RFC3339Nano) + " | " + shown(run1.ScheduledStart.UTC().Format(time.RFC3339Nano)) + " | unmarked",
	} {
		if got := plannedCell(id); got != want {
			t.Errorf("run %s's Planned cell shows %q, want %q", id, got, want)
		}
	}
	if got := eval[string](t, b, `[...document.querySelectorAll("#runs thead th")].map(th => th.textContent).slice(0, 4).join()`); got != "Run,Flow,State,Planned" {
		t.Errorf("the list's columns: %q", got)
	}
	if shown(plannedISO) == text(row(later.ID)+" td.created time") {
		t.Errorf("the planned start is shown as the creation time")
	}
	plannedFact := func() string {
		return eval[string](t, b, `(() => { const t = document.querySelector("#run-planned time"); const n = document.getElementById("run-auto");
			return t.getAttribute("datetime") + " | " + t.textContent + " | " + (n.getClientRects().length > 0 ? n.textContent : "unmarked") })()`)
	}
	do("opening the later run", chromedp.Click(chromedp.CSS(row(later.ID)+" a")))
	waitFor("the later run's view is filled", `document.getElementById("run-name").textContent === "later-1" && document.getElementById("run-state").textContent === "Scheduled"`)
	if got, want := plannedFact(), plannedISO+" | "+shown(plannedISO)+" | unmarked"; got != want {
		t.Errorf("the later run's view shows its planned start as %q, want %q", got, want)
	}
	eval[bool](t, b, `(location.hash = "#/runs/`+auto.ID+`") !== ""`) // opening the scheduler's run
	waitFor("the scheduler's run's view is filled", `document.getElementById("run-name").textContent === "auto-1"`)
	if got, want := plannedFact(), autoISO+" | "+shown(autoISO)+" | scheduled by the flow's schedule"; got != want {
		t.Errorf("the scheduler's run's view shows its planned start as %q, want %q", got, want)
	}
	do("going back to the list", chromedp.Click(chromedp.CSS(".back a")))
	waitFor("the list is shown again", `!document.getElementById("runs").hidden && document.querySelectorAll("#run-rows tr").length === 5`)

	// The filter asks the server for one state.
	eval[bool](t, b, `(() => { const s = document.getElementById("run-state-filter"); s.value = "Success"; s.dispatchEvent(new Event("change")); return true })()`)
	waitFor("only run 1 is listed", `[...document.querySelectorAll("#run-rows tr")].map(r => r.dataset.id).join() === "`+run1.ID+`"`)
	if rec.count(`"state":"Success"`) == 0 {
		t.Errorf("the filter was not sent to the server")
	}

	// The Secrets tab takes over; the list stops refreshing.
	do("opening the Secrets tab", chromedp.Click(chromedp.ID("nav-secrets")), chromedp.WaitVisible(chromedp.ID("secret-name")))
	if !document(t, b).hidden("#runs") || !document(t, b).hidden("#run-view") {
		t.Errorf("the runs page is still shown beside the Secrets page")
	}

	// Nothing the browser sent asked for a value or an environment; nothing
	// it got, nor the page, holds the run's secret.
	exchanges := rec.all()
	for _, x := range exchanges {
		if strings.Contains(x.request, "secret_value") || strings.Contains(x.request, "flow_run_env") {
			t.Errorf("the page asked for a value or an environment: %s", x.request)
		}
		if strings.Contains(x.response, canary) {
			t.Errorf("the response to %s %s holds the run's secret", x.method, x.path)
		}
		if x.method == http.MethodPost && x.path != "/graphql" {
			t.Errorf("a POST to %s", x.path)
		}
	}
	if dom := eval[string](t, b, `document.documentElement.outerHTML + document.body.innerText`); strings.Contains(dom, canary) {
		t.Errorf("the page holds the run's secret")
	}
	if n := rec.count("flow_run(id"); n < 3 {
		t.Errorf("the record holds %d reads of a run; is the recorder working?", n)
	}
	b.assertNoConsoleErrors(t)
}

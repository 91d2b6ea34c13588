// The Flow runs page: the tenant's runs with their states, and one run's
// tasks as a graph and a table, its parameters and its log, refreshed while
// they can change.
//
// It uses only flow_runs, flow_run, flow, flow_run_logs and cancel_flow_run.
// A run's environment may hold secrets: this page never asks for it, and so
// never shows it.
//
// Refreshing: the list every 2 s, a run every 1 s until it is finished, and
// neither while the tab is hidden. One request at a time; a refresh that
// changes nothing leaves the DOM as it is, so focus and selection stay.

import { button, setBadge, setText, setTime, stateBadge, timeCell } from "./ui.js";
import { TaskGraph, tasksOf } from "./graph.js";

const LIST_EVERY = 2000;
const RUN_EVERY = 1000;
const LIST_LIMIT = 100;
const LOG_PAGE = 1000; // the server's most lines per request
const LOG_KEEP = 10000; // lines kept on the page; older ones are dropped

const FINISHED = new Set(["Success", "Failed", "Cancelled"]);
const CANCELLABLE = new Set(["Scheduled", "Submitted", "Running"]);
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

const RUN_FIELDS = "id name flow_id flow_name flow_version state message created updated scheduled_start_time auto_scheduled";
const Q_RUNS = `query FlowRuns($state: String, $limit: Int) { flow_runs(state: $state, limit: $limit) { ${RUN_FIELDS} } }`;
const LOG_FIELDS = "seq time level task_slug message";
const Q_RUN = `query FlowRun($id: String!, $after: String, $limit: Int) {
  flow_run(id: $id) { ${RUN_FIELDS} parameters agent_id task_runs { slug map_index state message updated } }
  flow_run_logs(id: $id, after: $after, limit: $limit) { ${LOG_FIELDS} } }`;
const Q_LOGS = `query FlowRunLogs($id: String!, $after: String, $limit: Int) { flow_run_logs(id: $id, after: $after, limit: $limit) { ${LOG_FIELDS} } }`;
const Q_FLOW = "query Flow($id: String!) { flow(id: $id) { id name version definition } }";
const M_CANCEL = "mutation CancelFlowRun($id: String!) { cancel_flow_run(id: $id) { id name state } }";

const $ = (id) => document.getElementById(id);

// A Poller calls tick every `every` ms, one call at a time, while it is
// started and the tab is visible. tick returns false to stop it.
class Poller {
  #every;
  #tick;
  #timer = 0;
  #on = false;
  #gen = 0;
  #inFlight = 0;

  constructor(every, tick) {
    this.#every = every;
    this.#tick = tick;
  }

  // start ticks now, and again every `every` ms.
  start() {
    this.stop();
    this.#on = true;
    this.#run();
  }

  stop() {
    this.#on = false;
    this.#gen++;
    clearTimeout(this.#timer);
    this.#timer = 0;
  }

  // visibilityChanged pauses a started poller while the tab is hidden and
  // ticks at once when it is shown again.
  visibilityChanged() {
    if (!this.#on) return;
    clearTimeout(this.#timer);
    this.#timer = 0;
    if (document.visibilityState === "visible" && this.#inFlight === 0) this.#run();
  }

  async #run() {
    const gen = this.#gen;
    this.#timer = 0;
    this.#inFlight++;
    let more = false;
    try {
      more = (await this.#tick()) !== false;
    } catch (err) {
      console.error(err); // a bug in the page: stop rather than spin
    } finally {
      this.#inFlight--;
    }
    if (gen !== this.#gen || !this.#on) return;
    if (!more) {
      this.#on = false;
      return;
    }
    if (document.visibilityState === "visible") this.#timer = setTimeout(() => this.#run(), this.#every);
  }
}

// parse returns a JSON value the API sent, which may come as a string.
function parse(v) {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function cell(className, ...children) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.append(...children);
  return td;
}

function code(text) {
  const c = document.createElement("code");
  c.textContent = text;
  return c;
}

// keepOrder makes the rows of tbody exactly rows, in order, moving only
// those out of place (moving a node would take its focus away).
function keepOrder(tbody, rows) {
  const want = new Set(rows);
  for (const tr of [...tbody.children]) {
    if (!want.has(tr)) tr.remove();
  }
  rows.forEach((tr, i) => {
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
  });
}

// AUTO_TITLE explains the mark of a run the server's scheduler created.
const AUTO_TITLE = "Created by the server's scheduler from the flow's schedule";

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

// RunsPage is the list of runs (#/runs) and the view of one (#/runs/ID).
// shell gives it the page's GraphQL client and messages.
export class RunsPage {
  #shell;
  #el;
  #list;
  #run;
  #rows = new Map(); // the list's rows by run ID
  #view = null; // the run shown: {id, name, state, after, flowID, tasks, graph, taskRows}
  #pollError = false; // whether the error shown came from a refresh
  #cancelling = null; // the run the cancel dialog asks about

  constructor(shell) {
    this.#shell = shell;
    this.#el = {
      list: $("runs"),
      rows: $("run-rows"),
      noRuns: $("no-runs"),
      filter: $("run-state-filter"),
      view: $("run-view"),
      title: $("run-title"),
      name: $("run-name"),
      cancel: $("run-cancel"),
      state: $("run-state"),
      message: $("run-message"),
      flow: $("run-flow"),
      flowVersion: $("run-flow-version"),
      planned: $("run-planned-time"),
      auto: $("run-auto"),
      created: $("run-created"),
      updated: $("run-updated"),
      agent: $("run-agent"),
      id: $("run-id"),
      parameters: $("run-parameters"),
      live: $("run-live"),
      graph: $("run-graph"),
      taskRows: $("task-rows"),
      noTaskRuns: $("no-task-runs"),
      log: $("run-log"),
      noLog: $("no-log"),
      dialog: $("cancel-dialog"),
      cancelName: $("cancel-name"),
      cancelConfirm: $("cancel-confirm"),
      cancelKeep: $("cancel-keep"),
    };
    this.#list = new Poller(LIST_EVERY, () => this.#refreshList());
    this.#run = new Poller(RUN_EVERY, () => this.#refreshRun());
    this.#el.filter.addEventListener("change", () => this.#list.start());
    this.#el.cancel.addEventListener("click", () => {
      if (this.#view !== null) this.#askCancel(this.#view.id, this.#view.name);
    });
    this.#el.cancelConfirm.addEventListener("click", () => this.#confirmCancel());
    this.#el.cancelKeep.addEventListener("click", () => this.#el.dialog.close());
    this.#el.dialog.addEventListener("close", () => { this.#cancelling = null; });
    document.addEventListener("visibilitychange", () => {
      this.#list.visibilityChanged();
      this.#run.visibilityChanged();
    });
  }

  // showList shows the list of runs and keeps it fresh.
  showList() {
    this.#run.stop();
    this.#el.view.hidden = true;
    this.#el.list.hidden = false;
    document.title = "Flow runs · Prefect server";
    this.#list.start();
  }

  // showRun shows the run with the given ID and keeps it fresh until it is
  // finished.
  showRun(id) {
    this.#list.stop();
    this.#el.list.hidden = true;
    this.#el.view.hidden = false;
    if (this.#view?.id !== id) this.#clearView(id);
    document.title = `Flow run ${this.#view.name} · Prefect server`;
    if (!RUN_ID.test(id)) {
      this.#view = null;
      this.#run.stop();
      this.#shell.showErrorText("No such flow run: the address does not end with a run ID.");
      return;
    }
    this.#run.start();
  }

  // leave hides the page and stops refreshing it.
  leave() {
    this.#list.stop();
    this.#run.stop();
    this.#el.list.hidden = true;
    this.#el.view.hidden = true;
  }

  // reset leaves the page and forgets what it showed (on signing out).
  reset() {
    this.leave();
    this.#rows.clear();
    this.#el.rows.replaceChildren();
    this.#el.noRuns.hidden = true;
    this.#clearView("");
    this.#view = null;
    this.#pollError = false;
    if (this.#el.dialog.open) this.#el.dialog.close();
  }

  // The list.

  async #refreshList() {
    const state = this.#el.filter.value;
    let data;
    try {
      data = await this.#shell.gql(Q_RUNS, { state: state === "" ? null : state, limit: LIST_LIMIT });
    } catch (err) {
      return this.#failed("Could not list the flow runs", err);
    }
    // Left, or filtered otherwise, meanwhile: the next refresh shows it.
    if (this.#el.list.hidden || this.#el.filter.value !== state) return true;
    this.#refreshed();
    const runs = Array.isArray(data.flow_runs) ? data.flow_runs : [];
    // A run that went to another state between the request and the
    // answer is shown as it was; the next refresh drops it.
    keepOrder(this.#el.rows, runs.map((r) => this.#runRow(r)));
    for (const id of this.#rows.keys()) {
      if (!runs.some((r) => r.id === id)) this.#rows.delete(id);
    }
    this.#el.noRuns.hidden = runs.length > 0;
    setText(this.#el.noRuns, state === ""
      ? "No flow runs yet. Register a flow, then start a run with prefect run --name FLOW."
      : `No ${state} flow runs.`);
    return true;
  }

  // #runRow returns the list's row of run, made or brought up to date.
  #runRow(run) {
    let row = this.#rows.get(run.id);
    if (row === undefined) {
      const link = document.createElement("a");
      link.href = "#/runs/" + encodeURIComponent(run.id);
      const flow = document.createElement("span");
      const badge = stateBadge(run.state);
      const cancel = button("Cancel", "", "danger cancel", () => this.#askCancel(run.id, row.run.name));
      const tr = document.createElement("tr");
      tr.dataset.id = run.id;
      const planned = timeCell(run.scheduled_start_time ?? "");
      planned.classList.add("planned");
      const auto = document.createElement("span");
      auto.className = "note";
      auto.textContent = "scheduled";
      auto.title = AUTO_TITLE;
      auto.hidden = true;
      planned.append(" ", auto);
      const created = timeCell(run.created);
      created.classList.add("created");
      const updated = timeCell(run.updated);
      updated.classList.add("updated");
      tr.append(cell("", link), cell("flow", flow), cell("", badge), planned, created, updated, cell("actions", cancel));
      row = { tr, link, flow, badge, cancel, planned: planned.firstChild, auto, created: created.firstChild, updated: updated.firstChild };
      this.#rows.set(run.id, row);
    }
    row.run = run;
    setText(row.link, run.name);
    setText(row.flow, `${run.flow_name} v${run.flow_version}`);
    setBadge(row.badge, run.state);
    row.badge.title = run.message;
    setTime(row.planned, run.scheduled_start_time ?? "");
    row.auto.hidden = run.auto_scheduled !== true;
    setTime(row.created, run.created);
    setTime(row.updated, run.updated);
    row.cancel.hidden = !CANCELLABLE.has(run.state);
    row.cancel.setAttribute("aria-label", "Cancel flow run " + run.name);
    return row.tr;
  }

  // One run.

  #clearView(id) {
    this.#view = { id, name: id, state: "", after: "", flowID: "", tasks: [], graph: null, taskRows: new Map() };
    for (const e of [this.#el.name, this.#el.message, this.#el.flow, this.#el.flowVersion, this.#el.agent, this.#el.parameters, this.#el.live]) {
      e.textContent = "";
    }
    setText(this.#el.name, id);
    setText(this.#el.id, id);
    setBadge(this.#el.state, "");
    for (const e of [this.#el.created, this.#el.updated]) e.replaceChildren();
    setTime(this.#el.planned, "");
    this.#el.auto.hidden = true;
    this.#el.cancel.hidden = true;
    this.#el.graph.replaceChildren();
    this.#el.taskRows.replaceChildren();
    this.#el.noTaskRuns.hidden = true;
    this.#el.log.replaceChildren();
    this.#el.noLog.hidden = true;
  }

  async #refreshRun() {
    const view = this.#view;
    if (view === null) return false;
    try {
      const data = await this.#shell.gql(Q_RUN, { id: view.id, after: view.after || null, limit: LOG_PAGE });
      if (this.#view !== view) return false;
      const run = data.flow_run;
      if (run === null || typeof run !== "object") {
        this.#shell.showErrorText(`Could not show flow run ${view.id}: the server has no such run.`);
        return false;
      }
      if (view.flowID !== run.flow_id) {
        const f = await this.#shell.gql(Q_FLOW, { id: run.flow_id });
        if (this.#view !== view) return false;
        this.#drawGraph(view, run, f.flow);
      }
      const finished = FINISHED.has(run.state);
      let lines = Array.isArray(data.flow_run_logs) ? data.flow_run_logs : [];
      this.#appendLog(view, lines);
      // The log is read beside the run, maybe before it: once the run is
      // finished, read on once more so as to miss none of its last lines.
      let again = lines.length === LOG_PAGE || finished;
      while (again) {
        const more = await this.#shell.gql(Q_LOGS, { id: view.id, after: view.after || null, limit: LOG_PAGE });
        if (this.#view !== view) return false;
        lines = Array.isArray(more.flow_run_logs) ? more.flow_run_logs : [];
        this.#appendLog(view, lines);
        again = lines.length === LOG_PAGE;
      }
      this.#refreshed();
      this.#showRun(view, run);
      setText(this.#el.live, finished
        ? `This run is finished (${run.state}): the page no longer refreshes it.`
        : "Refreshed every second while the run is not finished.");
      this.#el.live.dataset.live = finished ? "false" : "true";
      return !finished;
    } catch (err) {
      if (this.#view !== view) return false;
      const codes = Array.isArray(err?.codes) ? err.codes : [];
      if (codes.includes("NOT_FOUND")) {
        this.#shell.showError(`Could not show flow run ${view.id}`, err);
        return false;
      }
      return this.#failed(`Could not read flow run ${view.name}`, err);
    }
  }

  #drawGraph(view, run, flow) {
    view.flowID = run.flow_id;
    const tasks = tasksOf(parse(flow?.definition));
    view.tasks = tasks;
    if (tasks.length === 0) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "The flow's definition lists no tasks.";
      this.#el.graph.replaceChildren(p);
      view.graph = null;
      return;
    }
    view.graph = new TaskGraph(tasks, run.flow_name);
    this.#el.graph.replaceChildren(view.graph.element);
  }

  #showRun(view, run) {
    const el = this.#el;
    if (view.state !== "" && view.state !== run.state) {
      this.#shell.say(`Flow run ${run.name} is now ${run.state}.`);
    }
    view.state = run.state;
    view.name = run.name;
    document.title = `Flow run ${run.name} · Prefect server`;
    setText(el.name, run.name);
    setBadge(el.state, run.state);
    setText(el.message, run.message);
    setText(el.flow, run.flow_name);
    setText(el.flowVersion, String(run.flow_version));
    for (const [dd, iso] of [[el.created, run.created], [el.updated, run.updated]]) {
      if (dd.firstChild === null) dd.append(document.createElement("time"));
      setTime(dd.firstChild, iso);
    }
    setTime(el.planned, run.scheduled_start_time ?? "");
    el.auto.hidden = run.auto_scheduled !== true;
    setText(el.agent, run.agent_id === "" ? "none yet" : run.agent_id);
    setText(el.id, run.id);
    setText(el.parameters, JSON.stringify(parse(run.parameters) ?? {}, null, 2));
    el.cancel.hidden = !CANCELLABLE.has(run.state);

    const taskRuns = (Array.isArray(run.task_runs) ? run.task_runs : []).map((t) => ({
      slug: String(t.slug), map_index: Number(t.map_index), state: String(t.state), message: String(t.message ?? ""), updated: String(t.updated ?? ""),
    }));
    view.graph?.update(taskRuns);

    // The table: in the definition's order, a mapped task's children after it.
    const order = new Map(view.tasks.map((t, i) => [t.slug, i]));
    const rank = (t) => order.get(t.slug) ?? order.size;
    taskRuns.sort((a, b) => rank(a) - rank(b) || a.slug.localeCompare(b.slug) || a.map_index - b.map_index);
    const rows = taskRuns.map((t) => this.#taskRow(view, t));
    keepOrder(el.taskRows, rows);
    el.noTaskRuns.hidden = rows.length > 0;
  }

  #taskRow(view, t) {
    const key = t.slug + "\u0000" + t.map_index;
    let row = view.taskRows.get(key);
    if (row === undefined) {
      const tr = document.createElement("tr");
      tr.dataset.slug = t.slug;
      tr.dataset.mapIndex = String(t.map_index);
      const badge = stateBadge(t.state);
      const message = cell("message");
      const updated = timeCell(t.updated);
      updated.classList.add("updated");
      tr.append(cell("", code(t.slug)), cell("num map-index", t.map_index < 0 ? "" : String(t.map_index)), cell("", badge), message, updated);
      row = { tr, badge, message, updated: updated.firstChild };
      view.taskRows.set(key, row);
    }
    setBadge(row.badge, t.state);
    setText(row.message, t.message);
    setTime(row.updated, t.updated);
    return row.tr;
  }

  #appendLog(view, lines) {
    if (lines.length === 0) {
      this.#el.noLog.hidden = this.#el.log.childElementCount > 0;
      return;
    }
    const log = this.#el.log;
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    const last = Number(view.after || "0");
    const items = [];
    for (const l of lines) {
      if (Number(l.seq) <= last) continue; // seen already
      const div = document.createElement("div");
      const level = String(l.level ?? "");
      div.className = "line level-" + level.toLowerCase().replace(/[^a-z]/g, "");
      div.dataset.seq = String(l.seq);
      const t = document.createElement("time");
      t.setAttribute("datetime", String(l.time));
      t.title = String(l.time);
      const d = new Date(l.time);
      t.textContent = Number.isNaN(d.getTime()) ? String(l.time) : clock.format(d);
      const lv = document.createElement("span");
      lv.className = "level";
      lv.textContent = level;
      const task = document.createElement("span");
      task.className = "task";
      task.textContent = String(l.task_slug ?? "");
      const msg = document.createElement("span");
      msg.className = "msg";
      msg.textContent = String(l.message ?? "");
      div.append(t, lv, task, msg);
      items.push(div);
    }
    view.after = String(lines[lines.length - 1].seq);
    log.append(...items);
    while (log.childElementCount > LOG_KEEP) log.firstElementChild.remove();
    this.#el.noLog.hidden = log.childElementCount > 0;
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  // Refresh outcomes.

  // #failed shows why a refresh failed and says whether to go on trying.
  #failed(what, err) {
    if (this.#shell.signedOutBy(err)) return false;
    this.#shell.showError(what + " (the page keeps trying)", err);
    this.#pollError = true;
    return true;
  }

  // #refreshed takes away the error of a refresh that failed before.
  #refreshed() {
    if (this.#pollError) {
      this.#pollError = false;
      this.#shell.hideError();
    }
  }

  // Cancelling.

  #askCancel(id, name) {
    this.#shell.clearMessages();
    this.#cancelling = { id, name };
    this.#el.cancelName.textContent = name;
    this.#el.dialog.showModal();
    this.#el.cancelKeep.focus();
  }

  async #confirmCancel() {
    const run = this.#cancelling;
    this.#el.dialog.close();
    if (run === null) return;
    this.#shell.setBusy(true);
    try {
      const data = await this.#shell.gql(M_CANCEL, { id: run.id });
      const state = data.cancel_flow_run?.state ?? "";
      this.#shell.say(state === "Cancelled"
        ? `Cancelled flow run ${run.name}.`
        : `Asked flow run ${run.name} to stop: it is ${state} until its agent stops it.`);
    } catch (err) {
      if (!this.#shell.signedOutBy(err)) this.#shell.showError(`Could not cancel flow run ${run.name}`, err);
    } finally {
      this.#shell.setBusy(false);
    }
    // Show the run's new state at once.
    if (!this.#el.list.hidden) this.#list.start();
    else if (this.#view?.id === run.id) this.#run.start();
  }
}

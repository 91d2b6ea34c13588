// The task graph of a flow run: the flow's tasks, from its registered
// definition, laid out in layers and drawn as SVG with DOM calls (nothing is
// parsed as markup), each node coloured by its task run's latest state.

import { setStateClass, setText, stateFamily } from "./ui.js";

const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, never fetched

// The geometry of the drawing, in CSS pixels.
const NODE_W = 196;
const NODE_H = 46;
const GAP_X = 56; // between layers
const GAP_Y = 18; // between nodes of a layer
const PAD = 12;
const MAX_LABEL = 24; // characters of a task's name before it is cut

// tasksOf returns the tasks of a flow definition (program.Definition's
// JSON) in its order, keeping only well-formed entries: {slug, name,
// mapped, upstream}, with upstream slugs that name other tasks of it.
export function tasksOf(definition) {
  const list = Array.isArray(definition?.tasks) ? definition.tasks : [];
  const tasks = [];
  const seen = new Set();
  for (const t of list) {
    const slug = typeof t?.slug === "string" ? t.slug : "";
    if (slug === "" || seen.has(slug)) continue;
    seen.add(slug);
    tasks.push({
      slug,
      name: typeof t.name === "string" && t.name !== "" ? t.name : slug,
      mapped: t.mapped === true,
      secret: t.secret === true,
      upstream: Array.isArray(t.upstream) ? t.upstream.filter((u) => typeof u === "string") : [],
    });
  }
  for (const t of tasks) {
    t.upstream = [...new Set(t.upstream)].filter((u) => seen.has(u) && u !== t.slug);
  }
  return tasks;
}

// layout places tasks (from tasksOf) in layers: a task's layer is the
// length of the longest path to it from a root (a task with no upstream),
// so every edge goes to a later layer. Within a layer, tasks are ordered by
// the mean position of their upstream tasks, to keep edges short and
// uncrossed, then by their order in the definition. Tasks on a cycle, which
// a valid flow has none of, go after the rest. It returns the layers, each
// a list of tasks; the cost is O(tasks + edges), plus sorting each layer.
export function layout(tasks) {
  const bySlug = new Map(tasks.map((t, i) => [t.slug, { task: t, order: i, layer: 0, pending: t.upstream.length }]));
  const downstream = new Map(tasks.map((t) => [t.slug, []]));
  for (const t of tasks) {
    for (const u of t.upstream) downstream.get(u).push(t.slug);
  }
  // Kahn's algorithm: a task is placed once all its upstream tasks are.
  const queue = tasks.filter((t) => t.upstream.length === 0).map((t) => t.slug);
  let placed = 0;
  let deepest = 0;
  for (let i = 0; i < queue.length; i++) {
    const n = bySlug.get(queue[i]);
    placed++;
    deepest = Math.max(deepest, n.layer);
    for (const d of downstream.get(queue[i])) {
      const m = bySlug.get(d);
      m.layer = Math.max(m.layer, n.layer + 1);
      if (--m.pending === 0) queue.push(d);
    }
  }
  if (placed < tasks.length) {
    for (const n of bySlug.values()) {
      if (n.pending > 0) n.layer = deepest + 1;
    }
  }
  const layers = [];
  for (const n of [...bySlug.values()].sort((a, b) => a.order - b.order)) {
    (layers[n.layer] ??= []).push(n);
  }
  const position = new Map();
  const out = [];
  for (const layer of layers) {
    if (layer === undefined) continue;
    const weight = (n) => {
      const ups = n.task.upstream.filter((u) => position.has(u));
      return ups.length === 0 ? n.order : ups.reduce((s, u) => s + position.get(u), 0) / ups.length;
    };
    const w = new Map(layer.map((n) => [n, weight(n)]));
    layer.sort((a, b) => w.get(a) - w.get(b) || a.order - b.order);
    layer.forEach((n, i) => position.set(n.task.slug, i));
    out.push(layer.map((n) => n.task));
  }
  return out;
}

function svg(name, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

function cut(s) {
  return s.length <= MAX_LABEL ? s : s.slice(0, MAX_LABEL - 1) + "…";
}

// summary returns what a task's node shows of its task runs: the state of
// its run, or for a mapped task the state of its children taken together
// and how many of them succeeded, like "3/5 Success" (text), and failed;
// the detail adds how many are in each other state.
export function summary(task, runs) {
  const parent = runs.find((r) => r.map_index < 0);
  const children = runs.filter((r) => r.map_index >= 0);
  if (!task.mapped || children.length === 0) {
    const state = parent?.state ?? children[0]?.state ?? "";
    return { state, text: state === "" ? "Not started" : state, message: parent?.message ?? "" };
  }
  const count = (family) => children.filter((r) => stateFamily(r.state) === family).length;
  const ok = count("success") + count("skipped");
  // The node shows successes and failures; its tooltip the rest too.
  let text = `${ok}/${children.length} Success`;
  if (count("failed") > 0) text += ` · ${count("failed")} Failed`;
  const parts = [text];
  for (const [family, word] of [["running", "Running"], ["retrying", "Retrying"], ["pending", "Pending"], ["cancelled", "Cancelled"]]) {
    const n = count(family);
    if (n > 0) parts.push(`${n} ${word}`);
  }
  // The node's colour: the liveliest child's, else the worst outcome.
  let state;
  const first = (family) => children.find((r) => stateFamily(r.state) === family)?.state;
  if (count("running") > 0) state = "Running";
  else if (count("retrying") > 0) state = "Retrying";
  else if (children.some((r) => ["pending", "submitted", "other"].includes(stateFamily(r.state)))) state = "Pending";
  else state = first("failed") ?? first("cancelled") ?? (parent !== undefined && stateFamily(parent.state) !== "success" ? parent.state : "Success");
  return { state, text, detail: parts.join(" · "), message: parent?.message ?? "" };
}

// A TaskGraph is the drawing of one flow version's tasks. Make it once per
// flow; update recolours it with a run's task runs.
export class TaskGraph {
  // element is the <svg>; nodes its nodes by slug.
  element;
  #nodes = new Map();
  #tasks;

  constructor(tasks, flowName) {
    this.#tasks = tasks;
    const layers = layout(tasks);
    const tallest = Math.max(1, ...layers.map((l) => l.length));
    const width = PAD * 2 + Math.max(1, layers.length) * (NODE_W + GAP_X) - GAP_X;
    const height = PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y + 8; // + 8: room for a mapped task's stack
    const at = new Map();
    layers.forEach((layer, li) => {
      const top = PAD + ((tallest - layer.length) * (NODE_H + GAP_Y)) / 2;
      layer.forEach((t, i) => at.set(t.slug, { x: PAD + li * (NODE_W + GAP_X), y: top + i * (NODE_H + GAP_Y) }));
    });

    const title = svg("title");
    title.textContent = `Task graph of flow ${flowName}: ${tasks.length} tasks`;
    const arrow = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }));
    const edges = svg("g", { class: "edges" });
    const nodes = svg("g", { class: "nodes" });
    this.element = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "graph-svg-title" },
      title, svg("defs", {}, arrow), edges, nodes);
    title.id = "graph-svg-title";

    for (const t of tasks) {
      const to = at.get(t.slug);
      for (const u of t.upstream) {
        const from = at.get(u);
        const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x - 2, y2 = to.y + NODE_H / 2;
        const mx = (x1 + x2) / 2;
        edges.append(svg("path", { class: "edge", d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)", "data-from": u, "data-to": t.slug }));
      }
    }

    const sameName = new Map();
    for (const t of tasks) sameName.set(t.name, (sameName.get(t.name) ?? 0) + 1);
    for (const t of tasks) {
      const { x, y } = at.get(t.slug);
      const label = sameName.get(t.name) > 1 ? t.slug : t.name;
      const g = svg("g", { class: "node", transform: `translate(${x} ${y})`, "data-slug": t.slug });
      if (t.mapped) {
        g.classList.add("mapped");
        g.append(svg("rect", { class: "stack", x: 8, y: 8, width: NODE_W, height: NODE_H, rx: 7 }),
          svg("rect", { class: "stack", x: 4, y: 4, width: NODE_W, height: NODE_H, rx: 7 }));
      }
      const tip = svg("title");
      const name = svg("text", { class: "name", x: 12, y: 19 });
      name.textContent = cut(label);
      const status = svg("text", { class: "status", x: 12, y: 36 });
      g.append(tip, svg("rect", { class: "box", width: NODE_W, height: NODE_H, rx: 7 }), name, status);
      nodes.append(g);
      this.#nodes.set(t.slug, { g, tip, status, label });
    }
    this.update([]);
  }

  // update colours each node by the latest state of its task runs (a list
  // of {slug, map_index, state, message}).
  update(taskRuns) {
    const bySlug = new Map();
    for (const r of taskRuns) {
      if (!bySlug.has(r.slug)) bySlug.set(r.slug, []);
      bySlug.get(r.slug).push(r);
    }
    for (const t of this.#tasks) {
      const n = this.#nodes.get(t.slug);
      const s = summary(t, bySlug.get(t.slug) ?? []);
      setStateClass(n.g, s.state);
      setText(n.status, s.text);
      let tip = t.mapped ? `${t.slug} (${s.detail ?? s.text})` : `${t.slug}: ${s.text}`;
      if (s.message !== "") tip += ` — ${s.message}`;
      if (t.secret) tip += " (reads a secret)";
      setText(n.tip, tip);
    }
  }
}

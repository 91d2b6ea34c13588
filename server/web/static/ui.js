// Small DOM helpers shared by the Secrets and Flow runs pages. Everything
// they show is set with textContent or setAttribute, never parsed as HTML.

// timeFormat shows an RFC 3339 time for people, in their time zone.
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// setText sets el's text if it differs, so that a refresh that changes
// nothing leaves the DOM (and a screen reader's place in it) alone.
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// setTime shows the RFC 3339 time iso in the <time> element t.
export function setTime(t, iso) {
  if (t.getAttribute("datetime") === iso) return;
  t.setAttribute("datetime", iso);
  t.title = iso;
  const d = new Date(iso);
  t.textContent = iso === "" || Number.isNaN(d.getTime()) ? iso : timeFormat.format(d);
}

// timeCell returns a table cell showing the RFC 3339 time iso.
export function timeCell(iso) {
  const td = document.createElement("td");
  const t = document.createElement("time");
  setTime(t, iso);
  td.append(t);
  return td;
}

// button returns a button showing text, named label for assistive
// technology, that calls onClick.
export function button(text, label, className, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

// The colour family of each state a flow run or task run can be in; the
// style sheet colours .state-<family>. Any other state is "other".
const FAMILIES = new Map([
  ["Pending", "pending"],
  ["Scheduled", "pending"],
  ["Paused", "pending"],
  ["Submitted", "submitted"],
  ["Running", "running"],
  ["Retrying", "retrying"],
  ["Success", "success"],
  ["Cached", "success"],
  ["Mapped", "success"],
  ["Skipped", "skipped"],
  ["Failed", "failed"],
  ["TimedOut", "failed"],
  ["TriggerFailed", "failed"],
  ["Cancelling", "cancelling"],
  ["Cancelled", "cancelled"],
]);

// stateFamily returns the colour family of state ("none" for no state).
export function stateFamily(state) {
  if (state === "") return "none";
  return FAMILIES.get(state) ?? "other";
}

// setStateClass gives el the class of state's family, replacing any other,
// and data-state the state itself.
export function setStateClass(el, state) {
  const want = "state-" + stateFamily(state);
  for (const c of [...el.classList]) {
    if (c.startsWith("state-") && c !== want) el.classList.remove(c);
  }
  el.classList.add(want);
  if (el.dataset.state !== state) el.dataset.state = state;
}

// stateBadge returns a badge showing state in its colour.
export function stateBadge(state) {
  const span = document.createElement("span");
  span.className = "state";
  setBadge(span, state);
  return span;
}

// setBadge shows state in the badge span.
export function setBadge(span, state) {
  setStateClass(span, state);
  setText(span, state === "" ? "Not started" : state);
}

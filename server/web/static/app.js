// The server's page: sign-in, the Secrets page (here) and the Flow runs
// page (runs.js), one at a time by the address's fragment: #/secrets (the
// default; #/secrets?after=<name> for the page of the names after one),
// #/runs, #/runs/<run id>. It talks to the server's GraphQL API with the
// user's API key; for secrets it uses only auth_info, secrets_page,
// set_secret and delete_secret: a stored value never comes to this page.
// The Secrets page shows one page of PAGE_SIZE secrets, sorted by name,
// with links to the next page and the one before: a tenant of 100,000
// secrets costs the page, and the server, no more than one of 50. Everything shown is set with textContent or setAttribute,
// never parsed as HTML.
//
// Rules kept here on purpose:
//   - the API key lives in sessionStorage (this tab only; in memory if the
//     browser has none) and in no other storage, cookie or URL;
//   - a value exists only in the textarea the user types it into (whose
//     .value is not part of the DOM's markup) and in the request that sends
//     it; the field is cleared once the value is saved, and no message
//     quotes it (not even the browser's JSON parse error, which would).

import { RunsPage } from "./runs.js";
import { button, timeCell } from "./ui.js";

const KEY_STORAGE = "prefect.web.apiKey";
const NAME_PATTERN = /^[A-Za-z0-9_.\/-]{1,256}$/;

// Who the key is, asked on signing in.
const Q_AUTH = "query Auth { auth_info { tenant_id api_key_id } }";
// A page of the secrets, never a value.
const PAGE_SIZE = 50;
const Q_SECRETS =
  "query Secrets($limit: Int, $after: String) { secrets_page(limit: $limit, after: $after) { secrets { name version created updated } next } }";
const M_SET = "mutation SetSecret($input: set_secret_input!) { set_secret(input: $input) { success } }";
const M_DELETE = "mutation DeleteSecret($input: delete_secret_input!) { delete_secret(input: $input) { success } }";

const $ = (id) => document.getElementById(id);

const el = {
  account: $("account"),
  tenantID: $("tenant-id"),
  keyID: $("key-id"),
  signOut: $("sign-out"),
  nav: $("nav"),
  navSecrets: $("nav-secrets"),
  navRuns: $("nav-runs"),
  status: $("status"),
  error: $("error"),
  signIn: $("sign-in"),
  signInForm: $("sign-in-form"),
  apiKey: $("api-key"),
  secrets: $("secrets"),
  rows: $("secret-rows"),
  noSecrets: $("no-secrets"),
  pager: $("secrets-pager"),
  prev: $("secrets-prev"),
  next: $("secrets-next"),
  pageLabel: $("secrets-page"),
  refresh: $("refresh"),
  editor: $("editor"),
  form: $("secret-form"),
  name: $("secret-name"),
  nameError: $("secret-name-error"),
  value: $("secret-value"),
  valueError: $("secret-value-error"),
  showValue: $("show-value"),
  save: $("save"),
  dialog: $("delete-dialog"),
  deleteName: $("delete-name"),
  deleteConfirm: $("delete-confirm"),
  deleteCancel: $("delete-cancel"),
};

// The names listed last, to tell "Add" from "Update".
let known = new Set();
// The page shown: the names after this one ("" for the first page).
let pageAfter = "";
// What the pages seen so far tell of the ones before: for the cursor of a
// page, the cursor of the page before it and the page's number. Learned
// going forward; a page opened by its address alone has neither, and its
// "previous" link goes to the first page.
const pageBefore = new Map([["", { before: null, number: 1 }]]);
// The secret the delete dialog asks about.
let deleting = "";

class APIError extends Error {
  constructor(message, status, codes) {
    super(message);
    this.status = status;
    this.codes = codes;
  }
  get unauthenticated() {
    return this.status === 401 || this.codes.includes("UNAUTHENTICATED");
  }
}

// The key, when this browser keeps no sessionStorage (it is then lost on
// reload).
let memoryKey = "";

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || memoryKey;
  } catch {
    return memoryKey;
  }
}

function keepKey(key) {
  try {
    sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    memoryKey = key;
  }
}

// gql sends one GraphQL request with key and returns its data, or throws an
// APIError holding the server's messages.
async function gql(query, variables, key = storedKey()) {
  let res;
  try {
    res = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + key },
      body: JSON.stringify({ query, variables: variables ?? null }),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new APIError("The server could not be reached. Is it running?", 0, []);
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: reported below with the HTTP status
  }
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  if (errors.length > 0) {
    const text = errors.map((e) => String(e?.message ?? "unknown error")).join("; ");
    const codes = errors.map((e) => String(e?.extensions?.code ?? ""));
    throw new APIError(text, res.status, codes);
  }
  if (!res.ok || body === null || typeof body.data !== "object" || body.data === null) {
    throw new APIError(`The server answered HTTP ${res.status} without a GraphQL result.`, res.status, []);
  }
  return body.data;
}

function say(text) {
  el.status.textContent = text;
}

function showError(prefix, err) {
  const text = err instanceof APIError ? err.message : "unexpected error in the page: " + String(err?.message ?? err);
  showErrorText(prefix + ": " + text);
}

function showErrorText(text) {
  el.error.textContent = text;
  el.error.hidden = false;
}

function hideError() {
  el.error.hidden = true;
  el.error.textContent = "";
}

function clearMessages() {
  hideError();
  say("");
}

function setBusy(busy) {
  for (const b of document.querySelectorAll("button")) {
    b.disabled = busy;
  }
  document.body.setAttribute("aria-busy", busy ? "true" : "false");
}

// Whether the page shows a signed-in tenant's pages.
let signedIn = false;

function showSignedIn(info) {
  signedIn = true;
  el.tenantID.textContent = info?.tenant_id ?? "";
  el.keyID.textContent = info?.api_key_id ?? "";
  el.account.hidden = false;
  el.nav.hidden = false;
  el.signIn.hidden = true;
}

function showSignedOut() {
  memoryKey = "";
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage unavailable: nothing was kept
  }
  signedIn = false;
  runs.reset();
  el.account.hidden = true;
  el.nav.hidden = true;
  el.tenantID.textContent = "";
  el.keyID.textContent = "";
  el.rows.replaceChildren();
  known = new Set();
  el.pager.hidden = true;
  pageAfter = "";
  pageBefore.clear();
  pageBefore.set("", { before: null, number: 1 });
  el.form.reset();
  hideFieldErrors();
  el.secrets.hidden = true;
  el.editor.hidden = true;
  el.signIn.hidden = false;
  el.apiKey.value = "";
  el.apiKey.focus();
}

// signedOutBy handles an error that means the key no longer works.
function signedOutBy(err) {
  if (err instanceof APIError && err.unauthenticated) {
    showSignedOut();
    showError("Signed out: the server refused the API key", err);
    return true;
  }
  return false;
}

// secretsHash is the address of the page of the secrets after after.
function secretsHash(after) {
  return after === "" ? "#/secrets" : "#/secrets?after=" + encodeURIComponent(after);
}

// renderPager shows the links to the pages around the one after after,
// whose next page starts after next (null on the last page).
function renderPager(after, next, count) {
  if (next !== null) {
    const here = pageBefore.get(after);
    pageBefore.set(next, { before: after, number: here ? here.number + 1 : null });
  }
  const here = pageBefore.get(after);
  el.prev.hidden = after === "";
  if (here && here.before !== null) {
    el.prev.textContent = "Previous";
    el.prev.href = secretsHash(here.before);
  } else {
    el.prev.textContent = "First page";
    el.prev.href = secretsHash("");
  }
  el.next.hidden = next === null;
  el.next.href = next === null ? secretsHash(after) : secretsHash(next);
  let label = here && here.number ? `Page ${here.number}` : `Names after ${after}`;
  if (count > 0) label += count === 1 ? " · 1 secret" : ` · ${count} secrets`;
  el.pageLabel.textContent = label;
  el.pager.hidden = after === "" && next === null;
}

function render(list) {
  const rows = list.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.name = s.name;
    const name = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = s.name;
    name.append(code);
    const version = document.createElement("td");
    version.className = "num version";
    version.textContent = String(s.version);
    const actions = document.createElement("td");
    actions.className = "actions";
    actions.append(
      button("Update", "Update " + s.name, "secondary update", () => startUpdate(s.name)),
      button("Delete", "Delete " + s.name, "danger delete", () => askDelete(s.name)),
    );
    const created = timeCell(s.created);
    created.className = "created";
    const updated = timeCell(s.updated);
    updated.className = "updated";
    tr.append(name, version, created, updated, actions);
    return tr;
  });
  el.rows.replaceChildren(...rows);
  el.noSecrets.textContent = pageAfter === "" ? "No secrets yet. Add one below." : "No secrets on this page. Go back to the page before.";
  el.noSecrets.hidden = list.length > 0;
  known = new Set(list.map((s) => s.name));
  updateSaveLabel();
}

// load lists the page of the secrets the address names.
async function load() {
  const after = pageAfter;
  const vars = { limit: PAGE_SIZE };
  if (after !== "") vars.after = after;
  const data = await gql(Q_SECRETS, vars);
  if (after !== pageAfter) return; // the user went to another page meanwhile
  const page = data.secrets_page ?? {};
  const list = Array.isArray(page.secrets) ? page.secrets : [];
  render(list);
  renderPager(after, typeof page.next === "string" ? page.next : null, list.length);
}

// listSecrets lists the secrets on the Secrets page.
async function listSecrets() {
  setBusy(true);
  try {
    await load();
  } catch (err) {
    if (!signedOutBy(err)) showError("Could not list the secrets (press Refresh to try again)", err);
  } finally {
    setBusy(false);
  }
}

async function refresh() {
  clearMessages();
  setBusy(true);
  try {
    await load();
    say("Secrets listed.");
  } catch (err) {
    if (!signedOutBy(err)) showError("Could not list the secrets", err);
  } finally {
    setBusy(false);
  }
}

async function signIn(event) {
  event.preventDefault();
  clearMessages();
  const key = el.apiKey.value.trim();
  if (key === "") {
    showError("Sign-in failed", new APIError("enter an API key.", 0, []));
    el.apiKey.focus();
    return;
  }
  setBusy(true);
  let data;
  try {
    data = await gql(Q_AUTH, null, key);
  } catch (err) {
    showError("Sign-in failed", err);
    el.apiKey.select();
    return;
  } finally {
    setBusy(false);
  }
  keepKey(key); // only once the server takes it
  el.apiKey.value = "";
  showSignedIn(data.auth_info);
  say("Signed in.");
  await route(false);
  if (current === "secrets") el.name.focus();
}

function signOut() {
  clearMessages();
  showSignedOut();
  say("Signed out. The API key is no longer kept in this tab.");
}

function hideFieldErrors() {
  for (const [input, msg] of [[el.name, el.nameError], [el.value, el.valueError]]) {
    input.removeAttribute("aria-invalid");
    msg.hidden = true;
    msg.textContent = "";
  }
}

function fieldError(input, msg, text) {
  input.setAttribute("aria-invalid", "true");
  msg.textContent = text;
  msg.hidden = false;
  input.focus();
}

// nameProblem explains what is wrong with a name, in the server's rule.
function nameProblem(name) {
  if (name === "") return "Enter a name.";
  if (name.length > 256) return `The name is ${name.length} characters long; at most 256 are allowed.`;
  if (!NAME_PATTERN.test(name)) {
    // Where, not what: like the server, quote nothing of a name that may be
    // a value pasted in the wrong field.
    const chars = [...name];
    const at = chars.findIndex((c) => !/^[A-Za-z0-9_.\/-]$/.test(c));
    const what = chars[at] === " " ? " (a space)" : "";
    return `Character ${at + 1}${what} is not allowed: a name holds only letters, digits, _ - . and /.`;
  }
  return "";
}

function kind() {
  return el.form.elements.namedItem("kind").value;
}

// valueToSend returns the value as the API takes it, or undefined after
// showing why it cannot be sent. Its messages never quote the value.
function valueToSend() {
  const text = el.value.value;
  if (text === "") {
    fieldError(el.value, el.valueError, "Enter a value.");
    return undefined;
  }
  if (kind() === "string") return text;
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    fieldError(el.value, el.valueError, 'This is not valid JSON. Check quotes and commas, or choose "a plain string".');
    return undefined;
  }
  if (v === null) {
    fieldError(el.value, el.valueError, "null is not a secret value.");
    return undefined;
  }
  return v;
}

async function save(event) {
  event.preventDefault();
  clearMessages();
  hideFieldErrors();
  const name = el.name.value.trim();
  const problem = nameProblem(name);
  if (problem !== "") {
    fieldError(el.name, el.nameError, problem);
    return;
  }
  const value = valueToSend();
  if (value === undefined) return;
  const updating = known.has(name);
  setBusy(true);
  try {
    await gql(M_SET, { input: { name, value } });
    el.value.value = "";
    el.name.value = "";
    updateSaveLabel();
    await load();
    say(updating ? `Updated secret ${name}.` : `Added secret ${name}.`);
    el.name.focus();
  } catch (err) {
    if (!signedOutBy(err)) showError(`Could not save secret ${name}`, err);
  } finally {
    setBusy(false);
  }
}

function startUpdate(name) {
  clearMessages();
  hideFieldErrors();
  el.name.value = name;
  el.value.value = "";
  updateSaveLabel();
  el.editor.scrollIntoView({ block: "nearest" });
  el.value.focus();
  say(`Type the new value of ${name}, then save.`);
}

function updateSaveLabel() {
  el.save.textContent = known.has(el.name.value.trim()) ? "Update secret" : "Add secret";
}

function askDelete(name) {
  clearMessages();
  deleting = name;
  el.deleteName.textContent = name;
  el.dialog.showModal();
  el.deleteCancel.focus();
}

async function confirmDelete() {
  const name = deleting;
  el.dialog.close();
  setBusy(true);
  try {
    await gql(M_DELETE, { input: { name } });
    await load();
    say(`Deleted secret ${name}.`);
  } catch (err) {
    if (!signedOutBy(err)) showError(`Could not delete secret ${name}`, err);
  } finally {
    setBusy(false);
  }
}

// The pages, by the address's fragment.
const PAGES = {
  secrets: { title: "Secrets · Prefect server", nav: el.navSecrets, heading: "secrets-title" },
  runs: { title: "Flow runs · Prefect server", nav: el.navRuns, heading: "runs-title" },
  run: { title: "Flow run · Prefect server", nav: el.navRuns, heading: "run-title" },
};

// parseRoute reads a fragment: #/runs/<id>, #/runs, #/secrets?after=<name>,
// or anything else for the Secrets page's first page.
function parseRoute(hash) {
  const s = /^#\/secrets\?after=(.*)$/.exec(hash);
  if (s !== null) {
    let after = "";
    try {
      after = decodeURIComponent(s[1]);
    } catch {
      // not a name: the first page
    }
    return { page: "secrets", after };
  }
  const m = /^#\/runs\/([^/]+)$/.exec(hash);
  if (m !== null) {
    let id = "";
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      // not an ID: RunsPage says so
    }
    return { page: "run", id };
  }
  return hash === "#/runs" ? { page: "runs" } : { page: "secrets", after: "" };
}

// The page shown: a key of PAGES.
let current = "secrets";

// route shows the page the address names, if signed in; with focus, it
// moves the focus to the page's heading, as a new page would.
async function route(focus) {
  const r = parseRoute(location.hash);
  current = r.page;
  const page = PAGES[r.page];
  for (const p of Object.values(PAGES)) p.nav.removeAttribute("aria-current");
  page.nav.setAttribute("aria-current", "page");
  document.title = page.title;
  if (!signedIn) return;
  el.secrets.hidden = r.page !== "secrets";
  el.editor.hidden = r.page !== "secrets";
  if (r.page === "secrets") {
    runs.leave();
    pageAfter = r.after;
  }
  else if (r.page === "runs") runs.showList();
  else runs.showRun(r.id);
  if (focus) $(page.heading).focus();
  if (r.page === "secrets") await listSecrets();
}

const runs = new RunsPage({ gql, say, showError, showErrorText, hideError, clearMessages, setBusy, signedOutBy });

async function start() {
  el.signInForm.addEventListener("submit", signIn);
  el.signOut.addEventListener("click", signOut);
  el.refresh.addEventListener("click", refresh);
  el.form.addEventListener("submit", save);
  el.name.addEventListener("input", () => {
    updateSaveLabel();
    if (el.name.hasAttribute("aria-invalid")) hideFieldErrors();
  });
  el.showValue.addEventListener("change", () => el.value.classList.toggle("masked", !el.showValue.checked));
  el.deleteConfirm.addEventListener("click", confirmDelete);
  el.deleteCancel.addEventListener("click", () => el.dialog.close());
  el.dialog.addEventListener("close", () => { deleting = ""; });
  window.addEventListener("hashchange", () => {
    clearMessages();
    route(true);
  });

  if (storedKey() === "") {
    showSignedOut();
    route(false);
    return;
  }
  setBusy(true);
  try {
    showSignedIn((await gql(Q_AUTH, null)).auth_info);
  } catch (err) {
    if (signedOutBy(err)) return;
    // Keep the key: the server may be back at the next refresh.
    showSignedIn(null);
  } finally {
    setBusy(false);
  }
  await route(false);
}

start();

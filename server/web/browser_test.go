package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/server/store"
)

// TestSecretsPageInChromium drives the page in a real headless Chromium
// against the real server over SQLite: a wrong key, sign-in, add, update,
// delete and sign-out, checking each write through the store and the Go
// client, and checking that no value ever reaches the page: not in its DOM,
// not in any response the browser got. With PREFECT_WEB_SCREENSHOT=file.png
// it also writes a screenshot of the page listing a few secrets.
func TestSecretsPageInChromium(t *testing.T) {
	browser := findBrowser(t)
	ctx := t.Context()

	// The server, as `prefect server start` makes it, behind a recorder of
	// every request and response the browser causes.
	env := servertest.New(t)
	st, tenant, key, keyID := env.Store, env.Tenant, env.Key, env.KeyID
	srv := env.Handler()
	rec := &recorder{}
	ts := httptest.NewServer(rec.wrap(srv)) // on 127.0.0.1
	t.Cleanup(ts.Close)
	// The test's own reads go to a second listener, kept out of the record:
	// they read values, which the page must never do.
	direct := httptest.NewServer(srv)
	t.Cleanup(direct.Close)
	cl, err := client.New(direct.URL+"/graphql", client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)

	value1 := "hunter2-" + rand.Text()    // a plain string
	password2 := "correct-" + rand.Text() // inside a JSON value
	value2 := `{"user": "app", "password": "` + password2 + `"}`
	const name = "DB_PASSWORD"

	b := startBrowser(t, browser)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitFor waits until the JavaScript expression is true.
	waitFor := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("waiting until %s (%s): %v\n%s", what, expr, err, b.pageText())
		}
	}
	row := func(n string) string { return fmt.Sprintf(`#secret-rows tr[data-name=%q]`, n) }

	// A wrong key is refused with the server's message, and not kept.
	do("opening the page",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("api-key")),
		chromedp.SendKeys(chromedp.ID("api-key"), "pgo_not-a-key"),
		chromedp.Click(chromedp.ID("sign-in-button")),
	)
	waitFor("the page shows UNAUTHENTICATED", `!document.getElementById("error").hidden && document.getElementById("error").textContent.includes("UNAUTHENTICATED")`)
	if kept := eval[string](t, b, `sessionStorage.getItem("prefect.web.apiKey") ?? ""`); kept != "" {
		t.Errorf("a refused key was kept in sessionStorage")
	}
	if !document(t, b).hidden("#secrets") {
		t.Errorf("the list is shown after a refused sign-in")
	}

	// The right key signs in, is kept in sessionStorage only, and the page
	// names the tenant.
	do("signing in",
		clearField("api-key"),
		chromedp.SendKeys(chromedp.ID("api-key"), key),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.ID("secret-name")),
	)
	waitFor("the page names the tenant", fmt.Sprintf(`document.getElementById("tenant-id").textContent === %q`, tenant.ID))
	if got := eval[string](t, b, `document.getElementById("key-id").textContent`); got != keyID {
		t.Errorf("the page shows key %q, want %q", got, keyID)
	}
	if got := eval[string](t, b, `sessionStorage.getItem("prefect.web.apiKey")`); got != key {
		t.Errorf("sessionStorage holds %q, want the key", got)
	}
	if got := eval[string](t, b, `localStorage.length + "/" + document.cookie`); got != "0/" {
		t.Errorf("localStorage entries/cookies: %q, want none", got)
	}
	if !document(t, b).hidden("#error") || document(t, b).visible("#sign-in") {
		t.Errorf("after signing in, the error or the sign-in form is still shown")
	}

	// A bad name is caught by the form, with a message, and sent nowhere.
	sets := rec.count("set_secret")
	do("typing a bad name",
		chromedp.SendKeys(chromedp.ID("secret-name"), "db password"),
		chromedp.SendKeys(chromedp.ID("secret-value"), "x"),
		chromedp.Click(chromedp.ID("save")),
	)
	waitFor("the form explains the name rule", `!document.getElementById("secret-name-error").hidden`)
	msg := eval[string](t, b, `document.getElementById("secret-name-error").textContent`)
	if !strings.Contains(msg, "Character 3 (a space) is not allowed") || !strings.Contains(msg, "letters, digits, _ - . and /") {
		t.Errorf("the name error says %q", msg)
	}
	if eval[string](t, b, `document.getElementById("secret-name").getAttribute("aria-invalid")`) != "true" {
		t.Errorf("the bad name field is not marked aria-invalid")
	}
	if n := rec.count("set_secret"); n != sets {
		t.Errorf("a bad name was sent to the server")
	}

	// Add a secret as a plain string.
	do("adding a secret",
		clearField("secret-name"),
		clearField("secret-value"),
		chromedp.SendKeys(chromedp.ID("secret-name"), name),
		chromedp.SendKeys(chromedp.ID("secret-value"), value1),
		chromedp.Click(chromedp.ID("save")),
	)
	waitFor("the secret is listed", `document.querySelector('`+row(name)+` td.version')?.textContent === "1"`)
	waitFor("the page says it was added", `document.getElementById("status").textContent === "Added secret DB_PASSWORD."`)
	meta := secretMeta(t, st, tenant.ID, name)
	if meta.Version != 1 {
		t.Errorf("stored version %d, want 1", meta.Version)
	}
	if got := eval[string](t, b, `document.querySelector('`+row(name)+` td.updated time').getAttribute("datetime")`); got != rfc3339(meta.Updated) {
		t.Errorf("the page shows update time %q, the store %q", got, rfc3339(meta.Updated))
	}
	if got := eval[string](t, b, `document.querySelector('`+row(name)+` td.updated time').textContent`); got == "" {
		t.Errorf("the update time is not shown")
	}
	if got, err := cl.SecretValue(ctx, name); err != nil || got != value1 {
		t.Errorf("SecretValue(%s) = %v, %v; want the typed string", name, got, err)
	}
	b.assertNoValue(t, "after adding", value1, false)

	// Update it with a JSON value from the row's Update button.
	do("updating the secret",
		chromedp.Click(chromedp.CSS(row(name)+" button.update")),
	)
	if got := eval[string](t, b, `document.getElementById("secret-name").value + "|" + document.activeElement.id + "|" + document.getElementById("save").textContent`); got != name+"|secret-value|Update secret" {
		t.Errorf("after Update: name|focus|button = %q", got)
	}
	do("typing the new value",
		chromedp.SendKeys(chromedp.ID("secret-value"), value2),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="json"]`)),
		chromedp.Click(chromedp.ID("save")),
	)
	waitFor("the version goes to 2", `document.querySelector('`+row(name)+` td.version')?.textContent === "2"`)
	waitFor("the page says it was updated", `document.getElementById("status").textContent === "Updated secret DB_PASSWORD."`)
	meta2 := secretMeta(t, st, tenant.ID, name)
	if meta2.Version != 2 || !meta2.Updated.After(meta.Updated) || !meta2.Created.Equal(meta.Created) {
		t.Errorf("stored after update: %+v; before: %+v", meta2, meta)
	}
	if got := eval[string](t, b, `document.querySelector('`+row(name)+` td.updated time').getAttribute("datetime")`); got != rfc3339(meta2.Updated) {
		t.Errorf("the page shows update time %q, the store %q", got, rfc3339(meta2.Updated))
	}
	want := map[string]any{"user": "app", "password": password2}
	if got, err := cl.SecretValue(ctx, name); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("SecretValue(%s) = %#v, %v; want the JSON object", name, got, err)
	}
	b.assertNoValue(t, "after updating", password2, false)

	// Bad JSON is refused by the form without quoting it.
	do("typing bad JSON",
		chromedp.SendKeys(chromedp.ID("secret-name"), "broken"),
		chromedp.SendKeys(chromedp.ID("secret-value"), `{"pin": `+password2),
		chromedp.Click(chromedp.ID("save")),
	)
	waitFor("the form says it is not JSON", `!document.getElementById("secret-value-error").hidden`)
	b.assertNoValue(t, "after bad JSON", password2, true)
	do("leaving bad JSON",
		clearField("secret-name"),
		clearField("secret-value"),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="string"]`)),
	)

	// Two more secrets for the list (and the screenshot).
	for _, n := range []string{"slack/webhook-url", "aws.prod.access_key"} {
		do("adding "+n,
			chromedp.SendKeys(chromedp.ID("secret-name"), n),
			chromedp.SendKeys(chromedp.ID("secret-value"), "v-"+rand.Text()),
			chromedp.Click(chromedp.ID("save")),
		)
		waitFor(n+" is listed", `document.querySelector('`+row(n)+`') !== null`)
	}
	if got := eval[string](t, b, `[...document.querySelectorAll("#secret-rows tr")].map(r => r.dataset.name).join(" ")`); got != "DB_PASSWORD aws.prod.access_key slack/webhook-url" {
		t.Errorf("listed: %q", got)
	}
	if !document(t, b).hidden("#secrets-pager") {
		t.Errorf("one page of secrets shows links to other pages")
	}
	if path := os.Getenv("PREFECT_WEB_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote a screenshot of the page to %s", path)
	}

	// The key survives a reload of the tab.
	do("reloading", chromedp.Reload())
	waitFor("the list is back after a reload", `document.querySelector('`+row(name)+`') !== null`)

	// Delete, confirming in the dialog.
	do("deleting the secret",
		chromedp.Click(chromedp.CSS(row(name)+" button.delete")),
		chromedp.WaitVisible(chromedp.ID("delete-dialog")),
		chromedp.Click(chromedp.ID("delete-confirm")),
	)
	waitFor("the secret is gone from the list", `document.querySelector('`+row(name)+`') === null && document.getElementById("status").textContent === "Deleted secret DB_PASSWORD."`)
	if _, _, err := st.Secret(ctx, tenant.ID, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the store still has %s: %v", name, err)
	}
	if names, err := cl.SecretNames(ctx); err != nil || strings.Contains(strings.Join(names, " "), name) {
		t.Errorf("SecretNames = %q, %v; want no %s", names, err, name)
	}

	// Sign out: the key is dropped and the list cleared.
	do("signing out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("api-key")))
	if got := eval[string](t, b, `(sessionStorage.getItem("prefect.web.apiKey") ?? "") + document.querySelectorAll("#secret-rows tr").length`); got != "0" {
		t.Errorf("after signing out, key + rows = %q; want no key and no rows", got)
	}

	// Nothing the browser received held a value (or the key), and the page
	// never asked for a value.
	exchanges := rec.all()
	var graphql int
	for _, x := range exchanges {
		for _, secret := range []string{value1, password2, key} {
			if strings.Contains(x.response, secret) {
				t.Errorf("the response to %s %s holds a value or the key: %.200s", x.method, x.path, x.response)
			}
		}
		if strings.Contains(x.request, "secret_value") {
			t.Errorf("the page asked for a value: %s", x.request)
		}
		if strings.Contains(x.path, key) {
			t.Errorf("the key was sent in a URL")
		}
		if x.method == http.MethodPost {
			graphql++
			if x.path != "/graphql" || !strings.HasPrefix(x.auth, "Bearer ") {
				t.Errorf("a POST to %s with Authorization %q", x.path, strings.Fields(x.auth + " ?")[0])
			}
		}
	}
	if graphql < 10 || rec.count(value1) != 1 {
		t.Errorf("the record holds %d GraphQL requests, %d of them with the first value; is the recorder working?", graphql, rec.count(value1))
	}
	b.assertNoConsoleErrors(t)
}

// findBrowser returns the path of Chromium, skipping the test when there is
// none (failing it in CI, which installs it).
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (chromium, chromium-browser or google-chrome on PATH); CI must install it: apt-get install -y --no-install-recommends chromium")
	}
	t.Skip("no Chromium found; install it to run the browser test: apt-get install -y --no-install-recommends chromium")
	return ""
}

// browser is one headless Chromium with one tab, and what its console said.
type browser struct {
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// startBrowser starts Chromium with a fresh profile; it is stopped, and its
// files removed, when the test ends.
func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	dir := t.TempDir() // the profile, and the browser's HOME and TMPDIR
	ctx, cancelTimeout := context.WithTimeout(context.Background(), time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("HOME="+dir, "TMPDIR="+dir),
		chromedp.NoSandbox, // Chromium's sandbox refuses to run as root
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1000, 760),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{ctx: tabCtx}
	console := chromedp.Console(tabCtx) // starts the browser
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return // the tab is closed
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits until the browser has exited
		cancelTimeout()
		<-done
	})
	return b
}

// assertNoConsoleErrors fails the test for an exception, a CSP violation
// or any other error the page logged, but the 401 of the wrong key.
func (b *browser) assertNoConsoleErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		expected := m.Source == "network" && strings.Contains(m.Text, "401")
		if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning) && !expected {
			t.Errorf("the browser's console: %s: %s (%s)", m.Type, m.Text, m.URL)
		}
	}
}

// assertNoValue checks that secret is nowhere in the page: not in its
// markup, its text or its storage, nor (once saved, so unless stillTyped)
// in any field.
func (b *browser) assertNoValue(t *testing.T, when, secret string, stillTyped bool) {
	t.Helper()
	places := map[string]string{
		"the DOM":          `document.documentElement.outerHTML`,
		"the page's text":  `document.body.innerText`,
		"the page storage": `JSON.stringify(sessionStorage) + JSON.stringify(localStorage)`,
	}
	if !stillTyped {
		places["a field"] = `[...document.querySelectorAll("input, textarea")].map(e => e.value).join("\n")`
	}
	for what, expr := range places {
		if got := eval[string](t, b, expr); strings.Contains(got, secret) {
			t.Errorf("%s: the value is in %s", when, what)
		}
	}
	if got := eval[string](t, b, `document.getElementById("secret-value").value`); got != "" && !stillTyped {
		t.Errorf("%s: the value field still holds %d characters", when, len(got))
	}
}

// pageText is what the page shows, for failure messages.
func (b *browser) pageText() string {
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(the page's text could not be read: " + err.Error() + ")"
	}
	return "the page shows:\n" + text
}

type page struct {
	t *testing.T
	b *browser
}

func document(t *testing.T, b *browser) page { return page{t, b} }

func (p page) hidden(sel string) bool {
	p.t.Helper()
	return eval[bool](p.t, p.b, fmt.Sprintf(`document.querySelector(%q).hidden`, sel))
}

func (p page) visible(sel string) bool { p.t.Helper(); return !p.hidden(sel) }

func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func secretMeta(t *testing.T, st *store.SQL, tenantID, name string) store.SecretMeta {
	t.Helper()
	_, meta, err := st.Secret(t.Context(), tenantID, name)
	if err != nil {
		t.Fatalf("the store has no secret %s: %v", name, err)
	}
	return meta
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// recorder keeps every request and response that passes through it.
type recorder struct {
	started atomic.Int64 // requests that came in, answered or not

	mu        sync.Mutex
	exchanges []exchange
}

type exchange struct {
	method, path, auth string
	request, response  string
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.started.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.exchanges = append(rec.exchanges, exchange{
			method: r.Method, path: r.URL.RequestURI(), auth: r.Header.Get("Authorization"),
			request: string(body), response: cw.body.String(),
		})
	})
}

func (rec *recorder) all() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]exchange(nil), rec.exchanges...)
}

// count returns how many requests held s.
func (rec *recorder) count(s string) int {
	n := 0
	for _, x := range rec.all() {
		if strings.Contains(x.request, s) {
			n++
		}
	}
	return n
}

type captureWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *captureWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clearField empties the field with the id, as a user selecting its text
// and deleting it would. (chromedp.Clear resets an input's default value
// and needs a textarea to have text in its markup.)
func clearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = ""`, id))
}

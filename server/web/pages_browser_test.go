package web_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/prefect-go/prefect/internal/servertest"
)

// TestSecretsPagesInChromium: a tenant of 120 secrets is shown 50 to a
// page, sorted, with next and previous links that walk the pages both
// ways, and an address that opens a page by itself; the page asks the
// server for one page at a time, never for every secret. With
// PREFECT_WEB_SCREENSHOT_PAGES=file.png it writes a screenshot of the
// second page.
func TestSecretsPagesInChromium(t *testing.T) {
	browser := findBrowser(t)
	ctx := t.Context()
	env := servertest.New(t)
	const total = 120
	for i := range total {
		name := fmt.Sprintf("S%03d", i)
		sl, err := env.Ring.Seal(env.Tenant.ID, name, []byte(`"v"`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Store.PutSecret(ctx, env.Tenant.ID, name, sl); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	ts := httptest.NewServer(rec.wrap(env.Handler()))
	t.Cleanup(ts.Close)

	b := startBrowser(t, browser)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitFor := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("waiting until %s (%s): %v\n%s", what, expr, err, b.pageText())
		}
	}
	// shows waits until the rows are the n from S<first> to S<last>, and
	// checks the pager: the label, and which links show.
	shows := func(first, last, n int, label string, prev, next bool) {
		t.Helper()
		want := fmt.Sprintf("S%03d..S%03d/%d", first, last, n)
		waitFor("the rows are "+want, fmt.Sprintf(`(() => {
			const rows = [...document.querySelectorAll("#secret-rows tr")].map(r => r.dataset.name);
			return rows.length > 0 && rows[0] + ".." + rows[rows.length - 1] + "/" + rows.length === %q;
		})()`, want))
		got := eval[string](t, b, `[document.getElementById("secrets-page").textContent,
			!document.getElementById("secrets-prev").hidden, !document.getElementById("secrets-next").hidden,
			document.getElementById("secrets-pager").hidden].join("|")`)
		if w := fmt.Sprintf("%s|%v|%v|false", label, prev, next); got != w {
			t.Errorf("rows %s: label|previous|next|pager hidden = %q, want %q", want, got, w)
		}
	}

	do("signing in",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("api-key")),
		chromedp.SendKeys(chromedp.ID("api-key"), env.Key),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.ID("secret-name")),
	)
	shows(0, 49, 50, "Page 1 · 50 secrets", false, true)
	if href := eval[string](t, b, `document.getElementById("secrets-next").getAttribute("href")`); href != "#/secrets?after=S049" {
		t.Errorf("the next link goes to %q", href)
	}
	do("next", chromedp.Click(chromedp.ID("secrets-next")))
	shows(50, 99, 50, "Page 2 · 50 secrets", true, true)
	if path := os.Getenv("PREFECT_WEB_SCREENSHOT_PAGES"); path != "" {
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote a screenshot of the second page to %s", path)
	}
	do("next", chromedp.Click(chromedp.ID("secrets-next")))
	shows(100, 119, 20, "Page 3 · 20 secrets", true, false)
	do("previous", chromedp.Click(chromedp.ID("secrets-prev")))
	shows(50, 99, 50, "Page 2 · 50 secrets", true, true)
	do("previous", chromedp.Click(chromedp.ID("secrets-prev")))
	shows(0, 49, 50, "Page 1 · 50 secrets", false, true)
	do("the browser's back button", chromedp.NavigateBack())
	shows(50, 99, 50, "Page 2 · 50 secrets", true, true)

	// A page opened by its address alone: its previous link goes to the
	// first page, as nothing says where the page before starts.
	do("opening a page by its address", chromedp.Navigate(ts.URL+"/#/secrets?after=S089"))
	shows(90, 119, 30, "Names after S089 · 30 secrets", true, false)
	if got := eval[string](t, b, `document.getElementById("secrets-prev").textContent + " " + document.getElementById("secrets-prev").getAttribute("href")`); got != "First page #/secrets" {
		t.Errorf("the previous link of a page opened by its address: %q", got)
	}
	// Deleting on it lists the same page again.
	do("deleting S100",
		chromedp.Click(chromedp.CSS(`#secret-rows tr[data-name="S100"] button.delete`)),
		chromedp.WaitVisible(chromedp.ID("delete-dialog")),
		chromedp.Click(chromedp.ID("delete-confirm")),
	)
	waitFor("S100 is gone", `document.querySelector('#secret-rows tr[data-name="S100"]') === null && document.getElementById("status").textContent === "Deleted secret S100."`)
	shows(90, 119, 29, "Names after S089 · 29 secrets", true, false)
	do("the first page", chromedp.Click(chromedp.ID("secrets-prev")))
	shows(0, 49, 50, "Page 1 · 50 secrets", false, true)

	// Every list was one page of 50: never the whole list.
	pages := 0
	for _, x := range rec.all() {
		if strings.Contains(x.request, "secret_metadata") || strings.Contains(x.request, "secret_names") {
			t.Errorf("the page asked for every secret: %.200s", x.request)
		}
		if strings.Contains(x.request, "secrets_page") {
			pages++
			if !strings.Contains(x.request, `"limit":50`) {
				t.Errorf("a page request without a limit of 50: %.300s", x.request)
			}
			if n := strings.Count(x.response, `"name":`); n > 50 {
				t.Errorf("a page answer holds %d secrets", n)
			}
		}
	}
	if pages < 9 {
		t.Errorf("%d page requests recorded; is the recorder working?", pages)
	}
	b.assertNoConsoleErrors(t)
}

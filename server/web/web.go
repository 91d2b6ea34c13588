// Package web is the secret server's page: one HTML page, a style sheet and
// a few script modules, embedded in the binary, with which a person signs
// in with an API key and then, on two tabs,
//
//   - Secrets (#/secrets): lists, adds, updates and deletes the secrets of
//     the key's tenant, 50 to a page sorted by name, with links to the
//     next page (#/secrets?after=<last name>) and the one before;
//   - Flow runs (#/runs): lists the tenant's flow runs with their states,
//     filtered by state, and cancels those not finished; one run
//     (#/runs/<id>) shows its state, parameters, its tasks as a graph (SVG,
//     laid out from the flow's registered definition, coloured by each task
//     run's latest state) and a table, and its log, read on from a cursor.
//     The list refreshes every 2 s, a run every second until it is
//     finished; neither while the browser tab is hidden.
//
// Package server serves it for GET and HEAD of "/" and "/static/", beside
// its GraphQL API, as
//
//	http.Handle("/", web.Handler()) // the page at /, its files under /static/
//
// The page is a client of the server's GraphQL API like any other: it POSTs
// to /graphql with "Authorization: Bearer <api key>" and uses only
// auth_info, secrets_page, set_secret and delete_secret for secrets, and
// flow_runs, flow_run, flow, flow_run_logs and cancel_flow_run for runs. It
// never asks for secret_value nor for a run's environment (which may hold
// secrets), so neither reaches the browser; a value lives only in the field
// the user types it into, which is cleared once the value is saved. The key
// is kept in the tab's sessionStorage (gone when the tab closes) until the
// user signs out.
//
// Nothing is built or fetched from elsewhere: the files in static/ are
// served as they are, and every response forbids everything the page does
// not need with [ContentSecurityPolicy] (no inline script or style, no other
// origin, no framing, no form submission), plus nosniff and no referrer.
// The scripts set text with textContent and build the graph with
// createElementNS: nothing received is parsed as HTML. The HTML is never
// cached; the other files are revalidated by ETag.
//
// The page is tested in a real headless Chromium (browser_test.go and
// pages_browser_test.go for the Secrets tab, runs_browser_test.go for Flow
// runs), which is skipped when no Chromium is installed, unless CI=true.
// To see the page, run those tests with PREFECT_WEB_SCREENSHOT (the
// Secrets tab listing a few secrets), PREFECT_WEB_SCREENSHOT_PAGES (the
// second of three pages of secrets) or PREFECT_WEB_SCREENSHOT_RUNS (a
// running flow run's view) set to a file name: they write a PNG there.
//
//	apt-get install chromium
//	PREFECT_WEB_SCREENSHOT=/tmp/secrets.png go test -run SecretsPageInChromium ./server/web/
//	PREFECT_WEB_SCREENSHOT_PAGES=/tmp/pages.png go test -run SecretsPagesInChromium ./server/web/
//	PREFECT_WEB_SCREENSHOT_RUNS=/tmp/run.png go test -run FlowRunsPageInChromium ./server/web/
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// ContentSecurityPolicy is the Content-Security-Policy of every response
// of [Handler]: the page may load scripts, styles and images from its own
// origin only, send requests only to it, and nothing else.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

//go:embed static
var files embed.FS

// contentTypes are the types of the files in static/, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	assets map[string]asset // by URL path: "/" and "/static/..."
}

// Handler returns the handler of the page: GET or HEAD of "/" is the page,
// of "/static/<file>" one of its files; any other path is 404 and any other
// method 405. It is safe for concurrent use; every call returns the same
// handler.
func Handler() http.Handler { return shared() }

var shared = sync.OnceValue(func() *handler {
	h := &handler{assets: make(map[string]asset)}
	err := fs.WalkDir(files, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream" // a test checks that no file falls here
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if name == "static/index.html" {
			h.assets["/"] = a
		} else {
			h.assets["/"+name] = a
		}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded files: " + err.Error()) // cannot happen: they are in the binary
	}
	return h
})

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method "+r.Method+" not allowed: the page answers GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.Error(w, "no such page: the page is at /", http.StatusNotFound)
		return
	}
	hdr.Set("Content-Type", a.ctype)
	if strings.HasPrefix(a.ctype, "text/html") {
		hdr.Set("Cache-Control", "no-store")
	} else {
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", a.etag)
	}
	// ServeContent answers HEAD, If-None-Match and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

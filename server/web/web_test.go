package web_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/internal/servertest"
	"github.com/prefect-go/prefect/server/web"
)

// get sends method to path of h and returns the recorded answer.
func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesThePageAndItsFiles(t *testing.T) {
	h := web.Handler()
	for _, tc := range []struct {
		path, ctype, cache, contains string
	}{
		{"/", "text/html; charset=utf-8", "no-store", `<script type="module" src="/static/app.js">`},
		{"/static/app.js", "text/javascript; charset=utf-8", "no-cache", "secrets_page"},
		{"/static/runs.js", "text/javascript; charset=utf-8", "no-cache", "flow_runs"},
		{"/static/graph.js", "text/javascript; charset=utf-8", "no-cache", "createElementNS"},
		{"/static/ui.js", "text/javascript; charset=utf-8", "no-cache", "textContent"},
		{"/static/app.css", "text/css; charset=utf-8", "no-cache", ":root"},
		{"/static/favicon.svg", "image/svg+xml", "no-cache", "<svg"},
	} {
		resp := get(t, h, http.MethodGet, tc.path)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: HTTP %d: %s", tc.path, resp.StatusCode, b)
			continue
		}
		for name, want := range map[string]string{
			"Content-Type":            tc.ctype,
			"Cache-Control":           tc.cache,
			"Content-Security-Policy": web.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("GET %s: %s is %q, want %q", tc.path, name, got, want)
			}
		}
		if !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: the body lacks %q", tc.path, tc.contains)
		}

		head := get(t, h, http.MethodHead, tc.path)
		if hb := body(t, head); head.StatusCode != http.StatusOK || hb != "" ||
			head.Header.Get("Content-Type") != tc.ctype || head.ContentLength != int64(len(b)) {
			t.Errorf("HEAD %s: HTTP %d, %d bytes of body, type %q, length %d (want %d)",
				tc.path, head.StatusCode, len(hb), head.Header.Get("Content-Type"), head.ContentLength, len(b))
		}

		if etag := resp.Header.Get("ETag"); etag != "" {
			again := get(t, h, http.MethodGet, tc.path, "If-None-Match", etag)
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: HTTP %d, want 304", tc.path, again.StatusCode)
			}
		} else if tc.cache != "no-store" {
			t.Errorf("GET %s: no ETag", tc.path)
		}
	}
}

func TestHandlerRefusesOtherPathsAndMethods(t *testing.T) {
	h := web.Handler()
	for _, path := range []string{"/index.html", "/static/", "/static/index.html", "/static/nope.js", "/favicon.ico", "/graphql", "/static/../web.go"} {
		resp := get(t, h, http.MethodGet, path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d, want 404", path, resp.StatusCode)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", path)
		}
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		resp := get(t, h, method, "/")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: HTTP %d, Allow %q", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// Every file the page names is served with a known type, and the page keeps
// to its policy: no inline script or style, no HTML parsing of data, no
// storage but sessionStorage, never secret_value nor a run's environment.
func TestPageKeepsItsRules(t *testing.T) {
	h := web.Handler()
	page := body(t, get(t, h, http.MethodGet, "/"))
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page names %d files, want the script, the style sheet and the icon", len(refs))
	}
	for _, m := range refs {
		resp := get(t, h, http.MethodGet, m[1])
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") == "application/octet-stream" {
			t.Errorf("%s, named by the page: HTTP %d, type %q", m[1], resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>[^<]*</script>`).FindAllString(page, -1) {
		if !strings.Contains(tag, ` src="/static/`) || !strings.HasSuffix(tag, "></script>") {
			t.Errorf("index.html has an inline script: %s", tag)
		}
	}
	if n, m := strings.Count(page, "<script"), strings.Count(page, "></script>"); n != m {
		t.Errorf("index.html has %d script tags, %d of them empty ones with src", n, m)
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`https?://`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("index.html has %q, which the policy forbids", m)
		}
	}
	scripts := scripts(t, h)
	if len(scripts) < 4 {
		t.Errorf("the page loads %d scripts (%v), want app.js and the modules it imports", len(scripts), slices.Collect(maps.Keys(scripts)))
	}
	for path, script := range scripts {
		// The one URL a script may hold is SVG's namespace name, which
		// createElementNS needs and nothing fetches.
		script = strings.ReplaceAll(script, `"http://www.w3.org/2000/svg"`, `""`)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
			"localStorage", "document.cookie", "secret_value", "flow_run_env", "http://", "https://"} {
			if strings.Contains(script, bad) {
				t.Errorf("%s uses %q", path, bad)
			}
		}
	}
}

// scripts returns the page's scripts by path: app.js and every module it
// imports, directly or not, each checked to be served as JavaScript under
// the page's policy.
func scripts(t *testing.T, h http.Handler) map[string]string {
	t.Helper()
	imports := regexp.MustCompile(`(?m)^import [^;]* from "\./([a-z]+\.js)";$`)
	anyImport := regexp.MustCompile(`(?m)^\s*import\b|\bimport\(`)
	found := map[string]string{}
	queue := []string{"/static/app.js"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if _, ok := found[path]; ok {
			continue
		}
		resp := get(t, h, http.MethodGet, path)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
			resp.Header.Get("Content-Security-Policy") != web.ContentSecurityPolicy {
			t.Errorf("GET %s: HTTP %d, type %q, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
			continue
		}
		found[path] = b
		for _, m := range imports.FindAllStringSubmatch(b, -1) {
			queue = append(queue, "/static/"+m[1])
		}
		if n, m := len(anyImport.FindAllString(b, -1)), len(imports.FindAllString(b, -1)); n != m {
			t.Errorf("%s has %d imports, %d of them of the form this test follows: import ... from \"./name.js\";", path, n, m)
		}
	}
	return found
}

// The server answers GET / with the page and still takes GraphQL POSTs at
// / and /graphql.
func TestServerRoutes(t *testing.T) {
	srv := servertest.New(t).Handler()

	for _, path := range []string{"/", "/static/app.js", "/static/app.css"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp := get(t, srv, method, path)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != web.ContentSecurityPolicy {
				t.Errorf("%s %s: HTTP %d, CSP %q", method, path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
			}
		}
	}
	if resp := get(t, srv, http.MethodGet, "/static/nope.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /static/nope.js: HTTP %d, want 404", resp.StatusCode)
	}
	if resp := get(t, srv, http.MethodGet, "/graphql"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /graphql: HTTP %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	for _, path := range []string{"/", "/graphql"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"query": "query { auth_info { tenant_id } }"}`))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if b := rec.Body.String(); rec.Code != http.StatusUnauthorized || !strings.Contains(b, "UNAUTHENTICATED") ||
			rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("POST %s without a key: HTTP %d, type %q: %s", path, rec.Code, rec.Header().Get("Content-Type"), b)
		}
	}
}

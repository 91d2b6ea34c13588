package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
)

type cliResult struct {
	stdout, stderr string
	code           int
}

// TestSecretsCLI runs "prefect secrets" against a real server, with an
// environment built from scratch.
func TestSecretsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	url, key, _ := startTestServer(t, bin)
	base := cliEnv(t)
	envWith := func(api, apiKey string) []string {
		return append(append([]string(nil), base...), "PREFECT__CLOUD__API="+api, "PREFECT__CLOUD__API_KEY="+apiKey)
	}
	good := envWith(url+"/graphql", key)

	const (
		flagValue  = "flag-value-3fa1c9 with spaces"
		stdinValue = "stdin-value-77b2e0\nsecond line"
		fileValue  = "file-value-c0ffee\n" // the file's bytes, newline kept
		jsonValue  = `{"password":"json-pw-a9d8e7","port":5432,"tags":["x","y<&>"]}`
	)
	values := []string{"flag-value-3fa1c9", "stdin-value-77b2e0", "file-value-c0ffee", "json-pw-a9d8e7"}
	var all []cliResult
	runEnv := func(env []string, input string, args ...string) cliResult {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = env
		c.Stdin = strings.NewReader(input)
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		r := cliResult{out.String(), errOut.String(), 0}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			r.code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		all = append(all, r)
		return r
	}
	run := func(input string, args ...string) cliResult {
		t.Helper()
		return runEnv(good, input, args...)
	}
	mustOK := func(r cliResult, what string) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\nstderr: %s", what, r.code, r.stderr)
		}
	}

	// set, four ways.
	r := run("", "secrets", "set", "FLAG", "--value", flagValue)
	mustOK(r, "set --value")
	if !strings.Contains(r.stderr, "shell history") {
		t.Errorf("set --value gave no history warning: %q", r.stderr)
	}
	r = run(stdinValue+"\n", "secrets", "set", "STDIN")
	mustOK(r, "set from stdin")
	if strings.Contains(r.stderr, "shell history") {
		t.Errorf("set from stdin warned about history: %q", r.stderr)
	}
	file := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(file, []byte(fileValue), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOK(run("", "secrets", "set", "--from-file", file, "FILE"), "set --from-file (flag first)")
	mustOK(run(jsonValue, "secrets", "set", "JSON", "--json"), "set --json from stdin")

	// get each back exactly.
	for name, want := range map[string]string{
		"FLAG":  flagValue + "\n",
		"STDIN": stdinValue + "\n",
		"FILE":  fileValue + "\n",
		"JSON":  jsonValue + "\n",
	} {
		r := run("", "secrets", "get", name)
		mustOK(r, "get "+name)
		if r.stdout != want {
			t.Errorf("get %s = %q, want %q", name, r.stdout, want)
		}
	}
	// A JSON string set with --json comes back raw; a number compact.
	mustOK(run(`"quoted"`, "secrets", "set", "JSTR", "--json"), "set --json string")
	if r := run("", "secrets", "get", "JSTR"); r.stdout != "quoted\n" {
		t.Errorf("get JSTR = %q", r.stdout)
	}
	mustOK(run(" 42 \n", "secrets", "set", "JNUM", "--json"), "set --json number")
	if r := run("", "secrets", "get", "JNUM"); r.stdout != "42\n" {
		t.Errorf("get JNUM = %q", r.stdout)
	}

	// Invalid JSON is refused without being echoed.
	r = run(`{"password": json-pw-a9d8e7}`, "secrets", "set", "BAD", "--json")
	if r.code != 1 || !strings.Contains(r.stderr, "not valid JSON") {
		t.Errorf("set --json with bad JSON: exit %d, stderr %q", r.code, r.stderr)
	}

	// list: sorted, one a line; --limit stops early and says how to go
	// on, --after starts after a name.
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
	}{
		{nil, "FILE\nFLAG\nJNUM\nJSON\nJSTR\nSTDIN\n", ""},
		{[]string{"--limit", "2"}, "FILE\nFLAG\n", "prefect: more secrets follow; list them with --after FLAG\n"},
		{[]string{"--after", "FLAG", "--limit", "2"}, "JNUM\nJSON\n", "prefect: more secrets follow; list them with --after JSON\n"},
		{[]string{"--after", "JSON"}, "JSTR\nSTDIN\n", ""},
		{[]string{"--limit", "6"}, "FILE\nFLAG\nJNUM\nJSON\nJSTR\nSTDIN\n", ""},
		{[]string{"--limit", "0", "--after", "A"}, "FILE\nFLAG\nJNUM\nJSON\nJSTR\nSTDIN\n", ""},
		{[]string{"--after", "STDIN"}, "", ""},
	} {
		r := run("", append([]string{"secrets", "list"}, tc.args...)...)
		mustOK(r, fmt.Sprint("list ", tc.args))
		if r.stdout != tc.stdout || r.stderr != tc.stderr {
			t.Errorf("list %q: stdout %q, stderr %q; want %q, %q", tc.args, r.stdout, r.stderr, tc.stdout, tc.stderr)
		}
	}

	// delete, then get → exit 1 with the not-found message.
	mustOK(run("", "secrets", "delete", "FLAG"), "delete")
	r = run("", "secrets", "get", "FLAG")
	if r.code != 1 || !strings.Contains(r.stderr, "was not found") || r.stdout != "" {
		t.Errorf("get after delete: exit %d, stdout %q, stderr %q; want exit 1 and not found", r.code, r.stdout, r.stderr)
	}

	// Usage errors: exit 2, naming the problem.
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"secrets"}, "set, get, list, delete"},
		{[]string{"secrets", "frobnicate"}, "unknown secrets subcommand"},
		{[]string{"secrets", "get"}, "needs a secret NAME"},
		{[]string{"secrets", "set", "--value", "x"}, "needs a secret NAME"},
		{[]string{"secrets", "delete", "A", "B"}, "takes one NAME"},
		{[]string{"secrets", "set", "N", "--value", "x", "--from-file", file}, "not both"},
		{[]string{"secrets", "get", "N", "--bogus"}, "flag provided but not defined"},
		{[]string{"secrets", "list", "extra"}, "takes no arguments"},
		{[]string{"secrets", "list", "--limit", "-1"}, "--limit -1: want 0 (all) or more"},
		{[]string{"secrets", "list", "--limit", "many"}, "invalid value"},
	} {
		r := run("", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.says) || !strings.Contains(r.stderr, "usage:") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 saying %q", tc.args, r.code, r.stderr, tc.says)
		}
	}

	// A wrong key: exit 1, saying the key was refused, never printing it.
	const wrongKey = "pgo_wrong-key-5e5e5e"
	r = runEnv(envWith(url+"/graphql", wrongKey), "", "secrets", "get", "STDIN")
	if r.code != 1 || !strings.Contains(r.stderr, "API key") || r.stdout != "" {
		t.Errorf("wrong key: exit %d, stdout %q, stderr %q; want exit 1, refused key", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, wrongKey) {
		t.Errorf("the wrong key was printed: %q", r.stderr)
	}
	r = runEnv(envWith(url+"/graphql", wrongKey), "", "secrets", "set", "X", "--value", "wrong-key-value-0d0d0d")
	if r.code != 1 || strings.Contains(r.stderr, "wrong-key-value-0d0d0d") || strings.Contains(r.stderr, wrongKey) {
		t.Errorf("set with a wrong key: exit %d, stderr %q", r.code, r.stderr)
	}

	// No server configured: exit 1, naming what to set.
	r = runEnv(append(append([]string(nil), base...), "PREFECT__CLOUD__API="), "", "secrets", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "PREFECT__CLOUD__API") || !strings.Contains(r.stderr, "cloud.api") {
		t.Errorf("no cloud.api: exit %d, stderr %q", r.code, r.stderr)
	}

	// No value, nor the key, on any stderr; values on stdout only from get.
	for _, r := range all {
		if strings.Contains(r.stderr, key) {
			t.Errorf("a stderr holds the API key: %q", r.stderr)
		}
		for _, v := range values {
			if strings.Contains(r.stderr, v) {
				t.Errorf("a stderr holds a value: %q", r.stderr)
			}
		}
	}
}

// listNames reads pages, never secret_names: one page of limit+1 under a
// limit (the extra name tells whether more follow), pages of the largest
// size without one.
func TestSecretsListPages(t *testing.T) {
	env := servertest.New(t)
	var mu sync.Mutex
	var queries []string
	h := env.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		queries = append(queries, string(body))
		mu.Unlock()
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
	for _, n := range []string{"E", "C", "A", "D", "B"} {
		if err := c.SetSecret(ctx, n, "v"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		after          string
		limit          int
		stdout, stderr string
		wantLimit      string // the limit the one request asked for
	}{
		{"", 3, "A\nB\nC\n", "prefect: more secrets follow; list them with --after C\n", `\"limit\":4`},
		{"", 0, "A\nB\nC\nD\nE\n", "", `\"limit\":1000`},
		{"C", 5, "D\nE\n", "", `\"limit\":6`},
		{"", 5000, "A\nB\nC\nD\nE\n", "", `\"limit\":1000`},
	} {
		mu.Lock()
		queries = nil
		mu.Unlock()
		var out, errOut bytes.Buffer
		if err := listNames(ctx, c, tc.after, tc.limit, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.stdout || errOut.String() != tc.stderr {
			t.Errorf("listNames(%q, %d): stdout %q, stderr %q; want %q, %q", tc.after, tc.limit, out.String(), errOut.String(), tc.stdout, tc.stderr)
		}
		mu.Lock()
		if len(queries) != 1 || !strings.Contains(queries[0], "secrets_page") || strings.Contains(queries[0], "secret_names") || !strings.Contains(queries[0], tc.wantLimit) {
			t.Errorf("listNames(%q, %d) sent %q; want one secrets_page with %s", tc.after, tc.limit, queries, tc.wantLimit)
		}
		mu.Unlock()
	}
}

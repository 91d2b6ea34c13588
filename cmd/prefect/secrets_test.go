package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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

	// list.
	r = run("", "secrets", "list")
	mustOK(r, "list")
	got := strings.Fields(r.stdout)
	want := []string{"FILE", "FLAG", "JNUM", "JSON", "JSTR", "STDIN"}
	if strings.Join(slices.Sorted(slices.Values(got)), ",") != strings.Join(want, ",") {
		t.Errorf("list = %q, want %v", r.stdout, want)
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

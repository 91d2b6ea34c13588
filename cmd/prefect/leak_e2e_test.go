package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/state"
)

// TestAgentCrashShowsNoSecret is the attack of issue 10 with the real
// binaries: the secret LEAKY lives only on the secret server (the agent's
// environment does not hold it); the flow program resolves it, prints it
// in several forms and dies (log.Fatalf, a goroutine's panic, os.Exit).
// The run's final message carries the process's last lines, and neither
// it, what `prefect run --watch` shows, `runs show`, `runs logs`, the
// agent's output nor any file of the server's data folder (the database
// and its WAL) may show the value in any of the printed forms.
func TestAgentCrashShowsNoSecret(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, flows := buildBinary(t), buildFlows(t)
	url, key, data := startTestServer(t, bin)
	env := cliEnv(t, "PREFECT__CLOUD__API="+url+"/graphql", "PREFECT__CLOUD__API_KEY="+key)
	c := newTestClient(t, url, key)
	register(t, flows, env)
	ag := startProcess(t, bin, env, "agent", "local", "start", "--poll-interval", "100ms")

	tag := rand.Text()[:12] // each value's own, so that no form is found by chance
	values := map[string]string{
		"ASCII":     "plain-token-" + tag,
		"non-ASCII": "Sécret-tøken-中文-🙂-" + tag,
		"quotes":    `q"uo'te\back-` + tag,
		"PEM-like":  "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B" + tag + "\nAQEFAASCBKcwggSjAgEAAoIB\n-----END PRIVATE KEY-----",
	}
	for kind, tok := range values {
		file := filepath.Join(t.TempDir(), "value")
		if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		prefectCLI(t, bin, env, "secrets", "set", "LEAKY", "--from-file", file)
		quoted := strconv.QuoteToASCII(tok)
		forms := map[string]string{
			"raw":                   tok,
			"base64":                base64.StdEncoding.EncodeToString([]byte(tok)),
			"base64 of user:secret": base64.StdEncoding.EncodeToString([]byte("user:" + tok))[8:24],
			"%+q":                   quoted[1 : len(quoted)-1],
			"%v of []byte":          strings.Trim(fmt.Sprint([]byte(tok)), "[]"),
		}
		for i, line := range strings.Split(tok, "\n") {
			if strings.Contains(tok, "\n") && !strings.HasPrefix(line, "-----") { // the PEM armour is no secret
				forms[fmt.Sprintf("line %d", i)] = line
			}
		}
		for _, tc := range []struct{ mode, want string }{
			{"fatal", "auth failed for token ********"},
			{"panic", "panic: lost the connection holding ********"},
			{"exit", "Authorization: Basic "},
		} {
			t.Run(kind+"/"+tc.mode, func(t *testing.T) {
				// The run fails, so --watch exits 1: its error is expected.
				out, watched, _ := cliRun(bin, env, "run", "--name", "leak", "--param", "mode="+tc.mode, "--watch")
				id := strings.TrimSpace(out)
				run := waitRun(t, c, id, "it ends", func(r client.FlowRun) bool { return r.State.IsFinished() }, ag)
				if run.State != state.Failed || !strings.Contains(run.Message, tc.want) {
					t.Errorf("run ended %s; want Failed with %q in its message:\n%s", run.State, tc.want, run.Message)
				}
				texts := map[string]string{
					"the run's message":   run.Message,
					"prefect run --watch": watched,
					"runs show":           prefectCLI(t, bin, env, "runs", "show", id),
					"runs logs":           prefectCLI(t, bin, env, "runs", "logs", id),
					"the agent's log":     ag.String(),
				}
				for what, text := range texts {
					for form, v := range forms {
						if strings.Contains(text, v) {
							t.Errorf("%s shows the secret (%s):\n%s", what, form, text)
						}
					}
				}
			})
		}
		for form, v := range forms {
			noPlaintext(t, data, v, kind+" value: the server's data folder ("+form+")", "server.db")
		}
	}
}

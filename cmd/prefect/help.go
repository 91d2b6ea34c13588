package main

// Help: -h, -help or --help after any command or subcommand, or `prefect
// help [COMMAND...]`, prints that command's usage on stdout and exits 0.

import (
	"errors"
	"fmt"
	"strings"
)

// A command is one line of a group's help, and the head of its own.
type command struct {
	name string // the words after its group's, as typed
	args string // what follows them, for the usage line
	what string // what it does: a line, then more if need be
}

// groups lists the subcommands of each command that has some, in the order
// their help shows them.
var groups = map[string][]command{
	"": {
		{"server", "SUBCOMMAND", "start the server; manage its tenants, API keys and master keys"},
		{"secrets", "SUBCOMMAND", "set, get, list and delete the secrets of the server"},
		{"agent", "local start", "run the server's flow runs as processes of this machine"},
		{"run", "--name FLOW", "create a run of a registered flow, and watch it"},
		{"flows", "SUBCOMMAND", "list the registered flows; turn their schedules on and off"},
		{"runs", "SUBCOMMAND", "list, show and cancel flow runs, and read their logs"},
		{"help", "[COMMAND...]", "show a command's help (as COMMAND... -h does)"},
	},
	"server": {
		{"start", "[FLAGS]", "run the server, bound to loopback unless --host says otherwise; SIGINT or SIGTERM stops it gracefully"},
		{"create-tenant", "NAME", "create a tenant"},
		{"create-api-key", "--tenant NAME [--name LABEL]", "create an API key of a tenant and print it (once: only its hash is kept)"},
		{"list-api-keys", "--tenant NAME [--all] [--json]", "list a tenant's API keys"},
		{"revoke-api-key", "ID", "revoke an API key (list-api-keys shows the IDs)"},
		{"rotate-key", "[--grace 3s]", "seal every secret under a new master key"},
		{"audit", "--tenant NAME | --unknown-keys [--limit N] [--json]", "show the audit log"},
	},
	"secrets": {
		{"set", "NAME [--value V | --from-file PATH] [--json]", "set a secret; the value is read from stdin unless --value or --from-file gives it"},
		{"get", "NAME", "print a secret's value"},
		{"list", "[--limit N] [--after NAME]", "list the secrets' names, sorted"},
		{"delete", "NAME", "delete a secret"},
	},
	"agent": {
		{"local", "start [FLAGS]", "claim the server's flow runs and run each as a local process"},
	},
	"agent local": {
		{"start", "[--label L]... [--env K=V]... [--max-runs N] [FLAGS]", "claim the server's flow runs and run each as a local process"},
	},
	"flows": {
		{"list", "", "list the newest version of each registered flow, with its schedule (on, off or -)"},
		{"schedule", "NAME --on|--off", "turn a registered flow's schedule on or off (Prefect's set_schedule_active)\n" +
			"On, the server creates the flow's next runs (10 ahead), each at its planned time; off, the runs it\n" +
			"planned that no agent has claimed are deleted"},
	},
	"runs": {
		{"list", "[--state S] [--limit N]", "list flow runs, newest first"},
		{"show", "ID", "show a flow run and its task runs"},
		{"cancel", "ID", "cancel a flow run\n" +
			"A Scheduled run is Cancelled at once, a Submitted or Running one is Cancelling until its agent stops it.\n" +
			"Exit status 0 if the run is Cancelling or Cancelled afterwards (already Cancelled included); 1 if it had already ended\n" +
			"Success or Failed, which nothing changes: it says so, and cancels nothing"},
		{"logs", "ID", "print a flow run's log"},
	},
}

// leaves are the commands without subcommands of their own that groups
// does not describe.
var leaves = map[string]command{
	"run": {"run", "--name FLOW [--param k=v]... [--env K=V]... [--watch]",
		"create a run of the newest version of the flow; print its ID on stdout.\n" +
			"Its parameters are checked against the flow's registered ones first: an unknown or a missing\n" +
			"required one is refused, and no run is created"},
}

// serverNote is what every command that talks to the server shares.
const serverNote = "The server is the one cloud.api names, in ~/.prefect/config.toml or PREFECT__CLOUD__API\n" +
	"(e.g. http://127.0.0.1:4200/graphql), with the API key cloud.api_key (PREFECT__CLOUD__API_KEY)."

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// groupHelp is the answer to -h for group ("" for prefect itself).
func groupHelp(group string) error {
	var b strings.Builder
	prefix := strings.TrimSpace("prefect " + group)
	fmt.Fprintf(&b, "usage: %s COMMAND ...\n\n", prefix)
	for _, c := range groups[group] {
		what, _, _ := strings.Cut(c.what, "\n")
		fmt.Fprintf(&b, "  %s\n      %s\n", strings.TrimSpace(c.name+" "+c.args), what)
	}
	fmt.Fprintf(&b, "\n%s COMMAND -h shows a command's usage and flags.", prefix)
	if group != "server" {
		b.WriteString("\n" + serverNote)
	}
	if group == "" {
		b.WriteString("\nExit status: 0 on success, 1 on failure, 2 on a usage error.")
	}
	return usageError{msg: b.String(), help: true}
}

// withUsage completes the answer to -h of the command path (its words
// after "prefect") with its usage line and what it does. Other errors it
// returns as they are.
func withUsage(path string, err error) error {
	var ue usageError
	if !errors.As(err, &ue) || !ue.help {
		return err
	}
	c, ok := leaves[path]
	if !ok {
		i := strings.LastIndexByte(path, ' ')
		for _, sub := range groups[path[:max(i, 0)]] {
			if sub.name == path[i+1:] {
				c, ok = sub, true
			}
		}
	}
	if !ok {
		return err
	}
	msg := "usage: " + strings.TrimSpace("prefect "+path+" "+c.args) + "\n\n" + c.what
	if ue.msg != "" {
		msg += "\n\nflags:\n" + ue.msg
	}
	if !strings.HasPrefix(path, "server ") {
		msg += "\n\n" + serverNote
	}
	return usageError{msg: msg, help: true}
}

// Command prefect runs the secret store server, manages its tenants, API
// keys and master keys, and sets and reads secrets through it.
//
//	prefect server start [--host H] [--port P] [--data-dir D] [--database-url URL] [--master-key-file F]
//	                     [--max-value-size BYTES] [--max-secrets N] [--auth-cache-ttl 5s] [--scheduler-interval 10s]
//	prefect server create-tenant NAME
//	prefect server create-api-key --tenant NAME [--name LABEL]
//	prefect server list-api-keys --tenant NAME [--all] [--json]
//	prefect server revoke-api-key ID
//	prefect server rotate-key [--grace 3s]
//	prefect server audit --tenant NAME | --unknown-keys [--limit N] [--json]
//	prefect secrets set NAME [--value V | --from-file PATH] [--json] | get NAME | list [--limit N] [--after NAME] | delete NAME
//	prefect agent local start [--label L]... [--env K=V]... [--max-runs N]
//	prefect run --name FLOW [--param k=v]... [--env K=V]... [--watch]
//	prefect flows list | schedule NAME --on|--off
//	prefect runs list [--state S] [--limit N] | show ID | cancel ID | logs ID
//	prefect [COMMAND...] -h | --help, prefect help [COMMAND...]
//
// -h or --help after any command or subcommand prints its usage and flags
// on stdout (exit status 0).
//
// The server keeps its data in the SQLite database server.db under the data
// folder (~/.prefect/server), or in PostgreSQL when given a database URL
// (postgres://...), which lets several servers share one store. It seals
// every value with a master key: the keys in $PREFECT_SERVER_MASTER_KEY
// (base64, current first, comma-separated), else those of the key file
// (master.key in the data folder, created with mode 0600 on first start).
// It binds to loopback unless told otherwise and stops gracefully on SIGINT
// or SIGTERM, finishing the requests in flight.
//
// Flags default to the configuration (see package config: the user's
// ~/.prefect/config.toml and PREFECT__* variables): server.host_ip and
// server.port, as in Prefect 1, and this server's own server.data_dir,
// server.database_url and server.master_key_file.
//
// Every server subcommand but start works on the data directly, not
// through a running server: give it the same --data-dir or --database-url
// (and master keys, for rotate-key) as the server.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2. With help
// set, it is the answer to -h: msg goes to stdout, and the status is 0.
type usageError struct {
	msg  string
	help bool
}

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue) && ue.help:
		fmt.Fprintln(stdout, ue.msg)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "prefect:", err)
		fmt.Fprintln(stderr, "usage: prefect server start|create-tenant NAME|create-api-key --tenant NAME|list-api-keys --tenant NAME|revoke-api-key ID|rotate-key|audit --tenant NAME|--unknown-keys\n       prefect secrets set NAME [--value V | --from-file PATH] [--json]|get NAME|list [--limit N] [--after NAME]|delete NAME\n       prefect agent local start [--label L]... [--env K=V]... [--max-runs N]\n       prefect run --name FLOW [--param k=v]... [--env K=V]... [--watch]\n       prefect flows list|schedule NAME --on|--off | runs list|show ID|cancel ID|logs ID")
		return 2
	default:
		fmt.Fprintln(stderr, "prefect:", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{msg: "expected a command: server, secrets, agent, run, flows or runs"}
	}
	if isHelp(args[0]) {
		if args[0] == "help" && len(args) > 1 {
			// prefect help runs list: the same as prefect runs list -h.
			return dispatch(ctx, append(slices.Clone(args[1:]), "-h"), stdout, stderr)
		}
		return groupHelp("")
	}
	switch args[0] {
	case "secrets":
		return withServerHint(secretsCmd(ctx, args[1:], stdout, stderr))
	case "run":
		return withServerHint(withUsage("run", runCmd(ctx, args[1:], stdout, stderr)))
	case "agent":
		return withServerHint(agentCmd(ctx, args[1:], stderr))
	case "flows":
		return withServerHint(flowsCmd(ctx, args[1:], stdout))
	case "runs":
		return withServerHint(runsCmd(ctx, args[1:], stdout, stderr))
	case "server":
		if len(args) < 2 {
			return usageError{msg: "server needs a subcommand; valid ones are " + serverSubcommands}
		}
		if isHelp(args[1]) {
			return groupHelp("server")
		}
		return withUsage("server "+args[1], serverCmd(ctx, args[1], args[2:], stdout, stderr))
	}
	return usageError{msg: fmt.Sprintf("unknown command %q; valid ones are server, secrets, agent, run, flows and runs (prefect -h tells more)", args[0])}
}

// parse parses flags wherever they stand among the arguments (the flag
// package alone stops at the first argument) and returns the others.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				// The flags only: the command's dispatcher adds its usage
				// line (withUsage).
				return nil, usageError{msg: flagHelp(fs), help: true}
			}
			return nil, usageError{msg: err.Error()}
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseFlags is parse for a command that takes flags only: arguments
// besides them are a usage error naming the command (fs's name).
func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parse(fs, args)
	if err == nil && len(rest) > 0 {
		err = usageError{msg: fmt.Sprintf("%s takes no arguments, not %q", fs.Name(), rest)}
	}
	return err
}

// flagHelp describes fs's flags, their defaults included, except a
// database URL's, which may hold a password.
func flagHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if f.Name == "database-url" && def != "" {
			def = "(from the configuration)"
		}
		fmt.Fprintf(&b, "  --%s (default %q)\n    \t%s\n", f.Name, def, f.Usage)
	})
	return strings.TrimSuffix(b.String(), "\n")
}

// Command prefect runs the secret store server and manages its tenants and
// API keys.
//
//	prefect server start [--host 127.0.0.1] [--port 4200] [--data-dir ~/.prefect/server]
//	prefect server create-tenant NAME
//	prefect server create-api-key --tenant NAME [--name LABEL]
//
// The server keeps its data in an SQLite database under the data folder
// (server.db) and seals every value with a master key: the one in
// $PREFECT_SERVER_MASTER_KEY (base64), else the key file master.key in the
// data folder, created with mode 0600 on first start. It binds to loopback
// unless told otherwise and stops gracefully on SIGINT or SIGTERM,
// finishing the requests in flight.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prefect-go/prefect/internal/seal"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/store"
)

// MasterKeyEnv names the variable that may hold the server's master key.
const MasterKeyEnv = "PREFECT_SERVER_MASTER_KEY"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "prefect:", err)
		fmt.Fprintln(stderr, "usage: prefect server start|create-tenant NAME|create-api-key --tenant NAME\n       prefect secrets set NAME [--value V | --from-file PATH] [--json]|get NAME|list|delete NAME")
		return 2
	default:
		fmt.Fprintln(stderr, "prefect:", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "secrets" {
		return secretsCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) < 2 || args[0] != "server" {
		return usageError{"expected \"server\" or \"secrets\" and a subcommand"}
	}
	sub, rest := args[1], args[2:]
	switch sub {
	case "start":
		return start(ctx, rest, stderr)
	case "create-tenant":
		return createTenant(ctx, rest, stdout)
	case "create-api-key":
		return createAPIKey(ctx, rest, stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown subcommand %q; valid ones are start, create-tenant, create-api-key", sub)}
}

// common flags: where the data lives.
func dataFlags(fs *flag.FlagSet) *string {
	home, _ := os.UserHomeDir()
	return fs.String("data-dir", filepath.Join(home, ".prefect", "server"), "folder of the database and the key file")
}

// parse parses flags wherever they stand among the arguments (the flag
// package alone stops at the first argument) and returns the others.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func openStore(ctx context.Context, dir string) (*store.SQL, error) {
	return store.OpenSQLite(ctx, filepath.Join(dir, "server.db"))
}

func masterKey(dir string) (seal.MasterKey, error) {
	if k, ok, err := seal.KeyFromEnv(MasterKeyEnv); err != nil || ok {
		return k, err
	}
	k, _, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, "master.key"))
	return k, err
}

func start(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	dir := dataFlags(fs)
	host := fs.String("host", "127.0.0.1", "address to bind")
	port := fs.Int("port", 4200, "port to listen on")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{fmt.Sprintf("start takes no arguments, not %q", rest)}
	}
	if *port < 0 || *port > 65535 {
		return usageError{fmt.Sprintf("--port %d is not a port; use 0-65535", *port)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	key, err := masterKey(*dir)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	// Timeouts bound what a slow or idle client can hold on to.
	srv := &http.Server{Handler: server.New(st, seal.NewKeyring(key)), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	if ip := net.ParseIP(*host); ip == nil || !ip.IsLoopback() {
		logger.Warn("the server listens beyond loopback over plain HTTP: API keys and values cross the network in clear; put it behind TLS", "host", *host)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("secret server listening", "address", "http://"+ln.Addr().String(), "master_key_id", key.ID(), "data_dir", *dir)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down; finishing requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func createTenant(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("create-tenant", flag.ContinueOnError)
	dir := dataFlags(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{"create-tenant takes one tenant NAME"}
	}
	st, err := openStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.CreateTenant(ctx, rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tenant %s created (id %s)\n", t.Name, t.ID)
	return nil
}

func createAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create-api-key", flag.ContinueOnError)
	dir := dataFlags(fs)
	tenant := fs.String("tenant", "", "tenant the key acts for (required)")
	name := fs.String("name", "key-"+time.Now().UTC().Format("20060102T150405.000"), "a label for the key, unique in its tenant")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{fmt.Sprintf("create-api-key takes no arguments, not %q", rest)}
	}
	if *tenant == "" {
		return usageError{"create-api-key needs --tenant NAME"}
	}
	st, err := openStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.Tenant(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("tenant %q: %w", *tenant, err)
	}
	key, info, err := st.CreateAPIKey(ctx, t.ID, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "API key %s created for tenant %s; it is shown once, here:\n", info.ID, t.Name)
	fmt.Fprintln(stdout, key)
	return nil
}

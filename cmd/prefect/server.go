package main

// prefect server: start the secret store server and manage its data.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/orchestration"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/server"
	"github.com/prefect-go/prefect/server/seal"
	"github.com/prefect-go/prefect/server/store"
)

// MasterKeyEnv names the variable that may hold the server's master keys.
const MasterKeyEnv = "PREFECT_SERVER_MASTER_KEY"

const serverSubcommands = "start, create-tenant, create-api-key, list-api-keys, revoke-api-key, rotate-key, audit"

func serverCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	switch sub {
	case "start":
		return start(ctx, args, stderr)
	case "create-tenant":
		return createTenant(ctx, args, stdout)
	case "create-api-key":
		return createAPIKey(ctx, args, stdout, stderr)
	case "list-api-keys":
		return listAPIKeys(ctx, args, stdout)
	case "revoke-api-key":
		return revokeAPIKey(ctx, args, stdout)
	case "rotate-key":
		return rotateKey(ctx, args, stdout, stderr)
	case "audit":
		return audit(ctx, args, stdout)
	}
	return usageError{msg: fmt.Sprintf("unknown subcommand %q; valid ones are %s", sub, serverSubcommands)}
}

// dataFlags are the flags of every server subcommand: where the data and
// the master keys live. Their defaults come from the configuration.
type dataFlags struct {
	cfg         *config.Config
	dataDir     *string
	databaseURL *string
	keyFile     *string
}

func newDataFlags(fs *flag.FlagSet) (*dataFlags, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("loading the configuration: %w", err)
	}
	dir := cfg.String("server.data_dir")
	if dir == "" {
		home := cfg.String("home_dir")
		if home == "" {
			h, _ := os.UserHomeDir()
			home = filepath.Join(h, ".prefect")
		}
		dir = filepath.Join(home, "server")
	}
	return &dataFlags{
		cfg:         cfg,
		dataDir:     fs.String("data-dir", dir, "folder of the SQLite database and the key file"),
		databaseURL: fs.String("database-url", cfg.String("server.database_url"), "PostgreSQL URL (postgres://...) instead of SQLite"),
		keyFile:     fs.String("master-key-file", cfg.String("server.master_key_file"), "the key file (default: master.key in the data folder)"),
	}, nil
}

// open opens the store the flags name.
func (f *dataFlags) open(ctx context.Context) (*store.SQL, error) {
	if u := *f.databaseURL; u != "" {
		if !store.IsPostgresURL(u) {
			// Not quoted: it may hold a password.
			return nil, usageError{msg: "--database-url (or server.database_url) must start with postgres:// or postgresql://; leave it empty for SQLite in the data folder"}
		}
		return store.Open(ctx, u)
	}
	return store.Open(ctx, filepath.Join(*f.dataDir, "server.db"))
}

func (f *dataFlags) keyPath() string {
	if *f.keyFile != "" {
		return *f.keyFile
	}
	return filepath.Join(*f.dataDir, "master.key")
}

// openTenant opens the store and finds the tenant called name in it; the
// caller closes the store.
func (f *dataFlags) openTenant(ctx context.Context, name string) (*store.SQL, store.Tenant, error) {
	st, err := f.open(ctx)
	if err != nil {
		return nil, store.Tenant{}, err
	}
	t, err := st.Tenant(ctx, name)
	if err != nil {
		st.Close()
		return nil, store.Tenant{}, fmt.Errorf("tenant %q: %w", name, err)
	}
	return st, t, nil
}

// where says where the data lives, for logs: never a database password.
func (f *dataFlags) where() string {
	if *f.databaseURL != "" {
		return "PostgreSQL"
	}
	return *f.dataDir
}

func start(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	host := fs.String("host", df.cfg.String("server.host_ip"), "address to bind (server.host_ip)")
	portDefault := 4200
	if p := df.cfg.String("server.port"); p != "" {
		if portDefault, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("server.port in the configuration is %q, not a port number", p)
		}
	}
	port := fs.Int("port", portDefault, "port to listen on (server.port)")
	maxValue := fs.Int("max-value-size", server.DefaultMaxValueSize, "largest value accepted, in bytes of JSON")
	maxSecrets := fs.Int("max-secrets", server.DefaultMaxSecrets, "most secrets a tenant may hold")
	runTimeout := fs.Duration("run-timeout", 2*time.Minute, "a flow run without a heartbeat this long is failed; one claimed and not started this long is scheduled again")
	authTTL := fs.Duration("auth-cache-ttl", server.AuthCacheTTL, "how long an API key the store accepted is trusted before the store is asked again: a revoked key is refused at most this long after")
	schedEvery := fs.Duration("scheduler-interval", server.DefaultScheduleInterval, "how often the server creates the next runs of scheduled flows")
	allowUnreadable := fs.Bool("allow-unreadable-secrets", false, "start even if this server's master keys open none of the stored secrets (for recovery: new secrets are then sealed under a key the old ones are not)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if beat := program.HeartbeatInterval(df.cfg); *runTimeout < 3*beat {
		return usageError{msg: fmt.Sprintf("--run-timeout %v: want %v or more (runs heartbeat every %v, cloud.heartbeat_interval; a shorter timeout fails live runs)",
			*runTimeout, 3*beat, beat)}
	}
	if *schedEvery <= 0 {
		return usageError{msg: fmt.Sprintf("--scheduler-interval %v: want more than 0", *schedEvery)}
	}
	if *authTTL <= 0 {
		return usageError{msg: fmt.Sprintf("--auth-cache-ttl %v: want more than 0", *authTTL)}
	}
	if *maxValue < 1 || *maxSecrets < 1 {
		return usageError{msg: fmt.Sprintf("--max-value-size %d and --max-secrets %d must both be 1 or more", *maxValue, *maxSecrets)}
	}
	if *port < 0 || *port > 65535 {
		return usageError{msg: fmt.Sprintf("--port %d is not a port; use 0-65535", *port)}
	}
	if *host == "" {
		*host = "127.0.0.1"
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts := []server.Option{server.WithLogger(logger), server.WithMaxValueSize(*maxValue), server.WithMaxSecrets(*maxSecrets), server.WithAuthCacheTTL(*authTTL), server.WithScheduler(*schedEvery)}
	if urlFlagHasPassword(fs, *df.databaseURL) {
		logger.Warn("--database-url holds a password, which every user of this machine can read in the process list; give it through PGPASSWORD, a ~/.pgpass file or PREFECT__SERVER__DATABASE_URL instead")
	}
	st, err := df.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ring, fromEnv, err := seal.KeyFromEnv(MasterKeyEnv)
	if err != nil {
		return err
	}
	keySource := "$" + MasterKeyEnv
	created := false
	if !fromEnv {
		var kf *seal.KeyFile
		if kf, created, err = seal.OpenKeyFile(df.keyPath()); err != nil {
			return err
		}
		ring, _ = kf.Keyring(false)
		opts = append(opts, server.WithKeySource(kf))
		keySource = kf.Path()
	}
	missing, err := st.KeyIDsNotIn(ctx, ring)
	if err != nil {
		return err
	}
	inUse, err := st.KeyIDsNotIn(ctx, nil) // a nil keyring holds no key: every key in use
	if err != nil {
		return err
	}
	switch {
	case created && len(missing) > 0:
		// A new key beside secrets sealed under others: the key file is
		// missing, not new. Sealing under a new key would split the data.
		os.Remove(keySource)
		return fmt.Errorf("there is no key file at %s, but the database holds secrets sealed under master keys %s: give this server the key file (--master-key-file) or $%s of the servers that wrote them; no new key was kept",
			keySource, strings.Join(missing, ", "), MasterKeyEnv)
	case len(inUse) > 0 && len(missing) == len(inUse) && !*allowUnreadable:
		// A key, but the wrong one: serving would split the store in two,
		// every read failing while new writes are sealed under a key the
		// rest of the data does not know.
		return fmt.Errorf("the master keys from %s (%s) open none of the stored secrets, which are sealed under %s: give this server the key file (--master-key-file) or $%s of the servers that wrote them; --allow-unreadable-secrets starts it anyway, for recovery",
			keySource, strings.Join(ringIDs(ring), ", "), strings.Join(missing, ", "), MasterKeyEnv)
	case created:
		logger.Info("created a new master key file; back it up apart from the database", "path", keySource)
	case len(missing) > 0:
		logger.Error("the database holds secrets sealed under master keys this server lacks; they cannot be read: give every server the same keys", "missing_key_ids", strings.Join(missing, ","), "keys_from", keySource)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	// Timeouts bound what a slow or idle client can hold on to.
	handler := server.New(st, ring, opts...)
	defer handler.Close() // before the store closes
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if ip := net.ParseIP(*host); ip == nil || !ip.IsLoopback() {
		logger.Warn("the server listens beyond loopback over plain HTTP: API keys and values cross the network in clear; put it behind TLS", "host", *host)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	reaping := reapRuns(ctx, st, *runTimeout, logger)
	defer reaping()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("secret server listening", "address", "http://"+ln.Addr().String(), "master_key_id", ring.Current().ID(),
		"keys_from", keySource, "data", df.where())
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
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{msg: "create-tenant takes one tenant NAME"}
	}
	st, err := df.open(ctx)
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
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	tenant := fs.String("tenant", "", "tenant the key acts for (required)")
	name := fs.String("name", "key-"+time.Now().UTC().Format("20060102T150405.000"), "a label for the key, unique in its tenant")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return usageError{msg: "create-api-key needs --tenant NAME"}
	}
	st, t, err := df.openTenant(ctx, *tenant)
	if err != nil {
		return err
	}
	defer st.Close()
	key, info, err := st.CreateAPIKey(ctx, t.ID, *name)
	if err != nil {
		return err
	}
	// A key works only if its making is on record: without the event, it
	// goes again, unseen.
	if err := st.Record(ctx, orchestration.Event{TenantID: t.ID, KeyID: info.ID, Operation: orchestration.OpCreateAPIKey, Outcome: orchestration.OutcomeOK}); err != nil {
		if _, rerr := st.RevokeAPIKey(context.WithoutCancel(ctx), info.ID); rerr != nil {
			return fmt.Errorf("API key %s was made, but recording it in the audit log failed (%w), and so did revoking it: %w", info.ID, err, rerr)
		}
		return fmt.Errorf("API key %s was made, but recording it in the audit log failed, so it is revoked: %w", info.ID, err)
	}
	fmt.Fprintf(stderr, "API key %s created for tenant %s; it is shown once, here:\n", info.ID, t.Name)
	fmt.Fprintln(stdout, key)
	return nil
}

// listAPIKeys prints a tenant's API keys, oldest first: their IDs, names
// and times, never a key.
func listAPIKeys(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("list-api-keys", flag.ContinueOnError)
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	tenant := fs.String("tenant", "", "the tenant whose keys to list (required)")
	all := fs.Bool("all", false, "list the revoked keys too, with when they were revoked")
	asJSON := fs.Bool("json", false, "print JSON Lines instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return usageError{msg: "list-api-keys needs --tenant NAME"}
	}
	st, t, err := df.openTenant(ctx, *tenant)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.APIKeys(ctx, t.ID, *all)
	if err != nil {
		return err
	}
	if *asJSON {
		orNull := func(at time.Time) any {
			if at.IsZero() {
				return nil
			}
			return at.Format(time.RFC3339Nano)
		}
		enc := json.NewEncoder(stdout)
		for _, k := range keys {
			enc.Encode(map[string]any{
				"id": k.ID, "tenant_id": k.TenantID, "name": k.Name, "created": k.Created.Format(time.RFC3339Nano),
				"last_used": orNull(k.LastUsed), "revoked": orNull(k.Revoked),
			})
		}
		return nil
	}
	or := func(at time.Time, none string) string {
		if at.IsZero() {
			return none
		}
		return at.Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if *all {
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tREVOKED")
	} else {
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED")
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s", k.ID, k.Name, or(k.Created, "-"), or(k.LastUsed, "never"))
		if *all {
			fmt.Fprintf(tw, "\t%s", or(k.Revoked, "-"))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// revokeAPIKey revokes the API key with the ID given (as create-api-key
// and list-api-keys print it). Running servers learn of it from the store
// when their cached acceptance of the key expires.
func revokeAPIKey(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("revoke-api-key", flag.ContinueOnError)
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{msg: "revoke-api-key takes one API key ID (list-api-keys --tenant NAME shows them)"}
	}
	id := rest[0]
	if strings.HasPrefix(id, store.KeyPrefix) {
		// Not quoted: it is a key, which belongs in no error message.
		return usageError{msg: "revoke-api-key takes the key's ID (list-api-keys --tenant NAME shows them), not the key itself"}
	}
	st, err := df.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	info, err := st.RevokeAPIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no API key has ID %q (list-api-keys --tenant NAME --all shows a tenant's keys)", id)
	}
	if err != nil {
		return err
	}
	by := time.Now().Add(server.AuthCacheTTL)
	if err := st.Record(ctx, orchestration.Event{TenantID: info.TenantID, KeyID: info.ID, Operation: orchestration.OpRevokeAPIKey, Outcome: orchestration.OutcomeOK}); err != nil {
		return fmt.Errorf("API key %s is revoked, but recording that in the audit log failed: %w", info.ID, err)
	}
	fmt.Fprintf(stdout, "API key %s (%s) revoked; running servers refuse it within their --auth-cache-ttl (%v by default: by %s)\n",
		info.ID, info.Name, server.AuthCacheTTL, by.Format(time.RFC3339))
	return nil
}

// rotateKey replaces the master key while servers keep serving. With a key
// file: write the new key ahead of the old, give running servers time to
// pick the file up (they look at most every seal.KeyCheckInterval), rewrap
// every row, wait and rewrap again for writers that were late, then drop
// the old keys. With $PREFECT_SERVER_MASTER_KEY, which this command cannot
// change for the servers, the operator puts the new key first and restarts
// them; this command then rewraps every row under it.
func rotateKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rotate-key", flag.ContinueOnError)
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	grace := fs.Duration("grace", 3*seal.KeyCheckInterval, "how long running servers get to pick up the rewritten key file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *grace < seal.KeyCheckInterval {
		return usageError{msg: fmt.Sprintf("--grace %v is shorter than the %v within which servers notice a new key file", *grace, seal.KeyCheckInterval)}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := df.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	if ring, ok, err := seal.KeyFromEnv(MasterKeyEnv); err != nil {
		return err
	} else if ok {
		if len(ring.Keys()) < 2 {
			return fmt.Errorf("$%s holds one key, so there is nothing to rotate to. To rotate: make a new key (head -c 32 /dev/urandom | base64), set $%s to \"NEW,OLD\" for every server and restart them, run this command with the same variable to rewrap every secret under NEW, then set the variable to NEW alone and restart the servers", MasterKeyEnv, MasterKeyEnv)
		}
		n, err := store.RewrapAll(ctx, st, ring)
		if err != nil {
			return fmt.Errorf("rewrapped %d secrets, then: %w", n, err)
		}
		fmt.Fprintf(stdout, "rewrapped %d secrets under master key %s; none is left under the others: set $%s to the first key alone and restart the servers\n", n, ring.Current().ID(), MasterKeyEnv)
		return nil
	}

	path := df.keyPath()
	// One rotation at a time: a second would drop the first one's key.
	lock := path + ".rotating"
	lf, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, iofs.ErrExist) {
			return fmt.Errorf("another rotate-key is running (%s exists); if none is, a rotation was killed: remove the file and run rotate-key again", lock)
		}
		return err
	}
	lf.Close()
	defer os.Remove(lock)

	old, err := seal.LoadKeyFile(path)
	if err != nil {
		return fmt.Errorf("%w: rotate-key needs the servers' key file (or $%s)", err, MasterKeyEnv)
	}
	next, err := seal.NewMasterKey()
	if err != nil {
		return err
	}
	ring := seal.NewKeyring(next, old.Keys()...)
	if err := seal.WriteKeyFile(path, ring.Keys()...); err != nil {
		return err
	}
	oldIDs := keyIDs(old)
	fmt.Fprintf(stderr, "new master key %s written to %s ahead of the old (%s); waiting %v for running servers to take it up\n", next.ID(), path, oldIDs, *grace)
	unfinished := func(err error) error {
		return fmt.Errorf("%w; the key file holds the new key and the old, so every secret stays readable: run rotate-key again to finish", err)
	}
	total := 0
	for range 2 { // the second pass catches writes of servers that were late
		if err := sleep(ctx, *grace); err != nil {
			return unfinished(err)
		}
		n, err := store.RewrapAll(ctx, st, ring)
		total += n
		if err != nil {
			return unfinished(err)
		}
	}
	if now, err := seal.LoadKeyFile(path); err != nil || keyIDs(now) != keyIDs(ring) {
		return unfinished(fmt.Errorf("the key file changed during the rotation (%v)", err))
	}
	if err := seal.WriteKeyFile(path, next); err != nil {
		return unfinished(err)
	}
	// A server that did not take up the new key (it cannot read the file,
	// say) seals under an old one: give the old keys back rather than lose
	// what it wrote.
	if err := sleep(ctx, *grace); err != nil {
		return restore(path, ring, err)
	}
	if late, err := st.SealedNotUnder(ctx, next.ID(), 1); err != nil || len(late) > 0 {
		if err == nil {
			err = fmt.Errorf("secret %q of tenant %s was sealed under an old key after the rewrap: a server did not take up %s (can it read the file?)", late[0].Name, late[0].TenantID, path)
		}
		return restore(path, ring, err)
	}
	fmt.Fprintf(stdout, "rotated: %d secrets rewrapped under master key %s; the old keys (%s) are gone from %s\n", total, next.ID(), oldIDs, path)
	return nil
}

// restore puts every key of ring back in the key file, after a rotation
// found a reason to keep the old ones.
func restore(path string, ring *seal.Keyring, why error) error {
	if err := seal.WriteKeyFile(path, ring.Keys()...); err != nil {
		return fmt.Errorf("%w; putting the old keys back in %s failed too: %w", why, path, err)
	}
	return fmt.Errorf("%w; the old keys are back in %s beside the new: run rotate-key again once every server reads it", why, path)
}

// keyIDs lists the IDs of the ring's keys, current first.
func keyIDs(ring *seal.Keyring) string {
	var ids []string
	for _, k := range ring.Keys() {
		ids = append(ids, k.ID())
	}
	return strings.Join(ids, ", ")
}

// reapRuns settles, every quarter of timeout, the flow runs nobody looks
// after (see store.SQL.ReapFlowRuns) until ctx ends or the function it
// returns is called, which waits for it to stop.
func reapRuns(ctx context.Context, st *store.SQL, timeout time.Duration, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A server that was down missed the heartbeats of that time: give
		// the runs a whole timeout to be heard from again.
		select {
		case <-ctx.Done():
			return
		case <-time.After(timeout):
		}
		t := time.NewTicker(timeout / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if n, err := st.ReapFlowRuns(ctx, time.Now().Add(-timeout)); err != nil {
				logger.Error("settling flow runs nobody looks after", "err", err)
			} else if n > 0 {
				logger.Warn("settled flow runs nobody looked after", "runs", n, "timeout", timeout)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// urlFlagHasPassword reports whether --database-url was given on the
// command line with a password in it.
func urlFlagHasPassword(fs *flag.FlagSet, raw string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "database-url" })
	if !given {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
}

// audit prints a tenant's latest audit events, newest first.
func audit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	df, err := newDataFlags(fs)
	if err != nil {
		return err
	}
	tenant := fs.String("tenant", "", "the tenant whose log to show")
	unknown := fs.Bool("unknown-keys", false, "show the attempts made with keys that were not recognised (they belong to no tenant)")
	limit := fs.Int("limit", 100, "how many events to show, newest first; 0 for all")
	asJSON := fs.Bool("json", false, "print JSON Lines instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*tenant == "") == !*unknown {
		return usageError{msg: "audit needs --tenant NAME or --unknown-keys (one of the two)"}
	}
	if *limit < 0 {
		return usageError{msg: fmt.Sprintf("--limit %d: want 0 (all) or more", *limit)}
	}
	st, err := df.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	tenantID := ""
	if *tenant != "" {
		t, err := st.Tenant(ctx, *tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", *tenant, err)
		}
		tenantID = t.ID
	}
	events, err := st.AuditLog(ctx, tenantID, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range events {
			enc.Encode(map[string]any{
				"time": e.Time.Format(time.RFC3339Nano), "tenant_id": e.TenantID, "api_key_id": e.KeyID,
				"operation": e.Operation, "secret_name": e.SecretName, "outcome": e.Outcome, "count": e.Count,
			})
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAPI KEY\tOPERATION\tSECRET\tOUTCOME\tCOUNT")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", e.Time.Format(time.RFC3339), dash(e.KeyID), e.Operation, dash(e.SecretName), e.Outcome, e.Count)
	}
	return tw.Flush()
}

// ringIDs returns the IDs of ring's keys, current first.
func ringIDs(ring *seal.Keyring) []string {
	var ids []string
	for _, k := range ring.Keys() {
		ids = append(ids, k.ID())
	}
	return ids
}

package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"math/big"
	"os"
	"os/user"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"
	"github.com/prefect-go/prefect/internal/problems"
	"github.com/prefect-go/prefect/internal/python"
)

// defaultConfig is the part of Prefect 1.4.1's src/prefect/config.toml that a
// Go engine can use. It goes through the same steps as a user file (string
// coercion, $VAR and ${key} interpolation), so port = "4200" becomes the
// integer 4200 and cloud.api follows backend, exactly as in Prefect.
// Python-only settings (class paths, the server's database and Hasura) are
// left out; a user file may still set them and they load like any other key.
const defaultConfig = `
debug = false
home_dir = "~/.prefect"
backend = "cloud"

[server]
host = "http://localhost"
port = "4200"
host_port = "4200"
host_ip = "127.0.0.1"
endpoint = "${server.host}:${server.port}"

    [server.ui]
    host = "http://localhost"
    port = "8080"
    host_port = "8080"
    host_ip = "127.0.0.1"
    endpoint = "${server.ui.host}:${server.ui.port}"
    apollo_url = "http://localhost:4200/graphql"

[cloud]
api = "${${backend}.endpoint}"
endpoint = "https://api.prefect.io"
graphql = "${cloud.api}/graphql"
use_local_secrets = true
heartbeat_interval = 30.0
check_cancellation_interval = 15.0
diagnostics = false
request_timeout = 15
send_flow_run_logs = true
api_key = ""
tenant_id = ""
auth_token = ""

    [cloud.agent]
    name = "agent"
    labels = "[]"
    level = "INFO"
    auth_token = ""
    agent_address = ""

[logging]
level = "INFO"
format = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"
datefmt = "%Y-%m-%d %H:%M:%S%z"
log_attributes = "[]"
extra_loggers = "[]"

[flows]
eager_edge_validation = false
run_on_schedule = true
checkpointing = false

[tasks]
    [tasks.defaults]
    max_retries = false
    retry_delay = false
    timeout = false

[context]
    [context.secrets]
`

const (
	envPrefix       = "PREFECT__"
	userPathVar     = "PREFECT__USER_CONFIG_PATH"
	backendPathVar  = "PREFECT__BACKEND_CONFIG_PATH"
	userPathDefault = "~/.prefect/config.toml"
	backendDefault  = "~/.prefect/backend.toml"
	maxPasses       = 10 // Prefect's limit for both $VAR and ${key} interpolation
)

// Errors that Load's *Error wraps; match them with errors.Is.
var (
	// ErrSyntax: a configuration file is not valid TOML (BurntSushi/toml
	// refused it).
	ErrSyntax = errors.New("invalid TOML")
	// ErrConflict: one key is used both as a section (table) and as a value.
	ErrConflict = errors.New("key is used both as a section and as a value")
	// ErrDirectory: a configuration path names a directory.
	ErrDirectory = errors.New("is a directory, not a file")
	// ErrExpansion: $VAR and ~ expansion of a value did not settle in 10 passes.
	ErrExpansion = errors.New("$VAR and ~ expansion did not settle within 10 passes")
	// ErrLimit: the configuration passes one of the limits (MaxFileSize,
	// MaxDepth, MaxKeyLength, MaxValueSize, MaxInterpolated).
	ErrLimit = errors.New("configuration exceeds a limit")
)

// Error is a configuration problem in a file or variable; Error() names the
// file (or the variable) and the key, with line and column for TOML syntax
// errors and limits passed in a file. It never includes a value from
// context.secrets: it carries no configuration value, and of a TOML syntax
// error it shows BurntSushi/toml's own reason with every quoted text, and
// every word the lines around the error hold, withheld ("…"). errors.As
// reaches the library's toml.ParseError (its Position, LastKey, Usage and
// ErrorWithPosition), whose own texts quote the file: show those only where
// the file's values may be shown.
type Error struct {
	File   string // the file, when the problem is in (or about) one
	Var    string // the environment variable, when the problem came from one
	Key    string // the dotted key, when one is involved
	Line   int    // 1-based line of a TOML syntax error or a limit passed in a file
	Column int    // 1-based column, with Line
	Err    error  // the cause; see ErrSyntax, ErrConflict, ErrDirectory, ErrExpansion, ErrLimit
}

var _ error = (*Error)(nil)

// Error describes the problem, naming the file or variable and the key.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	switch {
	case e.File != "":
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		if e.Var != "" {
			fmt.Fprintf(&b, " (from %s)", e.Var)
		}
	case e.Var != "":
		b.WriteString("environment variable ")
		b.WriteString(e.Var)
	default:
		b.WriteString("built-in defaults")
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// kindError is a message that matches a sentinel under errors.Is without
// repeating the sentinel's text.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Option configures Load. The zero set of options reads the process
// environment and the user's home directory.
type Option func(*options)

type options struct {
	env     []string
	envSet  bool
	home    string
	homeSet bool
}

// WithEnv makes Load use env ("KEY=VALUE" entries) instead of os.Environ(),
// for PREFECT__* variables, for $VAR interpolation, and for
// PREFECT__USER_CONFIG_PATH / PREFECT__BACKEND_CONFIG_PATH. When a name
// appears twice the later entry wins, as with exec.Cmd.Env; entries without
// "=" are ignored.
func WithEnv(env []string) Option {
	env = append([]string(nil), env...)
	return func(o *options) { o.env, o.envSet = env, true }
}

// WithHome sets the home directory used for ~ expansion and for the default
// paths ~/.prefect/config.toml and ~/.prefect/backend.toml. Without it the
// home is $HOME of the environment Load reads (as Python's expanduser does),
// else os.UserHomeDir().
func WithHome(dir string) Option {
	return func(o *options) { o.home, o.homeSet = dir, true }
}

// Config is a loaded configuration. It is immutable: every accessor returns
// a copy, so a Config is safe for concurrent use.
type Config struct {
	tree        map[string]any
	userPath    string
	backendPath string
}

// Load reads the configuration the way Prefect 1 does: built-in defaults, the
// user file, backend.toml, then PREFECT__* environment variables; then
// interpolation. A missing user file or backend file is not an error.
//
// Every call reads the files and the environment again; nothing is cached.
// A problem is reported as an *Error. The files and the PREFECT__
// variables are checked in full first: several problems there are
// reported at once, as a *multierror.Error (github.com/hashicorp/go-multierror)
// that counts them ("config: 3 problems:") and gives each *Error on a
// line; errors.As finds the first *Error through it and errors.Is reaches
// every cause.
func Load(opts ...Option) (*Config, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	list := o.env
	if !o.envSet {
		list = os.Environ()
	}
	env := parseEnviron(list)
	x := newExpander(env, o)

	defaults, perr := parseTOML(defaultConfig)
	if perr != nil {
		return nil, tomlFileError("", defaultConfig, perr) // a bug in defaultConfig; tests guard it
	}
	flat := newFlatConfig()
	if errs := flat.addFile(defaults, &flat.root, "", nil); errs != nil {
		return nil, loadError(errs)
	}

	userPath, err := x.configPath(env, userPathVar, userPathDefault)
	if err != nil {
		return nil, err
	}
	backendPath, err := x.configPath(env, backendPathVar, backendDefault)
	if err != nil {
		return nil, err
	}
	// The files and the variables are checked in full before Load gives
	// up, so that one run shows every problem with them; expansion, which
	// needs them whole, only then.
	var errs *multierror.Error
	for _, f := range []struct{ path, pathVar string }{{userPath, userPathVar}, {backendPath, backendPathVar}} {
		data, err := readTOML(f.path)
		if err != nil {
			if _, set := env.vals[f.pathVar]; set {
				err.Var = f.pathVar
			}
			errs = multierror.Append(errs, err)
			continue
		}
		if data == nil {
			continue
		}
		errs = flat.addFile(data, &flat.root, f.path, errs)
	}
	errs = flat.addEnv(env, x, errs)
	if errs != nil {
		return nil, loadError(errs)
	}
	if err := flat.expandAll(x); err != nil {
		return nil, err
	}
	if err := flat.resolveRefs(x); err != nil {
		return nil, err
	}
	tree, err := flat.build()
	if err != nil {
		return nil, err
	}
	processTaskDefaults(tree)
	return &Config{tree: tree, userPath: userPath, backendPath: backendPath}, nil
}

// Get returns the value at a dotted key, e.g. "cloud.use_local_secrets".
// Tables come back as map[string]any (a deep copy). Values are string, bool,
// int64 (*big.Int past int64), float64, complex128, []byte, nil (Python's
// None), []any, map[string]any, time.Time (TOML dates) and, for
// tasks.defaults.retry_delay, time.Duration.
func (c *Config) Get(key string) (any, bool) {
	v, ok := c.lookup(key)
	if !ok {
		return nil, false
	}
	return deepCopy(v), true
}

// String returns the value at key as text: "" when missing or None; other
// non-strings are formatted with fmt.Sprint.
func (c *Config) String(key string) string {
	v, ok := c.lookup(key)
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// Bool returns the value at key when it is a bool, else false.
func (c *Config) Bool(key string) bool {
	v, _ := c.lookup(key)
	b, _ := v.(bool)
	return b
}

// Secrets returns a deep copy of the context.secrets table (an empty map,
// never nil). Secret names keep their case.
func (c *Config) Secrets() map[string]any {
	if v, ok := c.lookup("context.secrets"); ok {
		if m, ok := v.(map[string]any); ok {
			return deepCopy(m).(map[string]any)
		}
	}
	return map[string]any{}
}

// UserConfigPath returns the user file path that was (or would have been)
// read, after $VAR and ~ expansion; "" when PREFECT__USER_CONFIG_PATH is set
// to the empty string, which turns the user file off.
func (c *Config) UserConfigPath() string {
	if c == nil {
		return ""
	}
	return c.userPath
}

// BackendConfigPath returns the backend.toml path that was (or would have
// been) read, after $VAR and ~ expansion.
func (c *Config) BackendConfigPath() string {
	if c == nil {
		return ""
	}
	return c.backendPath
}

// Map returns a deep copy of the whole configuration.
func (c *Config) Map() map[string]any {
	if c == nil || c.tree == nil {
		return map[string]any{}
	}
	return deepCopy(c.tree).(map[string]any)
}

func (c *Config) lookup(key string) (any, bool) {
	if c == nil || c.tree == nil {
		return nil, false
	}
	var cur any = c.tree
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// ---------------------------------------------------------------------------
// Environment and expansion

type environ struct {
	names []string // first-appearance order, like os.environ
	vals  map[string]string
}

func parseEnviron(list []string) environ {
	e := environ{vals: make(map[string]string, len(list))}
	for _, kv := range list {
		if kv == "" {
			continue
		}
		// Search from 1 so Windows' "=C:=C:\" entries keep their name.
		i := strings.IndexByte(kv[1:], '=')
		if i < 0 {
			continue
		}
		name, val := kv[:i+1], kv[i+2:]
		if _, seen := e.vals[name]; !seen {
			e.names = append(e.names, name)
		}
		e.vals[name] = val
	}
	return e
}

// expander does what Prefect's interpolate_env_vars does with
// os.path.expandvars and os.path.expanduser.
type expander struct {
	env     map[string]string
	home    string
	hasHome bool
	homes   map[string]userDir // ~user lookups: each user is looked up once
	added   int                // text that expansion and references added, against MaxInterpolated
}

func newExpander(env environ, o options) *expander {
	x := &expander{env: env.vals}
	switch h, ok := env.vals["HOME"]; {
	case o.homeSet:
		x.home, x.hasHome = o.home, true
	case ok:
		x.home, x.hasHome = h, true
	default:
		if h, err := os.UserHomeDir(); err == nil {
			x.home, x.hasHome = h, true
		}
	}
	return x
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// expandVars is posixpath.expandvars: $name (ASCII word characters) and
// ${anything-but-brace}; unknown names stay as written.
func (x *expander) expandVars(s string) string {
	out, _ := x.expandVarsMax(s, math.MaxInt)
	return out
}

// expandVarsMax is expandVars that gives up (ok false) when the text it makes
// grows past max bytes. The text is built once, left to right; an inserted
// value is not expanded again in the same pass.
func (x *expander) expandVarsMax(s string, max int) (out string, ok bool) {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		return s, true
	}
	var b strings.Builder
	done := 0 // s[:done] is in b
	replaced := false
	for i >= 0 {
		start := done + i
		name, end, found := matchVar(s, start)
		if !found {
			i = strings.IndexByte(s[start+1:], '$')
			if i >= 0 {
				i += start + 1 - done
			}
			continue
		}
		if val, set := x.env[name]; set {
			b.WriteString(s[done:start])
			b.WriteString(val)
			done, replaced = end, true
			if b.Len() > max {
				return "", false
			}
		} else {
			b.WriteString(s[done:end])
			done = end
		}
		i = strings.IndexByte(s[done:], '$')
	}
	if !replaced {
		return s, true
	}
	b.WriteString(s[done:])
	if b.Len() > max {
		return "", false
	}
	return b.String(), true
}

func matchVar(s string, at int) (name string, end int, ok bool) {
	k := at + 1
	if k >= len(s) {
		return "", 0, false
	}
	if isWordByte(s[k]) {
		for k < len(s) && isWordByte(s[k]) {
			k++
		}
		return s[at+1 : k], k, true
	}
	if s[k] == '{' {
		c := strings.IndexByte(s[k+1:], '}')
		if c < 0 {
			return "", 0, false
		}
		return s[k+1 : k+1+c], k + c + 2, true
	}
	return "", 0, false
}

// expandUser is posixpath.expanduser: a leading ~ or ~user.
func (x *expander) expandUser(s string) string {
	if !strings.HasPrefix(s, "~") {
		return s
	}
	i := strings.IndexByte(s[1:], '/') + 1
	if i == 0 {
		i = len(s)
	}
	var home string
	if i == 1 {
		if !x.hasHome {
			return s
		}
		home = x.home
	} else {
		h, ok := x.userHome(s[1:i])
		if !ok {
			return s
		}
		home = h
	}
	home = strings.TrimRight(home, "/")
	if out := home + s[i:]; out != "" {
		return out
	}
	return "/"
}

// userHome looks a user's home directory up once per Load: a lookup reads
// the user database, and many values may start with ~name.
func (x *expander) userHome(name string) (string, bool) {
	if h, ok := x.homes[name]; ok {
		return h.dir, h.found
	}
	if x.homes == nil {
		x.homes = map[string]userDir{}
	}
	var h userDir
	if u, err := user.Lookup(name); err == nil {
		h = userDir{u.HomeDir, true}
	}
	x.homes[name] = h
	return h.dir, h.found
}

type userDir struct {
	dir   string
	found bool
}

// interpolate is Prefect's interpolate_env_vars: expand until the value stops
// changing; when it changed more than once, coerce the result. settled is
// false when 10 passes were not enough (Prefect then returns None). err is
// an ErrLimit when the value would grow past MaxValueSize or the
// configuration past MaxInterpolated.
func (x *expander) interpolate(v any) (out any, settled bool, err error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return v, true, nil
	}
	for counter := 0; counter < maxPasses; counter++ {
		limit := min(max(MaxValueSize, len(s)), len(s)+MaxInterpolated-x.added)
		next, ok := x.expandVarsMax(s, limit)
		if ok {
			next = x.expandUser(next)
		}
		if !ok || len(next) > limit {
			return nil, false, x.grow(len(s), limit+1, "$VAR expansion")
		}
		if next == s {
			if counter > 1 {
				return coerce(next), true, nil
			}
			return next, true, nil
		}
		if err := x.grow(len(s), len(next), "$VAR expansion"); err != nil {
			return nil, false, err
		}
		s = next
	}
	return nil, false, nil
}

// grow accounts for a value that interpolation takes from before to after
// bytes: it may not grow past MaxValueSize (nor at all when it was longer to
// begin with), and all such growth together may not pass MaxInterpolated.
func (x *expander) grow(before, after int, how string) error {
	if after <= before {
		return nil
	}
	if after > MaxValueSize {
		return valueSizeError(how)
	}
	x.added += after - before
	if x.added > MaxInterpolated {
		return interpolatedError()
	}
	return nil
}

// configPath finds a config file path the way Prefect's USER_CONFIG and
// BACKEND_CONFIG do: the variable if set (even to ""), else the default.
func (x *expander) configPath(env environ, name, def string) (string, error) {
	raw, set := env.vals[name]
	if !set {
		raw = def
	}
	if raw == "" {
		return "", nil
	}
	v, settled, err := x.interpolate(raw)
	if err == nil && settled {
		var path string
		if path, err = python.Str(v); err == nil {
			return path, nil
		}
		err = hugeIntError() // Python's str() raises ValueError
	}
	e := &Error{Err: err}
	if err == nil {
		e.File, e.Err = raw, ErrExpansion
	}
	if set {
		e.Var = name
	}
	return "", e
}

// coerce is Prefect's string_to_type: true/false in any case, then a Python
// literal, else the string itself.
func coerce(s string) any {
	// ToUpper maps rune to rune, so only a text of 4 or 5 runes can match.
	if len(s) <= 5*utf8.UTFMax {
		switch strings.ToUpper(s) {
		case "TRUE":
			return true
		case "FALSE":
			return false
		}
	}
	if v, ok := literal(s); ok {
		return v
	}
	return s
}

// literal is Python's ast.literal_eval of s in config's Go types: tuples
// and sets become []any, and a dict a map[string]any keyed by the str() of
// each key (of two keys with one str(), such as 1 and '1', the later wins).
// ok is false when s is no literal, or a key has no str() (an int of more
// than 4300 digits: Python's ValueError), so that s stays a string.
func literal(s string) (any, bool) {
	v, ok := python.LiteralEval(s)
	if !ok {
		return nil, false
	}
	return fromPython(v)
}

func fromPython(v any) (any, bool) {
	switch t := v.(type) {
	case python.Tuple:
		return fromPython([]any(t))
	case python.Set:
		return fromPython([]any(t))
	case []any: // LiteralEval's own, so changed in place
		for i, x := range t {
			var ok bool
			if t[i], ok = fromPython(x); !ok {
				return nil, false
			}
		}
	case python.Dict:
		m := make(map[string]any, len(t))
		for _, it := range t {
			k, err := python.Str(it.Key)
			if err != nil {
				return nil, false
			}
			x, ok := fromPython(it.Value)
			if !ok {
				return nil, false
			}
			m[k] = x
		}
		return m, true
	}
	return v, true
}

// ---------------------------------------------------------------------------
// Files

// readTOML returns nil, nil when there is nothing to read: an empty path, or
// no file there (Prefect skips what os.path.isfile rejects; we report a
// directory and an unreadable file instead of skipping or crashing). A file
// larger than MaxFileSize is an error.
func readTOML(path string) (map[string]any, *Error) {
	if path == "" {
		return nil, nil
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil, nil
	case err != nil:
		return nil, &Error{File: path, Err: pathCause(err)}
	case st.IsDir():
		return nil, &Error{File: path, Err: ErrDirectory}
	case !st.Mode().IsRegular():
		return nil, nil // a device or pipe: not a file to Prefect either
	case st.Size() > MaxFileSize:
		return nil, &Error{File: path, Err: fileSizeError(st.Size())}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Err: pathCause(err)}
	}
	defer f.Close()
	// The file may have grown since Stat: read one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Err: pathCause(err)}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Err: fileSizeError(max(st.Size(), int64(len(data))))}
	}
	text := string(data)
	m, perr := parseTOML(text)
	if perr != nil {
		return nil, tomlFileError(path, text, perr)
	}
	return m, nil
}

// tomlFileError places a reader's error at its line and column, counted
// from its byte offset: BurntSushi/toml's own Position.Line and Col
// disagree with its offset when the error is at a line's end or start.
func tomlFileError(path, text string, e *tomlError) *Error {
	before := text[:e.pos]
	err := &Error{
		File:   path,
		Key:    strings.Join(e.key, "."),
		Line:   1 + strings.Count(before, "\n"),
		Column: len(before) - strings.LastIndexByte(before, '\n'),
	}
	if e.kind == ErrLimit {
		err.Err = limitError(e.reason)
	} else {
		err.Err = &syntaxError{reason: e.reason, parse: e.parse}
	}
	return err
}

// pathCause drops the path from an *fs.PathError (Error already names it).
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return err
}

// ---------------------------------------------------------------------------
// The flat configuration: Prefect's dict_to_flatdict representation, where
// each leaf is addressed by its key path and insertion order is kept.
//
// Key paths are nodes of one tree, a node per dotted prefix, so extending a
// path costs one map lookup and naming one a lookup per part; the leaves, and
// while building the tables of the result, hang off those nodes. Each step
// below takes time in proportion to the number of keys and the length of the
// text (an earlier version spelled every leaf's whole path out as text at
// every step, and copied every table a reference took).

type keyNode struct {
	name   string
	parent *keyNode
	kids   map[string]*keyNode
	entry  *entry         // the leaf at this path, if any
	table  bool           // a section of a file (kept even when empty)
	toRef  bool           // resolveRefs: a value with a ${key} reference is at or below
	out    map[string]any // build: this path's table in the result, while known
}

// kid returns the node below n for name, making it when missing.
func (n *keyNode) kid(name string) *keyNode {
	if c := n.kids[name]; c != nil {
		return c
	}
	if n.kids == nil {
		n.kids = map[string]*keyNode{}
	}
	c := &keyNode{name: name, parent: n}
	n.kids[name] = c
	return c
}

// path is the node's key path, for errors.
func (n *keyNode) path() []string {
	var parts []string
	for ; n.parent != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	slices.Reverse(parts)
	return parts
}

func (n *keyNode) key() string { return strings.Join(n.path(), ".") }

type entry struct {
	node   *keyNode
	value  any
	file   string // the file that set it ("" for the defaults and variables)
	envVar string // the PREFECT__ variable that set it, if any
	hasRef bool   // resolveRefs: its value had a ${key} reference
}

// error is an *Error about the entry's key, naming where it was set.
func (e *entry) error(err error) *Error {
	out := &Error{Key: e.node.key(), Var: e.envVar, Err: err}
	if e.envVar == "" {
		out.File = e.file
	}
	return out
}

type flatConfig struct {
	root    keyNode
	entries []*entry
	tables  []*keyNode // the files' sections, in the order met
}

func newFlatConfig() *flatConfig { return &flatConfig{} }

// set replaces a leaf in place (as assigning to a Python dict does) or
// appends a new one.
func (f *flatConfig) set(n *keyNode, v any, file, envVar string) {
	if e := n.entry; e != nil {
		e.value, e.file, e.envVar = v, file, envVar
		return
	}
	n.entry = &entry{node: n, value: v, file: file, envVar: envVar}
	f.entries = append(f.entries, n.entry)
}

// get returns the leaf at a dotted key.
func (f *flatConfig) get(key string) (any, bool) {
	n := &f.root
	for {
		part, rest, more := strings.Cut(key, ".")
		if n = n.kids[part]; n == nil {
			return nil, false
		}
		if !more {
			break
		}
		key = rest
	}
	if n.entry == nil {
		return nil, false
	}
	return n.entry.value, true
}

// addFile adds a file's tables and leaves below n. Files merge as Prefect's
// merge_dicts merges them (the later file wins, tables merge key by key),
// except that a table meeting a value is an error instead of a silent
// replacement. Every such conflict is added to errs, which it returns; the
// key is then left as it was.
func (f *flatConfig) addFile(m map[string]any, n *keyNode, file string, errs *multierror.Error) *multierror.Error {
	for _, k := range sortedKeys(m) {
		c := n.kid(k)
		if sub, ok := m[k].(map[string]any); ok {
			if c.entry != nil {
				errs = multierror.Append(errs, &Error{File: file, Key: c.key(), Err: valueSectionConflict(c.path())})
				continue
			}
			if !c.table {
				c.table = true
				f.tables = append(f.tables, c)
			}
			errs = f.addFile(sub, c, file, errs)
			continue
		}
		if c.table {
			errs = multierror.Append(errs, &Error{File: file, Key: c.key(), Err: sectionValueConflict(c.path())})
			continue
		}
		f.set(c, m[k], file, "")
	}
	return errs
}

// loadError is what Load returns for the problems in errs: the *Error
// itself when there is one, as ever; when there are several, all of them,
// as a *multierror.Error that counts them and gives one per line:
//
//	config: 2 problems:
//		- /home/me/.prefect/config.toml: key "cloud": "cloud" is a section, so it cannot be set to a value
//		- PREFECT__CLOUD__API (key cloud.api): ...
//
// errors.As finds the first *Error through it, errors.Is reaches every
// problem's cause (ErrConflict, ErrLimit, ...), and WrappedErrors lists
// the *Errors.
func loadError(errs *multierror.Error) error {
	switch len(errs.WrappedErrors()) {
	case 0:
		return nil
	case 1:
		return errs.Errors[0]
	}
	errs.ErrorFormat = problems.Format(func(n int) string { return fmt.Sprintf("config: %d problems", n) }, "config: ")
	return errs
}

func sectionValueConflict(path []string) error {
	return &kindError{ErrConflict, fmt.Sprintf("%q is a section, so it cannot be set to a value", strings.Join(path, "."))}
}

func valueSectionConflict(path []string) error {
	return &kindError{ErrConflict, fmt.Sprintf("%q is a value, so it cannot be a section", strings.Join(path, "."))}
}

// envPath maps a variable name (without the prefix) to a key path exactly as
// Prefect 1.4.1 does: lower-case every part, except that when the name starts
// with CONTEXT__SECRETS (in any case) only the text "CONTEXT__SECRETS" is
// lower-cased and every other part keeps its case.
func envPath(option string) []string {
	if strings.HasPrefix(strings.ToUpper(option), "CONTEXT__SECRETS") {
		return strings.Split(strings.ReplaceAll(option, "CONTEXT__SECRETS", "context__secrets"), "__")
	}
	return strings.Split(strings.ToLower(option), "__")
}

// addEnv sets the PREFECT__ variables' keys, adding the problem of every
// variable that cannot be set to errs, which it returns. An expansion that
// passes a limit ends the walk: the limits bound the time Load takes, and
// what MaxInterpolated bounds is the sum over every variable.
func (f *flatConfig) addEnv(env environ, x *expander, errs *multierror.Error) *multierror.Error {
	for _, name := range env.names {
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		path := envPath(name[len(envPrefix):])
		if len(path) > MaxDepth {
			errs = multierror.Append(errs, &Error{Var: name, Err: limitError(fmt.Sprintf("the name has more than %d parts", MaxDepth))})
			continue
		}
		if keyLen := len(name) - len(envPrefix) - (len(path) - 1); keyLen > MaxKeyLength { // each "__" is a "."
			errs = multierror.Append(errs, &Error{Var: name, Err: limitError(keyLimitText)})
			continue
		}
		n := &f.root
		for _, p := range path {
			n = n.kid(p)
		}
		v, settled, err := x.interpolate(env.vals[name])
		if err != nil {
			return multierror.Append(errs, &Error{Var: name, Key: strings.Join(path, "."), Err: err})
		}
		if !settled {
			errs = multierror.Append(errs, &Error{Var: name, Key: strings.Join(path, "."), Err: ErrExpansion})
			continue
		}
		if s, ok := v.(string); ok {
			v = coerce(s)
		}
		f.set(n, v, "", name)
	}
	return errs
}

// expandAll is the "interpolate any env vars referenced" loop: every leaf is
// expanded again and every string coerced. An environment value therefore
// goes through coercion twice, as in Prefect ("'10'" ends up as 10).
func (f *flatConfig) expandAll(x *expander) error {
	for _, e := range f.entries {
		v, settled, err := x.interpolate(e.value)
		if err != nil {
			return e.error(err)
		}
		if !settled {
			e.value = nil // Prefect's interpolate_env_vars returns None
			continue
		}
		if s, ok := v.(string); ok {
			v = coerce(s)
		}
		e.value = v
	}
	return nil
}

// refPattern is Prefect's INTERPOLATION_REGEX; it finds innermost references
// first, which is what makes "${${backend}.endpoint}" work.
var refPattern = regexp.MustCompile(`\$\{(.[^${}]*)\}`)

// resolveRefs replaces ${a.b} references with the value of leaf a.b: at most
// one reference per value per pass, at most 10 passes. A value that is one
// whole reference takes the referenced value and type; otherwise the
// reference's Python str() text is inserted. Missing keys give "".
// Prefect walks the keys in set order; we walk them sorted, so results are
// deterministic.
//
// A whole reference shares the value it takes rather than copying it: no
// value changes once made (build copies a table before adding keys to it),
// and copying made n references to one table cost n times its size.
func (f *flatConfig) resolveRefs(x *expander) error {
	// Only values with a reference change; mark the paths to them, and
	// list those values in sorted key order.
	found := false
	for _, e := range f.entries {
		if s, ok := e.value.(string); ok && strings.Contains(s, "${") {
			e.hasRef, found = true, true
			for n := e.node; n != nil && !n.toRef; n = n.parent {
				n.toRef = true
			}
		}
	}
	if !found {
		return nil
	}
	var order []*entry
	f.root.sorted(func(e *entry) {
		if e.hasRef {
			order = append(order, e)
		}
	})
	for pass := 0; pass < maxPasses && len(order) > 0; pass++ {
		keep := order[:0]
		for _, e := range order {
			s, ok := e.value.(string)
			if !ok {
				continue
			}
			m := refPattern.FindStringSubmatchIndex(s)
			if m == nil {
				continue
			}
			matched, name := s[m[0]:m[1]], s[m[2]:m[3]]
			ref, found := f.get(name)
			if !found {
				ref = ""
			}
			if s == matched {
				e.value = ref
			} else {
				text, err := python.Str(ref)
				if err != nil {
					return e.error(hugeIntError()) // Python's str() raises ValueError
				}
				if err := x.grow(len(s), len(s)-len(matched)+len(text), "a ${key} reference"); err != nil {
					return e.error(err)
				}
				e.value = strings.Replace(s, matched, text, 1)
			}
			keep = append(keep, e)
		}
		order = keep
	}
	return nil
}

// sorted calls fn for the leaves at and below n on paths marked toRef, in
// sorted key order (a key before the keys below it), the order of Python's
// sorted() on key tuples.
func (n *keyNode) sorted(fn func(*entry)) {
	if n.entry != nil {
		fn(n.entry)
	}
	var names []string
	for name, c := range n.kids {
		if c.toRef {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		n.kids[name].sorted(fn)
	}
}

// build is Prefect's flatdict_to_dict, in insertion order: file leaves, then
// environment variables in environment order. Where Prefect would crash
// (descending into a value) or silently drop a section (a value assigned over
// it) we return an *Error naming the variable and key. A table value (for
// example PREFECT__CONTEXT__SECRETS='{"A": 1}') replaces a section, and later
// keys below a table value are added to it, as in Prefect.
func (f *flatConfig) build() (map[string]any, error) {
	root := map[string]any{}
	f.root.out = root
	for _, t := range f.tables {
		f.table(t) // files' sections are consistent: nothing is in the way
	}
	for _, e := range f.entries {
		n := e.node
		cur, in := f.table(n.parent)
		if cur == nil {
			return nil, &Error{Var: e.envVar, Key: n.key(), Err: valueSectionConflict(in.path())}
		}
		v := e.value
		if old, exists := cur[n.name]; exists {
			_, oldTable := old.(map[string]any)
			_, newTable := v.(map[string]any)
			if oldTable && !newTable {
				return nil, &Error{Var: e.envVar, Key: n.key(), Err: sectionValueConflict(n.path())}
			}
		}
		cur[n.name] = v
		n.forget()
	}
	return root, nil
}

// table returns the table at n's path in the result, making it (and those
// above it) when missing. A table that is a value (a dict literal, or what a
// whole ${key} reference took) may be shared, so it is copied before it is
// handed out to be added to. When a value is in the way, table returns nil
// and the node where that value is.
func (f *flatConfig) table(n *keyNode) (map[string]any, *keyNode) {
	if n.out != nil {
		return n.out, nil
	}
	parent, in := f.table(n.parent)
	if parent == nil {
		return nil, in
	}
	old, exists := parent[n.name]
	m, isTable := old.(map[string]any)
	switch {
	case isTable && m != nil:
		m = maps.Clone(m)
	case exists && !isTable:
		return nil, n
	default: // missing, or a nil map
		m = map[string]any{}
	}
	parent[n.name] = m
	n.out = m
	return m, nil
}

// forget drops what table knew at and below n, after a value replaced n.
func (n *keyNode) forget() {
	if n.out == nil {
		return
	}
	n.out = nil
	for _, c := range n.kids {
		c.forget()
	}
}

// processTaskDefaults is Prefect's process_task_defaults: max_retries becomes
// 0 when falsy; retry_delay and timeout are removed when false or None (Go has
// no None to keep); an integer retry_delay becomes a time.Duration in seconds
// (Prefect makes a timedelta).
func processTaskDefaults(root map[string]any) {
	// Both tables may be shared with other keys (by ${key} references), so
	// they are copied before they change.
	tasks, ok := root["tasks"].(map[string]any)
	if !ok {
		if _, exists := root["tasks"]; exists {
			return
		}
		tasks = map[string]any{}
	}
	tasks = maps.Clone(tasks)
	root["tasks"] = tasks
	defaults, ok := tasks["defaults"].(map[string]any)
	if !ok {
		if _, exists := tasks["defaults"]; exists {
			return
		}
		defaults = map[string]any{}
	}
	defaults = maps.Clone(defaults)
	tasks["defaults"] = defaults
	if !python.Truth(defaults["max_retries"]) {
		defaults["max_retries"] = int64(0)
	}
	switch rd := defaults["retry_delay"].(type) {
	case nil:
		delete(defaults, "retry_delay")
	case bool:
		if rd {
			defaults["retry_delay"] = time.Second // Python's True is the int 1
		} else {
			delete(defaults, "retry_delay")
		}
	case int64:
		if rd <= math.MaxInt64/int64(time.Second) && rd >= math.MinInt64/int64(time.Second) {
			defaults["retry_delay"] = time.Duration(rd) * time.Second
		}
	}
	if to, exists := defaults["timeout"]; exists && (to == nil || to == false) {
		delete(defaults, "timeout")
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	case []byte:
		b := make([]byte, len(t))
		copy(b, t)
		return b
	case *big.Int:
		return new(big.Int).Set(t)
	}
	return v
}

// Kind names the kind of a value of the configuration, for an error about
// a setting: "a string", "an integer", "a number", "a boolean", "a date",
// "a duration", "a table", "a list" or "None". It never shows the value itself: a
// setting in the wrong place may be a secret pasted there.
func Kind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, int, *big.Int:
		return "an integer"
	case float64, complex128:
		return "a number"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date"
	case time.Duration:
		return "a duration"
	case map[string]any:
		return "a table"
	case []any:
		return "a list"
	case nil:
		return "None"
	}
	return fmt.Sprintf("a %T", v)
}

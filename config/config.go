package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/big"
	"os"
	"os/user"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
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
	// ErrSyntax: a configuration file is not valid TOML.
	ErrSyntax = errors.New("invalid TOML")
	// ErrConflict: one key is used both as a section (table) and as a value.
	ErrConflict = errors.New("key is used both as a section and as a value")
	// ErrDirectory: a configuration path names a directory.
	ErrDirectory = errors.New("is a directory, not a file")
	// ErrExpansion: $VAR and ~ expansion of a value did not settle in 10 passes.
	ErrExpansion = errors.New("$VAR and ~ expansion did not settle within 10 passes")
)

// Error is a configuration problem in a file or variable; Error() names the
// file (or the variable) and the key, with line and column for TOML syntax
// errors. It never includes a value from context.secrets: it carries no
// configuration value at all, and TOML parser messages, which can quote the
// offending text, are reduced to a fixed description.
type Error struct {
	File   string // the file, when the problem is in (or about) one
	Var    string // the environment variable, when the problem came from one
	Key    string // the dotted key, when one is involved
	Line   int    // 1-based line of a TOML syntax error
	Column int    // 1-based column of a TOML syntax error
	Err    error  // the cause; see ErrSyntax, ErrConflict, ErrDirectory, ErrExpansion
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
// Problems are reported as *Error.
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

	var merged map[string]any
	if _, err := toml.Decode(defaultConfig, &merged); err != nil {
		return nil, &Error{Err: err} // a bug in defaultConfig; tests guard it
	}
	merged = normalize(merged).(map[string]any)

	userPath, err := x.configPath(env, userPathVar, userPathDefault)
	if err != nil {
		return nil, err
	}
	backendPath, err := x.configPath(env, backendPathVar, backendDefault)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ path, pathVar string }{{userPath, userPathVar}, {backendPath, backendPathVar}} {
		data, err := readTOML(f.path)
		if err != nil {
			if _, set := env.vals[f.pathVar]; set {
				err.Var = f.pathVar
			}
			return nil, err
		}
		if data == nil {
			continue
		}
		if err := mergeTables(merged, data, nil, f.path); err != nil {
			return nil, err
		}
	}

	flat := newFlatConfig()
	flat.addTree(merged, nil)
	if err := flat.addEnv(env, x); err != nil {
		return nil, err
	}
	flat.expandAll(x)
	flat.resolveRefs()
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
	if !strings.Contains(s, "$") {
		return s
	}
	i := 0
	for {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			return s
		}
		start := i + j
		name, end, ok := matchVar(s, start)
		if !ok {
			i = start + 1
			continue
		}
		val, found := x.env[name]
		if !found {
			i = end
			continue
		}
		tail := s[end:]
		s = s[:start] + val
		i = len(s)
		s += tail
	}
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
		u, err := user.Lookup(s[1:i])
		if err != nil {
			return s
		}
		home = u.HomeDir
	}
	home = strings.TrimRight(home, "/")
	if out := home + s[i:]; out != "" {
		return out
	}
	return "/"
}

// interpolate is Prefect's interpolate_env_vars: expand until the value stops
// changing; when it changed more than once, coerce the result. settled is
// false when 10 passes were not enough (Prefect then returns None).
func (x *expander) interpolate(v any) (out any, settled bool) {
	s, ok := v.(string)
	if !ok || s == "" {
		return v, true
	}
	for counter := 0; counter < maxPasses; counter++ {
		next := x.expandUser(x.expandVars(s))
		if next == s {
			if counter > 1 {
				return coerce(next), true
			}
			return next, true
		}
		s = next
	}
	return nil, false
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
	v, settled := x.interpolate(raw)
	if !settled {
		e := &Error{File: raw, Err: ErrExpansion}
		if set {
			e.Var = name
		}
		return "", e
	}
	return pyStr(v), nil
}

// coerce is Prefect's string_to_type: true/false in any case, then a Python
// literal, else the string itself.
func coerce(s string) any {
	switch strings.ToUpper(s) {
	case "TRUE":
		return true
	case "FALSE":
		return false
	}
	if v, ok := parseLiteral(s); ok {
		return v
	}
	return s
}

// ---------------------------------------------------------------------------
// Files

// readTOML returns nil, nil when there is nothing to read: an empty path, or
// no file there (Prefect skips what os.path.isfile rejects; we report a
// directory and an unreadable file instead of skipping or crashing).
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
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: pathCause(err)}
	}
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		e := &Error{File: path, Err: &kindError{ErrSyntax, "invalid TOML"}}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.Line, e.Column, e.Key = pe.Position.Line, pe.Position.Col, pe.LastKey
			e.Err = &kindError{ErrSyntax, "invalid TOML: " + tomlReason(pe.Message)}
		}
		return nil, e
	}
	return normalize(m).(map[string]any), nil
}

// pathCause drops the path from an *fs.PathError (Error already names it).
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return err
}

// tomlReason turns a BurntSushi/toml message into a fixed description,
// because the message may quote the offending value (a secret, say).
func tomlReason(msg string) string {
	for _, r := range [...]struct{ match, reason string }{
		{"Invalid integer", "invalid integer"},
		{"nvalid float", "invalid float"},
		{"floats must start with a digit", "invalid float"},
		{"not a binary number", "invalid binary number"},
		{"not an octal number", "invalid octal number"},
		{"not a hexadecimal number", "invalid hexadecimal number"},
		{"cannot use sign with non-decimal", "a sign on a non-decimal number"},
		{"expected a digit", "invalid number"},
		{"out of range", "number out of range"},
		{"out of the safe", "number out of range"},
		{"invalid datetime", "invalid date or time"},
		{"invalid duration", "invalid duration"},
		{"has already been defined", "duplicate key"},
		{"already created as a hash", "key already defined as a table"},
		{"cannot be used as an array", "key already defined; it cannot be an array of tables"},
		{"is not a table", "key is not a table"},
		{"escape", "invalid escape sequence in a string"},
		{"hexadecimal digits after", "invalid escape sequence in a string"},
		{"Escaped character", "invalid escape sequence in a string"},
		{"strings cannot contain newlines", "strings cannot contain newlines"},
		{"newlines not allowed within inline tables", "newlines are not allowed within inline tables"},
		{"control characters", "control character in the file"},
		{"invalid UTF-8", "the file is not valid UTF-8"},
		{"NULL bytes", "the file contains NUL bytes (TOML files must be UTF-8)"},
		{"unexpected EOF", "unexpected end of file"},
		{"expected value", "expected a value"},
		{"key name appears blank", "blank key name"},
		{"expected '.' or '='", "expected '=' after a key"},
		{"expected a top-level item to end", "expected a newline after a value"},
		{"table name", "invalid table name"},
		{"comma", "expected ',' or a closing bracket"},
	} {
		if strings.Contains(msg, r.match) {
			return r.reason
		}
	}
	return "syntax error"
}

// normalize turns BurntSushi's []map[string]any (arrays of tables) into
// []any so every sequence has one Go type.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
		return t
	case []map[string]any:
		out := make([]any, len(t))
		for i, m := range t {
			out[i] = normalize(m)
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
		return t
	}
	return v
}

// mergeTables is Prefect's merge_dicts (src wins, tables merge key by key),
// except that a table meeting a value is an error instead of a silent
// replacement.
func mergeTables(dst, src map[string]any, prefix []string, file string) error {
	for _, k := range sortedKeys(src) {
		sv := src[k]
		path := appendPath(prefix, k)
		dv, exists := dst[k]
		dm, dIsTable := dv.(map[string]any)
		sm, sIsTable := sv.(map[string]any)
		switch {
		case !exists:
			dst[k] = sv
		case dIsTable && sIsTable:
			if err := mergeTables(dm, sm, path, file); err != nil {
				return err
			}
		case dIsTable:
			return &Error{File: file, Key: strings.Join(path, "."), Err: sectionValueConflict(path)}
		case sIsTable:
			return &Error{File: file, Key: strings.Join(path, "."), Err: valueSectionConflict(path)}
		default:
			dst[k] = sv
		}
	}
	return nil
}

func sectionValueConflict(path []string) error {
	return &kindError{ErrConflict, fmt.Sprintf("%q is a section, so it cannot be set to a value", strings.Join(path, "."))}
}

func valueSectionConflict(path []string) error {
	return &kindError{ErrConflict, fmt.Sprintf("%q is a value, so it cannot be a section", strings.Join(path, "."))}
}

// ---------------------------------------------------------------------------
// The flat configuration: Prefect's dict_to_flatdict representation, where
// each leaf is addressed by its key path and insertion order is kept.

type entry struct {
	path   []string
	value  any
	envVar string // the PREFECT__ variable that set it, if any
}

type flatConfig struct {
	entries []*entry
	index   map[string]int
	tables  [][]string // every section of the merged files, so empty ones survive
}

func newFlatConfig() *flatConfig { return &flatConfig{index: map[string]int{}} }

func pathKey(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

func appendPath(prefix []string, k string) []string {
	out := make([]string, len(prefix), len(prefix)+1)
	copy(out, prefix)
	return append(out, k)
}

// set replaces a leaf in place (as assigning to a Python dict does) or
// appends a new one.
func (f *flatConfig) set(path []string, v any, envVar string) {
	k := pathKey(path)
	if i, ok := f.index[k]; ok {
		f.entries[i].value, f.entries[i].envVar = v, envVar
		return
	}
	f.index[k] = len(f.entries)
	f.entries = append(f.entries, &entry{path: path, value: v, envVar: envVar})
}

func (f *flatConfig) get(path []string) (any, bool) {
	i, ok := f.index[pathKey(path)]
	if !ok {
		return nil, false
	}
	return f.entries[i].value, true
}

func (f *flatConfig) addTree(m map[string]any, prefix []string) {
	for _, k := range sortedKeys(m) {
		path := appendPath(prefix, k)
		if sub, ok := m[k].(map[string]any); ok {
			f.tables = append(f.tables, path)
			f.addTree(sub, path)
			continue
		}
		f.set(path, m[k], "")
	}
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

func (f *flatConfig) addEnv(env environ, x *expander) error {
	for _, name := range env.names {
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		path := envPath(name[len(envPrefix):])
		v, settled := x.interpolate(env.vals[name])
		if !settled {
			return &Error{Var: name, Key: strings.Join(path, "."), Err: ErrExpansion}
		}
		if s, ok := v.(string); ok {
			v = coerce(s)
		}
		f.set(path, v, name)
	}
	return nil
}

// expandAll is the "interpolate any env vars referenced" loop: every leaf is
// expanded again and every string coerced. An environment value therefore
// goes through coercion twice, as in Prefect ("'10'" ends up as 10).
func (f *flatConfig) expandAll(x *expander) {
	for _, e := range f.entries {
		v, settled := x.interpolate(e.value)
		if !settled {
			e.value = nil // Prefect's interpolate_env_vars returns None
			continue
		}
		if s, ok := v.(string); ok {
			v = coerce(s)
		}
		e.value = v
	}
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
func (f *flatConfig) resolveRefs() {
	order := make([]int, len(f.entries))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		return lessPath(f.entries[order[a]].path, f.entries[order[b]].path)
	})
	for pass := 0; pass < maxPasses && len(order) > 0; pass++ {
		keep := order[:0]
		for _, i := range order {
			e := f.entries[i]
			s, ok := e.value.(string)
			if !ok {
				continue
			}
			m := refPattern.FindStringSubmatchIndex(s)
			if m == nil {
				continue
			}
			matched, name := s[m[0]:m[1]], s[m[2]:m[3]]
			ref, found := f.get(strings.Split(name, "."))
			if !found {
				ref = ""
			}
			if s == matched {
				e.value = deepCopy(ref)
			} else {
				e.value = strings.Replace(s, matched, pyStr(ref), 1)
			}
			keep = append(keep, i)
		}
		order = keep
	}
}

func lessPath(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// build is Prefect's flatdict_to_dict, in insertion order: file leaves, then
// environment variables in environment order. Where Prefect would crash
// (descending into a value) or silently drop a section (a value assigned over
// it) we return an *Error naming the variable and key. A table value (for
// example PREFECT__CONTEXT__SECRETS='{"A": 1}') replaces a section, and later
// keys below a table value are added to it, as in Prefect.
func (f *flatConfig) build() (map[string]any, error) {
	root := map[string]any{}
	for _, t := range f.tables {
		cur := root
		for _, part := range t {
			next, ok := cur[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[part] = next
			}
			cur = next
		}
	}
	for _, e := range f.entries {
		cur := root
		for i, part := range e.path[:len(e.path)-1] {
			next, exists := cur[part]
			if !exists {
				m := map[string]any{}
				cur[part] = m
				cur = m
				continue
			}
			m, ok := next.(map[string]any)
			if !ok {
				return nil, &Error{Var: e.envVar, Key: strings.Join(e.path, "."), Err: valueSectionConflict(e.path[:i+1])}
			}
			cur = m
		}
		last := e.path[len(e.path)-1]
		v := deepCopy(e.value)
		if old, exists := cur[last]; exists {
			_, oldTable := old.(map[string]any)
			_, newTable := v.(map[string]any)
			if oldTable && !newTable {
				return nil, &Error{Var: e.envVar, Key: strings.Join(e.path, "."), Err: sectionValueConflict(e.path)}
			}
		}
		cur[last] = v
	}
	return root, nil
}

// processTaskDefaults is Prefect's process_task_defaults: max_retries becomes
// 0 when falsy; retry_delay and timeout are removed when false or None (Go has
// no None to keep); an integer retry_delay becomes a time.Duration in seconds
// (Prefect makes a timedelta).
func processTaskDefaults(root map[string]any) {
	tasks, ok := root["tasks"].(map[string]any)
	if !ok {
		if _, exists := root["tasks"]; exists {
			return
		}
		tasks = map[string]any{}
		root["tasks"] = tasks
	}
	defaults, ok := tasks["defaults"].(map[string]any)
	if !ok {
		if _, exists := tasks["defaults"]; exists {
			return
		}
		defaults = map[string]any{}
		tasks["defaults"] = defaults
	}
	if !pyTruthy(defaults["max_retries"]) {
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

func pyTruthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case *big.Int:
		return t.Sign() != 0
	case float64:
		return t != 0
	case complex128:
		return t != 0
	case string:
		return t != ""
	case []byte:
		return len(t) > 0
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
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

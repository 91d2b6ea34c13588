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
	"unicode"
	"unicode/utf8"

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

// ---------------------------------------------------------------------------
// Python str() and repr(), for inserting a referenced value into text.

// pyStr is Python's str() of a loaded value. Tuples and sets load as []any
// and print as lists; maps print with sorted keys.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if t, ok := v.(time.Time); ok {
		return pyTime(t)
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(t, 10)
	case *big.Int:
		return t.String()
	case float64:
		return pyFloat(t, true)
	case complex128:
		return pyComplex(t)
	case string:
		return pyQuote(t)
	case []byte:
		return pyBytes(t)
	case time.Time:
		return pyTime(t)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = pyRepr(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(t)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyQuote(k) + ": " + pyRepr(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// pyFloat is Python's float repr: the shortest round-tripping digits, fixed
// notation for exponents from -5 to 15, else d.ddde+XX.
func pyFloat(f float64, addDot bool) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	var out string
	switch {
	case decpt <= -4 || decpt > 16:
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		out += fmt.Sprintf("e%s%02d", sign, exp)
	case decpt <= 0:
		out = "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		out = digits + strings.Repeat("0", decpt-len(digits))
		if addDot {
			out += ".0"
		}
	default:
		out = digits[:decpt] + "." + digits[decpt:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

func pyComplex(c complex128) string {
	re, im := real(c), imag(c)
	imText := pyFloat(im, false)
	if re == 0 && !math.Signbit(re) {
		return imText + "j"
	}
	if !strings.HasPrefix(imText, "-") {
		imText = "+" + imText
	}
	return "(" + pyFloat(re, false) + imText + "j)"
}

func pyQuote(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\udc%02x`, s[i]) // Python's surrogateescape
			i++
			continue
		}
		i += size
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

func pyBytes(p []byte) string {
	quote := byte('\'')
	if strings.IndexByte(string(p), '\'') >= 0 && strings.IndexByte(string(p), '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte('b')
	b.WriteByte(quote)
	for _, c := range p {
		switch {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyTime is str() of the datetime, date or time Python's toml package makes.
func pyTime(t time.Time) string {
	frac := func(s string) string {
		if us := t.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
		return s
	}
	switch t.Location().String() {
	case "date-local":
		return t.Format("2006-01-02")
	case "time-local":
		return frac(t.Format("15:04:05"))
	case "datetime-local":
		return frac(t.Format("2006-01-02 15:04:05"))
	}
	s := frac(t.Format("2006-01-02 15:04:05"))
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return s + fmt.Sprintf("%s%02d:%02d", sign, off/3600, off%3600/60)
}

// ---------------------------------------------------------------------------
// Python literals: a small ast.literal_eval.
//
// It accepts what literal_eval accepts on Python 3.9+: numbers (ints with
// underscores and 0x/0o/0b, floats, imaginary j), strings and bytes with any
// quotes, prefixes r/u/b and escapes, implicit concatenation, True, False,
// None, tuples (also bare "1, 2"), lists, dicts, sets, set(), unary +/- on a
// number and int/float +/- imaginary; comments and bracketed newlines.
// Ints past int64 become *big.Int; tuples and sets become []any; dict keys
// become their Python str(). Not supported, so such text stays a string: \N{}
// escapes and "..." (Ellipsis).

type litKind int

const (
	litConst litKind = iota
	litUnary
	litBinary
	litTuple
	litList
	litSet
	litDict
)

type litNode struct {
	kind litKind
	val  any // litConst: int64, *big.Int, float64, complex128, string, []byte, bool, nil
	op   byte
	elts []*litNode // elements; dict keys; unary operand; binary left, right
	vals []*litNode // dict values
}

const maxLiteralNesting = 200 // Python's tokenizer limit on nested brackets

type litParser struct {
	s       string
	pos     int
	depth   int // open brackets: newlines are whitespace inside them
	nesting int
}

func parseLiteral(src string) (any, bool) {
	if strings.IndexByte(src, 0) >= 0 {
		return nil, false
	}
	src = strings.TrimLeft(src, " \t")
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	p := &litParser{s: src}
	if !p.skipLeadingLines() {
		return nil, false
	}
	n, ok := p.topLevel()
	if !ok || !p.atEnd() {
		return nil, false
	}
	return convertLiteral(n)
}

func (p *litParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *litParser) peekAt(k int) byte {
	if p.pos+k < len(p.s) {
		return p.s[p.pos+k]
	}
	return 0
}

// skipLeadingLines skips blank and comment-only lines; the first line with
// code must not be indented.
func (p *litParser) skipLeadingLines() bool {
	for {
		col := 0
		for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\f') {
			if p.s[p.pos] == '\f' {
				col = 0
			} else {
				col++
			}
			p.pos++
		}
		switch p.peek() {
		case 0:
			return true
		case '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
			continue
		case '\n':
			p.pos++
			continue
		}
		return col == 0
	}
}

func (p *litParser) skipSpace() {
	for p.pos < len(p.s) {
		switch c := p.s[p.pos]; {
		case c == ' ' || c == '\t' || c == '\f':
			p.pos++
		case c == '\\' && p.peekAt(1) == '\n':
			p.pos += 2
		case c == '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
		case c == '\n' && p.depth > 0:
			p.pos++
		default:
			return
		}
	}
}

// atEnd accepts trailing whitespace, comments and blank lines only.
func (p *litParser) atEnd() bool {
	for {
		p.skipSpace()
		switch p.peek() {
		case 0:
			return p.pos >= len(p.s)
		case '\n':
			p.pos++
		default:
			return false
		}
	}
}

func (p *litParser) topLevel() (*litNode, bool) {
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.skipSpace()
	if p.peek() != ',' {
		return first, true
	}
	elts := []*litNode{first}
	for p.peek() == ',' {
		p.pos++
		p.skipSpace()
		if c := p.peek(); c == 0 || c == '\n' {
			break
		}
		n, ok := p.expr()
		if !ok {
			return nil, false
		}
		elts = append(elts, n)
		p.skipSpace()
	}
	return &litNode{kind: litTuple, elts: elts}, true
}

// expr parses a sum of factors and insists that what follows can end an
// expression, so any other operator, call, subscript or attribute fails.
func (p *litParser) expr() (*litNode, bool) {
	left, ok := p.factor()
	if !ok {
		return nil, false
	}
	for {
		p.skipSpace()
		c := p.peek()
		if c != '+' && c != '-' {
			break
		}
		if p.peekAt(1) == '=' || c == '-' && p.peekAt(1) == '>' {
			return nil, false
		}
		p.pos++
		right, ok := p.factor()
		if !ok {
			return nil, false
		}
		left = &litNode{kind: litBinary, op: c, elts: []*litNode{left, right}}
	}
	switch p.peek() {
	case 0, '\n', ',', ')', ']', '}', ':':
		return left, true
	}
	return nil, false
}

func (p *litParser) factor() (*litNode, bool) {
	p.skipSpace()
	if p.nesting >= maxLiteralNesting {
		return nil, false
	}
	p.nesting++
	defer func() { p.nesting-- }()
	switch c := p.peek(); c {
	case '+', '-':
		p.pos++
		operand, ok := p.factor()
		if !ok {
			return nil, false
		}
		return &litNode{kind: litUnary, op: c, elts: []*litNode{operand}}, true
	}
	return p.atom()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentByte(c byte) bool { return isWordByte(c) || c >= 0x80 }

func (p *litParser) atom() (*litNode, bool) {
	c := p.peek()
	switch {
	case c == '(':
		return p.paren()
	case c == '[':
		elts, ok := p.sequence(']')
		return &litNode{kind: litList, elts: elts}, ok
	case c == '{':
		return p.brace()
	case isDigit(c) || c == '.' && isDigit(p.peekAt(1)):
		return p.number()
	case c == '\'' || c == '"':
		return p.stringAtom()
	case isIdentByte(c):
		if p.stringPrefixLen() >= 0 {
			return p.stringAtom()
		}
		start := p.pos
		for p.pos < len(p.s) && isIdentByte(p.s[p.pos]) {
			p.pos++
		}
		switch p.s[start:p.pos] {
		case "True":
			return &litNode{kind: litConst, val: true}, true
		case "False":
			return &litNode{kind: litConst, val: false}, true
		case "None":
			return &litNode{kind: litConst, val: nil}, true
		case "set": // set() is the one call literal_eval accepts
			p.skipSpace()
			if p.peek() != '(' {
				return nil, false
			}
			p.pos++
			p.depth++
			p.skipSpace()
			p.depth--
			if p.peek() != ')' {
				return nil, false
			}
			p.pos++
			return &litNode{kind: litSet}, true
		}
	}
	return nil, false
}

func (p *litParser) open() bool {
	p.pos++
	p.depth++
	return p.depth <= maxLiteralNesting
}

func (p *litParser) close() {
	p.pos++
	p.depth--
}

// sequence parses "[a, b, ...]"-style element lists with a trailing comma.
func (p *litParser) sequence(end byte) ([]*litNode, bool) {
	if !p.open() {
		return nil, false
	}
	p.skipSpace()
	if p.peek() == end {
		p.close()
		return []*litNode{}, true
	}
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	return p.elements(end, first)
}

// elements parses the rest of a comma-separated list whose first element
// is already parsed, through its closing end; a trailing comma is allowed.
func (p *litParser) elements(end byte, first *litNode) ([]*litNode, bool) {
	elts := []*litNode{first}
	for {
		p.skipSpace()
		switch p.peek() {
		case end:
			p.close()
			return elts, true
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == end {
				continue
			}
			n, ok := p.expr()
			if !ok {
				return nil, false
			}
			elts = append(elts, n)
		default:
			return nil, false
		}
	}
}

func (p *litParser) paren() (*litNode, bool) {
	if !p.open() {
		return nil, false
	}
	p.skipSpace()
	if p.peek() == ')' {
		p.close()
		return &litNode{kind: litTuple}, true
	}
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.skipSpace()
	switch p.peek() {
	case ')':
		p.close()
		return first, true // parentheses make no node: "-(1)" is -1
	case ',':
		elts, ok := p.elements(')', first)
		if !ok {
			return nil, false
		}
		return &litNode{kind: litTuple, elts: elts}, true
	}
	return nil, false
}

func (p *litParser) brace() (*litNode, bool) {
	if !p.open() {
		return nil, false
	}
	p.skipSpace()
	if p.peek() == '}' {
		p.close()
		return &litNode{kind: litDict}, true
	}
	first, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.skipSpace()
	if p.peek() != ':' {
		// A set: {a, b, ...}
		elts, ok := p.elements('}', first)
		if !ok {
			return nil, false
		}
		return &litNode{kind: litSet, elts: elts}, true
	}
	d := &litNode{kind: litDict}
	key := first
	for {
		p.pos++ // the colon
		val, ok := p.expr()
		if !ok {
			return nil, false
		}
		d.elts, d.vals = append(d.elts, key), append(d.vals, val)
		p.skipSpace()
		switch p.peek() {
		case '}':
			p.close()
			return d, true
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == '}' {
				p.close()
				return d, true
			}
			if key, ok = p.expr(); !ok {
				return nil, false
			}
			p.skipSpace()
			if p.peek() != ':' {
				return nil, false
			}
		default:
			return nil, false
		}
	}
}

// scanDigits reads digits of one base with single underscores between them
// (and, after a 0x/0o/0b prefix, before the first).
func scanDigits(s string, i int, ok func(byte) bool, leadingUnderscore bool) (string, int, bool) {
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		if c == '_' {
			if b.Len() == 0 && !leadingUnderscore || i+1 >= len(s) || !ok(s[i+1]) {
				return "", i, false
			}
			i++
			continue
		}
		if !ok(c) {
			break
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i, b.Len() > 0
}

func intConst(digits string, base int) *litNode {
	if n, err := strconv.ParseInt(digits, base, 64); err == nil {
		return &litNode{kind: litConst, val: n}
	}
	n, _ := new(big.Int).SetString(digits, base)
	return &litNode{kind: litConst, val: n}
}

func (p *litParser) number() (*litNode, bool) {
	s := p.s
	i := p.pos
	if s[i] == '0' && i+1 < len(s) && strings.IndexByte("xXoObB", s[i+1]) >= 0 {
		base, valid := 16, func(c byte) bool {
			return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		}
		switch s[i+1] {
		case 'o', 'O':
			base, valid = 8, func(c byte) bool { return '0' <= c && c <= '7' }
		case 'b', 'B':
			base, valid = 2, func(c byte) bool { return c == '0' || c == '1' }
		}
		digits, j, ok := scanDigits(s, i+2, valid, true)
		if !ok || j < len(s) && isIdentByte(s[j]) {
			return nil, false
		}
		p.pos = j
		return intConst(digits, base), true
	}
	var intPart, frac, exp string
	isFloat := false
	if isDigit(s[i]) {
		var ok bool
		if intPart, i, ok = scanDigits(s, i, isDigit, false); !ok {
			return nil, false
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i < len(s) && isDigit(s[i]) {
			var ok bool
			if frac, i, ok = scanDigits(s, i, isDigit, false); !ok {
				return nil, false
			}
		} else if intPart == "" {
			return nil, false
		}
		isFloat = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		sign := ""
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			sign = s[j : j+1]
			j++
		}
		if j >= len(s) || !isDigit(s[j]) {
			return nil, false
		}
		d, k, ok := scanDigits(s, j, isDigit, false)
		if !ok {
			return nil, false
		}
		exp, i, isFloat = "e"+sign+d, k, true
	}
	imag := false
	if i < len(s) && (s[i] == 'j' || s[i] == 'J') {
		imag = true
		i++
	}
	if i < len(s) && isIdentByte(s[i]) {
		return nil, false
	}
	p.pos = i
	if !isFloat && !imag {
		if len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0") != "" {
			return nil, false // "01": leading zeros are a SyntaxError
		}
		return intConst(intPart, 10), true
	}
	if intPart == "" {
		intPart = "0"
	}
	if frac == "" {
		frac = "0"
	}
	f, err := strconv.ParseFloat(intPart+"."+frac+exp, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, false
	}
	if imag {
		return &litNode{kind: litConst, val: complex(0, f)}, true
	}
	return &litNode{kind: litConst, val: f}, true
}

// stringPrefixLen returns the length of a string prefix (r, u, b, f and
// their valid pairs, any case) directly followed by a quote, or -1.
func (p *litParser) stringPrefixLen() int {
	for n := 1; n <= 2; n++ {
		if q := p.peekAt(n); q == '\'' || q == '"' {
			switch strings.ToLower(p.s[p.pos : p.pos+n]) {
			case "r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt":
				return n
			}
			return -1
		}
		if !isWordByte(p.peekAt(n - 1)) {
			return -1
		}
	}
	return -1
}

// stringAtom parses adjacent string literals, which Python concatenates.
func (p *litParser) stringAtom() (*litNode, bool) {
	var b strings.Builder
	kind := -1 // 0 str, 1 bytes
	for {
		n := 0
		if c := p.peek(); c != '\'' && c != '"' {
			if n = p.stringPrefixLen(); n < 0 {
				break
			}
		}
		prefix := strings.ToLower(p.s[p.pos : p.pos+n])
		if strings.ContainsAny(prefix, "ft") {
			return nil, false // f-strings and t-strings are not constants
		}
		isBytes := strings.Contains(prefix, "b")
		k := 0
		if isBytes {
			k = 1
		}
		if kind >= 0 && kind != k {
			return nil, false // cannot mix bytes and str
		}
		kind = k
		p.pos += n
		if !p.stringBody(&b, strings.Contains(prefix, "r"), isBytes) {
			return nil, false
		}
		p.skipSpace()
	}
	if kind == 1 {
		return &litNode{kind: litConst, val: []byte(b.String())}, true
	}
	return &litNode{kind: litConst, val: b.String()}, true
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (p *litParser) stringBody(b *strings.Builder, raw, isBytes bool) bool {
	s := p.s
	q := s[p.pos]
	triple := strings.HasPrefix(s[p.pos:], strings.Repeat(string(q), 3))
	if triple {
		p.pos += 3
	} else {
		p.pos++
	}
	for {
		if p.pos >= len(s) {
			return false // unterminated
		}
		c := s[p.pos]
		if triple && strings.HasPrefix(s[p.pos:], strings.Repeat(string(q), 3)) {
			p.pos += 3
			return true
		}
		if !triple && c == q {
			p.pos++
			return true
		}
		if !triple && c == '\n' {
			return false
		}
		if isBytes && c >= 0x80 {
			return false // bytes can only contain ASCII literal characters
		}
		if c != '\\' {
			b.WriteByte(c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(s) {
			return false
		}
		e := s[p.pos+1]
		if raw {
			// The backslash stays, and it keeps the next character (even a
			// quote or newline) from ending the string.
			_, size := utf8.DecodeRuneInString(s[p.pos+1:])
			if isBytes && e >= 0x80 {
				return false
			}
			b.WriteString(s[p.pos : p.pos+1+size])
			p.pos += 1 + size
			continue
		}
		p.pos += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && p.pos < len(s) && '0' <= s[p.pos] && s[p.pos] <= '7'; k++ {
				v = v*8 + int(s[p.pos]-'0')
				p.pos++
			}
			if isBytes {
				if v > 0xff {
					return false
				}
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
		case 'x':
			if p.pos+2 > len(s) || !isHex(s[p.pos]) || !isHex(s[p.pos+1]) {
				return false
			}
			v, _ := strconv.ParseUint(s[p.pos:p.pos+2], 16, 8)
			p.pos += 2
			if isBytes {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
		case 'u', 'U', 'N':
			if isBytes {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			if e == 'N' {
				return false // \N{NAME} needs Unicode's name table
			}
			n := 4
			if e == 'U' {
				n = 8
			}
			if p.pos+n > len(s) {
				return false
			}
			for k := 0; k < n; k++ {
				if !isHex(s[p.pos+k]) {
					return false
				}
			}
			v, _ := strconv.ParseUint(s[p.pos:p.pos+n], 16, 32)
			if v > unicode.MaxRune {
				return false
			}
			p.pos += n
			b.WriteRune(rune(v))
		default:
			// An unknown escape keeps its backslash; the character after
			// it is read normally.
			b.WriteByte('\\')
			p.pos--
		}
	}
}

func convertLiteral(n *litNode) (any, bool) {
	switch n.kind {
	case litConst:
		return n.val, true
	case litUnary:
		return signedNum(n)
	case litBinary:
		// Only int/float +/- imaginary, as in "1+2j".
		left, ok := signedNum(n.elts[0])
		if !ok {
			return nil, false
		}
		right, ok := n.elts[1].val.(complex128)
		if n.elts[1].kind != litConst || !ok {
			return nil, false
		}
		var l float64
		switch t := left.(type) {
		case int64:
			l = float64(t)
		case *big.Int:
			f, _ := new(big.Float).SetInt(t).Float64()
			if math.IsInf(f, 0) {
				return nil, false // OverflowError in Python
			}
			l = f
		case float64:
			l = t
		default:
			return nil, false
		}
		if n.op == '+' {
			return complex(l, 0) + right, true
		}
		return complex(l, 0) - right, true
	case litTuple, litList:
		out := make([]any, len(n.elts))
		for i, e := range n.elts {
			v, ok := convertLiteral(e)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	case litSet:
		out := []any{}
		seen := map[string]bool{}
		for _, e := range n.elts {
			v, ok := convertLiteral(e)
			if !ok {
				return nil, false
			}
			h, ok := hashKey(e, v)
			if !ok {
				return nil, false // unhashable: TypeError in Python
			}
			if !seen[h] {
				seen[h] = true
				out = append(out, v)
			}
		}
		return out, true
	case litDict:
		type slot struct {
			text string
			val  any
		}
		var order []string
		slots := map[string]*slot{}
		for i, k := range n.elts {
			kv, ok := convertLiteral(k)
			if !ok {
				return nil, false
			}
			vv, ok := convertLiteral(n.vals[i])
			if !ok {
				return nil, false
			}
			h, ok := hashKey(k, kv)
			if !ok {
				return nil, false
			}
			if s, dup := slots[h]; dup {
				s.val = vv // Python keeps the first key and the last value
				continue
			}
			slots[h] = &slot{text: keyText(k, kv), val: vv}
			order = append(order, h)
		}
		out := make(map[string]any, len(order))
		for _, h := range order {
			out[slots[h].text] = slots[h].val
		}
		return out, true
	}
	return nil, false
}

func signedNum(n *litNode) (any, bool) {
	if n.kind == litUnary {
		v, ok := num(n.elts[0])
		if !ok {
			return nil, false
		}
		if n.op == '+' {
			return v, true
		}
		switch t := v.(type) {
		case int64:
			if t == math.MinInt64 {
				return new(big.Int).Neg(big.NewInt(t)), true
			}
			return -t, true
		case *big.Int:
			r := new(big.Int).Neg(t)
			if r.IsInt64() {
				return r.Int64(), true
			}
			return r, true
		case float64:
			return -t, true
		case complex128:
			return -t, true
		}
	}
	return num(n)
}

func num(n *litNode) (any, bool) {
	if n.kind != litConst {
		return nil, false
	}
	switch n.val.(type) {
	case int64, *big.Int, float64, complex128:
		return n.val, true
	}
	return nil, false
}

// hashKey gives equal keys to values Python's hash/eq treat as equal
// (1 == 1.0 == True); ok is false for unhashable values.
func hashKey(n *litNode, v any) (string, bool) {
	if n.kind == litTuple {
		parts := make([]string, len(n.elts))
		items := v.([]any)
		for i, e := range n.elts {
			h, ok := hashKey(e, items[i])
			if !ok {
				return "", false
			}
			parts[i] = h
		}
		return "t(" + strings.Join(parts, ",") + ")", true
	}
	switch t := v.(type) {
	case nil:
		return "N", true
	case bool:
		if t {
			return "n1", true
		}
		return "n0", true
	case int64:
		return "n" + strconv.FormatInt(t, 10), true
	case *big.Int:
		return "n" + t.String(), true
	case float64:
		if t == math.Trunc(t) && !math.IsInf(t, 0) {
			i, _ := new(big.Float).SetFloat64(t).Int(nil)
			return "n" + i.String(), true
		}
		return "f" + strconv.FormatFloat(t, 'g', -1, 64), true
	case complex128:
		if imag(t) == 0 {
			return hashKey(&litNode{kind: litConst}, real(t))
		}
		return "c" + strconv.FormatComplex(t, 'g', -1, 128), true
	case string:
		return "s" + t, true
	case []byte:
		return "b" + string(t), true
	}
	return "", false
}

// keyText is str() of a dict key: Go maps need string keys.
func keyText(n *litNode, v any) string {
	if n.kind == litTuple {
		items := v.([]any)
		parts := make([]string, len(n.elts))
		for i, e := range n.elts {
			if e.kind == litTuple {
				parts[i] = keyText(e, items[i])
			} else {
				parts[i] = pyRepr(items[i])
			}
		}
		if len(parts) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return pyStr(v)
}

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// Every test passes WithHome and WithEnv, so none reads the real home
// directory or environment (except TestProcessEnvironment, which sets its own).

func newHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".prefect"), 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func userFile(t *testing.T, home, content string) string {
	t.Helper()
	return writeFile(t, filepath.Join(home, ".prefect", "config.toml"), content)
}

func backendFile(t *testing.T, home, content string) string {
	t.Helper()
	return writeFile(t, filepath.Join(home, ".prefect", "backend.toml"), content)
}

func mustLoad(t *testing.T, home string, env ...string) *Config {
	t.Helper()
	c, err := Load(WithHome(home), WithEnv(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func loadErr(t *testing.T, home string, env ...string) *Error {
	t.Helper()
	c, err := Load(WithHome(home), WithEnv(env))
	if err == nil {
		t.Fatalf("Load succeeded (%v); want an error", c.Map())
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load error %T %v; want *Error", err, err)
	}
	return e
}

func checkKey(t *testing.T, c *Config, key string, want any) {
	t.Helper()
	got, ok := c.Get(key)
	if !ok {
		t.Errorf("Get(%q): missing; want %#v", key, want)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get(%q) = %#v (%T); want %#v (%T)", key, got, got, want, want)
	}
}

func checkAbsent(t *testing.T, c *Config, key string) {
	t.Helper()
	if got, ok := c.Get(key); ok {
		t.Errorf("Get(%q) = %#v; want it absent", key, got)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	c := mustLoad(t, home)
	for key, want := range map[string]any{
		"backend":                     "cloud",
		"debug":                       false,
		"home_dir":                    filepath.Join(home, ".prefect"),
		"cloud.api":                   "https://api.prefect.io",
		"cloud.endpoint":              "https://api.prefect.io",
		"cloud.graphql":               "https://api.prefect.io/graphql",
		"cloud.use_local_secrets":     true,
		"cloud.api_key":               "",
		"cloud.tenant_id":             "",
		"cloud.heartbeat_interval":    30.0,
		"cloud.request_timeout":       int64(15),
		"cloud.agent.labels":          []any{},
		"server.host":                 "http://localhost",
		"server.port":                 int64(4200),
		"server.endpoint":             "http://localhost:4200",
		"server.ui.endpoint":          "http://localhost:8080",
		"logging.level":               "INFO",
		"logging.extra_loggers":       []any{},
		"flows.checkpointing":         false,
		"tasks.defaults.max_retries":  int64(0),
		"context.secrets":             map[string]any{},
		"logging.format":              "[%(asctime)s] %(levelname)s - %(name)s | %(message)s",
		"flows.eager_edge_validation": false,
	} {
		checkKey(t, c, key, want)
	}
	for _, key := range []string{"tasks.defaults.retry_delay", "tasks.defaults.timeout", "user_config_path", "x"} {
		checkAbsent(t, c, key)
	}
	if got := c.Secrets(); got == nil || len(got) != 0 {
		t.Errorf("Secrets() = %#v; want an empty, non-nil map", got)
	}
	if got, want := c.UserConfigPath(), filepath.Join(home, ".prefect", "config.toml"); got != want {
		t.Errorf("UserConfigPath() = %q; want %q", got, want)
	}
	if got, want := c.BackendConfigPath(), filepath.Join(home, ".prefect", "backend.toml"); got != want {
		t.Errorf("BackendConfigPath() = %q; want %q", got, want)
	}
}

// The defaults hold ${...} references; they must follow backend and server.
func TestDefaultReferencesFollowBackend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, user, backend string
		env                 []string
		api, graphql        string
	}{
		{name: "cloud", api: "https://api.prefect.io", graphql: "https://api.prefect.io/graphql"},
		{name: "backend.toml server", backend: `backend = "server"`,
			api: "http://localhost:4200", graphql: "http://localhost:4200/graphql"},
		{name: "server port from env", backend: `backend = "server"`, env: []string{"PREFECT__SERVER__PORT=5000"},
			api: "http://localhost:5000", graphql: "http://localhost:5000/graphql"},
		{name: "server host from user file", user: "[server]\nhost = \"http://prefect.internal\"\n", backend: `backend = "server"`,
			api: "http://prefect.internal:4200", graphql: "http://prefect.internal:4200/graphql"},
		{name: "env backend beats backend.toml", backend: `backend = "server"`, env: []string{"PREFECT__BACKEND=cloud"},
			api: "https://api.prefect.io", graphql: "https://api.prefect.io/graphql"},
		{name: "env api wins", env: []string{"PREFECT__CLOUD__API=http://x:1"},
			api: "http://x:1", graphql: "http://x:1/graphql"},
		{name: "unknown backend has no endpoint", env: []string{"PREFECT__BACKEND=nowhere"}, api: "", graphql: "/graphql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := newHome(t)
			if tt.user != "" {
				userFile(t, home, tt.user)
			}
			if tt.backend != "" {
				backendFile(t, home, tt.backend)
			}
			c := mustLoad(t, home, tt.env...)
			checkKey(t, c, "cloud.api", tt.api)
			checkKey(t, c, "cloud.graphql", tt.graphql)
		})
	}
}

func TestConfigPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  func(home, dir string) []string
		// where the user and backend files are written, relative to home
		userAt, backendAt string
		wantUser          func(home, dir string) string
		wantBackend       func(home, dir string) string
		wantRead          bool
	}{
		{
			name:   "defaults under home",
			userAt: ".prefect/config.toml", backendAt: ".prefect/backend.toml",
			wantUser:    func(h, _ string) string { return filepath.Join(h, ".prefect/config.toml") },
			wantBackend: func(h, _ string) string { return filepath.Join(h, ".prefect/backend.toml") },
			wantRead:    true,
		},
		{
			name: "variables give absolute paths",
			env: func(_, d string) []string {
				return []string{"PREFECT__USER_CONFIG_PATH=" + d + "/u.toml", "PREFECT__BACKEND_CONFIG_PATH=" + d + "/b.toml"}
			},
			userAt: "DIR/u.toml", backendAt: "DIR/b.toml",
			wantUser:    func(_, d string) string { return d + "/u.toml" },
			wantBackend: func(_, d string) string { return d + "/b.toml" },
			wantRead:    true,
		},
		{
			name: "variables are $VAR and ~ expanded",
			env: func(_, d string) []string {
				return []string{"CFG=" + d, "PREFECT__USER_CONFIG_PATH=${CFG}/u.toml", "PREFECT__BACKEND_CONFIG_PATH=~/b.toml"}
			},
			userAt: "DIR/u.toml", backendAt: "b.toml",
			wantUser:    func(_, d string) string { return d + "/u.toml" },
			wantBackend: func(h, _ string) string { return h + "/b.toml" },
			wantRead:    true,
		},
		{
			name: "empty variable turns the file off",
			env: func(_, _ string) []string {
				return []string{"PREFECT__USER_CONFIG_PATH=", "PREFECT__BACKEND_CONFIG_PATH="}
			},
			userAt: ".prefect/config.toml", backendAt: ".prefect/backend.toml",
			wantUser:    func(_, _ string) string { return "" },
			wantBackend: func(_, _ string) string { return "" },
			wantRead:    false,
		},
		{
			name:        "missing files are fine",
			wantUser:    func(h, _ string) string { return filepath.Join(h, ".prefect/config.toml") },
			wantBackend: func(h, _ string) string { return filepath.Join(h, ".prefect/backend.toml") },
			wantRead:    false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home, dir := newHome(t), t.TempDir()
			at := func(rel string) string {
				if strings.HasPrefix(rel, "DIR/") {
					return filepath.Join(dir, strings.TrimPrefix(rel, "DIR/"))
				}
				return filepath.Join(home, rel)
			}
			if tt.userAt != "" {
				writeFile(t, at(tt.userAt), "[from]\nuser = true\n")
			}
			if tt.backendAt != "" {
				writeFile(t, at(tt.backendAt), "backend = \"server\"\n")
			}
			var env []string
			if tt.env != nil {
				env = tt.env(home, dir)
			}
			c := mustLoad(t, home, env...)
			if got, want := c.UserConfigPath(), tt.wantUser(home, dir); got != want {
				t.Errorf("UserConfigPath() = %q; want %q", got, want)
			}
			if got, want := c.BackendConfigPath(), tt.wantBackend(home, dir); got != want {
				t.Errorf("BackendConfigPath() = %q; want %q", got, want)
			}
			if got := c.Bool("from.user"); got != tt.wantRead {
				t.Errorf("user file read = %v; want %v", got, tt.wantRead)
			}
			if got := c.String("backend") == "server"; got != tt.wantRead {
				t.Errorf("backend file read = %v; want %v", got, tt.wantRead)
			}
		})
	}
}

func TestLayering(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, `
backend = "server"
[cloud]
api_key = "from-user"
tenant_id = "t-user"
[logging]
level = "DEBUG"
[custom.deep]
a = 1
b = 2
`)
	backendFile(t, home, "backend = \"cloud\"\n[custom.deep]\nb = 3\n")
	c := mustLoad(t, home, "PREFECT__CLOUD__TENANT_ID=t-env", "PREFECT__CUSTOM__DEEP__C=4")
	for key, want := range map[string]any{
		"backend":                 "cloud",     // backend.toml beats the user file
		"cloud.api_key":           "from-user", // user file beats defaults
		"cloud.tenant_id":         "t-env",     // environment beats the user file
		"cloud.use_local_secrets": true,        // defaults survive beside user keys
		"cloud.endpoint":          "https://api.prefect.io",
		"logging.level":           "DEBUG",
		"logging.format":          "[%(asctime)s] %(levelname)s - %(name)s | %(message)s",
		"custom.deep":             map[string]any{"a": int64(1), "b": int64(3), "c": int64(4)},
	} {
		checkKey(t, c, key, want)
	}
}

func TestEnvMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		key  string
		want any
	}{
		{"secret keeps its case", []string{"PREFECT__CONTEXT__SECRETS__mY_KeY=v"}, "context.secrets.mY_KeY", "v"},
		{"lower-case prefix spelling", []string{"PREFECT__context__secrets__lower_KEY=v"}, "context.secrets.lower_KEY", "v"},
		{"context key is lower-cased", []string{"PREFECT__CONTEXT__FLOW_RUN_ID=12345"}, "context.flow_run_id", int64(12345)},
		{"mixed-case context key", []string{"PREFECT__CONTEXT__strange_VAlUE=false"}, "context.strange_value", false},
		{"secret nests and keeps case", []string{"PREFECT__CONTEXT__SECRETS__A__bC=v"}, "context.secrets.A", map[string]any{"bC": "v"}},
		{"section key", []string{"PREFECT__LOGGING__LEVEL=DEBUG"}, "logging.level", "DEBUG"},
		{"deep key", []string{"PREFECT__TASKS__DEFAULTS__MAX_RETRIES=4"}, "tasks.defaults.max_retries", int64(4)},
		{"new nested keys", []string{"PREFECT__ENV_VARS__TWICE__NESTED__NEW_KEY=TEST"}, "env_vars.twice.nested.new_key", "TEST"},
		{"top-level key, as Prefect's agents rely on", []string{"PREFECT__BACKEND=server"}, "backend", "server"},
		{"user_config_path shows up like in Prefect", []string{"PREFECT__USER_CONFIG_PATH=/nonexistent/c.toml"}, "user_config_path", "/nonexistent/c.toml"},
		{"JSON secret becomes a table", []string{`PREFECT__CONTEXT__SECRETS__AWS_CREDENTIALS={"ACCESS_KEY": "abcdef", "SECRET_ACCESS_KEY": "ghijklmn"}`},
			"context.secrets.AWS_CREDENTIALS", map[string]any{"ACCESS_KEY": "abcdef", "SECRET_ACCESS_KEY": "ghijklmn"}},
		{"control characters pass through", []string{"PREFECT__ENV_VARS__ESCAPED=line 1\nline 2\rand 3\tand 4"}, "env_vars.escaped", "line 1\nline 2\rand 3\tand 4"},
		{"later duplicate wins", []string{"PREFECT__LOGGING__LEVEL=DEBUG", "PREFECT__LOGGING__LEVEL=ERROR"}, "logging.level", "ERROR"},
		{"table value replaces a section", []string{`PREFECT__CONTEXT__SECRETS={"A": "x"}`}, "context.secrets", map[string]any{"A": "x"}},
		{"keys below a table value join it", []string{`PREFECT__CONTEXT__SECRETS={"A": "x"}`, "PREFECT__CONTEXT__SECRETS__B=y"},
			"context.secrets", map[string]any{"A": "x", "B": "y"}},
		{"a later table value replaces earlier keys", []string{"PREFECT__CONTEXT__SECRETS__B=y", `PREFECT__CONTEXT__SECRETS={"A": "x"}`},
			"context.secrets", map[string]any{"A": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkKey(t, mustLoad(t, newHome(t), tt.env...), tt.key, tt.want)
		})
	}

	t.Run("ignored names", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, newHome(t),
			"prefect__logging__level=DEBUG", // the prefix is case-sensitive
			"PREFECT_LOGGING__LEVEL=DEBUG",  // one underscore is not the prefix
			"LOGGING__LEVEL=DEBUG",
			"NOEQUALS",
		)
		checkKey(t, c, "logging.level", "INFO")
	})

	t.Run("file keys keep their case", func(t *testing.T) {
		t.Parallel()
		home := newHome(t)
		userFile(t, home, "[SeCtIoN]\nKeY = 1\n[context]\nspECIAL_TOP_key = \"foo\"\n[context.secrets]\nKeY = 1\n")
		c := mustLoad(t, home, "PREFECT__SECTION__KEY=2")
		checkKey(t, c, "SeCtIoN.KeY", int64(1))
		checkKey(t, c, "section.key", int64(2))
		checkKey(t, c, "context.spECIAL_TOP_key", "foo")
		if got, want := c.Secrets(), map[string]any{"KeY": int64(1)}; !reflect.DeepEqual(got, want) {
			t.Errorf("Secrets() = %#v; want %#v", got, want)
		}
	})
}

// Environment values are coerced after $VAR expansion and then once more
// with every other string, as in Prefect's interpolate_config.
func TestEnvCoercion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"true", true}, {"TRUE", true}, {"trUe", true}, {"True", true},
		{"false", false}, {"False", false}, {"FALSE", false}, {"falSe", false},
		{"10", int64(10)}, {"-10", int64(-10)}, {"+3", int64(3)},
		{"7.5", 7.5}, {"-7.5", -7.5}, {"1e3", 1000.0}, {".5", 0.5}, {"5.", 5.0},
		{"0x10", int64(16)}, {"0o17", int64(15)}, {"0b101", int64(5)}, {"1_000", int64(1000)},
		{"None", nil},
		{"[1, 2]", []any{int64(1), int64(2)}},
		{"(1, 2)", []any{int64(1), int64(2)}},
		{"1, 2", []any{int64(1), int64(2)}},
		{"{'a': 1}", map[string]any{"a": int64(1)}},
		{`{"a": [1, {"b": None}]}`, map[string]any{"a": []any{int64(1), map[string]any{"b": nil}}}},
		{"'x'", "x"},
		{`"x y"`, "x y"},
		{"'10'", int64(10)}, // "10" after the first pass, 10 after the second
		{`'"10"'`, "10"},    // quote twice to keep a string of digits
		{"'True'", true},    // likewise for booleans
		{"0123", "0123"},    // leading zeros are not a Python int
		{"hello", "hello"},  // a bare word stays a string
		{"hello world", "hello world"},
		{"[true]", "[true]"}, // Python spells it True
		{"1 + 1", "1 + 1"},   // only literals, no arithmetic
		{"--1", "--1"},
		{"12345678901234567890", mustBig("12345678901234567890")},
		{"1+2j", complex(1, 2)},
		{"b'raw'", []byte("raw")},
		{"'\xff'", "'\xff'"}, // not UTF-8: Python cannot compile it, so it stays as written
		{"", ""},
		{"INFO", "INFO"},
		{"http://localhost:4200", "http://localhost:4200"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			checkKey(t, mustLoad(t, newHome(t), "PREFECT__T__V="+tt.in), "t.v", tt.want)
		})
	}
}

func mustBig16(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic(s)
	}
	return n
}

func mustBig(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

// File strings are coerced once.
func TestFileCoercion(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, `
[t]
port = "4200"
list = "[1, 'a']"
quoted = "'10'"
yes = "Yes"
flag = "TRUE"
none = "None"
native_int = 7
native_list = ["1", "True"]
empty = ""
when = 1979-05-27T07:32:00Z

[[t.items]]
name = "a"
[[t.items]]
name = "b"
n = "2"
`)
	c := mustLoad(t, home)
	for key, want := range map[string]any{
		"t.port":        int64(4200),
		"t.list":        []any{int64(1), "a"},
		"t.quoted":      "10",
		"t.yes":         "Yes",
		"t.flag":        true,
		"t.none":        nil,
		"t.native_int":  int64(7),
		"t.native_list": []any{"1", "True"}, // strings inside arrays are left alone
		"t.empty":       "",
		"t.items":       []any{map[string]any{"name": "a"}, map[string]any{"name": "b", "n": "2"}},
		"t.when":        time.Date(1979, 5, 27, 7, 32, 0, 0, time.UTC),
	} {
		got, ok := c.Get(key)
		if tm, isTime := want.(time.Time); isTime {
			if gt, _ := got.(time.Time); !ok || !gt.Equal(tm) {
				t.Errorf("Get(%q) = %#v; want %v", key, got, tm)
			}
			continue
		}
		checkKey(t, c, key, want)
	}
}

func TestEnvInterpolation(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, `
[v]
path = "$PATH"
braced = "${PATH}/bin"
unknown = "$NOPE and ${NOPE}"
not_a_name = "xxx$PATHxxx"
empty_braces = "${}"
dollar = "cost: $"
home = "~/data"
tilde_only = "~"
tilde_inside = "a~/b"
chain = "$CHAIN1"
chain_quoted = "$CHAIN_Q1"
one_step_quoted = "$ONE_STEP_Q"
looping = "$LOOP"
number = "$NUM"
`)
	c := mustLoad(t, home,
		"PATH=1/2/3",
		"CHAIN1=$CHAIN2", "CHAIN2=5",
		"CHAIN_Q1=$CHAIN_Q2", "CHAIN_Q2='10'",
		"ONE_STEP_Q='10'",
		"LOOP=x$LOOP",
		"NUM=42",
		"PREFECT__V__FROM_ENV=$PATH:~",
	)
	for key, want := range map[string]any{
		"v.path":   "1/2/3",
		"v.braced": "1/2/3/bin",
		// $NOPE stays; ${NOPE} then reads as a reference to a missing
		// key, as in Prefect.
		"v.unknown":      "$NOPE and ",
		"v.not_a_name":   "xxx$PATHxxx",
		"v.empty_braces": "${}",
		"v.dollar":       "cost: $",
		"v.home":         home + "/data",
		"v.tilde_only":   home,
		"v.tilde_inside": "a~/b",
		"v.chain":        int64(5),
		// Expanded twice or more, Prefect coerces inside the expansion and
		// again after it; expanded once, only after it.
		"v.chain_quoted":    int64(10),
		"v.one_step_quoted": "10",
		"v.looping":         nil, // never settles: Prefect gives None
		"v.number":          int64(42),
		"v.from_env":        "1/2/3:~",
	} {
		checkKey(t, c, key, want)
	}
}

func TestHomeFromEnvironment(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, "[v]\nhome = \"~/x\"\n")
	c, err := Load(WithEnv([]string{"HOME=" + home}))
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, c, "v.home", home+"/x")
	if got, want := c.UserConfigPath(), home+"/.prefect/config.toml"; got != want {
		t.Errorf("UserConfigPath() = %q; want %q", got, want)
	}
	// WithHome wins over HOME.
	other := newHome(t)
	c, err = Load(WithEnv([]string{"HOME=" + home}), WithHome(other))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.UserConfigPath(), other+"/.prefect/config.toml"; got != want {
		t.Errorf("UserConfigPath() = %q; want %q", got, want)
	}
}

func TestHomeFallsBackToUserHomeDir(t *testing.T) {
	t.Parallel()
	want, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	// Both files are turned off, so nothing under the real home is read.
	c, err := Load(WithEnv([]string{"PREFECT__USER_CONFIG_PATH=", "PREFECT__BACKEND_CONFIG_PATH="}))
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, c, "home_dir", strings.TrimRight(want, "/")+"/.prefect")
}

func TestReferences(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, `
[general]
x = 1
y = "hi"
    [general.nested]
    x = "${general.x}"
    x_interpolated = "${general.x} + 1"
    y = "${general.y} or bye"

[interpolation]
key = "x"
value = "${general.nested.${interpolation.key}}"
bad_value = "${general.bad_key}"
partial_bad = "a${general.bad_key}b"
table_ref = "${general}"
chain_a = "${interpolation.chain_b}"
chain_b = "${interpolation.chain_c}"
chain_c = true

[refs]
bool_whole = "${env_vars.true}"
bool_text = "${env_vars.true} string"
none_text = "${env_vars.none} here"
float_text = "t=${cloud.heartbeat_interval}"
list_text = "${env_vars.list}"
list_in_text = "l=${env_vars.list}"
dict_in_text = "d=${env_vars.dict}"
from_env = "${env_vars.token}"
eleven = "${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}${refs.one}"
one = "x"

[dates]
day = 1979-05-27
at = 07:32:00.5
local = 1979-05-27T07:32:00
offset = 1979-05-27T07:32:00-07:00
day_text = "d=${dates.day}"
at_text = "${dates.at}!"
local_text = "${dates.local}!"
offset_text = "${dates.offset}!"
`)
	c := mustLoad(t, home,
		"PREFECT__ENV_VARS__TRUE=true",
		"PREFECT__ENV_VARS__NONE=None",
		"PREFECT__ENV_VARS__LIST=[1, 'a', None]",
		`PREFECT__ENV_VARS__DICT={"k": "v", "a": 1.0}`,
		"PREFECT__ENV_VARS__TOKEN=${general.y}!",
	)
	for key, want := range map[string]any{
		"general.nested.x":              int64(1), // a whole reference keeps the type
		"general.nested.x_interpolated": "1 + 1",  // text is not coerced again
		"general.nested.y":              "hi or bye",
		"interpolation.value":           int64(1), // nested references
		"interpolation.bad_value":       "",
		"interpolation.partial_bad":     "ab",
		"interpolation.table_ref":       "", // only leaves can be referenced
		"interpolation.chain_a":         true,
		"refs.bool_whole":               true,
		"refs.bool_text":                "True string",
		"refs.none_text":                "None here",
		"refs.float_text":               "t=30.0",
		"refs.list_text":                []any{int64(1), "a", nil},
		"refs.list_in_text":             "l=[1, 'a', None]",
		"refs.dict_in_text":             "d={'a': 1.0, 'k': 'v'}",
		"refs.from_env":                 "hi!",
		"dates.day_text":                "d=1979-05-27",
		"dates.at_text":                 "07:32:00.500000!",
		"dates.local_text":              "1979-05-27 07:32:00!",
		"dates.offset_text":             "1979-05-27 07:32:00-07:00!",
		// One reference per pass, ten passes: the eleventh stays.
		"refs.eleven": "xxxxxxxxxx${refs.one}",
	} {
		checkKey(t, c, key, want)
	}
}

func TestTaskDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  []string
		want map[string]any // nil value: absent
	}{
		{name: "defaults", want: map[string]any{"max_retries": int64(0), "retry_delay": nil, "timeout": nil}},
		{name: "file values", file: "[tasks.defaults]\nmax_retries = 3\nretry_delay = 10\ntimeout = 30\n",
			want: map[string]any{"max_retries": int64(3), "retry_delay": 10 * time.Second, "timeout": int64(30)}},
		{name: "env values", env: []string{"PREFECT__TASKS__DEFAULTS__RETRY_DELAY=5", "PREFECT__TASKS__DEFAULTS__MAX_RETRIES=2"},
			want: map[string]any{"max_retries": int64(2), "retry_delay": 5 * time.Second}},
		{name: "None and false unset", env: []string{"PREFECT__TASKS__DEFAULTS__RETRY_DELAY=None", "PREFECT__TASKS__DEFAULTS__MAX_RETRIES=None", "PREFECT__TASKS__DEFAULTS__TIMEOUT=false"},
			want: map[string]any{"max_retries": int64(0), "retry_delay": nil, "timeout": nil}},
		{name: "falsy max_retries is 0", env: []string{"PREFECT__TASKS__DEFAULTS__MAX_RETRIES=[]"},
			want: map[string]any{"max_retries": int64(0)}},
		{name: "zero float max_retries is 0", env: []string{"PREFECT__TASKS__DEFAULTS__MAX_RETRIES=0.0"},
			want: map[string]any{"max_retries": int64(0)}},
		{name: "True delay is one second, as Python's int True", env: []string{"PREFECT__TASKS__DEFAULTS__RETRY_DELAY=true"},
			want: map[string]any{"retry_delay": time.Second}},
		{name: "zero delay is kept", env: []string{"PREFECT__TASKS__DEFAULTS__RETRY_DELAY=0"},
			want: map[string]any{"retry_delay": time.Duration(0)}},
		{name: "float delay stays a float", env: []string{"PREFECT__TASKS__DEFAULTS__RETRY_DELAY=2.5"},
			want: map[string]any{"retry_delay": 2.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := newHome(t)
			if tt.file != "" {
				userFile(t, home, tt.file)
			}
			c := mustLoad(t, home, tt.env...)
			for k, want := range tt.want {
				if want == nil {
					checkAbsent(t, c, "tasks.defaults."+k)
				} else {
					checkKey(t, c, "tasks.defaults."+k, want)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, home string) (env []string, file string)
		is       error
		key      string
		variable string
		line     int
		col      int
	}{
		{
			name: "user config is a directory",
			setup: func(t *testing.T, home string) ([]string, string) {
				p := filepath.Join(home, ".prefect", "config.toml")
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
				return nil, p
			},
			is: ErrDirectory,
		},
		{
			name: "backend config from a variable is a directory",
			setup: func(t *testing.T, home string) ([]string, string) {
				d := t.TempDir()
				return []string{"PREFECT__BACKEND_CONFIG_PATH=" + d}, d
			},
			is: ErrDirectory, variable: "PREFECT__BACKEND_CONFIG_PATH",
		},
		{
			name: "TOML syntax error",
			setup: func(t *testing.T, home string) ([]string, string) {
				return nil, userFile(t, home, "[cloud]\napi_key = \"ok\"\ntenant_id = oops\n")
			},
			is: ErrSyntax, key: "cloud.tenant_id", line: 3, col: 13,
		},
		{
			name: "syntax error in backend.toml",
			setup: func(t *testing.T, home string) ([]string, string) {
				return nil, backendFile(t, home, "backend = \n")
			},
			is: ErrSyntax, key: "backend", line: 1,
		},
		{
			name: "file sets a section to a value",
			setup: func(t *testing.T, home string) ([]string, string) {
				return nil, userFile(t, home, "cloud = 1\n")
			},
			is: ErrConflict, key: "cloud",
		},
		{
			name: "file makes a value a section",
			setup: func(t *testing.T, home string) ([]string, string) {
				return nil, userFile(t, home, "[backend]\nx = 1\n")
			},
			is: ErrConflict, key: "backend",
		},
		{
			name: "backend.toml makes a value a section",
			setup: func(t *testing.T, home string) ([]string, string) {
				return nil, backendFile(t, home, "[cloud.api]\nx = 1\n")
			},
			is: ErrConflict, key: "cloud.api",
		},
		{
			name: "env sets a section to a value",
			setup: func(t *testing.T, home string) ([]string, string) {
				return []string{"PREFECT__CLOUD=x"}, ""
			},
			is: ErrConflict, key: "cloud", variable: "PREFECT__CLOUD",
		},
		{
			name: "env puts a key under a value",
			setup: func(t *testing.T, home string) ([]string, string) {
				return []string{"PREFECT__BACKEND__X=1"}, ""
			},
			is: ErrConflict, key: "backend.x", variable: "PREFECT__BACKEND__X",
		},
		{
			name: "env sets the (empty) secrets section to a value",
			setup: func(t *testing.T, home string) ([]string, string) {
				return []string{"PREFECT__CONTEXT__SECRETS=hunter2"}, ""
			},
			is: ErrConflict, key: "context.secrets", variable: "PREFECT__CONTEXT__SECRETS",
		},
		{
			name: "env vars collide with each other",
			setup: func(t *testing.T, home string) ([]string, string) {
				return []string{"PREFECT__A__B=1", "PREFECT__A__B__C=2"}, ""
			},
			is: ErrConflict, key: "a.b.c", variable: "PREFECT__A__B__C",
		},
		{
			name: "path variable never settles",
			setup: func(t *testing.T, home string) ([]string, string) {
				return []string{"LOOP=x$LOOP", "PREFECT__USER_CONFIG_PATH=$LOOP"}, "$LOOP"
			},
			is: ErrExpansion, variable: "PREFECT__USER_CONFIG_PATH",
		},
		{
			name: "symlink loop cannot be read",
			setup: func(t *testing.T, home string) ([]string, string) {
				p := filepath.Join(home, ".prefect", "config.toml")
				if err := os.Symlink(p, p); err != nil {
					t.Fatal(err)
				}
				return nil, p
			},
			is: syscall.ELOOP,
		},
		{
			name: "env value never settles",
			setup: func(t *testing.T, home string) ([]string, string) {
				return []string{"LOOP=x$LOOP", "PREFECT__T__V=$LOOP"}, ""
			},
			is: ErrExpansion, key: "t.v", variable: "PREFECT__T__V",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := newHome(t)
			env, file := tt.setup(t, home)
			e := loadErr(t, home, env...)
			if !errors.Is(e, tt.is) {
				t.Errorf("error %q is not %v", e, tt.is)
			}
			if e.File != file || e.Key != tt.key || e.Var != tt.variable {
				t.Errorf("File, Key, Var = %q, %q, %q; want %q, %q, %q", e.File, e.Key, e.Var, file, tt.key, tt.variable)
			}
			if e.Line != tt.line || tt.col != 0 && e.Column != tt.col {
				t.Errorf("Line, Column = %d, %d; want %d, %d", e.Line, e.Column, tt.line, tt.col)
			}
			msg := e.Error()
			for _, part := range []string{file, tt.variable, tt.key} {
				if !strings.Contains(msg, part) {
					t.Errorf("Error() = %q; want it to name %q", msg, part)
				}
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	e := loadErr(t, newHome(t), "PREFECT__CLOUD=x")
	if got, want := e.Error(), `config: environment variable PREFECT__CLOUD: key "cloud": "cloud" is a section, so it cannot be set to a value`; got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

// A TOML syntax error is BurntSushi/toml's, placed in the file: its text is
// the library's reason (whatever its wording) after the file, line, column
// and key, with the value withheld; errors.As reaches the library's error.
func TestTOMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		line, col int
		key       string
	}{
		{"[context.secrets]\nTOKEN = s3cr3t-value\n", 2, 9, "context.secrets.TOKEN"},
		{"[cloud]\napi_key = \"ok\"\ntenant_id = s3cr3t\n", 3, 13, "cloud.tenant_id"},
		{"[context.secrets]\nPIN = 99999999999999999999\n", 2, 7, "context.secrets.PIN"},
		{"[context.secrets]\nTOKEN = \"s3cr3t\\q\"\n", 2, 10, "context.secrets.TOKEN"},
		{"a = 1\na = 2\n", 2, 1, "a"},
		{"a = 1\n\xff = 1\n", 2, 1, ""}, // the library's own Position says column 7 of line 2
		{"backend = \n", 1, 11, "backend"},
	}
	for _, tt := range tests {
		home := newHome(t)
		p := userFile(t, home, tt.file)
		e := loadErr(t, home)
		if !errors.Is(e, ErrSyntax) || e.File != p || e.Line != tt.line || e.Column != tt.col || e.Key != tt.key {
			t.Errorf("file %q: %q (%s:%d:%d, key %q); want ErrSyntax at %d:%d, key %q",
				tt.file, e, e.File, e.Line, e.Column, e.Key, tt.line, tt.col, tt.key)
			continue
		}
		prefix := fmt.Sprintf("config: %s:%d:%d: ", p, tt.line, tt.col)
		if tt.key != "" {
			prefix += fmt.Sprintf("key %q: ", tt.key)
		}
		prefix += "invalid TOML: "
		if msg := e.Error(); !strings.HasPrefix(msg, prefix) || len(msg) == len(prefix) || strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "9999") {
			t.Errorf("file %q: Error() = %q; want %q and the library's reason, withholding the value", tt.file, msg, prefix)
		}
		var pe toml.ParseError
		var ppe *toml.ParseError
		if !errors.As(e, &pe) || !errors.As(e, &ppe) {
			t.Errorf("file %q: errors.As does not reach toml.ParseError", tt.file)
			continue
		}
		if pe.LastKey != tt.key || ppe.Position != pe.Position || pe.Message == "" {
			t.Errorf("file %q: ParseError %+v; want LastKey %q", tt.file, pe, tt.key)
		}
		for err := errors.Unwrap(e); err != nil; err = errors.Unwrap(err) {
			if _, ok := err.(toml.ParseError); ok {
				t.Errorf("file %q: the library's error, whose text quotes the file, is in the Unwrap chain", tt.file)
			}
		}
	}
}

// withhold keeps a message's wording and takes out what may be the file's.
// The messages are made up: the rule depends on none of the library's.
func TestWithhold(t *testing.T) {
	t.Parallel()
	const near = "key = Sesame-Open 12345678 x\n"
	tests := []struct{ msg, want string }{
		{`found "Sesame-Open" here`, `found "…" here`},
		{`found "anything at all" here`, `found "…" here`}, // quoted: withheld wherever it comes from
		{`found 'S' here`, `found '…' here`},
		{`found '7' here`, `found '…' here`},
		{`expected ',' or ']' or '\n' or '"', got '\x00'`, `expected ',' or ']' or '\n' or '"', got '\x00'`},
		{`expected a comma (',') or (']')`, `expected a comma (',') or (']')`},
		{`Key 'a."b.c"' was defined.`, `Key '…' was defined.`},
		{`bad value: 'Sesame'`, `bad value: '…'`},
		{`12345678 is out of range`, `… is out of range`},
		{`range (12345678) ends`, `range (…) ends`},
		{`value 4321 is too big`, `value 4321 is too big`}, // not in the lines around
		{`key is bad`, `key is bad`},                       // in them, but shorter than four bytes
		{`the Open door`, `the … door`},
		{`it's the library's own word`, `it's the library's own word`},
		{`unclosed "Sesame`, `unclosed "…`},
		{`invalid escape '\q' and "\"x"`, `invalid escape '…' and "…"`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := withhold(tt.msg, near); got != tt.want {
			t.Errorf("withhold(%q) = %q; want %q", tt.msg, got, tt.want)
		}
	}
}

func TestUnreadableFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	home := newHome(t)
	p := userFile(t, home, "debug = true\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	e := loadErr(t, home)
	if e.File != p || !errors.Is(e, fs.ErrPermission) {
		t.Errorf("got %q (File %q); want a permission error naming %q", e, e.File, p)
	}
}

func TestSkippedPaths(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	file := userFile(t, home, "debug = true\n")
	for _, p := range []string{os.DevNull, file + "/below-a-file", filepath.Join(home, "nope", "c.toml")} {
		c := mustLoad(t, home, "PREFECT__USER_CONFIG_PATH="+p)
		if c.Bool("debug") {
			t.Errorf("user path %q: debug = true; want the file skipped", p)
		}
	}
}

// Secret values must never reach Error(), whatever the TOML parser says.
func TestErrorsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	const secret = "S3CR3T"
	files := []string{
		"[context.secrets]\nTOKEN = S3CR3T\n",
		"[context.secrets]\nTOKEN = \"S3CR3T\nrest\"\n",
		"[context.secrets]\nTOKEN = 'S3CR3T\n",
		"[context.secrets]\nTOKEN = 0xS3CR3T\n",
		"[context.secrets]\nTOKEN = 1_S3CR3T\n",
		"[context.secrets]\nTOKEN = 12__34 # S3CR3T\n",
		"[context.secrets]\nTOKEN = 9999999999999999999999S3CR3T\n",
		"[context.secrets]\nPIN = 99999999999999999999\n",
		"[context.secrets]\nTOKEN = 1979-13-45T99:99:99S3CR3T\n",
		"[context.secrets]\nTOKEN = \"S3CR3T\\q\"\n",
		"[context.secrets]\nTOKEN = \"ok\"\nTOKEN = \"S3CR3T\"\n",
		"[context.secrets]\nTOKEN = [\"S3CR3T\" \"x\"]\n",
		"[context.secrets]\nTOKEN = {a = \"S3CR3T\"\n",
		"[cloud]\napi_key = S3CR3T-key\n",
		"[context.secrets]\nTOKEN = \"S3CR3T\" trailing\n",
	}
	for _, content := range files {
		home := newHome(t)
		userFile(t, home, content)
		e := loadErr(t, home)
		var chain []string
		for err := error(e); err != nil; err = errors.Unwrap(err) {
			chain = append(chain, err.Error())
		}
		for _, msg := range chain {
			if strings.Contains(msg, secret) || strings.Contains(msg, "99999999999999999999") {
				t.Errorf("file %q: error text %q shows the secret", content, msg)
			}
		}
		if !errors.Is(e, ErrSyntax) || e.Line == 0 {
			t.Errorf("file %q: got %q; want a syntax error with a line", content, e)
		}
	}
	e := loadErr(t, newHome(t), "PREFECT__CONTEXT__SECRETS="+secret)
	if strings.Contains(e.Error(), secret) {
		t.Errorf("env conflict error %q shows the secret", e)
	}
}

func TestLoadReadsEveryTime(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, "[logging]\nlevel = \"DEBUG\"\n")
	first := mustLoad(t, home)
	userFile(t, home, "[logging]\nlevel = \"ERROR\"\n")
	second := mustLoad(t, home)
	third := mustLoad(t, home, "PREFECT__LOGGING__LEVEL=WARNING")
	for c, want := range map[*Config]string{first: "DEBUG", second: "ERROR", third: "WARNING"} {
		if got := c.String("logging.level"); got != want {
			t.Errorf("logging.level = %q; want %q", got, want)
		}
	}
}

func TestProcessEnvironment(t *testing.T) {
	// Not parallel: t.Setenv.
	home := newHome(t)
	t.Setenv("PREFECT__USER_CONFIG_PATH", filepath.Join(home, "u.toml"))
	t.Setenv("PREFECT__BACKEND_CONFIG_PATH", filepath.Join(home, "b.toml"))
	t.Setenv("PREFECT__CONTEXT__SECRETS__FromOS", "yes")
	t.Setenv("CONFIG_TEST_TOKEN", "abc")
	writeFile(t, filepath.Join(home, "u.toml"), "[v]\ntoken = \"$CONFIG_TEST_TOKEN\"\n")
	c, err := Load(WithHome(home))
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, c, "context.secrets.FromOS", "yes")
	checkKey(t, c, "v.token", "abc")
	// WithEnv replaces the process environment entirely.
	c = mustLoad(t, home)
	checkAbsent(t, c, "context.secrets.FromOS")
	checkAbsent(t, c, "v.token")
}

func TestAccessorsReturnCopies(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, "[context.secrets]\nA = \"a\"\nL = [1, 2]\n")
	c := mustLoad(t, home)

	s := c.Secrets()
	s["A"] = "changed"
	s["L"].([]any)[0] = "changed"
	m := c.Map()
	m["cloud"].(map[string]any)["api"] = "changed"
	m["backend"] = "changed"
	v, _ := c.Get("context")
	v.(map[string]any)["secrets"] = nil

	checkKey(t, c, "context.secrets", map[string]any{"A": "a", "L": []any{int64(1), int64(2)}})
	checkKey(t, c, "cloud.api", "https://api.prefect.io")
	checkKey(t, c, "backend", "cloud")
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, newHome(t), "PREFECT__T__NONE=None", "PREFECT__T__LIST=[1, 2]")
	for key, want := range map[string]string{
		"backend":                  "cloud",
		"server.port":              "4200",
		"cloud.use_local_secrets":  "true",
		"cloud.heartbeat_interval": "30",
		"t.none":                   "",
		"t.list":                   "[1 2]",
		"missing":                  "",
		"cloud.missing":            "",
		"backend.deeper":           "",
	} {
		if got := c.String(key); got != want {
			t.Errorf("String(%q) = %q; want %q", key, got, want)
		}
	}
	for key, want := range map[string]bool{
		"cloud.use_local_secrets": true,
		"debug":                   false,
		"backend":                 false, // not a bool
		"missing":                 false,
	} {
		if got := c.Bool(key); got != want {
			t.Errorf("Bool(%q) = %v; want %v", key, got, want)
		}
	}
	if _, ok := c.Get("cloud.api.deeper"); ok {
		t.Error(`Get("cloud.api.deeper") found a value below a string`)
	}
	var nilConfig *Config
	if nilConfig.String("backend") != "" || nilConfig.Bool("debug") || len(nilConfig.Map()) != 0 ||
		len(nilConfig.Secrets()) != 0 || nilConfig.UserConfigPath() != "" || nilConfig.BackendConfigPath() != "" {
		t.Error("a nil *Config should read as empty")
	}
}

// literal is Prefect's literal_eval step in config's types; the Python
// rules themselves are internal/python's, tested there against CPython.
func TestLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any // notLiteral: the text stays a string
	}{
		{"7", int64(7)}, {"9223372036854775808", mustBig("9223372036854775808")}, {"-7.5", -7.5},
		{"1+2j", complex(1, 2)}, {"None", nil}, {"'a'", "a"}, {"b'a'", []byte("a")},
		{"[1, (2,), {3}]", []any{int64(1), []any{int64(2)}, []any{int64(3)}}},
		{"()", []any{}}, {"(1,)", []any{int64(1)}}, {"1, 2,", []any{int64(1), int64(2)}},
		{"set()", []any{}}, {"{None, 'a', b'a', (1, 2), 'a'}", []any{nil, "a", []byte("a"), []any{int64(1), int64(2)}}},
		{"{}", map[string]any{}}, {"{'a': 1, 'b': [2]}", map[string]any{"a": int64(1), "b": []any{int64(2)}}},
		// Dict keys become their str().
		{"{1: 'x', True: 'y'}", map[string]any{"1": "y"}}, {"{None: 1}", map[string]any{"None": int64(1)}},
		{"{(1, 'a'): 1}", map[string]any{"(1, 'a')": int64(1)}},
		{"{1.5: 'a', 2j: 'b', b'x': 'c', ((1,), 2): 'd', 2.0: 'e', 2: 'f', -0.0: 'g'}",
			map[string]any{"1.5": "a", "2j": "b", "b'x'": "c", "((1,), 2)": "d", "2.0": "f", "-0.0": "g"}},
		{"{('a,sb',): 1, ('a', 'b'): 2}", map[string]any{"('a,sb',)": int64(1), "('a', 'b')": int64(2)}},
		{"{1: 'int', '1': 'str'}", map[string]any{"1": "str"}}, // one str(): the later wins
		{"{'a': {(1,): {2}}}", map[string]any{"a": map[string]any{"(1,)": []any{int64(2)}}}},
		{"[{1: 2}, ({3: 4},)]", []any{map[string]any{"1": int64(2)}, []any{map[string]any{"3": int64(4)}}}},

		{"", notLiteral}, {"x", notLiteral}, {"01", notLiteral}, {"{[1]: 2}", notLiteral},
		{`'\xff'`, "\u00ff"}, {`'\udcff'`, "\xff"}, // a lone surrogate is the byte os.environ had
		{"'\xff'", notLiteral}, // the byte itself is a surrogate Python cannot compile
		// An int key too long for str() (Python's ValueError).
		{"{0x" + strings.Repeat("f", 4000) + ": 1}", notLiteral},
		{"[{0x" + strings.Repeat("f", 4000) + ": 1}]", notLiteral},
		{"{0x" + strings.Repeat("f", 3000) + ": 1}", map[string]any{mustBig16(strings.Repeat("f", 3000)).String(): int64(1)}},
	}
	for _, tt := range tests {
		got, ok := literal(tt.in)
		if tt.want == notLiteral {
			if ok {
				t.Errorf("literal(%.60q) = %#.60v; want it refused", tt.in, got)
			}
			continue
		}
		if !ok {
			t.Errorf("literal(%.60q) refused; want %#.60v", tt.in, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("literal(%.60q) = %#.60v (%T); want %#.60v (%T)", tt.in, got, got, tt.want, tt.want)
		}
	}
}

type notLiteralType struct{}

var notLiteral = notLiteralType{}

func TestExpandVars(t *testing.T) {
	t.Parallel()
	x := &expander{env: map[string]string{"A": "1", "B": "$A", "A_B": "ab", "EMPTY": ""}}
	for in, want := range map[string]string{
		"$A":        "1",
		"${A}":      "1",
		"$A$A":      "11",
		"$B":        "$A", // one pass: no re-expansion inside a value
		"$A_B":      "ab", // names run over word characters
		"${A}_B":    "1_B",
		"$EMPTY|":   "|",
		"$":         "$",
		"$$A":       "$1",
		"${":        "${",
		"${A":       "${A",
		"${}":       "${}",
		"${a.b}":    "${a.b}",
		"$-A":       "$-A",
		"${${A}.x}": "${${A}.x}",
	} {
		if got := x.expandVars(in); got != want {
			t.Errorf("expandVars(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestExpandUser(t *testing.T) {
	t.Parallel()
	x := &expander{home: "/home/u/", hasHome: true}
	for in, want := range map[string]string{
		"~":                   "/home/u",
		"~/":                  "/home/u/",
		"~/a/b":               "/home/u/a/b",
		"a/~":                 "a/~",
		"~no_such_user_xyz/a": "~no_such_user_xyz/a",
		"~no_such_user_xyz":   "~no_such_user_xyz",
	} {
		if got := x.expandUser(in); got != want {
			t.Errorf("expandUser(%q) = %q; want %q", in, got, want)
		}
	}
	root := &expander{home: "/", hasHome: true}
	if got := root.expandUser("~"); got != "/" {
		t.Errorf("home / : expandUser(~) = %q; want /", got)
	}
	none := &expander{}
	if got := none.expandUser("~/a"); got != "~/a" {
		t.Errorf("no home: expandUser(~/a) = %q; want it unchanged", got)
	}
}

func BenchmarkLoad(b *testing.B) {
	home := b.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".prefect"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".prefect", "config.toml"),
		[]byte("[context.secrets]\nA = \"a\"\nB = \"{'x': [1, 2, 3]}\"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	env := []string{"PREFECT__CLOUD__API_KEY=k", "PREFECT__CONTEXT__SECRETS__C=[1, 2]", "HOME=" + home}
	for b.Loop() {
		if _, err := Load(WithHome(home), WithEnv(env)); err != nil {
			b.Fatal(err)
		}
	}
}

// A whole ${key} reference shares the table it takes; keys added below one
// copy, so neither the referenced key nor the other references change.
func TestReferencesShareSafely(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	userFile(t, home, `[r]
big = "{'x': {'y': 1}}"
b = "${r.big}"
c = "${r.big}"
d = "{'retry_delay': False, 'max_retries': None}"
`)
	c := mustLoad(t, home, "PREFECT__R__B__Z=2", "PREFECT__R__B__X__W=3", "PREFECT__TASKS__DEFAULTS=${r.d}")
	inner := map[string]any{"y": int64(1)}
	checkKey(t, c, "r.big", map[string]any{"x": inner})
	checkKey(t, c, "r.c", map[string]any{"x": inner})
	checkKey(t, c, "r.b", map[string]any{"x": map[string]any{"y": int64(1), "w": int64(3)}, "z": int64(2)})
	checkKey(t, c, "tasks.defaults", map[string]any{"max_retries": int64(0)})
	checkKey(t, c, "r.d", map[string]any{"retry_delay": false, "max_retries": nil})

	m := c.Map()
	m["r"].(map[string]any)["c"].(map[string]any)["x"].(map[string]any)["y"] = "changed"
	checkKey(t, c, "r.big", map[string]any{"x": inner})
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"s3cr3t", "a string"}, {int64(1), "an integer"}, {1.5, "a number"}, {true, "a boolean"},
		{time.Time{}, "a date"}, {time.Second, "a duration"}, {map[string]any{}, "a table"},
		{[]any{}, "a list"}, {nil, "None"}, {[]byte("x"), "a []uint8"},
	} {
		if got := Kind(tc.v); got != tc.want {
			t.Errorf("Kind(%T) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

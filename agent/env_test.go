//go:build unix

package agent

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/redact"
)

// TestParseEnv checks that ParseEnv is internal/envflag's Parse (tested
// there) under the agent's names: its errors match ErrInvalidEnv.
func TestParseEnv(t *testing.T) {
	got, err := ParseEnv([]string{"K=A=B", "J=x", "K=2"})
	if err != nil || !maps.Equal(got, map[string]string{"K": "2", "J": "x"}) {
		t.Errorf("ParseEnv = %v, %v", got, err)
	}
	if _, err := ParseEnv([]string{"NOEQUALS"}); !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), `"NOEQUALS"`) {
		t.Errorf("ParseEnv(NOEQUALS) = %v; want an error matching ErrInvalidEnv naming the entry", err)
	}
}

func TestWithEnvRefusesBadNames(t *testing.T) {
	_, err := New(newFake(), WithEnv(map[string]string{"A=B": "x", "OK": "y", "": "z"}))
	if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), `"A=B"`) || !strings.Contains(err.Error(), `""`) {
		t.Fatalf("New(WithEnv(bad names)) = %v, want ErrInvalidEnv naming both", err)
	}
}

// TestBuildEnv checks the precedence of BuildEnv one step at a time: each
// case sets X (or a variable the agent sets) in two neighbouring sources.
func TestBuildEnv(t *testing.T) {
	run := FlowRun{ID: "run-1", FlowName: "etl"}
	withEnv := func(env map[string]string) FlowRun { r := run; r.Env = env; return r }
	for _, tc := range []struct {
		name     string
		agentEnv []string
		level    string
		flags    map[string]string
		run      FlowRun
		forced   map[string]string
		want     map[string]string // variables to check; "" = absent
	}{
		{
			name:     "agent env is the base",
			agentEnv: []string{"X=agent", "HOME=/home/a", "BROKEN", "=C:=C:\\"},
			run:      run,
			want:     map[string]string{"X": "agent", "HOME": "/home/a", "BROKEN": "", "": ""},
		},
		{
			name:     "logging level over agent env",
			agentEnv: []string{"PREFECT__LOGGING__LEVEL=INFO"},
			level:    "DEBUG",
			run:      run,
			want:     map[string]string{"PREFECT__LOGGING__LEVEL": "DEBUG"},
		},
		{
			name:     "no logging level keeps agent env's",
			agentEnv: []string{"PREFECT__LOGGING__LEVEL=WARNING"},
			run:      run,
			want:     map[string]string{"PREFECT__LOGGING__LEVEL": "WARNING"},
		},
		{
			name:  "--env over logging level",
			level: "DEBUG",
			flags: map[string]string{"PREFECT__LOGGING__LEVEL": "ERROR"},
			run:   run,
			want:  map[string]string{"PREFECT__LOGGING__LEVEL": "ERROR"},
		},
		{
			name:     "--env over agent env",
			agentEnv: []string{"X=agent"},
			flags:    map[string]string{"X": "flag"},
			run:      run,
			want:     map[string]string{"X": "flag"},
		},
		{
			name:  "run config env over --env",
			flags: map[string]string{"X": "flag", "Y": "flag"},
			run:   withEnv(map[string]string{"X": "run"}),
			want:  map[string]string{"X": "run", "Y": "flag"},
		},
		{
			name:  "an empty run config value is kept",
			flags: map[string]string{"X": "flag"},
			run:   withEnv(map[string]string{"X": ""}),
			want:  map[string]string{"X": "="},
		},
		{
			name:   "forced over run config env",
			run:    withEnv(map[string]string{"PREFECT__CLOUD__API": "http://run", "PREFECT__CONTEXT__FLOW_RUN_ID": "spoofed"}),
			forced: map[string]string{"PREFECT__CLOUD__API": "http://forced"},
			want:   map[string]string{"PREFECT__CLOUD__API": "http://forced", "PREFECT__CONTEXT__FLOW_RUN_ID": "run-1"},
		},
		{
			name:     "the agent's own values over everything below",
			agentEnv: []string{"PREFECT__BACKEND=server", "PREFECT__CLOUD__USE_LOCAL_SECRETS=true"},
			flags:    map[string]string{"PREFECT__CLOUD__USE_LOCAL_SECRETS": "true"},
			run:      withEnv(map[string]string{"PREFECT__BACKEND": "server", "PREFECT__CONTEXT__FLOW_ID": "x"}),
			want: map[string]string{
				"PREFECT__BACKEND":                  "cloud",
				"PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
				"PREFECT__CONTEXT__FLOW_RUN_ID":     "run-1",
				"PREFECT__CONTEXT__FLOW_ID":         "etl",
			},
		},
		{
			name:   "forced over the agent's own values",
			run:    run,
			forced: map[string]string{"PREFECT__BACKEND": "server"},
			want:   map[string]string{"PREFECT__BACKEND": "server"},
		},
		{
			name:     "unset forced values are dropped, whatever was below",
			agentEnv: []string{"PREFECT__CLOUD__TENANT_ID=t-agent", "PREFECT__CLOUD__API_KEY=k-agent"},
			run:      withEnv(map[string]string{"PREFECT__CLOUD__TENANT_ID": "t-run"}),
			forced:   map[string]string{"PREFECT__CLOUD__TENANT_ID": "", "PREFECT__CLOUD__API_KEY": ""},
			want:     map[string]string{"PREFECT__CLOUD__TENANT_ID": "", "PREFECT__CLOUD__API_KEY": ""},
		},
		{
			name: "a run without a flow name has no flow ID",
			run:  FlowRun{ID: "run-2"},
			want: map[string]string{"PREFECT__CONTEXT__FLOW_ID": "", "PREFECT__CONTEXT__FLOW_RUN_ID": "run-2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BuildEnv(tc.agentEnv, tc.level, tc.flags, tc.run, tc.forced)
			if !slices.IsSorted(got) {
				t.Errorf("BuildEnv = %q, not sorted", got)
			}
			m := map[string]string{}
			for _, kv := range got {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("entry %q has no '='", kv)
				}
				if _, dup := m[k]; dup {
					t.Fatalf("%s appears twice in %q", k, got)
				}
				m[k] = v
			}
			for k, want := range tc.want {
				v, ok := m[k]
				switch {
				case want == "" && ok:
					t.Errorf("%s=%q is set, want it absent", k, v)
				case want == "=" && (!ok || v != ""):
					t.Errorf("%s = %q (set: %v), want set and empty", k, v, ok)
				case want != "" && want != "=" && v != want:
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestNewMasker checks what a failure message hides: raw values of
// sensitive variables, the pieces of a JSON secret, each line of a
// multi-line one, and the secrets of the configuration file the run loads.
func TestNewMasker(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/config.toml"
	writeFile(t, cfg, "[context.secrets]\nFROM_FILE = \"file-secret-value\"\n[cloud]\napi_key = \"config-api-key\"\n")
	env := []string{
		"HOME=" + dir,
		"PREFECT__USER_CONFIG_PATH=" + cfg,
		"PREFECT__CONTEXT__SECRETS__PLAIN=plain-secret",
		`PREFECT__CONTEXT__SECRETS__CREDS={"user": "alice-user", "password": "hunter22", "pin": "123"}`,
		"PREFECT__CONTEXT__SECRETS__PEM=-----BEGIN KEY-----\nAAAAline1\nBBBBline2\n-----END KEY-----",
		"PREFECT__CONTEXT__SECRETS__NESTED__INNER=nested-value",
		"AWS_SECRET_ACCESS_KEY=aws-access-value",
		"PREFECT__CLOUD__USE_LOCAL_SECRETS=false",
		"PREFECT__CONTEXT__FLOW_RUN_ID=run-123",
	}
	m := newMasker(env)
	for _, s := range []string{"plain-secret", "alice-user", "hunter22", "BBBBline2", "file-secret-value", "config-api-key", "nested-value", "aws-access-value"} {
		if got := m.Redact("x " + s + " y"); got != "x "+redact.Marker+" y" {
			t.Errorf("Redact(%q) = %q, want it masked", s, got)
		}
	}
	for _, s := range []string{"false", "run-123", "123"} {
		if got := m.Redact("x " + s + " y"); got != "x "+s+" y" {
			t.Errorf("Redact(%q) = %q, want it left as it is", s, got)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		lines  int
		max    int
		want   []string
	}{
		{"nothing", nil, 3, 100, nil},
		{"lines", []string{"a\nb", "\nc\n"}, 3, 100, []string{"a", "b", "c"}},
		{"the last lines", []string{"1\n2\n3\n4\n5\n"}, 2, 100, []string{"4", "5"}},
		{"an unended last line", []string{"1\n2"}, 5, 100, []string{"1", "2"}},
		{"CRLF and empty lines", []string{"a\r\n\r\nb\r\n"}, 5, 100, []string{"a", "", "b"}},
		// 10-byte window: "45\n6789\nab" keeps "6789" and "ab"; "45", cut, goes.
		{"a cut first line is left out", []string{"0123", "45\n6789\nab"}, 5, 10, []string{"6789", "ab"}},
		{"one line longer than the window", []string{"0123456789abcdefghijklmnopqrstuvwxyz"}, 5, 10, nil},
		{"many writes past the window", []string{"x\n", "aaaaaaaaaaaaaaaaaaaaa", "aaaa\nlast\n"}, 5, 8, []string{"last"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTailBuffer(tc.lines, tc.max)
			for _, w := range tc.writes {
				b.Write([]byte(w))
			}
			if got := b.Lines(); !slices.Equal(got, tc.want) {
				t.Errorf("Lines() = %q, want %q", got, tc.want)
			}
			if len(b.buf) > 2*tc.max {
				t.Errorf("the buffer holds %d bytes, more than twice %d", len(b.buf), tc.max)
			}
		})
	}
}

// TestTailText: the message's lines are masked before they are cut, so a
// secret across the cut is masked whole.
func TestTailText(t *testing.T) {
	m := redact.New()
	m.Add("the-secret-value")
	long := strings.Repeat("x", maxLineBytes-5) + "the-secret-value"
	got := tailText([]string{"ok", long, "bad \xff byte"}, m)
	want := " Its last 3 lines of output (values of secret variables masked):\nok\n" +
		strings.Repeat("x", maxLineBytes-5) + redact.Marker[:5] + " [...]\nbad \uFFFD byte"
	if got != want {
		t.Errorf("tailText = %q\nwant %q", got, want)
	}
	if got := tailText(nil, m); got != " It wrote no output." {
		t.Errorf("tailText(nil) = %q", got)
	}
}

func TestConfigEnv(t *testing.T) {
	const v = "PREFECT__CLOUD__AGENT__ENV_VARS"
	tests := []struct {
		env     []string
		want    map[string]string
		wantErr string
	}{
		{env: nil, want: nil},
		{env: []string{v + `={}`}, want: nil},
		{env: []string{v + `={"DB_HOST": "db.internal", "PORT": 8080, "DEBUG": True, "RATIO": 0.5}`},
			want: map[string]string{"DB_HOST": "db.internal", "PORT": "8080", "DEBUG": "True", "RATIO": "0.5"}},
		{env: []string{v + `__DB_HOST=db.internal`}, want: map[string]string{"db_host": "db.internal"}}, // Prefect lower-cases variable keys
		{env: []string{v + `=[1, 2]`}, wantErr: "cloud.agent.env_vars is a list; it must be a table"},
		{env: []string{v + `={"A": {"B": "c"}, "C": [1]}`}, wantErr: "cloud.agent.env_vars.A is a table; an environment value must be a string\n" +
			"invalid environment variable: cloud.agent.env_vars.C is a list"},
		{env: []string{v + `=hosts`}, wantErr: "cloud.agent.env_vars is a string; it must be a table"},
		{env: []string{v + `={"A=B": "c"}`}, wantErr: `"A=B" cannot be set`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			cfg, err := config.Load(config.WithEnv(tc.env), config.WithHome(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ConfigEnv(cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidEnv) {
					t.Fatalf("ConfigEnv = %v, %v; want an ErrInvalidEnv saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("ConfigEnv = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestConfigLabels(t *testing.T) {
	const v = "PREFECT__CLOUD__AGENT__LABELS"
	tests := []struct {
		env     []string
		want    []string
		wantErr string
	}{
		{env: nil, want: []string{}}, // the default, "[]"
		{env: []string{v + `=["gpu", "eu"]`}, want: []string{"gpu", "eu"}},
		{env: []string{v + `=gpu`}, wantErr: "cloud.agent.labels is a string; it must be a list of labels"},
		{env: []string{v + `=["gpu", 3]`}, wantErr: "cloud.agent.labels[1] is 3; a label must be a non-empty string"},
		{env: []string{v + `=["", "x"]`}, wantErr: `cloud.agent.labels[0] is ""`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			cfg, err := config.Load(config.WithEnv(tc.env), config.WithHome(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ConfigLabels(cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ConfigLabels = %q, %v; want an error saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ConfigLabels = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

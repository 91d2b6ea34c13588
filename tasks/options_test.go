package tasks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// Every bad option value is reported by the flow's validation, naming the
// task, the option and what is valid; none panics, none is ignored.
func TestBadOptionValues(t *testing.T) {
	tests := []struct {
		name string
		add  func(f *flow.Flow)
		want []string
	}{
		{"nil cast", func(f *flow.Flow) { flow.Add(f, tasks.EnvVarSecret("V", tasks.WithCast(nil))) },
			[]string{`task "V": tasks.WithCast: the function is nil; leave the option out`}},
		{"nil client", func(f *flow.Flow) { flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithHTTPClient(nil))) },
			[]string{`task "r": tasks.WithHTTPClient: the client is nil; leave the option out for http.DefaultClient`}},
		{"zero max body", func(f *flow.Flow) { flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithMaxBody(0))) },
			[]string{`task "r": tasks.WithMaxBody(0): the limit must be positive; leave the option out for the default, 10 MiB`}},
		{"negative max body", func(f *flow.Flow) {
			tasks.AddRequest(f, "r", "GET", flow.Const("url", "http://x"), tasks.WithMaxBody(-5))
		}, []string{`tasks.WithMaxBody(-5): the limit must be positive`}},
		{"empty token secret", func(f *flow.Flow) {
			tasks.AddRequest(f, "r", "GET", flow.Const("url", "http://x"), tasks.WithTokenSecret(""))
		}, []string{`task "r": tasks.WithTokenSecret: the secret name is empty; leave the option out for API_TOKEN`}},
		{"nil option", func(f *flow.Flow) { flow.Add(f, tasks.EnvVarSecret("V", nil)) },
			[]string{`task "V": an option is nil`}},
		{"request option to EnvVarSecret", func(f *flow.Flow) {
			flow.Add(f, tasks.EnvVarSecret("V", tasks.WithMaxBody(1)))
		}, []string{`task "V": tasks.WithMaxBody applies to BearerRequest and AddRequest only`}},
		{"env option to BearerRequest", func(f *flow.Flow) {
			flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithRaiseIfMissing()))
		}, []string{`task "r": tasks.WithRaiseIfMissing applies to EnvVarSecret only`}},
		{"token secret to BearerRequest", func(f *flow.Flow) {
			flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithTokenSecret("T")))
		}, []string{`task "r": tasks.WithTokenSecret applies to AddRequest only`}},
		{"bindings to BearerRequest", func(f *flow.Flow) {
			flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithBindings()))
		}, []string{`task "r": tasks.WithBindings applies to AddRequest only`}},
		{"several at once", func(f *flow.Flow) {
			flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithHTTPClient(nil), tasks.WithMaxBody(0), tasks.WithCast(strconvCast)))
		}, []string{"WithHTTPClient: the client is nil", "WithMaxBody(0)", "WithCast applies to EnvVarSecret only"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flow.New("bad")
			tc.add(f)
			err := f.Validate()
			if err == nil {
				t.Fatal("Validate() = nil; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func strconvCast(s string) (any, error) { return strconv.Atoi(s) }

func TestGoodOptionValues(t *testing.T) {
	f := flow.New("good")
	flow.Add(f, tasks.EnvVarSecret("V", tasks.WithCast(strconvCast), tasks.WithRaiseIfMissing(), tasks.WithTaskOptions(task.WithTags("env"))))
	flow.Add(f, tasks.BearerRequest("r", "GET", tasks.WithHTTPClient(http.DefaultClient), tasks.WithMaxBody(1),
		tasks.WithContentType("text/plain"), tasks.WithTaskOptions(task.WithSlug("req"))), flow.Const("url", "http://x"))
	tasks.AddRequest(f, "a", "GET", flow.Const("url", "http://x"), tasks.WithTokenSecret("T"), tasks.WithMaxBody(1),
		tasks.WithBindings(flow.Const("body", []byte("x"))))
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}

// The former names still compile and behave as they did.
func TestDeprecatedNames(t *testing.T) {
	t.Setenv("DEPRECATED_VAR", "41")
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+string(b))
		w.Write([]byte("0123456789"))
	}))
	defer srv.Close()

	f := flow.New("old")
	cast := flow.Add(f, tasks.EnvVarSecret("DEPRECATED_VAR",
		tasks.Cast(func(s string) (any, error) { n, err := strconv.Atoi(s); return n + 1, err }),
		tasks.RaiseIfMissing(), tasks.EnvTaskOptions(task.WithSlug("cast"))))
	missing := flow.Add(f, tasks.EnvVarSecret("NOT_SET_ANYWHERE_43", tasks.RaiseIfMissing()))
	var opts []tasks.RequestOption = []tasks.RequestOption{tasks.TokenSecret("T"), tasks.MaxBody(4), tasks.MaxBody(0),
		tasks.ContentType("text/plain"), tasks.TaskOptions(task.WithSlug("call")), tasks.WithHTTPClient(srv.Client())}
	resp := tasks.AddBearerRequest(f, "call", http.MethodPost, flow.Const("url", srv.URL), opts, flow.Const("body", []byte("hi")))
	if len(opts) != 6 {
		t.Fatalf("AddBearerRequest changed its options slice")
	}
	fs, err := runner.Run(context.Background(), f, hermetic(t), runner.WithSecrets(map[string]any{"T": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := runner.ResultOf(fs, cast); v.Reveal() != "42" {
		t.Errorf("Cast: %q; want 42", v.Reveal())
	}
	if st := fs.Of(missing); !errors.Is(st.Err, tasks.ErrEnvVarNotSet) {
		t.Errorf("RaiseIfMissing: %v", st)
	}
	if r, _ := runner.ResultOf(fs, resp); string(r.Body) != "0123" {
		t.Errorf("MaxBody(4) then MaxBody(0): body %q; want the first 4 bytes", r.Body)
	}
	if len(bodies) != 1 || bodies[0] != "Bearer tok text/plain hi" {
		t.Errorf("the server saw %q", bodies)
	}
}

package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-multierror"
)

// Load reports every problem of the files and the variables at once, under
// a count, each an *Error with its own text; errors.Is reaches each cause.
func TestLoadReportsEveryProblem(t *testing.T) {
	longKey := "PREFECT__" + strings.Repeat("K", MaxKeyLength+1)
	deep := "PREFECT__" + strings.Repeat("A__", MaxDepth) + "A"
	type problem struct {
		is       error
		key, env string
		file     string // "user", "backend" or ""
		text     string // a part of its text, "" for none
	}
	cases := []struct {
		name  string
		user  string
		back  string
		env   []string
		wants []problem
	}{
		{"a syntax error in each file", "backend = \n", "x = [\n", nil, []problem{
			{is: ErrSyntax, key: "backend", file: "user"},
			{is: ErrSyntax, key: "x", file: "backend"},
		}},
		{"two conflicts in one file", "cloud = 1\n[backend]\nx = 1\n", "", nil, []problem{
			{is: ErrConflict, key: "backend", file: "user", text: `"backend" is a value, so it cannot be a section`},
			{is: ErrConflict, key: "cloud", file: "user", text: `"cloud" is a section, so it cannot be set to a value`},
		}},
		{"a file and two variables", "cloud = 1\n", "", []string{longKey + "=1", deep + "=1"}, []problem{
			{is: ErrConflict, key: "cloud", file: "user"},
			{is: ErrLimit, env: longKey, text: keyLimitText},
			{is: ErrLimit, env: deep, text: fmt.Sprintf("the name has more than %d parts", MaxDepth)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := newHome(t)
			files := map[string]string{}
			if c.user != "" {
				files["user"] = userFile(t, home, c.user)
			}
			if c.back != "" {
				files["backend"] = backendFile(t, home, c.back)
			}
			_, err := Load(WithHome(home), WithEnv(c.env))
			var list *multierror.Error
			if !errors.As(err, &list) {
				t.Fatalf("Load() = %T %v; want a *multierror.Error", err, err)
			}
			got := list.WrappedErrors()
			if len(got) != len(c.wants) {
				t.Fatalf("Load() reports %d problems; want %d:\n%v", len(got), len(c.wants), err)
			}
			want := fmt.Sprintf("config: %d problems:", len(c.wants))
			for i, w := range c.wants {
				var e *Error
				if !errors.As(got[i], &e) {
					t.Fatalf("problem %d is %T; want *Error", i+1, got[i])
				}
				if !errors.Is(err, w.is) || !errors.Is(e, w.is) {
					t.Errorf("problem %d = %v; want it, and the list, to match %v", i+1, e, w.is)
				}
				if e.Key != w.key || e.Var != w.env || e.File != files[w.file] {
					t.Errorf("problem %d names key %q, variable %q, file %q; want %q, %q, %q",
						i+1, e.Key, e.Var, e.File, w.key, w.env, files[w.file])
				}
				if !strings.Contains(e.Error(), w.text) {
					t.Errorf("problem %d = %q; want it to say %q", i+1, e, w.text)
				}
				want += "\n\t- " + strings.TrimPrefix(e.Error(), "config: ")
			}
			if err.Error() != want {
				t.Errorf("Load() =\n%s\nwant\n%s", err, want)
			}
			var first *Error
			if !errors.As(err, &first) || first != got[0] {
				t.Errorf("errors.As(Load(), *Error) = %v; want the first problem", first)
			}
		})
	}
}

// One problem is the *Error itself, as it always was.
func TestLoadOneProblemIsAnError(t *testing.T) {
	home := newHome(t)
	userFile(t, home, "cloud = 1\n")
	_, err := Load(WithHome(home), WithEnv(nil))
	if e, ok := err.(*Error); !ok || !errors.Is(e, ErrConflict) {
		t.Errorf("Load() = %T %v; want an *Error matching ErrConflict", err, err)
	}
}

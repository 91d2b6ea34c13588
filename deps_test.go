package prefect_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/prefect-go/prefect"

// forbidden is the direction of this module's imports, lightest at the
// bottom: each row names a package of the module and what it must never
// link, directly or through any other package. A path ending in "/..." is
// that package and every package below it. Add a row when a boundary is
// drawn; the message says why it is drawn, for whoever breaks it.
var forbidden = []struct {
	from string   // a package of the module, as its path below the module
	not  []string // import paths it must not reach
	why  string
}{
	{"task", []string{mod + "/config", "github.com/BurntSushi/toml", "net/http"},
		"a task is a Go function and its options: it handles secrets through secrets/sensitive, never through the resolver"},
	{"flow", []string{mod + "/config", "github.com/BurntSushi/toml", "net/http"},
		"building a flow reads no configuration and talks to no server: it uses secrets/sensitive"},
	{"runner", []string{mod + "/client"},
		"a run reaches its secret server through package secrets, wired by configuration alone"},
	{"program", []string{mod + "/agent"},
		"a flow program is launched by agents, not built on them: shared code goes in internal/"},
	{"client", []string{mod + "/server/..."},
		"a client shares with the server only the wire and package state's kinds: embedding a client must not link the server"},
	{"tasks", []string{mod + "/secrets/vault", mod + "/secrets/aws", "github.com/hashicorp/vault/api", "github.com/aws/aws-sdk-go-v2/..."},
		"a remote store's SDK is linked only by programs that import its package (secrets/vault, secrets/aws): the stores register themselves"},
	{"runner", []string{mod + "/secrets/vault", mod + "/secrets/aws", "github.com/hashicorp/vault/api", "github.com/aws/aws-sdk-go-v2/..."},
		"a run reaches remote stores through secrets.RegisterStore, so that a program using none links no store's SDK"},
}

// TestImportsPointOneWay fails, naming the chain of imports, when a package
// reaches one that the table above forbids it. It reads the module's
// import graph with `go list -deps`, as a build sees it (tests' imports
// are not counted).
func TestImportsPointOneWay(t *testing.T) {
	var roots []string
	for _, r := range forbidden {
		roots = append(roots, "./"+r.from)
	}
	graph := importGraph(t, roots...)
	// A graph read wrongly would find nothing forbidden: check it sees an
	// import that is known to be there.
	if importChain(graph, mod+"/runner", mod+"/secrets") == nil {
		t.Fatalf("the import graph from `go list -deps` has no path from runner to secrets; it is read wrongly")
	}
	for _, r := range forbidden {
		from := mod + "/" + r.from
		if _, ok := graph[from]; !ok {
			t.Errorf("%s is not a package of the module; fix the table", r.from)
			continue
		}
		for _, not := range r.not {
			if chain := importChain(graph, from, not); chain != nil {
				for i, p := range chain {
					chain[i] = short(p)
				}
				t.Errorf("%s must not import %s, but does: %s\n\t(%s)", r.from, short(not), strings.Join(chain, " -> "), r.why)
			}
		}
		t.Logf("go list -deps ./%s: %d packages", r.from, len(reach(graph, from)))
	}
}

// importGraph returns every package pkgs depend on, each with the packages
// it imports.
func importGraph(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		gotool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, pkgs...)
	cmd := exec.CommandContext(t.Context(), gotool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.Bytes())
	}
	graph := map[string][]string{}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	return graph
}

// short names a package of the module by its path below the module.
func short(pkg string) string {
	if p, ok := strings.CutPrefix(pkg, mod+"/"); ok {
		return p
	}
	return pkg
}

// matches reports whether pkg is pattern, or below it for "x/...".
func matches(pkg, pattern string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// importChain returns a shortest chain of imports from from to a package
// that pattern matches, or nil when there is none.
func importChain(graph map[string][]string, from, pattern string) []string {
	prev := map[string]string{from: ""}
	for queue := []string{from}; len(queue) > 0; queue = queue[1:] {
		p := queue[0]
		if matches(p, pattern) {
			chain := []string{p}
			for q := prev[p]; q != ""; q = prev[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range graph[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

// reach returns from and every package it depends on: what
// `go list -deps` lists for it.
func reach(graph map[string][]string, from string) map[string]bool {
	seen := map[string]bool{from: true}
	for queue := []string{from}; len(queue) > 0; queue = queue[1:] {
		for _, q := range graph[queue[0]] {
			if !seen[q] {
				seen[q] = true
				queue = append(queue, q)
			}
		}
	}
	return seen
}

// TestImportChain checks the checker on a graph small enough to read.
func TestImportChain(t *testing.T) {
	graph := map[string][]string{
		"a": {"b", "c"},
		"b": {"d/x"},
		"c": {"b"},
	}
	for _, tc := range []struct {
		from, pattern string
		want          []string
	}{
		{"a", "a", []string{"a"}},
		{"a", "d/x", []string{"a", "b", "d/x"}},
		{"a", "d/...", []string{"a", "b", "d/x"}},
		{"c", "d/...", []string{"c", "b", "d/x"}},
		{"a", "d", nil},
		{"b", "c", nil},
	} {
		if got := importChain(graph, tc.from, tc.pattern); !slices.Equal(got, tc.want) {
			t.Errorf("importChain(%s, %s) = %v, want %v", tc.from, tc.pattern, got, tc.want)
		}
	}
}

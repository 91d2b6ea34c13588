package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/internal/servertest"
)

// seedNames returns n secrets named S00..S(n-1), and their names sorted.
func seedNames(n int) (map[string]any, []string) {
	seed := map[string]any{}
	var names []string
	for i := range n {
		name := fmt.Sprintf("S%02d", i)
		seed[name] = "v"
		names = append(names, name)
	}
	return seed, names
}

func TestSecretNamesPage(t *testing.T) {
	seed, all := seedNames(25)
	f := startFake(t, apiKey, seed)
	c := newClient(t, f)
	for _, tc := range []struct {
		after     string
		limit     int
		want      []string
		wantNext  string
		wantError string
	}{
		{"", 10, all[:10], "S09", ""},
		{"S09", 10, all[10:20], "S19", ""},
		{"S19", 10, all[20:], "", ""},
		{"S24", 10, nil, "", ""},
		{"S", 1, all[:1], "S00", ""},
		{"", 0, all, "", ""}, // the server's default, 100
		{"", 1001, nil, "", "invalid limit 1001: want 1 to 1000"},
	} {
		names, next, err := c.SecretNamesPage(context.Background(), tc.after, tc.limit)
		if tc.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantError) {
				t.Errorf("SecretNamesPage(%q, %d) = %v; want an error with %q", tc.after, tc.limit, err, tc.wantError)
			}
			continue
		}
		if err != nil || !slices.Equal(names, tc.want) || next != tc.wantNext {
			t.Errorf("SecretNamesPage(%q, %d) = %q, next %q, %v; want %q, next %q", tc.after, tc.limit, names, next, err, tc.want, tc.wantNext)
		}
	}
}

// AllSecretNames asks for one page at a time, each of at most limit
// names, and yields every name once, in order, from after on; leaving the
// loop early asks for no more pages.
func TestAllSecretNames(t *testing.T) {
	seed, all := seedNames(25)
	for _, tc := range []struct {
		after     string
		limit     int
		want      []string
		wantPages int
	}{
		{"", 0, all, 1},
		{"", 1, all, 25},
		{"", 7, all, 4},
		{"", 25, all, 1},
		{"", 1000, all, 1},
		{"S19", 2, all[20:], 3},
		{"S24", 2, nil, 1},
	} {
		t.Run(fmt.Sprintf("after=%q,limit=%d", tc.after, tc.limit), func(t *testing.T) {
			f := startFake(t, apiKey, seed)
			c := newClient(t, f)
			var got []string
			for name, err := range c.AllSecretNames(context.Background(), tc.after, tc.limit) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("names %q, want %q", got, tc.want)
			}
			if n := f.Pages(); n != tc.wantPages {
				t.Errorf("%d pages asked for, want %d", n, tc.wantPages)
			}
		})
	}
	t.Run("break", func(t *testing.T) {
		f := startFake(t, apiKey, seed)
		c := newClient(t, f)
		seq := c.AllSecretNames(context.Background(), "", 5)
		var got []string
		for name, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			if got = append(got, name); len(got) == 3 {
				break
			}
		}
		if !slices.Equal(got, all[:3]) || f.Pages() != 1 {
			t.Errorf("stopping after 3 names: %q, %d pages asked for; want %q and 1", got, f.Pages(), all[:3])
		}
		// The sequence starts over when ranged over again.
		n := 0
		for _, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != len(all) {
			t.Errorf("a second range over the sequence yields %d names, want %d", n, len(all))
		}
	})
}

// Against a server without secrets_page (Prefect Cloud), a page fails
// matching ErrNoPages, and AllSecretNames reads secret_names once instead.
func TestAllSecretNamesWithoutPages(t *testing.T) {
	seed, all := seedNames(12)
	f := startFake(t, apiKey, seed)
	f.set(func(f *fakeServer) { f.noPages = true })
	c := newClient(t, f)
	if _, _, err := c.SecretNamesPage(context.Background(), "", 5); !errors.Is(err, client.ErrNoPages) {
		t.Errorf("SecretNamesPage on a server without pages: %v; want ErrNoPages", err)
	}
	attempts := f.Attempts()
	var got []string
	for name, err := range c.AllSecretNames(context.Background(), "S03", 5) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if !slices.Equal(got, all[4:]) {
		t.Errorf("names %q, want %q", got, all[4:])
	}
	if n := f.Attempts() - attempts; n != 2 {
		t.Errorf("%d requests, want 2 (the refused page, then secret_names)", n)
	}
}

// An error on a later page is yielded once and ends the iteration; so
// does a server whose next page would not move past the last.
func TestAllSecretNamesErrors(t *testing.T) {
	seed, _ := seedNames(10)
	t.Run("a later page fails", func(t *testing.T) {
		f := startFake(t, apiKey, seed)
		c := newClient(t, f, client.WithRetries(0, 0))
		var names int
		var errs []error
		for _, err := range c.AllSecretNames(context.Background(), "", 4) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			names++
			if names == 4 {
				f.set(func(f *fakeServer) { f.failN, f.failWith = 1, 400 })
			}
		}
		if names != 4 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "HTTP 400") || errors.Is(errs[0], client.ErrNoPages) {
			t.Errorf("%d names, errors %v; want 4 names and one HTTP 400", names, errs)
		}
	})
	t.Run("a cursor that does not move", func(t *testing.T) {
		f := startFake(t, apiKey, seed)
		f.set(func(f *fakeServer) { f.stuck = true })
		c := newClient(t, f)
		var errs []error
		for _, err := range c.AllSecretNames(context.Background(), "", 4) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not past the page") || f.Pages() != 1 {
			t.Errorf("errors %v after %d pages; want one naming the cursor after 1", errs, f.Pages())
		}
	})
}

// Against the real server (SQLite): the client's query is the server's,
// and the pages it reads hold what secret_names holds.
func TestAllSecretNamesOnTheServer(t *testing.T) {
	env := servertest.New(t)
	ts := httptest.NewServer(env.Handler())
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL+"/graphql", client.WithAPIKey(env.Key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx := context.Background()
	for _, n := range []string{"b", "A", "a/b", "Z", "_x", "a"} {
		if err := c.SetSecret(ctx, n, "v"); err != nil {
			t.Fatal(err)
		}
	}
	want, err := c.SecretNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for name, err := range c.AllSecretNames(ctx, "", 2) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if !slices.Equal(got, want) || len(got) != 6 {
		t.Errorf("pages of 2 hold %q; secret_names %q", got, want)
	}
	names, next, err := c.SecretNamesPage(ctx, "Z", 2)
	if err != nil || !slices.Equal(names, []string{"_x", "a"}) || next != "a" {
		t.Errorf(`SecretNamesPage("Z", 2) = %q, next %q, %v; want [_x a], next "a"`, names, next, err)
	}
	if _, _, err := c.SecretNamesPage(ctx, "", client.MaxPageSize+1); err == nil || !strings.Contains(err.Error(), "invalid limit 1001") {
		t.Errorf("a page of %d: %v; want the server's refusal", client.MaxPageSize+1, err)
	}
}

package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prefect-go/prefect/secrets"
)

// The "teststore" kind: [secrets.teststore] namespace = "NS" opens
// fakeStores[NS], recording each open and the credentials it was given.
var (
	fakeMu     sync.Mutex
	fakeStores = map[string]*storeFake{}
	fakeOpens  = map[string][]string{} // namespace: the credentials of each open
)

func init() {
	secrets.RegisterStore("teststore", secrets.StoreKind{
		Credentials: "TESTSTORE_CREDENTIALS",
		Open: func(_ context.Context, s secrets.StoreSettings) (secrets.Source, error) {
			ns, _ := s.Settings["namespace"].(string)
			for k := range s.Settings {
				if k != "namespace" {
					return nil, fmt.Errorf("%s: unknown setting; valid: namespace", k)
				}
			}
			fakeMu.Lock()
			defer fakeMu.Unlock()
			src, ok := fakeStores[ns]
			if !ok {
				return nil, fmt.Errorf("no fake store %q", ns)
			}
			creds := "(none)"
			if !s.Credentials.IsZero() {
				creds = s.CredentialsName + "=" + s.Credentials.Reveal()
			}
			fakeOpens[ns] = append(fakeOpens[ns], creds)
			return src, nil
		},
	})
}

// newFakeStore makes a fake store under a namespace of its own, holding m.
func newFakeStore(t *testing.T, m map[string]any) (ns string, src *storeFake) {
	src = &storeFake{m: m}
	ns = strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	fakeMu.Lock()
	defer fakeMu.Unlock()
	fakeStores[ns] = src
	return ns, src
}

func opensOf(ns string) []string {
	fakeMu.Lock()
	defer fakeMu.Unlock()
	return append([]string(nil), fakeOpens[ns]...)
}

func TestStoresInOrder(t *testing.T) {
	ns, src := newFakeStore(t, map[string]any{"DB_PASSWORD": "from-store", "BOTH": "store", "JSON": `{"user": "u"}`})
	server := &countingSource{m: map[string]any{"BOTH": "server", "ONLY_SERVER": "s"}}
	base := []string{"PREFECT__SECRETS__TESTSTORE__NAMESPACE=" + ns, "PREFECT__CONTEXT__SECRETS__LOCAL=local",
		"PREFECT__BACKEND=cloud", "PREFECT__CLOUD__USE_LOCAL_SECRETS=false"}
	ctx := context.Background()
	get := func(t *testing.T, env []string, name string) (string, error) {
		t.Helper()
		r := secrets.NewResolver(secrets.WithConfig(load(t, append(env, base...), "")), secrets.WithBackend(server))
		v, err := r.Get(ctx, name)
		return fmt.Sprint(v.Reveal()), err
	}
	storeFirst := []string{`PREFECT__SECRETS__SOURCES=["teststore", "cloud"]`}
	serverFirst := []string{`PREFECT__SECRETS__SOURCES=["cloud", "teststore"]`}
	storeOnly := []string{`PREFECT__SECRETS__SOURCES=["teststore"]`} // the server, in use, comes last
	for _, tc := range []struct {
		name string
		env  []string
		key  string
		want string
	}{
		{"the store answers", storeFirst, "DB_PASSWORD", "from-store"},
		{"local secrets first", storeFirst, "LOCAL", "local"},
		{"the store before the server", storeFirst, "BOTH", "store"},
		{"the server before the store", serverFirst, "BOTH", "server"},
		{"the server after the store, not listed", storeOnly, "ONLY_SERVER", "s"},
		{"a JSON text is decoded, as in Prefect", storeOnly, "JSON", `{"user":"u"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := get(t, tc.env, tc.key); v != tc.want || err != nil {
				t.Errorf("Get(%s) = %q, %v; want %q", tc.key, v, err, tc.want)
			}
		})
	}

	t.Run("a miss names every place asked", func(t *testing.T) {
		_, err := get(t, storeFirst, "NOWHERE")
		if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "fake store; test server") ||
			!strings.Contains(err.Error(), "environment variable PREFECT__CONTEXT__SECRETS__NOWHERE") {
			t.Errorf("Get(NOWHERE): %v; want ErrNotFound naming the variable, the store and the server, in order", err)
		}
	})

	t.Run("a failing store fails the lookup, naming it", func(t *testing.T) {
		ns, src := newFakeStore(t, map[string]any{})
		src.failWith(errThrottled)
		r := secrets.NewResolver(secrets.WithConfig(load(t, []string{"PREFECT__SECRETS__TESTSTORE__NAMESPACE=" + ns, `PREFECT__SECRETS__SOURCES=["teststore"]`}, "")))
		_, err := r.Get(ctx, "X")
		if !errors.Is(err, errThrottled) || !strings.Contains(err.Error(), "asking fake store") {
			t.Errorf("Get with the store failing: %v; want its error, naming it", err)
		}
	})

	t.Run("Exists asks the store", func(t *testing.T) {
		r := secrets.NewResolver(secrets.WithConfig(load(t, append(storeOnly, "PREFECT__SECRETS__TESTSTORE__NAMESPACE="+ns), "")))
		for name, want := range map[string]bool{"DB_PASSWORD": true, "NOWHERE": false} {
			if got, err := r.Exists(ctx, name); got != want || err != nil {
				t.Errorf("Exists(%s) = %v, %v; want %v", name, got, err, want)
			}
		}
	})
	_ = src
}

func TestStoreSettingsErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{`PREFECT__SECRETS__SOURCES=["vaultt"]`}, `secrets.sources names "vaultt", which this program does not include; the sources it knows are`},
		{[]string{`PREFECT__SECRETS__SOURCES=teststore`}, `secrets.sources is a string; it must be a list`},
		{[]string{`PREFECT__SECRETS__SOURCES=["teststore", "teststore"]`}, `secrets.sources names "teststore" twice`},
		{[]string{`PREFECT__SECRETS__SOURCES=["teststore"]`, "PREFECT__SECRETS__TESTSTORE__CACHE_TTL=soon"}, `secrets.teststore.cache_ttl is a string; it must be a whole number of seconds`},
		{[]string{`PREFECT__SECRETS__SOURCES=["teststore"]`, "PREFECT__SECRETS__TESTSTORE__CREDENTIALS=5"}, `secrets.teststore.credentials is 5; it must be the name of the secret`},
		{[]string{`PREFECT__SECRETS__SOURCES=["teststore"]`, "PREFECT__SECRETS__TESTSTORE__NAMSPACE=x"}, `opening secrets.teststore: namspace: unknown setting; valid: namespace`},
	} {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			r := secrets.NewResolver(secrets.WithConfig(load(t, tc.env, "")))
			if _, err := r.Get(ctx, "X"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestStoreSharedAcrossRuns checks that runs of one process share a store
// and its cache (one open, one call per TTL), that each run pins the value
// it resolved, that Refresh asks the store anew, and that credentials come
// from the local secrets and reopen the store when they change.
func TestStoreSharedAcrossRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ns, src := newFakeStore(t, map[string]any{"TOKEN": "v1"})
		env := []string{`PREFECT__SECRETS__SOURCES=["teststore"]`, "PREFECT__SECRETS__TESTSTORE__NAMESPACE=" + ns,
			"PREFECT__SECRETS__TESTSTORE__CACHE_TTL=60", "PREFECT__CONTEXT__SECRETS__TESTSTORE_CREDENTIALS=key-1"}
		cfg := load(t, env, "")
		ctx := context.Background()
		var logs bytes.Buffer
		runs := make([]*secrets.Resolver, 100)
		for i := range runs {
			runs[i] = secrets.NewResolver(secrets.WithConfig(cfg), secrets.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if v, err := runs[i].Get(ctx, "TOKEN"); err != nil || v.Reveal() != "v1" {
				t.Fatalf("run %d: Get = %v", i, err)
			}
		}
		if n, opens := src.calls.Load(), opensOf(ns); n != 1 || len(opens) != 1 || opens[0] != "TESTSTORE_CREDENTIALS=key-1" {
			t.Errorf("100 runs: %d calls to the store, opens %q; want 1 call and one open with the local credentials", n, opens)
		}
		if !strings.Contains(logs.String(), `msg="secret resolved" secret=TOKEN source="fake store" cached=false`) ||
			!strings.Contains(logs.String(), `cached=true`) || strings.Contains(logs.String(), "v1") {
			t.Errorf("the runs' DEBUG records do not say where TOKEN came from, or show its value:\n%s", logs.String())
		}

		src.set("TOKEN", "v2")
		time.Sleep(time.Minute) // the cache's TTL
		if v, _ := runs[0].Get(ctx, "TOKEN"); v.Reveal() != "v1" {
			t.Errorf("a run's second Get gave another value; a run pins what it resolved")
		}
		fresh := secrets.NewResolver(secrets.WithConfig(cfg))
		if v, _ := fresh.Get(ctx, "TOKEN"); v.Reveal() != "v2" {
			t.Errorf("a new run past the TTL got the old value")
		}
		src.set("TOKEN", "v3")
		if v, err := secrets.Refresh(secrets.NewContext(ctx, runs[0]), "TOKEN"); err != nil || v.Reveal() != "v3" {
			t.Errorf("Refresh = %v; want the store's current value, past the cache", err)
		}
		if v, _ := runs[0].Get(ctx, "TOKEN"); v.Reveal() != "v3" {
			t.Errorf("after Refresh the run holds another value than the refreshed one")
		}

		rotated := load(t, append(env[:len(env):len(env)], "PREFECT__CONTEXT__SECRETS__TESTSTORE_CREDENTIALS=key-2"), "")
		secrets.NewResolver(secrets.WithConfig(rotated)).Get(ctx, "TOKEN")
		if opens := opensOf(ns); len(opens) != 2 || opens[1] != "TESTSTORE_CREDENTIALS=key-2" {
			t.Errorf("after the credentials changed, opens = %q; want a second open with the new ones", opens)
		}
	})
}

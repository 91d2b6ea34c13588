package result_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-go/prefect/result"
)

var (
	_ result.Store = (*result.Memory)(nil)
	_ result.Store = (*result.Local)(nil)
)

// invalidLocations could escape a store's folder or name no file.
var invalidLocations = []string{
	"", ".", "..", "../x", "a/../b", "a/..", "./a", "a/./b", "/abs", "/", "a//b", "a/", `a\b`, `..\x`,
}

// testStore is the conformance suite every [result.Store] must pass.
func testStore(t *testing.T, newStore func(t *testing.T) result.Store) {
	ctx := context.Background()

	t.Run("ReadMissing", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Read(ctx, "etl/run/missing.json")
		if !errors.Is(err, result.ErrNotFound) {
			t.Fatalf("Read of a missing location = %v; want it to match ErrNotFound", err)
		}
		if !strings.Contains(err.Error(), `"etl/run/missing.json"`) {
			t.Errorf("the error %q does not name the location", err)
		}
		if ok, err := s.Exists(ctx, "etl/run/missing.json"); ok || err != nil {
			t.Errorf("Exists of a missing location = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("WriteReadExists", func(t *testing.T) {
		s := newStore(t)
		data := []byte(`{"value": 42}`)
		if err := s.Write(ctx, "etl/run/add-1.json", data); err != nil {
			t.Fatal(err)
		}
		got, err := s.Read(ctx, "etl/run/add-1.json")
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Read = %q, %v; want %q", got, err, data)
		}
		if ok, err := s.Exists(ctx, "etl/run/add-1.json"); !ok || err != nil {
			t.Errorf("Exists = %v, %v; want true, nil", ok, err)
		}
	})

	t.Run("LocationsAreIndependent", func(t *testing.T) {
		s := newStore(t)
		locs := []string{"a.json", "a/b.json", "a/c.json", "b/b.json", "a.json.bak", "A.json"}
		for _, loc := range locs {
			if err := s.Write(ctx, loc, []byte("data of "+loc)); err != nil {
				t.Fatalf("Write(%q) = %v", loc, err)
			}
		}
		for _, loc := range locs {
			got, err := s.Read(ctx, loc)
			if err != nil || string(got) != "data of "+loc {
				t.Errorf("Read(%q) = %q, %v", loc, got, err)
			}
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t)
		for _, data := range []string{"a much longer first value", "short", ""} {
			if err := s.Write(ctx, "x/y.json", []byte(data)); err != nil {
				t.Fatal(err)
			}
			got, err := s.Read(ctx, "x/y.json")
			if err != nil || string(got) != data {
				t.Errorf("after writing %q, Read = %q, %v", data, got, err)
			}
		}
		if ok, err := s.Exists(ctx, "x/y.json"); !ok || err != nil {
			t.Errorf("Exists after writing empty data = %v, %v; want true, nil", ok, err)
		}
	})

	t.Run("CopiesData", func(t *testing.T) {
		s := newStore(t)
		data := []byte("original")
		if err := s.Write(ctx, "c.json", data); err != nil {
			t.Fatal(err)
		}
		copy(data, "CHANGED!")
		got, err := s.Read(ctx, "c.json")
		if err != nil || string(got) != "original" {
			t.Fatalf("after changing the written slice, Read = %q, %v", got, err)
		}
		copy(got, "CHANGED!")
		again, err := s.Read(ctx, "c.json")
		if err != nil || string(again) != "original" {
			t.Errorf("after changing a read slice, Read = %q, %v", again, err)
		}
	})

	t.Run("PrefixHoldsNoData", func(t *testing.T) {
		s := newStore(t)
		if err := s.Write(ctx, "etl/run/add-1.json", []byte("1")); err != nil {
			t.Fatal(err)
		}
		for _, loc := range []string{"etl", "etl/run"} {
			if ok, err := s.Exists(ctx, loc); ok || err != nil {
				t.Errorf("Exists(%q) = %v, %v; want false, nil: only etl/run/add-1.json holds data", loc, ok, err)
			}
			if _, err := s.Read(ctx, loc); !errors.Is(err, result.ErrNotFound) {
				t.Errorf("Read(%q) = %v; want an error matching ErrNotFound", loc, err)
			}
		}
	})

	// Every operation rejects a bad location with an error saying so, not
	// ErrNotFound: a bad location is the caller's mistake, not a cache miss.
	t.Run("InvalidLocations", func(t *testing.T) {
		s := newStore(t)
		ops := []struct {
			name string
			call func(loc string) error
		}{
			{"Write", func(loc string) error { return s.Write(ctx, loc, []byte("x")) }},
			{"Read", func(loc string) error { _, err := s.Read(ctx, loc); return err }},
			{"Exists", func(loc string) error {
				ok, err := s.Exists(ctx, loc)
				if ok && err == nil {
					return nil
				}
				return err
			}},
		}
		for _, op := range ops {
			var accepted []string
			for _, loc := range invalidLocations {
				if err := op.call(loc); err == nil || !strings.Contains(err.Error(), "is not valid") {
					accepted = append(accepted, fmt.Sprintf("%q (%v)", loc, err))
				}
			}
			if accepted != nil {
				t.Errorf("%s did not reject %d invalid locations: %s", op.name, len(accepted), strings.Join(accepted, ", "))
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		const writers, rounds, size = 4, 20, 4096
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds*3)
		for w := range writers {
			wg.Add(2)
			fill := bytes.Repeat([]byte{byte('a' + w)}, size)
			go func() { // every writer writes the shared location and its own
				defer wg.Done()
				for r := range rounds {
					if err := s.Write(ctx, "shared/value.json", fill); err != nil {
						errs <- err
					}
					if err := s.Write(ctx, fmt.Sprintf("own/%d/%d.json", w, r), fill); err != nil {
						errs <- err
					}
				}
			}()
			go func() { // a reader must see one whole value, never a mix or a part
				defer wg.Done()
				for range rounds {
					got, err := s.Read(ctx, "shared/value.json")
					if errors.Is(err, result.ErrNotFound) {
						continue
					}
					if err != nil {
						errs <- err
						continue
					}
					if len(got) != size || !bytes.Equal(got, bytes.Repeat(got[:1], size)) {
						errs <- fmt.Errorf("read %d bytes starting %q: a torn write", len(got), got[:min(len(got), 8)])
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for w := range writers {
			for r := range rounds {
				if ok, err := s.Exists(ctx, fmt.Sprintf("own/%d/%d.json", w, r)); !ok || err != nil {
					t.Errorf("own/%d/%d.json: Exists = %v, %v", w, r, ok, err)
				}
			}
		}
	})
}

func TestMemory(t *testing.T) {
	testStore(t, func(*testing.T) result.Store { return result.NewMemory() })
}

func TestLocal(t *testing.T) {
	testStore(t, func(t *testing.T) result.Store {
		l, err := result.NewLocal(filepath.Join(t.TempDir(), "results"))
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

// listFiles returns every file and folder under dir, slash-separated.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalLayoutAndModes(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	dir := filepath.Join(base, "deep", "results")
	l, err := result.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", l.Dir(), dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewLocal created its folder before any write: %v", err)
	}
	for i := range 3 {
		if err := l.Write(ctx, "etl/run-1/add-1.json", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Write(ctx, "top.json", []byte("t")); err != nil {
		t.Fatal(err)
	}

	got, err := os.ReadFile(filepath.Join(dir, "etl", "run-1", "add-1.json"))
	if err != nil || string(got) != "2" {
		t.Errorf("the file for etl/run-1/add-1.json holds %q, %v; want the last write", got, err)
	}
	want := []string{"etl", "etl/run-1", "etl/run-1/add-1.json", "top.json"}
	if files := listFiles(t, dir); strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("the store's folder holds %q, want %q (no temporary files)", files, want)
	}
	for _, d := range []string{filepath.Join(base, "deep"), dir, filepath.Join(dir, "etl"), filepath.Join(dir, "etl", "run-1")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a folder with mode 0700", d, fi.Mode())
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "top.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("result file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestLocalFailedWriteLeavesNothing checks a write that cannot complete
// removes its temporary file and keeps what was there.
func TestLocalFailedWriteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := result.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, "a/b.json", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	// "a" is a folder holding a result: a result cannot replace it.
	if err := l.Write(ctx, "a", []byte("x")); err == nil {
		t.Fatal(`Write("a") over a folder succeeded`)
	} else if !strings.Contains(err.Error(), `writing result "a"`) {
		t.Errorf("the error %q does not name the location", err)
	}
	// "a/b.json" is a file: nothing can be written under it.
	if err := l.Write(ctx, "a/b.json/c.json", []byte("x")); err == nil {
		t.Fatal("Write under a file succeeded")
	}
	want := []string{"a", "a/b.json"}
	if files := listFiles(t, dir); strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("after failed writes the folder holds %q, want %q", files, want)
	}
	if got, err := l.Read(ctx, "a/b.json"); err != nil || string(got) != "kept" {
		t.Errorf("Read(a/b.json) = %q, %v; want the earlier result", got, err)
	}
}

func TestLocalRejectsEscapes(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	l, err := result.NewLocal(filepath.Join(base, "results"))
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "escaped.json")
	for _, loc := range []string{"../escaped.json", "results/../../escaped.json", outside, `..\escaped.json`} {
		if err := l.Write(ctx, loc, []byte("x")); err == nil {
			t.Errorf("Write(%q) succeeded", loc)
		}
	}
	if files := listFiles(t, base); len(files) != 0 {
		t.Errorf("rejected writes left %q", files)
	}
	// A file outside the folder cannot be read or seen through the store.
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Read(ctx, "../escaped.json"); err == nil {
		t.Errorf("Read(../escaped.json) = %q", got)
	}
	if ok, _ := l.Exists(ctx, "../escaped.json"); ok {
		t.Error("Exists(../escaped.json) = true")
	}
}

func TestNewLocalDefaultFolder(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	l, err := result.NewLocal("")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(home, ".prefect", "results")
	if l.Dir() != want {
		t.Errorf("Dir() = %q, want %q", l.Dir(), want)
	}
	if err := l.Write(context.Background(), "f/r/t.json", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(want, "f", "r", "t.json")); err != nil || string(got) != "1" {
		t.Errorf("the result file holds %q, %v", got, err)
	}
}

func TestNewLocalWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	l, err := result.NewLocal("")
	if err == nil {
		t.Fatalf("NewLocal(\"\") without $HOME = %q, nil; want an error", l.Dir())
	}
	if !strings.Contains(err.Error(), "finding the default results folder") {
		t.Errorf("error = %q", err)
	}
	// An explicit folder needs no home.
	if _, err := result.NewLocal(t.TempDir()); err != nil {
		t.Errorf("NewLocal(dir) without $HOME = %v", err)
	}
}

// ExampleNewMemory shows a store's contract: data by location, and a missing
// location reported as ErrNotFound.
func ExampleNewMemory() {
	ctx := context.Background()
	s := result.NewMemory()
	_ = s.Write(ctx, "etl/run-1/add-1.json", []byte("42"))

	data, _ := s.Read(ctx, "etl/run-1/add-1.json")
	fmt.Println(string(data))
	_, err := s.Read(ctx, "etl/run-1/sum-1.json")
	fmt.Println(errors.Is(err, result.ErrNotFound))
	fmt.Println(s.Write(ctx, "../outside.json", nil))
	// Output:
	// 42
	// true
	// result location "../outside.json" is not valid: use a relative, slash-separated path without . or .. elements
}

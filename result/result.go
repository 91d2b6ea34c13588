// Package result stores task results by location: the checkpoints a runner
// writes so that a restarted run can reuse what finished, and the entries of
// the task cache. A [Store] is three methods over bytes; the runner encodes
// results as JSON before writing them.
//
// [NewMemory] keeps results for as long as the store value lives, which is
// the runner's default (one run). [NewLocal] writes files under a folder,
// ~/.prefect/results by default as in Prefect, so results outlive the process.
package result

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Store reads and writes results by location. Locations are slash-separated
// relative paths such as "etl/4f1c.../add-1.json". Implementations must be
// safe for concurrent use.
type Store interface {
	// Write stores data at location, replacing what was there.
	Write(ctx context.Context, location string, data []byte) error
	// Read returns the data at location; a missing one is an error matching
	// [ErrNotFound].
	Read(ctx context.Context, location string) ([]byte, error)
	// Exists reports whether location holds data.
	Exists(ctx context.Context, location string) (bool, error)
}

// ErrNotFound is matched by the error of a Read at a location with no data.
var ErrNotFound = errors.New("no result at this location")

// Memory is a [Store] in memory.
type Memory struct {
	mu   sync.RWMutex
	data map[string][]byte
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{data: map[string][]byte{}} }

// Write stores a copy of data at location.
func (m *Memory) Write(_ context.Context, location string, data []byte) error {
	if err := checkLocation(location); err != nil {
		return err
	}
	m.mu.Lock()
	if m.data == nil {
		m.data = map[string][]byte{} // the zero Memory is usable
	}
	m.data[location] = append([]byte(nil), data...)
	m.mu.Unlock()
	return nil
}

// Read returns a copy of the data at location.
func (m *Memory) Read(_ context.Context, location string) ([]byte, error) {
	if err := checkLocation(location); err != nil {
		return nil, err
	}
	m.mu.RLock()
	d, ok := m.data[location]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("reading result %q: %w", location, ErrNotFound)
	}
	return append([]byte(nil), d...), nil
}

// Exists reports whether location holds data.
func (m *Memory) Exists(_ context.Context, location string) (bool, error) {
	if err := checkLocation(location); err != nil {
		return false, err
	}
	m.mu.RLock()
	_, ok := m.data[location]
	m.mu.RUnlock()
	return ok, nil
}

// Local is a [Store] of files under a folder.
type Local struct {
	dir string
}

// NewLocal returns a store that keeps each result in a file under dir, which
// it creates when it first writes. An empty dir means ~/.prefect/results.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("finding the default results folder: %w", err)
		}
		dir = filepath.Join(home, ".prefect", "results")
	}
	return &Local{dir: dir}, nil
}

// Dir returns the folder the store writes to.
func (l *Local) Dir() string { return l.dir }

func (l *Local) path(location string) (string, error) {
	if err := checkLocation(location); err != nil {
		return "", err
	}
	if l.dir == "" {
		return "", errors.New("result: a Local store needs a folder; make it with NewLocal")
	}
	return filepath.Join(l.dir, filepath.FromSlash(location)), nil
}

// Write writes data to the file for location, atomically: a reader sees the
// old data or the new, never a part.
func (l *Local) Write(_ context.Context, location string, data []byte) error {
	p, err := l.path(location)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("writing result %q: %w", location, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing result %q: %w", location, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing result %q: %w", location, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing result %q: %w", location, err)
	}
	return nil
}

// Read returns the data in the file for location.
func (l *Local) Read(_ context.Context, location string) ([]byte, error) {
	p, err := l.path(location)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading result %q: %w", location, ErrNotFound)
	}
	d, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading result %q: %w", location, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading result %q: %w", location, err)
	}
	return d, nil
}

// Exists reports whether the file for location exists.
func (l *Local) Exists(_ context.Context, location string) (bool, error) {
	p, err := l.path(location)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking result %q: %w", location, err)
	}
	return fi.Mode().IsRegular(), nil
}

// checkLocation refuses locations that could escape a store's folder.
func checkLocation(location string) error {
	if location == "" || location == "." || !fs.ValidPath(location) || strings.Contains(location, `\`) {
		return fmt.Errorf("result location %q is not valid: use a relative, slash-separated path without . or .. elements", location)
	}
	return nil
}

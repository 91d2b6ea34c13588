package seal

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// KeyCheckInterval is how stale the keyring of a [KeyFile] may be: it
// looks at its file again when asked this long after its last look.
const KeyCheckInterval = time.Second

// A KeyFile is a key file that a running server follows: when a rotation
// rewrites the file (see [WriteKeyFile]), [KeyFile.Keyring] returns the new
// keyring within [KeyCheckInterval], without a restart. It is safe for
// concurrent use.
type KeyFile struct {
	path string

	mu      sync.Mutex
	ring    *Keyring
	stat    os.FileInfo // of the file ring was read from
	checked time.Time   // when the file was last looked at
	stale   error       // why the file, changed, could not be loaded
}

// OpenKeyFile loads the key file at path, creating it as
// [LoadOrCreateKeyFile] does; created reports whether this call created it.
func OpenKeyFile(path string) (f *KeyFile, created bool, err error) {
	if _, created, err = LoadOrCreateKeyFile(path); err != nil {
		return nil, false, err
	}
	// Read again for the information of the very file read: a rotation may
	// replace it at any moment.
	ring, fi, err := loadKeyFile(path)
	if err != nil {
		return nil, false, err
	}
	return &KeyFile{path: path, ring: ring, stat: fi, checked: time.Now()}, created, nil
}

// Path returns the key file's path.
func (f *KeyFile) Path() string { return f.path }

// Keyring returns the file's keyring, reading the file again if it changed
// (another size, time or inode) and was last looked at [KeyCheckInterval]
// ago or more, or at once when refresh is true: the caller met a row under
// a key the keyring lacks.
//
// If the changed file does not load (or can no longer be looked at), every
// call returns the error, saying why, with the last good keyring, until the
// file loads again. That keyring still opens what it opened before, but it
// must not seal: the file may have retired its current key.
func (f *KeyFile) Keyring(refresh bool) (*Keyring, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if !refresh && now.Sub(f.checked) < KeyCheckInterval {
		return f.ring, f.stale
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil {
		f.stale = fmt.Errorf("seal: checking key file: %w (still opening with keys %s)", err, f.ring)
		return f.ring, f.stale
	}
	if f.stat != nil && os.SameFile(fi, f.stat) && fi.Size() == f.stat.Size() && fi.ModTime().Equal(f.stat.ModTime()) {
		return f.ring, f.stale
	}
	ring, read, err := loadKeyFile(f.path)
	if err != nil {
		f.stale = fmt.Errorf("%w (still opening with keys %s)", err, f.ring)
		return f.ring, f.stale
	}
	f.ring, f.stat, f.stale = ring, read, nil
	return ring, nil
}

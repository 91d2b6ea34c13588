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
}

// OpenKeyFile loads the key file at path, creating it as
// [LoadOrCreateKeyFile] does; created reports whether this call created it.
func OpenKeyFile(path string) (f *KeyFile, created bool, err error) {
	ring, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, false, err
	}
	f = &KeyFile{path: path, ring: ring, checked: time.Now()}
	f.stat, _ = os.Stat(path) // a failure here only forces a reread later
	return f, created, nil
}

// Path returns the key file's path.
func (f *KeyFile) Path() string { return f.path }

// Keyring returns the file's keyring, reading the file again if it changed
// (another size, time or inode) and was last looked at
// [KeyCheckInterval] ago or more, or at once when refresh is true: the
// caller met a row under a key the keyring lacks. If the changed file does
// not load, the error says why and the keyring returned is the last good
// one, so that a server keeps serving while the file is fixed.
func (f *KeyFile) Keyring(refresh bool) (*Keyring, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if !refresh && now.Sub(f.checked) < KeyCheckInterval {
		return f.ring, nil
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil {
		return f.ring, fmt.Errorf("seal: checking key file: %w (still using keys %s)", err, f.ring)
	}
	if f.stat != nil && os.SameFile(fi, f.stat) && fi.Size() == f.stat.Size() && fi.ModTime().Equal(f.stat.ModTime()) {
		return f.ring, nil
	}
	ring, err := LoadKeyFile(f.path)
	if err != nil {
		return f.ring, fmt.Errorf("%w (still using keys %s)", err, f.ring)
	}
	f.ring, f.stat = ring, fi
	return ring, nil
}

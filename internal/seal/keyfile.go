package seal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// maxKeyFile bounds what a key file is read for: a key takes 44 bytes.
const maxKeyFile = 1024

// LoadOrCreateKeyFile returns the master key held in the file at path,
// creating the file, and its folder, with a new random key when there is
// none; created reports whether this call created it.
//
// The folder is created with mode 0700 and the file with mode 0600, whole
// (written and synced under a temporary name, then linked into place), so
// that no process ever reads half a key. Linking fails when the file exists:
// processes starting at once all end with the one key written first.
//
// A key file readable or writable by group or others is refused (except on
// Windows, which has no such modes), as is one that does not hold a key (see
// [ParseMasterKey]; white space around the key is ignored). Errors name the
// path, never what the file holds.
func LoadOrCreateKeyFile(path string) (MasterKey, bool, error) {
	// Each round either returns or has lost a race to another process that
	// created the file; a third round means the file comes and goes.
	for range 3 {
		k, err := loadKeyFile(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return k, false, err
		}
		k, err = createKeyFile(path)
		if !errors.Is(err, fs.ErrExist) {
			return k, err == nil, err
		}
	}
	return MasterKey{}, false, fmt.Errorf("seal: key file %s appears and disappears; is another program removing it?", path)
}

func loadKeyFile(path string) (MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: reading key file: %w", err)
	}
	defer f.Close()
	// The checks use the open file, not the path, which could change between
	// a check and the read.
	fi, err := f.Stat()
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: reading key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return MasterKey{}, fmt.Errorf("seal: key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return MasterKey{}, fmt.Errorf("seal: key file %s has mode %04o, open to group or others; run: chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	defer clear(b)
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: reading key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return MasterKey{}, fmt.Errorf("seal: key file %s is larger than %d bytes; it must hold only a base64 key", path, maxKeyFile)
	}
	k, err := parseMasterKey(string(b))
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes a new key to path, or fails with an error matching
// fs.ErrExist when path exists.
func createKeyFile(path string) (MasterKey, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return MasterKey{}, fmt.Errorf("seal: creating the folder of key file %s: %w", path, err)
	}
	k, err := NewMasterKey()
	if err != nil {
		return MasterKey{}, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: creating key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(k.Encode() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: writing key file %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return MasterKey{}, err
		}
		return MasterKey{}, fmt.Errorf("seal: creating key file %s: %w (it is created with a hard link, so that processes starting at once agree on one key)", path, err)
	}
	// Make the new name durable: rows sealed under a key lost in a crash
	// would be lost with it. Best effort: some systems cannot sync a folder.
	if runtime.GOOS != "windows" {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return k, nil
}

// KeyFromEnv returns the master key in the environment variable called name,
// as standard base64 (see [ParseMasterKey]); ok is false when the variable is
// not set. A variable set to nothing but white space is an error rather than
// unset, so that a key lost in deployment fails loudly instead of letting a
// new key take its place. Errors name the variable, never its value.
func KeyFromEnv(name string) (k MasterKey, ok bool, err error) {
	v, set := os.LookupEnv(name)
	if !set {
		return MasterKey{}, false, nil
	}
	if strings.TrimSpace(v) == "" {
		return MasterKey{}, false, fmt.Errorf("seal: environment variable %s is set but empty; unset it or set it to a base64 master key", name)
	}
	k, err = parseMasterKey(v)
	if err != nil {
		return MasterKey{}, false, fmt.Errorf("seal: environment variable %s: %w", name, err)
	}
	return k, true, nil
}

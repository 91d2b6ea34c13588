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
	"unicode"
)

// maxKeyFile bounds what a key file is read for: a key takes 45 bytes with
// its line end, so this holds a current key and dozens of old ones.
const maxKeyFile = 4096

// A key file, or the environment variable of [KeyFromEnv], holds one master
// key or several: standard base64 keys separated by line ends, spaces or
// commas, the current key first. During a rotation it holds the new key
// followed by the old; see [WriteKeyFile].

// LoadOrCreateKeyFile returns the keyring held in the file at path (its
// first key seals, all open), creating the file, and its folder, with a new
// random key when there is none; created reports whether this call created
// it.
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
func LoadOrCreateKeyFile(path string) (*Keyring, bool, error) {
	// Each round either returns or has lost a race to another process that
	// created the file; a third round means the file comes and goes.
	for range 3 {
		r, err := LoadKeyFile(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return r, false, err
		}
		k, err := createKeyFile(path)
		if !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return nil, false, err
			}
			return NewKeyring(k), true, nil
		}
	}
	return nil, false, fmt.Errorf("seal: key file %s appears and disappears; is another program removing it?", path)
}

// LoadKeyFile returns the keyring held in the key file at path, with the
// checks of [LoadOrCreateKeyFile]. The error matches fs.ErrNotExist when
// there is no such file.
func LoadKeyFile(path string) (*Keyring, error) {
	r, _, err := loadKeyFile(path)
	return r, err
}

// loadKeyFile is LoadKeyFile, also returning the file information of the
// very file it read (not of whatever the path names a moment later).
func loadKeyFile(path string) (*Keyring, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: reading key file: %w", err)
	}
	defer f.Close()
	// The checks use the open file, not the path, which could change between
	// a check and the read.
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("seal: reading key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("seal: key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, nil, fmt.Errorf("seal: key file %s has mode %04o, open to group or others; run: chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	defer clear(b)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: reading key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, nil, fmt.Errorf("seal: key file %s is larger than %d bytes; it must hold only base64 keys", path, maxKeyFile)
	}
	r, err := parseKeys(string(b))
	if err != nil {
		return nil, nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return r, fi, nil
}

// parseKeys parses the keys of a key file or variable, current first.
func parseKeys(s string) (*Keyring, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	keys := make([]MasterKey, len(fields))
	for i, f := range fields {
		k, err := parseMasterKey(f)
		if err != nil {
			if len(fields) == 1 {
				return nil, err
			}
			return nil, fmt.Errorf("key %d of %d: %w", i+1, len(fields), err)
		}
		keys[i] = k
	}
	return NewKeyring(keys[0], keys[1:]...), nil
}

// WriteKeyFile replaces the key file at path with one holding keys, the
// first being the current one, one per line, mode 0600. The new file is
// written and synced under a temporary name and renamed into place, so a
// reader sees the old file or the new, never a mix. A rotation writes the
// new key followed by the old, rewraps every row, then writes the new key
// alone.
func WriteKeyFile(path string, keys ...MasterKey) error {
	if len(keys) == 0 {
		return fmt.Errorf("seal: writing key file %s: no keys", path)
	}
	var text strings.Builder
	for _, k := range keys {
		if k.IsZero() {
			return fmt.Errorf("seal: writing key file %s: %w", path, ErrNoKey)
		}
		text.WriteString(k.Encode() + "\n")
	}
	tmp, err := writeTemp(path, text.String())
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// A rotation run by root must not take the file from the server's user.
	if fi, err := os.Stat(path); err == nil {
		if err := sameOwner(tmp, fi); err != nil {
			return fmt.Errorf("seal: writing key file %s: giving it the old file's owner: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("seal: writing key file %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeTemp writes text to a new file of mode 0600 beside path, synced, and
// returns its name. The caller removes it, or renames or links it.
func writeTemp(path, text string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return "", fmt.Errorf("seal: writing key file %s: %w", path, err)
	}
	_, err = tmp.WriteString(text)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("seal: writing key file %s: %w", path, err)
	}
	return tmp.Name(), nil
}

// syncDir makes a new name in dir durable: rows sealed under a key lost in
// a crash would be lost with it. Best effort: some systems cannot sync a
// folder.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
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
	tmp, err := writeTemp(path, k.Encode()+"\n")
	if err != nil {
		return MasterKey{}, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return MasterKey{}, err
		}
		return MasterKey{}, fmt.Errorf("seal: creating key file %s: %w (it is created with a hard link, so that processes starting at once agree on one key)", path, err)
	}
	syncDir(dir)
	return k, nil
}

// KeyFromEnv returns the keyring in the environment variable called name:
// one standard base64 key (see [ParseMasterKey]) or several, current first,
// as in a key file; ok is false when the variable is not set. A variable set to nothing but white space is an error rather than
// unset, so that a key lost in deployment fails loudly instead of letting a
// new key take its place. Errors name the variable, never its value.
func KeyFromEnv(name string) (r *Keyring, ok bool, err error) {
	v, set := os.LookupEnv(name)
	if !set {
		return nil, false, nil
	}
	if strings.TrimSpace(v) == "" {
		return nil, false, fmt.Errorf("seal: environment variable %s is set but empty; unset it or set it to a base64 master key", name)
	}
	r, err = parseKeys(v)
	if err != nil {
		return nil, false, fmt.Errorf("seal: environment variable %s: %w", name, err)
	}
	return r, true, nil
}

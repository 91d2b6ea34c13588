//go:build unix

package seal

import (
	"os"
	"syscall"
)

// sameOwner gives the file at path the owner and group of fi, when they
// differ and this process may change them (root may; others keep theirs,
// which is then the old file's anyway unless the folder is shared).
func sameOwner(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	cur, err := os.Stat(path)
	if err != nil {
		return err
	}
	if c, ok := cur.Sys().(*syscall.Stat_t); ok && c.Uid == st.Uid && c.Gid == st.Gid {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}

package safefile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces the file at path with data so that readers (and
// a crash at any moment) see either the old content or the new, never a mix:
// it writes a temp file in the same directory, syncs and closes it, renames
// it over path and syncs the directory. On error the temp file is removed
// and path is untouched.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	_, err := WriteAtomic(path, data, perm, nil)
	return err
}

// WriteAtomic is WriteFileAtomic with a hook that runs once the new content
// is durable and just before the rename. renamed reports whether path now
// holds data (the directory sync may still have failed).
func WriteAtomic(path string, data []byte, perm os.FileMode, beforeRename func() error) (renamed bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer func() {
		if !renamed {
			_ = f.Close() // harmless if already closed
			_ = os.Remove(tmp)
		}
	}()

	if err := f.Chmod(perm); err != nil {
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		return false, err
	}
	if err := f.Sync(); err != nil && !syncUnsupported(err) {
		return false, err
	}
	// Close before rename: Windows cannot rename an open file.
	if err := f.Close(); err != nil {
		return false, err
	}
	if beforeRename != nil {
		if err := beforeRename(); err != nil {
			return false, err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	if err := syncDir(filepath.Clean(dir)); err != nil {
		return true, fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return true, nil
}

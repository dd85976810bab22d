//go:build unix

package state

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// removeDeadLock removes the lock file if it still holds the lock of dead,
// whose process is gone, so that the caller can take the lock anew; it
// reports whether it removed it. Several processes may find the same dead
// holder at once, and a plain read-then-remove would let a slow one remove
// the lock a fast one has just taken. So each first takes an exclusive
// flock on the lock file it opened, then checks that the path still names
// that very file and that it still holds dead's ID: exactly one remover
// sees both, the others find another file (or none) and start over. A
// remover killed meanwhile releases its flock with its death.
func removeDeadLock(file string, dead *LockInfo) (bool, error) {
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.Open(file) // flock needs no write access on local file systems
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close() // releases the flock, after the removal
	if err := flock(f); err != nil {
		return false, err
	}
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	named, err := os.Lstat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !os.SameFile(opened, named) {
		return false, nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return false, err
	}
	var li LockInfo
	if json.Unmarshal(data, &li) != nil || li.ID != dead.ID {
		return false, nil
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

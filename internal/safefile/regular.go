// Package safefile reads and writes files atomically, and consumer files
// (rewrite outputs, binding files) only as themselves: never through a
// symbolic link. It is a leaf: the state package and the providers that
// write consumer files both use it.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by errors about a consumer file ferry reads or
// writes (a rewrite output, a binding file) that is not a regular file, or a
// bindings directory that is not a real directory. ferry never reads or
// writes through a symbolic link there: the link could point at a private
// key, whose content the plan would then show, or at a file someone else
// owns, which apply would overwrite.
var ErrNotRegular = errors.New("not a regular file")

// ReadRegularFile reads path, which must be a regular file: a symbolic link
// (even to a regular file), a directory, a device or a pipe fails with an
// error wrapping ErrNotRegular that names path, without reading anything. A
// missing file gives an error wrapping fs.ErrNotExist. The file opened is
// checked to be the one inspected, so swapping in a link meanwhile fails.
func ReadRegularFile(path string) ([]byte, os.FileMode, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, 0, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !os.SameFile(fi, opened) {
		return nil, 0, fmt.Errorf("%s: %w (it was replaced while being opened)", path, ErrNotRegular)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, err
	}
	return data, fi.Mode().Perm(), nil
}

// WriteRegularFileAtomic is WriteFileAtomic for a consumer file: an existing
// path must be a regular file (ErrNotRegular otherwise, nothing written),
// so a symbolic link is neither written through nor replaced.
func WriteRegularFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := CheckRegularFile(path); err != nil {
		return err
	}
	return WriteFileAtomic(path, data, perm)
}

// CheckRegularFile returns nil when path is a regular file or does not
// exist; otherwise an error wrapping ErrNotRegular naming path.
func CheckRegularFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return checkRegular(path, fi)
}

// CheckRealDir returns nil when path is a directory that is not a symbolic
// link, or does not exist; otherwise an error wrapping ErrNotRegular naming
// path. It guards a directory of consumer files (bindings) the same way.
func CheckRealDir(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link, which ferry never follows for the files it writes (%w): configure the directory it points at, or replace the link by a directory", path, ErrNotRegular)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory (%s; %w)", path, fi.Mode().Type(), ErrNotRegular)
	}
	return nil
}

func checkRegular(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link, which ferry never reads or writes through (%w): configure the file it points at, or replace the link by a copy", path, ErrNotRegular)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	return nil
}

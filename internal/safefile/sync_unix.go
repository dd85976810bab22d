//go:build unix

package safefile

import (
	"errors"
	"os"
	"syscall"
)

// syncUnsupported reports whether a Sync failed only because the file
// system does not support it (some network and FUSE file systems).
func syncUnsupported(err error) bool {
	return errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EINVAL)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && syncUnsupported(err) {
		return nil
	}
	return err
}

//go:build unix

package state

import (
	"errors"
	"syscall"
)

// syncUnsupported reports whether a Sync failed only because the file
// system does not support it (some network and FUSE file systems).
func syncUnsupported(err error) bool {
	return errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EINVAL)
}

// processGone reports whether no process with this PID exists on this host.
// It errs on the side of "alive": only ESRCH counts as gone.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

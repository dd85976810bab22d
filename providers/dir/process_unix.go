//go:build unix

package dir

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this PID exists (possibly
// owned by another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

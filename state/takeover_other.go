//go:build !unix

package state

import "errors"

// removeDeadLock is never needed here: processGone never calls a holder
// gone on this platform.
func removeDeadLock(string, *LockInfo) (bool, error) {
	return false, errors.New("taking over a lock is not supported on this platform")
}

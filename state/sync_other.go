//go:build !unix

package state

// syncUnsupported reports whether a Sync failed only because the platform
// does not support it.
func syncUnsupported(error) bool { return false }

// processGone cannot tell on this platform, so it never calls a lock stale.
func processGone(int) bool { return false }

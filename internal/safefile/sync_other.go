//go:build !unix

package safefile

// syncUnsupported reports whether a Sync failed only because the platform
// does not support it.
func syncUnsupported(error) bool { return false }

// syncDir is a no-op where directories cannot be synced (Windows: a rename
// is made durable by the file system itself).
func syncDir(string) error { return nil }

//go:build !linux

package dir

import "io/fs"

// fileToken has no stat data it trusts on this platform: no tokens, so
// refresh Stat's (hashes) every file.
func fileToken(fs.FileInfo) string { return "" }

// sameContent cannot tell on this platform.
func sameContent(_, _ fs.FileInfo) bool { return false }

//go:build !linux

package state

// processStart cannot tell processes apart beyond their PID on this
// platform: a lock's holder counts as gone only when its PID is free.
func processStart(int) string { return "" }

// processZombie cannot tell on this platform.
func processZombie(int) bool { return false }

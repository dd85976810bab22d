//go:build linux

package testenv

import "syscall"

// sysProcAttr makes the kernel SIGKILL a server when the test binary dies
// without running its cleanups (a `go test -timeout` panic, a crash, ^C), so
// no server outlives the tests. startProcess starts the child from a locked
// OS thread that lives until the child has exited, because Pdeathsig follows
// the starting thread, not the process.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

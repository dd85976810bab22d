//go:build unix

package httpsrc

import "syscall"

// processCPU is the user and system CPU time of the process so far in
// nanoseconds, -1 if unknown.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

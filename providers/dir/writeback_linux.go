package dir

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
// range's dirty pages, without waiting for it.
const syncFileRangeWrite = 0x2

// startWriteback asks the kernel to start writing n bytes of f at off to
// disk, so the fsync that makes the file durable before it is published
// waits only for the tail. A hint: errors are ignored (the fsync reports
// what matters).
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	})
}

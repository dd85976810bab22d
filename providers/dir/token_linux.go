package dir

import (
	"io/fs"
	"strconv"
	"syscall"
)

// fileToken is the change token of the regular file fi describes (from
// lstat or fstat): device, inode, size, and modification and status
// change times in nanoseconds. Writing the file changes its mtime and
// ctime, replacing it its inode, and setting the mtime back (utimensat)
// changes the ctime, which no one but the kernel sets; Linux since 6.13
// (multigrain timestamps) gives a change that follows a stat a later
// ctime even within one clock tick. Empty when fi carries no stat data.
func fileToken(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return ""
	}
	b := make([]byte, 0, 80)
	b = strconv.AppendUint(b, uint64(st.Dev), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(st.Ino), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(st.Size), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, st.Mtim.Nano(), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, st.Ctim.Nano(), 10)
	return string(b)
}

// sameContent reports whether before and after (stats of one file taken
// around its publishing rename or link) show the same inode with the same
// size and mtime: nothing wrote to it in between (publishing itself
// changes only the ctime).
func sameContent(before, after fs.FileInfo) bool {
	b, ok1 := before.Sys().(*syscall.Stat_t)
	a, ok2 := after.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && after.Mode().IsRegular() && a.Dev == b.Dev && a.Ino == b.Ino && a.Size == b.Size && a.Mtim == b.Mtim
}

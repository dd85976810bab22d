package state

import (
	"os"
	"strconv"
	"strings"
)

// processStart identifies process pid beyond its PID: the boot ID and the
// process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), "BOOT_ID/TICKS". A PID reused after the process exited,
// or after a reboot, gives another value. "" when it cannot be read.
func processStart(pid int) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	fields := procStat(pid)
	const startTime = 22 - 3
	if len(fields) <= startTime {
		return ""
	}
	if _, err := strconv.ParseUint(fields[startTime], 10, 64); err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + fields[startTime]
}

// processZombie reports whether pid is a zombie: killed, but not yet reaped
// by its parent. It holds its PID but never runs again.
func processZombie(pid int) bool {
	fields := procStat(pid)
	return len(fields) > 0 && fields[0] == "Z"
}

// procStat is /proc/PID/stat split into fields from field 3 (STATE) on;
// nil when it cannot be read. "PID (COMM) STATE PPID …": COMM may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func procStat(pid int) []string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

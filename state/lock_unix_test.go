//go:build unix

package state

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	helperEnv     = "FERRY_STATE_LOCK_HELPER"
	helperPathEnv = "FERRY_STATE_LOCK_HELPER_PATH"
)

// TestHelperProcess is not a test: lockHolder runs the test binary with
// helperEnv set to make it a process that holds the lock at
// helperPathEnv until its stdin is closed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestLockAcrossProcesses")
	}
	l, err := Lock(context.Background(), os.Getenv(helperPathEnv), "apply", "helper", 0)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked", l.Info().ID)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := l.Unlock(); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// lockHolder starts a helper process holding the lock on path and returns
// it with the lock ID once it has the lock.
func lockHolder(t *testing.T, path string) (cmd *exec.Cmd, stdin io.WriteCloser, id string) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // this process only, by its PID
		_ = cmd.Wait()
	})

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		id, ok := strings.CutPrefix(line, "locked ")
		if !ok {
			t.Fatalf("helper process said %q, want \"locked ID\"", line)
		}
		return cmd, stdin, id
	case <-time.After(10 * time.Second):
		t.Fatal("helper process did not take the lock within 10s")
	}
	return nil, nil, ""
}

func TestLockAcrossProcesses(t *testing.T) {
	t.Run("released when the holder exits", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ferry.state.json")
		cmd, stdin, _ := lockHolder(t, path)

		_, err := Lock(context.Background(), path, "plan", "0.4.0", 0)
		lerr := asLockError(t, err)
		if lerr.Info.PID != cmd.Process.Pid || lerr.Stale {
			t.Errorf("LockError = %v (stale %v), want holder pid %d, live", err, lerr.Stale, cmd.Process.Pid)
		}
		if want := fmt.Sprintf("(pid %d, operation apply)", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}

		if err := stdin.Close(); err != nil {
			t.Fatal(err)
		}
		l, err := Lock(context.Background(), path, "apply", "0.4.0", 5*time.Second)
		if err != nil {
			t.Fatalf("Lock after the holder let go: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Error(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	})

	t.Run("killed holder's lock is taken over", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ferry.state.json")
		cmd, _, id := lockHolder(t, path)
		pid := cmd.Process.Pid

		_, err := Lock(context.Background(), path, "plan", "0.4.0", 0)
		if lerr := asLockError(t, err); lerr.Info.PID != pid || lerr.Stale {
			t.Fatalf("LockError = %v (stale %v), want live holder pid %d", err, lerr.Stale, pid)
		}

		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to unlock
			t.Fatal(err)
		}
		_ = cmd.Wait() // reap it, or it lingers as a zombie that still "exists"

		info, err := ReadLock(path)
		if err != nil || info.ID != id || info.PID != pid {
			t.Fatalf("lock after SIGKILL: %+v, %v; want it left behind by pid %d", info, err, pid)
		}
		l, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
		if err != nil {
			t.Fatalf("Lock after the holder was killed: %v; want the lock taken over", err)
		}
		if prev := l.TookOver(); prev == nil || prev.ID != id || prev.PID != pid {
			t.Errorf("TookOver() = %+v, want the killed holder (ID %s, pid %d)", prev, id, pid)
		}
		if info, err := ReadLock(path); err != nil || info.ID != l.Info().ID {
			t.Errorf("lock file after the takeover: %+v, %v; want ours (%s)", info, err, l.Info().ID)
		}
		if err := l.Unlock(); err != nil {
			t.Error(err)
		}
		if _, err := ReadLock(path); !errors.Is(err, ErrNotLocked) {
			t.Errorf("ReadLock at the end: %v, want ErrNotLocked", err)
		}
	})
}

// A holder killed but not yet reaped by its parent (a zombie) still has its
// PID, but it will never release the lock: it is taken over too.
func TestLockTakeOverZombie(t *testing.T) {
	if processStart(os.Getpid()) == "" {
		t.Skip("this platform cannot tell a zombie")
	}
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	cmd, _, id := lockHolder(t, path)
	if err := cmd.Process.Kill(); err != nil { // not reaped until the cleanup
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !processZombie(cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	l, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
	if err != nil {
		t.Fatalf("Lock with a zombie holder: %v; want the lock taken over", err)
	}
	defer l.Unlock()
	if prev := l.TookOver(); prev == nil || prev.ID != id {
		t.Errorf("TookOver() = %+v, want the zombie holder %s", prev, id)
	}
}

// writeLock leaves a lock file as a holder described by info would have.
func writeLock(t *testing.T, path string, info LockInfo) {
	t.Helper()
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".lock", b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// deadPID is the PID of a process that just exited (and was reaped).
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// A lock whose holder ran on this host and whose process is gone is taken
// over; one whose process may still run, or that ran on another host, is
// not. The start time tells a reused PID from the holder.
func TestLockTakeOver(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	selfStart := processStart(self)
	boot, ticks, _ := strings.Cut(selfStart, "/")
	n, _ := strconv.ParseUint(ticks, 10, 64)
	earlier := boot + "/" + strconv.FormatUint(n-1, 10) // the same PID, another process
	dead := deadPID(t)

	tests := []struct {
		name      string
		info      LockInfo
		needStart bool // the platform must tell start times (Linux)
		takeOver  bool
	}{
		{name: "dead pid", info: LockInfo{Host: host, PID: dead, Start: earlier}, takeOver: true},
		{name: "dead pid, lock of an earlier ferry without start", info: LockInfo{Host: host, PID: dead}, takeOver: true},
		{name: "reused pid, other start time", info: LockInfo{Host: host, PID: self, Start: earlier}, needStart: true, takeOver: true},
		{name: "reused pid after a reboot", info: LockInfo{Host: host, PID: self, Start: "another-boot/" + ticks}, needStart: true, takeOver: true},
		{name: "live holder, same start time", info: LockInfo{Host: host, PID: self, Start: selfStart}, needStart: true},
		{name: "live pid, lock without start", info: LockInfo{Host: host, PID: self}},
		{name: "other host, dead pid", info: LockInfo{Host: "elsewhere.invalid", PID: dead, Start: earlier}},
		{name: "no host recorded", info: LockInfo{PID: dead}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needStart && selfStart == "" {
				t.Skip("this platform cannot tell process start times")
			}
			path := filepath.Join(t.TempDir(), "ferry.state.json")
			tc.info.ID, tc.info.Operation, tc.info.Who = "dead-holder", "apply", "ci@"+tc.info.Host
			writeLock(t, path, tc.info)

			l, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
			if !tc.takeOver {
				if lerr := asLockError(t, err); lerr.Info.ID != "dead-holder" || lerr.Stale {
					t.Errorf("LockError = %v (stale %v), want the holder reported as live", err, lerr.Stale)
				}
				if info, err := ReadLock(path); err != nil || info.ID != "dead-holder" {
					t.Errorf("lock file = %+v, %v; want it left in place", info, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lock: %v; want the lock taken over", err)
			}
			defer l.Unlock()
			if prev := l.TookOver(); prev == nil || prev.ID != "dead-holder" {
				t.Errorf("TookOver() = %+v, want the dead holder", prev)
			}
			if info, err := ReadLock(path); err != nil || info.ID != l.Info().ID {
				t.Errorf("lock file = %+v, %v; want ours", info, err)
			}
		})
	}
}

// Many takers finding the same dead holder at once: exactly one takes the
// lock, the others are told it is held by that one (live), never two
// holders.
func TestLockTakeOverRace(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "ferry.state.json")
		writeLock(t, path, LockInfo{ID: "dead-holder", Operation: "apply", Who: "ci@" + host, Host: host, PID: deadPID(t)})
		const takers = 8
		type result struct {
			l   *HeldLock
			err error
		}
		results := make(chan result, takers)
		start := make(chan struct{})
		for range takers {
			go func() {
				<-start
				l, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
				results <- result{l, err}
			}()
		}
		close(start)
		var winners []*HeldLock
		var losers []error
		for range takers {
			r := <-results
			if r.err == nil {
				winners = append(winners, r.l)
			} else {
				losers = append(losers, r.err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d takers hold the lock, want exactly 1 (errors: %v)", round, len(winners), losers)
		}
		id := winners[0].Info().ID
		for _, err := range losers {
			if lerr := asLockError(t, err); lerr.Info.ID != id || lerr.Stale {
				t.Errorf("round %d: loser told %v (stale %v), want the winner %s, live", round, err, lerr.Stale, id)
			}
		}
		if info, err := ReadLock(path); err != nil || info.ID != id {
			t.Errorf("round %d: lock file = %+v, %v; want the winner's", round, info, err)
		}
		if err := winners[0].Unlock(); err != nil {
			t.Error(err)
		}
	}
}

//go:build unix

package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

	t.Run("killed holder leaves a stale lock", func(t *testing.T) {
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
		_, err = Lock(context.Background(), path, "apply", "0.4.0", 300*time.Millisecond)
		lerr := asLockError(t, err)
		if !lerr.Stale {
			t.Errorf("the dead holder's lock is not reported stale: %v", err)
		}
		for _, want := range []string{
			fmt.Sprintf("(pid %d, operation apply)", pid),
			"the process that holds it is gone",
			"ferry state unlock " + id,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if info, err := ReadLock(path); err != nil || info.ID != id {
			t.Errorf("Lock took over a stale lock: %+v, %v", info, err)
		}

		if err := ForceUnlock(path, lerr.Info.ID); err != nil {
			t.Fatalf("ForceUnlock with the ID from the error: %v", err)
		}
		l, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
		if err != nil {
			t.Fatalf("Lock after ForceUnlock: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Error(err)
		}
		if _, err := ReadLock(path); !errors.Is(err, ErrNotLocked) {
			t.Errorf("ReadLock at the end: %v, want ErrNotLocked", err)
		}
	})
}

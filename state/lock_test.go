package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustLock(t *testing.T, path, op string) *HeldLock {
	t.Helper()
	l, err := Lock(context.Background(), path, op, "0.4.0", 0)
	if err != nil {
		t.Fatalf("Lock(%s): %v", path, err)
	}
	return l
}

func asLockError(t *testing.T, err error) *LockError {
	t.Helper()
	var lerr *LockError
	if !errors.As(err, &lerr) {
		t.Fatalf("error %v (%T) is not a *LockError", err, err)
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error %v does not match ErrLocked", err)
	}
	return lerr
}

func TestLockInfoRecorded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.state.json")
	before := time.Now()
	l := mustLock(t, path, "apply")
	info := l.Info()

	host, _ := os.Hostname()
	want := LockInfo{
		ID:        info.ID,
		Operation: "apply",
		Who:       info.Who,
		Host:      host,
		PID:       os.Getpid(),
		Start:     processStart(os.Getpid()),
		Version:   "0.4.0",
		Created:   info.Created,
		Path:      path, // TempDir is absolute
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	if info.ID == "" || !strings.HasSuffix(info.Who, "@"+host) || info.Created.Before(before.Add(-time.Second)) {
		t.Errorf("Info has ID %q, Who %q, Created %v", info.ID, info.Who, info.Created)
	}

	read, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(info, *read); diff != "" {
		t.Errorf("ReadLock (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ferry.state.json.lock"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("directory while locked (-want +got):\n%s", diff)
	}

	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v, want nil", err)
	}
	if _, err := ReadLock(path); !errors.Is(err, ErrNotLocked) {
		t.Errorf("ReadLock after Unlock: %v, want ErrNotLocked", err)
	}
	if diff := cmp.Diff([]string(nil), dirEntries(t, dir)); diff != "" {
		t.Errorf("directory after Unlock (-want +got):\n%s", diff)
	}
}

func TestLockHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	first := mustLock(t, path, "apply")
	defer first.Unlock()
	id := first.Info().ID

	start := time.Now()
	l, err := Lock(context.Background(), path, "plan", "0.4.0", 0)
	if l != nil {
		t.Fatalf("second Lock succeeded")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Lock with timeout 0 took %v", elapsed)
	}
	lerr := asLockError(t, err)
	if diff := cmp.Diff(first.Info(), *lerr.Info); diff != "" {
		t.Errorf("LockError.Info (-want +got):\n%s", diff)
	}
	if lerr.Stale {
		t.Errorf("a live holder is reported stale")
	}
	for _, want := range []string{
		"state is locked by " + first.Info().Who,
		fmt.Sprintf("(pid %d, operation apply) since ", os.Getpid()),
		"lock ID " + id,
		"ferry state unlock " + id,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "is gone") {
		t.Errorf("error %q calls a live holder gone", err)
	}
}

func TestLockWaitsForRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	first := mustLock(t, path, "apply")
	go func() {
		time.Sleep(300 * time.Millisecond)
		if err := first.Unlock(); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	second, err := Lock(context.Background(), path, "apply", "0.4.0", 5*time.Second)
	if err != nil {
		t.Fatalf("Lock with a timeout: %v", err)
	}
	defer second.Unlock()
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("acquired after %v, want between 300ms and 3s", elapsed)
	}
	read, err := ReadLock(path)
	if err != nil || read.ID != second.Info().ID {
		t.Errorf("ReadLock = %+v, %v; want the second holder %s", read, err, second.Info().ID)
	}
}

func TestLockGivesUp(t *testing.T) {
	tests := []struct {
		name        string
		timeout     time.Duration
		cancelAfter time.Duration // 0: never
		wantIs      error         // besides ErrLocked
		minElapsed  time.Duration
		maxElapsed  time.Duration
	}{
		{name: "timeout elapses", timeout: 250 * time.Millisecond, minElapsed: 250 * time.Millisecond, maxElapsed: 1500 * time.Millisecond},
		{name: "context cancelled", timeout: time.Minute, cancelAfter: 150 * time.Millisecond, wantIs: context.Canceled, minElapsed: 150 * time.Millisecond, maxElapsed: 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ferry.state.json")
			first := mustLock(t, path, "apply")
			defer first.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			start := time.Now()
			_, err := Lock(ctx, path, "plan", "0.4.0", tc.timeout)
			elapsed := time.Since(start)
			lerr := asLockError(t, err)
			if lerr.Info.ID != first.Info().ID {
				t.Errorf("LockError names holder %s, want %s", lerr.Info.ID, first.Info().ID)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
			if elapsed < tc.minElapsed || elapsed > tc.maxElapsed {
				t.Errorf("gave up after %v, want between %v and %v", elapsed, tc.minElapsed, tc.maxElapsed)
			}
		})
	}
}

func TestLockCancelledBeforeStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l, err := Lock(ctx, path, "apply", "0.4.0", time.Second); l != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Lock(cancelled ctx) = %v, %v; want nil, context.Canceled", l, err)
	}
	if _, err := os.Stat(path + ".lock"); err == nil {
		t.Errorf("a cancelled Lock created the lock file")
	}
}

func TestForceUnlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	if err := ForceUnlock(path, "anything"); !errors.Is(err, ErrNotLocked) {
		t.Errorf("ForceUnlock with no lock: %v, want ErrNotLocked", err)
	}

	l := mustLock(t, path, "apply")
	id := l.Info().ID
	err := ForceUnlock(path, "not-the-id")
	if err == nil {
		t.Fatal("ForceUnlock with the wrong ID succeeded")
	}
	for _, want := range []string{`lock ID "not-the-id" does not match`, "held by " + l.Info().Who, "lock ID " + id} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if info, err := ReadLock(path); err != nil || info.ID != id {
		t.Fatalf("after a refused ForceUnlock: %+v, %v; want the lock still held by %s", info, err, id)
	}

	if err := ForceUnlock(path, id); err != nil {
		t.Fatalf("ForceUnlock with the right ID: %v", err)
	}
	if _, err := ReadLock(path); !errors.Is(err, ErrNotLocked) {
		t.Errorf("ReadLock after ForceUnlock: %v, want ErrNotLocked", err)
	}
	if err := l.Unlock(); !errors.Is(err, ErrNotLocked) {
		t.Errorf("Unlock of a force-unlocked lock: %v, want ErrNotLocked", err)
	}
}

func TestUnlockSparesNewHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	a := mustLock(t, path, "apply")
	if err := ForceUnlock(path, a.Info().ID); err != nil {
		t.Fatal(err)
	}
	b := mustLock(t, path, "apply")

	err := a.Unlock()
	if err == nil || !strings.Contains(err.Error(), b.Info().ID) {
		t.Errorf("Unlock of a replaced lock: %v, want an error naming the new holder %s", err, b.Info().ID)
	}
	if info, err := ReadLock(path); err != nil || info.ID != b.Info().ID {
		t.Fatalf("after the old holder's Unlock: %+v, %v; want the lock held by %s", info, err, b.Info().ID)
	}
	if err := b.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(path); !errors.Is(err, ErrNotLocked) {
		t.Errorf("ReadLock after the new holder's Unlock: %v, want ErrNotLocked", err)
	}
}

func TestLockUnparsable(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{name: "empty", content: ""},
		{name: "half written", content: `{"id": "12`},
		{name: "no ID", content: `{"who": "someone@somewhere"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ferry.state.json")
			lockPath := path + ".lock"
			if err := os.WriteFile(lockPath, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
			lerr := asLockError(t, err)
			if lerr.Info == nil || lerr.Info.Who != "unknown" || lerr.LockFile != lockPath {
				t.Errorf("LockError = %+v, want holder unknown and lock file %s", lerr, lockPath)
			}
			for _, want := range []string{"cannot be read", "unknown process", "remove " + lockPath} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if got, _ := os.ReadFile(lockPath); string(got) != tc.content {
				t.Errorf("Lock modified an unparsable lock file: %q", got)
			}
			if _, err := ReadLock(path); err == nil || !strings.Contains(err.Error(), lockPath) {
				t.Errorf("ReadLock = %v, want an error naming %s", err, lockPath)
			}
			if err := ForceUnlock(path, ""); err == nil {
				t.Errorf("ForceUnlock removed an unparsable lock")
			}
		})
	}
}

func TestLockErrorStaleMessage(t *testing.T) {
	info := &LockInfo{
		ID: "1234", Operation: "apply", Who: "ci@build-7", Host: "build-7", PID: 4242,
		Created: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name string
		err  *LockError
		want string
	}{
		{
			name: "live holder",
			err:  &LockError{Info: info},
			want: "state is locked by ci@build-7 (pid 4242, operation apply) since 2026-03-01T09:00:00Z; lock ID 1234; " +
				"wait for it to finish, or if it is stuck, stop it and run `ferry state unlock 1234`",
		},
		{
			name: "stale holder",
			err:  &LockError{Info: info, Stale: true},
			want: "state is locked by ci@build-7 (pid 4242, operation apply) since 2026-03-01T09:00:00Z; lock ID 1234; " +
				"the process that holds it is gone: if no other ferry is using this state, run `ferry state unlock 1234`",
		},
		{
			name: "gave up waiting",
			err:  &LockError{Info: info, Err: context.DeadlineExceeded},
			want: "state is locked by ci@build-7 (pid 4242, operation apply) since 2026-03-01T09:00:00Z; lock ID 1234; " +
				"wait for it to finish, or if it is stuck, stop it and run `ferry state unlock 1234` (gave up waiting: context deadline exceeded)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLockOtherHostNeverStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	// A PID that does not exist here, but on another host: that says nothing.
	content := `{"id": "abc", "operation": "apply", "who": "x@elsewhere.invalid", "host": "elsewhere.invalid", "pid": 999999999}`
	if err := os.WriteFile(path+".lock", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Lock(context.Background(), path, "apply", "0.4.0", 0)
	if lerr := asLockError(t, err); lerr.Stale {
		t.Errorf("a lock from another host is reported stale: %v", err)
	}
}

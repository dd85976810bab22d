package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Lock errors. A held lock is reported as a *LockError, which also matches
// ErrLocked.
var (
	ErrLocked    = errors.New("state is locked")
	ErrNotLocked = errors.New("state is not locked")
)

// Backoff between lock attempts.
const (
	lockRetryMin = 100 * time.Millisecond
	lockRetryMax = 2 * time.Second
)

// LockInfo describes a lock holder. It is the content of the lock file.
type LockInfo struct {
	ID        string    `json:"id"`        // random UUID; `ferry state unlock ID` needs it
	Operation string    `json:"operation"` // "plan", "apply", "state rm", ...
	Who       string    `json:"who"`       // user@host
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"` // version of ferry holding the lock
	Created   time.Time `json:"created"`
	Path      string    `json:"path"` // the state file it guards

	// Start tells the holder's process from a later one the system gave
	// the same PID: on Linux "BOOT_ID/TICKS", the boot ID and the process's
	// start time in clock ticks since boot. Empty where it cannot be told,
	// and in lock files of earlier versions (which stay readable).
	Start string `json:"start,omitempty"`

	// Expires, when set, is when a remote lock held only for a moment (a
	// shard's checkpoint) may be taken over: its holder promised to have
	// released it by then, so one killed inside the moment does not block
	// everyone until `ferry state unlock`. Locks held for a whole command
	// have none and are never taken over.
	Expires time.Time `json:"expires,omitzero"`
}

// LockError reports a lock held by someone else.
type LockError struct {
	// Info is the holder. When the lock file cannot be parsed, Who is
	// "unknown" and Err says why.
	Info *LockInfo
	// LockFile is the path of the lock file.
	LockFile string
	// Stale is true when the holder is on this host and its process is gone,
	// so the lock is left over from a crash. Lock takes such a lock over; it
	// reports one as an error only when it could not (see Lock).
	Stale bool
	// Remote is true for the lock object of a remote state: its holder
	// may run on any machine, so whether it is gone cannot be told.
	Remote bool
	// Err is why acquiring stopped early (the context's error), why the
	// lock file could not be parsed, or why a gone holder's lock could not
	// be taken over; nil when the lock is simply held.
	Err error
}

func (e *LockError) Error() string {
	var b bytes.Buffer
	i := e.Info
	if i == nil || i.ID == "" {
		what := "lock file"
		if e.Remote {
			what = "lock object"
		}
		fmt.Fprintf(&b, "state is locked, but the %s %s cannot be read", what, e.LockFile)
		if e.Err != nil {
			fmt.Fprintf(&b, " (%v)", e.Err)
		}
		if e.Remote {
			fmt.Fprintf(&b, "; it is held by an unknown process: if no ferry is using this state, delete the object %s", e.LockFile)
			return b.String()
		}
		fmt.Fprintf(&b, "; it is held by an unknown process: if no ferry is using this state, remove %s", e.LockFile)
		return b.String()
	}
	fmt.Fprintf(&b, "state is locked by %s (pid %d, operation %s) since %s; lock ID %s",
		i.Who, i.PID, i.Operation, i.Created.UTC().Format(time.RFC3339), i.ID)
	if e.Remote {
		fmt.Fprintf(&b, " (%s); wait for it to finish. ferry cannot tell whether a holder on another machine is still running: "+
			"if it is gone (a killed or lost runner) and no other ferry is using this state, run `ferry state unlock %s`", e.LockFile, i.ID)
	} else if e.Stale {
		fmt.Fprintf(&b, "; the process that holds it is gone")
		if e.Err != nil && !errors.Is(e.Err, context.Canceled) && !errors.Is(e.Err, context.DeadlineExceeded) {
			fmt.Fprintf(&b, ", but ferry %v", e.Err)
		}
		fmt.Fprintf(&b, ": if no other ferry is using this state, run `ferry state unlock %s`", i.ID)
	} else {
		fmt.Fprintf(&b, "; wait for it to finish, or if it is stuck, stop it and run `ferry state unlock %s`", i.ID)
	}
	if e.Err != nil && (errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded)) {
		fmt.Fprintf(&b, " (gave up waiting: %v)", e.Err)
	}
	return b.String()
}

func (e *LockError) Unwrap() error { return e.Err }

// Is makes every LockError match ErrLocked.
func (e *LockError) Is(target error) bool { return target == ErrLocked }

// HeldLock is a state lock this process holds (returned by Lock).
type HeldLock struct {
	info LockInfo
	file string
	// tookOver is the dead holder whose lock this one replaced.
	tookOver *LockInfo
	// release removes a remote lock (compare-and-delete); nil for a file.
	release func() error

	mu       sync.Mutex
	released bool
}

func lockFile(statePath string) string { return statePath + ".lock" }

// Lock takes the sidecar lock STATE.lock for operation op. It retries with
// exponential backoff (100ms doubling to 2s) until timeout has elapsed; a
// zero timeout means a single attempt. It gives up early when ctx is done.
// A held lock makes it return a *LockError naming the holder and how to
// release it, with one exception: a lock whose holder ran on this host
// and whose process is gone (a kill -9, a crash, a reboot; see holderGone)
// is taken over, and HeldLock.TookOver names that holder so the caller can
// warn. Locks of other hosts are never taken over.
func Lock(ctx context.Context, statePath string, op, version string, timeout time.Duration) (*HeldLock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	statePath, err := ResolvePath(statePath)
	if err != nil {
		return nil, fmt.Errorf("locking state: %w", err)
	}
	info := newLockInfo(statePath, op, version)
	deadline := time.Now().Add(timeout)
	wait := lockRetryMin
	vanished, takeovers := 0, 0
	var tookOver *LockInfo
	for {
		l, lerr, err := tryLock(statePath, info)
		if l != nil {
			l.tookOver = tookOver
		}
		if err != nil || l != nil {
			return l, err
		}
		if lerr != nil && lerr.Stale && takeovers < 5 {
			// Another process may take the dead holder's lock over at the
			// same moment: removeDeadLock lets exactly one of us remove it,
			// and the exclusive create above then decides who holds it.
			takeovers++
			removed, err := removeDeadLock(lerr.LockFile, lerr.Info)
			if err != nil {
				lerr.Err = fmt.Errorf("cannot take the lock over: %w", err)
				return nil, lerr
			}
			if removed {
				tookOver = lerr.Info
			}
			continue
		}
		if lerr != nil {
			tookOver = nil // someone else got in first: no longer ours to report
		}
		if lerr == nil {
			// The holder let go between our attempt and our look: try again
			// at once, but not forever (a dangling symlink looks the same).
			if vanished++; vanished < 5 {
				continue
			}
			return nil, fmt.Errorf("locking state: %s exists but cannot be read", lockFile(statePath))
		}
		vanished = 0
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, lerr
		}
		t := time.NewTimer(min(wait, remaining))
		select {
		case <-ctx.Done():
			t.Stop()
			lerr.Err = ctx.Err()
			return nil, lerr
		case <-t.C:
		}
		wait = min(2*wait, lockRetryMax)
	}
}

func newLockInfo(statePath, op, version string) LockInfo {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	path := statePath
	if abs, err := filepath.Abs(statePath); err == nil {
		path = abs
	}
	return LockInfo{
		ID:        uuid.NewString(),
		Operation: op,
		Who:       currentUser() + "@" + host,
		Host:      host,
		PID:       os.Getpid(),
		Start:     processStart(os.Getpid()),
		Version:   version,
		Created:   time.Now().UTC(),
		Path:      path,
	}
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, env := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	if uid := os.Getuid(); uid >= 0 {
		return "uid" + strconv.Itoa(uid)
	}
	return "unknown"
}

// tryLock makes one attempt. It returns the lock when taken; a *LockError
// when someone else holds it; neither when the holder vanished before it
// could be read (try again); or another error when locking is impossible.
func tryLock(statePath string, info LockInfo) (*HeldLock, *LockError, error) {
	file := lockFile(statePath)
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	data = append(data, '\n')

	err = createExclusive(file, data)
	if err == nil {
		return &HeldLock{info: info, file: file}, nil, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, nil, fmt.Errorf("locking state: %w", err)
	}
	holder, perr, err := readLockFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("locking state: %w", err)
	case perr != nil:
		return nil, &LockError{Info: &LockInfo{Who: "unknown", Path: statePath}, LockFile: file, Err: perr}, nil
	}
	return nil, holderError(holder, file), nil
}

func holderError(holder *LockInfo, file string) *LockError {
	return &LockError{Info: holder, LockFile: file, Stale: holderGone(holder)}
}

// holderGone reports whether the process that holds a lock is certainly
// gone: it ran on this host (the host name the lock records), and no
// process has its PID any more, or only a zombie (killed, not yet reaped by
// its parent), or the process that has it now is another
// one (it started at another time, or in another boot) than the one the
// lock records. A lock without a start time (written by an earlier ferry)
// counts as gone only when its PID is free. Anything uncertain is "alive".
func holderGone(holder *LockInfo) bool {
	host, err := os.Hostname()
	if err != nil || holder.Host == "" || holder.Host != host || holder.PID <= 0 {
		return false
	}
	if processGone(holder.PID) || processZombie(holder.PID) {
		return true
	}
	if holder.Start == "" {
		return false
	}
	now := processStart(holder.PID)
	return now != "" && now != holder.Start
}

// createExclusive creates file with data, failing with an error matching
// fs.ErrExist if it already exists. The content is written to a temp file
// first and hard-linked into place, so the lock file is never seen
// half-written. File systems without hard links fall back to O_EXCL.
func createExclusive(file string, data []byte) error {
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
		if err != nil && syncUnsupported(err) {
			err = nil
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	lerr := os.Link(tmp, file)
	if lerr == nil || errors.Is(lerr, fs.ErrExist) {
		return lerr
	}

	// No hard links here (some network and FUSE file systems).
	g, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = g.Write(data)
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(file)
	}
	return err
}

// readLockFile reads a lock file. err is an I/O error (fs.ErrNotExist when
// there is no lock); parseErr says why existing content is not a lock.
func readLockFile(file string) (info *LockInfo, parseErr, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	var li LockInfo
	if err := json.Unmarshal(data, &li); err != nil {
		return nil, fmt.Errorf("invalid lock file: %s", describeJSONError(data, err)), nil
	}
	if li.ID == "" {
		return nil, errors.New("invalid lock file: no lock ID"), nil
	}
	return &li, nil, nil
}

// ReadLock returns the holder of the state's lock. With no lock it returns
// an error wrapping ErrNotLocked.
func ReadLock(statePath string) (*LockInfo, error) {
	statePath, err := ResolvePath(statePath)
	if err != nil {
		return nil, err
	}
	file := lockFile(statePath)
	info, perr, err := readLockFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", statePath, ErrNotLocked)
	case err != nil:
		return nil, err
	case perr != nil:
		return nil, fmt.Errorf("%s: %w; if no ferry is using this state, remove it", file, perr)
	}
	return info, nil
}

// Info describes the lock.
func (l *HeldLock) Info() LockInfo { return l.info }

// TookOver is the holder whose lock Lock took over because its process was
// gone; nil when the lock was free.
func (l *HeldLock) TookOver() *LockInfo { return l.tookOver }

// Unlock releases the lock. It removes the lock file only if it still holds
// this lock's ID: if someone force-unlocked it and another process took it
// since, that lock stays and Unlock returns an error naming the new holder.
// If the lock file is gone, the error wraps ErrNotLocked. Unlocking twice is
// a no-op.
func (l *HeldLock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	l.released = true
	if l.release != nil {
		return l.release()
	}
	return removeIfID(l.info.Path, l.file, l.info.ID, "our lock was removed")
}

// ForceUnlock removes the state's lock if its ID is id. Use it to clear the
// lock of a process that died; the ID is in the LockError. A different ID
// is refused with an error naming the actual holder; no lock at all gives
// an error wrapping ErrNotLocked.
func ForceUnlock(statePath, id string) error {
	statePath, err := ResolvePath(statePath)
	if err != nil {
		return err
	}
	return removeIfID(statePath, lockFile(statePath), id, "")
}

func removeIfID(statePath, file, id, goneWhy string) error {
	holder, perr, err := readLockFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if goneWhy != "" {
			return fmt.Errorf("unlocking %s: %s: %w", statePath, goneWhy, ErrNotLocked)
		}
		return fmt.Errorf("%s: %w", statePath, ErrNotLocked)
	case err != nil:
		return fmt.Errorf("unlocking state: %w", err)
	case perr != nil:
		return fmt.Errorf("lock file %s cannot be read (%v); if no ferry is using this state, remove it by hand", file, perr)
	case holder.ID != id:
		return fmt.Errorf("lock ID %q does not match the lock on %s: it is held by %s (pid %d, operation %s) since %s with lock ID %s; left in place",
			id, statePath, holder.Who, holder.PID, holder.Operation, holder.Created.UTC().Format(time.RFC3339), holder.ID)
	}
	// A tiny window remains between the check and the removal; the lock
	// protocol accepts it since it only matters after a forced unlock.
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unlocking state: %w", err)
	}
	return nil
}

package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// ObjectStore is where a remote state and its lock are kept: objects in a
// bucket, written only under a condition on their ETag, so two writers can
// never both win. The s3 backend (state/s3backend) is one.
type ObjectStore interface {
	// Get returns the object's bytes and its ETag, or an error wrapping
	// fs.ErrNotExist when there is none.
	Get(ctx context.Context, key string) (data []byte, etag string, err error)
	// Put writes data at key only if no object is there (ifMatch "":
	// If-None-Match: *), or only if the object's ETag is still ifMatch
	// (If-Match), and returns the new ETag. A condition that does not hold
	// is an error wrapping ErrPrecondition.
	Put(ctx context.Context, key string, data []byte, ifMatch string) (etag string, err error)
	// Delete removes key only if its ETag is ifMatch (If-Match): an error
	// wrapping ErrPrecondition when it is another object now, fs.ErrNotExist
	// when there is none.
	Delete(ctx context.Context, key, ifMatch string) error
	// URL names key in messages ("s3://bucket/key"), never with credentials.
	URL(key string) string
}

// Remote is a state kept in an ObjectStore: the state object at Key, its
// lock at Key+".lock".
type Remote struct {
	Store ObjectStore
	Key   string
}

func (r Remote) lockKey() string { return r.Key + ".lock" }

// URL names the state object.
func (r Remote) URL() string { return r.Store.URL(r.Key) }

var (
	// ErrPrecondition is an ObjectStore's refusal of a conditional write:
	// the object is not (or no longer) the one the condition names.
	ErrPrecondition = errors.New("precondition failed")
	// ErrChangedRemotely means the remote state is not the one this ferry
	// read: someone wrote it since (without ferry, or without the lock).
	ErrChangedRemotely = errors.New("the remote state changed since ferry read it")
)

// remoteTimeout bounds each request to the store. Writes do not use the
// command's context: the state must be written after an interrupt too
// (apply's last checkpoint), as a local file is.
const remoteTimeout = 2 * time.Minute

// ReadRemote reads and validates the remote state, with the same errors as
// Read (ErrNoState when there is no object yet, ErrNewerVersion, ErrCorrupt).
func ReadRemote(ctx context.Context, r Remote) (*State, error) {
	s, _, err := readRemote(ctx, r)
	return s, err
}

func readRemote(ctx context.Context, r Remote) (*State, []byte, error) {
	data, _, err := r.Store.Get(ctx, r.Key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &fileError{kind: ErrNoState, cause: err, msg: fmt.Sprintf("no state at %s", r.URL())}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state: %w", err)
	}
	s, err := decode(r.URL(), data)
	return s, data, err
}

// PullRemote returns the remote state's bytes as stored, validated; with
// no state yet, an error wrapping ErrNoState.
func PullRemote(ctx context.Context, r Remote) ([]byte, error) {
	_, data, err := readRemote(ctx, r)
	return data, err
}

// OpenRemote is Open for a remote state: it reads the state object (or
// starts a new state when there is none) and returns a Manager whose every
// write is conditional on the object being the one it read or last wrote
// (If-Match on its ETag; If-None-Match: * for the first), so a state
// changed behind ferry's back is refused (ErrChangedRemotely), never
// overwritten.
func OpenRemote(ctx context.Context, r Remote, toolVersion string) (*Manager, *State, error) {
	rs := &remoteSink{remote: r}
	m := &Manager{path: r.URL(), toolVersion: toolVersion, sink: rs}
	data, etag, err := r.Store.Get(ctx, r.Key)
	var s *State
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s = New(toolVersion)
		if m.content, err = contentBytes(s); err != nil {
			return nil, nil, err
		}
	case err != nil:
		return nil, nil, fmt.Errorf("reading state: %w", err)
	default:
		if s, err = decode(m.path, data); err != nil {
			return nil, nil, err
		}
		m.onDisk, m.raw, rs.etag = true, data, etag
	}
	m.lineage, m.serial = s.Lineage, s.Serial
	return m, s, nil
}

// remoteSink writes the state object under a condition on its ETag.
type remoteSink struct {
	remote Remote
	etag   string // of the object read or last written; "" while there is none
}

func (r *remoteSink) write(data []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	etag, err := r.remote.Store.Put(ctx, r.remote.Key, data, r.etag)
	if errors.Is(err, ErrPrecondition) {
		was := "ferry found no state object"
		if r.etag != "" {
			was = "ferry last read or wrote ETag " + r.etag
		}
		return false, fmt.Errorf("%w: %s (%s) was written by someone else since; refusing to overwrite it. "+
			"Nothing else writes it while ferry holds the lock: find out who did (a ferry run with -lock=false, a manual upload), "+
			"then run the command again", ErrChangedRemotely, r.remote.URL(), was)
	}
	if err != nil {
		// The write may or may not have landed; the next write's condition
		// tells (and refuses) rather than guess.
		return false, err
	}
	r.etag = etag
	return true, nil
}

// Push replaces the state with s as given, keeping its lineage and serial:
// `ferry state push`, and the migration of a local state to a backend. It
// refuses a state of another lineage than the one opened (unless there was
// none), and one whose serial is not above the current one (an older copy
// would undo writes) unless its content is the same (then nothing is
// written).
func (m *Manager) Push(s *State) (changed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readOnly {
		return false, fmt.Errorf("state %s: opened read-only", m.path)
	}
	content, err := contentBytes(s)
	if err != nil {
		return false, fmt.Errorf("state %s: %w", m.path, err)
	}
	if m.onDisk {
		if s.Lineage != m.lineage {
			return false, fmt.Errorf("state %s: refusing to push lineage %q over lineage %q: they are different states", m.path, s.Lineage, m.lineage)
		}
		base, err := m.baseline()
		if err != nil {
			return false, fmt.Errorf("state %s: %w", m.path, err)
		}
		if string(content) == string(base) && s.Serial == m.serial {
			return false, nil
		}
		if s.Serial <= m.serial {
			return false, fmt.Errorf("state %s: refusing to push serial %d over serial %d: the state there is as new or newer (pull it first)", m.path, s.Serial, m.serial)
		}
	}
	next := *s
	next.ToolVersion = m.toolVersion
	if err := m.write(&next, content); err != nil {
		return false, err
	}
	m.lineage = s.Lineage
	return true, nil
}

// LockRemote takes the remote state's lock for operation op: it creates the
// lock object (KEY.lock) only if there is none (If-None-Match: *), holding
// who, when and a random ID. Retries and the timeout are as for Lock. A
// held lock is a *LockError naming the holder; it is never taken over,
// since whether a holder on another machine is still running cannot be
// told from here: only `ferry state unlock ID` (ForceUnlockRemote) breaks it.
func LockRemote(ctx context.Context, r Remote, op, version string, timeout time.Duration) (*HeldLock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info := newLockInfo(r.URL(), op, version)
	info.Path, info.Start = r.URL(), ""
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	deadline := time.Now().Add(timeout)
	wait := lockRetryMin
	vanished := 0
	for {
		etag, err := r.Store.Put(ctx, r.lockKey(), data, "")
		if err == nil {
			return &HeldLock{info: info, file: r.Store.URL(r.lockKey()), release: func() error { return r.unlock(info.ID, etag) }}, nil
		}
		if !errors.Is(err, ErrPrecondition) {
			return nil, fmt.Errorf("locking state: %w", err)
		}
		holder, _, err := r.readLock(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			// Released between our attempt and our look: try again at once.
			if vanished++; vanished < 5 {
				continue
			}
			return nil, fmt.Errorf("locking state: %s keeps appearing and vanishing", r.Store.URL(r.lockKey()))
		}
		var lerr *LockError
		if errors.As(err, &lerr) {
			// Unreadable lock object: reported with how to remove it.
		} else if err != nil {
			return nil, fmt.Errorf("locking state: %w", err)
		} else {
			lerr = &LockError{Info: holder, LockFile: r.Store.URL(r.lockKey()), Remote: true}
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

// readLock reads the lock object: its holder and ETag; fs.ErrNotExist when
// there is none; a *LockError (holder unknown) when it is not a lock.
func (r Remote) readLock(ctx context.Context) (*LockInfo, string, error) {
	data, etag, err := r.Store.Get(ctx, r.lockKey())
	if err != nil {
		return nil, "", err
	}
	var li LockInfo
	if err := json.Unmarshal(data, &li); err != nil {
		return nil, etag, &LockError{Info: &LockInfo{Who: "unknown"}, LockFile: r.Store.URL(r.lockKey()), Remote: true,
			Err: fmt.Errorf("invalid lock object: %s", describeJSONError(data, err))}
	}
	if li.ID == "" {
		return nil, etag, &LockError{Info: &LockInfo{Who: "unknown"}, LockFile: r.Store.URL(r.lockKey()), Remote: true,
			Err: errors.New("invalid lock object: no lock ID")}
	}
	return &li, etag, nil
}

// unlock deletes the lock object if it is still ours: compare-and-delete
// on the ETag our create returned.
func (r Remote) unlock(id, etag string) error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	err := r.Store.Delete(ctx, r.lockKey(), etag)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("unlocking %s: our lock (ID %s) was removed: %w", r.URL(), id, ErrNotLocked)
	case errors.Is(err, ErrPrecondition):
		msg := fmt.Sprintf("unlocking %s: our lock (ID %s) was replaced", r.URL(), id)
		if holder, _, err := r.readLock(ctx); err == nil {
			msg += fmt.Sprintf(" by %s (operation %s, since %s, lock ID %s)", holder.Who, holder.Operation, holder.Created.UTC().Format(time.RFC3339), holder.ID)
		}
		return errors.New(msg + "; left in place")
	}
	return fmt.Errorf("unlocking state: %w", err)
}

// ForceUnlockRemote removes the remote state's lock if its ID is id, with a
// compare-and-delete on the ETag of the lock read, so a lock someone else
// took meanwhile is never removed. A different ID is refused naming the
// holder; no lock gives an error wrapping ErrNotLocked.
func ForceUnlockRemote(ctx context.Context, r Remote, id string) error {
	holder, etag, err := r.readLock(ctx)
	var lerr *LockError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", r.URL(), ErrNotLocked)
	case errors.As(err, &lerr):
		return fmt.Errorf("lock object %s cannot be read (%v); if no ferry is using this state, delete it by hand", lerr.LockFile, lerr.Err)
	case err != nil:
		return fmt.Errorf("unlocking state: %w", err)
	case holder.ID != id:
		return fmt.Errorf("lock ID %q does not match the lock on %s: it is held by %s (operation %s) since %s with lock ID %s; left in place",
			id, r.URL(), holder.Who, holder.Operation, holder.Created.UTC().Format(time.RFC3339), holder.ID)
	}
	err = r.Store.Delete(ctx, r.lockKey(), etag)
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, ErrPrecondition):
		return fmt.Errorf("the lock on %s changed while unlocking (someone took it); left in place: run ferry again to see its holder", r.URL())
	}
	return fmt.Errorf("unlocking state: %w", err)
}

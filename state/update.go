package state

import (
	"context"
	"fmt"
	"time"
)

// UpdateFunc changes s, the state as it is now, and reports whether it
// did; next is the serial the state will have once written.
type UpdateFunc func(s *State, next uint64) (changed bool, err error)

// Update is one short read-merge-write of the state file at path, for
// writers that share a state without holding its lock for their whole run
// (the shards of a sharded apply): it takes the lock (retrying up to
// timeout, so a plan or an apply holding it still excludes them), reads
// the state as it is now (a new one when there is none), lets fn change
// it, writes it if fn reports a change, and releases the lock. It returns
// the state as written (or as read, when fn changed nothing).
func Update(ctx context.Context, path, op, version string, timeout time.Duration, fn UpdateFunc) (s *State, err error) {
	l, err := Lock(ctx, path, op, version, timeout)
	if err != nil {
		return nil, err
	}
	defer func() {
		if uerr := l.Unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("unlocking state: %w", uerr)
		}
	}()
	m, s, err := Open(path, version)
	if err != nil {
		return nil, err
	}
	return update(m, s, fn)
}

// UpdateLease is how long the lock object of one UpdateRemote is valid:
// far longer than reading and writing a state takes, short enough that a
// writer killed inside it blocks the others only briefly (they take an
// expired one over).
const UpdateLease = 20 * time.Second

// UpdateRemote is Update for a remote state: the lock object (leased for
// UpdateLease), then the state object, written under a condition on the
// ETag read.
func UpdateRemote(ctx context.Context, r Remote, op, version string, timeout time.Duration, fn UpdateFunc) (s *State, err error) {
	l, err := LockRemoteLease(ctx, r, op, version, timeout, UpdateLease)
	if err != nil {
		return nil, err
	}
	defer func() {
		if uerr := l.Unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("unlocking state: %w", uerr)
		}
	}()
	m, s, err := OpenRemote(ctx, r, version)
	if err != nil {
		return nil, err
	}
	return update(m, s, fn)
}

func update(m *Manager, s *State, fn UpdateFunc) (*State, error) {
	changed, err := fn(s, s.Serial+1)
	if err != nil || !changed {
		return s, err
	}
	if _, err := m.Persist(s); err != nil {
		return nil, err
	}
	return s, nil
}

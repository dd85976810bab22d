// Package limit caps concurrent work per provider: the Connections a
// provider's type declares (schema.Limits), on top of the overall
// parallelism.
package limit

import (
	"context"
	"slices"
)

// Set holds one semaphore per capped name. The zero or nil Set caps
// nothing. It is safe for concurrent use.
type Set struct {
	sems map[string]chan struct{}
}

// New returns a Set capping each name in caps at its value; a value <= 0
// is no cap.
func New(caps map[string]int) *Set {
	s := &Set{sems: map[string]chan struct{}{}}
	for name, n := range caps {
		if n > 0 {
			s.sems[name] = make(chan struct{}, n)
		}
	}
	return s
}

// Acquire takes one slot of each capped name, waiting while they are all
// taken, and returns the function that gives them back. Slots are taken in
// name order, so two callers never wait on each other crosswise. It fails
// with ctx's error when ctx ends first, holding nothing.
func (s *Set) Acquire(ctx context.Context, names ...string) (release func(), err error) {
	var held []chan struct{}
	release = func() {
		for _, c := range held {
			<-c
		}
	}
	if s == nil || len(s.sems) == 0 {
		return release, nil
	}
	names = slices.Clone(names)
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		c, ok := s.sems[n]
		if !ok {
			continue
		}
		select {
		case c <- struct{}{}:
			held = append(held, c)
		case <-ctx.Done():
			release()
			return func() {}, ctx.Err()
		}
	}
	return release, nil
}

// Source and Destination are the names a provider is capped by: its
// configuration address ("source.npm.public", "destination.npm.internal"),
// so a source and a destination block of one TYPE.NAME stay apart.
func Source(addr string) string      { return "source." + addr }
func Destination(addr string) string { return "destination." + addr }

// Package shard partitions a saved plan for a sharded apply: N processes
// (the pods of a Kubernetes Indexed Job, say) each apply the transfers of
// one part, and a finalizing apply runs what must wait for all of them.
//
// The partition is a pure function of the plan's changes and N: a change
// belongs to shard FNV-1a-64(mirror NUL key) mod N. The hash is fixed by
// its definition (not Go's map order, not seeded), so every process, on
// any machine and any ferry version, computes the same parts from the
// same plan file.
package shard

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/ferry-mirror/ferry/planner/plan"
)

// Of returns the shard, in [0, n), of the artifact key of mirror. n must be
// at least 1.
func Of(mirror, key string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(mirror))
	h.Write([]byte{0}) // "ab"+"c" and "a"+"bc" differ
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// Split is a plan's changes divided for a sharded apply.
type Split struct {
	// Shards[i] are the transfers and adoptions shard i applies (every
	// executed add or replace, in plan order).
	Shards [][]plan.Change
	// Final are the executed changes that run only once every shard's
	// transfers landed: consumer outputs (publish), deletes and forgets,
	// in plan order. An index must not name an artifact before it landed,
	// and a mirror's deletes run only after all its transfers succeeded.
	Final []plan.Change
}

// Partition divides changes among n shards. Every executed change is in
// exactly one of Shards or Final; no-ops and dry-run deletes (never
// executed) are in none.
func Partition(changes []plan.Change, n int) (Split, error) {
	if n < 1 {
		return Split{}, fmt.Errorf("shard count %d: want at least 1", n)
	}
	s := Split{Shards: make([][]plan.Change, n)}
	for _, c := range changes {
		switch {
		case !c.Executes():
		case IsFinal(c):
			s.Final = append(s.Final, c)
		default:
			i := Of(c.Mirror, c.Key, n)
			s.Shards[i] = append(s.Shards[i], c)
		}
	}
	return s, nil
}

// IsFinal reports whether c runs in the finalizing step rather than in a
// shard: publish steps, deletes and forgets.
func IsFinal(c plan.Change) bool {
	return c.Action == plan.Publish || c.Action == plan.Delete || c.Action == plan.Forget
}

// ParseIndex parses "I/N" (I zero-based, 0 <= I < N).
func ParseIndex(s string) (i, n int, err error) {
	is, ns, ok := strings.Cut(s, "/")
	i, ierr := strconv.Atoi(is)
	n, nerr := strconv.Atoi(ns)
	if !ok || ierr != nil || nerr != nil {
		return 0, 0, fmt.Errorf("-shard %q: want I/N with whole numbers, e.g. 0/4 (I counts from 0)", s)
	}
	return i, n, Check(i, n)
}

// Check reports whether i is a valid index of n shards.
func Check(i, n int) error {
	if n < 1 {
		return fmt.Errorf("shard count %d: want at least 1", n)
	}
	if i < 0 || i >= n {
		return fmt.Errorf("shard index %d is out of range for %d shards: want 0 to %d", i, n, n-1)
	}
	return nil
}

package state

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBarrier reports a sharded apply that cannot go on: the state holds
// no barrier for its plan, or another plan's, or was written by something
// other than the shards since, or (for the finalize) shards are missing.
var ErrBarrier = errors.New("sharded apply refused")

// ArtifactRef names one artifact: a mirror and a key.
type ArtifactRef struct{ Mirror, Key string }

// JoinShards registers a sharded apply of the plan planID in n shards, for
// an UpdateFunc (next is the serial the write gives the state). The plan
// was made against the state of lineage and serial: s must still be that
// state (the first shard then creates the barrier), or hold the barrier
// of the same plan that only shards wrote since. It reports whether it
// changed s.
func (s *State) JoinShards(planID, lineage string, serial uint64, n int, next uint64) (bool, error) {
	if b := s.Shards; b != nil && b.Plan == planID {
		if b.Count != n {
			return false, fmt.Errorf("%w: the sharded apply of this plan runs in %d shards, not %d", ErrBarrier, b.Count, n)
		}
		return false, s.CheckShards(planID)
	}
	have := s.Lineage
	if s.Serial == 0 {
		have = "" // no state yet: a written state has serial 1 or more
	}
	if have != lineage {
		return false, fmt.Errorf("%w: the plan was made against state lineage %q, the state has %q; run ferry plan again", ErrBarrier, lineage, have)
	}
	if s.Serial != serial {
		why := ""
		if b := s.Shards; b != nil {
			why = fmt.Sprintf(" (it holds the sharded apply of another plan, %s, in %d shards)", b.Plan, b.Count)
		}
		return false, fmt.Errorf("%w: the plan is stale: the state changed since it was made (serial %d, now %d)%s; run ferry plan again", ErrBarrier, serial, s.Serial, why)
	}
	// A barrier of another plan is replaced: this plan was made against
	// the state holding it, so it accounts for everything that one landed.
	s.Shards = &Barrier{Plan: planID, Count: n, Serial: next}
	return true, nil
}

// CheckShards reports whether s holds the barrier of plan planID and was
// last written by a shard of it.
func (s *State) CheckShards(planID string) error {
	b := s.Shards
	switch {
	case b == nil:
		return fmt.Errorf("%w: the state records no sharded apply (none started, or it was finalized); run ferry plan again", ErrBarrier)
	case b.Plan != planID:
		return fmt.Errorf("%w: the state records the sharded apply of another plan (%s, %d shards), not of this one (%s)", ErrBarrier, b.Plan, b.Count, planID)
	case b.Serial != s.Serial:
		return fmt.Errorf("%w: the state was written by something other than this plan's shards since they began (serial %d, the shards last wrote %d); the plan is stale: run ferry plan again", ErrBarrier, s.Serial, b.Serial)
	}
	return nil
}

// MergeShard copies from own the records of the artifacts refs (those a
// shard lands: nobody else writes them) into s, the state as it is now,
// after checking s still holds the barrier of planID; for an UpdateFunc.
// An artifact own lacks is left as s has it: shards only add records.
func (s *State) MergeShard(planID string, own *State, refs []ArtifactRef, next uint64) (bool, error) {
	if err := s.CheckShards(planID); err != nil {
		return false, err
	}
	changed := false
	for _, r := range refs {
		a := own.Artifact(r.Mirror, r.Key)
		if a == nil {
			continue
		}
		if cur := s.Artifact(r.Mirror, r.Key); cur != nil && artifactEqual(cur, a) {
			continue
		}
		om := own.Mirror(r.Mirror)
		s.EnsureMirror(r.Mirror, om.Source, om.Destination)
		s.SetArtifact(r.Mirror, a)
		changed = true
	}
	if changed {
		s.Shards.Serial = next
	}
	return changed, nil
}

// artifactEqual compares every field of two records (keep it in step
// with Artifact).
func artifactEqual(a, b *Artifact) bool {
	return a.Key == b.Key && a.Name == b.Name && a.Version == b.Version && a.Size == b.Size &&
		a.Digests.Equal(b.Digests) && a.SourceDigests.Equal(b.SourceDigests) && a.Created.Equal(b.Created) &&
		a.AddedAt.Equal(b.AddedAt) && a.VerifiedAt.Equal(b.VerifiedAt) && a.Origin == b.Origin && a.Token == b.Token
}

// FinishShard records that shard i landed all its transfers; for an
// UpdateFunc after the shard's last MergeShard.
func (s *State) FinishShard(planID string, i int, done ShardDone, next uint64) (bool, error) {
	if err := s.CheckShards(planID); err != nil {
		return false, err
	}
	b := s.Shards
	if i < 0 || i >= b.Count {
		return false, fmt.Errorf("%w: shard %d is out of range for %d shards", ErrBarrier, i, b.Count)
	}
	if b.Done == nil {
		b.Done = map[int]ShardDone{}
	}
	done.At = done.At.UTC()
	b.Done[i] = done
	b.Serial = next
	return true, nil
}

// ShardsComplete reports whether every shard of the sharded apply of
// planID finished, naming the missing ones when not: the barrier the
// finalizing apply passes before it publishes and deletes.
func (s *State) ShardsComplete(planID string) error {
	if err := s.CheckShards(planID); err != nil {
		return err
	}
	b := s.Shards
	missing := b.Missing()
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for k, i := range missing {
		names[k] = strconv.Itoa(i) + "/" + strconv.Itoa(b.Count)
	}
	return fmt.Errorf("%w: %d of %d shards have not finished: %s; run (or re-run) `ferry apply -shard I/N` for each, then finalize again",
		ErrBarrier, len(missing), b.Count, strings.Join(names, ", "))
}

package state

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

// TestReadV5Shards reads a version 5 state holding a barrier, and writes
// it back byte for byte.
func TestReadV5Shards(t *testing.T) {
	path := filepath.Join("testdata", "v5-shards.json")
	s, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Barrier{
		Plan:   "sha256:1f2e0b7a9c111f2e0b7a9c111f2e0b7a9c111f2e0b7a9c111f2e0b7a9c111f2e",
		Count:  3,
		Serial: 9,
		Done: map[int]ShardDone{
			0: {At: time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC), Changes: 1, Bytes: 2153},
			2: {At: time.Date(2026, 3, 2, 10, 6, 0, 0, time.UTC), Skipped: 4},
		},
	}
	if diff := cmp.Diff(want, s.Shards); diff != "" {
		t.Errorf("Shards (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1}, s.Shards.Missing()); diff != "" {
		t.Errorf("Missing (-want +got):\n%s", diff)
	}
	got, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(readFixture(t, "v5-shards.json")), string(got)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
	bad := s.DeepCopy()
	bad.Shards.Done[3] = ShardDone{}
	if _, err := Marshal(bad); err == nil || !strings.Contains(err.Error(), "shards.done[3]: out of range for 3 shards") {
		t.Errorf("Marshal of a done shard out of range: %v", err)
	}
}

const planA, planB = "sha256:aaaa", "sha256:bbbb"

// TestShardBarrier walks a sharded apply through the barrier: shards join
// the state the plan was made against, finalize is refused naming the
// missing shards until all are done, and a plan mismatch, another
// writer or a stale plan are refused.
func TestShardBarrier(t *testing.T) {
	st := New("test")
	st.Serial = 5
	lineage := st.Lineage
	write := func(fn UpdateFunc) error {
		changed, err := fn(st, st.Serial+1)
		if changed {
			st.Serial++
		}
		return err
	}
	mustFail := func(err error, want string) {
		t.Helper()
		if !errors.Is(err, ErrBarrier) || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want ErrBarrier with %q", err, want)
		}
	}

	mustFail(write(func(s *State, next uint64) (bool, error) { return s.JoinShards(planA, lineage, 4, 3, next) }), "the plan is stale: the state changed since it was made (serial 4, now 5)")
	mustFail(write(func(s *State, next uint64) (bool, error) { return s.JoinShards(planA, "other", 5, 3, next) }), `lineage "other"`)
	mustFail(st.ShardsComplete(planA), "the state records no sharded apply")
	for range 2 { // the second joins the barrier the first created
		if err := write(func(s *State, next uint64) (bool, error) { return s.JoinShards(planA, lineage, 5, 3, next) }); err != nil {
			t.Fatal(err)
		}
	}
	mustFail(write(func(s *State, next uint64) (bool, error) { return s.JoinShards(planA, lineage, 5, 4, next) }), "runs in 3 shards, not 4")
	mustFail(st.ShardsComplete(planA), "3 of 3 shards have not finished: 0/3, 1/3, 2/3")
	mustFail(st.ShardsComplete(planB), "the sharded apply of another plan (sha256:aaaa, 3 shards)")

	// Shard 1 lands an artifact and finishes; shard 0 finishes.
	own := st.DeepCopy()
	own.EnsureMirror("m", "http.s", "dir.d")
	own.SetArtifact("m", &Artifact{Key: "k1", Size: 1, Digests: providers.Digests{sha256A}})
	own.SetArtifact("m", &Artifact{Key: "other-shard", Size: 1, Digests: providers.Digests{sha256A}})
	if err := write(func(s *State, next uint64) (bool, error) {
		return s.MergeShard(planA, own, []ArtifactRef{{"m", "k1"}, {"m", "absent"}}, next)
	}); err != nil {
		t.Fatal(err)
	}
	if st.Artifact("m", "k1") == nil || st.Artifact("m", "other-shard") != nil {
		t.Errorf("merge copied %v, want only k1", st.Mirror("m").Artifacts)
	}
	for _, i := range []int{1, 0} {
		if err := write(func(s *State, next uint64) (bool, error) { return s.FinishShard(planA, i, ShardDone{Changes: 1}, next) }); err != nil {
			t.Fatal(err)
		}
	}
	mustFail(st.ShardsComplete(planA), "1 of 3 shards have not finished: 2/3")

	// Another writer (an apply without shards) moves the serial: the last
	// shard and the finalize are refused.
	other := st.DeepCopy()
	other.Serial++
	mustFail(other.ShardsComplete(planA), "written by something other than this plan's shards")
	mustFail(func() error { _, err := other.FinishShard(planA, 2, ShardDone{}, other.Serial+1); return err }(), "written by something other")

	if err := write(func(s *State, next uint64) (bool, error) { return s.FinishShard(planA, 2, ShardDone{}, next) }); err != nil {
		t.Fatal(err)
	}
	if err := st.ShardsComplete(planA); err != nil {
		t.Fatalf("all shards done: %v", err)
	}
	mustFail(write(func(s *State, next uint64) (bool, error) { return s.FinishShard(planA, 3, ShardDone{}, next) }), "out of range")

	// A new plan made against this state replaces the finished barrier.
	if err := write(func(s *State, next uint64) (bool, error) { return s.JoinShards(planB, lineage, st.Serial, 2, next) }); err != nil {
		t.Fatal(err)
	}
	if st.Shards.Plan != planB || len(st.Shards.Done) != 0 {
		t.Errorf("barrier %+v, want plan B with nothing done", st.Shards)
	}
}

// TestUpdateConcurrentShards runs shards merging into one local state
// file at once, each Update a short lock: no record is lost.
func TestUpdateConcurrentShards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	ctx := context.Background()
	if _, err := Update(ctx, path, "apply -shard", "test", time.Minute, func(s *State, next uint64) (bool, error) {
		return s.JoinShards(planA, "", 0, 4, next)
	}); err != nil {
		t.Fatal(err)
	}
	const per = 10
	var wg sync.WaitGroup
	errs := make(chan error, 4*(per+1))
	for i := range 4 {
		wg.Go(func() {
			own := New("test")
			own.EnsureMirror("m", "http.s", "dir.d")
			for j := range per {
				key := string(rune('a'+i)) + string(rune('a'+j))
				own.SetArtifact("m", &Artifact{Key: key, Size: 1, Digests: providers.Digests{sha256A}})
				if _, err := Update(ctx, path, "apply -shard", "test", time.Minute, func(s *State, next uint64) (bool, error) {
					return s.MergeShard(planA, own, []ArtifactRef{{"m", key}}, next)
				}); err != nil {
					errs <- err
				}
			}
			if _, err := Update(ctx, path, "apply -shard", "test", time.Minute, func(s *State, next uint64) (bool, error) {
				return s.FinishShard(planA, i, ShardDone{Changes: per}, next)
			}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.ArtifactCount(); n != 4*per {
		t.Errorf("%d artifacts recorded, want %d", n, 4*per)
	}
	if err := s.ShardsComplete(planA); err != nil {
		t.Error(err)
	}
}

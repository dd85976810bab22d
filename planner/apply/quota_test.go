package apply_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/state"
)

// fakeClock is apply's Now and Sleep without waiting: Sleep moves Now,
// and so does each reading by tick (a real clock moves between readings).
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.tick)
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.advance(d)
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
}

// quotaStore is a dir destination that records, by the fake clock, when
// each delete reached it and what the state file said at that moment.
type quotaStore struct {
	*dir.Store
	clock     *fakeClock
	statePath string
	fail      string // a key whose delete fails

	mu sync.Mutex
	// deletes are the keys deleted, in order, and at are their times.
	deletes []string
	at      []time.Time
	// noted is, for each delete, how many deletes the state on disk
	// recorded for the destination when it arrived.
	noted []int
}

func (s *quotaStore) Delete(ctx context.Context, key string) error {
	st, err := state.Read(s.statePath)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.deletes = append(s.deletes, key)
	s.at = append(s.at, s.clock.Now())
	s.noted = append(s.noted, len(st.RecentDeletes["dir.local"]))
	s.mu.Unlock()
	if key == s.fail {
		return errors.New("server said no")
	}
	return s.Store.Delete(ctx, key)
}

type quotaWorld struct {
	*world
	dst *quotaStore
}

func (w quotaWorld) Destination(string) (providers.Destination, error) { return w.dst, nil }

var quotaT0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// quotaSetup owns five objects at dir.local, from two mirrors (a: 3, b: 2),
// and returns the deletes of all of them in plan order.
func quotaSetup(t *testing.T, clock *fakeClock) (quotaWorld, *state.Manager, *state.State, string, []plan.Change) {
	t.Helper()
	w := newWorld(t, map[string][]byte{})
	mgr, st, path := openState(t)
	var deletes []plan.Change
	for _, mk := range []struct{ mirror, key string }{{"a", "k/1"}, {"a", "k/2"}, {"a", "k/3"}, {"b", "k/4"}, {"b", "k/5"}} {
		if err := os.MkdirAll(filepath.Join(w.root, "k"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.root, mk.key), []byte(mk.key), 0o644); err != nil {
			t.Fatal(err)
		}
		st.EnsureMirror(mk.mirror, "http.up", "dir.local")
		st.SetArtifact(mk.mirror, &state.Artifact{Key: mk.key, Size: 3, Digests: providers.NewDigests(sha([]byte(mk.key))), AddedAt: quotaT0.Add(-24 * time.Hour)})
		deletes = append(deletes, plan.Change{Address: plan.Address(mk.mirror, mk.key), Mirror: mk.mirror, Key: mk.key, Action: plan.Delete, Reason: plan.RemovedFromSource, Destination: "dir.local"})
	}
	if _, err := mgr.Persist(st); err != nil {
		t.Fatal(err)
	}
	qw := quotaWorld{world: w, dst: &quotaStore{Store: w.dst, clock: clock, statePath: path}}
	return qw, mgr, st, path, deletes
}

// ownedKeys are the keys the state file at path records, by mirror/key.
func ownedKeys(t *testing.T, path string) []string {
	t.Helper()
	st, err := state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, m := range st.Mirrors {
		for key := range m.Artifacts {
			out = append(out, name+"/"+key)
		}
	}
	slices.Sort(out)
	return out
}

// maxInAnHour is the most of times (sorted) within any rolling hour.
func maxInAnHour(times []time.Time) int {
	most := 0
	for i := range times {
		n := 0
		for _, u := range times[i:] {
			if u.Sub(times[i]) < time.Hour {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// TestApplyPacesDeletesToTheQuota: two mirrors share a destination's
// quota of 2 deletes an hour, one of which a run just before used; with
// time to wait, apply sends all five, in plan order, never more than 2 in
// any hour (the earlier one included), records each in the state before
// sending it, and carries on past a delete that fails.
func TestApplyPacesDeletesToTheQuota(t *testing.T) {
	clock := &fakeClock{now: quotaT0}
	w, mgr, st, path, deletes := quotaSetup(t, clock)
	earlier := quotaT0.Add(-20 * time.Minute)
	st.SetRecentDeletes("dir.local", []time.Time{earlier})
	w.dst.fail = "k/2"

	res, err := apply.Apply(context.Background(), &plan.Plan{Changes: deletes}, st, mgr, w, apply.Options{
		Now: clock.Now, Sleep: clock.Sleep, CheckpointInterval: time.Hour,
		DeletesPerHour: map[string]int{"dir.local": 2},
		MaxDeleteWait:  10 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"k/1", "k/2", "k/3", "k/4", "k/5"}, w.dst.deletes); diff != "" {
		t.Errorf("deletes sent (-want +got):\n%s", diff)
	}
	wantAt := []time.Time{quotaT0, quotaT0.Add(40 * time.Minute), quotaT0.Add(time.Hour), quotaT0.Add(100 * time.Minute), quotaT0.Add(2 * time.Hour)}
	if diff := cmp.Diff(wantAt, w.dst.at); diff != "" {
		t.Errorf("delete times (-want +got):\n%s", diff)
	}
	if got := maxInAnHour(append([]time.Time{earlier}, w.dst.at...)); got > 2 {
		t.Errorf("%d deletes in one hour; the quota is 2", got)
	}
	// Each delete was in the state file before it was sent (the earlier
	// one counts until it is an hour old).
	if diff := cmp.Diff([]int{2, 2, 2, 2, 2}, w.dst.noted); diff != "" {
		t.Errorf("deletes the state file recorded as each arrived (-want +got):\n%s", diff)
	}
	if len(res.Failed) != 1 || res.Failed[0].Change.Key != "k/2" || res.Applied != 4 || len(res.Deferred) != 0 {
		t.Errorf("result: applied %d, failed %v, deferred %v; want 4 applied, k/2 failed, none deferred", res.Applied, res.Failed, res.Deferred)
	}
	if diff := cmp.Diff([]string{"a/k/2"}, ownedKeys(t, path)); diff != "" {
		t.Errorf("owned after apply (-want +got):\n%s", diff)
	}
	final, err := state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAt[3:], final.RecentDeletes["dir.local"]); diff != "" {
		t.Errorf("recent deletes in the state (-want +got):\n%s", diff)
	}
}

// TestApplyDefersDeletesPastTheWait: without time to wait, apply sends
// what the quota allows now, the first in plan order, and leaves the rest
// owned for a later apply; the next apply, even ten minutes on (as after
// an interrupted run), sends nothing more until the hour has passed, and
// then the next two.
func TestApplyDefersDeletesPastTheWait(t *testing.T) {
	clock := &fakeClock{now: quotaT0, tick: time.Millisecond}
	w, mgr, st, path, deletes := quotaSetup(t, clock)
	opts := apply.Options{Now: clock.Now, Sleep: clock.Sleep, DeletesPerHour: map[string]int{"dir.local": 2}}

	run := func(changes []plan.Change) *apply.Result {
		t.Helper()
		// Each run reads the state from disk, as a new ferry process does.
		fresh, err := state.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		st.RecentDeletes = fresh.RecentDeletes
		res, err := apply.Apply(context.Background(), &plan.Plan{Changes: changes}, st, mgr, w, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Err() != nil || len(res.Failed) != 0 {
			t.Fatalf("deferring is not a failure: %v", res.Err())
		}
		return res
	}
	deferredKeys := func(res *apply.Result) []string {
		var out []string
		for _, d := range res.Deferred {
			for _, c := range d.Changes {
				out = append(out, c.Key)
			}
		}
		return out
	}

	res := run(deletes)
	if diff := cmp.Diff([]string{"k/1", "k/2"}, w.dst.deletes); diff != "" {
		t.Errorf("first apply sent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"k/3", "k/4", "k/5"}, deferredKeys(res)); diff != "" {
		t.Errorf("first apply deferred (-want +got):\n%s", diff)
	}
	if d := res.Deferred[0]; d.Destination != "dir.local" || d.PerHour != 2 || d.Next.Sub(quotaT0.Add(time.Hour)) < 0 || d.Next.Sub(quotaT0.Add(time.Hour)) > time.Second || res.DeferredCount() != 3 {
		t.Errorf("deferral %+v; want dir.local, 2 per hour, next an hour after the first delete", d)
	}
	if diff := cmp.Diff([]string{"a/k/3", "b/k/4", "b/k/5"}, ownedKeys(t, path)); diff != "" {
		t.Errorf("owned after the first apply (-want +got):\n%s", diff)
	}
	for _, key := range []string{"k/3", "k/4", "k/5"} {
		if _, err := os.Stat(filepath.Join(w.root, key)); err != nil {
			t.Errorf("deferred %s is gone: %v", key, err)
		}
	}

	clock.advance(10 * time.Minute)
	res = run(deletes[2:])
	if len(w.dst.deletes) != 2 || res.DeferredCount() != 3 {
		t.Errorf("ten minutes on: sent %v, deferred %d; want nothing more sent", w.dst.deletes, res.DeferredCount())
	}

	clock.advance(50 * time.Minute)
	res = run(deletes[2:])
	if diff := cmp.Diff([]string{"k/1", "k/2", "k/3", "k/4"}, w.dst.deletes); diff != "" {
		t.Errorf("an hour on (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"k/5"}, deferredKeys(res)); diff != "" {
		t.Errorf("an hour on, deferred (-want +got):\n%s", diff)
	}
	if got := maxInAnHour(w.dst.at); got > 2 {
		t.Errorf("%d deletes in one hour across applies; the quota is 2", got)
	}
}

// TestApplyDeleteWaitBoundedByDeadline: a deadline on the apply's context
// bounds the wait as -max-delete-wait does; forgets and destinations
// without a quota are not paced.
func TestApplyDeleteWaitBoundedByDeadline(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	w, mgr, st, _, deletes := quotaSetup(t, clock)
	forget := deletes[4]
	forget.Action, forget.Reason = plan.Forget, plan.MovedToMirror
	changes := append(slices.Clone(deletes[:4]), forget)
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(90*time.Minute))
	defer cancel()
	res, err := apply.Apply(ctx, &plan.Plan{Changes: changes}, st, mgr, w, apply.Options{
		Now: clock.Now, Sleep: clock.Sleep,
		DeletesPerHour: map[string]int{"dir.local": 1, "dir.other": 1},
		MaxDeleteWait:  10 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	// One an hour: now and in an hour fit in the 90 minutes; two hours on
	// does not.
	if diff := cmp.Diff([]string{"k/1", "k/2"}, w.dst.deletes); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if res.DeferredCount() != 2 || res.Applied != 3 {
		t.Errorf("applied %d (two deletes and the forget), deferred %d; want 3 and 2", res.Applied, res.DeferredCount())
	}
}

// TestApplyNoQuotaNoWait: without a quota nothing is paced or recorded.
func TestApplyNoQuotaNoWait(t *testing.T) {
	clock := &fakeClock{now: quotaT0}
	w, mgr, st, path, deletes := quotaSetup(t, clock)
	res, err := apply.Apply(context.Background(), &plan.Plan{Changes: deletes}, st, mgr, w, apply.Options{
		Now: clock.Now, Sleep: func(context.Context, time.Duration) error { return fmt.Errorf("slept") },
	})
	if err != nil || res.Err() != nil || len(w.dst.deletes) != 5 {
		t.Fatalf("err %v, %v; sent %v", err, res.Err(), w.dst.deletes)
	}
	final, err := state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if final.RecentDeletes != nil {
		t.Errorf("recent deletes recorded without a quota: %v", final.RecentDeletes)
	}
}

// TestApplyNeverExecutesDryRun: a delete marked dry run is never sent,
// even in a plan handed straight to apply, and uses none of the quota.
func TestApplyNeverExecutesDryRun(t *testing.T) {
	clock := &fakeClock{now: quotaT0}
	w, mgr, st, path, deletes := quotaSetup(t, clock)
	for i := range deletes {
		deletes[i].DryRun = true
	}
	res, err := apply.Apply(context.Background(), &plan.Plan{Changes: deletes}, st, mgr, w, apply.Options{
		Now: clock.Now, Sleep: clock.Sleep, DeletesPerHour: map[string]int{"dir.local": 2},
	})
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if len(w.dst.deletes) != 0 || res.Applied != 0 || res.DeferredCount() != 0 {
		t.Errorf("dry run: sent %v, applied %d, deferred %d; want nothing", w.dst.deletes, res.Applied, res.DeferredCount())
	}
	if got := ownedKeys(t, path); len(got) != 5 {
		t.Errorf("dry run changed the state: owned %v", got)
	}
	if final, err := state.Read(path); err != nil || final.RecentDeletes != nil {
		t.Errorf("dry run used the quota: %v, %v", final.RecentDeletes, err)
	}
}

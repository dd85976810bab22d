package apply_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/state"
)

// publishingStore is a dir destination that publishes an index (a
// Publisher) and records, in order, what reached it.
type publishingStore struct {
	*dir.Store
	mu     sync.Mutex
	events []string
	// missing is what each Publish was told did not land, by path.
	missing map[string][]string
}

func (s *publishingStore) record(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *publishingStore) Delete(ctx context.Context, key string) error {
	s.record("delete " + key)
	return s.Store.Delete(ctx, key)
}

func (s *publishingStore) ReadOutputs(context.Context, providers.OutputRequest) (providers.OutputRead, error) {
	return providers.OutputRead{}, nil
}

func (s *publishingStore) Publish(_ context.Context, o providers.Output, missing []string) error {
	s.record("publish " + o.Path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.missing == nil {
		s.missing = map[string][]string{}
	}
	s.missing[o.Path] = missing
	return nil
}

type publishWorld struct {
	*world
	pub *publishingStore
}

func (w publishWorld) Destination(addr string) (providers.Destination, error) {
	if _, err := w.world.Destination(addr); err != nil {
		return nil, err
	}
	return w.pub, nil
}

func publishChange(path string, dependsOn ...string) plan.Change {
	return plan.Change{
		Address: plan.OutputAddress("m", "index", path), Mirror: "m", Key: path,
		Action: plan.Publish, Reason: plan.OutputOutOfDate, Source: "http.up", Destination: "dir.local",
		Output: &plan.OutputDetail{Side: providers.SideDestination, Output: providers.Output{Block: "index", Path: path, Verb: "index", DependsOn: dependsOn}},
	}
}

// TestApplyPublishesBetweenTransfersAndDeletes: an index changes once what
// it names has landed, and before what it stops naming is deleted; the
// publisher is told which of its dependencies did not land.
func TestApplyPublishesBetweenTransfersAndDeletes(t *testing.T) {
	a := []byte("alpha bytes")
	w := newWorld(t, map[string][]byte{"a.txt": a})
	pw := publishWorld{world: w, pub: &publishingStore{Store: w.dst}}
	mgr, st, _ := openState(t)
	os.MkdirAll(filepath.Join(w.root, "k"), 0o755)
	os.WriteFile(filepath.Join(w.root, "k/old.txt"), []byte("old"), 0o644)
	st.EnsureMirror("m", "http.up", "dir.local")
	st.SetArtifact("m", &state.Artifact{Key: "k/old.txt", Size: 3, Digests: providers.NewDigests(sha([]byte("old")))})
	st.SetArtifact("m", &state.Artifact{Key: "k/kept.txt", Size: 1, Digests: providers.NewDigests(sha([]byte("k")))})

	p := &plan.Plan{Changes: []plan.Change{
		deleteChange("k/old.txt"),
		publishChange("index.json", "k/a.txt", "k/kept.txt"),
		addChange("a.txt", sha(a)),
	}}
	res, err := apply.Apply(t.Context(), p, st, mgr, pw, apply.Options{Parallelism: 1})
	if err != nil || res.Err() != nil {
		t.Fatalf("Apply: %v, %v", err, res.Err())
	}
	want := []string{"publish index.json", "delete k/old.txt"}
	if diff := cmp.Diff(want, pw.pub.events); diff != "" {
		t.Errorf("order at the destination (-want +got):\n%s", diff)
	}
	if got := pw.pub.missing["index.json"]; len(got) != 0 {
		t.Errorf("Publish told %v did not land; everything did", got)
	}
}

func TestApplyTellsPublishWhatDidNotLand(t *testing.T) {
	a := []byte("alpha bytes")
	w := newWorld(t, map[string][]byte{"a.txt": a})
	pw := publishWorld{world: w, pub: &publishingStore{Store: w.dst}}
	mgr, st, _ := openState(t)
	st.EnsureMirror("m", "http.up", "dir.local")
	st.SetArtifact("m", &state.Artifact{Key: "k/old.txt", Size: 3, Digests: providers.NewDigests(sha([]byte("old")))})

	p := &plan.Plan{Changes: []plan.Change{
		addChange("a.txt", sha([]byte("other bytes"))), // fails verification
		publishChange("index.json", "k/a.txt", "k/never-planned.txt"),
		deleteChange("k/old.txt"),
	}}
	res, err := apply.Apply(t.Context(), p, st, mgr, pw, apply.Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"k/a.txt", "k/never-planned.txt"}, pw.pub.missing["index.json"]); diff != "" {
		t.Errorf("missing keys told to Publish (-want +got):\n%s", diff)
	}
	if slices.Contains(pw.pub.events, "delete k/old.txt") || len(res.SkippedDeletes) != 1 {
		t.Errorf("the delete ran after a failed transfer: events %v, skipped %v", pw.pub.events, res.SkippedDeletes)
	}
}

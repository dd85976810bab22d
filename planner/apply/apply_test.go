package apply_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

type world struct {
	up       string // upstream directory
	root     string // destination directory
	server   *httptest.Server
	requests atomic.Int64
	files    map[string][]byte
	src      *httpsrc.Source
	dst      *dir.Store
	// readChunk, when set, caps every Read of a fetched body: a test that
	// counts reads must not depend on how the HTTP body happened to arrive.
	readChunk int
}

// chunkedSource serves the real source's bytes at most chunk bytes a Read.
type chunkedSource struct {
	*httpsrc.Source
	chunk int
}

func (s chunkedSource) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	rc, err := s.Source.Fetch(ctx, a)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{&chunkReader{r: rc, chunk: s.chunk}, rc}, nil
}

type chunkReader struct {
	r     io.Reader
	chunk int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	return c.r.Read(b[:min(len(b), c.chunk)])
}

func sha(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

func sha5(b []byte) providers.Digest {
	s := sha512.Sum512(b)
	return providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(s[:])}
}

// newWorld serves files from a temp dir and builds the real http source
// (with the given declared digests per file) and dir destination.
func newWorld(t *testing.T, files map[string][]byte) *world {
	t.Helper()
	w := &world{up: t.TempDir(), root: t.TempDir(), files: files}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(w.up, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := http.FileServer(http.Dir(w.up))
	w.server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		fs.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.server.Close)
	var arts []httpsrc.ArtifactConfig
	for name := range files {
		arts = append(arts, httpsrc.ArtifactConfig{Name: name, URL: w.server.URL + "/" + name, DisplayURL: w.server.URL + "/" + name, Key: "k/" + name, Size: -1})
	}
	client := httpx.New(httpx.Options{MaxRetries: 1})
	w.src = must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: arts}, registry.Env{HTTP: client}))
	w.dst = must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: w.root}, registry.Env{}))
	return w
}

func (w *world) Source(addr string) (providers.Source, error) {
	if addr != "http.up" {
		return nil, errors.New("no such source")
	}
	if w.readChunk > 0 {
		return chunkedSource{w.src, w.readChunk}, nil
	}
	return w.src, nil
}

func (w *world) Destination(addr string) (providers.Destination, error) {
	if addr != "dir.local" {
		return nil, errors.New("no such destination")
	}
	return w.dst, nil
}

func addChange(name string, digests ...providers.Digest) plan.Change {
	return plan.Change{
		Address: plan.Address("m", "k/"+name), Mirror: "m", Key: "k/" + name,
		Action: plan.Add, Reason: plan.NewInSource, Source: "http.up", Destination: "dir.local",
		Name: name, After: &plan.Object{Size: -1, Digests: providers.NewDigests(digests...)},
	}
}

func deleteChange(key string) plan.Change {
	return plan.Change{Address: plan.Address("m", key), Mirror: "m", Key: key, Action: plan.Delete, Reason: plan.RetentionKeepLast, Destination: "dir.local"}
}

func openState(t *testing.T) (*state.Manager, *state.State, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	m, st, err := state.Open(path, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m, st, path
}

func stateKeys(t *testing.T, path string) []string {
	t.Helper()
	st, err := state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if m := st.Mirror("m"); m != nil {
		for k := range m.Artifacts {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestApplyTransfersRecordsAndDeletes(t *testing.T) {
	a, b := []byte("alpha bytes"), []byte("bravo bytes, a few more")
	w := newWorld(t, map[string][]byte{"a.txt": a, "b.txt": b})
	mgr, st, path := openState(t)
	// An old object ferry owns, to be deleted after the transfers.
	os.MkdirAll(filepath.Join(w.root, "k"), 0o755)
	os.WriteFile(filepath.Join(w.root, "k/old.txt"), []byte("old"), 0o644)
	st.EnsureMirror("m", "http.up", "dir.local")
	st.SetArtifact("m", &state.Artifact{Key: "k/old.txt", Size: 3, Digests: providers.NewDigests(sha([]byte("old")))})

	p := &plan.Plan{Changes: []plan.Change{addChange("a.txt", sha(a)), addChange("b.txt", sha5(b)), deleteChange("k/old.txt")}}
	var done []string
	var mu sync.Mutex
	res, err := apply.Apply(context.Background(), p, st, mgr, w, apply.Options{
		Parallelism: 2,
		Events: func(ev apply.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch ev.Type {
			case apply.EventChangeFailed:
				t.Errorf("%s: %s", ev.Change.Address, ev.Error)
			case apply.EventChangeDone:
				done = append(done, ev.Change.Key)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err() != nil || res.Applied != 3 {
		t.Fatalf("result: applied %d, err %v", res.Applied, res.Err())
	}
	if got, want := res.TransferredBytes, int64(len(a)+len(b)); got != want {
		t.Errorf("TransferredBytes = %d; want %d", got, want)
	}
	// Deletes come last.
	if done[len(done)-1] != "k/old.txt" {
		t.Errorf("completion order %v: the delete did not run last", done)
	}
	if diff := cmp.Diff([]string{"k/a.txt", "k/b.txt"}, stateKeys(t, path)); diff != "" {
		t.Errorf("persisted keys (-want +got):\n%s", diff)
	}
	// The record carries the observed sha256 and the declared sha512.
	rec, _ := state.Read(path)
	gotB := rec.Mirror("m").Artifacts["k/b.txt"]
	if diff := cmp.Diff(providers.NewDigests(sha(b), sha5(b)), gotB.Digests); diff != "" {
		t.Errorf("digests of b (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(providers.NewDigests(sha5(b)), gotB.SourceDigests); diff != "" {
		t.Errorf("source digests of b (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(w.root, "k/old.txt")); !os.IsNotExist(err) {
		t.Errorf("old object not deleted: %v", err)
	}
}

func TestApplyFailureKeepsOthersAndSkipsDeletes(t *testing.T) {
	a, b := []byte("alpha"), []byte("bravo")
	w := newWorld(t, map[string][]byte{"a.txt": a, "b.txt": b})
	mgr, st, path := openState(t)
	st.EnsureMirror("m", "http.up", "dir.local")
	st.SetArtifact("m", &state.Artifact{Key: "k/keep-me.txt", Size: 1, Digests: providers.NewDigests(sha([]byte("x")))})
	os.MkdirAll(filepath.Join(w.root, "k"), 0o755)
	os.WriteFile(filepath.Join(w.root, "k/keep-me.txt"), []byte("x"), 0o644)

	p := &plan.Plan{Changes: []plan.Change{
		addChange("a.txt", sha([]byte("not alpha"))), // wrong digest
		addChange("b.txt", sha(b)),
		deleteChange("k/keep-me.txt"),
	}}
	res, err := apply.Apply(context.Background(), p, st, mgr, w, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Change.Key != "k/a.txt" || !errors.Is(res.Failed[0].Err, providers.ErrDigestMismatch) {
		t.Fatalf("failures %+v; want one ErrDigestMismatch for k/a.txt", res.Failed)
	}
	if len(res.SkippedDeletes) != 1 || !errors.Is(res.Err(), apply.ErrDeletesSkipped) {
		t.Errorf("skipped deletes %v, err %v; want the delete skipped", res.SkippedDeletes, res.Err())
	}
	if _, err := os.Stat(filepath.Join(w.root, "k/a.txt")); !os.IsNotExist(err) {
		t.Errorf("an object with a bad digest is visible: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.root, "k/keep-me.txt")); err != nil {
		t.Errorf("a delete ran although a transfer failed: %v", err)
	}
	if diff := cmp.Diff([]string{"k/b.txt", "k/keep-me.txt"}, stateKeys(t, path)); diff != "" {
		t.Errorf("persisted keys (-want +got):\n%s", diff)
	}
}

func TestApplyAdoptsAndRefusesUnowned(t *testing.T) {
	a, b := []byte("alpha"), []byte("bravo")
	w := newWorld(t, map[string][]byte{"a.txt": a, "b.txt": b})
	mgr, st, path := openState(t)
	os.MkdirAll(filepath.Join(w.root, "k"), 0o755)
	// a.txt is already there with the right bytes (a previous run was killed
	// before its checkpoint); b.txt is someone else's file.
	os.WriteFile(filepath.Join(w.root, "k/a.txt"), a, 0o644)
	os.WriteFile(filepath.Join(w.root, "k/b.txt"), []byte("not ours"), 0o644)

	adopt := addChange("a.txt", sha(a))
	adopt.Reason = plan.AlreadyAtDestination
	p := &plan.Plan{Changes: []plan.Change{adopt, addChange("b.txt", sha(b))}}
	res, err := apply.Apply(context.Background(), p, st, mgr, w, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, apply.ErrNotOwned) {
		t.Fatalf("failures %+v; want one ErrNotOwned", res.Failed)
	}
	if got, _ := os.ReadFile(filepath.Join(w.root, "k/b.txt")); string(got) != "not ours" {
		t.Errorf("unowned object overwritten: %q", got)
	}
	if diff := cmp.Diff([]string{"k/a.txt"}, stateKeys(t, path)); diff != "" {
		t.Errorf("persisted keys (-want +got):\n%s", diff)
	}
	if res.TransferredBytes != 0 {
		t.Errorf("adopting transferred %d bytes", res.TransferredBytes)
	}
}

type failingCheckpointer struct{}

func (failingCheckpointer) Persist(*state.State) (bool, error) { return false, errors.New("disk full") }

func TestApplyPersistFailureIsFatal(t *testing.T) {
	a := []byte("alpha")
	w := newWorld(t, map[string][]byte{"a.txt": a})
	_, st, _ := openState(t)
	p := &plan.Plan{Changes: []plan.Change{addChange("a.txt", sha(a))}}
	_, err := apply.Apply(context.Background(), p, st, failingCheckpointer{}, w, apply.Options{})
	if err == nil || !strings.Contains(err.Error(), "persisting state: disk full") {
		t.Fatalf("Apply error = %v; want a persisting state error", err)
	}
}

func TestApplyCancelled(t *testing.T) {
	a := []byte("alpha")
	w := newWorld(t, map[string][]byte{"a.txt": a})
	mgr, st, _ := openState(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &plan.Plan{Changes: []plan.Change{addChange("a.txt", sha(a)), deleteChange("k/x")}}
	res, err := apply.Apply(ctx, p, st, mgr, w, apply.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply error = %v; want context.Canceled", err)
	}
	if res.Applied != 0 || len(res.SkippedDeletes) != 1 {
		t.Errorf("cancelled apply: applied %d, skipped deletes %d", res.Applied, len(res.SkippedDeletes))
	}
	if w.requests.Load() != 0 {
		t.Errorf("a cancelled apply fetched %d times", w.requests.Load())
	}
}

// must returns v; the constructors it wraps cannot fail for these settings.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestApplyFailureSkipsOnlyItsMirrorsDeletes: a failed transfer skips the
// deletes of its own mirror, and a forget of the object it was adopting,
// but another mirror's deletes go ahead (one failure never stops the
// rest of the configuration); the apply still reports the skip.
func TestApplyFailureSkipsOnlyItsMirrorsDeletes(t *testing.T) {
	b := []byte("bravo")
	w := newWorld(t, map[string][]byte{"a.txt": []byte("alpha"), "b.txt": b})
	mgr, st, path := openState(t)
	os.MkdirAll(filepath.Join(w.root, "k"), 0o755)
	for _, mk := range []struct{ mirror, key string }{{"m", "k/m-old.txt"}, {"n", "k/n-old.txt"}, {"old", "k/a.txt"}} {
		st.EnsureMirror(mk.mirror, "http.up", "dir.local")
		st.SetArtifact(mk.mirror, &state.Artifact{Key: mk.key, Size: 1, Digests: providers.NewDigests(sha([]byte("x")))})
		os.WriteFile(filepath.Join(w.root, mk.key), []byte("x"), 0o644)
	}
	nAdd := addChange("b.txt", sha(b))
	nAdd.Mirror, nAdd.Address = "n", plan.Address("n", nAdd.Key)
	nDelete := deleteChange("k/n-old.txt")
	nDelete.Mirror, nDelete.Address = "n", plan.Address("n", nDelete.Key)
	forget := plan.Change{Address: plan.Address("old", "k/a.txt"), Mirror: "old", Key: "k/a.txt", Action: plan.Forget, Reason: plan.MovedToMirror, Destination: "dir.local"}
	p := &plan.Plan{Changes: []plan.Change{
		addChange("a.txt", sha([]byte("not alpha"))), // mirror m: wrong digest
		deleteChange("k/m-old.txt"),
		forget,
		nAdd,
		nDelete,
	}}
	res, err := apply.Apply(context.Background(), p, st, mgr, w, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, c := range res.SkippedDeletes {
		skipped = append(skipped, c.Address)
	}
	sort.Strings(skipped)
	if diff := cmp.Diff([]string{`mirror.m["k/m-old.txt"]`, `mirror.old["k/a.txt"]`}, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if !errors.Is(res.Err(), apply.ErrDeletesSkipped) || res.Applied != 2 {
		t.Errorf("applied %d, err %v; want mirror n's add and delete, and the skip reported", res.Applied, res.Err())
	}
	if _, err := os.Stat(filepath.Join(w.root, "k/n-old.txt")); !os.IsNotExist(err) {
		t.Errorf("mirror n's delete did not run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.root, "k/m-old.txt")); err != nil {
		t.Errorf("mirror m's delete ran although its transfer failed: %v", err)
	}
	st2, err := state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Artifact("old", "k/a.txt") == nil || st2.Artifact("n", "k/n-old.txt") != nil || st2.Artifact("n", "k/b.txt") == nil {
		t.Errorf("state after apply: %+v", st2.Mirrors)
	}
}

// stoppingWorld closes stop as the first fetch starts: a SIGTERM that
// arrives with one transfer in flight.
type stoppingWorld struct {
	*world
	stop    chan struct{}
	once    sync.Once
	fetched atomic.Int64
}

type stoppingSource struct {
	providers.Source
	w *stoppingWorld
}

func (s stoppingSource) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	s.w.fetched.Add(1)
	s.w.once.Do(func() { close(s.w.stop) })
	return s.Source.Fetch(ctx, a)
}

func (w *stoppingWorld) Source(addr string) (providers.Source, error) {
	src, err := w.world.Source(addr)
	if err != nil {
		return nil, err
	}
	return stoppingSource{Source: src, w: w}, nil
}

// TestApplyStopFinishesInFlightOnly: once Stop is closed, the transfer in
// flight lands and is recorded, no other change starts, deletes are
// skipped, and Apply says it stopped.
func TestApplyStopFinishesInFlightOnly(t *testing.T) {
	a, b, c := []byte("alpha"), []byte("bravo"), []byte("charlie")
	w := &stoppingWorld{world: newWorld(t, map[string][]byte{"a.txt": a, "b.txt": b, "c.txt": c}), stop: make(chan struct{})}
	mgr, st, path := openState(t)
	p := &plan.Plan{Changes: []plan.Change{addChange("a.txt", sha(a)), addChange("b.txt", sha(b)), addChange("c.txt", sha(c)), deleteChange("k/old")}}
	res, err := apply.Apply(context.Background(), p, st, mgr, w, apply.Options{Parallelism: 1, Stop: w.stop})
	if !errors.Is(err, apply.ErrStopped) {
		t.Fatalf("Apply error = %v; want ErrStopped", err)
	}
	if res.Applied != 1 || len(res.Failed) != 0 || len(res.SkippedDeletes) != 1 {
		t.Errorf("applied %d, failed %v, skipped deletes %d; want the in-flight transfer applied and the delete skipped", res.Applied, res.Failed, len(res.SkippedDeletes))
	}
	if got := w.fetched.Load(); got != 1 {
		t.Errorf("%d fetches; want only the one in flight at Stop", got)
	}
	if diff := cmp.Diff([]string{"k/a.txt"}, stateKeys(t, path)); diff != "" {
		t.Errorf("persisted keys (-want +got):\n%s", diff)
	}
}

// slowCheckpointer persists through a real Manager after a fixed delay,
// recording how long it spent persisting.
type slowCheckpointer struct {
	next  apply.Checkpointer
	delay time.Duration

	mu    sync.Mutex
	calls int
	busy  time.Duration
}

func (c *slowCheckpointer) Persist(s *state.State) (bool, error) {
	began := time.Now()
	time.Sleep(c.delay)
	ok, err := c.next.Persist(s)
	c.mu.Lock()
	c.calls++
	c.busy += time.Since(began)
	c.mu.Unlock()
	return ok, err
}

// TestCheckpointsSpacedByTheirCost: a state that is slow to write (a
// large one) is not rewritten back to back while changes land: the loop
// waits CheckpointSpacing times a snapshot's cost before the next, so
// persisting takes a bounded share of the apply, and the state still
// records every change at the end.
func TestCheckpointsSpacedByTheirCost(t *testing.T) {
	files := map[string][]byte{}
	var changes []plan.Change
	for i := range 24 {
		name := fmt.Sprintf("f%02d.txt", i)
		files[name] = []byte(name)
		changes = append(changes, addChange(name, sha(files[name])))
	}
	w := newWorld(t, files)
	fs := w.server.Config.Handler
	w.server.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond) // each transfer takes a while
		fs.ServeHTTP(rw, r)
	})
	mgr, st, path := openState(t)
	cp := &slowCheckpointer{next: mgr, delay: 30 * time.Millisecond}
	began := time.Now()
	res, err := apply.Apply(context.Background(), &plan.Plan{Changes: changes}, st, cp, w, apply.Options{Parallelism: 1, CheckpointInterval: time.Millisecond})
	if err != nil || res.Err() != nil {
		t.Fatalf("apply: %v, %v", err, res.Err())
	}
	elapsed := time.Since(began)
	if got := len(stateKeys(t, path)); got != len(files) {
		t.Fatalf("state records %d artifacts, want %d", got, len(files))
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	// Back to back, persisting would take nearly all of the apply; spaced,
	// about a tenth (plus the final snapshot). Half leaves room for a
	// loaded machine.
	if share := cp.busy.Seconds() / elapsed.Seconds(); share > 0.5 {
		t.Errorf("persisting took %v of a %v apply (%d snapshots, %.0f%%), want at most half", cp.busy, elapsed, cp.calls, 100*share)
	}
}

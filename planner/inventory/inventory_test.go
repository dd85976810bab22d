package inventory_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

type provs struct {
	src providers.Source
	dst providers.Destination
}

func (p provs) Source(addr string) (providers.Source, error) {
	if addr == "http.up" {
		return p.src, nil
	}
	return nil, errors.New("unknown source " + addr)
}

func (p provs) Destination(addr string) (providers.Destination, error) {
	if addr == "dir.local" {
		return p.dst, nil
	}
	return nil, errors.New("unknown destination " + addr)
}

func both(b []byte) providers.Digests {
	s := sha512.Sum512(b)
	return providers.NewDigests(digest(b), providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(s[:])})
}

func digest(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

func TestGather(t *testing.T) {
	up, root := t.TempDir(), t.TempDir()
	files := map[string][]byte{"a.bin": []byte("aaaa"), "b.bin": []byte("bbbbbbbb"), "c.bin": []byte("cc")}
	for n, b := range files {
		os.WriteFile(filepath.Join(up, n), b, 0o644)
	}
	var heads, gets atomic.Int64
	fs := http.FileServer(http.Dir(up))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			heads.Add(1)
		} else {
			gets.Add(1)
		}
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var arts []httpsrc.ArtifactConfig
	for _, n := range []string{"a.bin", "b.bin", "c.bin"} {
		arts = append(arts, httpsrc.ArtifactConfig{Name: n, URL: srv.URL + "/" + n, DisplayURL: srv.URL + "/" + n, Key: n, Size: -1, Digests: providers.NewDigests(digest(files[n]))})
	}
	p := provs{
		src: must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: arts}, registry.Env{HTTP: httpx.New(httpx.Options{})})),
		dst: must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: root}, registry.Env{})),
	}
	// a.bin is owned and present; b.bin is present but not owned; c.bin is new.
	os.WriteFile(filepath.Join(root, "a.bin"), files["a.bin"], 0o644)
	os.WriteFile(filepath.Join(root, "b.bin"), files["b.bin"], 0o644)
	prior := state.New("test")
	prior.EnsureMirror("m", "http.up", "dir.local")
	prior.SetArtifact("m", &state.Artifact{Key: "a.bin", Size: 4, Digests: providers.NewDigests(digest(files["a.bin"])), SourceDigests: providers.NewDigests(digest(files["a.bin"]))})
	cfg := &config.Config{Mirrors: map[string]*config.Mirror{"m": {Name: "m", From: "http.up", To: "dir.local"}}}

	inv, err := inventory.Gather(context.Background(), cfg, prior, p, inventory.Options{Refresh: true, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantDest := map[string]map[string]planner.Object{"dir.local": {
		"a.bin": {Exists: true, Size: 4, Digests: both(files["a.bin"])},
		"b.bin": {Exists: true, Size: 8, Digests: both(files["b.bin"])},
		"c.bin": {Exists: false},
	}}
	if diff := cmp.Diff(wantDest, inv.Destinations); diff != "" {
		t.Errorf("Destinations (-want +got):\n%s", diff)
	}
	// Sizes are looked up only for what may be transferred (not the owned a.bin).
	wantHints := map[string]map[string]int64{"http.up": {"b.bin": 8, "c.bin": 2}}
	if diff := cmp.Diff(wantHints, inv.SizeHints); diff != "" {
		t.Errorf("SizeHints (-want +got):\n%s", diff)
	}
	if got := len(inv.Sources["http.up"]); got != 3 {
		t.Errorf("listed %d artifacts; want 3", got)
	}
	if gets.Load() != 0 {
		t.Errorf("planning downloaded %d bodies", gets.Load())
	}

	heads.Store(0)
	inv, err = inventory.Gather(context.Background(), cfg, prior, p, inventory.Options{Refresh: false})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Refreshed || inv.Destinations != nil || heads.Load() != 0 {
		t.Errorf("-refresh=false still checked: refreshed=%v destinations=%v heads=%d", inv.Refreshed, inv.Destinations, heads.Load())
	}

	// A destination that cannot answer fails the plan instead of guessing.
	p.dst = brokenStat{p.dst}
	if _, err := inventory.Gather(context.Background(), cfg, prior, p, inventory.Options{Refresh: true}); err == nil || !errors.Is(err, errBroken) {
		t.Errorf("Gather error = %v; want the stat failure", err)
	}
}

var errBroken = errors.New("permission denied")

// brokenStat injects a stat failure a real directory cannot produce as root.
type brokenStat struct{ providers.Destination }

func (brokenStat) Stat(context.Context, string) (providers.Artifact, error) {
	return providers.Artifact{}, errBroken
}

// TestGatherRemovedMirrorsAndSourcesOnly: a refresh also stats the keys of
// mirrors removed from the config (so a delete of replaced content can be
// flagged; a failed stat leaves them unchecked), and SourcesOnly touches no
// destination at all.
func TestGatherRemovedMirrorsAndSourcesOnly(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "old.bin"), []byte("someone else's"), 0o644)
	p := provs{
		src: must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{}, registry.Env{HTTP: httpx.New(httpx.Options{})})),
		dst: must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: root}, registry.Env{})),
	}
	prior := state.New("test")
	prior.EnsureMirror("gone", "http.up", "dir.local")
	owned := providers.NewDigests(digest([]byte("ferry's")))
	prior.SetArtifact("gone", &state.Artifact{Key: "old.bin", Size: 7, Digests: owned, SourceDigests: owned})
	cfg := &config.Config{
		Mirrors:      map[string]*config.Mirror{},
		Destinations: map[string]*config.Destination{"dir.local": {}},
	}

	inv, err := inventory.Gather(context.Background(), cfg, prior, p, inventory.Options{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	got, checked := inv.Lookup("dir.local", "old.bin")
	if !checked || !got.Exists || !got.Digests.Conflicts(owned) {
		t.Errorf("removed mirror's key: checked=%v object=%+v; want the replaced content", checked, got)
	}

	p.dst = brokenStat{p.dst}
	inv, err = inventory.Gather(context.Background(), cfg, prior, p, inventory.Options{Refresh: true})
	if err != nil {
		t.Fatalf("a failed stat of a removed mirror's key failed the plan: %v", err)
	}
	if _, checked := inv.Lookup("dir.local", "old.bin"); checked {
		t.Error("a failed stat counts as checked")
	}

	// SourcesOnly: brokenStat would fail any destination call.
	cfg.Mirrors["m"] = &config.Mirror{Name: "m", From: "http.up", To: "dir.local"}
	prior.EnsureMirror("m", "http.up", "dir.local")
	prior.SetArtifact("m", &state.Artifact{Key: "a.bin", Size: 7, Digests: owned, SourceDigests: owned})
	inv, err = inventory.Gather(context.Background(), cfg, prior, p, inventory.Options{Refresh: true, SourcesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Refreshed || inv.Destinations != nil {
		t.Errorf("SourcesOnly checked destinations: refreshed=%v destinations=%v", inv.Refreshed, inv.Destinations)
	}
}

// must returns v; the constructors it wraps cannot fail for these settings.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// listingDest is a destination whose ListStat reports list (or fails with
// err) and which counts its Stat calls.
type listingDest struct {
	providers.Destination
	list  []providers.Artifact
	err   error
	stats atomic.Int64
}

func (l *listingDest) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	l.stats.Add(1)
	return l.Destination.Stat(ctx, key)
}

func (l *listingDest) ListStat(_ context.Context, fn func(providers.Artifact) error) error {
	if l.err != nil {
		return l.err
	}
	for _, a := range l.list {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// A ListStater destination is refreshed from one listing: a key it does not
// list is absent without a Stat, one listed with a sha256 is taken as
// listed, and only one listed without a sha256 is Stat'ed. A failed listing
// fails the plan, except for removed mirrors' keys (left unchecked).
func TestGatherFromListing(t *testing.T) {
	root := t.TempDir()
	files := map[string][]byte{"a.bin": []byte("aaaa"), "b.bin": []byte("bbbbbbbb"), "c.bin": []byte("cc")}
	os.WriteFile(filepath.Join(root, "b.bin"), files["b.bin"], 0o644)
	var arts []httpsrc.ArtifactConfig
	for _, n := range []string{"a.bin", "b.bin", "c.bin"} {
		arts = append(arts, httpsrc.ArtifactConfig{Name: n, URL: "http://127.0.0.1:1/" + n, DisplayURL: "http://127.0.0.1:1/" + n, Key: n, Size: 1, Digests: providers.NewDigests(digest(files[n]))})
	}
	dst := &listingDest{
		Destination: must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: root}, registry.Env{})),
		list: []providers.Artifact{
			{Key: "a.bin", Size: 4, Digests: providers.NewDigests(digest(files["a.bin"]))},
			{Key: "b.bin", Size: 8},
			{Key: "unrelated.bin", Size: 1},
		},
	}
	p := provs{src: must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: arts}, registry.Env{HTTP: httpx.New(httpx.Options{})})), dst: dst}
	cfg := &config.Config{
		Mirrors:      map[string]*config.Mirror{"m": {Name: "m", From: "http.up", To: "dir.local"}},
		Destinations: map[string]*config.Destination{"dir.local": {}},
	}
	inv, err := inventory.Gather(t.Context(), cfg, state.New("test"), p, inventory.Options{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]planner.Object{"dir.local": {
		"a.bin": {Exists: true, Size: 4, Digests: providers.NewDigests(digest(files["a.bin"]))},
		"b.bin": {Exists: true, Size: 8, Digests: both(files["b.bin"])},
		"c.bin": {},
	}}
	if diff := cmp.Diff(want, inv.Destinations); diff != "" {
		t.Errorf("Destinations (-want +got):\n%s", diff)
	}
	if n := dst.stats.Load(); n != 1 {
		t.Errorf("%d Stat calls, want 1 (b.bin, listed without a sha256)", n)
	}

	dst.err = errBroken
	if _, err := inventory.Gather(t.Context(), cfg, state.New("test"), p, inventory.Options{Refresh: true}); !errors.Is(err, errBroken) {
		t.Errorf("Gather with a failing listing: %v, want the listing's error", err)
	}
	prior := state.New("test")
	prior.EnsureMirror("gone", "http.up", "dir.local")
	prior.SetArtifact("gone", &state.Artifact{Key: "old.bin", Size: 1, Digests: providers.NewDigests(digest([]byte("x")))})
	delete(cfg.Mirrors, "m")
	inv, err = inventory.Gather(t.Context(), cfg, prior, p, inventory.Options{Refresh: true})
	if err != nil {
		t.Fatalf("a failing listing for a removed mirror's keys failed the plan: %v", err)
	}
	if _, checked := inv.Lookup("dir.local", "old.bin"); checked {
		t.Error("a key of a failed listing counts as checked")
	}
}

package conda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// memBlobs is an in-memory air-gap cache (providertest.MemBlobs imports
// this package).
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (m *memBlobs) Open(_ context.Context, d providers.Digest) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d.String()]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, providers.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memBlobs) Put(_ context.Context, d providers.Digest, size int64, r io.Reader) error {
	b, err := io.ReadAll(verify.NewReader(r, size, providers.NewDigests(d)))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string][]byte{}
	}
	m.blobs[d.String()] = b
	return nil
}

// listAndPublish lists s, reads the outputs against a new destination and
// publishes the planned index there; it returns the listing and the files.
func listAndPublish(t *testing.T, s *Source, cfg *SourceConfig) ([]providers.Artifact, map[string][]byte) {
	t.Helper()
	var listed []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error {
		listed = append(listed, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dst := &memDest{}
	read, err := s.ReadOutputs(context.Background(), providers.OutputRequest{Mirror: "m", Listed: listed, Destination: dst, Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.PlanOutputs(providers.OutputInput{Mirror: "m", Present: listed, State: read.State})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, s, p)
	return listed, dst.files
}

// TestOfflineSourceListsAsOnline: what Snapshot stores lets Offline list
// exactly what the online source listed (channel records byte for byte,
// with unknown keys, a "url" and "removed"; loose packages downloaded and
// local), tell removed from unselected keys, and publish the same channel
// index bytes, with the channel and the loose package's server gone; a
// damaged cache or other inputs are an error, never a listing.
func TestOfflineSourceListsAsOnline(t *testing.T) {
	ch := pytorchChannel(t)
	// A hand-indented noarch index: records must survive as served.
	writeFile(t, filepath.Join(ch, "noarch", "repodata.json"), []byte(`{
  "info": {"subdir": "noarch"},
  "packages": {
    "hotfixed-1.0-0.tar.bz2": {
      "build": "0", "build_number": 0, "depends": ["python >=3.8", "wolf"],
      "license": "WOLF LICENSE", "name": "hotfixed", "version": "1.0", "subdir": "noarch",
      "sha256": "`+strings.Repeat("a", 64)+`", "md5": "`+strings.Repeat("b", 32)+`", "size": 12,
      "url": "https://elsewhere.example/hotfixed-1.0-0.tar.bz2", "x-unknown": {"v": [1, 2]}
    }
  },
  "packages.conda": {},
  "removed": ["gone-1.0-0.tar.bz2"],
  "repodata_version": 1
}`))
	pkg := readPkg(t, "empty-0.1.0-h4616a5c_0.conda")
	var up sync.Mutex
	down := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.Lock()
		defer up.Unlock()
		if down {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		w.Write(pkg)
	}))
	defer srv.Close()
	local, err := filepath.Abs("../../testdata/conda/packages/clobber-1-0.1.0-h4616a5c_0.tar.bz2")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}, Include: []string{"magma-cuda92", "hotfixed", "empty", "clobber-1"}, Latest: 2,
		MaxPackages: DefaultMaxPackages, Packages: []LooseInput{{URL: srv.URL + "/ci/empty-0.1.0-h4616a5c_0.conda"}, {Path: local}}}
	s, err := NewSource("conda.test", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	listed, files := listAndPublish(t, s, cfg)
	if len(listed) != 5 {
		t.Fatalf("listed %d packages, want 2 magma, hotfixed, empty and clobber-1: %v", len(listed), listed)
	}
	blobs := &memBlobs{}
	listing, err := s.Snapshot(context.Background(), listed, listed, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(listing, []byte("magma")) {
		t.Errorf("the listing holds the channel's records; they belong in blobs")
	}

	// The other side: no channel, no server.
	up.Lock()
	down = true
	up.Unlock()
	online := newTestSource(t, cfg)
	offSrc, err := online.Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	off := offSrc.(*Source)
	offListed, offFiles := listAndPublish(t, off, cfg)
	if diff := cmp.Diff(listed, offListed); diff != "" {
		t.Errorf("offline listing (-online +offline):\n%s", diff)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(files)), slices.Sorted(maps.Keys(offFiles))); diff != "" {
		t.Errorf("published files (-online +offline):\n%s", diff)
	}
	for name, b := range files {
		if !bytes.Equal(b, offFiles[name]) {
			t.Errorf("%s differs offline:\n%s\nonline:\n%s", name, offFiles[name], b)
		}
	}
	if diff := cmp.Diff(s.Notes(), off.Notes()); diff != "" {
		t.Errorf("notes (-online +offline):\n%s", diff)
	}
	for _, key := range []string{"linux-64/magma-cuda92-2.3.0-1.tar.bz2", "noarch/gone-1.0-0.tar.bz2", "linux-64/nothere-1-0.conda", listed[0].Key} {
		has, known := s.UpstreamHas(key)
		ohas, oknown := off.UpstreamHas(key)
		if has != ohas || known != oknown {
			t.Errorf("UpstreamHas(%s): offline %v %v, online %v %v", key, ohas, oknown, has, known)
		}
	}
	for _, a := range listed {
		if _, err := off.Fetch(context.Background(), a); !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("offline Fetch(%s): %v, want ErrUnsupported (the cache serves it)", a.Key, err)
		}
	}

	// A subdir the cache does not hold, other inputs, a damaged cache, no listing.
	more := *cfg
	more.Subdirs = []string{"linux-64", "osx-64", "noarch"}
	moreOff, err := newTestSource(t, &more).Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := moreOff.List(context.Background(), func(providers.Artifact) error { return nil }); err == nil || !strings.Contains(err.Error(), "osx-64: its index is not in the cache") {
		t.Errorf("listing a subdir not in the cache: %v", err)
	}
	other := *cfg
	other.Packages = cfg.Packages[:1]
	if _, err := newTestSource(t, &other).Offline(listing, blobs); err == nil || !strings.Contains(err.Error(), "download-only") {
		t.Errorf("offline with other loose inputs: %v", err)
	}
	if _, err := online.Offline(nil, blobs); err == nil || !strings.Contains(err.Error(), "download-only") {
		t.Errorf("offline without listing: %v", err)
	}
	for _, b := range blobs.blobs {
		b[len(b)/2] ^= 0xff
	}
	damaged, err := online.Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := damaged.List(context.Background(), func(providers.Artifact) error { return nil }); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Errorf("listing from a damaged cache: %v, want ErrDigestMismatch", err)
	}
}

// newTestSource is NewSource for cfg, failing the test on error.
func newTestSource(t *testing.T, cfg *SourceConfig) *Source {
	t.Helper()
	s, err := NewSource("conda.test", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The listing and the blobs Snapshot stores hold no credential of the
// channel URL: the cache is carried across the air gap as plain files.
func TestOfflineListingHoldsNoSecret(t *testing.T) {
	const password = "s3cr3t-pa55"
	fs := http.FileServer(http.Dir("../../testdata/conda/channel"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ferry" || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg := &SourceConfig{URL: strings.Replace(srv.URL, "http://", "http://ferry:"+password+"@", 1), Subdirs: []string{"noarch"}, MaxPackages: DefaultMaxPackages}
	s := newTestSource(t, cfg)
	var listed []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error {
		listed = append(listed, a)
		return nil
	}); err != nil || len(listed) == 0 {
		t.Fatalf("listed %v: %v", listed, err)
	}
	blobs := &memBlobs{}
	listing, err := s.Snapshot(context.Background(), listed, listed, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(listing, []byte(password)) {
		t.Errorf("the listing holds the channel's password: %s", listing)
	}
	for d, b := range blobs.blobs {
		if bytes.Contains(b, []byte(password)) {
			t.Errorf("blob %s holds the channel's password", d)
		}
	}
	if _, err := newTestSource(t, cfg).Offline(listing, blobs); err != nil {
		t.Errorf("the same configuration, password included, refused: %v", err)
	}
}

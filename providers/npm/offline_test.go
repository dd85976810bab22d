package npm_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// gated serves target through a proxy that counts requests and can be
// closed, standing for a registry on the other side of an air gap.
func gated(t *testing.T, target string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestOfflineSourceListsAsOnline: what Snapshot stores lets Offline list,
// select (scope patterns, dist-tags, a 404) and serve version documents
// and dist-tags exactly as the online source did, with the registry gone;
// a damaged cache is an error, never a listing.
func TestOfflineSourceListsAsOnline(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		tag := "latest"
		if v == "2.0.0-rc.1" {
			tag = "next"
		}
		up.Publish(t, testenv.NPMTarball(t, "left-pad", v, nil), tag)
	}
	up.Publish(t, testenv.NPMTarball(t, "@demo/util", "3.0.0", map[string]any{"dependencies": map[string]any{"left-pad": "^1.0.0"}}), "latest")
	gate, requests := gated(t, up.URL)

	cfg := &npm.SourceConfig{
		Registry:   npm.Registry{URL: gate.URL},
		Packages:   []string{"left-pad", "@demo/*", "gone"},
		Versions:   npm.VersionFilter{Semver: ">= 1.0.0", Latest: 1, DistTags: []string{"next"}},
		MaxMissing: 1,
	}
	src, err := npm.NewSource("npm.up", cfg, provreg.Env{HTTP: client(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	online := list(t, src)
	var listed []providers.Artifact
	for _, a := range online {
		listed = append(listed, a)
	}
	blobs := &providertest.MemBlobs{}
	listing, err := src.Snapshot(t.Context(), listed, listed, blobs)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Manifests map[string]any
		Tags      map[string]map[string]string
		Upstream  map[string]bool
	}
	look := func(s providers.Source) view {
		v := view{Manifests: map[string]any{}, Tags: map[string]map[string]string{}, Upstream: map[string]bool{}}
		for key, a := range online {
			m, err := s.(providers.Manifester).Manifest(t.Context(), a)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(m, &doc); err != nil {
				t.Fatal(err)
			}
			v.Manifests[key] = doc
			tags, err := s.(providers.TagLister).DistTags(t.Context(), a.Name)
			if err != nil {
				t.Fatal(err)
			}
			v.Tags[a.Name] = tags
		}
		for _, key := range []string{"left-pad/-/left-pad-1.0.0.tgz", "left-pad/-/left-pad-0.1.0.tgz", "gone/-/gone-1.0.0.tgz"} {
			has, known := s.(providers.UpstreamReporter).UpstreamHas(key)
			v.Upstream[key] = has && known
		}
		return v
	}
	want := look(src)
	gate.Close()
	sent := requests.Load()

	off, err := src.Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	got := list(t, off.(*npm.Source))
	if diff := cmp.Diff(online, got); diff != "" {
		t.Errorf("offline listing (-online +offline):\n%s", diff)
	}
	if diff := cmp.Diff(want, look(off)); diff != "" {
		t.Errorf("offline documents, tags, upstream (-online +offline):\n%s", diff)
	}
	if _, err := off.Fetch(t.Context(), online["left-pad/-/left-pad-1.1.0.tgz"]); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("offline Fetch: %v, want unsupported (the cache serves tarballs)", err)
	}
	if requests.Load() != sent {
		t.Error("the offline source contacted the registry")
	}

	if _, err := src.Offline(nil, blobs); err == nil {
		t.Error("Offline without a listing succeeded")
	}
	// A listing made for another selection is refused, and a package
	// whose document the cache lacks fails the listing: it must not read
	// as removed upstream.
	other := *cfg
	other.Packages = []string{"left-pad"}
	narrower, err := npm.NewSource("npm.up", &other, provreg.Env{HTTP: client(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := narrower.Offline(listing, blobs); err == nil || !strings.Contains(err.Error(), "download-only") {
		t.Errorf("Offline for other packages: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(listing, &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw["documents"].(map[string]any), "left-pad")
	lacking, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	offLacking, err := src.Offline(lacking, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := offLacking.List(t.Context(), func(providers.Artifact) error { return nil }); err == nil || errors.Is(err, providers.ErrNotFound) ||
		!strings.Contains(err.Error(), "left-pad: its document is not in the cache") {
		t.Errorf("List with a document missing from the cache: %v, want it named, and not as removed upstream", err)
	}
	if requests.Load() != sent {
		t.Error("the offline source contacted the registry")
	}
	blobs.Corrupt()
	damaged, err := src.Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := damaged.List(t.Context(), func(providers.Artifact) error { return nil }); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Errorf("List over a damaged cache: %v, want a digest mismatch", err)
	}
}

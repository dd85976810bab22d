package oci_test

import (
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
	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// TestOfflineSourceCopiesFromBlobs: Snapshot stores every node of the
// images to transfer (an index with two images, a single image); with the
// upstream registry gone, the offline source lists the same tags and
// copies each image into another registry, every manifest byte for byte.
func TestOfflineSourceCopiesFromBlobs(t *testing.T) {
	regA := testenv.StartRegistry(t, testenv.RegistryOptions{})
	regB := testenv.StartRegistry(t, testenv.RegistryOptions{})
	fix := fixtureRepo(t, regA, "app")
	img, imgBody := pushImage(t, fix, 7)
	idx, idxBody := pushIndex(t, fix, 20)
	tagAs(t, fix, img, "1.0")
	tagAs(t, fix, idx, "2.0")

	u, err := url.Parse(regA.URL)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(u)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	viaGate := *regA
	viaGate.Host = strings.TrimPrefix(gate.URL, "http://")

	src := newSource(t, &viaGate, "app", oci.TagFilter{Exact: []string{"1.0", "2.0"}}, oci.Options{})
	listed := list(t, src)
	blobs := &providertest.MemBlobs{}
	listing, err := src.Snapshot(t.Context(), listed, listed, blobs)
	if err != nil {
		t.Fatal(err)
	}
	// The image (manifest, config, the shared layer, its own) and the
	// index (itself, two manifests, two configs, two own layers; the
	// shared layer is stored once).
	if got, want := blobs.Len(), 4+7; got != want {
		t.Errorf("%d blobs stored, want %d", got, want)
	}
	gate.Close()
	sent := requests.Load()

	off, err := src.Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	var offListed []providers.Artifact
	if err := off.List(t.Context(), func(a providers.Artifact) error { offListed = append(offListed, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(listed, offListed); diff != "" {
		t.Errorf("offline listing (-online +offline):\n%s", diff)
	}
	// The inner side's configuration selects again among the recorded tags.
	narrow := newSource(t, &viaGate, "app", oci.TagFilter{Exact: []string{"2.0"}}, oci.Options{})
	offNarrow, err := narrow.Offline(listing, blobs)
	if err != nil {
		t.Fatal(err)
	}
	var narrowed []string
	if err := offNarrow.List(t.Context(), func(a providers.Artifact) error { narrowed = append(narrowed, a.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"2.0"}, narrowed); diff != "" {
		t.Errorf("offline listing with a narrower selection (-want +got):\n%s", diff)
	}

	dst := newStore(t, regB, oci.DestinationConfig{Repository: "mirror/app"}, oci.Options{})
	for _, a := range offListed {
		got, err := off.(providers.Copier).CopyTo(t.Context(), a, dst)
		if err != nil {
			t.Fatalf("offline CopyTo %s: %v", a.Key, err)
		}
		if !got.Digests.Matches(a.Digests) {
			t.Errorf("%s: destination holds %v, want %v", a.Key, got.Digests, a.Digests)
		}
	}
	for tag, want := range map[string][]byte{"1.0": imgBody, "2.0": idxBody} {
		body, _, status := rawGet(t, regB, "mirror/app", "manifests", tag)
		if status != http.StatusOK || string(body) != string(want) {
			t.Errorf("manifest %s at the destination: status %d, bytes differ: %v", tag, status, string(body) != string(want))
		}
	}
	if requests.Load() != sent {
		t.Error("the offline source contacted the upstream registry")
	}

	// An image whose graph the cache lacks fails, naming the cache.
	missing := providers.Artifact{Key: "3.0", Digests: providers.NewDigests(sha(idx))}
	empty, err := src.Offline(listing, &providertest.MemBlobs{})
	if err != nil {
		t.Fatal(err)
	}
	dst2 := newStore(t, regB, oci.DestinationConfig{}, oci.Options{})
	if _, err := empty.(providers.Copier).CopyTo(t.Context(), missing, dst2); !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "air-gap cache") {
		t.Errorf("CopyTo from an empty cache: %v, want not found in the air-gap cache", err)
	}
}

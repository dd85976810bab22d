package inventory_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// requestCounter counts a registry's requests by "METHOD kind" (kind:
// "tags" for a tags list page, "manifest", "other").
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := "other"
	switch p := req.URL.Path; {
	case strings.HasSuffix(p, "/tags/list"):
		kind = "tags"
	case strings.Contains(p, "/manifests/"):
		kind = "manifest"
	}
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[req.Method+" "+kind]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (c *requestCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

// An OCI destination is refreshed from its tags list: ten keys of which
// three are there cost one tags list and three manifest reads (not ten
// manifest reads); a tag deleted behind ferry's back is absent at the next
// refresh, so the plan puts it back.
func TestGatherListsOCITags(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ct := &requestCounter{}
	dst, err := oci.NewDestinationWithOptions("oci.local", &oci.DestinationConfig{Registry: reg.Host, Repository: "inv/files", PlainHTTP: true}, registry.Env{}, oci.Options{Transport: ct})
	if err != nil {
		t.Fatal(err)
	}
	var arts []httpsrc.ArtifactConfig
	contents := map[string][]byte{}
	for i := range 10 {
		key := fmt.Sprintf("f/%d/file.bin", i)
		contents[key] = []byte(strings.Repeat(fmt.Sprint(i), 10+i))
		arts = append(arts, httpsrc.ArtifactConfig{Name: key, URL: "http://127.0.0.1:1/" + key, DisplayURL: "http://127.0.0.1:1/" + key, Key: key, Size: int64(len(contents[key])), Digests: providers.NewDigests(digest(contents[key]))})
	}
	prior := state.New("test")
	prior.EnsureMirror("m", "http.up", "oci.local")
	for _, key := range []string{"f/0/file.bin", "f/1/file.bin", "f/2/file.bin"} {
		a := providers.Artifact{Key: key, Size: int64(len(contents[key])), Digests: providers.NewDigests(digest(contents[key]))}
		if err := dst.Put(t.Context(), a, bytes.NewReader(contents[key]), providers.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		prior.SetArtifact("m", &state.Artifact{Key: key, Size: a.Size, Digests: a.Digests, SourceDigests: a.Digests})
	}
	p := keyProvs{
		"http.up":   must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: arts}, registry.Env{HTTP: httpx.New(httpx.Options{})})),
		"oci.local": dst,
	}
	cfg := &config.Config{
		Mirrors:      map[string]*config.Mirror{"m": {Name: "m", From: "http.up", To: "oci.local"}},
		Destinations: map[string]*config.Destination{"oci.local": {}},
	}
	gather := func() *planner.Inventory {
		t.Helper()
		ct.take()
		inv, err := inventory.Gather(t.Context(), cfg, prior, p, inventory.Options{Refresh: true, Parallelism: 4})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}

	inv := gather()
	want := map[string]planner.Object{}
	for key, b := range contents {
		want[key] = planner.Object{}
		if key < "f/3" {
			want[key] = planner.Object{Exists: true, Size: int64(len(b)), Digests: providers.NewDigests(digest(b))}
		}
	}
	if diff := cmp.Diff(want, inv.Destinations["oci.local"]); diff != "" {
		t.Errorf("Destinations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"GET tags": 1, "GET manifest": 3}, ct.take()); diff != "" {
		t.Errorf("refresh requests (-want +got):\n%s", diff)
	}

	// f/1 deleted behind ferry's back: absent, and the plan transfers it again.
	req, _ := http.NewRequest(http.MethodGet, reg.URL+"/v2/inv/files/manifests/"+oci.Tag("f/1/file.bin"), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodDelete, reg.URL+"/v2/inv/files/manifests/"+resp.Header.Get("Docker-Content-Digest"), nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deleting f/1's manifest: %s", resp.Status)
	}
	inv = gather()
	if got := inv.Destinations["oci.local"]["f/1/file.bin"]; got.Exists {
		t.Errorf("f/1 deleted behind ferry's back: %+v, want absent", got)
	}
	pl, diags := planner.Plan(cfg, prior, inv, planner.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var puts []string
	for _, c := range pl.Changes {
		if c.Key == "f/1/file.bin" || c.Key < "f/3" {
			puts = append(puts, fmt.Sprintf("%s %s", c.Action, c.Key))
		}
	}
	if len(puts) != 1 || !strings.HasSuffix(puts[0], " f/1/file.bin") {
		t.Errorf("changes of the owned keys: %q, want one for f/1/file.bin", puts)
	}
}

type keyProvs map[string]any

func (p keyProvs) Source(addr string) (providers.Source, error) {
	if s, ok := p[addr].(providers.Source); ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown source %s", addr)
}

func (p keyProvs) Destination(addr string) (providers.Destination, error) {
	if d, ok := p[addr].(providers.Destination); ok {
		return d, nil
	}
	return nil, fmt.Errorf("unknown destination %s", addr)
}

// keyListingDest is a KeyListStater and GraphStater reporting list among
// the keys it is asked about; it records those keys and counts its stats.
type keyListingDest struct {
	providers.Destination
	list              map[string]providers.Artifact
	asked             []string
	stats, graphStats int
	mu                sync.Mutex
}

func (l *keyListingDest) ListStatKeys(_ context.Context, keys []string, fn func(providers.Artifact) error) error {
	l.asked = slices.Sorted(slices.Values(keys))
	for _, k := range keys {
		if a, ok := l.list[k]; ok {
			if err := fn(a); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *keyListingDest) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	l.mu.Lock()
	l.stats++
	l.mu.Unlock()
	if a, ok := l.list[key]; ok {
		return a, nil
	}
	return providers.Artifact{}, providers.ErrNotFound
}

func (l *keyListingDest) StatGraph(ctx context.Context, key string) (providers.Artifact, error) {
	l.mu.Lock()
	l.graphStats++
	l.mu.Unlock()
	if _, ok := l.list[key]; ok {
		return providers.Artifact{Key: key, Size: 1, Digests: providers.NewDigests(digest([]byte("graph " + key)))}, nil
	}
	return providers.Artifact{}, providers.ErrNotFound
}

// graphCopier is a source that copies graphs (GraphCopy pairs).
type graphCopier struct{ providers.Source }

func (graphCopier) CopyTo(context.Context, providers.Artifact, providers.Destination) (providers.Artifact, error) {
	return providers.Artifact{}, providers.ErrUnsupported
}

// A KeyListStater is asked about exactly the keys refreshed there (listed
// and owned); for a mirror copying graphs its listing still proves absence,
// but a listed key is described by StatGraph, whatever digests the listing
// gave (they are not the graph's).
func TestGatherFromKeyListing(t *testing.T) {
	var arts []httpsrc.ArtifactConfig
	for _, n := range []string{"a", "b", "c"} {
		arts = append(arts, httpsrc.ArtifactConfig{Name: n, URL: "http://127.0.0.1:1/" + n, DisplayURL: "http://127.0.0.1:1/" + n, Key: n, Size: 1, Digests: providers.NewDigests(digest([]byte(n)))})
	}
	src := must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: arts}, registry.Env{HTTP: httpx.New(httpx.Options{})}))
	prior := state.New("test")
	prior.EnsureMirror("m", "http.up", "kl.dst")
	prior.SetArtifact("m", &state.Artifact{Key: "owned", Size: 1, Digests: providers.NewDigests(digest([]byte("owned")))})
	cfg := &config.Config{
		Mirrors:      map[string]*config.Mirror{"m": {Name: "m", From: "http.up", To: "kl.dst"}},
		Destinations: map[string]*config.Destination{"kl.dst": {}},
	}
	list := map[string]providers.Artifact{
		"a":     {Key: "a", Size: 1, Digests: providers.NewDigests(digest([]byte("a")))},
		"b":     {Key: "b", Size: -1},
		"owned": {Key: "owned", Size: 1, Digests: providers.NewDigests(digest([]byte("owned")))},
	}
	for _, tt := range []struct {
		name              string
		src               providers.Source
		want              map[string]planner.Object
		stats, graphStats int
	}{
		{
			name: "objects",
			src:  src,
			want: map[string]planner.Object{
				"a":     {Exists: true, Size: 1, Digests: providers.NewDigests(digest([]byte("a")))},
				"b":     {Exists: true, Size: -1},
				"c":     {},
				"owned": {Exists: true, Size: 1, Digests: providers.NewDigests(digest([]byte("owned")))},
			},
			stats: 1, // b, listed without a sha256
		},
		{
			name: "graphs",
			src:  graphCopier{src},
			want: map[string]planner.Object{
				"a":     {Exists: true, Size: 1, Digests: providers.NewDigests(digest([]byte("graph a")))},
				"b":     {Exists: true, Size: 1, Digests: providers.NewDigests(digest([]byte("graph b")))},
				"c":     {},
				"owned": {Exists: true, Size: 1, Digests: providers.NewDigests(digest([]byte("graph owned")))},
			},
			graphStats: 3, // every listed key; c is absent without one
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := &keyListingDest{Destination: brokenStat{}, list: list}
			inv, err := inventory.Gather(t.Context(), cfg, prior, keyProvs{"http.up": tt.src, "kl.dst": dst}, inventory.Options{Refresh: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, inv.Destinations["kl.dst"]); diff != "" {
				t.Errorf("Destinations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"a", "b", "c", "owned"}, dst.asked); diff != "" {
				t.Errorf("keys asked about (-want +got):\n%s", diff)
			}
			if dst.stats != tt.stats || dst.graphStats != tt.graphStats {
				t.Errorf("%d Stat and %d StatGraph calls, want %d and %d", dst.stats, dst.graphStats, tt.stats, tt.graphStats)
			}
		})
	}
}

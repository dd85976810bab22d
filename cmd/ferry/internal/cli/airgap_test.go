package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// TestCacheWrapperForwardsCapabilities: on the inner side of an air gap,
// the cache wrapper around each real source type's offline source hides
// none of its capabilities and claims no transfer it lacks.
func TestCacheWrapperForwardsCapabilities(t *testing.T) {
	bp, err := filepath.Abs("../../../../examples/buildpack/buildpacks/gradle/buildpack.toml")
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	hcl := fmt.Sprintf(`
source "http" "files" {
  artifact "a" {
    url    = "http://127.0.0.1:1/a"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}
source "buildpack" "gradle" {
  file = %q
}
source "npm" "public" {
  registry = "http://127.0.0.1:1"
  npmrc    = false
  packages = ["left-pad"]
}
source "oci" "images" {
  registry   = "127.0.0.1:1"
  repository = "app"
  plain_http = true
  tags {
    exact = ["1.0"]
  }
}
source "conda" "forge" {
  channel = "http://127.0.0.1:1"
  subdirs = ["linux-64"]
}
source "nuget" "public" {
  service_index = "http://127.0.0.1:1/v3/index.json"
  packages      = ["Newtonsoft.Json"]
}
source "proget_upack" "feed" {
  url  = "http://127.0.0.1:1"
  feed = "universal"
}
source "proget_asset" "files" {
  url       = "http://127.0.0.1:1"
  directory = "files"
}
destination "dir" "local" {
  path = "out"
}
destination "oci" "internal" {
  registry   = "127.0.0.1:1"
  repository = "mirror"
  plain_http = true
}
mirror "files" {
  from = source.http.files
  to   = destination.dir.local
}
mirror "gradle" {
  from = source.buildpack.gradle
  to   = destination.dir.local
}
mirror "npm" {
  from = source.npm.public
  to   = destination.dir.local
}
mirror "images" {
  from = source.oci.images
  to   = destination.oci.internal
}
mirror "conda" {
  from = source.conda.forge
  to   = destination.dir.local
}
mirror "nuget" {
  from = source.nuget.public
  to   = destination.dir.local
}
mirror "upack" {
  from = source.proget_upack.feed
  to   = destination.dir.local
}
mirror "assets" {
  from = source.proget_asset.files
  to   = destination.dir.local
}
`, bp)
	if err := os.WriteFile(filepath.Join(d, "main.ferry.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: registry.Schemas(all.Types())})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a := &app{ctx: context.Background(), logger: hclog.NewNullLogger(), env: []string{"FERRY_CACHE_DIR=" + t.TempDir()}}
	ps, err := a.buildProviders(cfg)
	if err != nil {
		t.Fatal(err)
	}
	online := map[string]providers.Source{}
	for addr, s := range ps.sources {
		online[addr] = s
	}

	cacheDir := t.TempDir()
	cache, err := dir.NewDestination("cache", &dir.DestinationConfig{Path: cacheDir}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	// Empty listings, as a -download-only of an empty selection stores:
	// written out for the sources whose Snapshot needs a List first, each
	// other offline-capable source's own Snapshot of nothing.
	listings := map[string]string{
		"npm.public":   `{"packages":["left-pad"],"names":[],"documents":{}}`,
		"oci.images":   `{"artifacts":[],"roots":{}}`,
		"conda.forge":  `{"channel":"http://127.0.0.1:1","indexes":{}}`,
		"nuget.public": `{"service_index":"http://127.0.0.1:1/v3/index.json","package_base":"","packages":{}}`,
	}
	for addr, s := range online {
		listing := []byte(listings[addr])
		if o, ok := providers.As[providers.Offliner](s); ok && listings[addr] == "" {
			var err error
			if listing, err = o.Snapshot(t.Context(), nil, nil, nil); err != nil {
				t.Fatalf("%s: Snapshot of nothing: %v", addr, err)
			}
		}
		if len(listing) == 0 {
			continue
		}
		if err := writeListing(t.Context(), cache, addr, listing); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.useCache(t.Context(), cfg, cacheDir, cache); err != nil {
		t.Fatal(err)
	}
	for addr, wrapped := range ps.sources {
		t.Run(addr, func(t *testing.T) {
			u, ok := wrapped.(providers.Unwrapper)
			if !ok {
				t.Fatalf("%s is %T, not a wrapper", addr, wrapped)
			}
			inner := u.Unwrap()
			if fmt.Sprintf("%T", inner) != fmt.Sprintf("%T", online[addr]) {
				t.Errorf("wraps a %T, want the offline %T", inner, online[addr])
			}
			providertest.CheckWrapper(t, wrapped, inner)
		})
	}
	if len(ps.sources) != 8 {
		t.Errorf("%d sources wrapped, want 8", len(ps.sources))
	}
}

// TestIdleSourceIsNeverRead: a source no mirror reads stays, on the inner
// side, only for how its objects compare (an oci graph), and is never
// listed or fetched.
func TestIdleSourceIsNeverRead(t *testing.T) {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "main.ferry.hcl"), []byte(`
source "oci" "images" {
  registry   = "127.0.0.1:1"
  repository = "app"
  plain_http = true
  tags {
    exact = ["1.0"]
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: registry.Schemas(all.Types())})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a := &app{ctx: context.Background(), logger: hclog.NewNullLogger(), env: []string{"FERRY_CACHE_DIR=" + t.TempDir()}}
	ps, err := a.buildProviders(cfg)
	if err != nil {
		t.Fatal(err)
	}
	online := ps.sources["oci.images"]
	cacheDir := t.TempDir()
	cache, err := dir.NewDestination("cache", &dir.DestinationConfig{Path: cacheDir}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.useCache(t.Context(), cfg, cacheDir, cache); err != nil {
		t.Fatal(err)
	}
	idle := ps.sources["oci.images"]
	if err := idle.List(t.Context(), func(providers.Artifact) error { return nil }); err == nil {
		t.Error("an idle source listed")
	}
	if _, err := idle.Fetch(t.Context(), providers.Artifact{Key: "1.0"}); err == nil {
		t.Error("an idle source fetched")
	}
	if _, ok := providers.As[providers.Copier](idle); !ok {
		t.Error("an idle oci source no longer tells that its objects are graphs")
	}
	providertest.CheckWrapper(t, idle, online)
}

// TestCloseReachesWrappedSources: a source's private downloads (a conda
// source's loose packages, in a temporary directory) are removed when the
// command ends even when the source is wrapped (the air-gap wrappers), and
// so are those of a source useCache replaced.
func TestCloseReachesWrappedSources(t *testing.T) {
	pkg, err := os.ReadFile("../../../../testdata/conda/packages/empty-0.1.0-h4616a5c_0.conda")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(pkg) }))
	defer srv.Close()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	d := t.TempDir()
	var hcl strings.Builder
	for _, name := range []string{"cached", "idle", "replaced"} {
		fmt.Fprintf(&hcl, "source \"conda\" %q {\n  packages = [\"%s/%s/empty-0.1.0-h4616a5c_0.conda\"]\n}\n", name, srv.URL, name)
	}
	if err := os.WriteFile(filepath.Join(d, "main.ferry.hcl"), []byte(hcl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: registry.Schemas(all.Types())})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a := &app{ctx: context.Background(), logger: hclog.NewNullLogger(), env: []string{"FERRY_CACHE_DIR=" + t.TempDir()}}
	ps, err := a.buildProviders(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for addr, s := range ps.sources {
		if err := s.List(t.Context(), func(providers.Artifact) error { return nil }); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 3 {
		t.Fatalf("downloads: %v, want one directory per source", left)
	}
	cached, idle, replaced := ps.sources["conda.cached"], ps.sources["conda.idle"], ps.sources["conda.replaced"]
	ps.sources["conda.cached"] = &cachedSource{inner: cached}
	ps.sources["conda.idle"] = idleSource{idle}
	// As useCache leaves it: the source it replaced is no longer in
	// ps.sources (here an offline version shares the idle one: closed once).
	ps.sources["conda.replaced"] = &cachedSource{inner: ps.sources["conda.idle"]}
	ps.replaced = append(ps.replaced, replaced)
	ps.close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

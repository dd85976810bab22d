package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	// Empty listings, as a -download-only of an empty selection stores.
	for addr, listing := range map[string]string{
		"npm.public": `{"packages":["left-pad"],"names":[],"documents":{}}`,
		"oci.images": `{"artifacts":[],"roots":{}}`,
	} {
		if err := writeListing(t.Context(), cache, addr, []byte(listing)); err != nil {
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
	if len(ps.sources) != 4 {
		t.Errorf("%d sources wrapped, want 4", len(ps.sources))
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

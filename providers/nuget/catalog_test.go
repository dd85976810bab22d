package nuget_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/nuget"
	"github.com/ferry-mirror/ferry/providers/nuget/nugettest"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// TestCatalogIncremental plans from a feed with a catalog (a replay of the
// catalog's documented shape in front of a real Gitea, which has none):
// the first listing reads every package and returns the catalog's
// position; the next ones read only the packages the catalog names after
// the recorded position (a new version, a PackageDelete) and reuse the
// cache for the rest; without a recorded position everything is read
// again.
func TestCatalogIncremental(t *testing.T) {
	srv := testenv.StartGitea(t)
	index := nugettest.GiteaIndex(srv.URL, srv.User)
	feed := nugettest.NewFeed(t, srv.URL)
	for _, p := range []struct{ id, version string }{{"Ferry.A", "1.0.0"}, {"Ferry.B", "1.0.0"}, {"Ferry.B", "1.1.0"}} {
		nugettest.Push(t, index, srv.Token, nugettest.Package(t, p.id, p.version, nil))
		feed.AddCatalog("nuget:PackageDetails", p.id, p.version)
	}
	cache := t.TempDir()
	e := env()
	e.CacheDir = func(kind string) string { return cache + "/" + kind }
	src := providertest.NewSource(t, `source "nuget" "up" {
  service_index = "`+nugettest.GiteaIndex(feed.URL, srv.User)+`"
  packages      = ["Ferry.*"]
}`, t.TempDir(), e)
	ff, ok := src.(providers.FeedFollower)
	if !ok {
		t.Fatalf("%T is not a providers.FeedFollower", src)
	}
	catalogURL := feed.URL + "/catalog/index.json"
	listFrom := func(t *testing.T, positions map[string]string) ([]string, providers.FeedResult) {
		t.Helper()
		var keys []string
		res, err := ff.ListFrom(t.Context(), positions, func(a providers.Artifact) error { keys = append(keys, a.Key); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return keys, res
	}
	reads := func() map[string]int {
		return map[string]int{
			"a":      feed.Requests("/registration/ferry.a/") + feed.Requests("/package/ferry.a/index.json"),
			"b":      feed.Requests("/registration/ferry.b/") + feed.Requests("/package/ferry.b/index.json"),
			"search": feed.Requests("/query"),
		}
	}
	a1, b1, b11 := nuget.Key("ferry.a", "1.0.0"), nuget.Key("ferry.b", "1.0.0"), nuget.Key("ferry.b", "1.1.0")

	keys, res := listFrom(t, nil)
	if diff := cmp.Diff([]string{a1, b11, b1}, keys); diff != "" {
		t.Fatalf("first listing (-want +got):\n%s", diff)
	}
	p1 := res.Positions[catalogURL]
	if p1 == "" || len(res.Warnings) > 0 {
		t.Fatalf("first listing: positions %v, warnings %v", res.Positions, res.Warnings)
	}

	// Nothing changed: nothing is read but the catalog.
	feed.ResetRequests()
	keys, res = listFrom(t, res.Positions)
	if diff := cmp.Diff([]string{a1, b11, b1}, keys); diff != "" {
		t.Errorf("unchanged listing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"a": 0, "b": 0, "search": 0}, reads()); diff != "" {
		t.Errorf("requests of an unchanged listing (-want +got):\n%s", diff)
	}

	// A new version of A, B 1.0.0 deleted: only A and B are read again,
	// and the listing has the new version and not the deleted one.
	nugettest.Push(t, index, srv.Token, nugettest.Package(t, "Ferry.A", "2.0.0", nil))
	feed.AddCatalog("nuget:PackageDetails", "Ferry.A", "2.0.0")
	prev := res.Positions
	keys, res = listFrom(t, prev)
	if diff := cmp.Diff([]string{nuget.Key("ferry.a", "2.0.0"), a1, b11, b1}, keys); diff != "" {
		t.Errorf("listing after a new version (-want +got):\n%s", diff)
	}
	feed.ResetRequests()
	nugettest.Delete(t, index, srv.Token, "Ferry.B", "1.0.0")
	feed.AddCatalog("nuget:PackageDelete", "Ferry.B", "1.0.0")
	keys, res = listFrom(t, res.Positions)
	if diff := cmp.Diff([]string{nuget.Key("ferry.a", "2.0.0"), a1, b11}, keys); diff != "" {
		t.Errorf("listing after a delete (-want +got):\n%s", diff)
	}
	if has, known := src.(providers.UpstreamReporter).UpstreamHas(b1); has || !known {
		t.Errorf("UpstreamHas(%s) after its PackageDelete = %v, %v; want false, true", b1, has, known)
	}
	if got := reads(); got["a"] != 0 || got["b"] == 0 || got["search"] != 0 {
		t.Errorf("requests after B's delete: %v, want B read again and nothing else", got)
	}
	if res.Positions[catalogURL] <= p1 {
		t.Errorf("the position did not advance: %v after %s", res.Positions, p1)
	}

	// Without a recorded position everything is read again, the glob's
	// search too; from a position before every event, every package the
	// catalog names (the glob's ids still come from the cache and the
	// catalog).
	for _, tt := range []struct {
		name      string
		positions map[string]string
		search    bool
	}{
		{name: "no position", positions: nil, search: true},
		{name: "position before every event", positions: map[string]string{catalogURL: "2025-01-01T00:00:00Z"}},
	} {
		feed.ResetRequests()
		keys, _ = listFrom(t, tt.positions)
		if diff := cmp.Diff([]string{nuget.Key("ferry.a", "2.0.0"), a1, b11}, keys); diff != "" {
			t.Errorf("%s: listing (-want +got):\n%s", tt.name, diff)
		}
		if got := reads(); got["a"] == 0 || got["b"] == 0 || (got["search"] > 0) != tt.search {
			t.Errorf("%s: requests %v, want both packages read, the search %v", tt.name, got, tt.search)
		}
	}

	// A cache file of the format before deprecations were read (no
	// "format") vouches for nothing: everything is read again.
	files, _ := filepath.Glob(filepath.Join(cache, "nuget", "catalog-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	var rec map[string]any
	if data, err := os.ReadFile(files[0]); err != nil || json.Unmarshal(data, &rec) != nil {
		t.Fatalf("reading the cache file: %v", err)
	}
	delete(rec, "format")
	if data, err := json.Marshal(rec); err != nil || os.WriteFile(files[0], data, 0o600) != nil {
		t.Fatal("writing the cache file")
	}
	feed.ResetRequests()
	listFrom(t, res.Positions)
	if got := reads(); got["a"] == 0 || got["b"] == 0 || got["search"] == 0 {
		t.Errorf("requests with an old-format cache: %v, want everything read", got)
	}
}

package nuget_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/nuget/nugettest"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// TestOfflineListsAsOnline: what Snapshot stores lets Offline list exactly
// what the feed listed (globs and selection included) without contacting
// it; the offline source fetches nothing (the cache serves the bytes) and
// refuses a listing of another feed, or none. 1.1.0 is deprecated and
// include_deprecated is false: the listing keeps deprecations, so the
// offline side excludes it too.
func TestOfflineListsAsOnline(t *testing.T) {
	srv := testenv.StartGitea(t)
	index := nugettest.GiteaIndex(srv.URL, srv.User)
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		nugettest.Push(t, index, srv.Token, nugettest.Package(t, "Ferry.Off", v, nil))
	}
	feed := nugettest.NewFeed(t, srv.URL)
	feed.Deprecate("Ferry.Off", "1.1.0", nugettest.Deprecation{Reasons: []string{"Other"}, Message: "broken"})
	block := func(index string) string {
		return `source "nuget" "up" {
  service_index      = "` + index + `"
  packages           = ["Ferry.O*"]
  latest             = 1
  include_deprecated = false
}`
	}
	online := providertest.NewSource(t, block(nugettest.GiteaIndex(feed.URL, srv.User)), t.TempDir(), env())
	want, _, err := listKeys(t, online)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ferry.off/1.0.0/ferry.off.1.0.0.nupkg"}, want); diff != "" {
		t.Fatalf("online listing (-want +got):\n%s", diff)
	}
	listing, err := online.(providers.Offliner).Snapshot(t.Context(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	off, err := online.(providers.Offliner).Offline(listing, nil)
	if err != nil {
		t.Fatal(err)
	}
	feed.ResetRequests()
	got, arts, err := listKeys(t, off)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offline listing (-online +offline):\n%s", diff)
	}
	if n := feed.Requests("/"); n != 0 {
		t.Errorf("the offline source sent %d requests to the feed", n)
	}
	if _, err := off.Fetch(t.Context(), arts[0]); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("offline Fetch: error = %v, want ErrUnsupported", err)
	}

	other := providertest.NewSource(t, block("https://other.example/v3/index.json"), t.TempDir(), env())
	for name, l := range map[string][]byte{"another feed's listing": listing, "no listing": nil} {
		if _, err := other.(providers.Offliner).Offline(l, nil); err == nil {
			t.Errorf("Offline with %s succeeded", name)
		}
	}
}

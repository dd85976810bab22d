package nuget_test

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/nuget"
	"github.com/ferry-mirror/ferry/providers/nuget/nugettest"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

func listKeys(t *testing.T, s providers.Source) ([]string, []providers.Artifact, error) {
	t.Helper()
	var keys []string
	var arts []providers.Artifact
	err := s.List(t.Context(), func(a providers.Artifact) error {
		keys = append(keys, a.Key)
		arts = append(arts, a)
		return nil
	})
	return keys, arts, err
}

func sha512Hex(b []byte) string {
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

// TestSourceSelection lists a Gitea feed (behind nugettest.Feed, which
// declares packageHash, marks 1.9.0 unlisted and 1.5.0 deprecated) with
// ranges, latest, pre-releases, unlisted and deprecated versions and
// globs, and refuses tampered bytes.
func TestSourceSelection(t *testing.T) {
	srv := testenv.StartGitea(t)
	index := nugettest.GiteaIndex(srv.URL, srv.User)
	pkgs := map[string][]byte{}
	for _, v := range []string{"0.9.0", "1.0.0", "1.5.0", "1.9.0", "2.0.0-rc.1", "2.0.0"} {
		pkgs[v] = nugettest.Package(t, "Ferry.Sel", v, []byte("sel "+v))
		nugettest.Push(t, index, srv.Token, pkgs[v])
	}
	nugettest.Push(t, index, srv.Token, nugettest.Package(t, "Ferry.Second", "1.0.0", nil))
	nugettest.Push(t, index, srv.Token, nugettest.Package(t, "Other.Pkg", "1.0.0", nil))
	feed := nugettest.NewFeed(t, srv.URL)
	feed.Unlist("Ferry.Sel", "1.9.0")
	legacy := nugettest.Deprecation{Reasons: []string{"Legacy"}, Message: "use Ferry.Second", AlternateID: "Ferry.Second", AlternateRange: "*"}
	feed.Deprecate("Ferry.Sel", "1.5.0", legacy)
	feedIndex := nugettest.GiteaIndex(feed.URL, srv.User)

	source := func(t *testing.T, index, extra string) providers.Source {
		return providertest.NewSource(t, fmt.Sprintf("source \"nuget\" \"up\" {\n  service_index = %q\n%s\n}", index, extra), t.TempDir(), env())
	}
	tests := []struct {
		name  string
		extra string
		want  []string // keys, in listing order
	}{
		{name: "range and latest", extra: `packages = ["Ferry.Sel"]
versions = "[1.0,2.0)"
latest = 2`, want: []string{"ferry.sel/1.5.0/ferry.sel.1.5.0.nupkg", "ferry.sel/1.0.0/ferry.sel.1.0.0.nupkg"}},
		{name: "unlisted included", extra: `packages = ["ferry.sel"]
versions = "[1.0,2.0)"
latest = 2
include_unlisted = true`, want: []string{"ferry.sel/1.9.0/ferry.sel.1.9.0.nupkg", "ferry.sel/1.5.0/ferry.sel.1.5.0.nupkg"}},
		{name: "deprecated excluded before latest", extra: `packages = ["Ferry.Sel"]
versions = "[1.0,2.0)"
latest = 1
include_deprecated = false`, want: []string{"ferry.sel/1.0.0/ferry.sel.1.0.0.nupkg"}},
		{name: "deprecated excluded, unlisted included", extra: `packages = ["Ferry.Sel"]
versions = "[1.0,2.0)"
include_unlisted = true
include_deprecated = false`, want: []string{"ferry.sel/1.9.0/ferry.sel.1.9.0.nupkg", "ferry.sel/1.0.0/ferry.sel.1.0.0.nupkg"}},
		{name: "pre-release included", extra: `packages = ["Ferry.Sel"]
versions = "[1.0,2.0)"
latest = 2
include_prerelease = true`, want: []string{"ferry.sel/2.0.0-rc.1/ferry.sel.2.0.0-rc.1.nupkg", "ferry.sel/1.5.0/ferry.sel.1.5.0.nupkg"}},
		{name: "glob, newest of each", extra: `packages = ["FERRY.*"]
latest = 1`, want: []string{"ferry.second/1.0.0/ferry.second.1.0.0.nupkg", "ferry.sel/2.0.0/ferry.sel.2.0.0.nupkg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := listKeys(t, source(t, feedIndex, tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("metadata and fetch", func(t *testing.T) {
		s := source(t, feedIndex, `packages = ["Ferry.Sel"]
versions = "[1.5.0]"`)
		_, arts, err := listKeys(t, s)
		if err != nil || len(arts) != 1 {
			t.Fatalf("List: %v, %v", arts, err)
		}
		a := arts[0]
		if d, _ := a.Digests.Get(providers.SHA512); d.Hex != sha512Hex(pkgs["1.5.0"]) {
			t.Errorf("sha512 = %v, want the packageHash of the pushed bytes", a.Digests)
		}
		if a.Name != "ferry.sel" || a.Version != "1.5.0" || a.Created.IsZero() || a.Size != -1 {
			t.Errorf("artifact = %+v", a)
		}
		ur := s.(providers.UpstreamReporter)
		for _, tt := range []struct {
			key        string
			has, known bool
		}{
			{key: nuget.Key("ferry.sel", "0.9.0"), has: true, known: true},  // merely not selected
			{key: nuget.Key("ferry.sel", "7.0.0"), has: false, known: true}, // not in the feed
			{key: nuget.Key("ferry.second", "1.0.0")},                       // a package not read
		} {
			if has, known := ur.UpstreamHas(tt.key); has != tt.has || known != tt.known {
				t.Errorf("UpstreamHas(%s) = %v, %v; want %v, %v", tt.key, has, known, tt.has, tt.known)
			}
		}
		if n, err := s.(providers.Sizer).Size(t.Context(), a); err != nil || n != int64(len(pkgs["1.5.0"])) {
			t.Errorf("Size = %d, %v; want %d", n, err, len(pkgs["1.5.0"]))
		}
		rc, err := s.Fetch(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, pkgs["1.5.0"]) {
			t.Error("fetched other bytes than were pushed")
		}

		// Tampered bytes (another real package) against the declared hash.
		feed.Tamper("Ferry.Sel", "1.5.0", pkgs["1.0.0"])
		defer feed.Tamper("Ferry.Sel", "1.5.0", pkgs["1.5.0"])
		if _, err := s.Fetch(t.Context(), a); !errors.Is(err, providers.ErrDigestMismatch) {
			t.Errorf("Fetch of tampered bytes: error = %v, want ErrDigestMismatch", err)
		}
		// Without a declared hash, the .nuspec still tells.
		a.Digests = nil
		if _, err := s.Fetch(t.Context(), a); err == nil || !strings.Contains(err.Error(), "declares Ferry.Sel 1.0.0, not ferry.sel 1.5.0") {
			t.Errorf("Fetch of another version's package: error = %v, want the .nuspec mismatch", err)
		}
	})

	t.Run("Gitea declares no packageHash", func(t *testing.T) {
		_, _, err := listKeys(t, source(t, index, `packages = ["Ferry.Sel"]`))
		if err == nil || !strings.Contains(err.Error(), "require_package_hash = false") {
			t.Fatalf("List of a feed without packageHash: error = %v, want one naming require_package_hash", err)
		}
		s := source(t, index, `packages = ["Ferry.Sel"]
versions = "[2.0.0]"
require_package_hash = false`)
		keys, arts, err := listKeys(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{nuget.Key("ferry.sel", "2.0.0")}, keys); diff != "" || len(arts[0].Digests) != 0 {
			t.Fatalf("keys (-want +got):\n%s digests %v", diff, arts[0].Digests)
		}
		if n, err := s.(providers.Sizer).Size(t.Context(), arts[0]); err != nil || (n != int64(len(pkgs["2.0.0"])) && n != -1) {
			t.Errorf("Size from Gitea = %d, %v; want %d (or -1)", n, err, len(pkgs["2.0.0"]))
		} else {
			t.Logf("Gitea's flat container answers HEAD with size %d", n)
		}
		rc, err := s.Fetch(t.Context(), arts[0])
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	})

	t.Run("hash in the catalog leaf", func(t *testing.T) {
		// nuget.org's shape: registrations declare no packageHash, their
		// catalogEntry points at the catalog leaf, which does.
		leafFeed := nugettest.NewFeed(t, srv.URL)
		leafFeed.HashInCatalogLeaf()
		s := source(t, nugettest.GiteaIndex(leafFeed.URL, srv.User), `packages = ["Ferry.Sel"]
versions = "[1.0,2.0)"`)
		_, arts, err := listKeys(t, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range arts {
			if d, _ := a.Digests.Get(providers.SHA512); d.Hex != sha512Hex(pkgs[a.Version]) {
				t.Errorf("%s: digests %v, want the catalog leaf's packageHash of the pushed bytes", a.Key, a.Digests)
			}
		}
		if n := leafFeed.Requests("/catalogleaf/"); n != len(arts) {
			t.Errorf("%d catalog leaves read for %d selected versions", n, len(arts))
		}
	})

	t.Run("deprecation in the catalog leaf", func(t *testing.T) {
		// The registration says nothing; the leaf of the newest version
		// declares it deprecated, so the next one is selected (and its
		// leaf read for its hash).
		leafFeed := nugettest.NewFeed(t, srv.URL)
		leafFeed.HashInCatalogLeaf()
		leafFeed.Deprecate("Ferry.Sel", "1.9.0", nugettest.Deprecation{Reasons: []string{"CriticalBugs"}})
		s := source(t, nugettest.GiteaIndex(leafFeed.URL, srv.User), `packages = ["Ferry.Sel"]
versions = "[1.0,2.0)"
latest = 1
include_deprecated = false`)
		keys, arts, err := listKeys(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{nuget.Key("ferry.sel", "1.5.0")}, keys); diff != "" {
			t.Fatalf("keys (-want +got):\n%s", diff)
		}
		if d, _ := arts[0].Digests.Get(providers.SHA512); d.Hex != sha512Hex(pkgs["1.5.0"]) {
			t.Errorf("digests %v, want the catalog leaf's packageHash of the pushed bytes", arts[0].Digests)
		}
		// 1.9.0's leaf (deprecated), then 1.5.0's; no other.
		if n := leafFeed.Requests("/catalogleaf/"); n != 2 {
			t.Errorf("%d catalog leaves read, want 2", n)
		}
	})

	t.Run("missing package", func(t *testing.T) {
		_, _, err := listKeys(t, source(t, feedIndex, `packages = ["Ferry.Nope"]`))
		if !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("List of a package the feed lacks: error = %v, want ErrNotFound", err)
		}
	})
}

// TestDestinationAdoptsAndRefuses pushes to a Gitea feed that already
// holds a version: the same bytes are adopted, other bytes refused and
// left alone; a package whose .nuspec names another version is refused
// before anything is pushed.
func TestDestinationAdoptsAndRefuses(t *testing.T) {
	srv := testenv.StartGitea(t)
	index := nugettest.GiteaIndex(srv.URL, srv.User)
	have := nugettest.Package(t, "Ferry.Dst", "1.0.0", []byte("original"))
	nugettest.Push(t, index, srv.Token, have)
	d := providertest.NewDestination(t, destinationBlock(srv, srv.User), t.TempDir(), env())
	key := nuget.Key("ferry.dst", "1.0.0")
	art := func(b []byte) providers.Artifact {
		return providers.Artifact{Key: key, Size: int64(len(b)), Digests: providers.NewDigests(providertest.SHA256(b))}
	}

	if err := d.Put(t.Context(), art(have), bytes.NewReader(have), providers.PutOptions{}); err != nil {
		t.Errorf("Put of the bytes the feed holds: %v, want them adopted", err)
	}
	other := nugettest.Package(t, "Ferry.Dst", "1.0.0", []byte("other"))
	for _, overwrite := range []bool{false, true} {
		err := d.Put(t.Context(), art(other), bytes.NewReader(other), providers.PutOptions{Overwrite: overwrite})
		want := providers.ErrAlreadyExists
		if overwrite {
			want = providers.ErrUnsupported
		}
		if !errors.Is(err, want) {
			t.Errorf("Put of other bytes (overwrite %v): error = %v, want %v", overwrite, err, want)
		}
	}
	if got, err := d.Stat(t.Context(), key); err != nil || !got.Digests.Matches(providers.NewDigests(providertest.SHA256(have))) {
		t.Errorf("after refused pushes: Stat = %v, %v, want the original bytes", got, err)
	}

	wrong := nugettest.Package(t, "Ferry.Dst", "2.0.0", nil)
	key2 := nuget.Key("ferry.dst", "2.0.1")
	err := d.Put(t.Context(), providers.Artifact{Key: key2, Size: -1}, bytes.NewReader(wrong), providers.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "declares Ferry.Dst 2.0.0, not ferry.dst 2.0.1") {
		t.Errorf("Put of a package naming another version: error = %v", err)
	}
	for _, k := range []string{key2, nuget.Key("ferry.dst", "2.0.0")} {
		if _, err := d.Stat(t.Context(), k); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Stat(%s) after a refused push: %v, want ErrNotFound", k, err)
		}
	}
}

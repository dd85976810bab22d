package proget_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/proget"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/progettest"
)

func upackSource(t *testing.T, url, extra string) providers.Source {
	return providertest.NewSource(t, fmt.Sprintf(`source "proget_upack" "build" {
  url  = %q
  feed = "universal"
  %s
}`, url, extra), t.TempDir(), env())
}

func upackDest(t *testing.T, url, extra string) providers.Destination {
	return providertest.NewDestination(t, fmt.Sprintf(`destination "proget_upack" "mirror" {
  url  = %q
  feed = "mirror"
  %s
}`, url, extra), t.TempDir(), env())
}

func listKeys(t *testing.T, s providers.Lister) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), func(a providers.Artifact) error { keys = append(keys, a.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	return keys
}

func fetchAll(t *testing.T, s providers.Source, a providers.Artifact) ([]byte, error) {
	t.Helper()
	rc, err := s.Fetch(t.Context(), a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// The seed tool named files <name>.<version>.upack, so app 2.0.0 of one
// group overwrote app 2.0.0 of another; keys keep the whole group.
func TestUpackGroupsNeverCollapse(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{APIKey: apiKey})
	seedUpack(t, srv)
	srv.AddPackage(t, "universal", progettest.BuildPackage(t, progettest.Manifest{Group: "other", Name: "app", Version: "2.0.0"}, nil))
	src := upackSource(t, srv.URL, fmt.Sprintf("api_key = %q", apiKey))
	want := []string{
		"apps/internal/app/2.0.0/app-2.0.0.upack",
		"other/app/2.0.0/app-2.0.0.upack",
		"solo/0.1.0+build.7/solo-0.1.0+build.7.upack",
		"tools/app/1.0.0/app-1.0.0.upack",
		"tools/app/1.2.0-rc.1/app-1.2.0-rc.1.upack",
		"tools/app/1.10.0/app-1.10.0.upack",
	}
	if diff := cmp.Diff(want, listKeys(t, src)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	// Retention's package is the group and name.
	var names []string
	src.List(t.Context(), func(a providers.Artifact) error { names = append(names, a.Name+" "+a.Version); return nil })
	if names[0] != "apps/internal/app 2.0.0" || names[2] != "solo 0.1.0+build.7" {
		t.Errorf("names and versions = %q", names)
	}

	only := upackSource(t, srv.URL, fmt.Sprintf("api_key = %q\npackages = [\"tools/*\"]", apiKey))
	if diff := cmp.Diff(want[3:], listKeys(t, only)); diff != "" {
		t.Errorf("packages = [\"tools/*\"] keys (-want +got):\n%s", diff)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name, key string
		want      proget.Package
		err       bool
	}{
		{name: "nested group", key: "a/b/app/1.0.0/app-1.0.0.upack", want: proget.Package{Group: "a/b", Name: "app", Version: "1.0.0"}},
		{name: "empty group", key: "app/1.0.0-rc.1/app-1.0.0-rc.1.upack", want: proget.Package{Name: "app", Version: "1.0.0-rc.1"}},
		{name: "file name disagrees", key: "g/app/1.0.0/other-1.0.0.upack", err: true},
		{name: "not semver", key: "g/app/1.0/app-1.0.upack", err: true},
		{name: "too short", key: "app/app-1.0.0.upack", err: true},
		{name: "absolute (found by FuzzParseKey)", key: "/app/1.0.0/app-1.0.0.upack", err: true},
		{name: "name with a space", key: "g/my app/1.0.0/my app-1.0.0.upack", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := proget.ParseKey(tc.key)
			if (err != nil) != tc.err {
				t.Fatalf("ParseKey(%q) error = %v, want error %v", tc.key, err, tc.err)
			}
			if err == nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				if got.Key() != tc.key {
					t.Errorf("Key() = %q, want %q back", got.Key(), tc.key)
				}
			} else if !errors.Is(err, providers.ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	ordertest.Cases(t, proget.CompareVersions, []ordertest.Case{
		{Name: "numeric, not bytewise", A: "1.10.0", B: "1.9.0", Want: 1},
		{Name: "prerelease before release", A: "1.2.0-rc.1", B: "1.2.0", Want: -1},
		{Name: "numeric prerelease identifiers", A: "1.0.0-rc.10", B: "1.0.0-rc.9", Want: 1},
		{Name: "build metadata ignored", A: "1.0.0+a", B: "1.0.0+b", Want: 0},
		{Name: "invalid before valid", A: "latest", B: "0.0.1", Want: -1},
	})
}

func FuzzCompareVersions(f *testing.F) {
	ordertest.Fuzz(f, proget.CompareVersions, []string{"1.0.0", "1.0.0-rc.1", "1.0.0+b", "2.0.0-alpha.beta", "1.0", "x"})
}

// Every fetched package is checked against the hashes and the identity
// the feed listed; what does not match never leaves Fetch.
func TestUpackFetchRefuses(t *testing.T) {
	good := func(t *testing.T, version string) []byte {
		return progettest.BuildPackage(t, progettest.Manifest{Group: "tools", Name: "app", Version: version}, map[string][]byte{"f": []byte("x")})
	}
	tests := []struct {
		name  string
		seed  func(t *testing.T, srv *progettest.Server)
		want  error
		about string
	}{
		{
			name: "a sha256 the bytes do not have",
			seed: func(t *testing.T, srv *progettest.Server) {
				srv.AddPackage(t, "universal", good(t, "1.0.0"))
				srv.SetPackageHash("universal", "tools", "app", "1.0.0", "sha256", strings.Repeat("ab", 32))
			},
			want: providers.ErrDigestMismatch, about: "sha256 mismatch",
		},
		{
			name: "a sha1 the bytes do not have",
			seed: func(t *testing.T, srv *progettest.Server) {
				srv.AddPackage(t, "universal", good(t, "1.0.0"))
				srv.SetPackageHash("universal", "tools", "app", "1.0.0", "sha1", strings.Repeat("ab", 20))
			},
			want: providers.ErrDigestMismatch, about: "sha1 mismatch",
		},
		{
			name: "no hash at all (the seed tool compared two empty strings)",
			seed: func(t *testing.T, srv *progettest.Server) {
				srv.AddPackage(t, "universal", good(t, "1.0.0"))
				for _, alg := range []string{"md5", "sha1", "sha256", "sha512"} {
					srv.SetPackageHash("universal", "tools", "app", "1.0.0", alg, "")
				}
			},
			want: proget.ErrUnverifiable, about: "neither a sha256 nor a sha1",
		},
		{
			name: "upack.json names another version",
			seed: func(t *testing.T, srv *progettest.Server) {
				srv.AddRaw("universal", "tools", "app", "1.0.0", good(t, "1.0.1"))
			},
			want: proget.ErrManifest, about: `says group "tools", name "app", version "1.0.1"`,
		},
		{
			name: "upack.json names another group",
			seed: func(t *testing.T, srv *progettest.Server) {
				srv.AddRaw("universal", "other", "app", "1.0.0", good(t, "1.0.0"))
			},
			want: proget.ErrManifest, about: `listed as group "other"`,
		},
		{
			name: "upack.json with a version that is not SemVer 2",
			seed: func(t *testing.T, srv *progettest.Server) {
				bad := progettest.BuildPackage(t, progettest.Manifest{Group: "tools", Name: "app", Version: "1.0"}, nil)
				srv.AddRaw("universal", "tools", "app", "1.0.0", bad)
			},
			want: proget.ErrManifest, about: "not a SemVer 2 version",
		},
		{
			name: "not a zip",
			seed: func(t *testing.T, srv *progettest.Server) {
				srv.AddRaw("universal", "tools", "app", "1.0.0", []byte("<html>maintenance</html>"))
			},
			want: proget.ErrManifest, about: "not a zip archive",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := progettest.Start(t, progettest.Options{})
			tc.seed(t, srv)
			src := upackSource(t, srv.URL, "")
			var listed []providers.Artifact
			if err := src.List(t.Context(), func(a providers.Artifact) error { listed = append(listed, a); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 {
				t.Fatalf("listed %v", listed)
			}
			// Fetch, then read through what a destination's Put checks.
			_, err := fetchAll(t, src, listed[0])
			if err == nil {
				err = putInto(t, listed[0], src)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.about) {
				t.Fatalf("error = %v, want one wrapping %v that says %q", err, tc.want, tc.about)
			}
		})
	}
}

// putInto streams a from src into a fresh destination feed, as apply does.
func putInto(t *testing.T, a providers.Artifact, src providers.Source) error {
	rc, err := src.Fetch(t.Context(), a)
	if err != nil {
		return err
	}
	defer rc.Close()
	dst := upackDest(t, progettest.Start(t, progettest.Options{}).URL, "")
	return dst.Put(t.Context(), a, rc, providers.PutOptions{})
}

func TestUpackPutRefusesAnotherPackage(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{})
	dst := upackDest(t, srv.URL, "")
	body := progettest.BuildPackage(t, progettest.Manifest{Group: "g", Name: "evil", Version: "1.0.0"}, nil)
	a := providers.Artifact{Key: "g/app/1.0.0/app-1.0.0.upack", Size: int64(len(body)), Digests: providers.NewDigests(providertest.SHA256(body))}
	err := dst.Put(t.Context(), a, bytes.NewReader(body), providers.PutOptions{})
	if !errors.Is(err, proget.ErrManifest) {
		t.Fatalf("Put of a package whose upack.json names another package: %v, want ErrManifest", err)
	}
	if got := srv.Packages("mirror"); len(got) != 0 {
		t.Errorf("the feed holds %v after a refused Put", got)
	}
}

// 401, 403 and 429 say what to change, and never show the key.
func TestRefusalsSayWhatToFix(t *testing.T) {
	const readKey = "pg-read-only-key-42"
	tests := []struct {
		name string
		do   func(t *testing.T, srv *progettest.Server) error
		want []string
	}{
		{
			name: "anonymous asset listing: 401",
			do: func(t *testing.T, srv *progettest.Server) error {
				src := providertest.NewSource(t, fmt.Sprintf(`source "proget_asset" "f" {
  url       = %q
  directory = "files"
}`, srv.URL), t.TempDir(), env())
				return src.List(t.Context(), func(providers.Artifact) error { return nil })
			},
			want: []string{"401", "refused an anonymous request to asset directory files", "set api_key (or api_key_env)"},
		},
		{
			name: "unknown key on the packages API: 403",
			do: func(t *testing.T, srv *progettest.Server) error {
				return upackSource(t, srv.URL, `api_key = "wrong-key-0000"`).List(t.Context(), func(providers.Artifact) error { return nil })
			},
			want: []string{"403", "unknown to ProGet or lacks a permission on universal feed universal", "check the key"},
		},
		{
			name: "read-only key uploading: 403",
			do: func(t *testing.T, srv *progettest.Server) error {
				body := upackOf(t, "g/app/1.0.0/app-1.0.0.upack", 1, 100)
				a := providers.Artifact{Key: "g/app/1.0.0/app-1.0.0.upack", Size: int64(len(body)), Digests: providers.NewDigests(providertest.SHA256(body))}
				return upackDest(t, srv.URL, fmt.Sprintf("api_key = %q", readKey)).Put(t.Context(), a, bytes.NewReader(body), providers.PutOptions{})
			},
			want: []string{"403", "Add/Repackage"},
		},
		{
			name: "the delete quota: 429",
			do: func(t *testing.T, srv *progettest.Server) error {
				dst := upackDest(t, srv.URL, fmt.Sprintf("api_key = %q", apiKey))
				for _, v := range []string{"1.0.0", "1.0.1"} {
					srv.AddPackage(t, "mirror", progettest.BuildPackage(t, progettest.Manifest{Name: "app", Version: v}, nil))
				}
				if err := dst.Delete(t.Context(), "app/1.0.0/app-1.0.0.upack"); err != nil {
					t.Fatalf("the first delete: %v", err)
				}
				err := dst.Delete(t.Context(), "app/1.0.1/app-1.0.1.upack")
				if !errors.Is(err, proget.ErrQuota) {
					t.Errorf("error %v does not wrap ErrQuota", err)
				}
				if got := srv.Packages("mirror"); len(got) != 1 {
					t.Errorf("after the refused delete the feed holds %v", got)
				}
				return err
			},
			want: []string{"429", "it says for", "set deletes_per_hour on the destination"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := progettest.Start(t, progettest.Options{APIKey: apiKey, ReadKey: readKey, DeletesPerHour: 1})
			err := tc.do(t, srv)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, secret := range []string{apiKey, readKey} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a key: %v", err)
				}
			}
		})
	}
}

// The quota counts an hour back: once the oldest delete is an hour old,
// deleting works again.
func TestDeleteQuotaSlides(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := progettest.Start(t, progettest.Options{DeletesPerHour: 2, Now: func() time.Time { return now }})
	for _, p := range []string{"a", "b", "c"} {
		srv.PutAsset("d", p, []byte(p))
	}
	dst := providertest.NewDestination(t, fmt.Sprintf(`destination "proget_asset" "m" {
  url       = %q
  directory = "d"
}`, srv.URL), t.TempDir(), env())
	for _, p := range []string{"a", "b"} {
		if err := dst.Delete(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Delete(t.Context(), "c"); !errors.Is(err, proget.ErrQuota) {
		t.Fatalf("third delete within the hour: %v, want ErrQuota", err)
	}
	now = now.Add(time.Hour)
	if err := dst.Delete(t.Context(), "c"); err != nil {
		t.Fatalf("delete an hour later: %v", err)
	}
}

// The seed tool gave every asset version "0", so a changed file never
// synced; here the listing carries the file's hashes, so a change is a new
// digest under the same key.
func TestAssetChangeIsANewDigest(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{})
	srv.PutAsset("files", "a/b/c.txt", []byte("one"))
	src := providertest.NewSource(t, fmt.Sprintf(`source "proget_asset" "f" {
  url       = %q
  directory = "files"
}`, srv.URL), t.TempDir(), env())
	digest := func() providers.Digest {
		var got []providers.Artifact
		src.List(t.Context(), func(a providers.Artifact) error { got = append(got, a); return nil })
		if len(got) != 1 || got[0].Key != "a/b/c.txt" || got[0].Version != "" {
			t.Fatalf("listed %+v", got)
		}
		return got[0].Digests.Primary()
	}
	before := digest()
	srv.PutAsset("files", "a/b/c.txt", []byte("two"))
	after := digest()
	if before == after || after != providertest.SHA256([]byte("two")) {
		t.Errorf("digest before %v, after %v; want the new content's sha256", before, after)
	}
}

// A multipart upload that fails leaves nothing visible.
func TestAssetMultipartFailureLeavesNothing(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{})
	dst := providertest.NewDestination(t, fmt.Sprintf(`destination "proget_asset" "m" {
  url        = %q
  directory  = "d"
  chunk_size = 65536
}`, srv.URL), t.TempDir(), env())
	body := providertest.Content(7, 200_000)
	a := providers.Artifact{Key: "big.bin", Size: int64(len(body)), Digests: providers.NewDigests(providertest.SHA256(body))}
	srv.FailNext("/endpoints/d/content/", http.StatusInternalServerError, 1)
	if err := dst.Put(t.Context(), a, bytes.NewReader(body), providers.PutOptions{}); err == nil {
		t.Fatal("Put succeeded although a part upload failed")
	}
	if got := srv.Assets("d"); len(got) != 0 {
		t.Fatalf("after a failed multipart upload the directory holds %v", got)
	}
	if err := dst.Put(t.Context(), a, bytes.NewReader(body), providers.PutOptions{}); err != nil {
		t.Fatalf("retrying the Put: %v", err)
	}
	if got, _ := srv.Asset("d", "big.bin"); !bytes.Equal(got, body) {
		t.Error("the directory holds other bytes after the retried multipart upload")
	}
}

// The air gap: a source's listing in the cache lists offline as it did
// online; a listing made for another feed or selection, or none, is
// refused with what to run.
func TestOffline(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{})
	seedUpack(t, srv)
	src := upackSource(t, srv.URL, "")
	var listed []providers.Artifact
	if err := src.List(t.Context(), func(a providers.Artifact) error { listed = append(listed, a); return nil }); err != nil {
		t.Fatal(err)
	}
	o := src.(providers.Offliner)
	listing, err := o.Snapshot(t.Context(), listed, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	off, err := o.Offline(listing, nil)
	if err != nil {
		t.Fatalf("Offline: %v", err)
	}
	var got []providers.Artifact
	if err := off.List(t.Context(), func(a providers.Artifact) error { got = append(got, a); return nil }); err != nil {
		t.Fatalf("offline List: %v", err)
	}
	if diff := cmp.Diff(listed, got); diff != "" {
		t.Errorf("offline listing (-online +offline):\n%s", diff)
	}
	if _, err := off.Fetch(t.Context(), got[0]); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("offline Fetch: %v, want ErrUnsupported (the cache serves the bytes)", err)
	}

	other := upackSource(t, srv.URL, `packages = ["tools/*"]`).(providers.Offliner)
	if _, err := other.Offline(listing, nil); err == nil || !strings.Contains(err.Error(), "run ferry apply -download-only") {
		t.Errorf("a listing made for another selection: %v", err)
	}
	if _, err := o.Offline(nil, nil); err == nil || !strings.Contains(err.Error(), "-download-only") {
		t.Errorf("no listing: %v", err)
	}
}

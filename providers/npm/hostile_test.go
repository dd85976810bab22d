package npm_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/npm"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// hostileRegistry serves the package documents docs (by name) as an
// upstream that writes whatever it likes would; nothing else.
func hostileRegistry(t *testing.T, docs map[string]any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// packumentOf is a package document for name with the given versions (each
// with a sha512 integrity unless dists overrides its dist) and dist-tags.
func packumentOf(base, name string, versions []string, tags map[string]string, dists map[string]map[string]string) map[string]any {
	vs := map[string]any{}
	for _, v := range versions {
		sum := sha512.Sum512([]byte(name + v))
		d := map[string]string{
			"tarball":   base + name + "/-/" + name + "-" + v + ".tgz",
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
		}
		if o, ok := dists[v]; ok {
			d = o
			d["tarball"] = base + name + "/-/" + name + "-" + v + ".tgz"
		}
		vs[v] = map[string]any{"name": name, "version": v, "dist": d}
	}
	return map[string]any{"name": name, "dist-tags": tags, "versions": vs}
}

func listHostile(t *testing.T, base string, cfg npm.SourceConfig) (*npm.Source, []string) {
	t.Helper()
	cfg.Registry.URL = base
	s, err := npm.NewSource("npm.up", &cfg, provreg.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1}), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := s.List(t.Context(), func(a providers.Artifact) error { keys = append(keys, a.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.Sort(keys)
	return s, keys
}

// A dist-tag pointing at something that is not a semantic version of the
// package (a path, a word, a version the document lacks) selects nothing,
// is never handed to a destination, and the plan says why; the package's
// good versions are still mirrored.
func TestHostileDistTagsAreSkippedWithANote(t *testing.T) {
	tests := []struct {
		name      string
		versions  []string
		tags      map[string]string
		filter    npm.VersionFilter
		deps      *npm.DependencyClosure
		wantKeys  []string
		wantTags  map[string]string
		wantNotes []string
	}{
		{
			name:      "latest is a path",
			versions:  []string{"1.0.0", "../../x"},
			tags:      map[string]string{"latest": "../../x", "stable": "1.0.0"},
			filter:    npm.VersionFilter{DistTags: []string{"latest", "stable"}},
			wantKeys:  []string{"x/-/x-1.0.0.tgz"},
			wantTags:  map[string]string{"stable": "1.0.0"},
			wantNotes: []string{`x: dist-tag "latest" points at "../../x", which is not a semantic version; ferry ignores the tag.`},
		},
		{
			name:      "latest is not a version",
			versions:  []string{"1.0.0", "not-a-version"},
			tags:      map[string]string{"latest": "not-a-version"},
			filter:    npm.VersionFilter{DistTags: []string{"latest"}},
			wantTags:  map[string]string{},
			wantNotes: []string{`x: dist-tag "latest" points at "not-a-version", which is not a semantic version; ferry ignores the tag.`},
		},
		{
			name:      "loose version a range would have taken",
			versions:  []string{"1.0.0", "v2.0.0", "2.0"},
			tags:      map[string]string{"latest": "v2.0.0", "next": "2.0"},
			wantKeys:  []string{"x/-/x-1.0.0.tgz"},
			wantTags:  map[string]string{},
			wantNotes: []string{`x: dist-tag "latest" points at "v2.0.0", which is not a semantic version; ferry ignores the tag.`, `x: dist-tag "next" points at "2.0", which is not a semantic version; ferry ignores the tag.`},
		},
		{
			name:      "next is absent from versions",
			versions:  []string{"1.0.0"},
			tags:      map[string]string{"latest": "1.0.0", "next": "9.9.9"},
			filter:    npm.VersionFilter{Semver: ">= 1", DistTags: []string{"next"}},
			wantKeys:  []string{"x/-/x-1.0.0.tgz"},
			wantTags:  map[string]string{"latest": "1.0.0"},
			wantNotes: []string{`x: dist-tag "next" points at 9.9.9, which the package document does not have; ferry ignores the tag.`},
		},
		{
			name:      "tag name npm would not accept",
			versions:  []string{"1.0.0"},
			tags:      map[string]string{"latest": "1.0.0", "a/../b\x1b[31m": "1.0.0"},
			wantKeys:  []string{"x/-/x-1.0.0.tgz"},
			wantTags:  map[string]string{"latest": "1.0.0"},
			wantNotes: []string{`x: dist-tag "a/../b\x1b[31m" is not a tag name npm accepts; ferry ignores the tag.`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := map[string]any{}
			base := hostileRegistry(t, docs)
			docs["x"] = packumentOf(base, "x", tt.versions, tt.tags, nil)
			s, keys := listHostile(t, base, npm.SourceConfig{Packages: []string{"x"}, Versions: tt.filter, Dependencies: tt.deps})
			if d := cmp.Diff(tt.wantKeys, keys); d != "" {
				t.Errorf("listed keys (-want +got):\n%s", d)
			}
			tags, err := s.DistTags(t.Context(), "x")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.wantTags, tags); d != "" {
				t.Errorf("DistTags (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantNotes, s.Notes()); d != "" {
				t.Errorf("notes (-want +got):\n%s", d)
			}
		})
	}
}

// A dependency range naming a hostile dist-tag of the dependency selects
// nothing from it.
func TestHostileDistTagInDependencyRange(t *testing.T) {
	docs := map[string]any{}
	base := hostileRegistry(t, docs)
	app := packumentOf(base, "app", []string{"1.0.0"}, map[string]string{"latest": "1.0.0"}, nil)
	app["versions"].(map[string]any)["1.0.0"].(map[string]any)["dependencies"] = map[string]string{"dep": "evil"}
	docs["app"] = app
	docs["dep"] = packumentOf(base, "dep", []string{"1.0.0", "../../y"}, map[string]string{"latest": "1.0.0", "evil": "../../y"}, nil)
	_, keys := listHostile(t, base, npm.SourceConfig{Packages: []string{"app"}, Dependencies: &npm.DependencyClosure{Depth: 1, MaxPackages: 10}})
	if d := cmp.Diff([]string{"app/-/app-1.0.0.tgz"}, keys); d != "" {
		t.Errorf("listed keys (-want +got):\n%s", d)
	}
}

// A version whose only integrity is an algorithm ferry does not verify is
// not mirrored, and the note says exactly that (not "neither integrity nor
// shasum").
func TestUnverifiedIntegrityNote(t *testing.T) {
	tests := []struct {
		name string
		dist map[string]string
		want string
	}{
		{name: "sha384 only", dist: map[string]string{"integrity": "sha384-" + base64.StdEncoding.EncodeToString(make([]byte, 48))},
			want: "x@1.0.0 is not mirrored: dist declares only sha384 integrity, which ferry does not verify (it verifies sha512, sha256 and sha1), and no shasum."},
		{name: "two unknown algorithms", dist: map[string]string{"integrity": "sha384-AAAA sha3-BBBB sha384-CCCC"},
			want: "x@1.0.0 is not mirrored: dist declares only sha384 and sha3 integrity, which ferry does not verify (it verifies sha512, sha256 and sha1), and no shasum."},
		{name: "nothing", dist: map[string]string{},
			want: "x@1.0.0 is not mirrored: dist declares neither integrity nor shasum."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := map[string]any{}
			base := hostileRegistry(t, docs)
			docs["x"] = packumentOf(base, "x", []string{"1.0.0", "1.1.0"}, map[string]string{"latest": "1.1.0"}, map[string]map[string]string{"1.0.0": tt.dist})
			s, keys := listHostile(t, base, npm.SourceConfig{Packages: []string{"x"}})
			if d := cmp.Diff([]string{"x/-/x-1.1.0.tgz"}, keys); d != "" {
				t.Errorf("listed keys (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{tt.want}, s.Notes()); d != "" {
				t.Errorf("notes (-want +got):\n%s", d)
			}
		})
	}
}

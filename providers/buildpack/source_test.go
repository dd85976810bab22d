package buildpack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/pelletier/go-toml/v2"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack"
	"github.com/ferry-mirror/ferry/providers/buildpack/bptoml"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// fixtureDir holds the real buildpack.toml files (provenance in its
// SOURCES.txt).
const fixtureDir = "../../testdata/buildpacks"

// fixturePath returns the absolute path of a real buildpack.toml and fails
// the test (never skips) when it is missing.
func fixturePath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return p
}

func newClient() *httpx.Client {
	return httpx.New(httpx.Options{MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Timeout: 5 * time.Second})
}

func newSource(cfg *buildpack.SourceConfig) *buildpack.Source {
	s, err := buildpack.NewSource("buildpack.test", cfg, registry.Env{HTTP: newClient()})
	if err != nil {
		panic(err) // it cannot fail
	}
	return s
}

// listAll returns every listed artifact, sorted by key.
func listAll(t *testing.T, s *buildpack.Source) []providers.Artifact {
	t.Helper()
	var got []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error {
		got = append(got, a)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.SortFunc(got, func(a, b providers.Artifact) int { return strings.Compare(a.Key, b.Key) })
	return got
}

func document(t *testing.T, s *buildpack.Source) *buildpack.Document {
	t.Helper()
	doc, err := s.Document()
	if err != nil {
		t.Fatalf("Document: %v", err)
	}
	return doc
}

func sha256Of(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeBuildpack writes a buildpack.toml into a fresh directory and returns its path.
func writeBuildpack(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "buildpack.toml")
	writeFile(t, p, []byte(content))
	return p
}

func fetchAll(t *testing.T, s *buildpack.Source, a providers.Artifact) ([]byte, error) {
	t.Helper()
	rc, err := s.Fetch(context.Background(), a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func byKey(arts []providers.Artifact, key string) (providers.Artifact, bool) {
	for _, a := range arts {
		if a.Key == key {
			return a, true
		}
	}
	return providers.Artifact{}, false
}

// depHeaderLine is the 1-based line of the n-th (0-based)
// [[metadata.dependencies]] header in content.
func depHeaderLine(t *testing.T, content string, n int) int {
	t.Helper()
	seen := 0
	for i, l := range strings.Split(content, "\n") {
		if strings.TrimSpace(l) == "[[metadata.dependencies]]" {
			if seen == n {
				return i + 1
			}
			seen++
		}
	}
	t.Fatalf("no dependency header %d", n)
	return 0
}

// rawDep is a dependency as go-toml decodes it, independent of bptoml.
type rawDep struct {
	ID             string `toml:"id"`
	Version        string `toml:"version"`
	URI            string `toml:"uri"`
	Checksum       string `toml:"checksum"`
	SHA256         string `toml:"sha256"`
	Source         string `toml:"source"`
	SourceChecksum string `toml:"source-checksum"`
	SourceSHA256   string `toml:"source-sha256"`
	SourceSHA256U  string `toml:"source_sha256"`
}

type rawFile struct {
	Metadata struct {
		Dependencies []rawDep `toml:"dependencies"`
	} `toml:"metadata"`
}

// rawDigest reads "algo:hex" or bare hex (sha256); zero for "".
func rawDigest(t *testing.T, s string) providers.Digest {
	t.Helper()
	if s == "" {
		return providers.Digest{}
	}
	if !strings.Contains(s, ":") {
		s = "sha256:" + s
	}
	d, err := providers.ParseDigest(strings.ToLower(s))
	if err != nil {
		t.Fatalf("digest %q: %v", s, err)
	}
	return d
}

// checksums applies the packit/libpak rules: a set sha256 overrides
// checksum; source-checksum, else source-sha256, else source_sha256.
func (d rawDep) checksums(t *testing.T) (uri, source providers.Digest) {
	uri = rawDigest(t, d.Checksum)
	if d.SHA256 != "" {
		uri = rawDigest(t, d.SHA256)
	}
	switch {
	case d.SourceChecksum != "":
		source = rawDigest(t, d.SourceChecksum)
	case d.SourceSHA256 != "":
		source = rawDigest(t, d.SourceSHA256)
	default:
		source = rawDigest(t, d.SourceSHA256U)
	}
	return uri, source
}

func baseName(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return path.Base(u.Path)
}

func TestListRealFiles(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		sources bool
		// wantCount cross-checks the independent count below.
		wantCount int
		// sourceIsURI: every dependency's source is its uri (node-engine).
		sourceIsURI bool
	}{
		{name: "node-engine", file: "node-engine.toml", wantCount: 20},
		{name: "node-engine with sources", file: "node-engine.toml", sources: true, wantCount: 20, sourceIsURI: true},
		{name: "gradle", file: "gradle.toml", wantCount: 1},
		{name: "gradle with sources", file: "gradle.toml", sources: true, wantCount: 2},
		{name: "bellsoft-liberica", file: "bellsoft-liberica.toml", wantCount: 44},
		{name: "bellsoft-liberica with sources", file: "bellsoft-liberica.toml", sources: true, wantCount: 54},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fixturePath(t, tt.file)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var raw rawFile
			if err := toml.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			deps := raw.Metadata.Dependencies
			if len(deps) == 0 {
				t.Fatal("the fixture decodes to no dependencies")
			}

			// Expected artifacts: one per distinct checksum, in file order, the
			// first dependency naming it gives name, version, origin and key.
			type part struct {
				uri    string
				sum    providers.Digest
				source bool
			}
			var want []providers.Artifact
			seen := map[providers.Digest]bool{}
			parts := make([][]part, len(deps))
			for i, d := range deps {
				uriSum, srcSum := d.checksums(t)
				parts[i] = []part{{d.URI, uriSum, false}}
				if tt.sources && d.Source != "" {
					parts[i] = append(parts[i], part{d.Source, srcSum, true})
				}
				for _, p := range parts[i] {
					if p.sum.IsZero() || seen[p.sum] {
						continue
					}
					seen[p.sum] = true
					key := d.ID + "/" + d.Version + "/"
					if p.source {
						key += "source/"
					}
					key += p.sum.Hex + "/" + baseName(t, p.uri)
					want = append(want, providers.Artifact{
						Key: key, Name: d.ID, Version: d.Version, Size: -1,
						Digests: providers.NewDigests(p.sum), Origin: p.uri,
					})
				}
			}
			if len(want) != tt.wantCount {
				t.Fatalf("independent count = %d, the table says %d", len(want), tt.wantCount)
			}

			s := newSource(&buildpack.SourceConfig{File: p, Sources: tt.sources})
			got := listAll(t, s)
			if len(got) != len(want) {
				t.Errorf("List returned %d artifacts, want %d", len(got), len(want))
			}
			keys := map[string]bool{}
			for _, a := range got {
				if keys[a.Key] {
					t.Errorf("key %q listed twice", a.Key)
				}
				keys[a.Key] = true
			}

			// Everything but the key, matched by digest.
			bySum := func(as []providers.Artifact) map[providers.Digest]providers.Artifact {
				m := map[providers.Digest]providers.Artifact{}
				for _, a := range as {
					a.Key = ""
					m[a.Digests.Primary()] = a
				}
				return m
			}
			if diff := cmp.Diff(bySum(want), bySum(got)); diff != "" {
				t.Errorf("artifacts by digest (-want +got):\n%s", diff)
			}
			// The keys: ID/VERSION[/source]/HEX/BASENAME.
			wantKeys, gotKeys := []string{}, []string{}
			for _, a := range want {
				wantKeys = append(wantKeys, a.Key)
			}
			for _, a := range got {
				gotKeys = append(gotKeys, a.Key)
			}
			slices.Sort(wantKeys)
			if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}

			// Every dependency maps to the artifact carrying its checksum.
			keyOf := map[providers.Digest]string{}
			for _, a := range got {
				keyOf[a.Digests.Primary()] = a.Key
			}
			wantDepKeys := map[int]buildpack.DepKeys{}
			for i := range deps {
				var k buildpack.DepKeys
				for _, p := range parts[i] {
					if p.source {
						k.Source = keyOf[p.sum]
					} else {
						k.URI = keyOf[p.sum]
					}
				}
				wantDepKeys[i] = k
			}
			doc := document(t, s)
			if diff := cmp.Diff(wantDepKeys, doc.Keys); diff != "" {
				t.Errorf("Document().Keys (-want +got):\n%s", diff)
			}
			if tt.sourceIsURI {
				for i := range deps {
					if k := doc.Keys[i]; k.URI == "" || k.URI != k.Source {
						t.Errorf("dependency %d: Keys = %+v, want the source deduplicated into the uri's artifact", i, k)
					}
				}
			}
			if doc.Path != p || !bytes.Equal(doc.Data, data) {
				t.Errorf("Document Path = %q (want %q), Data equal = %v", doc.Path, p, bytes.Equal(doc.Data, data))
			}
			if n := s.Notes(); len(n) != 0 {
				t.Errorf("Notes() = %q, want none (every dependency has a checksum)", n)
			}
		})
	}
}

// The gradle source tarball is its own artifact, verified by source-sha256,
// and its key carries the "source" segment.
func TestListSourceTarballKey(t *testing.T) {
	s := newSource(&buildpack.SourceConfig{File: fixturePath(t, "gradle.toml"), Sources: true})
	got := listAll(t, s)
	want := []providers.Artifact{
		{
			Key:     "gradle/9.7.1/acd53f1edaf02f1a8ff99879f8a34b302661a057d9b063ae9e35b552f804d20a/gradle-9.7.1-bin.zip",
			Name:    "gradle",
			Version: "9.7.1",
			Size:    -1,
			Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: "acd53f1edaf02f1a8ff99879f8a34b302661a057d9b063ae9e35b552f804d20a"}),
			Origin:  "https://downloads.gradle.org/distributions/gradle-9.7.1-bin.zip",
		},
		{
			Key:     "gradle/9.7.1/source/c136caa3ba090740c50a703e25aa15bea0c7fb01e1450ba90e1079920e9b8bf4/gradle-9.7.1-src.zip",
			Name:    "gradle",
			Version: "9.7.1",
			Size:    -1,
			Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: "c136caa3ba090740c50a703e25aa15bea0c7fb01e1450ba90e1079920e9b8bf4"}),
			Origin:  "https://downloads.gradle.org/distributions/gradle-9.7.1-src.zip",
		},
	}
	slices.SortFunc(want, func(a, b providers.Artifact) int { return strings.Compare(a.Key, b.Key) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

// Two uris with one base name under different paths stay two artifacts, and
// each is fetched with its own bytes.
func TestCollidingBaseNames(t *testing.T) {
	files := map[string][]byte{}
	for _, p := range []string{"linux/x64/jdk.tar.gz", "linux/arm64/jdk.tar.gz"} {
		b, err := os.ReadFile(filepath.Join("testdata", "collide", "files", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("testdata", "collide", "files"))))
	t.Cleanup(srv.Close)
	tmpl, err := os.ReadFile(filepath.Join("testdata", "collide", "buildpack.toml"))
	if err != nil {
		t.Fatal(err)
	}
	bp := writeBuildpack(t, strings.ReplaceAll(string(tmpl), "@SERVER@", srv.URL))

	s := newSource(&buildpack.SourceConfig{File: bp})
	got := listAll(t, s)
	x64, arm64 := sha256Of(files["linux/x64/jdk.tar.gz"]), sha256Of(files["linux/arm64/jdk.tar.gz"])
	want := []providers.Artifact{
		{Key: "jdk/21.0.1/" + x64.Hex + "/jdk.tar.gz", Name: "jdk", Version: "21.0.1", Size: -1,
			Digests: providers.NewDigests(x64), Origin: srv.URL + "/linux/x64/jdk.tar.gz"},
		{Key: "jdk/21.0.1/" + arm64.Hex + "/jdk.tar.gz", Name: "jdk", Version: "21.0.1", Size: -1,
			Digests: providers.NewDigests(arm64), Origin: srv.URL + "/linux/arm64/jdk.tar.gz"},
	}
	slices.SortFunc(want, func(a, b providers.Artifact) int { return strings.Compare(a.Key, b.Key) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("List (-want +got):\n%s", diff)
	}
	wantKeys := map[int]buildpack.DepKeys{0: {URI: "jdk/21.0.1/" + x64.Hex + "/jdk.tar.gz"}, 1: {URI: "jdk/21.0.1/" + arm64.Hex + "/jdk.tar.gz"}}
	if diff := cmp.Diff(wantKeys, document(t, s).Keys); diff != "" {
		t.Errorf("Document().Keys (-want +got):\n%s", diff)
	}
	for _, a := range got {
		body, err := fetchAll(t, s, a)
		if err != nil {
			t.Fatalf("Fetch %s: %v", a.Key, err)
		}
		if d := sha256Of(body); !providers.NewDigests(d).Equal(a.Digests) {
			t.Errorf("Fetch %s: got bytes with %s, want %s", a.Key, d, a.Digests.Primary())
		}
		if n, err := s.Size(context.Background(), a); err != nil || n != int64(len(body)) {
			t.Errorf("Size %s = %d, %v; want %d", a.Key, n, err, len(body))
		}
	}
}

const sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const sumB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
const sumC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

func TestSameChecksumOneArtifact(t *testing.T) {
	tests := []struct {
		name     string
		toml     string
		sources  bool
		want     []providers.Artifact
		wantKeys map[int]buildpack.DepKeys
	}{
		{
			name: "two ids, one file",
			toml: `[[metadata.dependencies]]
id = "jdk"
version = "8.0.1"
sha256 = "` + sumA + `"
uri = "https://example.org/jdk/jdk-8.tar.gz"

[[metadata.dependencies]]
id = "jre"
version = "8.0.1"
checksum = "sha256:` + sumA + `"
uri = "https://mirror.example.org/other/path/jre-8.tar.gz"
`,
			want: []providers.Artifact{{Key: "jdk/8.0.1/" + sumA + "/jdk-8.tar.gz", Name: "jdk", Version: "8.0.1", Size: -1,
				Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sumA}), Origin: "https://example.org/jdk/jdk-8.tar.gz"}},
			wantKeys: map[int]buildpack.DepKeys{
				0: {URI: "jdk/8.0.1/" + sumA + "/jdk-8.tar.gz"},
				1: {URI: "jdk/8.0.1/" + sumA + "/jdk-8.tar.gz"},
			},
		},
		{
			name: "two arches, one file",
			toml: `[[metadata.dependencies]]
id = "tool"
version = "2.0.0"
arch = "amd64"
checksum = "sha256:` + sumB + `"
uri = "https://example.org/tool-2.0.0.tar.gz"

[[metadata.dependencies]]
id = "tool"
version = "2.0.0"
arch = "arm64"
checksum = "sha256:` + sumB + `"
uri = "https://example.org/tool-2.0.0.tar.gz"
`,
			want: []providers.Artifact{{Key: "tool/2.0.0/" + sumB + "/tool-2.0.0.tar.gz", Name: "tool", Version: "2.0.0", Size: -1,
				Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sumB}), Origin: "https://example.org/tool-2.0.0.tar.gz"}},
			wantKeys: map[int]buildpack.DepKeys{
				0: {URI: "tool/2.0.0/" + sumB + "/tool-2.0.0.tar.gz"},
				1: {URI: "tool/2.0.0/" + sumB + "/tool-2.0.0.tar.gz"},
			},
		},
		{
			// The liberica pattern: jdk and jre share one source tarball.
			name:    "two dependencies, one source tarball",
			sources: true,
			toml: `[[metadata.dependencies]]
id = "jdk"
version = "8.0.1"
sha256 = "` + sumA + `"
source = "https://example.org/src/jdk8-src.tar.gz"
source-sha256 = "` + sumC + `"
uri = "https://example.org/jdk-8.tar.gz"

[[metadata.dependencies]]
id = "jre"
version = "8.0.1"
sha256 = "` + sumB + `"
source = "https://example.org/src/jdk8-src.tar.gz"
source-sha256 = "` + sumC + `"
uri = "https://example.org/jre-8.tar.gz"
`,
			want: []providers.Artifact{
				{Key: "jdk/8.0.1/" + sumA + "/jdk-8.tar.gz", Name: "jdk", Version: "8.0.1", Size: -1,
					Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sumA}), Origin: "https://example.org/jdk-8.tar.gz"},
				{Key: "jdk/8.0.1/source/" + sumC + "/jdk8-src.tar.gz", Name: "jdk", Version: "8.0.1", Size: -1,
					Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sumC}), Origin: "https://example.org/src/jdk8-src.tar.gz"},
				{Key: "jre/8.0.1/" + sumB + "/jre-8.tar.gz", Name: "jre", Version: "8.0.1", Size: -1,
					Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sumB}), Origin: "https://example.org/jre-8.tar.gz"},
			},
			wantKeys: map[int]buildpack.DepKeys{
				0: {URI: "jdk/8.0.1/" + sumA + "/jdk-8.tar.gz", Source: "jdk/8.0.1/source/" + sumC + "/jdk8-src.tar.gz"},
				1: {URI: "jre/8.0.1/" + sumB + "/jre-8.tar.gz", Source: "jdk/8.0.1/source/" + sumC + "/jdk8-src.tar.gz"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(&buildpack.SourceConfig{File: writeBuildpack(t, tt.toml), Sources: tt.sources})
			got := listAll(t, s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantKeys, document(t, s).Keys); diff != "" {
				t.Errorf("Document().Keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyAndOrigin(t *testing.T) {
	tests := []struct {
		name       string
		id, ver    string
		uri        string
		wantKey    string
		wantOrigin string
	}{
		{name: "plain", id: "node", ver: "20.1.0", uri: "https://nodejs.org/dist/v20.1.0/node-v20.1.0-linux-x64.tar.xz",
			wantKey: "node/20.1.0/" + sumA + "/node-v20.1.0-linux-x64.tar.xz", wantOrigin: "https://nodejs.org/dist/v20.1.0/node-v20.1.0-linux-x64.tar.xz"},
		{name: "plus in the path is kept", id: "jdk", ver: "8.0.492", uri: "https://github.com/bell-sw/Liberica/releases/download/8u492+9/bellsoft-jdk8u492+9-linux-amd64.tar.gz",
			wantKey: "jdk/8.0.492/" + sumA + "/bellsoft-jdk8u492+9-linux-amd64.tar.gz", wantOrigin: "https://github.com/bell-sw/Liberica/releases/download/8u492+9/bellsoft-jdk8u492+9-linux-amd64.tar.gz"},
		{name: "unsafe characters become underscores", id: "org/tool", ver: "1.0.0 beta", uri: "https://example.org/a%20b.tgz",
			wantKey: "org_tool/1.0.0_beta/" + sumA + "/a_b.tgz", wantOrigin: "https://example.org/a%20b.tgz"},
		{name: "no leading dot", id: ".hidden", ver: "1", uri: "https://example.org/.x",
			wantKey: "_.hidden/1/" + sumA + "/_.x", wantOrigin: "https://example.org/.x"},
		{name: "no path", id: "t", ver: "1", uri: "https://example.org",
			wantKey: "t/1/" + sumA + "/artifact", wantOrigin: "https://example.org"},
		{name: "credentials are not shown", id: "t", ver: "1", uri: "https://user:s3cret@example.org/t.tgz?token=abc",
			wantKey: "t/1/" + sumA + "/t.tgz", wantOrigin: "https://xxxxx@example.org/t.tgz?token=xxxxx"},
		{name: "file uri", id: "t", ver: "1", uri: "file:///dependencies/t.tgz",
			wantKey: "t/1/" + sumA + "/t.tgz", wantOrigin: "file:///dependencies/t.tgz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := fmt.Sprintf("[[metadata.dependencies]]\nid = %q\nversion = %q\nchecksum = \"sha256:%s\"\nuri = %q\n", tt.id, tt.ver, sumA, tt.uri)
			got := listAll(t, newSource(&buildpack.SourceConfig{File: writeBuildpack(t, bp)}))
			want := []providers.Artifact{{Key: tt.wantKey, Name: tt.id, Version: tt.ver, Size: -1,
				Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sumA}), Origin: tt.wantOrigin}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotesForMissingChecksums(t *testing.T) {
	const bp = `[metadata]

  [[metadata.dependencies]]
    id = "ok"
    version = "1.0.0"
    checksum = "sha256:` + sumA + `"
    uri = "https://example.org/ok.tgz"

  [[metadata.dependencies]]
    id = "unverified"
    version = "2.3.4"
    arch = "arm64"
    uri = "https://example.org/unverified.tgz"

  [[metadata.dependencies]]
    id = "empty"
    version = "3.0.0"
    checksum = ""
    uri = "https://example.org/empty.tgz"

  [[metadata.dependencies]]
    id = "nosrcsum"
    version = "4.0.0"
    checksum = "sha256:` + sumB + `"
    source = "https://example.org/nosrcsum-src.tgz"
    uri = "https://example.org/nosrcsum.tgz"
`
	type note struct {
		id, version string
		dep         int // dependency index, for the line
		source      bool
	}
	tests := []struct {
		name      string
		cfg       buildpack.SourceConfig
		wantKeys  []string
		wantNotes []note
	}{
		{
			name:     "dependencies without checksum",
			wantKeys: []string{"nosrcsum/4.0.0/" + sumB + "/nosrcsum.tgz", "ok/1.0.0/" + sumA + "/ok.tgz"},
			wantNotes: []note{
				{id: "unverified", version: "2.3.4", dep: 1},
				{id: "empty", version: "3.0.0", dep: 2},
			},
		},
		{
			name:     "and a source without checksum",
			cfg:      buildpack.SourceConfig{Sources: true},
			wantKeys: []string{"nosrcsum/4.0.0/" + sumB + "/nosrcsum.tgz", "ok/1.0.0/" + sumA + "/ok.tgz"},
			wantNotes: []note{
				{id: "unverified", version: "2.3.4", dep: 1},
				{id: "empty", version: "3.0.0", dep: 2},
				{id: "nosrcsum", version: "4.0.0", dep: 3, source: true},
			},
		},
		{
			name:     "filtered out: no note",
			cfg:      buildpack.SourceConfig{Exclude: &buildpack.Filter{IDs: []string{"unverified", "empty"}}},
			wantKeys: []string{"nosrcsum/4.0.0/" + sumB + "/nosrcsum.tgz", "ok/1.0.0/" + sumA + "/ok.tgz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.File = writeBuildpack(t, bp)
			s := newSource(&cfg)
			var gotKeys []string
			for _, a := range listAll(t, s) {
				gotKeys = append(gotKeys, a.Key)
			}
			if diff := cmp.Diff(tt.wantKeys, gotKeys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			doc := document(t, s)
			for _, i := range []int{1, 2} {
				if k, ok := doc.Keys[i]; ok && k != (buildpack.DepKeys{}) {
					t.Errorf("dependency %d without checksum maps to %+v, want no key", i, k)
				}
			}
			notes := s.Notes()
			if len(notes) != len(tt.wantNotes) {
				t.Fatalf("Notes() = %q, want %d notes", notes, len(tt.wantNotes))
			}
			for i, w := range tt.wantNotes {
				n := notes[i]
				line := fmt.Sprintf("line %d", depHeaderLine(t, bp, w.dep))
				for _, sub := range []string{w.id, w.version, line} {
					if !strings.Contains(n, sub) {
						t.Errorf("note %d = %q, want it to name %q", i, n, sub)
					}
				}
				if got := strings.Contains(n, "source"); got != w.source {
					t.Errorf("note %d = %q, mentions the source: %v, want %v", i, n, got, w.source)
				}
			}
			if diff := cmp.Diff(notes, doc.Notes); diff != "" {
				t.Errorf("Notes() and Document().Notes differ:\n%s", diff)
			}
		})
	}
}

func mustConstraint(t *testing.T, s string) *semver.Constraints {
	t.Helper()
	c, err := semver.NewConstraint(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFilters(t *testing.T) {
	file, err := filepath.Abs(filepath.Join("testdata", "filters", "buildpack.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// Labels of the dependencies in testdata/filters/buildpack.toml, in file order.
	labels := []string{
		"node 18.1.0 linux/amd64",
		"node 18.1.0 linux/arm64",
		"node 20.2.0 linux/amd64",
		"node 20.2.0 linux/arm64",
		"node 22.0.0 -/amd64",
		"python 3.11.0 -/arm64",
		"python 3.12.1 -/-",
		"yarn 1.22.0 windows/amd64",
		"tool latest linux/-",
	}
	all := slices.Clone(labels)
	c := func(s string) *semver.Constraints { return mustConstraint(t, s) }
	tests := []struct {
		name    string
		include *buildpack.Filter
		exclude *buildpack.Filter
		latest  int
		want    []string
	}{
		{name: "no filter", want: all},
		{name: "empty include keeps all", include: &buildpack.Filter{}, want: all},
		{name: "include ids", include: &buildpack.Filter{IDs: []string{"python", "yarn"}},
			want: []string{"python 3.11.0 -/arm64", "python 3.12.1 -/-", "yarn 1.22.0 windows/amd64"}},
		{name: "include unknown id", include: &buildpack.Filter{IDs: []string{"ruby"}}, want: nil},
		{name: "include versions", include: &buildpack.Filter{Versions: c(">= 20, < 23")},
			want: []string{"node 20.2.0 linux/amd64", "node 20.2.0 linux/arm64", "node 22.0.0 -/amd64"}},
		{name: "include versions tilde", include: &buildpack.Filter{Versions: c("~3.12")},
			want: []string{"python 3.12.1 -/-"}},
		{name: "include stacks: named or *", include: &buildpack.Filter{Stacks: []string{"io.buildpacks.stacks.jammy"}},
			want: []string{"node 18.1.0 linux/amd64", "node 18.1.0 linux/arm64", "node 20.2.0 linux/amd64", "node 20.2.0 linux/arm64",
				"node 22.0.0 -/amd64", "python 3.12.1 -/-"}},
		{name: "include stacks: any of several", include: &buildpack.Filter{Stacks: []string{"io.paketo.stacks.tiny", "io.buildpacks.stacks.bionic"}},
			want: []string{"node 18.1.0 linux/amd64", "node 18.1.0 linux/arm64", "node 20.2.0 linux/amd64", "node 20.2.0 linux/arm64",
				"node 22.0.0 -/amd64", "python 3.11.0 -/arm64", "yarn 1.22.0 windows/amd64"}},
		// A missing os or arch matches any (packit resolves a dependency
		// without them on every platform), so an arm64 mirror keeps them.
		{name: "include targets linux/amd64: missing os or arch matches any", include: &buildpack.Filter{Targets: []string{"linux/amd64"}},
			want: []string{"node 18.1.0 linux/amd64", "node 20.2.0 linux/amd64", "node 22.0.0 -/amd64", "python 3.12.1 -/-", "tool latest linux/-"}},
		{name: "include targets linux/arm64", include: &buildpack.Filter{Targets: []string{"linux/arm64"}},
			want: []string{"node 18.1.0 linux/arm64", "node 20.2.0 linux/arm64", "python 3.11.0 -/arm64", "python 3.12.1 -/-", "tool latest linux/-"}},
		{name: "include targets windows/amd64", include: &buildpack.Filter{Targets: []string{"windows/amd64"}},
			want: []string{"node 22.0.0 -/amd64", "python 3.12.1 -/-", "yarn 1.22.0 windows/amd64"}},
		{name: "include two targets", include: &buildpack.Filter{Targets: []string{"linux/arm64", "windows/amd64"}},
			want: []string{"node 18.1.0 linux/arm64", "node 20.2.0 linux/arm64", "node 22.0.0 -/amd64", "python 3.11.0 -/arm64", "python 3.12.1 -/-",
				"yarn 1.22.0 windows/amd64", "tool latest linux/-"}},
		{name: "include: every criterion must match", include: &buildpack.Filter{IDs: []string{"node"}, Versions: c("< 20"), Targets: []string{"linux/arm64"}},
			want: []string{"node 18.1.0 linux/arm64"}},
		{name: "exclude ids", exclude: &buildpack.Filter{IDs: []string{"node", "tool"}},
			want: []string{"python 3.11.0 -/arm64", "python 3.12.1 -/-", "yarn 1.22.0 windows/amd64"}},
		{name: "exclude versions keeps what does not parse", exclude: &buildpack.Filter{Versions: c("< 20")},
			want: []string{"node 20.2.0 linux/amd64", "node 20.2.0 linux/arm64", "node 22.0.0 -/amd64", "tool latest linux/-"}},
		{name: "exclude targets", exclude: &buildpack.Filter{Targets: []string{"linux/amd64"}},
			want: []string{"node 18.1.0 linux/arm64", "node 20.2.0 linux/arm64", "python 3.11.0 -/arm64", "yarn 1.22.0 windows/amd64"}},
		{name: "exclude: only what matches every criterion", exclude: &buildpack.Filter{IDs: []string{"node"}, Targets: []string{"linux/arm64"}},
			want: []string{"node 18.1.0 linux/amd64", "node 20.2.0 linux/amd64", "node 22.0.0 -/amd64",
				"python 3.11.0 -/arm64", "python 3.12.1 -/-", "yarn 1.22.0 windows/amd64", "tool latest linux/-"}},
		{name: "include and exclude", include: &buildpack.Filter{IDs: []string{"node"}}, exclude: &buildpack.Filter{Targets: []string{"linux/arm64"}},
			want: []string{"node 18.1.0 linux/amd64", "node 20.2.0 linux/amd64", "node 22.0.0 -/amd64"}},
		{name: "latest 1", latest: 1,
			want: []string{"node 22.0.0 -/amd64", "python 3.12.1 -/-", "yarn 1.22.0 windows/amd64", "tool latest linux/-"}},
		{name: "latest 2: both arches of a version count once", latest: 2,
			want: []string{"node 20.2.0 linux/amd64", "node 20.2.0 linux/arm64", "node 22.0.0 -/amd64",
				"python 3.11.0 -/arm64", "python 3.12.1 -/-", "yarn 1.22.0 windows/amd64", "tool latest linux/-"}},
		{name: "latest more than there are", latest: 10, want: all},
		{name: "latest applies after include and exclude", include: &buildpack.Filter{IDs: []string{"node"}}, exclude: &buildpack.Filter{Versions: c(">= 22")}, latest: 1,
			want: []string{"node 20.2.0 linux/amd64", "node 20.2.0 linux/arm64"}},
		{name: "latest after a target filter", include: &buildpack.Filter{Targets: []string{"linux/arm64"}}, latest: 1,
			want: []string{"node 20.2.0 linux/arm64", "python 3.12.1 -/-", "tool latest linux/-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(&buildpack.SourceConfig{File: file, Include: tt.include, Exclude: tt.exclude, Latest: tt.latest})
			arts := listAll(t, s)
			doc := document(t, s)
			var got []string
			for i, l := range labels {
				if doc.Keys[i].URI != "" {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
			if len(arts) != len(tt.want) {
				t.Errorf("List returned %d artifacts, want %d", len(arts), len(tt.want))
			}
		})
	}
}

// The real libpak files name a dependency's arch only in its purl
// ("?arch=arm64"), or not at all (gradle: any platform). Target filters
// read the purl, and a dependency without an arch matches every target.
func TestTargetsRealLibpakFiles(t *testing.T) {
	tests := []struct {
		file     string
		targets  []string
		want     int
		wantPURL string // every selected dependency's purl has this qualifier
	}{
		{file: "bellsoft-liberica.toml", targets: []string{"linux/arm64"}, want: 16, wantPURL: "?arch=arm64"},
		{file: "bellsoft-liberica.toml", targets: []string{"linux/amd64"}, want: 16, wantPURL: "?arch=amd64"},
		{file: "bellsoft-liberica.toml", targets: []string{"linux/ppc64le", "linux/arm64"}, want: 28},
		{file: "gradle.toml", targets: []string{"linux/arm64"}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+strings.Join(tt.targets, ","), func(t *testing.T) {
			p, err := filepath.Abs(filepath.Join(fixtureDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s := newSource(&buildpack.SourceConfig{File: p, Include: &buildpack.Filter{Targets: tt.targets}})
			listAll(t, s)
			doc := document(t, s)
			f, err := bptoml.Parse(doc.Data)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, d := range f.Dependencies {
				if doc.Keys[d.Index].URI == "" {
					continue
				}
				n++
				if !strings.HasSuffix(d.PURL, tt.wantPURL) {
					t.Errorf("selected %s %s with purl %s, want one ending %q", d.ID, d.Version, d.PURL, tt.wantPURL)
				}
			}
			if n != tt.want {
				t.Errorf("selected %d dependencies, want %d", n, tt.want)
			}
		})
	}
}

// The real liberica file: latest = 1 keeps, per id, both arches of the
// newest version only.
func TestLatestRealFile(t *testing.T) {
	p := fixturePath(t, "bellsoft-liberica.toml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var raw rawFile
	if err := toml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	newest := map[string]*semver.Version{}
	for _, d := range raw.Metadata.Dependencies {
		v := semver.MustParse(d.Version)
		if n, ok := newest[d.ID]; !ok || v.GreaterThan(n) {
			newest[d.ID] = v
		}
	}
	var want []string
	for _, d := range raw.Metadata.Dependencies {
		if semver.MustParse(d.Version).Equal(newest[d.ID]) {
			want = append(want, d.ID+" "+d.Version+" "+d.URI)
		}
	}
	if len(want) < 2*len(newest) {
		t.Fatalf("independent selection kept %d dependencies for %d ids; the fixture should have two arches each", len(want), len(newest))
	}
	var got []string
	for _, a := range listAll(t, newSource(&buildpack.SourceConfig{File: p, Latest: 1})) {
		got = append(got, a.Name+" "+a.Version+" "+a.Origin)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("latest = 1 (-want +got):\n%s", diff)
	}
}

// recorder is an http.Handler that serves files and records the requests.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []string // "METHOD /path"
	auth []string // "user:password" of requests with basic auth
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	if u, p, ok := req.BasicAuth(); ok {
		r.auth = append(r.auth, u+":"+p)
	}
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *recorder) take() (reqs, auth []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reqs, auth = r.reqs, r.auth
	r.reqs, r.auth = nil, nil
	return reqs, auth
}

func serveDir(t *testing.T, files map[string][]byte) (*httptest.Server, *recorder) {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), b)
	}
	rec := &recorder{h: http.FileServer(http.Dir(dir))}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv, rec
}

type fetchFixture struct {
	src     *buildpack.Source
	arts    []providers.Artifact
	keys    map[int]buildpack.DepKeys
	rec     *recorder
	content map[int][]byte // by dependency index
}

// newFetchFixture writes a buildpack in root/bp whose dependencies are served
// over HTTP, sit under the buildpack directory, or try to leave it.
func newFetchFixture(t *testing.T) *fetchFixture {
	t.Helper()
	httpBody := bytes.Repeat([]byte("node tarball "), 1000)
	localBody := []byte("a file shipped with the buildpack\n")
	otherBody := []byte("another file shipped with the buildpack\n")
	escapeBody := []byte("a file outside the buildpack\n")
	srv, rec := serveDir(t, map[string][]byte{"dist/node.tgz": httpBody})

	root := t.TempDir()
	bpDir := filepath.Join(root, "bp")
	writeFile(t, filepath.Join(bpDir, "dependencies", "local.tgz"), localBody)
	writeFile(t, filepath.Join(bpDir, "dependencies", "other.tgz"), otherBody)
	writeFile(t, filepath.Join(root, "escape.tgz"), escapeBody)

	deps := []struct {
		uri string
		sum providers.Digest
	}{
		0: {srv.URL + "/dist/node.tgz", sha256Of(httpBody)},
		1: {"file:///dependencies/local.tgz", sha256Of(localBody)},
		2: {"file:///../escape.tgz", sha256Of(escapeBody)},
		3: {"file:///dependencies/../../escape.tgz", sha256Of(append(slices.Clone(escapeBody), 'x'))},
		4: {srv.URL + "/dist/missing.tgz", sha256Of([]byte("missing"))},
		5: {"file:///dependencies/missing.tgz", sha256Of([]byte("missing file"))},
		6: {"file:///sub/../dependencies/other.tgz", sha256Of(otherBody)},
	}
	var b strings.Builder
	for i, d := range deps {
		fmt.Fprintf(&b, "[[metadata.dependencies]]\nid = \"dep%d\"\nversion = \"1.0.%d\"\nchecksum = %q\nuri = %q\n\n", i, i, d.sum.String(), d.uri)
	}
	writeFile(t, filepath.Join(bpDir, "buildpack.toml"), []byte(b.String()))

	s := newSource(&buildpack.SourceConfig{File: filepath.Join(bpDir, "buildpack.toml")})
	arts := listAll(t, s)
	if len(arts) != len(deps) {
		t.Fatalf("List returned %d artifacts, want %d", len(arts), len(deps))
	}
	rec.take()
	return &fetchFixture{
		src: s, arts: arts, keys: document(t, s).Keys, rec: rec,
		content: map[int][]byte{0: httpBody, 1: localBody, 6: otherBody},
	}
}

func (f *fetchFixture) artifact(t *testing.T, dep int) providers.Artifact {
	t.Helper()
	a, ok := byKey(f.arts, f.keys[dep].URI)
	if !ok {
		t.Fatalf("dependency %d (key %q) is not listed", dep, f.keys[dep].URI)
	}
	return a
}

func TestFetch(t *testing.T) {
	f := newFetchFixture(t)
	tests := []struct {
		name    string
		dep     int
		key     string // overrides the dependency's key
		wantErr error  // a sentinel, or nil
		// wantErrText is part of the message of an error without a sentinel.
		wantErrText string
	}{
		{name: "http", dep: 0},
		{name: "file under the buildpack directory", dep: 1},
		{name: "file path cleaned inside the buildpack directory", dep: 6},
		{name: "file climbing out", dep: 2, wantErrText: "leaves the buildpack directory"},
		{name: "file climbing out after a step down", dep: 3, wantErrText: "leaves the buildpack directory"},
		{name: "http 404", dep: 4, wantErr: providers.ErrNotFound},
		{name: "missing file", dep: 5, wantErr: providers.ErrNotFound},
		{name: "unknown key", key: "nope/1.0.0/" + sumA + "/nope.tgz", wantErr: providers.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a providers.Artifact
			if tt.key != "" {
				a = providers.Artifact{Key: tt.key, Size: -1}
			} else {
				a = f.artifact(t, tt.dep)
			}
			got, err := fetchAll(t, f.src, a)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Fetch error = %v, want %v", err, tt.wantErr)
				}
			case tt.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("Fetch error = %v (read %q), want one saying %q", err, got, tt.wantErrText)
				}
				if errors.Is(err, providers.ErrNotFound) {
					t.Errorf("Fetch error = %v: a refused path is not a missing one", err)
				}
			default:
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if !bytes.Equal(got, f.content[tt.dep]) {
					t.Errorf("Fetch returned %d bytes, want %d (%q…)", len(got), len(f.content[tt.dep]), f.content[tt.dep][:10])
				}
				if d := sha256Of(got); !a.Digests.Equal(providers.NewDigests(d)) {
					t.Errorf("fetched bytes have %s, the listing declares %s", d, a.Digests.Primary())
				}
			}
			if err != nil {
				var oe *providers.OpError
				if !errors.As(err, &oe) || oe.Op != "fetch" || oe.Side != providers.SideSource || oe.Provider != "buildpack.test" || oe.Key != a.Key {
					t.Errorf("Fetch error = %#v, want an *OpError for fetch of %q on the source side", err, a.Key)
				}
			}
		})
	}
}

func TestSize(t *testing.T) {
	f := newFetchFixture(t)
	tests := []struct {
		name        string
		dep         int
		key         string
		want        int64
		wantErr     error
		wantErrText string
		wantReqs    []string
	}{
		{name: "http HEAD", dep: 0, want: int64(len(f.content[0])), wantReqs: []string{"HEAD /dist/node.tgz"}},
		{name: "file", dep: 1, want: int64(len(f.content[1]))},
		{name: "http 404", dep: 4, want: -1, wantErr: providers.ErrNotFound, wantReqs: []string{"HEAD /dist/missing.tgz"}},
		{name: "missing file", dep: 5, want: -1, wantErr: providers.ErrNotFound},
		{name: "file climbing out", dep: 2, want: -1, wantErrText: "leaves the buildpack directory"},
		{name: "unknown key", key: "nope/1/" + sumA + "/x", want: -1, wantErr: providers.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := providers.Artifact{Key: tt.key, Size: -1}
			if tt.key == "" {
				a = f.artifact(t, tt.dep)
			}
			got, err := f.src.Size(context.Background(), a)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Size error = %v, want %v", err, tt.wantErr)
				}
			case tt.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Errorf("Size error = %v, want one saying %q", err, tt.wantErrText)
				}
			case err != nil:
				t.Errorf("Size: %v", err)
			}
			if got != tt.want {
				t.Errorf("Size = %d, want %d", got, tt.want)
			}
			reqs, _ := f.rec.take()
			if diff := cmp.Diff(tt.wantReqs, reqs); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

// After an in-place rewrite the file names the mirror, and the plan carries
// the upstream location ferry recorded as the artifact's Origin.
func TestFetchOrigin(t *testing.T) {
	upstreamBody, mirrorBody := []byte("bytes from upstream"), []byte("bytes from the mirror")
	upstream, upRec := serveDir(t, map[string][]byte{"dist/a.tgz": upstreamBody})
	mirror, mirRec := serveDir(t, map[string][]byte{"deps/a.tgz": mirrorBody})
	up := upstream.URL + "/dist/a.tgz"
	withCreds := strings.Replace(up, "http://", "http://user:pw@", 1)

	tests := []struct {
		name string
		// listed is the uri in the file; "" means the mirror's plain URL.
		listed       string
		origin       string
		fromUpstream bool
		wantAuth     []string // basic auth the server saw
	}{
		{name: "no origin: the listed uri", origin: ""},
		{name: "origin is the listed uri", origin: mirror.URL + "/deps/a.tgz"},
		{name: "plain http upstream", origin: up, fromUpstream: true},
		{name: "origin with credentials is not used", origin: withCreds},
		{name: "origin with redacted credentials is not used", origin: strings.Replace(up, "http://", "http://xxxxx@", 1)},
		{name: "origin with a query is not used", origin: up + "?token=xxxxx"},
		{name: "origin with a harmless query is not used", origin: up + "?v=1"},
		{name: "file origin is not used", origin: "file:///dist/a.tgz"},
		{name: "ftp origin is not used", origin: "ftp://" + strings.TrimPrefix(upstream.URL, "http://") + "/dist/a.tgz"},
		{name: "unparsable origin is not used", origin: "http://[::1"},
		{
			// List shows the uri redacted; handing that back fetches the real
			// uri with its credentials.
			name:     "listed uri with credentials, origin as listed",
			listed:   strings.Replace(mirror.URL, "http://", "http://mirroruser:s3cret@", 1) + "/deps/a.tgz",
			origin:   strings.Replace(mirror.URL, "http://", "http://xxxxx@", 1) + "/deps/a.tgz",
			wantAuth: []string{"mirroruser:s3cret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listed := tt.listed
			if listed == "" {
				listed = mirror.URL + "/deps/a.tgz"
			}
			bp := fmt.Sprintf("[[metadata.dependencies]]\nid = \"a\"\nversion = \"1.0.0\"\nchecksum = %q\nuri = %q\n", sha256Of(upstreamBody).String(), listed)
			s := newSource(&buildpack.SourceConfig{File: writeBuildpack(t, bp)})
			arts := listAll(t, s)
			if len(arts) != 1 {
				t.Fatalf("List returned %d artifacts, want 1", len(arts))
			}
			if strings.Contains(arts[0].Origin, "s3cret") {
				t.Errorf("listed Origin %q shows the password", arts[0].Origin)
			}
			upRec.take()
			mirRec.take()

			a := arts[0]
			a.Origin = tt.origin
			got, err := fetchAll(t, s, a)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			wantBody, wantRec, otherRec := mirrorBody, mirRec, upRec
			if tt.fromUpstream {
				wantBody, wantRec, otherRec = upstreamBody, upRec, mirRec
			}
			if !bytes.Equal(got, wantBody) {
				t.Errorf("Fetch returned %q, want %q", got, wantBody)
			}
			if n, err := s.Size(context.Background(), a); err != nil || n != int64(len(wantBody)) {
				t.Errorf("Size = %d, %v; want %d from the same place", n, err, len(wantBody))
			}
			reqs, auth := wantRec.take()
			wantPath := "/deps/a.tgz"
			if tt.fromUpstream {
				wantPath = "/dist/a.tgz"
			}
			if diff := cmp.Diff([]string{"GET " + wantPath, "HEAD " + wantPath}, reqs); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			var wantAuth []string
			for _, a := range tt.wantAuth {
				wantAuth = append(wantAuth, a, a)
			}
			if diff := cmp.Diff(wantAuth, auth); diff != "" {
				t.Errorf("basic auth (-want +got):\n%s", diff)
			}
			if reqs, _ := otherRec.take(); len(reqs) != 0 {
				t.Errorf("the other server got %q", reqs)
			}
		})
	}
}

func TestListErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, []byte("[[metadata.dependencies]]\nid = \"x\"\nversion = \"1\"\nuri = \n"))
	tests := []struct {
		name    string
		file    string
		wantErr error
	}{
		{name: "missing file", file: filepath.Join(dir, "missing.toml"), wantErr: providers.ErrNotFound},
		{name: "invalid toml", file: bad},
		{name: "a directory", file: dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(&buildpack.SourceConfig{File: tt.file})
			err := s.List(context.Background(), func(providers.Artifact) error {
				t.Error("fn called")
				return nil
			})
			if err == nil {
				t.Fatal("List succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("List error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && errors.Is(err, providers.ErrNotFound) {
				t.Errorf("List error = %v, not a missing file", err)
			}
			var oe *providers.OpError
			if !errors.As(err, &oe) || oe.Op != "list" || oe.Provider != "buildpack.test" {
				t.Errorf("List error = %#v, want an *OpError for list", err)
			}
			if _, err := s.Document(); err == nil {
				t.Error("Document succeeded")
			}
			if n := s.Notes(); n != nil {
				t.Errorf("Notes() = %q, want nil", n)
			}
			if _, err := s.Fetch(context.Background(), providers.Artifact{Key: "x"}); err == nil {
				t.Error("Fetch succeeded")
			}
		})
	}
}

func TestListStops(t *testing.T) {
	p := fixturePath(t, "node-engine.toml")
	t.Run("fn error", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := newSource(&buildpack.SourceConfig{File: p}).List(context.Background(), func(providers.Artifact) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List = %v after %d calls, want the fn's error after 1", err, calls)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		err := newSource(&buildpack.SourceConfig{File: p}).List(ctx, func(providers.Artifact) error {
			calls++
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 0 {
			t.Errorf("List = %v after %d calls, want context.Canceled after 0", err, calls)
		}
	})
}

// The file is read once per Source: a plan and the apply after it see the
// same document even when the file changes in between.
func TestDocumentReadOnce(t *testing.T) {
	bp := writeBuildpack(t, "[[metadata.dependencies]]\nid = \"a\"\nversion = \"1\"\nchecksum = \"sha256:"+sumA+"\"\nuri = \"https://example.org/a\"\n")
	s := newSource(&buildpack.SourceConfig{File: bp})
	first := listAll(t, s)
	writeFile(t, bp, []byte("[[metadata.dependencies]]\nid = \"b\"\nversion = \"1\"\nchecksum = \"sha256:"+sumB+"\"\nuri = \"https://example.org/b\"\n"))
	if diff := cmp.Diff(first, listAll(t, s)); diff != "" {
		t.Errorf("second List differs (-first +second):\n%s", diff)
	}
	if got, want := s.Describe(), "buildpack "+bp; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

// layout = "dependency_mirror" keys each file HOST/PATH of its uri, where
// BP_DEPENDENCY_MIRROR=<base>/{originalHost} looks for it.
func TestDependencyMirrorLayoutRealFiles(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		wantCount int
	}{
		{name: "node-engine", file: "node-engine.toml", wantCount: 20},
		{name: "bellsoft-liberica", file: "bellsoft-liberica.toml", wantCount: 54},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fixturePath(t, tt.file)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var raw rawFile
			if err := toml.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			hostPath := func(raw string) string {
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				return u.Hostname() + u.Path
			}
			// Every URL is its own object at HOST/PATH, even when two URLs
			// serve the same bytes. A URL named twice with one checksum is
			// one object; named with two checksums it cannot be laid out and
			// is refused with a note. (In liberica the ppc64le entries give
			// the shared source tarball URL their binary's checksum.)
			want := map[string]providers.Digests{}
			wantKeys := map[int]buildpack.DepKeys{}
			conflicts := 0
			key := func(uri string, sum providers.Digest) string {
				k := hostPath(uri)
				if prev, ok := want[k]; ok {
					if prev.Primary() == sum {
						return k
					}
					conflicts++
					return ""
				}
				want[k] = providers.NewDigests(sum)
				return k
			}
			for i, d := range raw.Metadata.Dependencies {
				uriSum, srcSum := d.checksums(t)
				wantKeys[i] = buildpack.DepKeys{URI: key(d.URI, uriSum), Source: key(d.Source, srcSum)}
			}
			if len(want) != tt.wantCount {
				t.Fatalf("independent count = %d, the table says %d", len(want), tt.wantCount)
			}
			s := newSource(&buildpack.SourceConfig{File: p, Sources: true, Layout: buildpack.LayoutDependencyMirror})
			got := map[string]providers.Digests{}
			for _, a := range listAll(t, s) {
				got[a.Key] = a.Digests
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("keys and digests (-want +got):\n%s", diff)
			}
			doc := document(t, s)
			if diff := cmp.Diff(wantKeys, doc.Keys); diff != "" {
				t.Errorf("Document().Keys (-want +got):\n%s", diff)
			}
			if doc.Layout != buildpack.LayoutDependencyMirror {
				t.Errorf("Document().Layout = %q", doc.Layout)
			}
			if n := s.Notes(); len(n) != conflicts {
				t.Errorf("Notes() = %q, want %d (one per URL named with a second checksum)", n, conflicts)
			}
		})
	}
}

func TestDependencyMirrorLayout(t *testing.T) {
	dep := func(id, sum, uri string) string {
		return fmt.Sprintf("[[metadata.dependencies]]\nid = %q\nversion = \"1.0.0\"\nchecksum = \"sha256:%s\"\nuri = %q\n\n", id, sum, uri)
	}
	tests := []struct {
		name     string
		toml     string
		wantKeys []string
		// wantNotes name the dependencies that are not mirrored, in order.
		wantNotes []string
	}{
		{name: "query dropped, port dropped", toml: dep("a", sumA, "https://example.org:8443/dl/a.tgz?raw=1"),
			wantKeys: []string{"example.org/dl/a.tgz"}},
		{name: "file uri cannot be laid out", toml: dep("a", sumA, "https://example.org/a.tgz") + dep("b", sumB, "file:///dependencies/b.tgz"),
			wantKeys: []string{"example.org/a.tgz"}, wantNotes: []string{"b 1.0.0"}},
		{name: "one url, two checksums: the second is refused", toml: dep("a", sumA, "https://example.org/x.tgz") + dep("b", sumB, "https://example.org/x.tgz"),
			wantKeys: []string{"example.org/x.tgz"}, wantNotes: []string{"b 1.0.0"}},
		// Consumers compute the path from each uri, so each must exist.
		{name: "one checksum, two urls: two objects", toml: dep("a", sumA, "https://example.org/x.tgz") + dep("b", sumA, "https://example.com/y.tgz"),
			wantKeys: []string{"example.com/y.tgz", "example.org/x.tgz"}},
		{name: "dot-dot path", toml: dep("a", sumA, "https://example.org/a/../../etc/passwd"), wantNotes: []string{"a 1.0.0"}},
		{name: "no path", toml: dep("a", sumA, "https://example.org"), wantNotes: []string{"a 1.0.0"}},
		// A hostile host is one dependency not mirrored, never the whole
		// plan failing (or a key outside the destination).
		{name: "dot-dot host", toml: dep("a", sumA, "https://../etc/passwd") + dep("b", sumB, "https://example.org/b.tgz"),
			wantKeys: []string{"example.org/b.tgz"}, wantNotes: []string{`a 1.0.0 (line 1) cannot be laid out for BP_DEPENDENCY_MIRROR: its host ".." is neither`}},
		{name: "ferry temp host", toml: dep("a", sumA, "https://.ferry-tmp/x.tgz"), wantNotes: []string{`its host ".ferry-tmp" is neither`}},
		{name: "dot host", toml: dep("a", sumA, "http://./x.tgz"), wantNotes: []string{`its host "." is neither`}},
		{name: "empty label host", toml: dep("a", sumA, "http://a..b/x.tgz"), wantNotes: []string{`its host "a..b" is neither`}},
		{name: "empty host", toml: dep("a", sumA, "http:///x.tgz"), wantNotes: []string{"not an http(s) URL with a host"}},
		{name: "escaped dot-dot host", toml: dep("a", sumA, "http://%2e%2e/x.tgz"), wantNotes: []string{"not an http(s) URL with a host"}},
		{name: "escaped slash in host", toml: dep("a", sumA, "http://a%2fb/x.tgz"), wantNotes: []string{"not an http(s) URL with a host"}},
		{name: "ip hosts are fine", toml: dep("a", sumA, "http://10.0.0.1/a.tgz") + dep("b", sumB, "http://[fd00::1]:8080/b.tgz"),
			wantKeys: []string{"10.0.0.1/a.tgz", "fd00::1/b.tgz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(&buildpack.SourceConfig{File: writeBuildpack(t, tt.toml), Layout: buildpack.LayoutDependencyMirror})
			var got []string
			for _, a := range listAll(t, s) {
				got = append(got, a.Key)
			}
			if diff := cmp.Diff(tt.wantKeys, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			notes := s.Notes()
			if len(notes) != len(tt.wantNotes) {
				t.Fatalf("Notes() = %q, want %d", notes, len(tt.wantNotes))
			}
			for i, w := range tt.wantNotes {
				if !strings.Contains(notes[i], w) {
					t.Errorf("note %d = %q, want it to name %q", i, notes[i], w)
				}
			}
		})
	}
}

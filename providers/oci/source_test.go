package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// allManifestTypes is the Accept header for raw manifest GETs.
const allManifestTypes = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// fixtureRepo is a plain oras-go client for pushing fixtures.
func fixtureRepo(t *testing.T, reg *testenv.Registry, repo string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	if reg.Username != "" {
		r.Client = &auth.Client{
			Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: reg.Username, Password: reg.Password}),
			Cache:      auth.NewCache(),
		}
	}
	return r
}

func pushBytes(t *testing.T, r *remote.Repository, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	desc := content.NewDescriptorFromBytes(mediaType, b)
	if err := r.Push(context.Background(), desc, bytes.NewReader(b)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		t.Fatalf("pushing %s: %v", desc.Digest, err)
	}
	return desc
}

// pushImage pushes an image manifest with a config and two layers (the
// first shared by every image) and returns it. The manifest is indented
// unusually, so a copier that re-serialised it would change its bytes.
func pushImage(t *testing.T, r *remote.Repository, seed uint64) (ocispec.Descriptor, []byte) {
	t.Helper()
	cfg := pushBytes(t, r, ocispec.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","seed":%d}`, seed))
	shared := pushBytes(t, r, ocispec.MediaTypeImageLayer, providertest.Content(1000, 3000))
	own := pushBytes(t, r, ocispec.MediaTypeImageLayer, providertest.Content(seed, 5000+int(seed)))
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfg,
		Layers:    []ocispec.Descriptor{shared, own},
	}
	b, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	return pushBytes(t, r, ocispec.MediaTypeImageManifest, b), b
}

// pushIndex pushes two images and an image index referencing them.
func pushIndex(t *testing.T, r *remote.Repository, seed uint64) (ocispec.Descriptor, []byte) {
	t.Helper()
	a, _ := pushImage(t, r, seed)
	b, _ := pushImage(t, r, seed+1)
	a.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
	b.Platform = &ocispec.Platform{Architecture: "arm64", OS: "linux"}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{a, b},
	}
	body, err := json.MarshalIndent(idx, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return pushBytes(t, r, ocispec.MediaTypeImageIndex, body), body
}

func tagAs(t *testing.T, r *remote.Repository, desc ocispec.Descriptor, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		if err := r.Tag(context.Background(), desc, tag); err != nil {
			t.Fatalf("tagging %s as %s: %v", desc.Digest, tag, err)
		}
	}
}

// rawGet fetches a manifest or blob as a consumer would.
func rawGet(t *testing.T, reg *testenv.Registry, repo, kind, ref string) (body []byte, dgst string, status int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, reg.URL+"/v2/"+repo+"/"+kind+"/"+ref, nil)
	req.Header.Set("Accept", allManifestTypes)
	if reg.Username != "" {
		req.SetBasicAuth(reg.Username, reg.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	return body, resp.Header.Get("Docker-Content-Digest"), resp.StatusCode
}

func newSource(t *testing.T, reg *testenv.Registry, repo string, tags oci.TagFilter, opts oci.Options) *oci.Source {
	t.Helper()
	cfg := &oci.SourceConfig{
		DestinationConfig: oci.DestinationConfig{Registry: reg.Host, Repository: repo, PlainHTTP: true, Username: reg.Username, Password: reg.Password},
		Tags:              tags,
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	s, err := oci.NewSourceWithOptions("oci.upstream", cfg, provreg.Env{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(t *testing.T, s *oci.Source) []providers.Artifact {
	t.Helper()
	var out []providers.Artifact
	if err := s.List(t.Context(), func(a providers.Artifact) error { out = append(out, a); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	return out
}

func listOne(t *testing.T, s *oci.Source, tag string) providers.Artifact {
	t.Helper()
	for _, a := range list(t, s) {
		if a.Key == tag {
			return a
		}
	}
	t.Fatalf("List did not report tag %s", tag)
	return providers.Artifact{}
}

func sha(desc ocispec.Descriptor) providers.Digest {
	return providers.Digest{Algorithm: providers.SHA256, Hex: desc.Digest.Encoded()}
}

func TestSourceListSelection(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	repo := "upstream/app"
	r := fixtureRepo(t, reg, repo)
	imgA, _ := pushImage(t, r, 1)
	imgB, _ := pushImage(t, r, 2)
	idx, _ := pushIndex(t, r, 10)
	tagAs(t, r, imgA, "1.0.0", "v2.1.0", "1.2.0-rc.1")
	tagAs(t, r, imgB, "1.1.0", "nightly-1", "nightly-2")
	tagAs(t, r, idx, "2.0.0", "latest")
	digestOf := map[string]ocispec.Descriptor{
		"1.0.0": imgA, "v2.1.0": imgA, "1.2.0-rc.1": imgA,
		"1.1.0": imgB, "nightly-1": imgB, "nightly-2": imgB,
		"2.0.0": idx, "latest": idx,
	}

	tests := []struct {
		name string
		f    oci.TagFilter
		want []string
	}{
		{"exact", oci.TagFilter{Exact: []string{"1.0.0", "latest", "not-there"}}, []string{"1.0.0", "latest"}},
		{"semver range", oci.TagFilter{Semver: ">= 1.1, < 2"}, []string{"1.1.0"}},
		{"semver with v prefix", oci.TagFilter{Semver: ">= 2"}, []string{"2.0.0", "v2.1.0"}},
		{"semver prerelease asked for", oci.TagFilter{Semver: ">= 1.2.0-0, < 1.3"}, []string{"1.2.0-rc.1"}},
		{"regex", oci.TagFilter{Regex: "^nightly-"}, []string{"nightly-1", "nightly-2"}},
		{"regex unanchored as written", oci.TagFilter{Regex: "1"}, []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "nightly-1", "v2.1.0"}},
		{"semver latest", oci.TagFilter{Semver: ">= 1", Latest: 2}, []string{"2.0.0", "v2.1.0"}},
		{"regex latest", oci.TagFilter{Regex: "^nightly-", Latest: 1}, []string{"nightly-2"}},
		{"semver and regex intersect", oci.TagFilter{Semver: ">= 1.1", Regex: `^\d`}, []string{"1.1.0", "2.0.0"}},
		{"exact union latest", oci.TagFilter{Exact: []string{"latest", "1.0.0"}, Semver: "< 2", Latest: 1}, []string{"1.0.0", "1.1.0", "latest"}},
		{"no match", oci.TagFilter{Regex: "^release-"}, nil},
		{"no match exact", oci.TagFilter{Exact: []string{"9.9.9"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(t, reg, repo, tt.f, oci.Options{})
			got := list(t, s)
			var keys []string
			for _, a := range got {
				keys = append(keys, a.Key)
				desc := digestOf[a.Key]
				if a.Version != a.Key || a.Name != repo || a.Size != -1 ||
					!a.Digests.Equal(providers.NewDigests(sha(desc))) ||
					a.Origin != "oci://"+reg.Host+"/"+repo+":"+a.Key {
					t.Errorf("artifact %+v; want digest %s", a, desc.Digest)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tt.want) {
				t.Errorf("selected %q, want %q", keys, tt.want)
			}
		})
	}
}

func TestSourceMissingRepository(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newSource(t, reg, "never/pushed", oci.TagFilter{Regex: "."}, oci.Options{})
	err := s.List(t.Context(), func(providers.Artifact) error { return nil })
	if !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "never/pushed") || !strings.Contains(err.Error(), reg.Host) {
		t.Fatalf("List of a missing repository: %v, want ErrNotFound naming the repository and registry", err)
	}
	var op *providers.OpError
	if !errors.As(err, &op) || op.Side != providers.SideSource || op.Op != "list" {
		t.Errorf("not a source list OpError: %#v", err)
	}
}

func TestSourceFetchUnsupportedAndDescribe(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newSource(t, reg, "a/b", oci.TagFilter{Exact: []string{"x"}}, oci.Options{})
	if _, err := s.Fetch(t.Context(), providers.Artifact{Key: "x"}); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Fetch: %v, want ErrUnsupported", err)
	}
	if got, want := s.Describe(), "oci source "+reg.Host+"/a/b"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	// CopyTo another kind of destination.
	if _, err := s.CopyTo(t.Context(), providers.Artifact{Key: "x"}, otherDest{}); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("CopyTo a non-oci destination: %v, want ErrUnsupported", err)
	}
	if _, err := oci.NewSource("oci.x", &oci.SourceConfig{DestinationConfig: oci.DestinationConfig{Registry: reg.Host, Repository: "a"}}, provreg.Env{}); err == nil {
		t.Error("NewSource without any tag selection succeeded")
	}
}

type otherDest struct{ providers.Destination }

// recorder records "METHOD PATH?QUERY" of every request.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func count(reqs []string, pred func(method, path, query string) bool) int {
	n := 0
	for _, r := range reqs {
		method, rest, _ := strings.Cut(r, " ")
		path, query, _ := strings.Cut(rest, "?")
		if pred(method, path, query) {
			n++
		}
	}
	return n
}

func blobUploads(method, path, _ string) bool {
	return (method == http.MethodPut || method == http.MethodPatch || method == http.MethodPost) && strings.Contains(path, "/blobs/uploads/")
}

// checkCopied compares the manifest under tag in both repositories byte for
// byte, recursively through indexes, and checks every blob is in dst.
func checkCopied(t *testing.T, src *testenv.Registry, srcRepo string, dst *testenv.Registry, dstRepo, ref string) {
	t.Helper()
	want, wantDigest, status := rawGet(t, src, srcRepo, "manifests", ref)
	if status != http.StatusOK {
		t.Fatalf("source manifest %s: %d", ref, status)
	}
	got, gotDigest, status := rawGet(t, dst, dstRepo, "manifests", ref)
	if status != http.StatusOK {
		t.Fatalf("destination manifest %s: %d %s", ref, status, got)
	}
	if !bytes.Equal(got, want) || gotDigest != wantDigest {
		t.Fatalf("destination manifest %s differs:\n%s (%s)\nwant\n%s (%s)", ref, got, gotDigest, want, wantDigest)
	}
	var m struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	for _, child := range m.Manifests {
		checkCopied(t, src, srcRepo, dst, dstRepo, child.Digest.String())
	}
	blobs := m.Layers
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	for _, b := range blobs {
		body, _, status := rawGet(t, dst, dstRepo, "blobs", b.Digest.String())
		if status != http.StatusOK || content.NewDescriptorFromBytes("", body).Digest != b.Digest {
			t.Errorf("blob %s in the destination: %d, %d bytes", b.Digest, status, len(body))
		}
	}
}

func TestSourceCopyTo(t *testing.T) {
	regA := testenv.StartRegistry(t, testenv.RegistryOptions{})
	regB := testenv.StartRegistry(t, testenv.RegistryOptions{})
	const srcRepo = "upstream/app"
	r := fixtureRepo(t, regA, srcRepo)
	img, _ := pushImage(t, r, 1)
	idx, _ := pushIndex(t, r, 20)
	tagAs(t, r, img, "1.0.0")
	tagAs(t, r, idx, "2.0.0")
	src := newSource(t, regA, srcRepo, oci.TagFilter{Semver: ">= 1"}, oci.Options{})

	for _, tc := range []struct {
		tag  string
		root ocispec.Descriptor
	}{{"1.0.0", img}, {"2.0.0", idx}} {
		t.Run(tc.tag, func(t *testing.T) {
			rec := &recorder{}
			dstRepo := freshRepo()
			dst := newStore(t, regB, oci.DestinationConfig{Repository: dstRepo}, oci.Options{Transport: rec})
			a := listOne(t, src, tc.tag)

			got, err := src.CopyTo(t.Context(), a, dst)
			if err != nil {
				t.Fatalf("CopyTo: %v", err)
			}
			want := providers.Artifact{Key: tc.tag, Size: tc.root.Size, Digests: providers.NewDigests(sha(tc.root))}
			if got.Key != want.Key || got.Size != want.Size || !got.Digests.Equal(want.Digests) {
				t.Errorf("CopyTo = %+v, want %+v", got, want)
			}
			if !got.Digests.Matches(a.Digests) {
				t.Errorf("CopyTo digests %v do not match the planned %v", got.Digests, a.Digests)
			}
			checkCopied(t, regA, srcRepo, regB, dstRepo, tc.tag)
			first := rec.take()
			if count(first, blobUploads) == 0 {
				t.Errorf("first copy uploaded no blobs: %q", first)
			}

			st, err := dst.Stat(t.Context(), tc.tag)
			if err != nil || st.Size != tc.root.Size || !st.Digests.Equal(want.Digests) {
				t.Errorf("Stat = %+v, %v; want %+v", st, err, want)
			}
			rec.take()

			// Again: nothing to upload.
			again, err := src.CopyTo(t.Context(), a, dst)
			if err != nil || !again.Digests.Equal(want.Digests) {
				t.Fatalf("second CopyTo = %+v, %v", again, err)
			}
			second := rec.take()
			if n := count(second, blobUploads); n != 0 {
				t.Errorf("second CopyTo sent %d blob upload requests: %q", n, second)
			}
			if n := count(second, func(m, p, _ string) bool { return strings.Contains(p, "/blobs/") }); n != 0 {
				t.Errorf("second CopyTo sent %d blob requests (the root exists: nothing below it needs checking): %q", n, second)
			}
			t.Logf("second copy: %q", second)

			if err := dst.Delete(t.Context(), tc.tag); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := dst.Stat(t.Context(), tc.tag); !errors.Is(err, providers.ErrNotFound) {
				t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
			}
			if _, _, status := rawGet(t, regB, dstRepo, "manifests", tc.tag); status != http.StatusNotFound {
				t.Errorf("tag after Delete: %d, want 404", status)
			}
		})
	}
}

func TestSourceCopyToSameRegistryMounts(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	const srcRepo = "upstream/app"
	r := fixtureRepo(t, reg, srcRepo)
	idx, _ := pushIndex(t, r, 30)
	tagAs(t, r, idx, "1.0.0")
	src := newSource(t, reg, srcRepo, oci.TagFilter{Exact: []string{"1.0.0"}}, oci.Options{})
	rec := &recorder{}
	dstRepo := freshRepo()
	dst := newStore(t, reg, oci.DestinationConfig{Repository: dstRepo, Username: reg.Username, Password: reg.Password}, oci.Options{Transport: rec})

	if _, err := src.CopyTo(t.Context(), listOne(t, src, "1.0.0"), dst); err != nil {
		t.Fatal(err)
	}
	checkCopied(t, reg, srcRepo, reg, dstRepo, "1.0.0")
	reqs := rec.take()
	mounts := count(reqs, func(m, p, q string) bool {
		return m == http.MethodPost && strings.Contains(p, "/blobs/uploads/") && query(q).Get("mount") != "" && query(q).Get("from") == srcRepo
	})
	puts := count(reqs, func(m, p, _ string) bool {
		return (m == http.MethodPut || m == http.MethodPatch) && strings.Contains(p, "/blobs/uploads/")
	})
	// Two images: two configs, one shared layer, two own layers.
	if mounts != 5 || puts != 0 {
		t.Errorf("%d mount requests and %d blob PUT/PATCHes, want 5 and 0: %q", mounts, puts, reqs)
	}
}

func TestSourceAuth(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	plain := testenv.StartRegistry(t, testenv.RegistryOptions{})
	const srcRepo = "private/app"
	r := fixtureRepo(t, reg, srcRepo)
	img, _ := pushImage(t, r, 3)
	tagAs(t, r, img, "1.0.0")

	src := newSource(t, reg, srcRepo, oci.TagFilter{Exact: []string{"1.0.0"}}, oci.Options{})
	a := listOne(t, src, "1.0.0")
	dstRepo := freshRepo()
	if _, err := src.CopyTo(t.Context(), a, newStore(t, plain, oci.DestinationConfig{Repository: dstRepo}, oci.Options{})); err != nil {
		t.Fatalf("CopyTo from an htpasswd registry: %v", err)
	}
	checkCopied(t, reg, srcRepo, plain, dstRepo, "1.0.0")

	const wrong = "n0t-the-passw0rd"
	bad, err := oci.NewSourceWithOptions("oci.upstream", &oci.SourceConfig{
		DestinationConfig: oci.DestinationConfig{Registry: reg.Host, Repository: srcRepo, PlainHTTP: true, Username: reg.Username, Password: wrong},
		Tags:              oci.TagFilter{Regex: "."},
	}, provreg.Env{}, oci.Options{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.List(t.Context(), func(providers.Artifact) error { return nil })
	if err == nil {
		t.Fatal("List with a wrong password succeeded")
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.Contains(msg, "authentication failed") || !strings.Contains(msg, reg.Host) || !strings.Contains(msg, "source") {
		t.Errorf("error does not say authentication failed for the source's registry %s: %s", reg.Host, msg)
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, reg.Password) || errors.Is(err, providers.ErrNotFound) {
		t.Errorf("error quotes a password or claims not found: %s", msg)
	}
	_, err = bad.CopyTo(t.Context(), a, newStore(t, plain, oci.DestinationConfig{}, oci.Options{}))
	if err == nil || strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), reg.Host) {
		t.Errorf("CopyTo with a wrong source password: %v", err)
	}
}

// The tag moves after planning: CopyTo copies what was planned.
func TestSourceCopiesPlannedDigest(t *testing.T) {
	regA := testenv.StartRegistry(t, testenv.RegistryOptions{})
	regB := testenv.StartRegistry(t, testenv.RegistryOptions{})
	const srcRepo = "upstream/app"
	r := fixtureRepo(t, regA, srcRepo)
	planned, plannedBody := pushImage(t, r, 4)
	tagAs(t, r, planned, "latest")
	src := newSource(t, regA, srcRepo, oci.TagFilter{Exact: []string{"latest"}}, oci.Options{})
	a := listOne(t, src, "latest")

	moved, _ := pushIndex(t, r, 40)
	tagAs(t, r, moved, "latest")

	dstRepo := freshRepo()
	dst := newStore(t, regB, oci.DestinationConfig{Repository: dstRepo}, oci.Options{})
	got, err := src.CopyTo(t.Context(), a, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Digests.Equal(providers.NewDigests(sha(planned))) {
		t.Errorf("CopyTo reports %v, want the planned %s", got.Digests, planned.Digest)
	}
	body, d, status := rawGet(t, regB, dstRepo, "manifests", "latest")
	if status != http.StatusOK || d != planned.Digest.String() || !bytes.Equal(body, plannedBody) {
		t.Errorf("destination latest = %s (%d), want the planned %s", d, status, planned.Digest)
	}

	// A planned manifest that is gone from the source is not found.
	gone := a
	gone.Digests = providers.NewDigests(providertest.SHA256([]byte("no such manifest")))
	if _, err := src.CopyTo(t.Context(), gone, dst); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("CopyTo of a missing manifest: %v, want ErrNotFound", err)
	}
}

// Stat and Delete of graphs apply only to keys used verbatim as tags; a
// ferry file artifact of another key under such a tag is still refused.
func TestStoreGraphAndFileKeys(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	repo := freshRepo()
	s := newStore(t, reg, oci.DestinationConfig{Repository: repo}, oci.Options{})
	content := []byte("a file")
	mustPut(t, s, artifact("a.bin", content), content, providers.PutOptions{})
	body, _, _ := rawGet(t, reg, repo, "manifests", "a.bin")
	r := fixtureRepo(t, reg, repo)
	if err := r.PushReference(t.Context(), content2desc(body), bytes.NewReader(body), "b.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "b.bin"); !errors.Is(err, oci.ErrNotFerryArtifact) {
		t.Errorf("Stat of another key's file artifact under a verbatim tag: %v, want ErrNotFerryArtifact", err)
	}
	if err := s.Delete(t.Context(), "b.bin"); !errors.Is(err, oci.ErrNotFerryArtifact) {
		t.Errorf("Delete: %v, want ErrNotFerryArtifact", err)
	}
	// An image under a verbatim key is reported as a graph.
	img, _ := pushImage(t, r, 5)
	tagAs(t, r, img, "v1")
	got, err := s.Stat(t.Context(), "v1")
	if err != nil || got.Size != img.Size || !got.Digests.Equal(providers.NewDigests(sha(img))) {
		t.Errorf("Stat(v1) = %+v, %v; want the image manifest %s", got, err, img.Digest)
	}
	// The file still stats as a file.
	if got, err := s.Stat(t.Context(), "a.bin"); err != nil || got.Size != int64(len(content)) {
		t.Errorf("Stat(a.bin) = %+v, %v", got, err)
	}
	if err := s.Delete(t.Context(), "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "v1"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat after Delete: %v", err)
	}
}

func query(q string) url.Values {
	v, _ := url.ParseQuery(q)
	return v
}

func content2desc(b []byte) ocispec.Descriptor {
	return content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, b)
}

// Concurrent copies of images sharing a layer into one destination (what
// apply does with several tags) all land complete.
func TestSourceConcurrentCopiesShareBlobs(t *testing.T) {
	regA := testenv.StartRegistry(t, testenv.RegistryOptions{})
	regB := testenv.StartRegistry(t, testenv.RegistryOptions{})
	const srcRepo = "upstream/app"
	r := fixtureRepo(t, regA, srcRepo)
	tags := []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"}
	for i, tag := range tags {
		img, _ := pushImage(t, r, uint64(50+i)) // every image has the same first layer
		tagAs(t, r, img, tag)
	}
	src := newSource(t, regA, srcRepo, oci.TagFilter{Regex: "."}, oci.Options{})
	arts := list(t, src)
	if len(arts) != len(tags) {
		t.Fatalf("listed %d tags, want %d", len(arts), len(tags))
	}
	dstRepo := freshRepo()
	dst := newStore(t, regB, oci.DestinationConfig{Repository: dstRepo}, oci.Options{})
	var wg sync.WaitGroup
	errs := make([]error, len(arts))
	for i, a := range arts {
		wg.Go(func() { _, errs[i] = src.CopyTo(t.Context(), a, dst) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CopyTo(%s): %v", arts[i].Key, err)
		}
	}
	for _, tag := range tags {
		checkCopied(t, regA, srcRepo, regB, dstRepo, tag)
	}
}

// tagPages is a registry whose tags/list pages each carry perPage new tags
// (and, with junk, two strings that are not tags) and link to the next
// page, for ever when last is 0, else up to page last.
func tagPages(t *testing.T, perPage, last int, junk bool) (host string, pages *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		n++
		page := n
		mu.Unlock()
		tags := []string{}
		for i := range perPage {
			tags = append(tags, fmt.Sprintf("1.%d.%d", page, i))
		}
		if junk {
			tags = append(tags, "../../etc", strings.Repeat("x", 200))
		}
		if last == 0 || page < last {
			w.Header().Set("Link", fmt.Sprintf(`</v2/app/tags/list?last=p%d>; rel="next"`, page))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "app", "tags": tags})
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

func TestSourceListEndlessTagPagination(t *testing.T) {
	tests := []struct {
		name      string
		perPage   int
		maxTags   int
		wantErr   string
		wantPages int
	}{
		{name: "pages of tags beyond max_tags", perPage: 10, maxTags: 95, wantErr: "more than max_tags = 95 tags", wantPages: 10},
		{name: "pages of tags beyond the default", perPage: 1000, wantErr: fmt.Sprintf("more than max_tags = %d tags", oci.DefaultMaxTags), wantPages: 101},
		{name: "empty pages for ever", perPage: 0, wantErr: "still links to another page after 10000 pages", wantPages: 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, pages := tagPages(t, tt.perPage, 0, false)
			s, err := oci.NewSourceWithOptions("oci.upstream", &oci.SourceConfig{
				DestinationConfig: oci.DestinationConfig{Registry: host, Repository: "app", PlainHTTP: true},
				Tags:              oci.TagFilter{Regex: "."},
				MaxTags:           tt.maxTags,
			}, provreg.Env{}, oci.Options{MaxRetries: 1})
			if err != nil {
				t.Fatal(err)
			}
			err = s.List(t.Context(), func(providers.Artifact) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("List error = %v, want one saying %q", err, tt.wantErr)
			}
			if *pages != tt.wantPages {
				t.Errorf("requested %d pages, want %d", *pages, tt.wantPages)
			}
		})
	}
}

// Strings that are not OCI tags are never kept (a 4 MiB "tag" per page
// would defeat max_tags) and the plan says how many were ignored.
func TestSourceListIgnoresInvalidTagsWithNote(t *testing.T) {
	host, _ := tagPages(t, 2, 3, true)
	s, err := oci.NewSourceWithOptions("oci.upstream", &oci.SourceConfig{
		DestinationConfig: oci.DestinationConfig{Registry: host, Repository: "app", PlainHTTP: true},
		Tags:              oci.TagFilter{Exact: []string{"1.1.0"}},
	}, provreg.Env{}, oci.Options{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.List(t.Context(), func(providers.Artifact) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"The tag listing of app returned 6 strings that are not OCI tags; they cannot be mirrored and are ignored."}
	if d := cmp.Diff(want, s.Notes()); d != "" {
		t.Errorf("notes (-want +got):\n%s", d)
	}
}

package oci

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzRepoTemplate parses arbitrary repository templates and expands them
// for arbitrary keys. No panic; an accepted template prints back as a
// template that parses to the same thing; every key segment becomes a
// valid repository path component (or nothing, an error); an expansion of
// a template whose shape is valid (its probe is a valid repository) with
// placeholders alone between slashes is a valid repository.
func FuzzRepoTemplate(f *testing.F) {
	f.Add("buildpack-deps/{key.0}", "node/22.23.2/13b2/node-v22.23.2-linux-x64.tar.xz")
	f.Add("deps/{key.0}/{key.1}", "Node.js/jdk+fx")
	f.Add("a{key.0}b/{key.99}", "x")
	f.Add("{key.00}", "a")
	f.Add("}{", "")
	f.Add("{key.1", "a/b")
	f.Add("{{key.0}}", "--/__/..")
	f.Fuzz(func(t *testing.T, s, key string) {
		if c := component(key); c != "" && !repositoryRE.MatchString(c) || strings.Contains(c, "/") {
			t.Fatalf("component(%q) = %q, not a repository path component", key, c)
		}
		tmpl, ok, err := parseRepoTemplate(s)
		if err != nil || !ok {
			return
		}
		back, ok, err := parseRepoTemplate(tmpl.String())
		if err != nil || !ok || back.String() != tmpl.String() {
			t.Fatalf("template %q prints as %q, which parses to %v, %v, %v", s, tmpl.String(), back, ok, err)
		}
		repo, err := tmpl.expand(key)
		if err != nil {
			return
		}
		if repositoryRE.MatchString(tmpl.probe()) && placeholdersWholeSegments(tmpl) && !repositoryRE.MatchString(repo) {
			t.Fatalf("template %q (probe %q) expands key %q to %q, not a valid repository", s, tmpl.probe(), key, repo)
		}
	})
}

// placeholdersWholeSegments reports whether every placeholder of t fills a
// whole "/"-separated path segment.
func placeholdersWholeSegments(t *repoTemplate) bool {
	for i, p := range t.parts {
		if p.segment < 0 {
			continue
		}
		if i > 0 && (t.parts[i-1].segment >= 0 || !strings.HasSuffix(t.parts[i-1].literal, "/")) {
			return false
		}
		if i+1 < len(t.parts) && (t.parts[i+1].segment >= 0 || !strings.HasPrefix(t.parts[i+1].literal, "/")) {
			return false
		}
	}
	return true
}

// FuzzTag checks the key → tag rule on arbitrary keys: the tag is a valid
// OCI tag of at most 117 characters; a key is its own tag only if it is a
// valid tag that does not look hashed; otherwise the tag ends in the key's
// hash.
func FuzzTag(f *testing.F) {
	for _, k := range []string{"jq-1.7.1", "node/20.11.1/eb8f0c402a49674df4988ee3bf8b27230b4d7dde24c9e118996723a0c9796649/node-v20.11.1-linux-x64.tar.xz",
		"0123456789abcdef", "a-0123456789abcdef", "", "/", "..", "-x", strings.Repeat("a", 101), "ü/日本"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		tag := Tag(key)
		if !isTag(tag) || len(tag) > 117 {
			t.Fatalf("Tag(%q) = %q: not a valid tag of at most 117 characters", key, tag)
		}
		if tag == key {
			if hashedTagRE.MatchString(key) || len(key) > maxReadable {
				t.Fatalf("Tag(%q) kept a key of the hashed shape or too long", key)
			}
			return
		}
		if !hashedTagRE.MatchString(tag) {
			t.Fatalf("Tag(%q) = %q: rewritten but not hashed", key, tag)
		}
	})
}

// FuzzCheckManifest feeds arbitrary manifests to the check that decides
// whether a tag holds a ferry file artifact. No panic; whatever it accepts
// has ferry's artifactType, one sha256 layer of non-negative size and the
// key's annotation; and what packManifest writes for any (UTF-8) key and
// layer is accepted for that key (and refused for another).
func FuzzCheckManifest(f *testing.F) {
	layer := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromString("x"), Size: 1}
	_, seed, err := packManifest("greeting/1.2.0/greeting-1.2.0.txt", layer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "greeting/1.2.0/greeting-1.2.0.txt", int64(1))
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), "k", int64(0))
	f.Add([]byte(`{"artifactType":"application/vnd.ferry.file.v1","layers":[{"digest":"sha256:zz","size":-1}]}`), "k", int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, key string, size int64) {
		_ = isFileArtifact(ocispec.MediaTypeImageManifest, body)
		if m, err := checkManifest(key, ocispec.MediaTypeImageManifest, body); err == nil {
			if m.ArtifactType != ArtifactType || len(m.Layers) != 1 || m.Layers[0].Digest.Validate() != nil ||
				m.Layers[0].Digest.Algorithm() != digest.SHA256 || m.Layers[0].Size < 0 || m.Annotations[AnnotationKey] != key {
				t.Fatalf("checkManifest(%q) accepted %s", key, body)
			}
		}
		if size < 0 || !utf8.ValidString(key) {
			return // every source's keys are UTF-8 (JSON cannot carry other bytes)
		}
		l := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(body), Size: size}
		desc, b, err := packManifest(key, l)
		if err != nil {
			t.Fatalf("packManifest(%q): %v", key, err)
		}
		if desc.Digest != digest.FromBytes(b) || desc.Size != int64(len(b)) {
			t.Fatalf("packManifest(%q): descriptor %v does not describe its bytes", key, desc)
		}
		m, err := checkManifest(key, desc.MediaType, b)
		if err != nil {
			t.Fatalf("the manifest packManifest wrote for %q is refused: %v\n%s", key, err, b)
		}
		if m.Layers[0].Digest != l.Digest || m.Layers[0].Size != size {
			t.Fatalf("manifest for %q holds layer %v, not %v", key, m.Layers[0], l)
		}
		if !isFileArtifact(desc.MediaType, b) {
			t.Fatalf("the manifest packManifest wrote is not a file artifact")
		}
		if _, err := checkManifest(key+"x", desc.MediaType, b); err == nil {
			t.Fatalf("the manifest for %q is accepted for %q", key, key+"x")
		}
	})
}

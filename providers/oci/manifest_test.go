package oci

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPackManifestIsStableAndChecks(t *testing.T) {
	layer := ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.FromString("x"), Size: 1}
	d1, b1, err := packManifest("a/b/file.tgz", layer)
	if err != nil {
		t.Fatal(err)
	}
	d2, b2, _ := packManifest("a/b/file.tgz", layer)
	if d1.Digest != d2.Digest || string(b1) != string(b2) || d1.Digest != digest.FromBytes(b1) || d1.Size != int64(len(b1)) {
		t.Fatalf("packManifest is not deterministic: %v %v", d1, d2)
	}
	if d3, _, _ := packManifest("a/c/file.tgz", layer); d3.Digest == d1.Digest {
		t.Error("two keys with the same file share a manifest (deleting one would untag the other)")
	}
	if strings.Contains(string(b1), "created") || strings.Contains(string(b1), `"data"`) {
		t.Errorf("manifest: %s", b1)
	}
	m, err := checkManifest("a/b/file.tgz", ocispec.MediaTypeImageManifest, b1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Layers[0].Digest != layer.Digest || m.Layers[0].Annotations[ocispec.AnnotationTitle] != "file.tgz" {
		t.Errorf("round trip: %+v", m.Layers[0])
	}
}

func TestCheckManifestRejectsForeign(t *testing.T) {
	layer := ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.FromString("x"), Size: 1}
	_, good, _ := packManifest("k", layer)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	layers := func(m map[string]any) []any { return m["layers"].([]any) }
	tests := map[string]struct {
		mediaType string
		body      []byte
		key       string
	}{
		"index":      {ocispec.MediaTypeImageIndex, good, "k"},
		"not json":   {ocispec.MediaTypeImageManifest, []byte("{"), "k"},
		"other type": {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { m["artifactType"] = "application/x" }), "k"},
		"no type":    {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { delete(m, "artifactType") }), "k"},
		"no layers":  {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { m["layers"] = []any{} }), "k"},
		"two layers": {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { m["layers"] = append(layers(m), layers(m)[0]) }), "k"},
		"sha512 layer": {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) {
			layers(m)[0].(map[string]any)["digest"] = digest.SHA512.FromString("x").String()
		}), "k"},
		"bad digest":     {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { layers(m)[0].(map[string]any)["digest"] = "sha256:xyz" }), "k"},
		"negative size":  {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { layers(m)[0].(map[string]any)["size"] = -1 }), "k"},
		"no annotations": {ocispec.MediaTypeImageManifest, edit(func(m map[string]any) { delete(m, "annotations") }), "k"},
		"other key":      {ocispec.MediaTypeImageManifest, good, "k2"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := checkManifest(tt.key, tt.mediaType, tt.body); !errors.Is(err, ErrNotFerryArtifact) {
				t.Errorf("checkManifest: %v, want ErrNotFerryArtifact", err)
			}
		})
	}
}

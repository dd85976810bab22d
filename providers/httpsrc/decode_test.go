package httpsrc

import (
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
)

var (
	zeros256 = strings.Repeat("0", 64)
	zeros512 = strings.Repeat("0", 128)
)

// decodeSource decodes src as the body of a source "http" "tools" block.
func decodeSourceBody(t *testing.T, src string) (*SourceConfig, hcl.Diagnostics) {
	t.Helper()
	return schematest.Decode[SourceConfig](t, SourceType().Type, src, map[string]cty.Value{
		"version":  cty.StringVal("1.7.1"),
		"password": schematest.Sensitive("pw"),
	}, schema.DecodeEnv{Dir: "/cfg", Address: "source.http.tools", DeclRange: hcl.Range{Filename: "main.ferry.hcl"}})
}

func TestSourceType(t *testing.T) {
	pt := SourceType()
	if pt.Kind != schema.KindSource || pt.Name != "http" || pt.Decode == nil {
		t.Errorf("SourceType() = %+v, want a source type named http", pt)
	}
}

func TestDecode(t *testing.T) {
	d256 := providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("ab", 32)}
	d512 := providers.Digest{Algorithm: providers.SHA512, Hex: zeros512}
	tests := []struct {
		name string
		src  string
		want []ArtifactConfig
	}{
		{
			name: "derived key with version",
			src: `artifact "jq" {
				url     = "https://example.org/dl/${var.version}/jq-linux-amd64"
				sha256  = "` + strings.Repeat("AB", 32) + `"
				version = var.version
				size    = 0
			}`,
			want: []ArtifactConfig{{
				Name: "jq", URL: "https://example.org/dl/1.7.1/jq-linux-amd64",
				DisplayURL: "https://example.org/dl/1.7.1/jq-linux-amd64",
				Digests:    providers.NewDigests(d256), Version: "1.7.1", Key: "jq/1.7.1/jq-linux-amd64", Size: 0,
			}},
		},
		{
			name: "derived key without version, escaped basename, both digests",
			src: `artifact "tool" {
				url    = "http://example.org/a/my%20tool.tgz?x=1#frag"
				sha512 = "` + zeros512 + `"
				sha256 = "` + strings.Repeat("ab", 32) + `"
			}`,
			want: []ArtifactConfig{{
				Name: "tool", URL: "http://example.org/a/my%20tool.tgz?x=1#frag",
				DisplayURL: "http://example.org/a/my%20tool.tgz?x=1#frag",
				Digests:    providers.NewDigests(d512, d256), Key: "tool/my tool.tgz", Size: -1,
			}},
		},
		{
			name: "explicit key, file URL, same name twice",
			src: `artifact "readme" {
				url     = "file:///srv/README"
				sha512  = "` + zeros512 + `"
				key     = "docs/readme/v1"
				version = "1"
			}
			artifact "readme" {
				url     = "file:///srv/README"
				sha512  = "` + zeros512 + `"
				version = "2"
			}`,
			want: []ArtifactConfig{
				{
					Name: "readme", URL: "file:///srv/README", DisplayURL: "file:///srv/README",
					Digests: providers.NewDigests(d512), Version: "1", Key: "docs/readme/v1", Size: -1,
				},
				{
					Name: "readme", URL: "file:///srv/README", DisplayURL: "file:///srv/README",
					Digests: providers.NewDigests(d512), Version: "2", Key: "readme/2/README", Size: -1,
				},
			},
		},
		{
			name: "credentials are redacted or hidden",
			src: `artifact "a" {
				url    = "https://ci:secret@example.org/a.bin"
				sha256 = "` + zeros256 + `"
			}
			artifact "b" {
				url    = "https://ci:${var.password}@example.org/b.bin"
				sha256 = "` + zeros256 + `"
				key    = "b.bin"
			}`,
			want: []ArtifactConfig{
				{
					Name: "a", URL: "https://ci:secret@example.org/a.bin", DisplayURL: "https://xxxxx@example.org/a.bin",
					Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: zeros256}), Key: "a/a.bin", Size: -1,
				},
				{
					Name: "b", URL: "https://ci:pw@example.org/b.bin", DisplayURL: "(sensitive)",
					Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: zeros256}), Key: "b.bin", Size: -1,
				},
			},
		},
		{
			name: "no artifacts",
			src:  ``,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := decodeSourceBody(t, tt.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tt.want, got.Artifacts); diff != "" {
				t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantLine int
		want     string
	}{
		{"short sha256", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"abc\"\n}", 3, "Invalid sha256 digest"},
		{"non-hex sha512", "artifact \"a\" {\n url = \"https://x/a\"\n sha512 = \"" + strings.Repeat("g", 128) + "\"\n}", 3, "Invalid sha512 digest"},
		{"no digest", "artifact \"a\" {\n url = \"https://x/a\"\n}", 1, "Missing artifact digest"},
		{"no url", "artifact \"a\" {\n sha256 = \"" + zeros256 + "\"\n}", 1, "Missing required argument"},
		{"scheme", "artifact \"a\" {\n url = \"s3://b/a\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Unsupported URL scheme"},
		{"no scheme", "artifact \"a\" {\n url = \"example.org/a\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Unsupported URL scheme"},
		{"no host", "artifact \"a\" {\n url = \"https:///a\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Invalid URL"},
		{"relative file", "artifact \"a\" {\n url = \"file:rel/a\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Invalid URL"},
		{"file with host", "artifact \"a\" {\n url = \"file://host/a\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Invalid URL"},
		{"unparsable", "artifact \"a\" {\n url = \"https://x/%zz\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Invalid URL"},
		{"no basename", "artifact \"a\" {\n url = \"https://x\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Artifact key required"},
		{"dotdot basename", "artifact \"a\" {\n url = \"https://x/a/%2E%2E\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Invalid artifact key"},
		{"sensitive url without key", "artifact \"a\" {\n url = \"https://${var.password}@x/a\"\n sha256 = \"" + zeros256 + "\"\n}", 2, "Artifact key required"},
		{"key dotdot", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n key = \"a/../b\"\n}", 4, "Invalid artifact key"},
		{"key absolute", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n key = \"/a\"\n}", 4, "Invalid artifact key"},
		{"key sensitive", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n key = var.password\n}", 4, "Sensitive value not allowed"},
		{"version slash", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n version = \"1/2\"\n}", 4, "Invalid artifact key"},
		{"name dot", "artifact \".\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n}", 1, "Invalid artifact name"},
		{"size negative", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n size = -2\n}", 4, "Invalid artifact size"},
		{"unknown argument", "artifact \"a\" {\n url = \"https://x/a\"\n sha256 = \"" + zeros256 + "\"\n md5 = \"x\"\n}", 4, "Unsupported argument"},
		{"duplicate key", "artifact \"a\" {\n url = \"https://x/1/a\"\n sha256 = \"" + zeros256 + "\"\n}\nartifact \"a\" {\n url = \"https://y/2/a\"\n sha256 = \"" + zeros256 + "\"\n}", 5, "Duplicate artifact key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := decodeSourceBody(t, tt.src)
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			if d.Summary != tt.want || d.Subject == nil || d.Subject.Start.Line != tt.wantLine || d.Detail == "" {
				t.Errorf("got %s (line %v), want %q at line %d", d, d.Subject, tt.want, tt.wantLine)
			}
			if strings.Contains(d.Detail, "pw") {
				t.Errorf("Detail reveals the sensitive value: %s", d.Detail)
			}
			if n := len(got.Artifacts); n > 1 || (n == 1 && tt.want != "Duplicate artifact key") {
				t.Errorf("an artifact with errors was kept: %+v", got.Artifacts)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"node/20.11.1/linux-amd64", true},
		{"lodash@4.17.21", true},
		{"dir/with space/ünïcode.tgz", true},
		{"..a/b..", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"a/./b", false},
		{"a/../b", false},
		{"..", false},
		{"a\\b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{"a\xffb", false},
	}
	for _, tt := range tests {
		if err := checkKey(tt.key); (err == nil) != tt.ok {
			t.Errorf("checkKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
	}
}

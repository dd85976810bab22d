package oci

import (
	"strings"
	"testing"
)

func TestTagExamples(t *testing.T) {
	hex64 := "3d2b6f5e1a0c9b8f7e6d5c4b3a291807f6e5d4c3b2a1908f7e6d5c4b3a291807"
	tests := []struct {
		key, want string // want: exact tag, or a prefix ending in "-" followed by 16 hex digits
		exact     bool
	}{
		{"jq-1.7.1", "jq-1.7.1", true},
		{"Node_20.11.1", "Node_20.11.1", true},
		{"node/20.11.1/" + hex64 + "/node-v20.11.1-linux-x64.tar.xz", "node-20.11.1-3d2b6f5e1a0c-node-v20.11.1-linux-x64.tar.xz-", false},
		{"bellsoft-jdk/17.0.10+13/jdk.tar.gz", "bellsoft-jdk-17.0.10-13-jdk.tar.gz-", false},
		{".hidden", "hidden-", false},
		{"-dash", "dash-", false},
		{"a--b", "a--b", true},
		{"a/--b", "a-b-", false},
		{"x-0123456789abcdef", "x-0123456789abcdef-", false}, // looks hashed: hashed again
		{"0123456789abcdef", "0123456789abcdef-", false},
		{strings.Repeat("x", 100), strings.Repeat("x", 100), true},
		{strings.Repeat("x", 101), strings.Repeat("x", 100) + "-", false},
		{strings.Repeat("a", 101), strings.Repeat("a", 12) + "-", false}, // hex-only: read as a digest
	}
	for _, tt := range tests {
		got := Tag(tt.key)
		if tt.exact {
			if got != tt.want {
				t.Errorf("Tag(%q) = %q, want %q", tt.key, got, tt.want)
			}
			continue
		}
		rest, ok := strings.CutPrefix(got, tt.want)
		if !ok || len(rest) != hashHexLen || strings.Trim(rest, "0123456789abcdef") != "" {
			t.Errorf("Tag(%q) = %q, want %q + 16 hex digits", tt.key, got, tt.want)
		}
	}
	if got := Tag("///"); len(got) != hashHexLen || !isTag(got) {
		t.Errorf("Tag(%q) = %q, want 16 hex digits", "///", got)
	}
}

func TestTagValidDistinctDeterministic(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	long := strings.Repeat("segment/", 30)
	keys := []string{
		"a/b", "a:b", "a b", "a+b", "a@b", "a-b", "a--b", "a_b", "a.b", "a/-b", "a-/b", "a//b",
		"a/b/", "/a/b", "A/b", "a/B", "ä/b", "a/ü", "a\x00b",
		"jq-1.7.1", "jq/1.7.1", "jq_1.7.1",
		"node/20.11.1/" + hex64 + "/node.tar.xz",
		"node/20.11.1/" + hex64[:63] + "c/node.tar.xz",            // differs only inside the abbreviated digest
		"node/20.11.1/" + strings.ToUpper(hex64) + "/node.tar.xz", // same digest, other case
		long + "x.tgz", long + "y.tgz", long + "x.tgz2", // differ beyond the readable prefix
		"0123456789abcdef", "x-0123456789abcdef", "x/0123456789abcdef",
		strings.Repeat("a", 100), strings.Repeat("a", 101), strings.Repeat("a", 128), strings.Repeat("a", 129),
		"", ".", "-", "..", "_",
	}
	seen := map[string]string{}
	for _, k := range keys {
		tag := Tag(k)
		if !isTag(tag) || len(tag) > 128 {
			t.Errorf("Tag(%q) = %q: not a valid OCI tag", k, tag)
		}
		if len(tag) > maxReadable+1+hashHexLen {
			t.Errorf("Tag(%q) = %q: %d characters, want at most %d", k, tag, len(tag), maxReadable+1+hashHexLen)
		}
		if other, dup := seen[tag]; dup {
			t.Errorf("keys %q and %q both map to tag %q", other, k, tag)
		}
		seen[tag] = k
		if again := Tag(k); again != tag {
			t.Errorf("Tag(%q) is not deterministic: %q then %q", k, tag, again)
		}
	}
}

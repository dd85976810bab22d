package bptoml

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

const (
	hexA = "deaf9695966087815a09c1c8e7fb0cfeb5b5b4471836e5993431230a845becad"
	hexB = "c788ad58ded0426a7fca9f3a7e005f57c14a348ebdb3a2977e19ef7b0c143439"
	hex5 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr []string // substrings of the Parse error; empty means success
		check   func(t *testing.T, f *File)
		edits   []Edit
		wantOut string // exact Rewrite output, checked when edits != nil
	}{
		{
			name:    "empty file",
			in:      "",
			check:   wantDeps(0),
			edits:   []Edit{},
			wantOut: "",
		},
		{
			name:  "no metadata",
			in:    "api = \"0.7\"\n[buildpack]\nid = \"x\"\n",
			check: wantDeps(0),
		},
		{
			name:  "metadata without dependencies",
			in:    "[metadata]\ninclude-files = []\n[[metadata.configurations]]\nname = \"X\"\n",
			check: wantDeps(0),
		},
		{
			name: "literal-string uri becomes a basic string",
			in:   "[[metadata.dependencies]]\nid = 'a'\nuri = 'https://x.example/a\\b+c'\nversion = '1'\n",
			check: func(t *testing.T, f *File) {
				wantDeps(1)(t, f)
				if got := f.Dependencies[0].URI; got != `https://x.example/a\b+c` {
					t.Errorf("URI %q", got)
				}
			},
			edits:   []Edit{{0, "uri", `https://m.example/a\b+c`}},
			wantOut: "[[metadata.dependencies]]\nid = 'a'\nuri = \"https://m.example/a\\\\b+c\"\nversion = '1'\n",
		},
		{
			name:    "quoted key \"uri\"",
			in:      "[[metadata.dependencies]]\n\"uri\" = \"https://x/a\"\n",
			edits:   []Edit{{0, "uri", "https://m/a"}},
			wantOut: "[[metadata.dependencies]]\n\"uri\" = \"https://m/a\"\n",
		},
		{
			name:    "literal key 'uri' and 'source'",
			in:      "[[metadata.dependencies]]\n'uri' = \"https://x/a\"\n'source'='https://x/s'\n",
			edits:   []Edit{{0, "uri", "https://m/a"}, {0, "source", "https://m/s"}},
			wantOut: "[[metadata.dependencies]]\n'uri' = \"https://m/a\"\n'source'=\"https://m/s\"\n",
		},
		{
			name:    "comment after the value is kept, odd spacing kept",
			in:      "# head\n[[metadata.dependencies]] # dep\n  uri\t=   \"https://x/a\"   # keep me \"quoted\"\n  # between\n",
			edits:   []Edit{{0, "uri", "https://m/a"}},
			wantOut: "# head\n[[metadata.dependencies]] # dep\n  uri\t=   \"https://m/a\"   # keep me \"quoted\"\n  # between\n",
		},
		{
			name:    "CRLF line endings kept",
			in:      "api = \"0.7\"\r\n\r\n[metadata]\r\n  [[metadata.dependencies]]\r\n    id = \"a\"\r\n    uri = \"https://x/a\"\r\n    version = \"1\"\r\n",
			edits:   []Edit{{0, "uri", "https://m/a"}},
			wantOut: "api = \"0.7\"\r\n\r\n[metadata]\r\n  [[metadata.dependencies]]\r\n    id = \"a\"\r\n    uri = \"https://m/a\"\r\n    version = \"1\"\r\n",
		},
		{
			name:    "multi-line string values",
			in:      "[[metadata.dependencies]]\nuri = \"\"\"\nhttps://x/a\"\"\"\nsource = '''\nhttps://x/s'''\nid = 'a'\n[[metadata.dependencies]]\nuri = 'https://x/b'\n",
			check:   wantURI(0, "https://x/a"),
			edits:   []Edit{{0, "uri", "https://m/a"}, {0, "source", "https://m/s"}},
			wantOut: "[[metadata.dependencies]]\nuri = \"https://m/a\"\nsource = \"https://m/s\"\nid = 'a'\n[[metadata.dependencies]]\nuri = 'https://x/b'\n",
		},
		{
			name:    "no trailing newline",
			in:      "[[metadata.dependencies]]\nuri = \"https://x/a\"",
			edits:   []Edit{{0, "uri", "https://m/a"}},
			wantOut: "[[metadata.dependencies]]\nuri = \"https://m/a\"",
		},
		{
			name:    "new value with quote, backslash, unicode and control characters",
			in:      "[[metadata.dependencies]]\nuri = \"https://x/a\"\n",
			edits:   []Edit{{0, "uri", "https://m/a\"b\\c/é€😀/\x01\t\n\x7f"}},
			wantOut: "[[metadata.dependencies]]\nuri = \"https://m/a\\\"b\\\\c/é€😀/\\u0001\\t\\n\\u007F\"\n",
		},
		{
			name:    "original with escapes",
			in:      "[[metadata.dependencies]]\nuri = \"https://x/\\u00e9\\\"q\\\"\"\n",
			check:   wantURI(0, "https://x/é\"q\""),
			edits:   []Edit{{0, "uri", "https://m/x"}},
			wantOut: "[[metadata.dependencies]]\nuri = \"https://m/x\"\n",
		},
		{
			name: "licenses sub-tables and other sub-tables between dependencies",
			in: `[[metadata.dependencies]]
id = "a"
uri = "https://x/a"

  [[metadata.dependencies.licenses]]
  type = "MIT"
  uri = "https://lic/1"

  [[metadata.dependencies.licenses]]
  uri = "https://lic/2"

  [metadata.dependencies.extra]
  uri = "https://extra/1"

[[metadata.configurations]]
uri = "https://conf/1"

[[metadata.dependencies]]
id = "b"
uri = "https://x/b"
other.uri = "https://dotted/1"
[[metadata.dependencies.licenses]]
uri = "https://lic/3"
`,
			check: func(t *testing.T, f *File) {
				wantDeps(2)(t, f)
				wantURI(0, "https://x/a")(t, f)
				wantURI(1, "https://x/b")(t, f)
				if f.Dependencies[1].Line != 18 {
					t.Errorf("Line %d, want 18", f.Dependencies[1].Line)
				}
			},
			edits: []Edit{{1, "uri", "https://m/b"}, {0, "uri", "https://m/a"}},
			wantOut: `[[metadata.dependencies]]
id = "a"
uri = "https://m/a"

  [[metadata.dependencies.licenses]]
  type = "MIT"
  uri = "https://lic/1"

  [[metadata.dependencies.licenses]]
  uri = "https://lic/2"

  [metadata.dependencies.extra]
  uri = "https://extra/1"

[[metadata.configurations]]
uri = "https://conf/1"

[[metadata.dependencies]]
id = "b"
uri = "https://m/b"
other.uri = "https://dotted/1"
[[metadata.dependencies.licenses]]
uri = "https://lic/3"
`,
		},
		{
			name:    "header with spaces and quoted parts",
			in:      "[[ metadata . \"dependencies\" ]]\nuri = \"https://x/a\"\n",
			check:   wantURI(0, "https://x/a"),
			edits:   []Edit{{0, "uri", "https://m/a"}},
			wantOut: "[[ metadata . \"dependencies\" ]]\nuri = \"https://m/a\"\n",
		},
		{
			name: "sha256 overrides checksum and is lowercased",
			in:   "[[metadata.dependencies]]\nuri = \"u\"\nchecksum = \"sha512:" + hex5 + "\"\nsha256 = \"" + strings.ToUpper(hexA) + "\"\n",
			check: wantChecksum(0,
				providers.Digest{Algorithm: providers.SHA256, Hex: hexA}, providers.Digest{}),
		},
		{
			name:  "sha256 overrides an invalid checksum",
			in:    "[[metadata.dependencies]]\nuri = \"u\"\nchecksum = \"md5:00\"\nsha256 = \"" + hexA + "\"\n",
			check: wantChecksum(0, providers.Digest{Algorithm: providers.SHA256, Hex: hexA}, providers.Digest{}),
		},
		{
			name:  "checksum without algorithm prefix is sha256",
			in:    "[[metadata.dependencies]]\nuri = \"u\"\nchecksum = \"" + strings.ToUpper(hexA) + "\"\n",
			check: wantChecksum(0, providers.Digest{Algorithm: providers.SHA256, Hex: hexA}, providers.Digest{}),
		},
		{
			name:  "sha512 checksum",
			in:    "[[metadata.dependencies]]\nuri = \"u\"\nchecksum = \"sha512:" + hex5 + "\"\n",
			check: wantChecksum(0, providers.Digest{Algorithm: providers.SHA512, Hex: hex5}, providers.Digest{}),
		},
		{
			name:  "no checksum at all is not an error",
			in:    "[[metadata.dependencies]]\nuri = \"u\"\nchecksum = \"\"\n",
			check: wantChecksum(0, providers.Digest{}, providers.Digest{}),
		},
		{
			name: "source checksum spellings",
			in: "[[metadata.dependencies]]\nuri = \"u\"\nsource_sha256 = \"" + hexA + "\"\n" +
				"[[metadata.dependencies]]\nuri = \"u\"\nsource-sha256 = \"" + hexA + "\"\nsource_sha256 = \"" + hexB + "\"\n" +
				"[[metadata.dependencies]]\nuri = \"u\"\nsource-checksum = \"sha256:" + hexB + "\"\nsource-sha256 = \"" + hexA + "\"\n",
			check: func(t *testing.T, f *File) {
				wantChecksum(0, providers.Digest{}, providers.Digest{Algorithm: providers.SHA256, Hex: hexA})(t, f)
				wantChecksum(1, providers.Digest{}, providers.Digest{Algorithm: providers.SHA256, Hex: hexA})(t, f)
				wantChecksum(2, providers.Digest{}, providers.Digest{Algorithm: providers.SHA256, Hex: hexB})(t, f)
			},
		},
		{
			name: "deprecation_date forms",
			in: "[[metadata.dependencies]]\nuri = \"u\"\ndeprecation_date = 2025-04-30T00:00:00Z\n" +
				"[[metadata.dependencies]]\nuri = \"u\"\ndeprecation_date = 2025-04-30\n" +
				"[[metadata.dependencies]]\nuri = \"u\"\ndeprecation_date = \"2025-04-30T02:00:00+02:00\"\n" +
				"[[metadata.dependencies]]\nuri = \"u\"\ndeprecation_date = 2025-04-30T00:00:00\n",
			check: func(t *testing.T, f *File) {
				want := time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC)
				for _, d := range f.Dependencies {
					if !d.DeprecationDate.Equal(want) {
						t.Errorf("dependency %d: %v", d.Index, d.DeprecationDate)
					}
				}
			},
		},
		{
			name:  "inline array of tables parses",
			in:    "[metadata]\ndependencies = [{id = \"a\", uri = \"https://x/a\", version = \"1\"}]\n",
			check: func(t *testing.T, f *File) { wantURI(0, "https://x/a")(t, f) },
		},
		// Errors.
		{
			name:    "bad checksum hex",
			in:      "[[metadata.dependencies]]\nid = \"node\"\nversion = \"1.2.3\"\nchecksum = \"sha256:zz\"\nuri = \"u\"\n",
			wantErr: []string{"buildpack.toml:4:12:", `dependency 0 (id "node", version "1.2.3")`, "invalid checksum", `"sha256:zz"`},
		},
		{
			name:    "unsupported checksum algorithm",
			in:      "[[metadata.dependencies]]\nuri = \"u\"\n[[metadata.dependencies]]\nid = \"b\"\nuri = \"u\"\nchecksum = \"sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709\"\n",
			wantErr: []string{"buildpack.toml:6:12:", `dependency 1 (id "b", version "")`, "not supported"},
		},
		{
			name:    "bad legacy sha256",
			in:      "[[metadata.dependencies]]\nuri = \"u\"\nsha256 = \"abc\"\n",
			wantErr: []string{"buildpack.toml:3:10:", "invalid sha256", "64 hex"},
		},
		{
			name:    "bad source checksum",
			in:      "[[metadata.dependencies]]\nuri = \"u\"\nsource-sha256 = \"sha256:" + hexA + "\"\n",
			wantErr: []string{"buildpack.toml:3:17:", "invalid source-sha256"},
		},
		{
			name:    "missing uri",
			in:      "[metadata]\n  [[metadata.dependencies]]\n  id = \"node\"\n  version = \"18\"\n  sha256 = \"" + hexA + "\"\n",
			wantErr: []string{"buildpack.toml:2:3:", `dependency 0 (id "node", version "18")`, "has no uri"},
		},
		{
			name:    "empty uri",
			in:      "[[metadata.dependencies]]\nuri = \"\"\n",
			wantErr: []string{"buildpack.toml:2:7:", "uri is empty"},
		},
		{
			name:    "uri of the wrong type",
			in:      "[[metadata.dependencies]]\nuri = 42\n",
			wantErr: []string{"buildpack.toml:2:7:", "uri must be a string, got integer"},
		},
		{
			name:    "stacks of the wrong type",
			in:      "[[metadata.dependencies]]\nuri = \"u\"\nstacks = [\"a\", 1]\n",
			wantErr: []string{"buildpack.toml:3:10:", "stacks[1] must be a string"},
		},
		{
			name:    "bad deprecation_date string",
			in:      "[[metadata.dependencies]]\nuri = \"u\"\ndeprecation_date = \"soon\"\n",
			wantErr: []string{"buildpack.toml:3:20:", "RFC 3339"},
		},
		{
			name:    "garbage TOML",
			in:      "api = \"0.7\"\n[metadata\nx = 1\n",
			wantErr: []string{"buildpack.toml:2:"},
		},
		{
			name:    "value missing",
			in:      "a = \n",
			wantErr: []string{"buildpack.toml:1:5:"},
		},
		{
			name:    "duplicate key in a dependency",
			in:      "[[metadata.dependencies]]\nuri = \"a\"\n'uri' = \"b\"\n",
			wantErr: []string{"buildpack.toml:3:", "already defined"},
		},
		{
			name:    "metadata is not a table",
			in:      "metadata = 1\n",
			wantErr: []string{"metadata must be a table"},
		},
		{
			name:    "dependency is not a table",
			in:      "[metadata]\ndependencies = [1]\n",
			wantErr: []string{"dependency 0", "must be a table, got integer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.in))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Parse succeeded, want error containing %q", tt.wantErr)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Errorf("error %T is not an *Error", err)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
			if tt.edits == nil {
				return
			}
			out, err := f.Rewrite(tt.edits)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if string(out) != tt.wantOut {
				t.Errorf("Rewrite output (-want +got):\n%s", cmp.Diff(tt.wantOut, string(out)))
			}
			g, err := Parse(out)
			if err != nil {
				t.Fatalf("re-Parse: %v", err)
			}
			for _, e := range tt.edits {
				d := g.Dependencies[e.Index]
				got := d.URI
				if e.Field == "source" {
					got = d.Source
				}
				if got != e.New {
					t.Errorf("dependency %d %s re-parsed as %q, want %q", e.Index, e.Field, got, e.New)
				}
			}
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	const doc = "[[metadata.dependencies]]\nid = \"a\"\nversion = \"1\"\nuri = \"https://x/a\"\n" +
		"[[metadata.dependencies]]\nid = \"b\"\nversion = \"2\"\nuri = \"https://x/b\"\nsource = \"https://x/b-src\"\n"
	f, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edits   []Edit
		wantErr []string
	}{
		{"unknown index", []Edit{{Index: 2, Field: "uri", New: "x"}}, []string{"no dependency with index 2"}},
		{"negative index", []Edit{{Index: -1, Field: "uri", New: "x"}}, []string{"no dependency with index -1"}},
		{"unknown field", []Edit{{Index: 0, Field: "checksum", New: "x"}}, []string{"buildpack.toml:1:1:", `field "checksum" cannot be rewritten`}},
		{"absent source", []Edit{{Index: 0, Field: "source", New: "x"}}, []string{`dependency 0 (id "a", version "1")`, "has no source field"}},
		{"duplicate edit", []Edit{{1, "uri", "x"}, {1, "uri", "y"}}, []string{"buildpack.toml:5:1:", "edits 0 and 1 both rewrite uri"}},
		{"empty uri", []Edit{{1, "uri", ""}}, []string{"new uri is empty"}},
		{"invalid UTF-8", []Edit{{1, "source", "\xff"}}, []string{"not valid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.Rewrite(tt.edits)
			if err == nil {
				t.Fatalf("Rewrite succeeded: %q", out)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestRewriteInlineUnsupported(t *testing.T) {
	f, err := Parse([]byte("metadata.dependencies = [{id = \"a\", uri = \"https://x/a\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Dependencies[0]; got.URI != "https://x/a" || !got.URIRange.IsZero() || got.Line != 0 {
		t.Errorf("inline dependency %+v", got)
	}
	_, err = f.Rewrite([]Edit{{0, "uri", "https://m/a"}})
	if err == nil || !strings.Contains(err.Error(), "not supported for rewriting") {
		t.Errorf("Rewrite error %v, want 'not supported for rewriting'", err)
	}
}

// The File must not depend on the caller's input buffer or on mutations of
// the exported Dependencies.
func TestParseCopiesInput(t *testing.T) {
	in := []byte("[[metadata.dependencies]]\nuri = \"https://x/a\"\n")
	f, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	copy(in, strings.Repeat("#", len(in)))
	f.Dependencies[0].URIRange = Range{0, 3}
	out, err := f.Rewrite([]Edit{{0, "uri", "https://m/a"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[[metadata.dependencies]]\nuri = \"https://m/a\"\n"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// The post-rewrite check catches a wrong range (simulated by corrupting the
// private copy so the uri edit lands on the source token).
func TestRewriteCheckCatchesWrongRange(t *testing.T) {
	f, err := Parse([]byte("[[metadata.dependencies]]\nsource = \"https://x/s\"\nuri = \"https://x/a\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.deps[0].URIRange = f.deps[0].SourceRange
	out, err := f.Rewrite([]Edit{{0, "uri", "https://m/a"}})
	if err == nil || !strings.Contains(err.Error(), "rewrite check failed") {
		t.Fatalf("Rewrite = %q, %v; want a check failure", out, err)
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b`, `a\b`, "tab\there", "nl\nx", "\x00\x1f\x7f", "é€😀", "\u2028\ufeff"} {
		doc := "[[metadata.dependencies]]\nuri = \"u\"\nsource = " + quote(s) + "\n"
		f, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := f.Dependencies[0].Source; got != s {
			t.Errorf("quote(%q) parsed back as %q", s, got)
		}
	}
}

func wantDeps(n int) func(*testing.T, *File) {
	return func(t *testing.T, f *File) {
		t.Helper()
		if len(f.Dependencies) != n {
			t.Fatalf("%d dependencies, want %d", len(f.Dependencies), n)
		}
	}
}

func wantURI(i int, uri string) func(*testing.T, *File) {
	return func(t *testing.T, f *File) {
		t.Helper()
		if len(f.Dependencies) <= i {
			t.Fatalf("only %d dependencies", len(f.Dependencies))
		}
		if got := f.Dependencies[i].URI; got != uri {
			t.Errorf("dependency %d URI %q, want %q", i, got, uri)
		}
	}
}

func wantChecksum(i int, sum, src providers.Digest) func(*testing.T, *File) {
	return func(t *testing.T, f *File) {
		t.Helper()
		if len(f.Dependencies) <= i {
			t.Fatalf("only %d dependencies", len(f.Dependencies))
		}
		d := f.Dependencies[i]
		if d.Checksum != sum || d.SourceChecksum != src {
			t.Errorf("dependency %d: checksum %v source %v, want %v and %v", i, d.Checksum, d.SourceChecksum, sum, src)
		}
	}
}

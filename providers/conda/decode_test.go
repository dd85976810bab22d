package conda

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

func decodeHCL(t *testing.T, src string) (*SourceConfig, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return decodeSource(f.Body, nil, schema.DecodeEnv{Dir: "/cfg", DeclRange: hcl.Range{Start: hcl.Pos{Line: 1, Column: 1}}})
}

func TestDecodeSource(t *testing.T) {
	got, diags := decodeHCL(t, `
channel      = "https://conda.example/forge/"
subdirs      = ["linux-64", "noarch", "linux-64"]
include      = ["numpy >=1.26", "python 3.12.*"]
exclude      = ["*[license=GPL*]"]
pins         = ["openssl 3.0.*"]
latest       = 2
dependencies = true
max_packages = 50
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &SourceConfig{
		URL: "https://conda.example/forge", Subdirs: []string{"linux-64", "noarch"},
		Include: []string{"numpy >=1.26", "python 3.12.*"}, Exclude: []string{"*[license=GPL*]"}, Pins: []string{"openssl 3.0.*"},
		Latest: 2, Dependencies: true, MaxPackages: 50,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A local channel, relative to the configuration; noarch added.
	got, diags = decodeHCL(t, `channel = "chan"
subdirs = ["osx-arm64"]`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got.Dir != filepath.Join("/cfg", "chan") || got.URL != "" || !cmp.Equal(got.Subdirs, []string{"osx-arm64", "noarch"}) || got.MaxPackages != DefaultMaxPackages {
		t.Errorf("local channel: %+v", got)
	}
}

// Every bad value gets its own diagnostic, at the attribute's value.
func TestDecodeSourceDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		summary string
		line    int
		col     int
	}{
		{name: "missing channel", src: `subdirs = ["linux-64"]`, summary: "No channel and no packages", line: 1, col: 1},
		{name: "ftp channel", src: `channel = "ftp://x/y"`, summary: "Invalid channel", line: 1, col: 11},
		{name: "empty channel", src: `channel = ""`, summary: "Invalid channel", line: 1, col: 11},
		{name: "channel with query", src: "channel = \"https://x/c?token=1\"", summary: "Invalid channel", line: 1, col: 11},
		{name: "bad subdir", src: "channel = \"c\"\nsubdirs = [\"../x\"]", summary: "Invalid subdir", line: 2, col: 11},
		{name: "bad include", src: "channel = \"c\"\ninclude = [\"numpy >=\"]", summary: "Invalid MatchSpec", line: 2, col: 11},
		{name: "bad exclude", src: "channel = \"c\"\nexclude = [\"conda-forge::x\"]", summary: "Invalid MatchSpec", line: 2, col: 11},
		{name: "bad pin", src: "channel = \"c\"\npins = [\"x[foo=1]\"]", summary: "Invalid MatchSpec", line: 2, col: 8},
		{name: "latest zero", src: "channel = \"c\"\nlatest = 0", summary: "Invalid latest", line: 2, col: 10},
		{name: "max_packages without dependencies", src: "channel = \"c\"\nmax_packages = 3", summary: "max_packages without dependencies", line: 2, col: 16},
		{name: "unknown argument", src: "channel = \"c\"\nversions = 1", summary: "Unsupported argument", line: 2, col: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeHCL(t, tt.src)
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got %v", diags)
			}
			d := diags[0]
			if d.Summary != tt.summary {
				t.Errorf("summary %q, want %q (%s)", d.Summary, tt.summary, d.Detail)
			}
			if d.Subject == nil || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %v, want %d:%d", d.Subject, tt.line, tt.col)
			}
		})
	}
}

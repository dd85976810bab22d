package buildpack_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/buildpack"
	"github.com/ferry-mirror/ferry/providers/dir"
)

// staticSource is a source type that is not a buildpack, for the rewrite check.
func staticSource() schema.Type {
	return schema.Type{Kind: schema.KindSource, Name: "static", Decode: func(body hcl.Body, _ *hcl.EvalContext, _ schema.DecodeEnv) (any, hcl.Diagnostics) {
		_, diags := body.Content(&hcl.BodySchema{})
		return struct{}{}, diags
	}}
}

// load writes main.ferry.hcl (and any other files) to a fresh directory and
// loads it.
func load(t *testing.T, src string, files map[string]string) (string, *config.Config, hcl.Diagnostics) {
	t.Helper()
	d := t.TempDir()
	writeFile(t, filepath.Join(d, "main.ferry.hcl"), []byte(src))
	for name, content := range files {
		writeFile(t, filepath.Join(d, filepath.FromSlash(name)), []byte(content))
	}
	cfg, diags := config.Load(config.LoadOptions{
		Dir:   d,
		Types: []schema.Type{buildpack.SourceType().Type, dir.DestinationType().Type, staticSource()},
	})
	return d, cfg, diags
}

func buildpackConfig(t *testing.T, cfg *config.Config, addr string) *buildpack.SourceConfig {
	t.Helper()
	src, ok := cfg.Sources[addr]
	if !ok {
		t.Fatalf("no source %s; have %v", addr, cfg.Sources)
	}
	bc, ok := src.Settings.(*buildpack.SourceConfig)
	if !ok {
		t.Fatalf("source %s settings are %T, want *buildpack.SourceConfig", addr, src.Settings)
	}
	return bc
}

func TestDecode(t *testing.T) {
	abs := fixturePath(t, "gradle.toml")
	bpFiles := map[string]string{"bp/buildpack.toml": "", "other.toml": ""}
	tests := []struct {
		name  string
		src   string
		files map[string]string
		// want is the decoded config with File relative to the config
		// directory unless absolute.
		want *buildpack.SourceConfig
	}{
		{
			name:  "relative file",
			src:   `source "buildpack" "x" { file = "other.toml" }`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "other.toml"},
		},
		{
			name:  "directory means its buildpack.toml",
			src:   `source "buildpack" "x" { file = "bp" }`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "bp/buildpack.toml"},
		},
		{
			name:  "directory with a trailing slash",
			src:   `source "buildpack" "x" { file = "bp/" }`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "bp/buildpack.toml"},
		},
		{
			name:  "path cleaned",
			src:   `source "buildpack" "x" { file = "./bp/../bp/buildpack.toml" }`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "bp/buildpack.toml"},
		},
		{
			name: "missing file is for the plan to report",
			src:  `source "buildpack" "x" { file = "generated/buildpack.toml" }`,
			want: &buildpack.SourceConfig{File: "generated/buildpack.toml"},
		},
		{
			name: "absolute file",
			src:  `source "buildpack" "x" { file = "` + filepath.ToSlash(abs) + `" }`,
			want: &buildpack.SourceConfig{File: abs},
		},
		{
			name: "everything",
			src: `source "buildpack" "x" {
  file = "bp"
  include {
    ids      = ["node", "yarn"]
    versions = ">= 20, < 23"
    stacks   = ["io.buildpacks.stacks.jammy"]
    targets  = ["linux/amd64", "linux/arm64"]
  }
  exclude { versions = "< 20.10" }
  latest  = 2
  sources = true
}`,
			files: bpFiles,
			want: &buildpack.SourceConfig{
				File: "bp/buildpack.toml",
				Include: &buildpack.Filter{
					IDs:         []string{"node", "yarn"},
					VersionsRaw: ">= 20, < 23",
					Stacks:      []string{"io.buildpacks.stacks.jammy"},
					Targets:     []string{"linux/amd64", "linux/arm64"},
				},
				Exclude: &buildpack.Filter{VersionsRaw: "< 20.10"},
				Latest:  2,
				Sources: true,
			},
		},
		{
			name: "layout dependency_mirror",
			src: `source "buildpack" "x" {
  file   = "bp"
  layout = "dependency_mirror"
}`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "bp/buildpack.toml", Layout: buildpack.LayoutDependencyMirror},
		},
		{
			name: "layout digest",
			src: `source "buildpack" "x" {
  file   = "bp"
  layout = "digest"
}`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "bp/buildpack.toml", Layout: buildpack.LayoutDigest},
		},
		{
			name: "exclude only, sources false",
			src: `source "buildpack" "x" {
  file    = "bp"
  exclude { targets = ["linux/s390x"] }
  sources = false
}`,
			files: bpFiles,
			want:  &buildpack.SourceConfig{File: "bp/buildpack.toml", Exclude: &buildpack.Filter{Targets: []string{"linux/s390x"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, cfg, diags := load(t, tt.src, tt.files)
			if len(diags) > 0 {
				t.Fatalf("Load: %v", diags)
			}
			got := buildpackConfig(t, cfg, "buildpack.x")
			want := *tt.want
			if want.Layout == "" {
				want.Layout = buildpack.LayoutDigest
			}
			if !filepath.IsAbs(want.File) {
				want.File = filepath.Join(d, filepath.FromSlash(want.File))
			}
			want.Dir = d
			if diff := cmp.Diff(&want, got, cmpopts.IgnoreFields(buildpack.Filter{}, "Versions")); diff != "" {
				t.Errorf("decoded config (-want +got):\n%s", diff)
			}
			for _, f := range []*buildpack.Filter{got.Include, got.Exclude} {
				if f != nil && (f.Versions != nil) != (f.VersionsRaw != "") {
					t.Errorf("filter %+v: Versions and VersionsRaw disagree", f)
				}
			}
		})
	}
}

// A decoded config selects what it says from a real file.
func TestDecodedConfigSelects(t *testing.T) {
	data, err := os.ReadFile(fixturePath(t, "node-engine.toml"))
	if err != nil {
		t.Fatal(err)
	}
	_, cfg, diags := load(t, `source "buildpack" "node_engine" {
  file = "node-engine"
  include {
    versions = ">= 24"
    targets  = ["linux/arm64"]
  }
  latest = 1
}`, map[string]string{"node-engine/buildpack.toml": string(data)})
	if len(diags) > 0 {
		t.Fatalf("Load: %v", diags)
	}
	s := newSource(buildpackConfig(t, cfg, "buildpack.node_engine"))
	var got []string
	for _, a := range listAll(t, s) {
		got = append(got, a.Name+" "+a.Version+" "+a.Origin)
	}
	want := []string{"node 26.5.1 https://nodejs.org/dist/v26.5.1/node-v26.5.1-linux-arm64.tar.xz"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("selected (-want +got):\n%s", diff)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	type diag struct {
		Summary string
		Line    int
	}
	tests := []struct {
		name string
		src  string
		want []diag
	}{
		{
			name: "bad versions constraint",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  include {
    versions = ">= banana"
  }
}`,
			want: []diag{{"Invalid version constraint", 4}},
		},
		{
			name: "bad versions constraint beside another criterion",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  exclude {
    ids      = ["node"]
    versions = "~> nope"
  }
}`,
			want: []diag{{"Invalid version constraint", 5}},
		},
		{
			name: "latest = 0",
			src: `source "buildpack" "x" {
  file   = "buildpack.toml"
  latest = 0
}`,
			want: []diag{{"Invalid latest count", 3}},
		},
		{
			name: "latest negative",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"

  latest = -3
}`,
			want: []diag{{"Invalid latest count", 4}},
		},
		{
			name: "target without arch",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  include {
    targets = ["linux"]
  }
}`,
			want: []diag{{"Invalid target", 4}},
		},
		{
			name: "targets with empty parts and a variant",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  exclude {
    ids = ["node"]
    targets = [
      "linux/",
      "/amd64",
      "linux/arm64/v8",
    ]
  }
}`,
			want: []diag{{"Invalid target", 5}, {"Invalid target", 5}, {"Invalid target", 5}},
		},
		{
			name: "unknown layout",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  sources = true
  layout = "flat"
}`,
			want: []diag{{"Invalid key layout", 4}},
		},
		{
			name: "empty include block",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  include {}
}`,
			want: []diag{{"Empty include block", 3}},
		},
		{
			name: "empty exclude block",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  include { ids = ["node"] }
  exclude {
  }
}`,
			want: []diag{{"Empty exclude block", 4}},
		},
		{
			name: "duplicate include block",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  include { ids = ["node"] }
  exclude { ids = ["yarn"] }

  include { versions = ">= 20" }
}`,
			want: []diag{{"Duplicate include block", 6}},
		},
		{
			name: "duplicate exclude block",
			src: `source "buildpack" "x" {
  file = "buildpack.toml"
  exclude { ids = ["node"] }
  exclude { ids = ["yarn"] }
}`,
			want: []diag{{"Duplicate exclude block", 4}},
		},
		{
			name: "rewrite on a source that is not a buildpack",
			src: `source "static" "x" {}
destination "dir" "local" { path = "mirror" }
mirror "m" {
  from = source.static.x
  to   = destination.dir.local
  rewrite {
    output = "buildpack.toml"
  }
}`,
			want: []diag{{"Rewrite needs a source with consumer outputs", 6}},
		},
		{
			name: "rewrite on a buildpack source",
			src: `source "buildpack" "x" { file = "buildpack.toml" }
destination "dir" "local" { path = "mirror" }
mirror "m" {
  from = source.buildpack.x
  to   = destination.dir.local
  rewrite {
    output = "out/buildpack.toml"
  }
}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, diags := load(t, tt.src, nil)
			var got []diag
			for _, d := range diags {
				line := 0
				if d.Subject != nil {
					line = d.Subject.Start.Line
				}
				got = append(got, diag{d.Summary, line})
				if d.Severity != hcl.DiagError {
					t.Errorf("%q is not an error", d.Summary)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall: %v", diff, diags)
			}
		})
	}
}

func TestDecodeRewriteOnBuildpack(t *testing.T) {
	d, cfg, diags := load(t, `source "buildpack" "x" { file = "buildpack.toml" }
destination "dir" "local" { path = "mirror" }
mirror "m" {
  from = source.buildpack.x
  to   = destination.dir.local
  rewrite {
    output  = "out/buildpack.toml"
    sources = true
  }
}`, nil)
	if len(diags) > 0 {
		t.Fatalf("Load: %v", diags)
	}
	rw := cfg.Mirrors["m"].Rewrite
	if rw == nil {
		t.Fatal("mirror m has no rewrite")
	}
	if want := filepath.Join(d, "out", "buildpack.toml"); rw.Output != want || !rw.Sources {
		t.Errorf("rewrite = %+v, want output %s with sources", rw, want)
	}
}

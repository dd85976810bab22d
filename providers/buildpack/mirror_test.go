package buildpack_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/buildpack"
)

// TestDecodeMirrorBlocks covers the rewrite and bindings blocks a buildpack
// source's type declares for mirrors: config.Load hands them to the
// provider, which resolves paths against the configuration directory and
// reports its own diagnostics.
func TestDecodeMirrorBlocks(t *testing.T) {
	const head = `variable "secret" {
  type      = string
  default   = "s"
  sensitive = true
}
source "buildpack" "x" { file = "buildpack.toml" }
destination "dir" "local" { path = "mirror" }
mirror "m" {
  from = source.buildpack.x
  to   = destination.dir.local
`
	type diag struct {
		Summary string
		Line    int
	}
	tests := []struct {
		name   string
		blocks string
		// want builds the expected settings from the config directory.
		want      func(dir string) *buildpack.MirrorConfig
		wantDiags []diag
	}{
		{
			name:   "relative paths resolve against the config directory",
			blocks: "  rewrite {\n    output  = \"out/../out/buildpack.toml\"\n    sources = true\n  }\n  bindings { path = \"bindings/\" }\n",
			want: func(d string) *buildpack.MirrorConfig {
				return &buildpack.MirrorConfig{
					Rewrite:  &buildpack.RewriteConfig{Output: filepath.Join(d, "out", "buildpack.toml"), Sources: true},
					Bindings: &buildpack.BindingsConfig{Path: filepath.Join(d, "bindings")},
				}
			},
		},
		{
			name:   "absolute path kept",
			blocks: "  bindings { path = \"/srv/bindings\" }\n",
			want: func(string) *buildpack.MirrorConfig {
				return &buildpack.MirrorConfig{Bindings: &buildpack.BindingsConfig{Path: "/srv/bindings"}}
			},
		},
		{
			name:      "empty rewrite output",
			blocks:    "  rewrite { output = \" \" }\n",
			wantDiags: []diag{{"Empty rewrite output", 11}},
		},
		{
			name:      "empty bindings path",
			blocks:    "  bindings { path = \"\" }\n",
			wantDiags: []diag{{"Empty bindings path", 11}},
		},
		{
			name:      "missing output",
			blocks:    "  rewrite {}\n",
			wantDiags: []diag{{"Missing required argument", 11}},
		},
		{
			name:      "unknown argument",
			blocks:    "  bindings {\n    path = \"b\"\n    paht = \"b\"\n  }\n",
			wantDiags: []diag{{"Unsupported argument", 13}},
		},
		{
			name:      "sensitive path",
			blocks:    "  rewrite { output = var.secret }\n",
			wantDiags: []diag{{"Sensitive value not allowed", 11}},
		},
		{
			name:      "duplicate blocks",
			blocks:    "  rewrite { output = \"a\" }\n  bindings { path = \"b\" }\n  rewrite { output = \"c\" }\n  bindings { path = \"d\" }\n",
			wantDiags: []diag{{"Duplicate rewrite block", 13}, {"Duplicate bindings block", 14}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, cfg, diags := load(t, head+tt.blocks+"}\n", nil)
			var got []diag
			for _, x := range diags {
				got = append(got, diag{x.Summary, x.Subject.Start.Line})
			}
			if diff := cmp.Diff(tt.wantDiags, got); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s\n%v", diff, diags)
			}
			if tt.want == nil {
				return
			}
			out := cfg.Mirrors["m"].Outputs
			if out == nil || out.Side != schema.KindSource {
				t.Fatalf("Outputs = %+v, want the source's", out)
			}
			if diff := cmp.Diff(tt.want(d), out.Settings); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

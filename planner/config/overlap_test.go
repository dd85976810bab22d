package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// Two destination blocks that store into the same place are refused, for
// every destination type, with a diagnostic on the later block naming the
// earlier one's position; destinations that merely look alike are not.
func TestOverlappingDestinations(t *testing.T) {
	tests := []struct {
		name string
		// a and b are the bodies of the two destination blocks, "TYPE" {…};
		// %s in a dir path is the test's temp directory.
		a, b string
		// setup prepares the temp directory (symbolic links).
		setup func(t *testing.T, tmp string)
		// want is the relation the diagnostic states; "" for no overlap.
		want string
	}{
		{name: "dir: same path", a: `"dir" "a" { path = "%s/m" }`, b: `"dir" "b" { path = "%s/m/" }`, want: "the same place as"},
		{name: "dir: nested", a: `"dir" "a" { path = "%s/m" }`, b: `"dir" "b" { path = "%s/m/sub" }`, want: "inside"},
		{name: "dir: containing", a: `"dir" "a" { path = "%s/m/sub" }`, b: `"dir" "b" { path = "%s/m" }`, want: "which contains"},
		{name: "dir: dot-dot spelling", a: `"dir" "a" { path = "%s/m" }`, b: `"dir" "b" { path = "%s/x/../m/y" }`, want: "inside"},
		{name: "dir: siblings sharing a name prefix", a: `"dir" "a" { path = "%s/m" }`, b: `"dir" "b" { path = "%s/mm" }`},
		{
			name: "dir: through a symbolic link",
			a:    `"dir" "a" { path = "%s/real/m" }`, b: `"dir" "b" { path = "%s/link/m/new" }`,
			setup: func(t *testing.T, tmp string) {
				if err := os.MkdirAll(filepath.Join(tmp, "real", "m"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(tmp, "real"), filepath.Join(tmp, "link")); err != nil {
					t.Fatal(err)
				}
			},
			want: "inside",
		},
		{name: "http: nested path", a: `"http" "a" { url = "https://repo.example/generic" }`, b: `"http" "b" { url = "https://REPO.example:443/generic/tools" }`, want: "inside"},
		{name: "http: other port", a: `"http" "a" { url = "http://127.0.0.1:8080/dav" }`, b: `"http" "b" { url = "http://127.0.0.1:8081/dav" }`},
		{name: "http: sibling paths", a: `"http" "a" { url = "https://repo.example/generic" }`, b: `"http" "b" { url = "https://repo.example/generic2" }`},
		{name: "http and npm on one path", a: `"http" "a" { url = "https://repo.example/npm" }`, b: `"npm" "b" { registry = "https://repo.example/npm/" }`, want: "the same place as"},
		{name: "npm: same registry", a: `"npm" "a" { registry = "https://npm.example/" }`, b: `"npm" "b" { registry = "https://npm.example" }`, want: "the same place as"},
		{name: "oci: same repository", a: `"oci" "a" { registry = "r.example" repository = "deps/node" }`, b: `"oci" "b" { registry = "r.example:443" repository = "deps/node" }`, want: "the same place as"},
		{name: "oci: nested repository is another one", a: `"oci" "a" { registry = "r.example" repository = "deps" }`, b: `"oci" "b" { registry = "r.example" repository = "deps/node" }`},
		{name: "oci: template can produce the repository", a: `"oci" "a" { registry = "r.example" repository = "deps/node" }`, b: `"oci" "b" { registry = "r.example" repository = "deps/{key.0}" }`, want: "which contains"},
		{name: "oci: template elsewhere", a: `"oci" "a" { registry = "r.example" repository = "tools/node" }`, b: `"oci" "b" { registry = "r.example" repository = "deps/{key.0}" }`},
		{name: "s3: nested prefix", a: `"s3" "a" { bucket = "mir" prefix = "conda" }`, b: `"s3" "b" { bucket = "mir" prefix = "conda/main" }`, want: "inside"},
		{name: "s3: bucket root contains every prefix", a: `"s3" "a" { bucket = "mir" prefix = "conda" }`, b: `"s3" "b" { bucket = "mir" }`, want: "which contains"},
		{name: "s3: sibling prefixes", a: `"s3" "a" { bucket = "mir" prefix = "conda" }`, b: `"s3" "b" { bucket = "mir" prefix = "conda2" }`},
		{name: "s3: same bucket on another server", a: `"s3" "a" { bucket = "mir" endpoint = "http://127.0.0.1:9400" }`, b: `"s3" "b" { bucket = "mir" endpoint = "http://127.0.0.1:9500" }`},
		{name: "oci: other registry", a: `"oci" "a" { registry = "r.example" repository = "deps" }`, b: `"oci" "b" { registry = "r2.example" repository = "deps" }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, tmp)
			}
			a, b := strings.ReplaceAll(tt.a, "%s", tmp), strings.ReplaceAll(tt.b, "%s", tmp)
			// Block a in one file, b in another: the diagnostic names both files.
			block := strings.NewReplacer("{ ", "{\n  ", " }", "\n}\n", `" repository`, "\"\n  repository", `" prefix`, "\"\n  prefix", `" endpoint`, "\"\n  endpoint")
			d := writeConfig(t, "destination "+block.Replace(a), "z.ferry.hcl", "\n\ndestination "+block.Replace(b))
			_, diags := config.Load(config.LoadOptions{Dir: d, Types: registry.Schemas(all.Types())})
			var got []string
			for _, diag := range diags {
				if diag.Summary == "Overlapping destinations" {
					got = append(got, fmt.Sprintf("%s:%d:%d: %s", filepath.Base(diag.Subject.Filename), diag.Subject.Start.Line, diag.Subject.Start.Column, diag.Detail))
				} else {
					t.Errorf("unexpected diagnostic: %s", diag)
				}
			}
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("diagnostics %q, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("diagnostics %q, want one", got)
			}
			at, detail, _ := strings.Cut(got[0], ": ")
			if diff := cmp.Diff("z.ferry.hcl:3:1", at); diff != "" {
				t.Errorf("diagnostic position (-want +got):\n%s", diff)
			}
			for _, s := range []string{", " + tt.want + " ", "(declared at " + filepath.Join(d, "main.ferry.hcl") + ":1:1)", "removing one mirror would delete files the other still owns"} {
				if !strings.Contains(detail, s) {
					t.Errorf("detail %q lacks %q", detail, s)
				}
			}
		})
	}
}

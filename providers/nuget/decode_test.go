package nuget

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
)

func decodeBlock(t *testing.T, source bool, src string) (any, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "main.ferry.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
		"key":   cty.StringVal("0123456789abcdef").Mark(schema.SensitiveMark),
		"index": cty.StringVal("https://feed.internal/v3/index.json").Mark(schema.SensitiveMark),
	})}}
	typ := DestinationType()
	if source {
		typ = SourceType()
	}
	return typ.Decode(f.Body, ectx, schema.DecodeEnv{Dir: "/work/cfg", Address: "x.nuget.test"})
}

func mustRange(t *testing.T, s string) *Range {
	t.Helper()
	r, err := ParseRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestDecodeSource(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want SourceConfig
	}{
		{name: "defaults", src: "service_index = \"https://api.nuget.org/v3/index.json\"\npackages = [\"Newtonsoft.Json\"]",
			want: SourceConfig{Feed: Feed{ServiceIndex: "https://api.nuget.org/v3/index.json"}, Packages: []string{"Newtonsoft.Json"}, RequirePackageHash: true, IncludeDeprecated: true}},
		{name: "everything", src: `service_index = "http://127.0.0.1:3000/api/packages/o/nuget/index.json"
packages = ["Serilog.*", "A-b_c.D", "serilog.*"]
versions = "[1.0,2.0)"
latest = 2
include_prerelease = true
include_unlisted = true
include_deprecated = false
require_package_hash = false
username = "reader"
password = var.key`,
			want: SourceConfig{Feed: Feed{ServiceIndex: "http://127.0.0.1:3000/api/packages/o/nuget/index.json", Username: "reader", Password: "0123456789abcdef"},
				Packages: []string{"Serilog.*", "A-b_c.D"}, Versions: mustRange(t, "[1.0,2.0)"), Latest: 2,
				IncludePrerelease: true, IncludeUnlisted: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := decodeBlock(t, true, tt.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(&tt.want, got, cmp.AllowUnexported(Range{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeDestination(t *testing.T) {
	got, diags := decodeBlock(t, false, "service_index = \"https://g.internal/api/packages/o/nuget/index.json\"\napi_key = var.key")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &DestinationConfig{Feed: Feed{ServiceIndex: "https://g.internal/api/packages/o/nuget/index.json"}, APIKey: "0123456789abcdef"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if got, want := want.Location(), (providers.Location{Store: "https://g.internal:443", Prefix: "/api/packages/o/nuget/"}); got != want {
		t.Errorf("Location() = %v, want %v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	const index = "service_index = \"https://feed.internal/v3/index.json\"\n"
	tests := []struct {
		name    string
		source  bool
		src     string
		summary string
		line    int // of the diagnostic's subject
	}{
		{name: "no service index", source: true, src: "packages = [\"A\"]", summary: "Missing required argument", line: 1},
		{name: "service index with credentials", source: true, src: "service_index = \"https://u:p@feed/index.json\"\npackages = [\"A\"]", summary: "Invalid service_index", line: 1},
		{name: "sensitive service index", source: true, src: "service_index = var.index\npackages = [\"A\"]", summary: "Sensitive value not allowed", line: 1},
		{name: "no packages", source: true, src: index + "packages = []", summary: "No packages selected", line: 2},
		{name: "bad id", source: true, src: index + "packages = [\"a..b\"]", summary: "Invalid package id", line: 2},
		{name: "bad glob", source: true, src: index + "packages = [\"a/*\"]", summary: "Invalid package id", line: 2},
		{name: "floating range", source: true, src: index + "packages = [\"A\"]\nversions = \"1.*\"", summary: "Invalid version range", line: 3},
		{name: "empty range", source: true, src: index + "packages = [\"A\"]\nversions = \"[2.0,1.0]\"", summary: "Invalid version range", line: 3},
		{name: "latest zero", source: true, src: index + "packages = [\"A\"]\nlatest = 0", summary: "Invalid latest", line: 3},
		{name: "include_deprecated not a bool", source: true, src: index + "packages = [\"A\"]\ninclude_deprecated = \"no\"", summary: "Incorrect attribute value type", line: 3},
		{name: "half basic auth", source: true, src: index + "packages = [\"A\"]\nusername = \"u\"", summary: "Incomplete credentials", line: 3},
		{name: "unknown argument", source: true, src: index + "packages = [\"A\"]\nsemver = \"1\"", summary: "Unsupported argument", line: 3},
		{name: "no api key", src: index, summary: "Missing required argument", line: 1},
		{name: "empty api key", src: index + "api_key = \"\"", summary: "Empty api_key", line: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeBlock(t, tt.source, tt.src)
			if !diags.HasErrors() {
				t.Fatal("decoded without errors")
			}
			var found bool
			for _, d := range diags {
				if d.Summary == tt.summary {
					found = true
					if d.Subject == nil || d.Subject.Start.Line != tt.line {
						t.Errorf("%q at %v, want line %d", d.Summary, d.Subject, tt.line)
					}
				}
				if strings.Contains(d.Detail, "0123456789abcdef") {
					t.Errorf("a diagnostic shows a secret: %s", d.Detail)
				}
			}
			if !found {
				t.Errorf("diagnostics %v, want %q", diags, tt.summary)
			}
		})
	}
}

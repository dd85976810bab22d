package proget

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"
)

// decode decodes body as a block of the named type and kind, with a
// sensitive var.key.
func decode(t *testing.T, kind schema.Kind, typ, body string) (any, hcl.Diagnostics) {
	t.Helper()
	vars := map[string]cty.Value{"key": schematest.Sensitive("s3cr3t")}
	env := schema.DecodeEnv{Dir: "/cfg", Address: string(kind) + "." + typ + ".x"}
	switch string(kind) + " " + typ {
	case "source proget_upack":
		return schematest.Decode[UpackConfig](t, UpackSourceType().Type, body, vars, env)
	case "destination proget_upack":
		return schematest.Decode[UpackConfig](t, UpackDestinationType().Type, body, vars, env)
	case "source proget_asset":
		return schematest.Decode[AssetConfig](t, AssetSourceType().Type, body, vars, env)
	default:
		return schematest.Decode[AssetConfig](t, AssetDestinationType().Type, body, vars, env)
	}
}

func TestDecodeUpack(t *testing.T) {
	tests := []struct {
		name string
		kind schema.Kind
		body string
		want *UpackConfig
	}{
		{
			name: "source with a sensitive key and patterns",
			kind: schema.KindSource,
			body: `url = "https://proget.corp/"
feed = "universal"
api_key = var.key
packages = ["tools/*", "solo"]`,
			want: &UpackConfig{Server: Server{URL: "https://proget.corp", APIKey: "s3cr3t"}, Feed: "universal", Packages: []string{"tools/*", "solo"}},
		},
		{
			name: "destination: the key from the environment",
			kind: schema.KindDestination,
			body: `url = "http://127.0.0.1:8624"
feed = "mirror"
api_key_env = "PROGET_KEY"`,
			want: &UpackConfig{Server: Server{URL: "http://127.0.0.1:8624", APIKeyEnv: "PROGET_KEY"}, Feed: "mirror"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := decode(t, tc.kind, "proget_upack", tc.body)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeAsset(t *testing.T) {
	got, diags := decode(t, schema.KindDestination, "proget_asset", `url = "https://proget.corp"
directory = "files"
path = "/releases/tools/"
chunk_size = 65536
api_key = "k"`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &AssetConfig{Server: Server{URL: "https://proget.corp", APIKey: "k"}, Directory: "files", Path: "releases/tools", ChunkSize: 65536}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		kind    schema.Kind
		typ     string
		body    string
		summary string
		detail  string // a part of the detail
		line    int    // where the diagnostic points
	}{
		{name: "url with credentials", kind: schema.KindSource, typ: "proget_upack",
			body: "url = \"https://api:k@proget.corp\"\nfeed = \"u\"", summary: "Invalid url", detail: "use api_key or api_key_env", line: 1},
		{name: "url not http", kind: schema.KindSource, typ: "proget_asset",
			body: "url = \"ftp://proget.corp\"\ndirectory = \"d\"", summary: "Invalid url", detail: "http(s) base URL", line: 1},
		{name: "both key arguments", kind: schema.KindDestination, typ: "proget_upack",
			body: "url = \"https://p\"\nfeed = \"u\"\napi_key = \"k\"\napi_key_env = \"K\"", summary: "Conflicting credentials", detail: "not both", line: 4},
		{name: "empty env name", kind: schema.KindSource, typ: "proget_upack",
			body: "url = \"https://p\"\nfeed = \"u\"\napi_key_env = \"\"", summary: "Invalid api_key_env", detail: "it is empty", line: 3},
		{name: "feed with a slash", kind: schema.KindSource, typ: "proget_upack",
			body: "url = \"https://p\"\nfeed = \"a/b\"", summary: "Invalid feed", detail: "without slashes", line: 2},
		{name: "directory dot-dot", kind: schema.KindDestination, typ: "proget_asset",
			body: "url = \"https://p\"\ndirectory = \"..\"", summary: "Invalid directory", detail: "one name", line: 2},
		{name: "path escaping the folder", kind: schema.KindSource, typ: "proget_asset",
			body: "url = \"https://p\"\ndirectory = \"d\"\npath = \"a/../../b\"", summary: "Invalid path", detail: `".."`, line: 3},
		{name: "tiny chunks", kind: schema.KindDestination, typ: "proget_asset",
			body: "url = \"https://p\"\ndirectory = \"d\"\nchunk_size = 10", summary: "Invalid chunk_size", detail: "at least 65536", line: 3},
		{name: "bad pattern", kind: schema.KindSource, typ: "proget_upack",
			body: "url = \"https://p\"\nfeed = \"u\"\npackages = [\"[\"]", summary: "Invalid package pattern", detail: "tools/*", line: 3},
		{name: "chunks on a source", kind: schema.KindSource, typ: "proget_asset",
			body: "url = \"https://p\"\ndirectory = \"d\"\nchunk_size = 65536", summary: "Unsupported argument", line: 3},
		{name: "feed missing", kind: schema.KindSource, typ: "proget_upack",
			body: "url = \"https://p\"", summary: "Missing required argument", line: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decode(t, tc.kind, tc.typ, tc.body)
			var d *hcl.Diagnostic
			for _, x := range diags {
				if x.Severity == hcl.DiagError {
					d = x
					break
				}
			}
			if d == nil {
				t.Fatalf("no error for:\n%s", tc.body)
			}
			if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("diagnostic %q: %q, want %q containing %q", d.Summary, d.Detail, tc.summary, tc.detail)
			}
			if d.Subject == nil || d.Subject.Start.Line != tc.line {
				t.Errorf("diagnostic at %v, want line %d", d.Subject, tc.line)
			}
			if strings.Contains(diags.Error(), "s3cr3t") {
				t.Errorf("a diagnostic shows the key: %s", diags.Error())
			}
		})
	}
}

func TestTypesDeclareTheDeleteQuota(t *testing.T) {
	for _, typ := range []schema.Type{UpackDestinationType().Type, AssetDestinationType().Type} {
		if typ.Limits.DeletesPerHour != FreeDeletesPerHour {
			t.Errorf("%s: Limits.DeletesPerHour = %d, want ProGet Free's %d", typ.Name, typ.Limits.DeletesPerHour, FreeDeletesPerHour)
		}
	}
	if UpackSourceType().VersionOrder == nil {
		t.Error("the proget_upack source declares no version order: keep_last would rank versions bytewise")
	}
}

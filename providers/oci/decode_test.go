package oci

import (
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

func decodeDest(t *testing.T, src string) (*DestinationConfig, hcl.Diagnostics) {
	t.Helper()
	return schematest.Decode[DestinationConfig](t, DestinationType().Type, src, map[string]cty.Value{
		"host":   cty.StringVal("registry.internal:5000"),
		"secret": schematest.Sensitive("s3cret"),
	}, schema.DecodeEnv{Dir: "/work/cfg", Address: "destination.oci.internal"})
}

func TestDestinationType(t *testing.T) {
	pt := DestinationType()
	if pt.Kind != schema.KindDestination || pt.Name != "oci" || pt.Decode == nil {
		t.Errorf("DestinationType() = %+v, want a destination type named oci", pt)
	}
}

func TestDecode(t *testing.T) {
	const base = "repository = \"buildpack-deps\"\n"
	tests := []struct {
		src  string
		want DestinationConfig
	}{
		{"registry = \"ghcr.io\"\n" + base,
			DestinationConfig{Registry: "ghcr.io", Repository: "buildpack-deps", DockerConfig: true}},
		{"registry = var.host\nrepository = \"a/b.c/d__e/f---g\"\nplain_http = true\n",
			DestinationConfig{Registry: "registry.internal:5000", Repository: "a/b.c/d__e/f---g", PlainHTTP: true, DockerConfig: true}},
		{"registry = \"127.0.0.1:5000\"\n" + base + "username = \"ci\"\npassword = var.secret\ninsecure = true\n",
			DestinationConfig{Registry: "127.0.0.1:5000", Repository: "buildpack-deps", Insecure: true, Username: "ci", Password: "s3cret"}},
		{"registry = \"[::1]:5000\"\n" + base + "token = var.secret\n",
			DestinationConfig{Registry: "[::1]:5000", Repository: "buildpack-deps", Token: "s3cret"}},
		{"registry = \"localhost\"\n" + base + "docker_config = false\n",
			DestinationConfig{Registry: "localhost", Repository: "buildpack-deps"}},
		{"registry = \"localhost\"\n" + base + "token = \"t\"\ndocker_config = false\n",
			DestinationConfig{Registry: "localhost", Repository: "buildpack-deps", Token: "t"}},
		{"registry = \"localhost\"\nrepository = \"buildpack-deps/{key.0}\"\n",
			DestinationConfig{Registry: "localhost", Repository: "buildpack-deps/{key.0}", DockerConfig: true}},
		{"registry = \"localhost\"\nrepository = \"{key.0}-deps/{key.1}\"\n",
			DestinationConfig{Registry: "localhost", Repository: "{key.0}-deps/{key.1}", DockerConfig: true}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, diags := decodeDest(t, tt.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const reg = "registry = \"r.example\"\n"
	const repo = "repository = \"deps\"\n"
	tests := []struct{ src, want, at string }{
		{repo, "Missing required argument", ""},
		{reg, "Missing required argument", ""},
		{"registry = \"https://r.example\"\n" + repo, "Invalid registry", `"https://r.example"`},
		{"registry = \"r.example/deps\"\n" + repo, "Invalid registry", `"r.example/deps"`},
		{"registry = \"user@r.example\"\n" + repo, "Invalid registry", `"user@r.example"`},
		{"registry = \"r.example:\"\n" + repo, "Invalid registry", `"r.example:"`},
		{"registry = \"r.example:99999\"\n" + repo, "Invalid registry", `"r.example:99999"`},
		{"registry = \"\"\n" + repo, "Invalid registry", `""`},
		{"registry = var.secret\n" + repo, "Sensitive value not allowed", "var.secret"},
		{reg + "repository = \"Deps\"\n", "Invalid repository", `"Deps"`},
		{reg + "repository = \"deps/\"\n", "Invalid repository", `"deps/"`},
		{reg + "repository = \"-deps\"\n", "Invalid repository", `"-deps"`},
		{reg + "repository = \"a..b\"\n", "Invalid repository", `"a..b"`},
		{reg + "repository = \"a___b\"\n", "Invalid repository", `"a___b"`},
		{reg + "repository = \"" + strings.Repeat("a", 250) + "\"\n", "Repository name too long", ""},
		{reg + "repository = \"deps/{name}\"\n", "Invalid repository template", `"deps/{name}"`},
		{reg + "repository = \"deps/{key.x}\"\n", "Invalid repository template", `"deps/{key.x}"`},
		{reg + "repository = \"deps/{key.0\"\n", "Invalid repository template", `"deps/{key.0"`},
		{reg + "repository = \"deps/key.0}\"\n", "Invalid repository template", `"deps/key.0}"`},
		{reg + "repository = \"Deps/{key.0}\"\n", "Invalid repository template", `"Deps/{key.0}"`},
		{reg + "repository = \"deps//{key.0}\"\n", "Invalid repository template", `"deps//{key.0}"`},
		{reg + repo + "username = \"u\"\npassword = \"p\"\ntoken = \"t\"\n", "Conflicting credentials", "token"},
		{reg + repo + "username = \"u\"\n", "Incomplete credentials", "username"},
		{reg + repo + "password = var.secret\n", "Incomplete credentials", "password"},
		{reg + repo + "token = \"t\"\ndocker_config = true\n", "Conflicting credentials", "docker_config"},
		{reg + repo + "plain_http = \"maybe\"\n", "Incorrect attribute value type", ""},
		{reg + repo + "url = \"x\"\n", "Unsupported argument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, diags := decodeDest(t, tt.src)
			if len(diags) != 1 || diags[0].Summary != tt.want || diags[0].Subject == nil {
				t.Fatalf("diags = %v, want one %q with a Subject", diags, tt.want)
			}
			if tt.at != "" {
				lines := strings.Split(tt.src, "\n")
				r := diags[0].Subject
				line := lines[r.Start.Line-1]
				if got := line[r.Start.Column-1 : r.End.Column-1]; got != tt.at {
					t.Errorf("diagnostic at %q, want at %q", got, tt.at)
				}
			}
		})
	}
}

func TestDecodeInsecureWithPlainHTTPWarns(t *testing.T) {
	cfg, diags := decodeDest(t, "registry = \"r\"\nrepository = \"d\"\nplain_http = true\ninsecure = true\n")
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning {
		t.Fatalf("diags = %v, want one warning", diags)
	}
	if !cfg.PlainHTTP || !cfg.Insecure {
		t.Errorf("cfg = %+v", cfg)
	}
}

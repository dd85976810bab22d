package oci

import (
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

func decodeSrc(t *testing.T, src string) (*SourceConfig, hcl.Diagnostics) {
	t.Helper()
	return schematest.Decode[SourceConfig](t, SourceType().Type, src, map[string]cty.Value{
		"secret": schematest.Sensitive("s3cret"),
	}, schema.DecodeEnv{Dir: "/work/cfg", Address: "source.oci.upstream"})
}

func TestSourceType(t *testing.T) {
	pt := SourceType()
	if pt.Kind != schema.KindSource || pt.Name != "oci" || pt.Decode == nil {
		t.Errorf("SourceType() = %+v, want a source type named oci", pt)
	}
}

const srcBase = "registry = \"registry.example:5000\"\nrepository = \"library/app\"\n"

func TestDecodeSource(t *testing.T) {
	got, diags := decodeSrc(t, srcBase+`username = "ci"
password = var.secret
tags {
  exact  = ["1.2.3", "latest"]
  semver = ">= 1.2, < 2"
  regex  = "^nightly-"
  latest = 3
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &SourceConfig{
		DestinationConfig: DestinationConfig{Registry: "registry.example:5000", Repository: "library/app", Username: "ci", Password: "s3cret"},
		Tags:              TagFilter{Exact: []string{"1.2.3", "latest"}, Semver: ">= 1.2, < 2", Regex: "^nightly-", Latest: 3},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("decoded (-want +got):\n%s", d)
	}
	if _, err := NewSource("oci.upstream", got, provreg.Env{}); err != nil {
		t.Errorf("NewSource of a decoded config: %v", err)
	}
	got, diags = decodeSrc(t, srcBase+"max_tags = 500\ntags {\n  regex = \".\"\n}\n")
	if diags.HasErrors() || got.MaxTags != 500 {
		t.Errorf("max_tags = 500: MaxTags %d, %v", got.MaxTags, diags)
	}
	// The destination's rules apply: docker_config defaults on.
	got, diags = decodeSrc(t, srcBase+"tags {\n  regex = \".\"\n}\n")
	if diags.HasErrors() || !got.DockerConfig {
		t.Errorf("minimal source: %+v, %v", got, diags)
	}
}

func TestDecodeSourceErrors(t *testing.T) {
	tests := map[string]struct{ src, want string }{
		"no tags block":        {srcBase, "Missing tags block"},
		"two tags blocks":      {srcBase + "tags {\n regex = \"a\"\n}\ntags {\n regex = \"b\"\n}\n", "Duplicate tags block"},
		"empty tags":           {srcBase + "tags {\n}\n", "No tag selection"},
		"only latest":          {srcBase + "tags {\n latest = 2\n}\n", "No tag selection"},
		"bad regex":            {srcBase + "tags {\n regex = \"(\"\n}\n", "Invalid regular expression"},
		"lookahead regex":      {srcBase + "tags {\n regex = \"^(?!x)\"\n}\n", "Invalid regular expression"},
		"bad semver":           {srcBase + "tags {\n semver = \">= banana\"\n}\n", "Invalid semver constraint"},
		"blank semver":         {srcBase + "tags {\n semver = \" \"\n}\n", "Invalid semver constraint"},
		"latest zero":          {srcBase + "tags {\n semver = \">= 1\"\n latest = 0\n}\n", "Invalid latest"},
		"latest negative":      {srcBase + "tags {\n regex = \".\"\n latest = -1\n}\n", "Invalid latest"},
		"latest exact only":    {srcBase + "tags {\n exact = [\"a\"]\n latest = 1\n}\n", "latest needs semver or regex"},
		"invalid exact tag":    {srcBase + "tags {\n exact = [\"a/b\"]\n}\n", "Invalid tag"},
		"unknown tags attr":    {srcBase + "tags {\n regex = \".\"\n allow = [\"x\"]\n}\n", "Unsupported argument"},
		"bad repository":       {"registry = \"r.example\"\nrepository = \"Upper\"\ntags {\n regex = \".\"\n}\n", "Invalid repository"},
		"templated repository": {"registry = \"r.example\"\nrepository = \"a/{key.0}\"\ntags {\n regex = \".\"\n}\n", "Repository templates are for destinations"},
		"sensitive regex":      {srcBase + "tags {\n regex = var.secret\n}\n", "ensitive"},
		"incomplete creds":     {srcBase + "username = \"x\"\ntags {\n regex = \".\"\n}\n", "Incomplete credentials"},
		"conflicting creds":    {srcBase + "token = \"t\"\nusername = \"x\"\npassword = \"y\"\ntags {\n regex = \".\"\n}\n", "Conflicting credentials"},
		"missing registry":     {"repository = \"a\"\ntags {\n regex = \".\"\n}\n", "Missing required argument"},
		"latest not a number":  {srcBase + "tags {\n regex = \".\"\n latest = 1.5\n}\n", "whole number"},
		"max_tags zero":        {srcBase + "max_tags = 0\ntags {\n regex = \".\"\n}\n", "Invalid max_tags"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := decodeSrc(t, tt.src)
			if !diags.HasErrors() {
				t.Fatalf("no error, want %q", tt.want)
			}
			found := false
			for _, d := range diags {
				if strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					found = true
					if d.Subject == nil || d.Subject.Start.Line == 0 {
						t.Errorf("diagnostic %q has no range", d.Summary)
					}
				}
			}
			if !found {
				t.Errorf("diagnostics %v do not mention %q", diags, tt.want)
			}
		})
	}
}

func TestSelectTags(t *testing.T) {
	tags := []string{"1.0.0", "1.10.0", "1.9.0", "v1.2", "2", "latest", "1.2.0-rc.1", "nightly-9", "nightly-10"}
	tests := []struct {
		f    TagFilter
		want []string
	}{
		{TagFilter{Semver: ">= 1"}, []string{"1.0.0", "v1.2", "1.9.0", "1.10.0", "2"}},
		{TagFilter{Semver: ">= 1", Latest: 2}, []string{"1.10.0", "2"}},
		{TagFilter{Semver: "~1", Latest: 2}, []string{"1.9.0", "1.10.0"}},
		{TagFilter{Regex: "^nightly-", Latest: 1}, []string{"nightly-10"}},
		{TagFilter{Exact: []string{"latest", "missing"}, Regex: "^nightly-", Latest: 1}, []string{"latest", "nightly-10"}},
		{TagFilter{Exact: []string{"2"}, Semver: ">= 2"}, []string{"2"}},
		{TagFilter{Regex: "^x"}, []string{}},
	}
	for _, tt := range tests {
		sel, err := newTagSelector(tt.f)
		if err != nil {
			t.Fatal(err)
		}
		got := sel.selectTags(tags)
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%+v: (-want +got):\n%s", tt.f, d)
		}
	}
}

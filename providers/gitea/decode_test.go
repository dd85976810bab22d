package gitea

import (
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
)

func decodeConfig(t *testing.T, src string) (*CondaConfig, hcl.Diagnostics) {
	t.Helper()
	return schematest.Decode[CondaConfig](t, CondaDestinationType().Type, src, map[string]cty.Value{
		"token": schematest.Sensitive("0123456789abcdef"),
		"owner": schematest.Sensitive("platform"),
	}, schema.DecodeEnv{Dir: "/work/cfg", Address: "destination.gitea_conda.internal"})
}

func TestDecodeConda(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want CondaConfig
	}{
		{name: "token", src: "url = \"https://gitea.internal/\"\nowner = \"platform\"\nchannel = \"conda-forge\"\ntoken = var.token",
			want: CondaConfig{URL: "https://gitea.internal", Owner: "platform", Channel: "conda-forge", Token: "0123456789abcdef"}},
		{name: "root channel, basic auth, sub path", src: "url = \"http://127.0.0.1:3000/git\"\nowner = \"a.b-c_d\"\nusername = \"ci\"\npassword = var.token",
			want: CondaConfig{URL: "http://127.0.0.1:3000/git", Owner: "a.b-c_d", Username: "ci", Password: "0123456789abcdef"}},
		{name: "nested channel", src: "url = \"https://g\"\nowner = \"o\"\nchannel = \"team/tools\"\ntoken = \"t\"",
			want: CondaConfig{URL: "https://g", Owner: "o", Channel: "team/tools", Token: "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := decodeConfig(t, tt.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeCondaErrors(t *testing.T) {
	tests := []struct {
		name, src string
		// want is in the diagnostic's summary and detail; line the line
		// it points at.
		want string
		line int
	}{
		{name: "no credentials", src: "url = \"https://g\"\nowner = \"o\"", want: "Missing credentials", line: 1},
		{name: "url with credentials", src: "url = \"https://u:p@g\"\nowner = \"o\"\ntoken = \"t\"", want: "root URL", line: 1},
		{name: "registry url", src: "url = \"https://g/api/packages/o/conda\"\nowner = \"o\"\ntoken = \"t\"", want: "set owner and channel", line: 1},
		{name: "bad owner", src: "url = \"https://g\"\nowner = \"a/b\"\ntoken = \"t\"", want: "Invalid owner", line: 2},
		{name: "sensitive owner", src: "url = \"https://g\"\nowner = var.owner\ntoken = \"t\"", want: "sensitive", line: 2},
		{name: "dot-dot channel", src: "url = \"https://g\"\nowner = \"o\"\nchannel = \"a/../b\"\ntoken = \"t\"", want: "Invalid channel", line: 3},
		{name: "empty segment", src: "url = \"https://g\"\nowner = \"o\"\nchannel = \"a//b\"\ntoken = \"t\"", want: "Invalid channel", line: 3},
		{name: "subdir as channel", src: "url = \"https://g\"\nowner = \"o\"\nchannel = \"tools/linux-64\"\ntoken = \"t\"", want: "conda platform name", line: 3},
		{name: "token and password", src: "url = \"https://g\"\nowner = \"o\"\ntoken = \"t\"\nusername = \"u\"\npassword = \"p\"", want: "Conflicting credentials", line: 3},
		{name: "unknown attribute", src: "url = \"https://g\"\nowner = \"o\"\ntoken = \"t\"\nsubdir = \"x\"", want: "Unsupported argument", line: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeConfig(t, tt.src)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var found bool
			for _, d := range diags {
				if strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					found = true
					if d.Subject == nil || d.Subject.Filename != "main.ferry.hcl" || d.Subject.Start.Line != tt.line {
						t.Errorf("diagnostic %q points at %v, want main.ferry.hcl line %d", d.Summary, d.Subject, tt.line)
					}
				}
				if strings.Contains(d.Error(), "0123456789abcdef") {
					t.Errorf("diagnostic shows the token: %s", d.Error())
				}
			}
			if !found {
				t.Errorf("diagnostics %v do not mention %q", diags, tt.want)
			}
		})
	}
}

func TestCondaLocation(t *testing.T) {
	loc := func(url, channel string) providers.Location {
		return (&CondaConfig{URL: url, Owner: "o", Channel: channel}).Location()
	}
	if loc("https://g", "tools").Overlaps(loc("https://g", "tools/extra")) {
		t.Error("channels tools and tools/extra overlap; Gitea keeps them apart")
	}
	if !loc("https://g", "tools").Overlaps(loc("https://g:443", "tools")) {
		t.Error("one channel does not overlap itself")
	}
	if !providers.URLLocation("https://g/api/packages/o/").Overlaps(loc("https://g", "tools")) {
		t.Error("an http destination writing above the channel does not overlap it")
	}
}

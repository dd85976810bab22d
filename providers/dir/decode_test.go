package dir

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

func decodeDest(t *testing.T, src string) (*DestinationConfig, hcl.Diagnostics) {
	t.Helper()
	return schematest.Decode[DestinationConfig](t, DestinationType().Type, src, map[string]cty.Value{
		"root":   cty.StringVal("mirrors"),
		"secret": schematest.Sensitive("s"),
	}, schema.DecodeEnv{Dir: "/work/cfg", Address: "destination.dir.local"})
}

func TestDestinationType(t *testing.T) {
	pt := DestinationType()
	if pt.Kind != schema.KindDestination || pt.Name != "dir" || pt.Decode == nil {
		t.Errorf("DestinationType() = %+v, want a destination type named dir", pt)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct{ src, want string }{
		{`path = "mirror"`, "/work/cfg/mirror"},
		{`path = "./a/../b/"`, "/work/cfg/b"},
		{`path = "../elsewhere"`, "/work/elsewhere"},
		{`path = "${var.root}/x"`, "/work/cfg/mirrors/x"},
		{`path = "/srv//mirror/./x/.."`, "/srv/mirror"},
		{`path = "."`, "/work/cfg"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, diags := decodeDest(t, tt.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got.Path != tt.want {
				t.Errorf("Path = %q, want %q", got.Path, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{``, "Missing required argument"},
		{`path = ""`, "Invalid directory path"},
		{`path = var.secret`, "Sensitive value not allowed"},
		{`path = ["a"]`, "Incorrect attribute value type"},
		{"path = \"a\"\nroot = \"b\"", "Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, diags := decodeDest(t, tt.src)
			if len(diags) != 1 || diags[0].Summary != tt.want || diags[0].Subject == nil {
				t.Errorf("diags = %v, want one %q with a Subject", diags, tt.want)
			}
		})
	}
}

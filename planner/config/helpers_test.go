package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

func TestParseMaxAge(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "720h", want: 720 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "30d", want: 30 * 24 * time.Hour},
		{in: "1d", want: 24 * time.Hour},
		{in: "0d", wantErr: "greater than zero"},
		{in: "0", wantErr: "greater than zero"},
		{in: "-1h", wantErr: "greater than zero"},
		{in: "d", wantErr: "not a duration"},
		{in: "1.5d", wantErr: "not a duration"},
		{in: "-3d", wantErr: "not a duration"},
		{in: "30 days", wantErr: "not a duration"},
		{in: "", wantErr: "not a duration"},
		{in: "99999999999999d", wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMaxAge(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseMaxAge(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseMaxAge(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// attr parses "name = expr" into an attribute.
func attr(t *testing.T, src string) *hcl.Attribute {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() || len(attrs) != 1 {
		t.Fatalf("want one attribute: %v", diags)
	}
	for _, a := range attrs {
		return a
	}
	return nil
}

func testEvalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
			"plain":   cty.StringVal("p"),
			"secret":  cty.StringVal("s").Mark(schema.SensitiveMark),
			"n":       cty.NumberIntVal(3),
			"invalid": cty.DynamicVal,
		})},
		Functions: functions(dir, map[string]string{"HOME_DIR": "/home/x", "EMPTY": ""}),
	}
}

func TestDecodeString(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("from file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin"), []byte{0xff, 0xfe}, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src           string
		want          string
		wantSensitive bool
		wantSummary   string
	}{
		{src: `a = "x"`, want: "x"},
		{src: `a = 12`, want: "12"},
		{src: `a = "${var.plain}-${var.n}"`, want: "p-3"},
		{src: `a = "u:${var.secret}"`, want: "u:s", wantSensitive: true},
		{src: `a = upper(var.secret)`, want: "S", wantSensitive: true},
		{src: `a = sensitive("lit")`, want: "lit", wantSensitive: true},
		{src: `a = env("HOME_DIR")`, want: "/home/x"},
		{src: `a = env("EMPTY", "d")`, want: ""},
		{src: `a = env("UNSET", "d")`, want: "d"},
		{src: `a = format("%s-%d", "v", 2)`, want: "v-2"},
		{src: `a = join("/", ["a", "b"])`, want: "a/b"},
		{src: `a = replace("a.b", ".", "-")`, want: "a-b"},
		{src: `a = lower(trimspace("  X "))`, want: "x"},
		{src: `a = file("f.txt")`, want: "from file\n"},
		{src: `a = file("bin")`, wantSummary: "Invalid function argument"},
		{src: `a = env("UNSET")`, wantSummary: "Invalid function argument"},
		{src: `a = env("A", "b", "c")`, wantSummary: "Invalid function argument"},
		{src: `a = file("nope")`, wantSummary: "Invalid function argument"},
		{src: `a = var.plian`, wantSummary: "Reference to undeclared input variable"},
		{src: `a = nope.x`, wantSummary: "Unknown variable"},
		{src: `a = null`, wantSummary: "Invalid argument value"},
		{src: `a = ["x"]`, wantSummary: "Incorrect attribute value type"},
		{src: `a = "${var.invalid}"`, wantSummary: "Value depends on an invalid variable"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, sensitive, diags := schema.DecodeString(attr(t, tt.src), testEvalContext(dir))
			if tt.wantSummary != "" {
				if len(diags) != 1 || diags[0].Summary != tt.wantSummary || diags[0].Subject == nil {
					t.Fatalf("diags = %v, want one %q with a Subject", diags, tt.wantSummary)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got != tt.want || sensitive != tt.wantSensitive {
				t.Errorf("DecodeString() = %q, %v; want %q, %v", got, sensitive, tt.want, tt.wantSensitive)
			}
		})
	}
}

func TestDecodeNumbersBoolsLists(t *testing.T) {
	ectx := testEvalContext(t.TempDir())
	if n, diags := schema.DecodeInt(attr(t, `a = var.n + 1`), ectx); diags.HasErrors() || n != 4 {
		t.Errorf("DecodeInt = %d, %v; want 4", n, diags)
	}
	if n, diags := schema.DecodeInt(attr(t, `a = "12"`), ectx); diags.HasErrors() || n != 12 {
		t.Errorf("DecodeInt(\"12\") = %d, %v; want 12", n, diags)
	}
	if b, diags := schema.DecodeBool(attr(t, `a = true`), ectx); diags.HasErrors() || !b {
		t.Errorf("DecodeBool = %v, %v; want true", b, diags)
	}
	l, diags := schema.DecodeStringList(attr(t, `a = ["a", var.plain, 3]`), ectx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diff := cmp.Diff([]string{"a", "p", "3"}, l); diff != "" {
		t.Errorf("DecodeStringList mismatch (-want +got):\n%s", diff)
	}
	if l, diags := schema.DecodeStringList(attr(t, `a = []`), ectx); diags.HasErrors() || l == nil || len(l) != 0 {
		t.Errorf("DecodeStringList([]) = %#v, %v; want empty non-nil", l, diags)
	}

	for _, tt := range []struct {
		name, summary string
		decode        func(*hcl.Attribute) hcl.Diagnostics
		src           string
	}{
		{"int fraction", "Invalid argument value", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeInt(a, ectx); return d }, `a = 1.5`},
		{"int huge", "Invalid argument value", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeInt(a, ectx); return d }, `a = 1e30`},
		{"int sensitive", "Sensitive value not allowed", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeInt(a, ectx); return d }, `a = sensitive(1)`},
		{"bool string", "Incorrect attribute value type", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeBool(a, ectx); return d }, `a = "yes"`},
		{"bool sensitive", "Sensitive value not allowed", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeBool(a, ectx); return d }, `a = sensitive(true)`},
		{"list sensitive element", "Sensitive value not allowed", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeStringList(a, ectx); return d }, `a = ["x", var.secret]`},
		{"list of lists", "Incorrect attribute value type", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodeStringList(a, ectx); return d }, `a = [["x"]]`},
		{"plain string sensitive", "Sensitive value not allowed", func(a *hcl.Attribute) hcl.Diagnostics { _, d := schema.DecodePlainString(a, ectx); return d }, `a = var.secret`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			diags := tt.decode(attr(t, tt.src))
			if len(diags) != 1 || diags[0].Summary != tt.summary || diags[0].Subject == nil {
				t.Errorf("diags = %v, want one %q with a Subject", diags, tt.summary)
			}
		})
	}
}

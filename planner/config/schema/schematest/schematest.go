// Package schematest decodes provider blocks for the providers' own tests:
// parse an HCL body, evaluate it with some variables, decode it with a
// type's Decode and check what it returned.
package schematest

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// Filename is the file name the decoded body's diagnostics point into.
const Filename = "main.ferry.hcl"

// Sensitive marks v as a sensitive variable's value.
func Sensitive(v string) cty.Value { return cty.StringVal(v).Mark(schema.SensitiveMark) }

// Decode parses src as a block body in Filename, evaluates it with vars as
// var.NAME, decodes it with typ's Decode under env and returns the decoded
// settings as a *C (failing the test when Decode returns anything else).
// A syntax error in src fails the test.
func Decode[C any](t testing.TB, typ schema.Type, src string, vars map[string]cty.Value, env schema.DecodeEnv) (*C, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), Filename, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if vars == nil {
		vars = map[string]cty.Value{}
	}
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}}
	got, diags := typ.Decode(f.Body, ectx, env)
	cfg, ok := got.(*C)
	if !ok || cfg == nil {
		var want *C
		t.Fatalf("Decode returned %T, want %T", got, want)
	}
	return cfg, diags
}

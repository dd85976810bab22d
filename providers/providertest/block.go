package providertest

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// Block is one provider block decoded the way config.Load decodes it: its
// registered type, its address ("http.tools") and the settings the type's
// Decode returned.
type Block struct {
	Type     registry.Type
	Addr     string
	Settings any
}

// DecodeBlock parses src, one `source "TYPE" "NAME" { … }` or
// `destination "TYPE" "NAME" { … }` block, finds TYPE in all.Types() (the
// one list the CLI reads) and decodes the body with that type's Decode.
// Relative paths resolve against dir. It fails t on any diagnostic, so a
// conformance run also proves the block decodes.
func DecodeBlock(t testing.TB, src, dir string) Block {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "providertest.ferry.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("providertest: parsing the block: %s", diags.Error())
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok || len(body.Blocks) != 1 || len(body.Attributes) != 0 {
		t.Fatalf("providertest: want exactly one source or destination block, got:\n%s", src)
	}
	b := body.Blocks[0]
	kind := schema.Kind(b.Type)
	if (kind != schema.KindSource && kind != schema.KindDestination) || len(b.Labels) != 2 {
		t.Fatalf("providertest: want `source \"TYPE\" \"NAME\"` or `destination \"TYPE\" \"NAME\"`, got %s %q", b.Type, b.Labels)
	}
	typ, ok := registry.Find(all.Types(), kind, b.Labels[0])
	if !ok {
		t.Fatalf("providertest: %s type %q is not in all.Types()", kind, b.Labels[0])
	}
	addr := b.Labels[0] + "." + b.Labels[1]
	settings, diags := typ.Decode(b.Body, &hcl.EvalContext{}, schema.DecodeEnv{
		Dir:       dir,
		Address:   string(kind) + "." + addr,
		DeclRange: b.DefRange(),
	})
	if diags.HasErrors() {
		t.Fatalf("providertest: decoding %s.%s: %s", kind, addr, diags.Error())
	}
	return Block{Type: typ, Addr: addr, Settings: settings}
}

// NewSource builds the source src declares (see DecodeBlock) through the
// registry, with env.
func NewSource(t testing.TB, src, dir string, env registry.Env) providers.Source {
	t.Helper()
	b := DecodeBlock(t, src, dir)
	s, err := b.Type.NewSource(b.Addr, b.Settings, env)
	if err != nil {
		t.Fatalf("providertest: building source %s: %v", b.Addr, err)
	}
	return s
}

// NewDestination builds the destination src declares (see DecodeBlock)
// through the registry, with env.
func NewDestination(t testing.TB, src, dir string, env registry.Env) providers.Destination {
	t.Helper()
	b := DecodeBlock(t, src, dir)
	d, err := b.Type.NewDestination(b.Addr, b.Settings, env)
	if err != nil {
		t.Fatalf("providertest: building destination %s: %v", b.Addr, err)
	}
	return d
}

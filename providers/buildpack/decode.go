package buildpack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// SourceType is the "buildpack" source type for config.Load:
//
//	source "buildpack" "node_engine" {
//	  file = "buildpacks/node-engine/buildpack.toml"   # or the directory holding it
//	  include {
//	    ids      = ["node"]
//	    versions = ">= 20"
//	    stacks   = ["io.buildpacks.stacks.jammy"]
//	    targets  = ["linux/amd64"]
//	  }
//	  exclude { versions = "< 20.10" }
//	  latest  = 2        # newest N versions per dependency id
//	  sources = true     # also mirror the source tarballs
//	  layout  = "dependency_mirror"  # keys HOST/PATH instead of ID/VERSION/SHA256/FILE
//	}
func SourceType() registry.Type {
	t := registry.Source("buildpack", decodeSource, NewSource)
	t.Provides = schema.ConsumerOutputs
	return t
}

func sourceSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "file", Required: true},
			{Name: "latest"},
			{Name: "sources"},
			{Name: "layout"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "include"}, {Type: "exclude"}},
	}
}

func filterSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "ids"},
		{Name: "versions"},
		{Name: "stacks"},
		{Name: "targets"},
	}}
}

func decodeSource(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*SourceConfig, hcl.Diagnostics) {
	cfg := &SourceConfig{Dir: env.Dir}
	content, diags := body.Content(sourceSchema())
	if attr := content.Attributes["file"]; attr != nil {
		p, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if !filepath.IsAbs(p) {
				p = filepath.Join(env.Dir, p)
			}
			p = filepath.Clean(p)
			// A directory means the buildpack.toml inside it. A missing file is
			// a plan-time error (the file may be generated), not a config one.
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				p = filepath.Join(p, "buildpack.toml")
			}
			cfg.File = p
		}
	}
	if attr := content.Attributes["latest"]; attr != nil {
		n, moreDiags := schema.DecodeInt(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if n < 1 {
				diags = append(diags, schema.AttrError(attr, "Invalid latest count", fmt.Sprintf("latest keeps the newest N versions of each dependency id and must be at least 1; got %d. Remove it to keep every version.", n)))
			} else {
				cfg.Latest = int(n)
			}
		}
	}
	if attr := content.Attributes["sources"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		cfg.Sources = v
	}
	cfg.Layout = LayoutDigest
	if attr := content.Attributes["layout"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		switch {
		case moreDiags.HasErrors():
		case s == LayoutDigest || s == LayoutDependencyMirror:
			cfg.Layout = s
		default:
			diags = append(diags, schema.AttrError(attr, "Invalid key layout", fmt.Sprintf("layout is %q (keys ID/VERSION/CHECKSUM/FILE, the default) or %q (keys HOST/PATH of the original uri, "+
				"so BP_DEPENDENCY_MIRROR works without rewriting); got %q.", LayoutDigest, LayoutDependencyMirror, s)))
		}
	}
	for _, kind := range []string{"include", "exclude"} {
		blocks := content.Blocks.OfType(kind)
		for i, b := range blocks {
			if i > 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate " + kind + " block",
					Detail:   fmt.Sprintf("A buildpack source has at most one %s block; the first is at %s. Merge them.", kind, blocks[0].DefRange),
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			f, moreDiags := decodeFilter(b, ectx)
			diags = append(diags, moreDiags...)
			if kind == "include" {
				cfg.Include = f
			} else {
				cfg.Exclude = f
			}
		}
	}
	return cfg, diags
}

func decodeFilter(b *hcl.Block, ectx *hcl.EvalContext) (*Filter, hcl.Diagnostics) {
	f := &Filter{}
	content, diags := b.Body.Content(filterSchema())
	list := func(name string) []string {
		attr := content.Attributes[name]
		if attr == nil {
			return nil
		}
		l, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		return l
	}
	f.IDs = list("ids")
	f.Stacks = list("stacks")
	f.Targets = list("targets")
	for _, name := range []string{"ids", "stacks", "targets"} {
		if attr := content.Attributes[name]; attr != nil {
			if l, _ := schema.DecodeStringList(attr, ectx); len(l) == 0 {
				diags = append(diags, schema.AttrError(attr, "Empty "+name+" list", fmt.Sprintf("An empty %s list matches nothing in an exclude and everything in an include; remove the attribute instead.", name)))
			}
		}
	}
	if attr := content.Attributes["targets"]; attr != nil {
		for _, t := range f.Targets {
			if os, arch, ok := strings.Cut(t, "/"); !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
				diags = append(diags, schema.AttrError(attr, "Invalid target", fmt.Sprintf("A target is \"os/arch\", like \"linux/amd64\"; %q is not.", t)))
			}
		}
	}
	if attr := content.Attributes["versions"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			c, err := semver.NewConstraint(s)
			if err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid version constraint", fmt.Sprintf("versions is a semver constraint such as \">= 20, < 23\" or \"~1.7\": %s.", err)))
			} else {
				f.Versions, f.VersionsRaw = c, s
			}
		}
	}
	if len(content.Attributes) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty " + b.Type + " block",
			Detail:   "Set at least one of ids, versions, stacks or targets, or remove the block.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	return f, diags
}

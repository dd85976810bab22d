package buildpack

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// MirrorConfig is what the rewrite and bindings blocks of a mirror reading
// from a buildpack source say: which consumer outputs ReadOutputs reads
// and PlanOutputs plans.
type MirrorConfig struct {
	// Rewrite, if set, points a buildpack.toml's uris at the mirror.
	Rewrite *RewriteConfig
	// Bindings, if set, writes a dependency-mapping binding for the mirror.
	Bindings *BindingsConfig
}

// RewriteConfig is a mirror's rewrite {} block.
type RewriteConfig struct {
	// Output is the absolute path of the rewritten file; it may be the
	// source file itself (in place).
	Output string
	// Sources also rewrites each dependency's source (tarball) URL when the
	// source mirrors it.
	Sources bool
}

// BindingsConfig is a mirror's bindings {} block: a Paketo
// dependency-mapping binding directory mapping each mirrored dependency's
// checksum to its mirror URL.
type BindingsConfig struct {
	// Path is the absolute binding directory.
	Path string
}

// mirrorBlocks are the blocks a mirror from a buildpack source may hold.
func mirrorBlocks() []schema.MirrorBlock {
	return []schema.MirrorBlock{
		{Name: "rewrite", Purpose: "points a buildpack.toml's dependency uris at the mirror", Summary: "Rewrite needs a source with consumer outputs"},
		{Name: "bindings", Purpose: "maps buildpack dependency checksums to the mirror", Summary: "Bindings need a source with consumer outputs"},
	}
}

// decodeMirror decodes a mirror's rewrite and bindings blocks, at most one
// of each. Relative paths resolve against the configuration directory.
func decodeMirror(blocks hcl.Blocks, ectx *hcl.EvalContext, env schema.DecodeEnv) (*MirrorConfig, hcl.Diagnostics) {
	mc := &MirrorConfig{}
	var diags hcl.Diagnostics
	for _, kind := range []string{"rewrite", "bindings"} {
		of := blocks.OfType(kind)
		for _, b := range of[min(1, len(of)):] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", kind),
				Detail:   fmt.Sprintf("A %s block for mirror %q was already declared at %s. A mirror has at most one %s block.", kind, strings.TrimPrefix(env.Address, "mirror."), of[0].DefRange, kind),
				Subject:  b.DefRange.Ptr(),
			})
		}
		if len(of) == 0 {
			continue
		}
		var moreDiags hcl.Diagnostics
		switch kind {
		case "rewrite":
			mc.Rewrite, moreDiags = decodeRewrite(of[0], ectx, env.Dir)
		case "bindings":
			mc.Bindings, moreDiags = decodeBindings(of[0], ectx, env.Dir)
		}
		diags = append(diags, moreDiags...)
	}
	return mc, diags
}

func decodeRewrite(b *hcl.Block, ectx *hcl.EvalContext, dir string) (*RewriteConfig, hcl.Diagnostics) {
	rw := &RewriteConfig{}
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "output", Required: true},
		{Name: "sources"},
	}})
	if attr := content.Attributes["output"]; attr != nil {
		path, ok, moreDiags := decodePath(attr, ectx, dir, "Empty rewrite output",
			"output is the path of the rewritten buildpack.toml (the source file itself to rewrite in place).")
		diags = append(diags, moreDiags...)
		if ok {
			rw.Output = path
		}
	}
	if attr := content.Attributes["sources"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		rw.Sources = v
	}
	return rw, diags
}

func decodeBindings(b *hcl.Block, ectx *hcl.EvalContext, dir string) (*BindingsConfig, hcl.Diagnostics) {
	bd := &BindingsConfig{}
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}}})
	if attr := content.Attributes["path"]; attr != nil {
		path, ok, moreDiags := decodePath(attr, ectx, dir, "Empty bindings path",
			"path is the binding directory ferry writes (a type file and one file per dependency checksum).")
		diags = append(diags, moreDiags...)
		if ok {
			bd.Path = path
		}
	}
	return bd, diags
}

// decodePath reads a non-blank path argument, resolved against dir when
// relative and cleaned; a blank one is an error with summary and detail.
// The path is not looked at here: ReadOutputs and Publish refuse symbolic
// links when they read and write it.
func decodePath(attr *hcl.Attribute, ectx *hcl.EvalContext, dir, summary, detail string) (path string, ok bool, diags hcl.Diagnostics) {
	s, diags := schema.DecodePlainString(attr, ectx)
	switch {
	case diags.HasErrors():
		return "", false, diags
	case strings.TrimSpace(s) == "":
		return "", false, append(diags, schema.AttrError(attr, summary, detail))
	}
	path = s
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return filepath.Clean(path), true, diags
}

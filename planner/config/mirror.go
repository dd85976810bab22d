package config

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

func mirrorSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "from", Required: true},
			{Name: "to", Required: true},
			{Name: "on_upstream_removed"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "retention"}, {Type: "rewrite"}, {Type: "bindings"}},
	}
}

func rewriteSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "output", Required: true},
		{Name: "sources"},
	}}
}

func retentionSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "keep_last"},
		{Name: "max_age"},
		{Name: "keep"},
		{Name: "max_deletes"},
		{Name: "dry_run"},
	}}
}

// decodeMirror decodes a mirror block. declared holds the addresses
// ("TYPE.NAME") of every source and destination block, valid or not;
// types are the accepted types, whose declared capabilities judge the
// pairing of the mirror's source and destination.
//
// The *Range fields of Retention cover the whole argument (name = value),
// since later diagnostics about them (a plan exceeding max_deletes) concern
// the rule rather than a bad value; From and To ranges cover the reference.
func decodeMirror(b *hcl.Block, ectx *hcl.EvalContext, declared map[schema.Kind]map[string]hcl.Range, types []schema.Type, dir string) (*Mirror, hcl.Diagnostics) {
	m := &Mirror{Name: b.Labels[0], DeclRange: b.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(m.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid mirror name",
			Detail: fmt.Sprintf("%q is not a valid mirror name: a name must start with a letter or underscore "+
				"and may contain only letters, digits, underscores and dashes.", m.Name),
			Subject: b.LabelRanges[0].Ptr(),
		})
	}
	content, moreDiags := b.Body.Content(mirrorSchema())
	diags = append(diags, moreDiags...)

	if attr := content.Attributes["from"]; attr != nil {
		m.FromRange = attr.Expr.Range()
		addr, moreDiags := decodeReference(attr, schema.KindSource, declared)
		diags = append(diags, moreDiags...)
		m.From = addr
	}
	if attr := content.Attributes["to"]; attr != nil {
		m.ToRange = attr.Expr.Range()
		addr, moreDiags := decodeReference(attr, schema.KindDestination, declared)
		diags = append(diags, moreDiags...)
		m.To = addr
	}

	srcType, dstType := typeOf(types, schema.KindSource, m.From), typeOf(types, schema.KindDestination, m.To)
	diags = append(diags, checkPairing(m, srcType, dstType, types)...)
	if attr := content.Attributes["on_upstream_removed"]; attr != nil {
		v, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		switch p := UpstreamRemovedPolicy(v); {
		case moreDiags.HasErrors():
		case p != RemovedDelete && p != RemovedKeep && p != RemovedDeprecate:
			diags = append(diags, schema.AttrError(attr, "Invalid on_upstream_removed", fmt.Sprintf("on_upstream_removed is \"delete\" (the default), \"keep\" or \"deprecate\", not %q.", v)))
		case p == RemovedDeprecate && dstType != nil && !dstType.Provides.Has(schema.PackageMetadata):
			diags = append(diags, schema.AttrError(attr, "deprecate needs a destination with package metadata", fmt.Sprintf("Only a registry with package metadata can mark a version deprecated; mirror %q writes to %s, and a destination %q has none.%s",
				m.Name, m.To, dstType.Name, providedBy(types, schema.KindDestination, schema.PackageMetadata))))
		default:
			m.OnUpstreamRemoved = p
		}
	}

	var seen *hcl.Range
	for _, rb := range content.Blocks.OfType("retention") {
		if seen != nil {
			diags = append(diags, duplicate("retention", fmt.Sprintf("A retention block for mirror %q", m.Name), *seen, rb,
				"A mirror has at most one retention block; merge the two."))
			continue
		}
		seen = rb.DefRange.Ptr()
		diags = append(diags, decodeRetention(rb, ectx, &m.Retention)...)
	}
	// rewrite and bindings point a source's consumer outputs (a
	// buildpack.toml) at the mirror: at most one of each, and only when the
	// mirror's source type provides consumer outputs.
	outputBlock := func(kind, summary, what string) *hcl.Block {
		blocks := content.Blocks.OfType(kind)
		for _, b := range blocks[min(1, len(blocks)):] {
			diags = append(diags, duplicate(kind, fmt.Sprintf("A %s block for mirror %q", kind, m.Name), blocks[0].DefRange, b,
				fmt.Sprintf("A mirror has at most one %s block.", kind)))
		}
		if len(blocks) == 0 {
			return nil
		}
		if srcType != nil && !srcType.Provides.Has(schema.ConsumerOutputs) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  summary,
				Detail: fmt.Sprintf("A %s block %s, so the mirror's source must provide consumer outputs; mirror %q reads from %s, and a source %q provides none.%s",
					kind, what, m.Name, m.From, srcType.Name, providedBy(types, schema.KindSource, schema.ConsumerOutputs)),
				Subject: blocks[0].DefRange.Ptr(),
			})
			return nil
		}
		return blocks[0]
	}
	if b := outputBlock("rewrite", "Rewrite needs a source with consumer outputs", "points a buildpack.toml's dependency uris at the mirror"); b != nil {
		rw, moreDiags := decodeRewrite(b, ectx, dir)
		diags = append(diags, moreDiags...)
		m.Rewrite = rw
	}
	if b := outputBlock("bindings", "Bindings need a source with consumer outputs", "maps buildpack dependency checksums to the mirror"); b != nil {
		bd, moreDiags := decodeBindings(b, ectx, dir)
		diags = append(diags, moreDiags...)
		m.Bindings = bd
	}
	return m, diags
}

// typeOf is the accepted type of the provider at addr ("TYPE.NAME"), or nil
// when addr is empty or its type is not accepted (Load reports both).
func typeOf(types []schema.Type, kind schema.Kind, addr string) *schema.Type {
	name, _, ok := strings.Cut(addr, ".")
	if !ok {
		return nil
	}
	for i := range types {
		if types[i].Kind == kind && types[i].Name == name && types[i].Decode != nil {
			return &types[i]
		}
	}
	return nil
}

// checkPairing reports, at the mirror's to, what either side needs that
// its partner does not provide (an npm destination fed by an http source;
// an oci source, whose images are graphs, writing to a dir). Nothing is
// reported while either side's type is unknown.
func checkPairing(m *Mirror, src, dst *schema.Type, types []schema.Type) hcl.Diagnostics {
	if src == nil || dst == nil {
		return nil
	}
	var diags hcl.Diagnostics
	if missing := dst.Needs &^ src.Provides; missing != 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incompatible source and destination",
			Detail: fmt.Sprintf("A destination %q needs a source that provides %s; mirror %q reads from %s, and a source %q does not provide them.%s",
				dst.Name, missing, m.Name, m.From, src.Name, providedBy(types, schema.KindSource, missing)),
			Subject: m.ToRange.Ptr(),
		})
	}
	if missing := src.Needs &^ dst.Provides; missing != 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incompatible source and destination",
			Detail: fmt.Sprintf("A source %q needs a destination that takes %s; mirror %q writes to %s, and a destination %q does not.%s",
				src.Name, missing, m.Name, m.To, dst.Name, providedBy(types, schema.KindDestination, missing)),
			Subject: m.ToRange.Ptr(),
		})
	}
	return diags
}

// providedBy is a sentence naming the types of kind that provide every
// capability in c, or "" when none does.
func providedBy(types []schema.Type, kind schema.Kind, c schema.Capabilities) string {
	var names []string
	for _, t := range types {
		if t.Kind == kind && t.Provides.Has(c) && !slices.Contains(names, t.Name) {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return fmt.Sprintf(" %s types that provide %s: %s.", strings.ToUpper(string(kind[:1]))+string(kind[1:]), c, quotedList(names))
}

func decodeBindings(b *hcl.Block, ectx *hcl.EvalContext, dir string) (*Bindings, hcl.Diagnostics) {
	bd := &Bindings{DeclRange: b.DefRange}
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}}})
	if attr := content.Attributes["path"]; attr != nil {
		written, path, ok, moreDiags := decodePath(attr, ectx, dir, "Empty bindings path",
			"path is the binding directory ferry writes (a type file and one file per dependency checksum).")
		diags = append(diags, moreDiags...)
		if ok {
			bd.PathAsWritten, bd.Path = written, path
		}
	}
	return bd, diags
}

// decodePath reads a non-blank path argument, resolved against dir when
// relative and cleaned; a blank one is an error with summary and detail.
func decodePath(attr *hcl.Attribute, ectx *hcl.EvalContext, dir, summary, detail string) (written, path string, ok bool, diags hcl.Diagnostics) {
	s, diags := schema.DecodePlainString(attr, ectx)
	switch {
	case diags.HasErrors():
		return "", "", false, diags
	case strings.TrimSpace(s) == "":
		return "", "", false, append(diags, schema.AttrError(attr, summary, detail))
	}
	path = s
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return s, filepath.Clean(path), true, diags
}

func decodeRewrite(b *hcl.Block, ectx *hcl.EvalContext, dir string) (*Rewrite, hcl.Diagnostics) {
	rw := &Rewrite{DeclRange: b.DefRange}
	content, diags := b.Body.Content(rewriteSchema())
	if attr := content.Attributes["output"]; attr != nil {
		written, path, ok, moreDiags := decodePath(attr, ectx, dir, "Empty rewrite output",
			"output is the path of the rewritten buildpack.toml (the source file itself to rewrite in place).")
		diags = append(diags, moreDiags...)
		if ok {
			rw.OutputAsWritten, rw.Output, rw.OutputRange = written, path, attr.Expr.Range()
		}
	}
	if attr := content.Attributes["sources"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		rw.Sources = v
	}
	return rw, diags
}

// decodeReference reads from/to as a static traversal KIND.TYPE.NAME (it is
// never evaluated) and returns "TYPE.NAME".
func decodeReference(attr *hcl.Attribute, kind schema.Kind, declared map[schema.Kind]map[string]hcl.Range) (string, hcl.Diagnostics) {
	example := "source.http.tools"
	if kind == schema.KindDestination {
		example = "destination.dir.local"
	}
	invalid := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s reference", kind),
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	tr, diags := hcl.AbsTraversalForExpr(attr.Expr)
	if diags.HasErrors() {
		return "", invalid(fmt.Sprintf("The %s argument must be a reference to a %s block, like %s, written without quotes.",
			attr.Name, kind, example))
	}
	var parts []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		default:
			return "", invalid(fmt.Sprintf("The %s argument must have the form %s.TYPE.NAME, like %s; index steps are not allowed.",
				attr.Name, kind, example))
		}
	}
	if len(parts) != 3 || parts[0] != string(kind) {
		detail := fmt.Sprintf("The %s argument must refer to a %s block as %s.TYPE.NAME, like %s.", attr.Name, kind, kind, example)
		if (parts[0] == string(schema.KindSource) || parts[0] == string(schema.KindDestination)) && parts[0] != string(kind) {
			detail += fmt.Sprintf(" %s refers to a %s.", strings.Join(parts, "."), parts[0])
		}
		return "", invalid(detail)
	}
	addr := parts[1] + "." + parts[2]
	if _, ok := declared[kind][addr]; !ok {
		names := make([]string, 0, len(declared[kind]))
		for a := range declared[kind] {
			names = append(names, a)
		}
		slices.Sort(names)
		detail := fmt.Sprintf("A %s %q %q has not been declared.", kind, parts[1], parts[2])
		if s := schema.NameSuggestion(addr, names); s != "" {
			detail += fmt.Sprintf(" Did you mean %s.%s?", kind, s)
		} else if len(names) > 0 {
			detail += fmt.Sprintf(" The declared %ss are %s.", kind, quotedList(names))
		}
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Reference to undeclared %s", kind),
			Detail:   detail,
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	return addr, nil
}

func decodeRetention(b *hcl.Block, ectx *hcl.EvalContext, r *Retention) hcl.Diagnostics {
	r.DeclRange = b.DefRange
	content, diags := b.Body.Content(retentionSchema())

	if attr := content.Attributes["keep_last"]; attr != nil {
		n, moreDiags := schema.DecodeInt(attr, ectx)
		diags = append(diags, moreDiags...)
		switch {
		case moreDiags.HasErrors():
		case n < 1:
			diags = append(diags, schema.AttrError(attr, "Invalid retention count", fmt.Sprintf("keep_last is the number of newest versions kept per package and must be at least 1; "+
				"got %d. Remove it to keep every version.", n)))
		default:
			r.KeepLast, r.KeepLastRange = int(n), attr.Range
		}
	}
	if attr := content.Attributes["max_age"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			d, err := parseMaxAge(s)
			if err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid max_age duration", fmt.Sprintf("max_age %s. Use a Go duration such as \"720h\" or a whole number of days "+
					"such as \"30d\".", err)))
			} else {
				r.MaxAge, r.MaxAgeRange = d, attr.Range
			}
		}
	}
	if attr := content.Attributes["keep"]; attr != nil {
		keep, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			r.Keep, r.KeepRange = keep, attr.Range
		}
	}
	if attr := content.Attributes["max_deletes"]; attr != nil {
		n, ok, moreDiags := decodeMaxDeletes(attr, ectx)
		diags = append(diags, moreDiags...)
		if ok {
			r.MaxDeletes, r.MaxDeletesRange = &n, attr.Range
		}
	}
	if attr := content.Attributes["dry_run"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		r.DryRun = v
	}
	return diags
}

// parseMaxAge parses a Go duration ("720h", "90m") or a whole number of
// days ("30d"); the result must be positive. Errors complete the sentence
// "max_age …".
func parseMaxAge(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && strings.Trim(days, "0123456789") == "" {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be greater than zero; got %q", s)
	}
	return d, nil
}

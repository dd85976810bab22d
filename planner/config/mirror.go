package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// mirrorSchema declares, besides retention, every block an accepted type
// declares for mirrors, so that a block the mirror's own types do not take
// gets a diagnostic naming the types that do, rather than HCL's
// "Unsupported block type".
func mirrorSchema(types []schema.Type) *hcl.BodySchema {
	s := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "from", Required: true},
			{Name: "to", Required: true},
			{Name: "on_upstream_removed"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "retention"}},
	}
	for _, t := range types {
		for _, mb := range t.MirrorBlocks {
			if !slices.ContainsFunc(s.Blocks, func(h hcl.BlockHeaderSchema) bool { return h.Type == mb.Name }) {
				s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: mb.Name})
			}
		}
	}
	return s
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
	content, moreDiags := b.Body.Content(mirrorSchema(types))
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
	diags = append(diags, decodeMirrorBlocks(m, content.Blocks, ectx, srcType, dstType, types, dir)...)
	return m, diags
}

// decodeMirrorBlocks decodes a mirror's blocks other than retention: the
// settings of its consumer outputs, which belong to its source's type when
// that declares mirror blocks, else to its destination's. Blocks the owner
// declares go to its DecodeMirror, the result to m.Outputs; any other is an
// error at the block. Nothing is judged while either type is unknown (Load
// reports that).
func decodeMirrorBlocks(m *Mirror, blocks hcl.Blocks, ectx *hcl.EvalContext, src, dst *schema.Type, types []schema.Type, dir string) hcl.Diagnostics {
	if src == nil || dst == nil {
		return nil
	}
	var owner *schema.Type
	for _, t := range []*schema.Type{src, dst} {
		if len(t.MirrorBlocks) > 0 && t.DecodeMirror != nil {
			owner = t
			break
		}
	}
	var diags hcl.Diagnostics
	var owned hcl.Blocks
	for _, b := range blocks {
		switch {
		case b.Type == "retention":
		case owner != nil && slices.ContainsFunc(owner.MirrorBlocks, func(mb schema.MirrorBlock) bool { return mb.Name == b.Type }):
			owned = append(owned, b)
		default:
			diags = append(diags, notTaken(m, b, src, dst, owner, types))
		}
	}
	if len(owned) == 0 {
		return diags
	}
	settings, moreDiags := owner.DecodeMirror(owned, ectx, schema.DecodeEnv{Dir: dir, Address: "mirror." + m.Name, DeclRange: m.DeclRange})
	diags = append(diags, moreDiags...)
	m.Outputs = &MirrorOutputs{Side: owner.Kind, Settings: settings}
	for _, b := range owned {
		m.Outputs.Blocks = append(m.Outputs.Blocks, BlockRange{Type: b.Type, DeclRange: b.DefRange})
	}
	return diags
}

// notTaken is the diagnostic for block b in mirror m, declared by some
// accepted type but not by the owner of m's consumer outputs.
func notTaken(m *Mirror, b *hcl.Block, src, dst, owner *schema.Type, types []schema.Type) *hcl.Diagnostic {
	var decl schema.MirrorBlock
	var takers []string
	kinds := map[schema.Kind]bool{}
	for _, t := range types {
		i := slices.IndexFunc(t.MirrorBlocks, func(mb schema.MirrorBlock) bool { return mb.Name == b.Type })
		if i < 0 {
			continue
		}
		if decl.Name == "" {
			decl = t.MirrorBlocks[i]
		}
		if taker := fmt.Sprintf("%s %q", t.Kind, t.Name); !slices.Contains(takers, taker) {
			takers = append(takers, taker)
		}
		kinds[t.Kind] = true
	}
	slices.Sort(takers)
	side := "source or destination"
	if len(kinds) == 1 {
		for k := range kinds {
			side = string(k)
		}
	}
	summary := decl.Summary
	if summary == "" {
		summary = fmt.Sprintf("A %s block needs a %s that takes it", b.Type, side)
	}
	purpose := ""
	if decl.Purpose != "" {
		purpose = " " + decl.Purpose
	}
	why := fmt.Sprintf("mirror %q reads from %s and writes to %s, and neither a source %q nor a destination %q takes one", m.Name, m.From, m.To, src.Name, dst.Name)
	if owner != nil {
		why = fmt.Sprintf("the consumer outputs of mirror %q belong to its %s %s, and a %s %q takes no %s block", m.Name, owner.Kind, map[schema.Kind]string{schema.KindSource: m.From, schema.KindDestination: m.To}[owner.Kind], owner.Kind, owner.Name, b.Type)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail: fmt.Sprintf("A %s block%s, so the mirror's %s must provide consumer outputs that take it; %s. Types that take it: %s.",
			b.Type, purpose, side, why, strings.Join(takers, ", ")),
		Subject: b.DefRange.Ptr(),
	}
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

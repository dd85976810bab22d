package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/diff"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack/bptoml"
)

// planRewrite plans the rewrite of a mirror's buildpack.toml: every uri (and,
// with sources = true, every source) of a dependency whose artifact will be
// at the destination is pointed at the destination's URL for it. Nothing else
// in the file changes. No change is planned when the output already says so.
func (b *builder) planRewrite(m *config.Mirror) hcl.Diagnostics {
	in, ok := b.inv.Rewrites[m.Name]
	if !ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Rewrite not inventoried",
			Detail:   fmt.Sprintf("The inventory has no rewrite input for mirror %q.", m.Name),
			Subject:  m.Rewrite.DeclRange.Ptr(),
		}}
	}
	file, err := bptoml.Parse([]byte(in.InputData))
	if err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot rewrite the buildpack file",
			Detail:   fmt.Sprintf("%s: %s", in.Input, err),
			Subject:  m.Rewrite.DeclRange.Ptr(),
		}}
	}
	present := b.present[m.Name]
	var edits []plan.RewriteEdit
	var missingURL []string
	for _, d := range file.Dependencies {
		keys := in.Keys[d.Index]
		fields := []struct{ name, key, old string }{{"uri", keys.URI, d.URI}}
		if m.Rewrite.Sources {
			fields = append(fields, struct{ name, key, old string }{"source", keys.Source, d.Source})
		}
		for _, f := range fields {
			if f.key == "" || !present[f.key] {
				continue
			}
			url, ok := in.URLs[f.key]
			if !ok {
				missingURL = append(missingURL, f.key)
				continue
			}
			if f.old == url {
				continue
			}
			edits = append(edits, plan.RewriteEdit{
				Index: d.Index, Line: d.Line, ID: d.ID, Version: d.Version, Arch: d.Arch,
				Field: f.name, Key: f.key, Old: f.old, New: url,
			})
		}
	}
	if len(missingURL) > 0 {
		detail := in.URLError
		if detail == "" {
			detail = fmt.Sprintf("no URL is known for %s", strings.Join(missingURL, ", "))
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Destination gives no download URL",
			Detail:   fmt.Sprintf("Mirror %q rewrites %s, which needs the URL each dependency is served from at %s: %s.", m.Name, in.Output, m.To, detail),
			Subject:  m.Rewrite.DeclRange.Ptr(),
		}}
	}

	bpEdits := make([]bptoml.Edit, len(edits))
	for i, e := range edits {
		bpEdits[i] = bptoml.Edit{Index: e.Index, Field: e.Field, New: e.New}
	}
	desired := []byte(in.InputData)
	if len(edits) > 0 {
		if desired, err = file.Rewrite(bpEdits); err != nil {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot rewrite the buildpack file",
				Detail:   fmt.Sprintf("%s: %s", in.Input, err),
				Subject:  m.Rewrite.DeclRange.Ptr(),
			}}
		}
	}

	inPlace := in.Output == in.Input
	var current []byte
	switch {
	case inPlace:
		current = []byte(in.InputData)
	case in.OutputExists:
		current = []byte(in.OutputData)
	}
	if current != nil && bytes.Equal(current, desired) {
		return nil
	}

	c := plan.Change{
		Address:     plan.RewriteAddress(m.Name, in.Output),
		Mirror:      m.Name,
		Key:         in.Output,
		Action:      plan.Rewrite,
		Reason:      plan.URIPointsUpstream,
		Source:      m.From,
		Destination: m.To,
		After:       &plan.Object{Size: int64(len(desired)), Digests: providers.NewDigests(sha256Digest(desired))},
		Rewrite: &plan.RewriteDetail{
			Path:        in.Output,
			Input:       in.Input,
			InputDigest: sha256Digest([]byte(in.InputData)),
			Edits:       edits,
		},
	}
	if edits == nil {
		c.Rewrite.Edits = []plan.RewriteEdit{}
	}
	from := current
	if current == nil {
		c.Reason = plan.OutputMissing
		from = []byte(in.InputData)
	} else {
		c.Before = &plan.Object{Size: int64(len(current)), Digests: providers.NewDigests(sha256Digest(current))}
	}
	deps := map[string]bool{}
	for _, e := range edits {
		deps[e.Key] = true
	}
	c.Rewrite.DependsOn = sortedKeys(deps)
	c.Rewrite.Diff, c.Rewrite.Changed = lineDiff(in.Output, from, desired)
	if c.Rewrite.Changed < 0 {
		c.Rewrite.Changed = len(edits)
	}
	b.changes = append(b.changes, c)
	return nil
}

// lineDiff renders a unified diff of only the changed lines when both sides
// have the same number of lines (the rewrite never adds or removes lines),
// and counts them; otherwise a regular unified diff with context, and -1.
func lineDiff(name string, from, to []byte) (string, int) {
	a, bb := strings.SplitAfter(string(from), "\n"), strings.SplitAfter(string(to), "\n")
	if len(a) != len(bb) {
		return string(diff.Diff(name, from, name+" (rewritten)", to)), -1
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s (rewritten)\n", name, name)
	n := 0
	for i := range a {
		if a[i] == bb[i] {
			continue
		}
		n++
		fmt.Fprintf(&out, "@@ -%d +%d @@\n-%s\n+%s\n", i+1, i+1, strings.TrimRight(a[i], "\r\n"), strings.TrimRight(bb[i], "\r\n"))
	}
	return out.String(), n
}

func sha256Digest(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

// notes turns what sources could not mirror into warnings on the mirrors
// reading them, once per source.
func (b *builder) notes() hcl.Diagnostics {
	var diags hcl.Diagnostics
	srcs := make([]string, 0, len(b.inv.Notes))
	for s := range b.inv.Notes {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		var subject *hcl.Range
		for _, name := range sortedKeys(b.cfg.Mirrors) {
			if m := b.cfg.Mirrors[name]; m.From == src {
				subject = m.FromRange.Ptr()
				break
			}
		}
		if subject == nil {
			continue
		}
		notes := slices.Clone(b.inv.Notes[src])
		for _, n := range notes {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Not mirrored",
				Detail:   fmt.Sprintf("Source %s: %s", src, n),
				Subject:  subject,
			})
		}
	}
	return diags
}

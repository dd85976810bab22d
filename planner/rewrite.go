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
		Address:     plan.RewriteAddress(m.Name, plan.KindBuildpackTOML, in.Output),
		Mirror:      m.Name,
		Key:         in.Output,
		Action:      plan.Rewrite,
		Reason:      plan.URIPointsUpstream,
		Source:      m.From,
		Destination: m.To,
		After:       &plan.Object{Size: int64(len(desired)), Digests: providers.NewDigests(sha256Digest(desired))},
		Rewrite: &plan.RewriteDetail{
			Kind:        plan.KindBuildpackTOML,
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

// bindingName is the file name of a dependency-mapping entry: the bare hex
// for sha256 (what packit and libpak both accept), ALG_HEX otherwise.
func bindingName(d providers.Digest) string {
	if d.Algorithm == providers.SHA256 {
		return d.Hex
	}
	return string(d.Algorithm) + "_" + d.Hex
}

// isMappingName reports whether a file in a binding directory is a mapping
// entry ferry may own (a digest name), as opposed to a file someone else put there.
func isMappingName(name string) bool {
	for _, prefix := range []string{"", "sha256_", "sha256:", "sha512_", "sha512:"} {
		if hx, ok := strings.CutPrefix(name, prefix); ok && (len(hx) == 64 || len(hx) == 128) && strings.Trim(hx, "0123456789abcdef") == "" {
			return true
		}
	}
	return false
}

// planBindings plans the dependency-mapping binding: a type file and, per
// mirrored dependency, a file named by its checksum holding its mirror URL.
// Mapping files of dependencies no longer mirrored are removed; files that
// are not mapping entries are left alone.
func (b *builder) planBindings(m *config.Mirror) hcl.Diagnostics {
	in, ok := b.inv.Rewrites[m.Name]
	if !ok {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bindings not inventoried", Detail: fmt.Sprintf("The inventory has no bindings input for mirror %q.", m.Name), Subject: m.Bindings.DeclRange.Ptr()}}
	}
	file, err := bptoml.Parse([]byte(in.InputData))
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the buildpack file", Detail: fmt.Sprintf("%s: %s", in.Input, err), Subject: m.Bindings.DeclRange.Ptr()}}
	}
	present := b.present[m.Name]
	desired := map[string]plan.OutputFile{"type": {Name: "type", Content: "dependency-mapping"}}
	var missingURL []string
	for _, d := range file.Dependencies {
		key := in.Keys[d.Index].URI
		if key == "" || !present[key] || d.Checksum.IsZero() {
			continue
		}
		url, ok := in.URLs[key]
		if !ok {
			missingURL = append(missingURL, key)
			continue
		}
		name := bindingName(d.Checksum)
		desired[name] = plan.OutputFile{Name: name, Content: url, Key: key}
	}
	if len(missingURL) > 0 {
		detail := in.URLError
		if detail == "" {
			detail = "no URL is known for " + strings.Join(missingURL, ", ")
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Destination gives no download URL",
			Detail:  fmt.Sprintf("Mirror %q writes bindings to %s, which needs the URL each dependency is served from at %s: %s.", m.Name, in.Bindings, m.To, detail),
			Subject: m.Bindings.DeclRange.Ptr()}}
	}

	var files []plan.OutputFile
	var remove []string
	var diffLines []string
	deps := map[string]bool{}
	for _, name := range sortedKeys(desired) {
		f := desired[name]
		if cur, ok := in.BindingFiles[name]; ok && cur == f.Content {
			continue
		}
		files = append(files, f)
		if f.Key != "" {
			deps[f.Key] = true
		}
		if cur, ok := in.BindingFiles[name]; ok {
			diffLines = append(diffLines, fmt.Sprintf("-%s: %s", name, cur))
		}
		diffLines = append(diffLines, fmt.Sprintf("+%s: %s", name, f.Content))
	}
	for _, name := range sortedKeys(in.BindingFiles) {
		if _, keep := desired[name]; !keep && isMappingName(name) {
			remove = append(remove, name)
			diffLines = append(diffLines, fmt.Sprintf("-%s: %s", name, in.BindingFiles[name]))
		}
	}
	if len(files) == 0 && len(remove) == 0 {
		return nil
	}
	reason := plan.URIPointsUpstream
	if in.BindingFiles == nil {
		reason = plan.OutputMissing
	}
	c := plan.Change{
		Address:     plan.RewriteAddress(m.Name, plan.KindBindings, in.Bindings),
		Mirror:      m.Name,
		Key:         in.Bindings,
		Action:      plan.Rewrite,
		Reason:      reason,
		Source:      m.From,
		Destination: m.To,
		After:       &plan.Object{Size: int64(len(desired))},
		Rewrite: &plan.RewriteDetail{
			Kind:        plan.KindBindings,
			Path:        in.Bindings,
			Input:       in.Input,
			InputDigest: sha256Digest([]byte(in.InputData)),
			Edits:       []plan.RewriteEdit{},
			Files:       files,
			Remove:      remove,
			DependsOn:   sortedKeys(deps),
			Changed:     len(files) + len(remove),
			Diff:        "--- " + in.Bindings + " (binding files: name: content)\n" + strings.Join(diffLines, "\n") + "\n",
		},
	}
	b.changes = append(b.changes, c)
	return nil
}

// coverage lists the dependencies a BP_DEPENDENCY_MIRROR consumer would not
// find at the mirror.
func (b *builder) coverage(m *config.Mirror, in RewriteInput) plan.Coverage {
	cov := plan.Coverage{Mirror: m.Name, Gaps: []plan.CoverageGap{}}
	if in.MirrorBase != "" {
		cov.Setting = "BP_DEPENDENCY_MIRROR=" + in.MirrorBase + "/{originalHost}"
		if !strings.HasPrefix(in.MirrorBase, "https://") && !strings.HasPrefix(in.MirrorBase, "file://") {
			cov.Note = "buildpacks accept only https:// and file:// dependency mirrors; serve the destination over https"
		}
	}
	file, err := bptoml.Parse([]byte(in.InputData))
	if err != nil {
		return cov
	}
	present := b.present[m.Name]
	for _, d := range file.Dependencies {
		k, selected := in.Keys[d.Index]
		reason := ""
		switch {
		case !selected:
			reason = "not selected by the source's include, exclude or latest"
		case k.URI == "":
			reason = "not mirrored (see the warnings)"
		case !present[k.URI]:
			reason = "dropped by retention, or in error"
		}
		if reason == "" {
			cov.Covered++
			continue
		}
		cov.Gaps = append(cov.Gaps, plan.CoverageGap{ID: d.ID, Version: d.Version, Arch: d.Arch, Line: d.Line, URI: d.URI, Reason: reason})
	}
	return cov
}

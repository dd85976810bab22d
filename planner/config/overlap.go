package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/providers"
)

// checkOverlaps refuses destination blocks that store into the same place:
// the same or nested directories, the same registry repository, nested URL
// paths on one origin — whatever each destination's settings report as a
// providers.Location. Each mirror owns objects by key in its destination
// block, so with two blocks on one place, removing one mirror deletes files
// the other still owns. One diagnostic per overlapping pair, on the block
// declared later, naming the other's position.
func checkOverlaps(dests map[string]*Destination) hcl.Diagnostics {
	type located struct {
		d   *Destination
		loc providers.Location
	}
	var all []located
	for _, d := range dests {
		if l, ok := d.Settings.(providers.Locator); ok {
			all = append(all, located{d, l.Location()})
		}
	}
	slices.SortFunc(all, func(a, b located) int { return compareRanges(a.d.DeclRange, b.d.DeclRange) })
	var diags hcl.Diagnostics
	for i, b := range all {
		for _, a := range all[:i] {
			if !a.loc.Overlaps(b.loc) {
				continue
			}
			rel := "the same place as"
			switch {
			case len(b.loc.Prefix) > len(a.loc.Prefix):
				rel = "inside"
			case len(b.loc.Prefix) < len(a.loc.Prefix):
				rel = "which contains"
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Overlapping destinations",
				Detail: fmt.Sprintf("Destination %s stores into %s, %s %s of destination %s (declared at %s). "+
					"Each mirror owns the objects it wrote through its own destination block, so removing one mirror would delete files the other still owns and mirrors. "+
					"Give each destination a place of its own, or point both mirrors at one destination block (mirrors sharing one destination block are told apart).",
					b.d.Addr(), b.loc, rel, a.loc, a.d.Addr(), pos(a.d.DeclRange)),
				Subject: b.d.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

// pos is "file:line:col" of r's start.
func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func compareRanges(a, b hcl.Range) int {
	if a.Filename != b.Filename {
		if a.Filename < b.Filename {
			return -1
		}
		return 1
	}
	return a.Start.Byte - b.Start.Byte
}

package plan

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// ReasonText is the human form of a change's reason.
func (c *Change) ReasonText() string {
	var s string
	switch c.Reason {
	case NewInSource:
		s = "new in source"
	case AlreadyAtDestination:
		s = "already at destination with the expected digest; recorded, not transferred"
	case MissingAtDestination:
		s = "missing at destination"
	case ChangedAtDestination:
		s = "changed at destination"
	case UpstreamChanged:
		s = "upstream changed its digest"
	case ReplaceRequested:
		s = "replace requested"
	case RetentionKeepLast, RetentionMaxAge:
		s = "retention"
	case RemovedFromSource:
		s = "removed from source"
	case MirrorRemovedFromConfig:
		s = "mirror removed from config"
	case MovedToMirror:
		s = "moved to another mirror; state only, the object stays"
	case URIPointsUpstream:
		s = "uri points upstream"
	case OutputMissing:
		s = "output missing"
	case NoLongerSelected:
		s = "no longer selected; the upstream still has it"
	case DistTagsBehind:
		s = "dist-tags differ from the upstream"
	case KeptRemovedFromSource:
		s = "removed upstream; kept by on_upstream_removed"
	default:
		s = c.Reason.String()
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	if c.DestinationChanged {
		s += "; changed at destination since ferry wrote it"
	}
	return s
}

// FormatBytes renders n in IEC units with one decimal ("42.1 MiB", "512 B").
func FormatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// Plural renders "1 artifact", "2 artifacts".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// SummaryLine is the one-line summary ending every plan. Its wording is a
// public interface: scripts grep for it.
func (p *Plan) SummaryLine() string {
	s := p.Summary
	if !s.Changed() {
		line := fmt.Sprintf("No changes. %s up to date.", Plural(s.NoOp, "artifact"))
		if s.DryRunDelete > 0 {
			line += fmt.Sprintf(" %s shown as dry run, not executed.", Plural(s.DryRunDelete, "delete"))
		}
		return line
	}
	line := fmt.Sprintf("Plan: %d to add, %d to replace, %d to delete", s.Add, s.Replace, s.Delete)
	if s.DryRunDelete > 0 {
		line += fmt.Sprintf(" (+%d dry run, not executed)", s.DryRunDelete)
	}
	if s.Forget > 0 {
		line += fmt.Sprintf(", %d to forget", s.Forget)
	}
	if s.Rewrite > 0 {
		line += fmt.Sprintf(", %d to rewrite", s.Rewrite)
	}
	if s.Update > 0 {
		line += fmt.Sprintf(", %d to update", s.Update)
	}
	line += ". " + FormatBytes(s.TransferBytes) + " to transfer"
	if s.UnknownSizes > 0 {
		line += fmt.Sprintf(" (+%d of unknown size)", s.UnknownSizes)
	}
	return line + "."
}

// WriteText renders the human plan.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if !p.Refreshed {
		b.WriteString("Note: -refresh=false: the destination was not checked; the plan trusts the state.\n\n")
	}
	if len(p.Changes) > 0 {
		addrW, sizeW := 0, 0
		for i := range p.Changes {
			c := &p.Changes[i]
			addrW = max(addrW, len(c.Address))
			sizeW = max(sizeW, len(sizeColumn(c)))
		}
		b.WriteString("ferry will perform the following actions:\n\n")
		for i := range p.Changes {
			c := &p.Changes[i]
			sym := c.Action.Symbol()
			if c.DryRun {
				sym = "(-)"
			}
			fmt.Fprintf(&b, "  %-3s %-*s  %*s  (%s)", sym, addrW, c.Address, sizeW, sizeColumn(c), c.ReasonText())
			if c.DryRun {
				b.WriteString(" [dry run: not executed]")
			}
			b.WriteString("\n")
			if c.Package != nil {
				for _, line := range c.Package.lines() {
					b.WriteString("        " + line + "\n")
				}
			}
			if c.Rewrite != nil && c.Rewrite.Diff != "" {
				for _, line := range strings.Split(strings.TrimSuffix(c.Rewrite.Diff, "\n"), "\n") {
					b.WriteString("        " + line + "\n")
				}
			}
		}
		b.WriteString("\n")
	}
	for _, cov := range p.Coverage {
		fmt.Fprintf(&b, "Dependency mirror layout of mirror.%s: %d covered", cov.Mirror, cov.Covered)
		if cov.Setting != "" {
			fmt.Fprintf(&b, "; consumers set %s", cov.Setting)
		}
		b.WriteString("\n")
		if cov.Note != "" {
			fmt.Fprintf(&b, "  Note: %s.\n", cov.Note)
		}
		if len(cov.Gaps) > 0 {
			fmt.Fprintf(&b, "  Not covered (a build that needs one fails to download it): %d\n", len(cov.Gaps))
			for _, g := range cov.Gaps {
				arch := ""
				if g.Arch != "" {
					arch = " (" + g.Arch + ")"
				}
				fmt.Fprintf(&b, "    %s %s%s, line %d: %s\n", g.ID, g.Version, arch, g.Line, g.Reason)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(p.SummaryLine())
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fields is how many tags and deprecations the update changes.
func (d *PackageDetail) fields() int {
	return len(d.SetTags) + len(d.RemoveTags) + len(d.Deprecate)
}

// lines describe an update: one per tag and deprecation, sorted.
func (d *PackageDetail) lines() []string {
	var out []string
	for _, tag := range slices.Sorted(maps.Keys(d.SetTags)) {
		before := d.TagsBefore[tag]
		if before == "" {
			before = "(none)"
		}
		out = append(out, fmt.Sprintf("dist-tag %s: %s -> %s", tag, before, d.SetTags[tag]))
	}
	for _, tag := range slices.Sorted(maps.Keys(d.RemoveTags)) {
		out = append(out, fmt.Sprintf("dist-tag %s: %s -> (removed: the upstream moved it to %s, which this mirror does not have)",
			tag, d.TagsBefore[tag], d.RemoveTags[tag]))
	}
	for _, v := range slices.Sorted(maps.Keys(d.Deprecate)) {
		out = append(out, fmt.Sprintf("deprecate %s: %q", v, d.Deprecate[v]))
	}
	return out
}

func sizeColumn(c *Change) string {
	if c.Action == Update && c.Package != nil {
		return Plural(c.Package.fields(), "field")
	}
	if c.Action == Rewrite && c.Rewrite != nil && c.Rewrite.Kind == KindBindings {
		return Plural(c.Rewrite.Changed, "file")
	}
	if c.Action == Rewrite && c.Rewrite != nil {
		return Plural(c.Rewrite.Changed, "uri")
	}
	if !c.Transfers() {
		return ""
	}
	if c.After == nil || c.After.Size < 0 {
		return "size unknown"
	}
	return FormatBytes(c.After.Size)
}

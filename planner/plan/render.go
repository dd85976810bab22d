package plan

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
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
	case OutputOutOfDate:
		s = "consumer output out of date"
		if c.Output != nil && c.Output.Reason != "" {
			s = c.Output.Reason
		}
	case NoLongerSelected:
		s = "no longer selected; the upstream still has it"
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
	for _, verb := range slices.Sorted(maps.Keys(s.Publish)) {
		line += fmt.Sprintf(", %d to %s", s.Publish[verb], verb)
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
			if c.Output != nil && c.Output.Diff != "" {
				for _, line := range strings.Split(strings.TrimSuffix(c.Output.Diff, "\n"), "\n") {
					b.WriteString("        " + line + "\n")
				}
			}
		}
		b.WriteString("\n")
	}
	for _, r := range p.Reports {
		b.WriteString(strings.TrimSuffix(r.Text, "\n"))
		b.WriteString("\n\n")
	}
	if len(p.DeleteQuotas) > 0 {
		b.WriteString("Delete quotas (apply leaves what would wait longer than -max-delete-wait for the next apply):\n")
		for _, q := range p.DeleteQuotas {
			fmt.Fprintf(&b, "  destination.%s: %s\n", q.Destination, q.Text())
		}
		b.WriteString("\n")
	}
	if len(p.DeleteNotes) > 0 {
		b.WriteString("What the deletes do:\n")
		for _, n := range p.DeleteNotes {
			fmt.Fprintf(&b, "  destination.%s: %s: %s\n", n.Destination, Plural(n.Deletes, "delete"), n.Note)
		}
		b.WriteString("\n")
	}
	b.WriteString(p.SummaryLine())
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Text is "N deletes, at most M per hour: about T".
func (q DeleteQuota) Text() string {
	s := fmt.Sprintf("%s, at most %d per hour: ", Plural(q.Deletes, "delete"), q.PerHour)
	if q.WaitSeconds <= 0 {
		return s + "all within the quota now"
	}
	return s + "about " + FormatWait(time.Duration(q.WaitSeconds)*time.Second)
}

// FormatWait renders a wait for people, rounded up to the minute: "2h",
// "1h5m", "40m", "1m".
func FormatWait(d time.Duration) string {
	m := int64((max(d, 0) + time.Minute - 1) / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%dm", m)
	case m%60 == 0:
		return fmt.Sprintf("%dh", m/60)
	}
	return fmt.Sprintf("%dh%dm", m/60, m%60)
}

func sizeColumn(c *Change) string {
	if c.Action == Publish && c.Output != nil {
		return Plural(c.Output.Count, c.Output.Unit)
	}
	if !c.Transfers() {
		return ""
	}
	if c.After == nil || c.After.Size < 0 {
		return "size unknown"
	}
	return FormatBytes(c.After.Size)
}

// Verb is what the change does, in a word: the output's verb for a publish
// change ("rewrite"), the action's name otherwise.
func (c *Change) Verb() string {
	if c.Action == Publish && c.Output != nil && c.Output.Verb != "" {
		return c.Output.Verb
	}
	return c.Action.String()
}

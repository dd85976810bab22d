package plan

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// DefaultMarkdownLimit keeps a markdown plan under GitHub's comment limit
// (65,536 characters) with room for a bot's own header and footer.
const DefaultMarkdownLimit = 60000

// MarkdownOptions shape WriteMarkdown.
type MarkdownOptions struct {
	// Limit is the most bytes written (bytes, not characters: a safe
	// bound for a limit counted in characters); <= 0 means
	// DefaultMarkdownLimit.
	Limit int
	// PlanFile names the saved plan in the truncation note ("ferry show
	// PLANFILE" shows all of it); empty means "PLANFILE".
	PlanFile string
}

// collapseAfter is how many changes are listed before the list is
// collapsed into a <details> block.
const collapseAfter = 10

// WriteMarkdown renders the plan as a pull-request comment: warnings
// first, the summary line, a table per mirror, the changes (collapsed
// when long), consumer-output diffs (collapsed), delete quotas and notes,
// the providers' reports. Past opts.Limit it leaves out changes, then
// diffs, then reports, and says what it left out and how to see it all.
// Like WriteText it renders only the plan, which holds no secrets.
func (p *Plan) WriteMarkdown(w io.Writer, opts MarkdownOptions) error {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultMarkdownLimit
	}
	planFile := opts.PlanFile
	if planFile == "" {
		planFile = "PLANFILE"
	}

	var cut []string // what was left out, for the truncation note
	var head strings.Builder
	head.WriteString("### ferry plan\n\n")
	if warns := p.warnings(); len(warns) > 0 {
		head.WriteString("> [!WARNING]\n")
		for _, wl := range warns {
			head.WriteString("> - " + wl + "\n")
		}
		head.WriteString("\n")
	}
	head.WriteString("**" + mdText(p.SummaryLine()) + "**\n\n")
	// The table gets half the limit at most: thousands of mirrors must
	// not crowd out everything else, or the limit.
	p.mirrorTable(&head, limit/2, &cut)

	var tail strings.Builder
	if len(p.DeleteQuotas) > 0 {
		tail.WriteString("#### Delete quotas\n\nApply leaves what would wait longer than `-max-delete-wait` for the next apply.\n\n")
		for _, q := range p.DeleteQuotas {
			tail.WriteString("- " + mdCode("destination."+q.Destination) + ": " + mdText(q.Text()) + "\n")
		}
		tail.WriteString("\n")
	}
	if len(p.DeleteNotes) > 0 {
		tail.WriteString("#### What the deletes do\n\n")
		for _, n := range p.DeleteNotes {
			tail.WriteString("- " + mdCode("destination."+n.Destination) + ": " + mdText(Plural(n.Deletes, "delete")+": "+n.Note) + "\n")
		}
		tail.WriteString("\n")
	}
	foot := fmt.Sprintf("<sub>ferry %s · plan format %s · state serial %d · %s</sub>\n",
		mdText(p.ToolVersion), mdText(p.FormatVersion), p.PriorState.Serial, p.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))

	// What is left of the budget goes, in order, to the list of changes,
	// the output diffs and the reports; the room for the truncation note
	// is kept back.
	const noteRoom = 600
	budget := limit - head.Len() - tail.Len() - len(foot) - noteRoom

	var changes strings.Builder
	if len(p.Changes) > 0 {
		rows := make([]string, len(p.Changes))
		for i := range p.Changes {
			rows[i] = changeRow(&p.Changes[i])
		}
		const tableHead = "| | Address | Size | Reason |\n|---|---|---:|---|\n"
		open, closing := "#### Changes\n\n", "\n"
		if len(rows) > collapseAfter {
			open = fmt.Sprintf("#### Changes\n\n<details><summary>%s</summary>\n\n", Plural(len(rows), "change"))
			closing = "\n</details>\n\n"
		}
		shown := fitRows(rows, budget-len(open)-len(tableHead)-len(closing)-120)
		if shown > 0 {
			changes.WriteString(open + tableHead)
			for _, r := range rows[:shown] {
				changes.WriteString(r)
			}
			if shown < len(rows) {
				fmt.Fprintf(&changes, "\n_…and %d more, not shown._\n", len(rows)-shown)
			}
			changes.WriteString(closing)
		}
		if shown < len(rows) {
			cut = append(cut, fmt.Sprintf("%d of %d changes", len(rows)-shown, len(rows)))
		}
		budget -= changes.Len()
	}

	var diffBlocks, reportBlocks []string
	for i := range p.Changes {
		if c := &p.Changes[i]; c.Output != nil && c.Output.Diff != "" {
			diffBlocks = append(diffBlocks, diffBlock(c))
		}
	}
	for _, r := range p.Reports {
		reportBlocks = append(reportBlocks, fmt.Sprintf("<details><summary>%s</summary>\n\n%s\n</details>\n\n",
			htmlCode("mirror."+r.Mirror), mdFence("text", r.Text)))
	}
	diffs := fitSection("#### Consumer outputs\n\n", diffBlocks, "consumer-output diffs", &budget, &cut)
	reports := fitSection("#### Reports\n\n", reportBlocks, "reports", &budget, &cut)

	var b strings.Builder
	b.WriteString(head.String())
	if len(cut) > 0 {
		note := fmt.Sprintf("> [!NOTE]\n> Truncated to fit a comment: %s not shown. See the whole plan with %s.\n\n",
			strings.Join(cut, ", "), mdCode("ferry show "+planFile))
		if len(note) > noteRoom {
			note = fmt.Sprintf("> [!NOTE]\n> Truncated to fit a comment. See the whole plan with %s.\n\n", mdCode("ferry show"))
		}
		b.WriteString(note)
	}
	b.WriteString(changes.String())
	b.WriteString(diffs)
	b.WriteString(tail.String())
	b.WriteString(reports)
	b.WriteString(foot)
	_, err := io.WriteString(w, b.String())
	return err
}

// warnings are what a reviewer must see before anything else.
func (p *Plan) warnings() []string {
	var out []string
	if !p.Refreshed {
		out = append(out, "`-refresh=false`: the destination was not checked; the plan trusts the state.")
	}
	if len(p.Targets) > 0 || len(p.Excludes) > 0 {
		out = append(out, "`-target`/`-exclude` in effect: the plan covers only part of the configuration.")
	}
	var changed, drift int
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == Delete && c.DestinationChanged && !c.DryRun {
			changed++
		}
		if c.Reason.Drift() {
			drift++
		}
	}
	if changed > 0 {
		out = append(out, Plural(changed, "delete")+" of owned objects changed at the destination since ferry wrote them (allowed by `-allow-delete`): bytes ferry did not write are destroyed.")
	}
	if drift > 0 {
		out = append(out, Plural(drift, "artifact")+" drifted at the destination (missing, or other bytes than ferry wrote).")
	}
	if s := p.Summary; s.Delete > 0 {
		out = append(out, Plural(s.Delete, "delete")+" planned.")
	}
	return out
}

// mirrorTable writes one row per mirror the plan changes, counted as the
// plan's summary is, in at most budget bytes; what it leaves out it adds
// to *cut.
func (p *Plan) mirrorTable(b *strings.Builder, budget int, cut *[]string) {
	per := map[string]*Plan{}
	for _, c := range p.Changes {
		if per[c.Mirror] == nil {
			per[c.Mirror] = &Plan{}
		}
		per[c.Mirror].Changes = append(per[c.Mirror].Changes, c)
	}
	if len(per) == 0 {
		return
	}
	const tableHead = "| Mirror | Add | Replace | Delete | Forget | Outputs | Transfer |\n|---|---:|---:|---:|---:|---:|---:|\n"
	var rows []string
	for _, name := range slices.Sorted(maps.Keys(per)) {
		per[name].Summarize(0)
		s := per[name].Summary
		del := fmt.Sprint(s.Delete)
		if s.DryRunDelete > 0 {
			del += fmt.Sprintf(" (+%d dry run)", s.DryRunDelete)
		}
		outputs := 0
		for _, n := range s.Publish {
			outputs += n
		}
		size := FormatBytes(s.TransferBytes)
		if s.UnknownSizes > 0 {
			size += fmt.Sprintf(" (+%d unknown)", s.UnknownSizes)
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %s | %d | %d | %s |\n", mdCode("mirror."+name), s.Add, s.Replace, del, s.Forget, outputs, size))
	}
	b.WriteString(tableHead)
	shown := fitRows(rows, budget-len(tableHead)-80)
	for _, r := range rows[:shown] {
		b.WriteString(r)
	}
	if shown < len(rows) {
		fmt.Fprintf(b, "\n_…and %d more mirrors, not shown._\n", len(rows)-shown)
		*cut = append(*cut, fmt.Sprintf("%d of %d mirrors", len(rows)-shown, len(rows)))
	}
	b.WriteString("\n")
}

func changeRow(c *Change) string {
	sym := c.Action.Symbol()
	reason := mdText(c.ReasonText())
	if c.DryRun {
		sym = "(-)"
		reason += " _(dry run: not executed)_"
	}
	return fmt.Sprintf("| %s | %s | %s | %s |\n", mdCode(sym), mdCode(c.Address), mdText(sizeColumn(c)), reason)
}

func diffBlock(c *Change) string {
	summary := fmt.Sprintf("%s: %s", htmlCode(c.Address), htmlEscape(fmt.Sprintf("%s, %s (%s)", c.Verb(), Plural(c.Output.Count, c.Output.Unit), c.ReasonText())))
	return fmt.Sprintf("<details><summary>%s</summary>\n\n%s\n</details>\n\n", summary, mdFence("diff", c.Output.Diff))
}

// fitSection is the section titled title with as many of blocks, from
// the first, as fit in *budget bytes, which it takes from *budget; what
// it leaves out it adds to *cut, named by what.
func fitSection(title string, blocks []string, what string, budget *int, cut *[]string) string {
	if len(blocks) == 0 {
		return ""
	}
	var b strings.Builder
	shown := fitRows(blocks, *budget-len(title))
	if shown > 0 {
		b.WriteString(title)
		for _, r := range blocks[:shown] {
			b.WriteString(r)
		}
	}
	if shown < len(blocks) {
		*cut = append(*cut, fmt.Sprintf("%d of %d %s", len(blocks)-shown, len(blocks), what))
	}
	*budget -= b.Len()
	return b.String()
}

// fitRows is how many of rows, from the first, fit in budget bytes.
func fitRows(rows []string, budget int) int {
	n := 0
	for _, r := range rows {
		if len(r) > budget {
			break
		}
		budget -= len(r)
		n++
	}
	return n
}

// mdText escapes text for a markdown table cell or list item: markdown
// and HTML punctuation are shown as they are, a line break as a space.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '#', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// htmlCode renders s as code inside HTML (a <summary>, where markdown
// is not read).
func htmlCode(s string) string { return "<code>" + htmlEscape(s) + "</code>" }

// htmlEscape escapes what HTML would read as markup (quotes stay readable:
// they are never inside an attribute here).
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// mdCode renders s as a code span fit for a table cell: fenced by more
// backticks than any run in s, a pipe escaped (GitHub splits cells
// before reading code spans), line breaks as spaces.
func mdCode(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ", "|", `\|`).Replace(s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdFence renders text as a fenced code block of the language lang,
// fenced by more backticks than any run in it (at least three).
func mdFence(lang, text string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	return fence + lang + "\n" + strings.TrimSuffix(text, "\n") + "\n" + fence + "\n"
}

func longestRun(s string, c rune) int {
	best, n := 0, 0
	for _, r := range s {
		if r == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

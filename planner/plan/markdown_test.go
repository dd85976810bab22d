package plan

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/internal/golden"
	"github.com/ferry-mirror/ferry/providers"
)

var update = flag.Bool("update", false, "rewrite the golden markdown files under testdata")

// hugePlan is a plan far past a comment's size: thousands of transfers in
// three mirrors, a delete, consumer outputs with long diffs and reports.
func hugePlan() *Plan {
	p := &Plan{FormatVersion: FormatVersion, ToolVersion: "test", CreatedAt: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		PriorState: StateRef{Lineage: "l", Serial: 7}, Refreshed: true}
	for _, m := range []string{"npm", "oci", "tools"} {
		for i := range 2000 {
			key := fmt.Sprintf("pkg-%04d/1.0.%d/pkg-%04d-1.0.%d.tgz", i, i%7, i, i%7)
			p.Changes = append(p.Changes, Change{Address: Address(m, key), Mirror: m, Key: key, Action: Add, Reason: NewInSource,
				Source: "http." + m, Destination: "dir.local", After: &Object{Size: int64(1000 + i), Digests: providers.Digests{{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}}})
		}
		p.Changes = append(p.Changes, Change{Address: Address(m, "old/0.1/old.tgz"), Mirror: m, Key: "old/0.1/old.tgz", Action: Delete, Reason: RetentionKeepLast, Detail: "keep_last = 2", Destination: "dir.local"})
		for j := range 3 {
			path := fmt.Sprintf("out/%d/buildpack.toml", j)
			var diff strings.Builder
			fmt.Fprintf(&diff, "--- %s\n+++ %s (rewritten)\n", path, path)
			for k := range 400 {
				fmt.Fprintf(&diff, "@@ -%d +%d @@\n-    uri = \"https://upstream.example/pkg-%04d.tgz\"\n+    uri = \"https://mirror.internal/pkg-%04d.tgz\"\n", k, k, k, k)
			}
			p.Changes = append(p.Changes, Change{Address: OutputAddress(m, "rewrite", path), Mirror: m, Key: path, Action: Publish, Reason: OutputOutOfDate,
				Destination: "dir.local", Output: &OutputDetail{Side: providers.SideDestination, Output: providers.Output{Block: "rewrite", Path: path, Verb: "rewrite", Reason: "uri points upstream", Count: 400, Unit: "uri", Diff: diff.String()}}})
		}
		p.Reports = append(p.Reports, Report{Mirror: m, OutputReport: providers.OutputReport{Text: strings.Repeat("covered: pkg\n", 300)}})
	}
	p.Sort()
	p.Summarize(12)
	return p
}

// TestMarkdownTruncates: a plan far past the limit renders under it, with
// a note saying what was left out and how to see everything; the head
// (warnings, summary, per-mirror table) is always there.
func TestMarkdownTruncates(t *testing.T) {
	p := hugePlan()
	for _, limit := range []int{0, 20000, 4000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var b strings.Builder
			if err := p.WriteMarkdown(&b, MarkdownOptions{Limit: limit, PlanFile: "plan.json"}); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			max := limit
			if max <= 0 {
				max = DefaultMarkdownLimit
			}
			if len(got) > max {
				t.Errorf("markdown is %d bytes, over the limit %d", len(got), max)
			}
			for _, want := range []string{
				"> - 3 deletes planned.",
				"**Plan: 6000 to add, 0 to replace, 3 to delete, 9 to rewrite.",
				"| `mirror.tools` | 2000 | 0 | 1 | 0 | 3 |",
				"> Truncated to fit a comment: ",
				"See the whole plan with `ferry show plan.json`.",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("markdown lacks %q", want)
				}
			}
			if strings.Count(got, "<details>") != strings.Count(got, "</details>") {
				t.Errorf("unbalanced <details> blocks")
			}
			if strings.Count(got, "```")%2 != 0 {
				t.Errorf("unbalanced code fences")
			}
			if limit == 4000 {
				golden.Compare(t, filepath.Join("testdata", "markdown", "huge_4000.md"), got, *update)
			}
		})
	}
}

// TestMarkdownManyMirrors: a plan over thousands of mirrors stays under
// the limit too, its per-mirror table cut and said so.
func TestMarkdownManyMirrors(t *testing.T) {
	p := &Plan{FormatVersion: FormatVersion, ToolVersion: "test", Refreshed: true}
	for i := range 5000 {
		m := fmt.Sprintf("mirror-with-a-long-name-%04d", i)
		p.Changes = append(p.Changes, Change{Address: Address(m, "k"), Mirror: m, Key: "k", Action: Add, Reason: NewInSource,
			Source: "http.s", Destination: "dir.local", After: &Object{Size: 1}})
	}
	p.Summarize(0)
	var b strings.Builder
	if err := p.WriteMarkdown(&b, MarkdownOptions{PlanFile: "plan.json"}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if len(got) > DefaultMarkdownLimit {
		t.Errorf("markdown is %d bytes, over the limit %d", len(got), DefaultMarkdownLimit)
	}
	for _, want := range []string{"more mirrors, not shown._", "of 5000 mirrors", "of 5000 changes", "`ferry show plan.json`"} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// TestMarkdownFitsUntruncated: a plan under the limit renders whole,
// without a truncation note, and the same every time.
func TestMarkdownFitsUntruncated(t *testing.T) {
	p := hugePlan()
	var b1, b2 strings.Builder
	if err := p.WriteMarkdown(&b1, MarkdownOptions{Limit: 10 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteMarkdown(&b2, MarkdownOptions{Limit: 10 << 20}); err != nil {
		t.Fatal(err)
	}
	if b1.String() != b2.String() {
		t.Fatal("two renderings of one plan differ")
	}
	got := b1.String()
	if strings.Contains(got, "Truncated") {
		t.Error("a plan within the limit was truncated")
	}
	if n := strings.Count(got, "\n| `+` |"); n != 6000 {
		t.Errorf("listed %d additions, want 6000", n)
	}
	if n := strings.Count(got, "```diff\n"); n != 9 {
		t.Errorf("showed %d diffs, want 9", n)
	}
}

// TestMarkdownEscapes: keys, reasons and diffs from upstreams cannot
// break out of their table cell, code span or code block.
func TestMarkdownEscapes(t *testing.T) {
	key := "a|b`c``d</details><script>x</script>\n# h"
	diff := "--- x\n+++ y\n-````\n+</details>\n"
	p := &Plan{FormatVersion: FormatVersion, ToolVersion: "test", Refreshed: true, Changes: []Change{
		{Address: Address("m", key), Mirror: "m", Key: key, Action: Add, Reason: NewInSource, Detail: "<b>|x|</b> *y*",
			Source: "http.s", Destination: "dir.local", After: &Object{Size: 1}},
		{Address: OutputAddress("m", "rewrite", "f"), Mirror: "m", Key: "f", Action: Publish, Reason: OutputOutOfDate, Destination: "dir.local",
			Output: &OutputDetail{Side: providers.SideDestination, Output: providers.Output{Block: "rewrite", Path: "f", Verb: "rewrite", Reason: "r", Count: 1, Unit: "uri", Diff: diff}}},
	}}
	p.Summarize(0)
	var b strings.Builder
	if err := p.WriteMarkdown(&b, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "markdown", "escapes.md"), b.String(), *update)
}

func TestMDCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "plain", want: "`plain`"},
		{in: "a`b", want: "``a`b``"},
		{in: "`x", want: "`` `x ``"},
		{in: "a|b", want: "`a\\|b`"},
		{in: "a\nb", want: "`a b`"},
	}
	for _, tc := range tests {
		if got := mdCode(tc.in); got != tc.want {
			t.Errorf("mdCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

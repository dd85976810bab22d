package cli

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// writeDiagnostics renders diagnostics as
//
//	Error: Unsupported argument
//
//	  on main.ferry.hcl:12:5:
//	  12:     urll = "https://…"
//	          ^^^^
//
//	An argument named "urll" is not expected here. Did you mean "url"?
//
// Unlike HCL's own writer it never prints expression values, so a sensitive
// value can only appear if it is written literally in the shown line.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, cwd string) {
	for _, d := range diags {
		sev := "Error"
		if d.Severity == hcl.DiagWarning {
			sev = "Warning"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n%s: %s\n", sev, d.Summary)
		if s := d.Subject; s != nil && s.Filename != "" {
			name := s.Filename
			if rel, err := filepath.Rel(cwd, name); err == nil && !strings.HasPrefix(rel, "..") {
				name = rel
			}
			fmt.Fprintf(&b, "\n  on %s:%d:%d:\n", name, s.Start.Line, s.Start.Column)
			if f := files[s.Filename]; f != nil {
				if line, ok := sourceLine(f.Bytes, s.Start.Line); ok {
					prefix := fmt.Sprintf("  %d: ", s.Start.Line)
					fmt.Fprintf(&b, "%s%s\n", prefix, line)
					width := 1
					if s.End.Line == s.Start.Line && s.End.Column > s.Start.Column {
						width = s.End.Column - s.Start.Column
					}
					col := min(max(s.Start.Column-1, 0), len(line))
					width = max(1, min(width, len(line)-col))
					// Keep tabs so the caret lines up under tab-indented source.
					pad := []byte(line[:col])
					for i, c := range pad {
						if c != '\t' {
							pad[i] = ' '
						}
					}
					fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat(" ", len(prefix)), pad, strings.Repeat("^", width))
				}
			}
		}
		if d.Detail != "" {
			fmt.Fprintf(&b, "\n%s\n", d.Detail)
		}
		io.WriteString(w, b.String())
	}
}

func sourceLine(src []byte, n int) (string, bool) {
	lines := bytes.Split(src, []byte("\n"))
	if n < 1 || n > len(lines) {
		return "", false
	}
	return strings.TrimRight(string(lines[n-1]), "\r"), true
}

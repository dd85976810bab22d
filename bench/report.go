package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

type report struct {
	size     string
	runs     int
	par      int
	machine  []string
	sections []*section
	elapsed  time.Duration
}

// section is one scenario's table.
type section struct {
	title   string
	what    string
	columns []string
	rows    [][]string
	targets []target
	notes   []string
}

type target struct {
	desc string
	met  bool
	got  string
}

func (r *report) add(s *section) { r.sections = append(r.sections, s) }

func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "## ferry performance (size %s, %d run(s) per contender, median; parallelism %d)\n\n", r.size, r.runs, r.par)
	fmt.Fprintf(w, "Machine:\n\n")
	for _, m := range r.machine {
		fmt.Fprintf(w, "- %s\n", m)
	}
	fmt.Fprintln(w)
	var all []target
	for _, s := range r.sections {
		fmt.Fprintf(w, "### %s\n\n", s.title)
		if s.what != "" {
			fmt.Fprintf(w, "%s\n\n", s.what)
		}
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(s.columns, " | "), strings.Repeat("---|", len(s.columns)))
		for _, row := range s.rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
		fmt.Fprintln(w)
		for _, n := range s.notes {
			fmt.Fprintf(w, "%s\n", n)
		}
		if len(s.notes) > 0 {
			fmt.Fprintln(w)
		}
		all = append(all, s.targets...)
	}
	if len(all) > 0 {
		fmt.Fprintf(w, "### Targets\n\n| Target | Measured | Met |\n|---|---|---|\n")
		for _, t := range all {
			met := "**no**"
			if t.met {
				met = "yes"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.desc, t.got, met)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Harness wall time: %s.\n", r.elapsed.Round(time.Second))
}

func secs(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mibps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / (1 << 20) / d.Seconds()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

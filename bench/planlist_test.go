package main

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-mirror/ferry/state"
)

// The generated state must be one ferry reads, holding exactly the rows of
// the list (one line per artifact, plus the CSV header).
func TestWritePlanList(t *testing.T) {
	tests := []struct {
		name   string
		format string
		n      int
		lines  int
	}{
		{name: "jsonl", format: "jsonl", n: 25, lines: 25},
		{name: "csv", format: "csv", n: 25, lines: 26},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := writePlanList(dir, tc.n, tc.format); err != nil {
				t.Fatal(err)
			}
			st, err := state.Read(filepath.Join(dir, "ferry.state.json"))
			if err != nil {
				t.Fatal(err)
			}
			if got := st.ArtifactCount(); got != tc.n {
				t.Errorf("state holds %d artifacts, want %d", got, tc.n)
			}
			f, err := os.Open(filepath.Join(dir, "artifacts."+tc.format))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			lines := 0
			for sc := bufio.NewScanner(f); sc.Scan(); {
				lines++
			}
			if lines != tc.lines {
				t.Errorf("list has %d lines, want %d", lines, tc.lines)
			}
		})
	}
}

package planner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// TestDefaultDeleteGuard: without max_deletes, a plan may delete at most half
// of what a mirror owns once it owns 4 or more, and nothing through a source
// that lists nothing; a mirror removed from the config is not guarded.
func TestDefaultDeleteGuard(t *testing.T) {
	tests := []struct {
		name          string
		owned, listed int // owned keys k0..k(owned-1); the source lists the first listed of them
		extraListed   bool
		removedMirror bool
		want          string // in the error; empty: no error
	}{
		{name: "half of four", owned: 4, listed: 2},
		{name: "more than half of four", owned: 4, listed: 1, want: "the plan would delete 3 objects of the 4 objects mirror \"tools\" owns, more than half"},
		{name: "all of three", owned: 3, listed: 0, extraListed: true},
		{name: "small mirror, source lists nothing", owned: 1, listed: 0, want: "source http.tools lists nothing, and the plan would delete 1 object of the 1 object mirror \"tools\" owns"},
		{name: "half of ten", owned: 10, listed: 5},
		{name: "six of ten", owned: 10, listed: 4, want: "set max_deletes = 6 (or more)"},
		{name: "removed mirror", owned: 10, removedMirror: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, inv, _, now := goldenCase(t, "mass_delete_guard_override", nil)
			cfg.Mirrors["tools"].Retention.MaxDeletes = nil // the default guard
			arts := map[string]*state.Artifact{}
			var listed []providers.Artifact
			for i := range tt.owned {
				key := fmt.Sprintf("k%d", i)
				d := providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat(fmt.Sprintf("%x", i%16), 64)})
				arts[key] = &state.Artifact{Key: key, Size: 1, Digests: d, SourceDigests: d}
				if i < tt.listed {
					listed = append(listed, providers.Artifact{Key: key, Size: -1, Digests: d})
				}
			}
			if tt.extraListed {
				listed = append(listed, providers.Artifact{Key: "new", Size: -1, Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("f", 64)})})
			}
			mirror := "tools"
			if tt.removedMirror {
				mirror = "old"
			}
			prior := &state.State{Lineage: "l", Serial: 1, Mirrors: map[string]*state.Mirror{
				mirror: {Source: "http.tools", Destination: "dir.local", Artifacts: arts},
			}}
			inv.Sources = map[string][]providers.Artifact{"http.tools": listed}
			inv.Destinations, inv.SizeHints = nil, nil
			inv.Refreshed = false
			_, diags := planner.Plan(cfg, prior, inv, planner.Options{Now: now})
			got := renderDiags(diags)
			if tt.want == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected error:\n%s", got)
				}
				return
			}
			if !strings.Contains(got, "error: Too many deletes") || !strings.Contains(got, tt.want) {
				t.Fatalf("diagnostics:\n%s\nwant a Too many deletes error containing %q", got, tt.want)
			}
		})
	}
}

package planner_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// TestImportCandidate: import adopts a key only when the next plan would
// keep it untouched: the mirror is configured, nothing in the state owns
// the key at that destination, the source lists it with a digest, and
// retention keeps it. Every refusal says why.
func TestImportCandidate(t *testing.T) {
	const newKey = "jq/1.10/jq-1.10" // listed, kept by keep_last = 3, not owned
	tests := []struct {
		name   string
		target plan.Target
		modify func(prior *state.State, listed []providers.Artifact) []providers.Artifact
		want   string // in the error; empty: importable
	}{
		{name: "importable", target: plan.Target{Mirror: "tools", Key: newKey}},
		{name: "mirror not configured", target: plan.Target{Mirror: "other", Key: newKey}, want: `no mirror "other" is configured`},
		{name: "already owned", target: plan.Target{Mirror: "tools", Key: "jq/1.7/jq-1.7"}, want: "the state already owns it"},
		{
			name: "owned by another mirror at the destination", target: plan.Target{Mirror: "tools", Key: newKey},
			modify: func(prior *state.State, listed []providers.Artifact) []providers.Artifact {
				prior.EnsureMirror("old", "http.old", "dir.local")
				prior.SetArtifact("old", &state.Artifact{Key: newKey, Size: 1, Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("a", 64)})})
				return listed
			},
			want: `mirror "old" already owns "jq/1.10/jq-1.10" at dir.local`,
		},
		{
			name: "state sends the mirror elsewhere", target: plan.Target{Mirror: "tools", Key: newKey},
			modify: func(prior *state.State, listed []providers.Artifact) []providers.Artifact {
				prior.Mirrors["tools"].Destination = "dir.elsewhere"
				return listed
			},
			want: `the state records mirror "tools" at dir.elsewhere`,
		},
		{name: "not listed", target: plan.Target{Mirror: "tools", Key: "jq/9/jq-9"}, want: `source http.tools does not list "jq/9/jq-9"`},
		{name: "dropped by retention", target: plan.Target{Mirror: "tools", Key: "jq/1.5/jq-1.5"},
			modify: func(prior *state.State, listed []providers.Artifact) []providers.Artifact {
				prior.RemoveArtifact("tools", "jq/1.5/jq-1.5")
				return listed
			},
			want: "retention (keep_last = 3) does not keep it",
		},
		{
			name: "no declared digest", target: plan.Target{Mirror: "tools", Key: newKey},
			modify: func(prior *state.State, listed []providers.Artifact) []providers.Artifact {
				for i := range listed {
					if listed[i].Key == newKey {
						listed[i].Digests = nil
					}
				}
				return listed
			},
			want: "declares no digest for it",
		},
		{
			name: "listed twice", target: plan.Target{Mirror: "tools", Key: newKey},
			modify: func(prior *state.State, listed []providers.Artifact) []providers.Artifact {
				for _, a := range listed {
					if a.Key == newKey {
						return append(listed, a)
					}
				}
				return listed
			},
			want: "lists the key more than once",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfg, prior, inv, popts := goldenInputs(t, filepath.Join("testdata", "retention_keep_last"))
			listed := append([]providers.Artifact(nil), inv.Sources["http.tools"]...)
			if tt.modify != nil {
				listed = tt.modify(prior, listed)
			}
			got, err := planner.ImportCandidate(cfg, prior, tt.target, listed, popts.Now)
			if tt.want != "" {
				if err == nil || !errors.Is(err, planner.ErrNotImportable) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v; want ErrNotImportable with %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != tt.target.Key || len(got.Digests) == 0 {
				t.Fatalf("candidate %+v; want the source's artifact %s with its digests", got, tt.target.Key)
			}
		})
	}
}

// TestImportThenPlanNoChange: an object imported (ImportRecord) with the
// bytes the source declares is, for the next plan, owned and up to date:
// no change at its address.
func TestImportThenPlanNoChange(t *testing.T) {
	const key = "jq/1.10/jq-1.10"
	_, cfg, prior, inv, popts := goldenInputs(t, filepath.Join("testdata", "retention_keep_last"))
	src, err := planner.ImportCandidate(cfg, prior, plan.Target{Mirror: "tools", Key: key}, inv.Sources["http.tools"], popts.Now)
	if err != nil {
		t.Fatal(err)
	}
	observed := providers.Artifact{Key: key, Size: 5 << 20, Digests: src.Digests}
	prior.SetArtifact("tools", planner.ImportRecord(src, observed, popts.Now))
	inv.Destinations["dir.local"][key] = planner.Object{Exists: true, Size: observed.Size, Digests: observed.Digests}

	p, diags := planner.Plan(cfg, prior, &inv, popts)
	if diags.HasErrors() {
		t.Fatal(renderDiags(diags))
	}
	var addrs []string
	for _, c := range p.Changes {
		addrs = append(addrs, c.Address)
	}
	want := []string{`mirror.tools["jq/1.5/jq-1.5"]`, `mirror.tools["jq/1.6/jq-1.6"]`, `mirror.tools["jq/1.7.1/jq-1.7.1"]`}
	if diff := cmp.Diff(want, addrs); diff != "" {
		t.Errorf("changes after import (-want +got):\n%s", diff)
	}
	got := prior.Artifact("tools", key)
	if !got.SourceDigests.Equal(src.Digests) || got.AddedAt.IsZero() || got.VerifiedAt.IsZero() {
		t.Errorf("recorded %+v; want the source digests and both times", got)
	}
}

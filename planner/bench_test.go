package planner_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// BenchmarkPlanNoOp100k plans 100,000 artifacts that are all mirrored
// already (refresh off): the planner's share of `ferry plan` on a large,
// unchanged mirror. The configuration declares one artifact; the
// inventory, which is all the planner reads of a source, lists 100,000.
func BenchmarkPlanNoOp100k(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	hclText := `
source "http" "up" {
  artifact "pkg" {
    url    = "https://files.example.org/pkg-1.0.0.tar.gz"
    sha256 = "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "m" {
  from = source.http.up
  to   = destination.dir.local
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(hclText), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, diags := config.Load(config.LoadOptions{Dir: dir, Types: registry.Schemas(all.Types())})
	if diags.HasErrors() {
		b.Fatalf("config: %s", diags.Error())
	}

	published := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	owned := make(map[string]*state.Artifact, n)
	listed := make([]providers.Artifact, 0, n)
	for i := range n {
		pkg, ver := fmt.Sprintf("pkg-%06d", i/10), fmt.Sprintf("1.%d.0", i%10)
		key := pkg + "/" + ver + "/" + pkg + "-" + ver + ".tar.gz"
		sum := sha256.Sum256([]byte(key))
		digests := providers.Digests{{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])}}
		origin := "https://files.example.org/" + pkg + "/" + pkg + "-" + ver + ".tar.gz"
		created := published.Add(time.Duration(i) * time.Minute)
		listed = append(listed, providers.Artifact{Key: key, Name: pkg, Version: ver, Size: int64(1000 + i), Digests: digests, Created: created, Origin: origin})
		owned[key] = &state.Artifact{Key: key, Name: pkg, Version: ver, Size: int64(1000 + i), Digests: digests, SourceDigests: digests,
			Created: created, AddedAt: published, Origin: origin, VerifiedAt: published}
	}
	prior := &state.State{Lineage: "bench", Serial: 1, Mirrors: map[string]*state.Mirror{
		"m": {Source: "http.up", Destination: "dir.local", Artifacts: owned},
	}}
	inv := &planner.Inventory{Sources: map[string][]providers.Artifact{"http.up": listed}}
	opts := planner.Options{Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), ToolVersion: "bench"}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, diags := planner.Plan(cfg, prior, inv, opts)
		if diags.HasErrors() || len(p.Changes) != 0 || p.Summary.NoOp != n {
			b.Fatalf("want a no-op plan of %d artifacts; got %d changes, summary %+v, diags %s", n, len(p.Changes), p.Summary, diags.Error())
		}
	}
}

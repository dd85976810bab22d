package buildpack_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// TestOutputsReadPlanPublish runs a buildpack source's consumer outputs
// through the three steps the core drives: ReadOutputs, the pure
// PlanOutputs on the decoded settings, Publish.
func TestOutputsReadPlanPublish(t *testing.T) {
	input := string(readTestdata(t, "rewrite/buildpack.toml"))
	d, cfg, diags := load(t, `source "buildpack" "x" { file = "buildpack.toml" }`, map[string]string{
		"buildpack.toml": input,
		"binding/README": "not a mapping file\n",
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	settings := buildpackConfig(t, cfg, "buildpack.x")
	src, err := buildpack.NewSource("buildpack.x", settings, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := dir.NewDestination("dir.local", &dir.DestinationConfig{Path: filepath.Join(d, "mirror"), BaseURL: "https://mirror.example/deps"}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []providers.Artifact
	if err := src.List(t.Context(), func(a providers.Artifact) error { listed = append(listed, a); return nil }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	read, err := src.ReadOutputs(ctx, providers.OutputRequest{
		Mirror: "m", Dir: d, Rewrite: filepath.Join(d, "out.toml"), Bindings: filepath.Join(d, "binding"),
		Listed: listed, Source: src, Destination: dst,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := settings.PlanOutputs(providers.OutputInput{Mirror: "m", Present: listed, State: read.State})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outputs) != 2 {
		t.Fatalf("planned %d outputs, want the rewrite and the bindings: %+v", len(res.Outputs), res.Outputs)
	}
	rw, bind := res.Outputs[0], res.Outputs[1]
	if rw.Block != "rewrite" || rw.Path != "out.toml" || len(rw.Before) != 0 || len(rw.DependsOn) == 0 {
		t.Fatalf("rewrite output = %+v", rw)
	}
	if bind.Block != "bindings" || bind.Path != "binding" || len(bind.Before) == 0 {
		t.Fatalf("bindings output = %+v", bind)
	}

	// A dependency that did not land: nothing is written.
	err = src.Publish(ctx, rw, rw.DependsOn[:1])
	if !errors.Is(err, providers.ErrNotLanded) {
		t.Fatalf("Publish with a missing dependency = %v, want ErrNotLanded", err)
	}
	if _, err := os.Stat(filepath.Join(d, "out.toml")); !os.IsNotExist(err) {
		t.Fatalf("out.toml written although a dependency did not land (%v)", err)
	}

	// The binding directory changed since the plan: refused.
	writeFile(t, filepath.Join(d, "binding", "README"), []byte("edited\n"))
	if err := src.Publish(ctx, bind, nil); !errors.Is(err, providers.ErrChangedSincePlan) {
		t.Fatalf("Publish over a changed binding directory = %v, want ErrChangedSincePlan", err)
	}
	if _, err := os.Stat(filepath.Join(d, "binding", "type")); !os.IsNotExist(err) {
		t.Fatalf("a binding file was written although the directory changed (%v)", err)
	}

	// As planned: written, with the digest the plan promised.
	if err := src.Publish(ctx, rw, nil); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(d, "out.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !rw.After.Matches(providers.NewDigests(sha256Of(out))) {
		t.Errorf("out.toml has %s, the plan promised %s", sha256Of(out), rw.After.Primary())
	}
	// Published: nothing more to plan for the rewrite.
	read, err = src.ReadOutputs(ctx, providers.OutputRequest{Mirror: "m", Dir: d, Rewrite: filepath.Join(d, "out.toml"), Listed: listed, Source: src, Destination: dst})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := settings.PlanOutputs(providers.OutputInput{Mirror: "m", Present: listed, State: read.State}); err != nil || len(res.Outputs) != 0 {
		t.Errorf("after publishing, PlanOutputs = %+v, %v; want nothing", res.Outputs, err)
	}
}

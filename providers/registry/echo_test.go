package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// The "echo" source serves each configured word as an artifact whose bytes
// are the word. It lives only in this test: a provider is its own package
// (here: these few declarations) plus one line in the types list.

type echoConfig struct{ Words []string }

func decodeEcho(body hcl.Body, ectx *hcl.EvalContext, _ schema.DecodeEnv) (*echoConfig, hcl.Diagnostics) {
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "words", Required: true}}})
	cfg := &echoConfig{}
	if attr := content.Attributes["words"]; attr != nil {
		words, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, w := range words {
			if w == "" || strings.Contains(w, "/") {
				diags = append(diags, schema.AttrError(attr, "Invalid word", fmt.Sprintf("A word is a non-empty key segment; %q is not.", w)))
			}
		}
		cfg.Words = words
	}
	return cfg, diags
}

type echoSource struct{ words []string }

func newEcho(_ string, c *echoConfig, _ registry.Env) (*echoSource, error) {
	return &echoSource{words: c.Words}, nil
}

func (s *echoSource) List(ctx context.Context, fn func(providers.Artifact) error) error {
	for _, w := range s.words {
		sum := sha256.Sum256([]byte(w))
		a := providers.Artifact{Key: "echo/" + w, Name: w, Size: int64(len(w)),
			Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])})}
		if err := fn(a); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *echoSource) Fetch(_ context.Context, a providers.Artifact) (io.ReadCloser, error) {
	w := strings.TrimPrefix(a.Key, "echo/")
	if !slices.Contains(s.words, w) {
		return nil, providers.ErrNotFound
	}
	return io.NopCloser(strings.NewReader(w)), nil
}

const echoConfigHCL = `
source "echo" "words" {
  words = ["hello", "world"]
}

destination "dir" "local" {
  path = "out"
}

mirror "echo" {
  from = source.echo.words
  to   = destination.dir.local
}
`

// set is the configured providers, built from the types list the way the
// CLI builds them.
type set struct {
	sources      map[string]providers.Source
	destinations map[string]providers.Destination
}

func (s set) Source(addr string) (providers.Source, error) { return s.sources[addr], nil }
func (s set) Destination(addr string) (providers.Destination, error) {
	return s.destinations[addr], nil
}

func build(t *testing.T, types []registry.Type, cfg *config.Config) set {
	t.Helper()
	s := set{sources: map[string]providers.Source{}, destinations: map[string]providers.Destination{}}
	for addr, src := range cfg.Sources {
		typ, ok := registry.Find(types, schema.KindSource, src.Type)
		if !ok {
			t.Fatalf("no source type %q", src.Type)
		}
		p, err := typ.NewSource(addr, src.Settings, registry.Env{})
		if err != nil {
			t.Fatal(err)
		}
		s.sources[addr] = p
	}
	for addr, dst := range cfg.Destinations {
		typ, ok := registry.Find(types, schema.KindDestination, dst.Type)
		if !ok {
			t.Fatalf("no destination type %q", dst.Type)
		}
		p, err := typ.NewDestination(addr, dst.Settings, registry.Env{})
		if err != nil {
			t.Fatal(err)
		}
		s.destinations[addr] = p
	}
	return s
}

// TestAddingAProviderIsOneLine registers the echo source next to the built-in
// types with one line, then loads, builds and plans a config that uses it
// with no other wiring.
func TestAddingAProviderIsOneLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(echoConfigHCL), 0o644); err != nil {
		t.Fatal(err)
	}

	// Without the line, the config names a type this build does not have.
	_, diags := config.Load(config.LoadOptions{Dir: dir, Types: registry.Schemas(all.Types())})
	if !diags.HasErrors() || diags[0].Summary != "Unsupported source type" {
		t.Fatalf("without echo: diags = %v; want Unsupported source type", diags)
	}

	types := append(all.Types(), registry.Source("echo", decodeEcho, newEcho)) // the one line

	cfg, diags := config.Load(config.LoadOptions{Dir: dir, Types: registry.Schemas(types)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	provs := build(t, types, cfg)
	prior := state.New("test")
	inv, err := inventory.Gather(t.Context(), cfg, prior, provs, inventory.Options{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	p, diags := planner.Plan(cfg, prior, inv, planner.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, fmt.Sprintf("%s %s %v", c.Action, c.Key, c.Reason))
	}
	want := []string{
		fmt.Sprintf("%s echo/hello %v", plan.Add, plan.NewInSource),
		fmt.Sprintf("%s echo/world %v", plan.Add, plan.NewInSource),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plan changes (-want +got):\n%s", d)
	}
}

// TestUnknownSettingsAreAnError: settings that did not come from the type's
// own decoder are refused, not silently skipped.
func TestUnknownSettingsAreAnError(t *testing.T) {
	echo := registry.Source("echo", decodeEcho, newEcho)
	if _, err := echo.NewSource("echo.x", struct{}{}, registry.Env{}); err == nil {
		t.Error("NewSource accepted settings of another type")
	}
	if _, err := echo.NewDestination("echo.x", &echoConfig{}, registry.Env{}); err == nil {
		t.Error("a source type built a destination")
	}
	if _, ok := registry.Find(all.Types(), schema.KindDestination, "buildpack"); ok {
		t.Error(`Find found a destination type "buildpack"`)
	}
}

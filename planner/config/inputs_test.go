package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// TestDigestCoversInputs checks that a data file a provider decoder reads
// through DecodeEnv.ReadInput (an artifact list) is part of the config
// digest: editing it refuses a saved plan, like editing a .ferry.hcl file.
func TestDigestCoversInputs(t *testing.T) {
	listed := schema.Type{Kind: schema.KindSource, Name: "listed", Decode: func(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (any, hcl.Diagnostics) {
		content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "list", Required: true}}})
		if diags.HasErrors() {
			return struct{}{}, diags
		}
		name, moreDiags := schema.DecodePlainString(content.Attributes["list"], ectx)
		diags = append(diags, moreDiags...)
		if _, err := env.ReadInput(name); err != nil {
			diags = append(diags, schema.AttrError(content.Attributes["list"], "Unreadable", err.Error()))
		}
		return struct{}{}, diags
	}}
	const src = `source "listed" "a" { list = "items.txt" }` + "\n"
	d := writeConfig(t, src, "items.txt", "one\n")
	load := func(t *testing.T, dir string) string {
		t.Helper()
		cfg, diags := config.Load(config.LoadOptions{Dir: dir, Types: []schema.Type{listed}})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg.Digest
	}
	base := load(t, d)
	if got := load(t, d); got != base {
		t.Errorf("same inputs: digest %s, want %s", got, base)
	}
	// Elsewhere, same bytes: the directory does not count.
	if got := load(t, writeConfig(t, src, "items.txt", "one\n")); got != base {
		t.Errorf("same files in another directory: digest %s, want %s", got, base)
	}
	if err := os.WriteFile(filepath.Join(d, "items.txt"), []byte("one\nmore\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	edited := load(t, d)
	if edited == base {
		t.Errorf("editing the list file did not change the digest (%s)", edited)
	}
	// Files nobody reads do not count.
	if err := os.WriteFile(filepath.Join(d, "unread.txt"), []byte("unrelated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again := load(t, d)
	if err := os.WriteFile(filepath.Join(d, "unread.txt"), []byte("still unrelated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := load(t, d); got != again {
		t.Errorf("editing a file no decoder reads changed the digest: %s, want %s", got, again)
	}
}

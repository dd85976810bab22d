package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// allTypes are the source and destination types the CLI registers.
func allTypes() []schema.Type { return registry.Schemas(all.Types()) }

// FuzzLoad loads one arbitrary main.ferry.hcl with every provider type
// registered. Load must never panic and never return a nil Config; every
// diagnostic it returns must be an error or warning with a summary and a
// range inside the file (so the CLI can point at the problem); and a
// configuration it accepts must load again to the same digest.
//
// Seeds: every *.ferry.hcl in the repository's config fixtures, planner
// golden cases and examples.
func FuzzLoad(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{
		"testdata/*/*/*.ferry.hcl",
		"../testdata/*/*.ferry.hcl",
		"../../examples/*/*.ferry.hcl",
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, m...)
	}
	if len(seeds) < 10 {
		f.Fatalf("only %d seed files found", len(seeds))
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	// One directory per fuzzing process; the fuzz function runs
	// sequentially within a process, so the file is simply overwritten.
	d := f.TempDir()
	file := filepath.Join(d, "main.ferry.hcl")
	types := allTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: types})
		if cfg == nil {
			t.Fatal("Load returned a nil Config")
		}
		for _, diag := range diags {
			checkDiagnostic(t, diag, file, data)
		}
		if diags.HasErrors() {
			return
		}
		if cfg.Digest == "" {
			t.Fatal("accepted configuration has no digest")
		}
		again, diags := config.Load(config.LoadOptions{Dir: d, Types: types})
		if diags.HasErrors() {
			t.Fatalf("accepted configuration fails the second time: %v", diags)
		}
		if again.Digest != cfg.Digest {
			t.Fatalf("digest changed between two loads: %s, %s", cfg.Digest, again.Digest)
		}
	})
}

func checkDiagnostic(t *testing.T, d *hcl.Diagnostic, file string, data []byte) {
	t.Helper()
	if d.Severity != hcl.DiagError && d.Severity != hcl.DiagWarning {
		t.Fatalf("diagnostic %q has severity %v", d.Summary, d.Severity)
	}
	if d.Summary == "" {
		t.Fatalf("diagnostic without a summary: %+v", d)
	}
	if d.Subject == nil {
		t.Fatalf("diagnostic %q (%s) has no range\ninput: %q", d.Summary, d.Detail, data)
	}
	for _, r := range []*hcl.Range{d.Subject, d.Context} {
		if r == nil {
			continue
		}
		if r.Filename != file {
			t.Fatalf("diagnostic %q points at %q, not %q", d.Summary, r.Filename, file)
		}
		if r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > len(data) || r.Start.Line < 1 || r.Start.Column < 1 {
			t.Fatalf("diagnostic %q (%s) has range %v outside the %d-byte file\ninput: %q", d.Summary, d.Detail, r, len(data), data)
		}
	}
}

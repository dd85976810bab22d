package httpsrc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// benchRows is the size of the generated artifacts_file: the 100,000
// artifact no-op plan of issue #16.
const benchRows = 100_000

// writeBenchList writes benchRows generated rows, as a generator writes
// them, to dir/name (.jsonl or .csv).
func writeBenchList(b *testing.B, dir, name string) {
	b.Helper()
	var sb strings.Builder
	csv := strings.HasSuffix(name, ".csv")
	if csv {
		sb.WriteString("name,version,url,sha256,size,published\n")
	}
	for i := range benchRows {
		pkg, ver := fmt.Sprintf("pkg-%06d", i/10), fmt.Sprintf("1.%d.0", i%10)
		url := fmt.Sprintf("https://files.example.org/%s/%s-%s.tar.gz", pkg, pkg, ver)
		sum := fmt.Sprintf("%064x", i*7919+1)
		published := fmt.Sprintf("2024-01-01T%02d:%02d:00Z", i/60%24, i%60)
		if csv {
			fmt.Fprintf(&sb, "%s,%s,%s,%s,%d,%s\n", pkg, ver, url, sum, 1000+i, published)
		} else {
			fmt.Fprintf(&sb, `{"name":%q,"version":%q,"url":%q,"sha256":%q,"size":%d,"published":%q}`+"\n", pkg, ver, url, sum, 1000+i, published)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDecode100k decodes and validates a source "http" block whose
// artifacts_file lists 100,000 artifacts, and builds the Source from it:
// the configuration loading phase of a large plan.
func BenchmarkDecode100k(b *testing.B) {
	for _, name := range []string{"artifacts.jsonl", "artifacts.csv"} {
		b.Run(strings.TrimPrefix(name, "artifacts."), func(b *testing.B) {
			dir := b.TempDir()
			writeBenchList(b, dir, name)
			env := schema.DecodeEnv{Dir: dir, Address: "source.http.tools", DeclRange: hcl.Range{Filename: schematest.Filename}}
			src := fmt.Sprintf("artifacts_file = %q\n", name)
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				cfg, diags := schematest.Decode[SourceConfig](b, SourceType().Type, src, nil, env)
				if diags.HasErrors() || len(cfg.Artifacts) != benchRows {
					b.Fatalf("decoded %d artifacts: %v", len(cfg.Artifacts), diags)
				}
				if _, err := NewSource("http.tools", cfg, registry.Env{}); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time (GC included) is steadier than wall time on a
			// loaded machine.
			if cpu >= 0 {
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestArtifactsFile mirrors three artifacts listed in a JSON Lines file
// (plus one artifact block) into dir, re-plans to no changes, and checks
// that editing the list changes the plan and refuses a plan saved before.
func TestArtifactsFile(t *testing.T) {
	dir := t.TempDir()
	upstream := filepath.Join(dir, "upstream")
	if err := os.Mkdir(upstream, 0o755); err != nil {
		t.Fatal(err)
	}
	// row writes an upstream file and returns its list line.
	row := func(name, version, content string) string {
		p := filepath.Join(upstream, name+"-"+version+".txt")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(content))
		return fmt.Sprintf(`{"name": %q, "url": "file://%s", "sha256": %q, "version": %q, "size": %d}`,
			name, p, hex.EncodeToString(sum[:]), version, len(content)) + "\n"
	}
	blockContent := "from a block\n"
	blockSum := sha256.Sum256([]byte(blockContent))
	if err := os.WriteFile(filepath.Join(upstream, "block.txt"), []byte(blockContent), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
ferry {
  state = "ferry.state.json"
}

source "http" "tools" {
  artifacts_file = "artifacts.jsonl"
  artifact "block" {
    url    = "file://%s/block.txt"
    sha256 = "%s"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.dir.local
}
`, upstream, hex.EncodeToString(blockSum[:]))
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.ferry.hcl", cfg)
	list := row("jq", "1.7.1", "jq one seven one\n") + row("jq", "1.8.0", "jq one eight\n") + row("yq", "4.44.3", "yq\n")
	write("artifacts.jsonl", list)

	ferry(t, dir, nil, "apply", "-auto-approve").must(t, 0, "Apply complete: 4 changes applied")
	got := mirroredFiles(t, filepath.Join(dir, "mirror"))
	slices.Sort(got)
	want := []string{"block/block.txt", "jq/1.7.1/jq-1.7.1.txt", "jq/1.8.0/jq-1.8.0.txt", "yq/4.44.3/yq-4.44.3.txt"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mirrored files (-want +got):\n%s", diff)
	}
	ferry(t, dir, nil, "plan", "-detailed-exitcode").must(t, 0, "No changes")

	// A saved plan is refused once the list changed, and the new plan
	// carries the added row.
	ferry(t, dir, nil, "plan", "-out", "noop.json").must(t, 0, "No changes")
	write("artifacts.jsonl", list+row("yq", "4.45.1", "yq newer\n"))
	ferry(t, dir, nil, "apply", "noop.json").must(t, 1, "is stale")
	r := ferry(t, dir, nil, "plan")
	r.must(t, 0, "Plan: 1 to add", "yq/4.45.1/yq-4.45.1.txt")

	// A bad row is a diagnostic at its line, and nothing is planned.
	write("artifacts.jsonl", list+`{"name": "zz", "url": "file:///x"}`+"\n")
	r = ferry(t, dir, nil, "plan")
	r.must(t, 1, "Missing artifact digest", "artifacts.jsonl:4")
	if strings.Contains(r.stdout+r.stderr, "panic") {
		t.Errorf("output mentions a panic:\n%s%s", r.stdout, r.stderr)
	}
}

package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAirGapHTTPSource: an http source crosses the air gap like a
// buildpack one: -download-only fills the cache, then plan and apply
// -from-cache (also with a saved plan) land every file in a dir destination
// without contacting the upstream.
func TestAirGapHTTPSource(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	cache := filepath.Join(t.TempDir(), "cache")

	ferry(t, dir, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 3 artifacts")
	if _, err := os.Stat(filepath.Join(dir, "ferry.state.json")); !os.IsNotExist(err) {
		t.Fatal("-download-only wrote a state")
	}

	// Inner side: the upstream is gone.
	up.srv.Close()
	sent := up.total()
	ferry(t, dir, env, "plan", "-from-cache", cache, "-out", "p.json").must(t, 0, "Plan: 3 to add")
	ferry(t, dir, env, "apply", "-from-cache", cache, "p.json").must(t, 0, "Apply complete: 3 changes applied")
	if got := mirroredFiles(t, filepath.Join(dir, "mirror")); len(got) != 3 {
		t.Errorf("mirrored %v; want 3 files", got)
	}
	if up.total() != sent {
		t.Error("the inner side contacted the upstream")
	}
	ferry(t, dir, env, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 0, "No changes")

	// A file deleted at the destination is repaired from the cache by a plain apply.
	os.Remove(filepath.Join(dir, "mirror/greeting/1.2.0/greeting-1.2.0.txt"))
	ferry(t, dir, env, "apply", "-from-cache", cache, "-auto-approve").must(t, 0, "Apply complete: 1 change applied")
}

// TestAirGapNeedsTheListing: the inner side lists npm and oci sources
// from what -download-only stored; with a cache that holds no listing of
// them, plan and apply -from-cache refuse, naming each source and what to
// run, before anything is planned, and never reach for the upstream.
func TestAirGapNeedsTheListing(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	b, err := os.ReadFile(filepath.Join(dir, "main.ferry.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, []byte(`
source "npm" "up" {
  registry = "http://127.0.0.1:1"
  packages = ["left-pad"]
}
source "oci" "images" {
  registry   = "127.0.0.1:1"
  repository = "library/busybox"
  plain_http = true
  tags {
    exact = ["1.36"]
  }
}
destination "oci" "internal" {
  registry   = "127.0.0.1:1"
  repository = "mirror/busybox"
  plain_http = true
}
mirror "npm" {
  from = source.npm.up
  to   = destination.dir.local
}
mirror "images" {
  from = source.oci.images
  to   = destination.oci.internal
}
`)...)
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for _, args := range [][]string{
		{"plan", "-from-cache", cache},
		{"apply", "-from-cache", cache, "-auto-approve"},
	} {
		r := ferry(t, dir, nil, args...)
		r.must(t, 1, "source npm.up: the cache holds no listing of it: run ferry apply -download-only",
			"source oci.images: the cache holds no listing of it")
		if strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("%v reached for the upstream:\n%s", args, r.stderr)
		}
	}
}

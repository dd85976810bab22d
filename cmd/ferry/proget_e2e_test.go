package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers/providertest/progettest"
)

// progetKeys are the API keys of the two test servers; none may show in
// ferry's output or state.
const progetSrcKey, progetDstKey = "pg-src-key-7f3a9", "pg-dst-key-c41e2"

func upack(t *testing.T, group, name, version string) []byte {
	return progettest.BuildPackage(t, progettest.Manifest{Group: group, Name: name, Version: version},
		map[string][]byte{"bin/" + name: []byte(group + "/" + name + "@" + version)})
}

func noKeys(t *testing.T, dir string, r result) {
	t.Helper()
	state, _ := os.ReadFile(filepath.Join(dir, "ferry.state.json"))
	for _, k := range []string{progetSrcKey, progetDstKey} {
		if strings.Contains(r.stdout+r.stderr+string(state), k) {
			t.Fatalf("an API key shows in ferry's output or state:\n%s\n%s", r.stdout, r.stderr)
		}
	}
}

// progetConfig writes, in a new directory it returns, a configuration
// with one mirror NAME from source TYPE "build" to destination TYPE "dr",
// with the blocks' arguments, the retention block's, and extra blocks.
func progetConfig(t *testing.T, typ, name, extra, srcArgs, dstArgs, retention string) string {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`ferry {
  state = "ferry.state.json"
}
%[3]s
source %[1]q "build" {%[4]s
}

destination %[1]q "dr" {%[5]s
}

mirror %[2]q {
  from = source.%[1]s.build
  to   = destination.%[1]s.dr
  retention {
    %[6]s
  }
}
`, typ, name, extra, srcArgs, dstArgs, retention)
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ProGet universal feed to universal feed (both the test server written
// from Inedo's API docs): groups kept apart, keep_last in SemVer 2 order,
// and a package ferry does not own never touched.
func TestProGetUpackToUpack(t *testing.T) {
	src := progettest.Start(t, progettest.Options{APIKey: progetSrcKey})
	dst := progettest.Start(t, progettest.Options{APIKey: progetDstKey, DeletesPerHour: 10})
	for _, p := range [][3]string{
		{"tools", "app", "1.0.0"}, {"tools", "app", "1.2.0-rc.1"}, {"tools", "app", "1.9.0"}, {"tools", "app", "1.10.0"},
		{"apps/internal", "app", "1.0.0"}, {"", "solo", "0.1.0"},
	} {
		src.AddPackage(t, "universal", upack(t, p[0], p[1], p[2]))
	}
	dst.AddPackage(t, "mirror", upack(t, "foreign", "pkg", "1.0.0"))

	dir := progetConfig(t, "proget_upack", "universal", `
variable "dst_key" {
  type      = string
  sensitive = true
}`, fmt.Sprintf(`
  url         = %q
  feed        = "universal"
  api_key_env = "PROGET_SRC_KEY"`, src.URL), fmt.Sprintf(`
  url     = %q
  feed    = "mirror"
  api_key = var.dst_key`, dst.URL), "keep_last = 2")
	env := []string{"PROGET_SRC_KEY=" + progetSrcKey, "FERRY_VAR_dst_key=" + progetDstKey}

	// Trace logs show every request: still no key.
	r := ferry(t, dir, append(env, "FERRY_LOG=trace"), "plan", "-detailed-exitcode")
	r.must(t, 2, `mirror.universal["tools/app/1.10.0/app-1.10.0.upack"]`, `mirror.universal["apps/internal/app/1.0.0/app-1.0.0.upack"]`, "Plan: 4 to add")
	noKeys(t, dir, r)
	r = ferry(t, dir, append(env, "FERRY_LOG=trace"), "apply", "-auto-approve")
	r.must(t, 0, "Apply complete: 4 changes applied")
	noKeys(t, dir, r)
	want := []string{"apps/internal/app/1.0.0", "foreign/pkg/1.0.0", "solo/0.1.0", "tools/app/1.10.0", "tools/app/1.9.0"}
	if diff := cmp.Diff(want, dst.Packages("mirror")); diff != "" {
		t.Fatalf("destination feed (-want +got):\n%s", diff)
	}
	for _, p := range [][3]string{{"tools", "app", "1.10.0"}, {"apps/internal", "app", "1.0.0"}} {
		got, _ := dst.Package("mirror", p[0], p[1], p[2])
		if want, _ := src.Package("universal", p[0], p[1], p[2]); string(got) != string(want) {
			t.Errorf("%s/%s %s differs between the feeds", p[0], p[1], p[2])
		}
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")

	// A new version upstream: it lands and the oldest kept one goes.
	src.AddPackage(t, "universal", upack(t, "tools", "app", "1.11.0"))
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2,
		`mirror.universal["tools/app/1.9.0/app-1.9.0.upack"]`, "(retention: keep_last = 2)", "Plan: 1 to add, 0 to replace, 1 to delete")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	want = []string{"apps/internal/app/1.0.0", "foreign/pkg/1.0.0", "solo/0.1.0", "tools/app/1.10.0", "tools/app/1.11.0"}
	if diff := cmp.Diff(want, dst.Packages("mirror")); diff != "" {
		t.Fatalf("destination feed after the new version (-want +got):\n%s", diff)
	}
	if dst.Deletes() != 1 {
		t.Errorf("the destination executed %d deletes, want 1", dst.Deletes())
	}

	// A package whose upack.json names another version is refused, alone:
	// the good new version lands, the run exits non-zero, and no delete
	// runs after a failed change.
	src.AddRaw("universal", "tools", "evil", "1.0.0", upack(t, "tools", "evil", "6.6.6"))
	src.AddPackage(t, "universal", upack(t, "apps/internal", "app", "1.1.0"))
	src.AddPackage(t, "universal", upack(t, "tools", "app", "1.12.0"))
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 1,
		`mirror.universal["tools/evil/1.0.0/evil-1.0.0.upack"]`, `upack.json says group "tools", name "evil", version "6.6.6"`)
	want = []string{"apps/internal/app/1.0.0", "apps/internal/app/1.1.0", "foreign/pkg/1.0.0", "solo/0.1.0", "tools/app/1.10.0", "tools/app/1.11.0", "tools/app/1.12.0"}
	if diff := cmp.Diff(want, dst.Packages("mirror")); diff != "" {
		t.Fatalf("destination feed after a refused package (-want +got):\n%s", diff)
	}
}

// ProGet asset directory to asset directory: nested folders, a changed
// file replaced by its hash, and deletes beyond the server's quota
// refused with what to do, the rest of the apply carrying on.
func TestProGetAssetsToAssets(t *testing.T) {
	src := progettest.Start(t, progettest.Options{APIKey: progetSrcKey})
	dst := progettest.Start(t, progettest.Options{APIKey: progetDstKey, DeletesPerHour: 1})
	files := map[string]string{
		"tools/jq/1.7.1/jq-linux-amd64": "jq binary",
		"tools/readme.txt":              "version one",
		"docs/a/b/c.md":                 "# deep",
		"docs/a/d.md":                   "# less deep",
	}
	for p, c := range files {
		src.PutAsset("files", p, []byte(c))
	}
	dst.PutAsset("copy", "not-ours.txt", []byte("hands off"))

	dir := progetConfig(t, "proget_asset", "assets", "", fmt.Sprintf(`
  url         = %q
  directory   = "files"
  api_key_env = "PROGET_SRC_KEY"`, src.URL), fmt.Sprintf(`
  url         = %q
  directory   = "copy"
  path        = "mirror"
  api_key_env = "PROGET_DST_KEY"`, dst.URL), "max_deletes = 5")
	env := []string{"PROGET_SRC_KEY=" + progetSrcKey, "PROGET_DST_KEY=" + progetDstKey}

	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "Apply complete: 4 changes applied")
	noKeys(t, dir, r)
	want := []string{"mirror/docs/a/b/c.md", "mirror/docs/a/d.md", "mirror/tools/jq/1.7.1/jq-linux-amd64", "mirror/tools/readme.txt", "not-ours.txt"}
	if diff := cmp.Diff(want, dst.Assets("copy")); diff != "" {
		t.Fatalf("destination directory (-want +got):\n%s", diff)
	}

	// A changed file is a replace, found by its hash.
	src.PutAsset("files", "tools/readme.txt", []byte("version two"))
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2,
		`mirror.assets["tools/readme.txt"]`, "upstream changed", "Plan: 0 to add, 1 to replace, 0 to delete")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	if got, _ := dst.Asset("copy", "mirror/tools/readme.txt"); string(got) != "version two" {
		t.Fatalf("after the replace the destination holds %q", got)
	}

	// A file removed at the destination behind ferry's back is drift,
	// found from one recursive listing (no metadata request per file).
	dst.DeleteAsset("copy", "mirror/docs/a/d.md")
	before := len(dst.Requests())
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, `mirror.assets["docs/a/d.md"]`, "(missing at destination)")
	for _, r := range dst.Requests()[before:] {
		if strings.Contains(r, "/metadata/") {
			t.Errorf("plan asked for metadata (%s) instead of listing the folder once", r)
		}
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")

	// Two files gone upstream, a quota of one delete an hour: one delete
	// runs, the other is refused with what to do, and stays owned.
	for _, p := range []string{"docs/a/b/c.md", "docs/a/d.md"} {
		src.DeleteAsset("files", p)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 0 to add, 0 to replace, 2 to delete")
	r = ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 1, "429", "set deletes_per_hour on the destination")
	noKeys(t, dir, r)
	if got := dst.Assets("copy"); len(got) != 4 || !slices.Contains(got, "not-ours.txt") {
		t.Fatalf("after the quota-limited apply the destination holds %v", got)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 0 to add, 0 to replace, 1 to delete")

	// Told the server's quota (deletes_per_hour, read by the core in every
	// destination block), ferry paces the delete instead: it is left for a
	// later apply, exit 0, and the server gets no request it would refuse.
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `directory   = "copy"`, `directory   = "copy"
  deletes_per_hour = 1`, 1))
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan").must(t, 0, "destination.proget_asset.dr: 1 delete, at most 1 per hour: about ")
	before = len(dst.Requests())
	r = ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "1 delete left for a later apply")
	for _, req := range dst.Requests()[before:] {
		if strings.HasPrefix(req, "DELETE ") {
			t.Errorf("a paced apply still sent %s", req)
		}
	}
}

// Both ProGet sources cross an air gap: -download-only fetches (verifying
// hashes and upack.json) into the cache and stores the listings; the inner
// side plans and applies from the cache with the source servers gone.
func TestProGetAirGap(t *testing.T) {
	src := progettest.Start(t, progettest.Options{APIKey: progetSrcKey})
	dst := progettest.Start(t, progettest.Options{APIKey: progetDstKey})
	src.AddPackage(t, "universal", upack(t, "tools", "app", "1.0.0"))
	src.AddPackage(t, "universal", upack(t, "", "solo", "2.0.0"))
	src.PutAsset("files", "a/b.txt", []byte("b"))
	dir := progetConfig(t, "proget_upack", "universal", fmt.Sprintf(`
source "proget_asset" "files" {
  url         = %q
  directory   = "files"
  api_key_env = "PROGET_SRC_KEY"
}

destination "proget_asset" "files" {
  url         = %q
  directory   = "files"
  api_key_env = "PROGET_DST_KEY"
}

mirror "assets" {
  from = source.proget_asset.files
  to   = destination.proget_asset.files
}`, src.URL, dst.URL), fmt.Sprintf(`
  url         = %q
  feed        = "universal"
  api_key_env = "PROGET_SRC_KEY"`, src.URL), fmt.Sprintf(`
  url         = %q
  feed        = "mirror"
  api_key_env = "PROGET_DST_KEY"`, dst.URL), "keep_last = 5")
	env := []string{"PROGET_SRC_KEY=" + progetSrcKey, "PROGET_DST_KEY=" + progetDstKey}
	cache := filepath.Join(t.TempDir(), "cache")

	ferry(t, dir, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 3 artifacts")
	src.Close()
	ferry(t, dir, env, "apply", "-from-cache", cache, "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	if diff := cmp.Diff([]string{"solo/2.0.0", "tools/app/1.0.0"}, dst.Packages("mirror")); diff != "" {
		t.Errorf("destination feed (-want +got):\n%s", diff)
	}
	if got, _ := dst.Asset("files", "a/b.txt"); string(got) != "b" {
		t.Errorf("destination asset a/b.txt = %q", got)
	}
}

package main_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// setUpstreamTag points a dist-tag upstream, as its maintainer's
// `npm dist-tag add` would.
func setUpstreamTag(t *testing.T, v *testenv.Verdaccio, name, tag, version string) {
	t.Helper()
	s, err := npm.NewDestination("npm.upstream", &npm.DestinationConfig{Registry: npm.Registry{URL: v.URL, Token: v.Token}}, registry.Env{HTTP: httpx.New(httpx.Options{}), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdatePackage(t.Context(), name, npm.PackageUpdate{SetTags: map[string]string{tag: version}}); err != nil {
		t.Fatal(err)
	}
}

// When the upstream moves a dist-tag the mirror set to a version the
// mirror does not select, the plan removes the tag at the destination
// (before, the mirror kept it on the old version with "No changes").
func TestNPMUpstreamMovesTagOutsideSelection(t *testing.T) {
	dir, up, down, env := npmExample(t)
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	const oldSel = "semver    = \">= 1.0.0\"\n    latest    = 2\n    dist_tags = [\"latest\", \"next\"]"
	if !strings.Contains(string(b), oldSel) {
		t.Fatalf("examples/npm/main.ferry.hcl no longer selects with %q", oldSel)
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(b), oldSel, "semver = \"^1.0.0\"", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	setUpstreamTag(t, up, "greet", "stable", "1.0.0")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	tags, _ := packument(t, down, "greet")
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "stable": "1.0.0"}, tags); diff != "" {
		t.Fatalf("greet dist-tags at the mirror after the first apply (-want +got):\n%s", diff)
	}

	setUpstreamTag(t, up, "greet", "stable", "2.0.0-beta.1") // outside ^1.0.0
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 0 to add, 0 to replace, 0 to delete, 1 to update.",
		"dist-tag stable: 1.0.0 -> (removed: the upstream moved it to 2.0.0-beta.1, which this mirror does not have)")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	tags, _ = packument(t, down, "greet")
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0"}, tags); diff != "" {
		t.Errorf("greet dist-tags at the mirror (-want +got):\n%s", diff)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

// A hostile upstream whose latest dist-tag names "../../x" (a version the
// document also lists, under that name) used to fail every plan of the
// mirror (the key "x/-/x-../../x.tgz" is refused by every destination);
// now that tag is ignored with a warning and the good version mirrored.
func TestNPMHostileDistTagDoesNotFailThePlan(t *testing.T) {
	tarball := []byte("not really a tarball, but these are the bytes the integrity covers")
	sum := sha512.Sum512(tarball)
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/x":
			version := func(v string) map[string]any {
				return map[string]any{"name": "x", "version": v, "dist": map[string]string{
					"tarball":   base + "/x/-/x-1.0.0.tgz",
					"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
				}}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{
				"name":      "x",
				"dist-tags": map[string]string{"latest": "../../x", "stable": "1.0.0"},
				"versions":  map[string]any{"1.0.0": version("1.0.0"), "../../x": version("../../x")},
			})
		case "/x/-/x-1.0.0.tgz":
			_, _ = w.Write(tarball)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	base = srv.URL
	dir := t.TempDir()
	cfg := `source "npm" "up" {
  registry = "` + srv.URL + `"
  npmrc    = false
  packages = ["x"]
  versions {
    dist_tags = ["latest", "stable"]
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "npm" {
  from = source.npm.up
  to   = destination.dir.local
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, nil, "plan", "-detailed-exitcode").must(t, 2, "Plan: 1 to add, 0 to replace, 0 to delete",
		`mirror.npm["x/-/x-1.0.0.tgz"]`, `x: dist-tag "latest" points at "../../x", which is not a semantic version; ferry ignores the tag.`)
	ferry(t, dir, nil, "apply", "-auto-approve").must(t, 0)
	if b, err := os.ReadFile(filepath.Join(dir, "mirror", "x", "-", "x-1.0.0.tgz")); err != nil || string(b) != string(tarball) {
		t.Errorf("mirrored tarball: %q, %v", b, err)
	}
	ferry(t, dir, nil, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

// A saved plan's dist-tag updates apply as planned; once the destination's
// tags moved after the plan was made, the plan is refused (its update was
// planned against tags the destination no longer has) and nothing is set.
func TestNPMSavedPlanDistTags(t *testing.T) {
	dir, up, down, env := npmExample(t)
	ferry(t, dir, env, "plan", "-out", "first.json").must(t, 0, "to update")
	ferry(t, dir, env, "apply", "first.json").must(t, 0, "Apply complete")
	before, _ := packument(t, down, "greet")
	if before["next"] != "2.0.0-beta.1" {
		t.Fatalf("greet dist-tags after applying the saved plan = %v; want next at 2.0.0-beta.1", before)
	}

	setUpstreamTag(t, up, "greet", "stable", "1.0.0")
	ferry(t, dir, env, "plan", "-out", "tags.json").must(t, 0, "Plan: 0 to add, 0 to replace, 0 to delete, 1 to update.", "dist-tag stable: (none) -> 1.0.0")
	setUpstreamTag(t, down, "greet", "stable", "1.1.0") // someone moves it at the mirror
	ferry(t, dir, env, "apply", "tags.json").must(t, 1, `mirror.npm["greet"] (update): its changes differ`, "Saved plan tags.json refused")
	if tags, _ := packument(t, down, "greet"); tags["stable"] != "1.1.0" {
		t.Errorf("greet dist-tags after a refused plan = %v; want stable left at 1.1.0", tags)
	}
	ferry(t, dir, env, "plan", "-out", "again.json").must(t, 0, "dist-tag stable: 1.1.0 -> 1.0.0")
	ferry(t, dir, env, "apply", "again.json").must(t, 0, `mirror.npm["greet"]: updated`)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

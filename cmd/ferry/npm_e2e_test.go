package main_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// npmExample copies examples/npm, starts an upstream and an internal
// Verdaccio, and publishes the example's first tarballs upstream (what
// examples/npm/run.sh does).
func npmExample(t *testing.T) (dir string, up, down *testenv.Verdaccio, env []string) {
	t.Helper()
	dir = copyDir(t, "../../examples/npm")
	up = testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	down = testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	for _, p := range []struct{ file, tag string }{
		{"greet-1.0.0.tgz", "latest"}, {"greet-1.1.0.tgz", "latest"},
		{"greet-2.0.0-beta.1.tgz", "next"}, {"demo-shout-1.0.0.tgz", "latest"},
	} {
		publishFixture(t, up, dir, p.file, p.tag)
	}
	env = []string{"FERRY_VAR_upstream=" + up.URL, "FERRY_VAR_internal=" + down.URL, "FERRY_VAR_internal_token=" + down.Token}
	return dir, up, down, env
}

func publishFixture(t *testing.T, v *testenv.Verdaccio, dir, file, tag string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "upstream", file))
	if err != nil {
		t.Fatal(err)
	}
	v.Publish(t, b, tag)
}

// packument reads a package document as any client would.
func packument(t *testing.T, v *testenv.Verdaccio, name string) (tags map[string]string, versions map[string]struct {
	Deprecated string `json:"deprecated"`
	Dist       struct {
		Integrity string `json:"integrity"`
	} `json:"dist"`
}) {
	t.Helper()
	resp, err := http.Get(v.URL + "/" + strings.Replace(name, "/", "%2f", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]struct {
			Deprecated string `json:"deprecated"`
			Dist       struct {
				Integrity string `json:"integrity"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.DistTags, doc.Versions
}

func versionsOf[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// unpublish removes one version upstream, as its maintainer would.
func unpublish(t *testing.T, v *testenv.Verdaccio, key string) {
	t.Helper()
	s, err := npm.NewDestination("npm.upstream", &npm.DestinationConfig{Registry: npm.Registry{URL: v.URL, Token: v.Token}}, registry.Env{HTTP: httpx.New(httpx.Options{}), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
}

func TestNPMMirrorTagsAndInstall(t *testing.T) {
	dir, up, down, env := npmExample(t)

	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2,
		"Plan: 4 to add, 0 to replace, 0 to delete, 2 to update.",
		`mirror.npm["greet/-/greet-2.0.0-beta.1.tgz"]`, "dist-tag next: (none) -> 2.0.0-beta.1")
	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "Apply complete: 6 changes applied")
	if strings.Contains(r.stdout+r.stderr, down.Token) {
		t.Error("apply output quotes the publish token")
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 4 artifacts up to date.")

	tags, versions := packument(t, down, "greet")
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "next": "2.0.0-beta.1"}, tags); diff != "" {
		t.Errorf("greet dist-tags at the mirror (-want +got):\n%s", diff)
	}
	_, upVersions := packument(t, up, "greet")
	for v, d := range versions {
		if d.Dist.Integrity == "" || d.Dist.Integrity != upVersions[v].Dist.Integrity {
			t.Errorf("greet@%s integrity %q at the mirror, %q upstream", v, d.Dist.Integrity, upVersions[v].Dist.Integrity)
		}
	}

	// A new release upstream: latest moves, and latest = 2 lets 1.0.0 go
	// (still upstream, so "no longer selected").
	publishFixture(t, up, dir, "greet-1.2.0.tgz", "latest")
	ferry(t, dir, env, "plan").must(t, 0, "Plan: 1 to add, 0 to replace, 1 to delete, 1 to update.",
		"no longer selected", "dist-tag latest: 1.1.0 -> 1.2.0")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	tags, versions = packument(t, down, "greet")
	if diff := cmp.Diff([]string{"1.1.0", "1.2.0", "2.0.0-beta.1"}, versionsOf(versions)); diff != "" {
		t.Errorf("greet versions at the mirror (-want +got):\n%s", diff)
	}
	if tags["latest"] != "1.2.0" {
		t.Errorf("latest at the mirror = %q, want 1.2.0", tags["latest"])
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")

	// An independent client installs from the mirror; its lockfile holds
	// the upstream's integrity.
	npmBin, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm not found (it comes with node, which Verdaccio needs): %v", err)
	}
	proj := t.TempDir()
	os.WriteFile(filepath.Join(proj, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o644)
	os.WriteFile(filepath.Join(proj, ".npmrc"), []byte("registry="+down.URL+"/\n"), 0o644)
	cmd := exec.Command(npmBin, "install", "--no-audit", "--no-fund", "--cache", filepath.Join(proj, ".cache"),
		"--userconfig", filepath.Join(proj, ".npmrc"), "greet@1.2.0", "@demo/shout@1.0.0")
	cmd.Dir = proj
	cmd.Env = append(os.Environ(), "npm_config_registry="+down.URL+"/")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install from the mirror: %v\n%s", err, out)
	}
	lock, err := os.ReadFile(filepath.Join(proj, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lf struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Resolved  string `json:"resolved"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(lock, &lf); err != nil {
		t.Fatal(err)
	}
	_, upShout := packument(t, up, "@demo/shout")
	_, upVersions = packument(t, up, "greet")
	for path, want := range map[string]string{
		"node_modules/greet":       upVersions["1.2.0"].Dist.Integrity,
		"node_modules/@demo/shout": upShout["1.0.0"].Dist.Integrity,
	} {
		got := lf.Packages[path]
		if got.Integrity == "" || got.Integrity != want || !strings.HasPrefix(got.Resolved, down.URL) {
			t.Errorf("lockfile %s = %+v; want integrity %s resolved from %s", path, got, want, down.URL)
		}
	}
}

func TestNPMUpstreamRemovalPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy      string
		plan        string
		contains    []string
		versions    []string
		deprecated  string
		stateHas1_1 bool
	}{
		// The upstream's latest moved back to 1.0.0 with the unpublish; the
		// mirror follows it whatever it keeps.
		{policy: "delete", plan: "Plan: 0 to add, 0 to replace, 1 to delete, 1 to update.", contains: []string{"removed from source", "dist-tag latest: 1.1.0 -> 1.0.0"},
			versions: []string{"1.0.0", "2.0.0-beta.1"}},
		{policy: "keep", plan: "Plan: 0 to add, 0 to replace, 0 to delete, 1 to update.", contains: []string{"removed upstream; kept by on_upstream_removed", "dist-tag latest: 1.1.0 -> 1.0.0"},
			versions: []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, stateHas1_1: true},
		{policy: "deprecate", plan: "Plan: 0 to add, 0 to replace, 0 to delete, 1 to update.",
			contains: []string{`deprecate 1.1.0: "removed from the upstream registry`, "dist-tag latest: 1.1.0 -> 1.0.0"},
			versions: []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, deprecated: "1.1.0", stateHas1_1: true},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			dir, up, down, env := npmExample(t)
			env = append(env, "FERRY_VAR_on_removed="+tt.policy)
			ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
			// Upstream unpublishes 1.1.0; latest = 2 now means 1.0.0 (and
			// beta through "next"), which the mirror already has.
			unpublish(t, up, "greet/-/greet-1.1.0.tgz")
			ferry(t, dir, env, "plan").must(t, 0, append([]string{tt.plan}, tt.contains...)...)
			ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
			_, versions := packument(t, down, "greet")
			if diff := cmp.Diff(tt.versions, versionsOf(versions)); diff != "" {
				t.Errorf("versions at the mirror (-want +got):\n%s", diff)
			}
			for v, d := range versions {
				if want := (v == tt.deprecated); (d.Deprecated != "") != want {
					t.Errorf("%s deprecated = %q; want deprecated: %v", v, d.Deprecated, want)
				}
			}
			keys := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "npm")
			if has := strings.Contains(strings.Join(keys, " "), "greet-1.1.0.tgz"); has != tt.stateHas1_1 {
				t.Errorf("state keys %v: has 1.1.0 = %v, want %v", keys, has, tt.stateHas1_1)
			}
			ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0)
		})
	}
}

func TestNPMCorruptUpstreamTarballNeverLands(t *testing.T) {
	dir, up, down, env := npmExample(t)
	matches, _ := filepath.Glob(filepath.Join(up.Dir, "greet", "greet-1.1.0.tgz"))
	if len(matches) != 1 {
		t.Fatalf("stored tarball not found under %s", up.Dir)
	}
	b, _ := os.ReadFile(matches[0])
	b[len(b)-10] ^= 0x01
	os.WriteFile(matches[0], b, 0o644)

	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 1, `mirror.npm["greet/-/greet-1.1.0.tgz"]`, "mismatch",
		// latest pointed at the corrupt version: that tag is held back, the others are set.
		"dist-tags not set (latest -> 1.1.0): the versions they point at did not land")
	tags, versions := packument(t, down, "greet")
	// (Verdaccio itself points a package without latest at its highest
	// version; ferry only must not have set latest to the missing one.)
	if tags["latest"] == "1.1.0" || tags["next"] != "2.0.0-beta.1" {
		t.Errorf("greet dist-tags at the mirror = %v; want next set and latest not at 1.1.0", tags)
	}
	if _, ok := versions["1.1.0"]; ok {
		t.Error("the corrupt version was published")
	}
	if _, ok := versions["1.0.0"]; !ok {
		t.Error("a good version of the same package did not land")
	}
	ferry(t, dir, env, "plan").must(t, 0, "Plan: 1 to add")
	if strings.Contains(r.stdout+r.stderr, down.Token) {
		t.Error("output quotes the token")
	}
}

// TestNPMChangesFeedPositions: with a changes feed, apply records the
// feed's position in the state (also when there is nothing else to apply),
// and a plan that starts from it requests only the documents of packages
// the feed names.
func TestNPMChangesFeedPositions(t *testing.T) {
	dir, up, _, env := npmExample(t)
	feed := testenv.StartNPMFeed(t, "npm", []testenv.FeedChange{{Seq: 1, ID: "greet"}, {Seq: 2, ID: "@demo/shout"}})
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withFeed := strings.Replace(string(b), "  npmrc    = false # anonymous reads\n",
		"  npmrc    = false # anonymous reads\n  changes {\n    url = \""+feed.URL+"\"\n  }\n", 1)
	if withFeed == string(b) {
		t.Fatal("the example's source block changed; update this test")
	}
	if err := os.WriteFile(cfgPath, []byte(withFeed), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(env, "FERRY_CACHE_DIR="+filepath.Join(dir, "cache"), "FERRY_LOG=info")
	statePath := filepath.Join(dir, "ferry.state.json")
	feeds := func() map[string]any {
		t.Helper()
		f, _ := readState(t, statePath)["feeds"].(map[string]any)
		return f
	}
	wantFeeds := func(pos string) map[string]any {
		return map[string]any{"npm.upstream": map[string]any{feed.URL: pos}}
	}

	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "Apply complete: 6 changes applied")
	if diff := cmp.Diff(wantFeeds("2"), feeds()); diff != "" {
		t.Errorf("feeds after the first apply (-want +got):\n%s", diff)
	}

	// A release upstream, announced by the feed: only greet's document is
	// requested.
	publishFixture(t, up, dir, "greet-1.2.0.tgz", "latest")
	feed.Add(testenv.FeedChange{Seq: 3, ID: "greet"})
	r = ferry(t, dir, env, "plan", "-detailed-exitcode")
	r.must(t, 2, "Plan: 1 to add, 0 to replace, 1 to delete, 1 to update.")
	if !strings.Contains(r.stderr, "read=1 not_modified=0 unchanged_per_feed=1") {
		t.Errorf("plan did not re-read only greet's document:\n%s", r.stderr)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete")
	if diff := cmp.Diff(wantFeeds("3"), feeds()); diff != "" {
		t.Errorf("feeds after the second apply (-want +got):\n%s", diff)
	}

	// Only packages ferry does not mirror change: no document is requested,
	// nothing is applied, and the new position is still recorded.
	feed.Add(testenv.FeedChange{Seq: 4, ID: "left-pad"}, testenv.FeedChange{Seq: 5, ID: "@types/node"})
	r = ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "No changes.")
	if !strings.Contains(r.stderr, "read=0 not_modified=0 unchanged_per_feed=2") {
		t.Errorf("a plan with nothing changed requested documents:\n%s", r.stderr)
	}
	if diff := cmp.Diff(wantFeeds("5"), feeds()); diff != "" {
		t.Errorf("feeds after a no-change apply (-want +got):\n%s", diff)
	}
}

package main_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// gate is a reverse proxy in front of an upstream that counts requests
// and can be closed: the connected side reaches the upstream through it,
// the inner side finds it gone.
type gate struct {
	URL, Host string
	srv       *httptest.Server
	requests  atomic.Int64
}

func startGate(t *testing.T, target string) *gate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	proxy := httputil.NewSingleHostReverseProxy(u) // keeps Host: documents name the gate
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	g.URL = g.srv.URL
	g.Host = strings.TrimPrefix(g.URL, "http://")
	return g
}

// TestAirGapNPMSource: -download-only stores the tarballs and the package
// documents; with the upstream gone, plan and apply -from-cache publish
// every selected version with its dist-tags into an npm registry, byte for
// byte, and npm installs from it.
func TestAirGapNPMSource(t *testing.T) {
	dir, up, down, _ := npmExample(t)
	g := startGate(t, up.URL)
	env := []string{"FERRY_VAR_upstream=" + g.URL, "FERRY_VAR_internal=" + down.URL, "FERRY_VAR_internal_token=" + down.Token}
	cache := filepath.Join(t.TempDir(), "cache")

	ferry(t, dir, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 4 artifacts", "source npm.upstream: listing stored")
	g.srv.Close()
	sent := g.requests.Load()

	ferry(t, dir, env, "plan", "-from-cache", cache, "-out", "p.json").must(t, 0,
		"Plan: 4 to add, 0 to replace, 0 to delete, 2 to update.", "dist-tag next: (none) -> 2.0.0-beta.1")
	ferry(t, dir, env, "apply", "-from-cache", cache, "p.json").must(t, 0, "Apply complete: 6 changes applied")
	ferry(t, dir, env, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 0, "No changes. 4 artifacts up to date.")
	if g.requests.Load() != sent {
		t.Error("the inner side contacted the upstream")
	}

	tags, versions := packument(t, down, "greet")
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "next": "2.0.0-beta.1"}, tags); diff != "" {
		t.Errorf("greet dist-tags at the mirror (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, versionsOf(versions)); diff != "" {
		t.Errorf("greet versions at the mirror (-want +got):\n%s", diff)
	}
	// Exact bytes: each tarball the mirror serves is the fixture published
	// upstream.
	for _, f := range []struct{ path, fixture string }{
		{"/greet/-/greet-1.0.0.tgz", "greet-1.0.0.tgz"},
		{"/greet/-/greet-1.1.0.tgz", "greet-1.1.0.tgz"},
		{"/greet/-/greet-2.0.0-beta.1.tgz", "greet-2.0.0-beta.1.tgz"},
		{"/@demo/shout/-/shout-1.0.0.tgz", "demo-shout-1.0.0.tgz"},
	} {
		want, err := os.ReadFile(filepath.Join(dir, "upstream", f.fixture))
		if err != nil {
			t.Fatal(err)
		}
		if got := getSHA256(t, down.URL+f.path); got != sha256Hex(want) {
			t.Errorf("GET %s: sha256 %s, want the fixture's %s", f.path, got, sha256Hex(want))
		}
	}

	npmBin, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm not found (it comes with node, which Verdaccio needs): %v", err)
	}
	proj := t.TempDir()
	os.WriteFile(filepath.Join(proj, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o644)
	os.WriteFile(filepath.Join(proj, ".npmrc"), []byte("registry="+down.URL+"/\n"), 0o644)
	cmd := exec.Command(npmBin, "install", "--no-audit", "--no-fund", "--cache", filepath.Join(proj, ".cache"),
		"--userconfig", filepath.Join(proj, ".npmrc"), "greet@1.1.0", "@demo/shout@1.0.0")
	cmd.Dir = proj
	cmd.Env = append(os.Environ(), "npm_config_registry="+down.URL+"/")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install from the mirror: %v\n%s", err, out)
	}
}

// TestAirGapOCISource: -download-only stores each selected image's graph
// (index, manifests, config, layers) by digest; with the upstream registry
// out of reach, plan and apply -from-cache copy the images into another
// registry, manifests byte for byte.
func TestAirGapOCISource(t *testing.T) {
	regA, regB := seedTwoRegistries(t)

	g := startGate(t, regA.URL)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(`source "oci" "a" {
  registry   = "`+g.Host+`"
  repository = "app"
  plain_http = true
  tags {
    semver = ">= 1.1"
  }
}
destination "oci" "b" {
  registry   = "`+regB.Host+`"
  repository = "mirror/app"
  plain_http = true
}
mirror "app" {
  from = source.oci.a
  to   = destination.oci.b
}
`), 0o644)
	cache := filepath.Join(t.TempDir(), "cache")
	ferry(t, dir, nil, "apply", "-download-only", "-cache", cache).must(t, 0, "source oci.a: listing stored")
	g.srv.Close()
	sent := g.requests.Load()

	ferry(t, dir, nil, "plan", "-from-cache", cache, "-out", "p.json").must(t, 0, `mirror.app["1.1.0"]`, `mirror.app["2.0.0"]`, "Plan: 2 to add")
	ferry(t, dir, nil, "apply", "-from-cache", cache, "p.json").must(t, 0, "Apply complete: 2 changes applied")
	ferry(t, dir, nil, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 0, "No changes. 2 artifacts up to date.")
	if g.requests.Load() != sent {
		t.Error("the inner side contacted the upstream registry")
	}
	for _, tag := range []string{"1.1.0", "2.0.0"} {
		a := getManifest(t, regA.URL+"/v2/app/manifests/"+tag)
		b := getManifest(t, regB.URL+"/v2/mirror/app/manifests/"+tag)
		if a == "" || a != b {
			t.Errorf("manifest %s differs between A and B (or is missing)", tag)
		}
		var m struct {
			Config struct{ Digest string }   `json:"config"`
			Layers []struct{ Digest string } `json:"layers"`
		}
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatal(err)
		}
		for _, d := range append(m.Layers, struct{ Digest string }{m.Config.Digest}) {
			if got := "sha256:" + getSHA256(t, regB.URL+"/v2/mirror/app/blobs/"+d.Digest); got != d.Digest {
				t.Errorf("%s: blob %s at B has %s", tag, d.Digest, got)
			}
		}
	}
	if m := getManifest(t, regB.URL+"/v2/mirror/app/manifests/1.0.0"); m != "" {
		t.Error("1.0.0 is outside the semver range but was mirrored")
	}
}

package main_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers/nuget/nugettest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

const nugetConfig = `
ferry {
  state = "ferry.state.json"
}

variable "upstream" {
  type = string
}

variable "internal" {
  type = string
}

variable "api_key" {
  type      = string
  sensitive = true
}

source "nuget" "libs" {
  service_index    = var.upstream
  packages         = ["Ferry.Lib", "Ferry.Bad"]
  versions         = "[1.0,2.0)"
  include_unlisted = false
}

source "nuget" "tools" {
  service_index      = var.upstream
  packages           = ["Ferry.T*"]
  latest             = 2
  include_prerelease = true
}

destination "nuget" "internal" {
  service_index = var.internal
  api_key       = var.api_key
}

mirror "libs" {
  from = source.nuget.libs
  to   = destination.nuget.internal
}

mirror "tools" {
  from = source.nuget.tools
  to   = destination.nuget.internal
}
`

// nugetExe is NuGet.exe 5.8 as .ci/install-test-servers installs it, or
// fails the test saying why: the independent client is part of the proof,
// never skipped.
func nugetExe(t *testing.T) string {
	t.Helper()
	root := os.Getenv("FERRY_TESTENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "ferry-testenv")
	}
	exe := filepath.Join(root, "nuget", "node_modules", "nuget-exe", "nuget-5.8.0.exe")
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("NuGet.exe 5.8 is not installed (%v): run .ci/install-test-servers", err)
	}
	if _, err := exec.LookPath("mono"); err != nil {
		t.Fatal("mono is not installed: run .ci/install-test-servers")
	}
	return exe
}

// feedHas reports whether the flat container at index serves id's version.
func feedHas(t *testing.T, index, id, version string) bool {
	t.Helper()
	lid := strings.ToLower(id)
	u := strings.TrimSuffix(index, "index.json") + "package/" + lid + "/" + version + "/" + lid + "." + version + ".nupkg"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Gitea to Gitea through the binary (two owners of one Gitea): the
// upstream feed sits behind nugettest.Feed, a labelled test double that
// adds the packageHash and listed state nuget.org's registrations carry and
// Gitea's lack, and replays a catalog (its documented shape; Gitea has
// none). A range, latest, a pre-release and an unlisted version are
// selected as configured; a tampered package is refused while the rest
// lands; once the upstream serves the real bytes it lands too; a re-plan
// has no changes; including unlisted versions adds one, dropping one from
// latest deletes it from Gitea (a hard delete); the state keeps the
// catalog's position and a new version the catalog names is planned
// without reading the packages it does not name; a version deleted
// upstream is kept under on_upstream_removed = "keep" and deleted without
// it; NuGet.exe 5.8 on Mono
// installs a mirrored package from the destination; the API key never
// shows.
func TestNuGetGiteaToGitea(t *testing.T) {
	exe := nugetExe(t)
	srv := testenv.StartGitea(t)
	nugettest.CreateOrg(t, srv.URL, srv.Token, "upstream")
	upIndex := nugettest.GiteaIndex(srv.URL, "upstream")
	pkgs := map[string][]byte{}
	for id, versions := range map[string][]string{
		"Ferry.Lib":  {"0.9.0", "1.0.0", "1.5.0", "1.9.0", "2.0.0-rc.1", "2.0.0"},
		"Ferry.Tool": {"1.0.0", "1.1.0", "1.2.0", "2.0.0-beta.1"},
		"Ferry.Bad":  {"1.0.0"},
		"Other.Pkg":  {"1.0.0"},
	} {
		for _, v := range versions {
			b := nugettest.Package(t, id, v, []byte(id+" "+v+"\n"))
			pkgs[id+" "+v] = b
			nugettest.Push(t, upIndex, srv.Token, b)
		}
	}
	feed := nugettest.NewFeed(t, srv.URL)
	for _, id := range []string{"Ferry.Lib", "Ferry.Tool", "Ferry.Bad", "Other.Pkg"} {
		feed.AddCatalog("nuget:PackageDetails", id, "1.0.0")
	}
	feed.Unlist("Ferry.Lib", "1.9.0")
	feed.Tamper("Ferry.Bad", "1.0.0", nugettest.Package(t, "Ferry.Bad", "1.0.0", []byte("tampered\n")))

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	if err := os.WriteFile(cfgPath, []byte(nugetConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	internal := nugettest.GiteaIndex(srv.URL, srv.User)
	env := []string{"FERRY_VAR_upstream=" + nugettest.GiteaIndex(feed.URL, "upstream"), "FERRY_VAR_internal=" + internal, "FERRY_VAR_api_key=" + srv.Token}
	var outputs []string
	run := func(code int, args []string, contains ...string) result {
		t.Helper()
		r := ferry(t, dir, env, args...)
		outputs = append(outputs, r.stdout+r.stderr)
		r.must(t, code, contains...)
		return r
	}
	plan := []string{"plan", "-detailed-exitcode"}
	apply := []string{"apply", "-auto-approve"}

	// libs: 1.0.0 and 1.5.0 of Ferry.Lib (0.9.0 and 2.0.0 out of range,
	// 1.9.0 unlisted, 2.0.0-rc.1 a pre-release) and Ferry.Bad 1.0.0;
	// tools: the newest two of Ferry.Tool, pre-release included.
	p := run(2, plan, "Plan: 5 to add, 0 to replace, 0 to delete.")
	for _, k := range []string{"ferry.lib/1.0.0/", "ferry.lib/1.5.0/", "ferry.bad/1.0.0/", "ferry.tool/2.0.0-beta.1/", "ferry.tool/1.2.0/"} {
		if !strings.Contains(p.stdout, k) {
			t.Errorf("the plan lacks %s:\n%s", k, p.stdout)
		}
	}
	run(1, apply, "Apply failed: 4 applied, 1 failed", `mirror.libs["ferry.bad/1.0.0/ferry.bad.1.0.0.nupkg"]: add failed`,
		"fetch ferry.bad/1.0.0/ferry.bad.1.0.0.nupkg: sha512 mismatch")
	for _, v := range []struct {
		id, version string
		want        bool
	}{
		{"Ferry.Lib", "1.0.0", true}, {"Ferry.Lib", "1.5.0", true}, {"Ferry.Tool", "2.0.0-beta.1", true}, {"Ferry.Tool", "1.2.0", true},
		{"Ferry.Bad", "1.0.0", false}, {"Ferry.Lib", "1.9.0", false}, {"Ferry.Lib", "2.0.0", false}, {"Ferry.Lib", "2.0.0-rc.1", false},
	} {
		if got := feedHas(t, internal, v.id, v.version); got != v.want {
			t.Errorf("after the first apply, the destination serves %s %s: %v, want %v", v.id, v.version, got, v.want)
		}
	}

	// The upstream serves the real bytes again: only Ferry.Bad is left.
	feed.Tamper("Ferry.Bad", "1.0.0", pkgs["Ferry.Bad 1.0.0"])
	run(2, plan, "Plan: 1 to add, 0 to replace, 0 to delete.", "ferry.bad/1.0.0/")
	run(0, apply, "Apply complete: 1 change applied")
	run(0, plan, "No changes. 5 artifacts up to date.")

	// Unlisted versions included: 1.9.0 is added. Latest 1 for the tools:
	// 1.2.0 is deleted from Gitea.
	cfg := strings.Replace(nugetConfig, "include_unlisted = false", "include_unlisted = true", 1)
	cfg = strings.Replace(cfg, "latest             = 2", "latest             = 1", 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run(2, plan, "Plan: 1 to add, 0 to replace, 1 to delete.", "ferry.lib/1.9.0/", "ferry.tool/1.2.0/",
		"What the deletes do:", ": 1 delete: hard deletes: each version is removed from the feed, not unlisted")
	run(0, apply, "Apply complete: 2 changes applied")
	run(0, plan, "No changes. 5 artifacts up to date.")
	if !feedHas(t, internal, "Ferry.Lib", "1.9.0") || feedHas(t, internal, "Ferry.Tool", "1.2.0") {
		t.Error("after including unlisted versions and keeping one tool: 1.9.0 missing or 1.2.0 still served")
	}

	// Catalog-driven: the state holds the catalog's position; a new
	// version the catalog names is planned, and the packages it does not
	// name are not read again.
	catalog := feed.URL + "/catalog/index.json"
	if feeds, _ := readState(t, filepath.Join(dir, "ferry.state.json"))["feeds"].(map[string]any); feeds == nil {
		t.Errorf("the state records no catalog position")
	} else if src, _ := feeds["nuget.libs"].(map[string]any); src == nil || src[catalog] == nil {
		t.Errorf("the state's feeds %v lack %s for nuget.libs", feeds, catalog)
	}
	b := nugettest.Package(t, "Ferry.Lib", "1.6.0", []byte("Ferry.Lib 1.6.0\n"))
	nugettest.Push(t, upIndex, srv.Token, b)
	feed.AddCatalog("nuget:PackageDetails", "Ferry.Lib", "1.6.0")
	feed.ResetRequests()
	run(2, plan, "Plan: 1 to add, 0 to replace, 0 to delete.", "ferry.lib/1.6.0/")
	for _, id := range []string{"ferry.tool", "ferry.bad"} {
		if n := feed.Requests("/registration/"+id+"/") + feed.Requests("/package/"+id+"/index.json"); n != 0 {
			t.Errorf("a plan after the catalog named only Ferry.Lib read %s %d times", id, n)
		}
	}
	if feed.Requests("/registration/ferry.lib/") == 0 {
		t.Error("the plan did not read Ferry.Lib, which the catalog named")
	}
	run(0, apply, "Apply complete: 1 change applied")
	run(0, plan, "No changes. 6 artifacts up to date.")

	// Deleted at the upstream (the catalog says so): kept while the mirror
	// says on_upstream_removed = "keep", deleted once it does not.
	nugettest.Delete(t, upIndex, srv.Token, "Ferry.Lib", "1.0.0")
	feed.AddCatalog("nuget:PackageDelete", "Ferry.Lib", "1.0.0")
	keep := strings.Replace(cfg, "mirror \"libs\" {\n", "mirror \"libs\" {\n  on_upstream_removed = \"keep\"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(keep), 0o644); err != nil {
		t.Fatal(err)
	}
	run(0, plan, `mirror.libs["ferry.lib/1.0.0/ferry.lib.1.0.0.nupkg"]    (removed upstream; kept by on_upstream_removed)`, "No changes. 5 artifacts up to date.")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run(2, plan, "Plan: 0 to add, 0 to replace, 1 to delete.", "ferry.lib/1.0.0/")
	run(0, apply, "Apply complete: 1 change applied")
	if feedHas(t, internal, "Ferry.Lib", "1.0.0") {
		t.Error("a version deleted upstream is still served by the destination")
	}

	// NuGet.exe installs a mirrored package from the destination, with no
	// other source configured and a fresh HOME (its service index cache).
	home := t.TempDir()
	conf := filepath.Join(home, "NuGet.Config")
	if err := os.WriteFile(conf, []byte(`<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="internal" value="`+internal+`" protocolVersion="3" />
  </packageSources>
</configuration>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(home, "out")
	cmd := exec.Command("mono", exe, "install", "Ferry.Lib", "-Version", "1.5.0", "-Source", internal,
		"-ConfigFile", conf, "-OutputDirectory", out, "-NonInteractive")
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("nuget.exe install: %v\n%s", err, buf.String())
	}
	got, err := os.ReadFile(filepath.Join(out, "Ferry.Lib.1.5.0", "content", "payload.bin"))
	if err != nil || string(got) != "Ferry.Lib 1.5.0\n" {
		t.Errorf("nuget.exe installed content/payload.bin = %q, %v\n%s", got, err, buf.String())
	}
	nupkg, err := os.ReadFile(filepath.Join(out, "Ferry.Lib.1.5.0", "Ferry.Lib.1.5.0.nupkg"))
	if err != nil || !bytes.Equal(nupkg, pkgs["Ferry.Lib 1.5.0"]) {
		t.Errorf("nuget.exe's Ferry.Lib.1.5.0.nupkg is not the upstream's bytes (%v)", err)
	}

	state, err := os.ReadFile(filepath.Join(dir, "ferry.state.json"))
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(state))
	for i, s := range outputs {
		if strings.Contains(s, srv.Token) {
			t.Errorf("the API key appears in output %d (the last is the state)", i)
		}
	}
}

// TestAirGapNuGetSource: -download-only verifies each selected package
// (hash and .nuspec) into the cache and stores what the feed listed; with
// the upstream feed gone, plan and apply -from-cache push the packages into
// another Gitea feed byte for byte, and a re-plan has no changes.
func TestAirGapNuGetSource(t *testing.T) {
	srv := testenv.StartGitea(t)
	nugettest.CreateOrg(t, srv.URL, srv.Token, "upstream")
	upIndex := nugettest.GiteaIndex(srv.URL, "upstream")
	pkgs := map[string][]byte{}
	for _, v := range []string{"1.0.0", "1.5.0", "2.0.0"} {
		pkgs[v] = nugettest.Package(t, "Ferry.Lib", v, []byte(v))
		nugettest.Push(t, upIndex, srv.Token, pkgs[v])
	}
	nugettest.Push(t, upIndex, srv.Token, nugettest.Package(t, "Ferry.Tool", "1.0.0", nil))
	nugettest.Push(t, upIndex, srv.Token, nugettest.Package(t, "Ferry.Bad", "1.0.0", nil))
	feed := nugettest.NewFeed(t, srv.URL)
	g := startGate(t, feed.URL)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(nugetConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	internal := nugettest.GiteaIndex(srv.URL, srv.User)
	env := []string{"FERRY_VAR_upstream=" + nugettest.GiteaIndex(g.URL, "upstream"), "FERRY_VAR_internal=" + internal, "FERRY_VAR_api_key=" + srv.Token}
	cache := filepath.Join(t.TempDir(), "cache")

	ferry(t, dir, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 4 artifacts", "source nuget.libs: listing stored", "source nuget.tools: listing stored")
	g.srv.Close()
	sent := g.requests.Load()

	ferry(t, dir, env, "plan", "-from-cache", cache, "-out", "p.json").must(t, 0, "Plan: 4 to add, 0 to replace, 0 to delete.")
	ferry(t, dir, env, "apply", "-from-cache", cache, "p.json").must(t, 0, "Apply complete: 4 changes applied")
	ferry(t, dir, env, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 0, "No changes. 4 artifacts up to date.")
	if g.requests.Load() != sent {
		t.Error("the inner side contacted the upstream feed")
	}
	for v, want := range map[string]bool{"1.0.0": true, "1.5.0": true, "2.0.0": false} {
		if got := feedHas(t, internal, "Ferry.Lib", v); got != want {
			t.Errorf("the destination serves Ferry.Lib %s: %v, want %v", v, got, want)
		}
	}
	if !feedHas(t, internal, "Ferry.Tool", "1.0.0") {
		t.Error("the destination lacks Ferry.Tool 1.0.0")
	}
	for _, v := range []string{"1.0.0", "1.5.0"} {
		if got := getSHA256(t, strings.TrimSuffix(internal, "index.json")+"package/ferry.lib/"+v+"/ferry.lib."+v+".nupkg"); got != sha256Hex(pkgs[v]) {
			t.Errorf("the destination's Ferry.Lib %s has sha256 %s, want the upstream's %s", v, got, sha256Hex(pkgs[v]))
		}
	}
}

package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildpackExample copies examples/buildpack, points its buildpack.toml files
// at a fresh upstream server and its base_url at a fresh mirror server.
func buildpackExample(t *testing.T) (dir string, up, mirror *upstream, env []string) {
	t.Helper()
	dir = copyDir(t, "../../examples/buildpack")
	up = startUpstream(t, filepath.Join(dir, "upstream"))
	os.MkdirAll(filepath.Join(dir, "mirror"), 0o755)
	mirror = startUpstream(t, filepath.Join(dir, "mirror"))
	for _, f := range []string{"buildpacks/node-engine/buildpack.toml", "buildpacks/gradle/buildpack.toml"} {
		p := filepath.Join(dir, f)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, bytes.ReplaceAll(b, []byte("http://127.0.0.1:8732"), []byte(up.URL)), 0o644)
	}
	return dir, up, mirror, []string{"FERRY_VAR_mirror_url=" + mirror.URL}
}

var uriLine = regexp.MustCompile(`^    (uri|source) = "`)

// onlyURIsChanged fails unless before and after differ only in dependency
// uri/source lines.
func onlyURIsChanged(t *testing.T, before, after []byte) int {
	t.Helper()
	a, b := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
	if len(a) != len(b) {
		t.Fatalf("rewrite changed the number of lines: %d -> %d", len(a), len(b))
	}
	changed := 0
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		if !uriLine.MatchString(a[i]) || !uriLine.MatchString(b[i]) {
			t.Fatalf("line %d changed but is not a dependency uri/source:\n-%s\n+%s", i+1, a[i], b[i])
		}
		changed++
	}
	return changed
}

func TestBuildpackMirrorAndRewrite(t *testing.T) {
	dir, up, mirror, env := buildpackExample(t)

	r := ferry(t, dir, env, "plan", "-detailed-exitcode")
	r.must(t, 2, "Plan: 8 to add, 0 to replace, 0 to delete, 3 to rewrite.",
		`~   mirror.node.rewrite["out/node-engine/buildpack.toml"]`, "4 uris  (output missing)",
		"--- out/gradle/buildpack.toml", "@@ -101 +101 @@")
	if strings.Contains(r.stdout, `mirror.node["node/20.20.1`) {
		t.Errorf("latest = 2 planned node 20.20.1:\n%s", r.stdout)
	}

	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 11 changes applied", "rewritten (4 uris)", "bindings written (5 files)")
	in, _ := os.ReadFile(filepath.Join(dir, "buildpacks/node-engine/buildpack.toml"))
	out, _ := os.ReadFile(filepath.Join(dir, "out/node-engine/buildpack.toml"))
	if n := onlyURIsChanged(t, in, out); n != 4 {
		t.Errorf("node-engine: %d uri lines changed; want 4", n)
	}
	gin, _ := os.ReadFile(filepath.Join(dir, "buildpacks/gradle/buildpack.toml"))
	gout, _ := os.ReadFile(filepath.Join(dir, "out/gradle/buildpack.toml"))
	if n := onlyURIsChanged(t, gin, gout); n != 2 {
		t.Errorf("gradle: %d uri/source lines changed; want 2 (uri and source)", n)
	}
	if !bytes.Contains(gout, []byte(`uri = "https://docs.gradle.org/current/userguide/userguide.html#licenses"`)) {
		t.Error("the license table's uri was rewritten")
	}

	// The binding maps each mirrored node dependency's sha256 to a URL that
	// serves exactly those bytes.
	bdir := filepath.Join(dir, "out/bindings/node-engine")
	if typ, _ := os.ReadFile(filepath.Join(bdir, "type")); string(typ) != "dependency-mapping" {
		t.Errorf("binding type = %q; want dependency-mapping", typ)
	}
	entries, _ := os.ReadDir(bdir)
	if len(entries) != 5 {
		t.Errorf("binding holds %d files; want type + 4", len(entries))
	}
	for _, e := range entries {
		if e.Name() == "type" {
			continue
		}
		url, _ := os.ReadFile(filepath.Join(bdir, e.Name()))
		if got := getSHA256(t, string(url)); got != e.Name() {
			t.Errorf("binding %s points at %s, which serves sha256 %s", e.Name(), url, got)
		}
	}

	// BP_DEPENDENCY_MIRROR: the layout serves <mirror>/<original host>/<original path>.
	r.must(t, 2, "Dependency mirror layout of mirror.node_layout: 2 covered; consumers set BP_DEPENDENCY_MIRROR="+mirror.URL+"/{originalHost}",
		"Not covered (a build that needs one fails to download it): 4", "node 20.20.2 (arm64), line 70: not selected")
	orig := up.URL + "/nodejs.org/dist/v22.23.2/node-v22.23.2-linux-x64.tar.xz"
	viaMirror := mirror.URL + "/127.0.0.1" + strings.TrimPrefix(orig, up.URL)
	if got, want := getSHA256(t, viaMirror), "13b2c6d39cb74e98e894bf68e9286e394125fe32a28cf87217f0030f801eb892"; got != want {
		t.Errorf("GET %s via the mirror layout: sha256 %s; want %s", viaMirror, got, want)
	}

	// A buildpack downloads a rewritten uri with one plain GET and gets the
	// bytes its checksum names.
	var m [][]byte
	for _, block := range bytes.Split(out, []byte("[[metadata.dependencies]]")) {
		sum := regexp.MustCompile(`(?m)^    checksum = "sha256:([0-9a-f]+)"$`).FindSubmatch(block)
		uri := regexp.MustCompile(`(?m)^    uri = "([^"]+)"$`).FindSubmatch(block)
		if sum != nil && uri != nil && bytes.HasPrefix(uri[1], []byte(mirror.URL)) {
			m = [][]byte{nil, sum[1], uri[1]}
			break
		}
	}
	if m == nil {
		t.Fatalf("no rewritten uri found in the output")
	}
	resp, err := http.Get(string(m[2]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if sum := sha256.Sum256(body); resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != string(m[1]) {
		t.Fatalf("GET %s: status %d, sha256 %x; want 200 and %s", m[2], resp.StatusCode, sum, m[1])
	}

	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 8 artifacts up to date.")

	// Editing a rewritten uri back by hand is drift.
	edited := bytes.Replace(out, m[2], []byte(up.URL+"/somewhere/else.tar.xz"), 1)
	os.WriteFile(filepath.Join(dir, "out/node-engine/buildpack.toml"), edited, 0o644)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "1 uri  (uri points upstream)", "Plan: 0 to add, 0 to replace, 0 to delete, 1 to rewrite.")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "rewritten (1 uri)")
	if got, _ := os.ReadFile(filepath.Join(dir, "out/node-engine/buildpack.toml")); !bytes.Equal(got, out) {
		t.Error("repairing the edit did not restore the rewritten file byte for byte")
	}

	// In place: the gradle file itself is rewritten; a lost object is then
	// fetched from the upstream ferry recorded, not from the mirror it names.
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	cfg, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(cfg, []byte(`"out/gradle/buildpack.toml"`), []byte(`"buildpacks/gradle/buildpack.toml"`), 1), 0o644)
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, `mirror.gradle.rewrite["buildpacks/gradle/buildpack.toml"]: rewritten (2 uris)`)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
	binZip := regexp.MustCompile(`gradle/9\.7\.1/[0-9a-f]{64}/gradle-9\.7\.1-bin\.zip`).Find(gout)
	if err := os.Remove(filepath.Join(dir, "mirror", string(binZip))); err != nil {
		t.Fatal(err)
	}
	before := up.bytesSent("/downloads.gradle.org/distributions/gradle-9.7.1-bin.zip")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")
	if up.bytesSent("/downloads.gradle.org/distributions/gradle-9.7.1-bin.zip") == before {
		t.Error("the repair did not fetch from the recorded upstream")
	}
}

func TestBuildpackCorruptDependencyNeverLands(t *testing.T) {
	dir, _, _, env := buildpackExample(t)
	// The upstream serves other bytes for one node tarball.
	bad := filepath.Join(dir, "upstream/nodejs.org/dist/v22.23.2/node-v22.23.2-linux-x64.tar.xz")
	os.WriteFile(bad, []byte("not the tarball the checksum names"), 0o644)

	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 1, "node-v22.23.2-linux-x64.tar.xz\"]: add failed", "sha256 mismatch: want 13b2c6d39cb74e98e894bf68e9286e394125fe32a28cf87217f0030f801eb892",
		`mirror.node.rewrite["out/node-engine/buildpack.toml"]: rewrite failed`, "not rewritten: a dependency it points at did not land")
	if _, err := os.Stat(filepath.Join(dir, "out/node-engine/buildpack.toml")); !os.IsNotExist(err) {
		t.Fatalf("the node buildpack.toml was rewritten although a dependency failed (err=%v)", err)
	}
	// The gradle mirror does not depend on it: its rewrite went ahead.
	if _, err := os.Stat(filepath.Join(dir, "out/gradle/buildpack.toml")); err != nil {
		t.Fatalf("the independent gradle rewrite did not run: %v", err)
	}
	for _, f := range mirroredFiles(t, filepath.Join(dir, "mirror")) {
		if strings.HasSuffix(f, "node-v22.23.2-linux-x64.tar.xz") {
			t.Fatalf("a dependency with a bad checksum landed: %s", f)
		}
	}
}

func TestAirGapDownloadThenApplyFromCache(t *testing.T) {
	dir, up, _, env := buildpackExample(t)
	cache := filepath.Join(t.TempDir(), "cache")

	// Connected side: fetch and verify into the cache; no state, no destination.
	ferry(t, dir, env, "apply", "-download-only").must(t, 1, "-download-only needs -cache DIR")
	ferry(t, dir, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 6 artifacts (288.3 KiB) into "+cache+"; 0 artifacts already there.")
	ferry(t, dir, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 0 artifacts (0 B)", "6 artifacts already there.")
	for _, p := range []string{"ferry.state.json", "mirror/node", "out"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Fatalf("-download-only created %s", p)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "sha256"))
	if len(entries) != 6 {
		t.Fatalf("cache holds %d files; want 6", len(entries))
	}

	// Inner side: the upstream is unreachable.
	up.srv.Close()
	sentBefore := up.total()
	ferry(t, dir, env, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 2, "Plan: 8 to add, 0 to replace, 0 to delete, 3 to rewrite. 384.4 KiB to transfer.")
	ferry(t, dir, env, "apply", "-from-cache", cache, "-auto-approve").must(t, 0, "Apply complete: 11 changes applied")
	if up.total() != sentBefore {
		t.Error("apply -from-cache contacted the upstream")
	}
	ferry(t, dir, env, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 0, "No changes")

	// A cache file damaged in transit is refused on the inner side too.
	victim := filepath.Join(cache, "sha256", entries[0].Name())
	os.Chmod(victim, 0o644)
	os.WriteFile(victim, []byte("damaged in transit"), 0o644)
	for _, f := range mirroredFiles(t, filepath.Join(dir, "mirror")) {
		if strings.Contains(f, entries[0].Name()) {
			os.Remove(filepath.Join(dir, "mirror", f))
		}
	}
	ferry(t, dir, env, "apply", "-from-cache", cache, "-auto-approve").must(t, 1, "add failed", "mismatch")
}

func getSHA256(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "status " + resp.Status
	}
	h := sha256.New()
	io.Copy(h, resp.Body)
	return hex.EncodeToString(h.Sum(nil))
}

// A targeted plan rewrites consistently: only uris of what will be at the
// destination afterwards, and the apply succeeds.
func TestBuildpackTargetedRewrite(t *testing.T) {
	dir, _, _, env := buildpackExample(t)
	x64 := `mirror.node["node/22.23.2/13b2c6d39cb74e98e894bf68e9286e394125fe32a28cf87217f0030f801eb892/node-v22.23.2-linux-x64.tar.xz"]`
	r := ferry(t, dir, env, "plan", "-target", x64)
	r.must(t, 0, "Plan: 1 to add, 0 to replace, 0 to delete, 2 to rewrite.", "1 uri  (output missing)", "2 files  (output missing)")
	ferry(t, dir, env, "apply", "-auto-approve", "-target", x64).must(t, 0, "Apply complete: 3 changes applied")
	out, _ := os.ReadFile(filepath.Join(dir, "out/node-engine/buildpack.toml"))
	if n := bytes.Count(out, []byte("/node/22.23.2/")); n != 1 {
		t.Fatalf("targeted rewrite pointed %d uris at the mirror; want 1", n)
	}
	// The rest follows on the next full apply; outputs can be excluded by address.
	ex := ferry(t, dir, env, "plan", "-exclude", `mirror.node.bindings["out/bindings/node-engine"]`)
	ex.must(t, 0, "Plan: 7 to add, 0 to replace, 0 to delete, 2 to rewrite.")
	if strings.Contains(ex.stdout, "mirror.node.bindings") {
		t.Errorf("an excluded binding was planned:\n%s", ex.stdout)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
}

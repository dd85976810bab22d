package main_test

import (
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// condaChannel builds, in a temp dir, a channel of the real packages in
// testdata/conda: linux-64 (indexed as repodata.json.zst only, .tar.bz2
// under packages and .conda under packages.conda), noarch (repodata.json)
// and win-64 (not configured, so never read). Records declare the files'
// real size, sha256 and md5.
func condaChannel(t *testing.T) string {
	t.Helper()
	return condaChannelOf(t, map[string][]string{
		"linux-64": {"clobber-1-0.1.0-h4616a5c_0.tar.bz2", "clobber-1-0.2.0-h4616a5c_0.tar.bz2",
			"clobber-2-0.1.0-h4616a5c_0.tar.bz2", "clobber-2-0.2.0-h4616a5c_0.tar.bz2",
			"clobber-directory-upgrade-0.1.0-h4616a5c_0.conda", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"},
		"noarch": {"clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2"},
		"win-64": {"empty-0.1.0-h4616a5c_0.conda"},
	})
}

// condaChannelOf is a channel of the fixture packages filed by layout
// (subdir: file names), each record made from the file name (whatever
// subdir the package's own index.json names).
func condaChannelOf(t *testing.T, layout map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	for subdir, files := range layout {
		pkgs, condas := map[string]any{}, map[string]any{}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join("../../testdata/conda/packages", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, subdir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, subdir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(strings.TrimSuffix(f, ".tar.bz2"), ".conda")
			i := strings.LastIndex(base, "-")
			j := strings.LastIndex(base[:i], "-")
			s, m := sha256.Sum256(b), md5.Sum(b)
			rec := map[string]any{"name": base[:j], "version": base[j+1 : i], "build": base[i+1:], "build_number": 0,
				"depends": []string{}, "subdir": subdir, "size": len(b), "license": "BSD-3-Clause",
				"sha256": hex.EncodeToString(s[:]), "md5": hex.EncodeToString(m[:])}
			if strings.HasSuffix(f, ".conda") {
				condas[f] = rec
			} else {
				pkgs[f] = rec
			}
		}
		doc, _ := json.Marshal(map[string]any{"info": map[string]any{"subdir": subdir}, "packages": pkgs, "packages.conda": condas, "repodata_version": 1})
		name := "repodata.json"
		if subdir == "linux-64" {
			enc, _ := zstd.NewWriter(nil)
			doc, name = enc.EncodeAll(doc, nil), "repodata.json.zst"
		}
		if err := os.WriteFile(filepath.Join(dir, subdir, name), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const condaConfig = `
ferry {
  state = "ferry.state.json"
}

variable "channel" {
  type = string
}

source "conda" "upstream" {
  channel = var.channel
  subdirs = ["linux-64"]
  include = ["clobber-*"]
  exclude = ["clobber-2"]
  latest  = 1
}

destination "dir" "channel" {
  path = "channel"
}

mirror "conda" {
  from = source.conda.upstream
  to   = destination.dir.channel
}
`

// condaWork serves the channel directory chdir over HTTP and writes cfg
// (condaConfig or a variant) into a new work dir; it returns the work dir,
// the server and the environment that points var.channel at it.
func condaWork(t *testing.T, chdir, cfg string) (dir string, up *upstream, env []string) {
	t.Helper()
	up = startUpstream(t, chdir)
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, up, []string{"FERRY_VAR_channel=" + up.URL}
}

// condaConfigTo is condaConfig with its dir destination replaced by block,
// which declares destination KIND "channel".
func condaConfigTo(t *testing.T, kind, block string) string {
	t.Helper()
	cfg := strings.Replace(condaConfig, "destination \"dir\" \"channel\" {\n  path = \"channel\"\n}", block, 1)
	cfg = strings.Replace(cfg, "destination.dir.channel", "destination."+kind+".channel", 1)
	if !strings.Contains(cfg, "destination."+kind+".channel") || strings.Contains(cfg, "destination \"dir\"") {
		t.Fatal("condaConfig's destination changed; update condaConfigTo")
	}
	return cfg
}

func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// A conda channel served over HTTP (linux-64 indexed only as .zst) into a
// dir destination: subdir, MatchSpec include/exclude and latest select;
// every file lands byte for byte under <subdir>/<filename>; a re-plan has
// no changes. The local-directory form of the channel plans the same.
func TestCondaChannelToDir(t *testing.T) {
	chdir := condaChannel(t)
	dir, _, env := condaWork(t, chdir, condaConfig)
	want := []string{
		"linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2",
		"linux-64/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
	}
	plan := ferry(t, dir, env, "plan", "-detailed-exitcode")
	plan.must(t, 2, want...)
	want = withIndexes(want, "linux-64", "noarch")
	for _, no := range []string{"clobber-2-", "clobber-1-0.1.0", "empty-0.1.0", "win-64"} {
		if strings.Contains(plan.stdout, no) {
			t.Errorf("plan names %s:\n%s", no, plan.stdout)
		}
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	got := filesUnder(t, filepath.Join(dir, "channel"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("channel files (-want +got):\n%s", diff)
	}
	for _, k := range want {
		if strings.Contains(k, "repodata.json") {
			continue
		}
		if sha256File(t, filepath.Join(dir, "channel", k)) != sha256File(t, filepath.Join(chdir, k)) {
			t.Errorf("%s differs from upstream", k)
		}
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")
	// The same channel as a local directory.
	ferry(t, dir, []string{"FERRY_VAR_channel=" + chdir}, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")
}

// A package whose bytes no longer match its record is refused: apply
// fails, nothing lands for it, the others do; a new upstream version
// then replaces nothing silently: the plan shows it.
func TestCondaCorruptPackageNeverLands(t *testing.T) {
	chdir := condaChannel(t)
	dir, _, env := condaWork(t, chdir, condaConfig)
	bad := "linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2"
	p := filepath.Join(chdir, bad)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff // same size, other bytes
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := ferry(t, dir, env, "apply", "-auto-approve")
	if r.code == 0 {
		t.Fatalf("apply of a corrupt package succeeded:\n%s%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "sha256") && !strings.Contains(r.stdout+r.stderr, "md5") {
		t.Errorf("apply error does not name the digest:\n%s%s", r.stdout, r.stderr)
	}
	got := packagesUnder(t, filepath.Join(dir, "channel"))
	if slices.Contains(got, bad) {
		t.Fatalf("the corrupt package landed: %q", got)
	}
	if len(got) != 2 {
		t.Errorf("the two good packages did not land: %q", got)
	}
	// The index names what landed, never the refused package.
	if names := indexNames(t, filepath.Join(dir, "channel"), "linux-64"); slices.Contains(names, path.Base(bad)) || len(names) != 1 {
		t.Errorf("linux-64 index names %q after the corrupt package was refused", names)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, bad)
}

// withIndexes adds the index files of subdirs to files, sorted.
func withIndexes(files []string, subdirs ...string) []string {
	out := slices.Clone(files)
	for _, sd := range subdirs {
		out = append(out, sd+"/repodata.json", sd+"/repodata.json.bz2", sd+"/repodata.json.zst")
	}
	slices.Sort(out)
	return out
}

// packagesUnder is filesUnder without the index files.
func packagesUnder(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, f := range filesUnder(t, root) {
		if !strings.HasPrefix(path.Base(f), "repodata.json") {
			out = append(out, f)
		}
	}
	return out
}

// readIndex reads subdir's repodata.json, .json.zst and .json.bz2 under
// root, fails unless all three hold the same JSON, and returns it.
func readIndex(t *testing.T, root, subdir string) []byte {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(root, subdir, "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	zb, err := os.ReadFile(filepath.Join(root, subdir, "repodata.json.zst"))
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	fromZst, err := dec.DecodeAll(zb, nil)
	if err != nil {
		t.Fatalf("%s/repodata.json.zst: %v", subdir, err)
	}
	bf, err := os.Open(filepath.Join(root, subdir, "repodata.json.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	fromBz2, err := io.ReadAll(bzip2.NewReader(bf))
	if err != nil {
		t.Fatalf("%s/repodata.json.bz2: %v", subdir, err)
	}
	if !bytes.Equal(js, fromZst) || !bytes.Equal(js, fromBz2) {
		t.Fatalf("%s: repodata.json, .zst and .bz2 differ", subdir)
	}
	return js
}

// indexNames are the file names subdir's index lists (both maps).
func indexNames(t *testing.T, root, subdir string) []string {
	t.Helper()
	var doc struct {
		Packages      map[string]json.RawMessage `json:"packages"`
		PackagesConda map[string]json.RawMessage `json:"packages.conda"`
		Info          struct {
			Subdir string `json:"subdir"`
		} `json:"info"`
		Version int `json:"repodata_version"`
	}
	if err := json.Unmarshal(readIndex(t, root, subdir), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Subdir != subdir || doc.Version != 1 {
		t.Errorf("%s index: info.subdir %q, repodata_version %d", subdir, doc.Info.Subdir, doc.Version)
	}
	var names []string
	for fn := range doc.Packages {
		if !strings.HasSuffix(fn, ".tar.bz2") {
			t.Errorf("%s index: %s under packages", subdir, fn)
		}
		names = append(names, fn)
	}
	for fn := range doc.PackagesConda {
		if !strings.HasSuffix(fn, ".conda") {
			t.Errorf("%s index: %s under packages.conda", subdir, fn)
		}
		names = append(names, fn)
	}
	slices.Sort(names)
	return names
}

// hotfixNoarch rewrites the noarch index of the channel condaChannel made
// as a channel serves it: indented, its record hotfixed (depends) with a
// key ferry does not know, and a "removed" list. It returns the package and
// its record as served.
func hotfixNoarch(t *testing.T, chdir string) (pkg, record string) {
	t.Helper()
	pkg = "clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2"
	b, err := os.ReadFile(filepath.Join(chdir, "noarch", pkg))
	if err != nil {
		t.Fatal(err)
	}
	s, m := sha256.Sum256(b), md5.Sum(b)
	record = fmt.Sprintf(`{
        "build": "pyh4616a5c_0",
        "build_number": 0,
        "depends": ["python >=3.8,<3.13", "zlib"],
        "license": "BSD-3-Clause",
        "md5": %q,
        "name": "clobber-pynoarch-1",
        "noarch": "python",
        "sha256": %q,
        "size": %d,
        "subdir": "noarch",
        "timestamp": 1700000000000,
        "version": "0.1.0",
        "x_hotfix": {"reason": "python upper bound", "v3": true}
      }`, hex.EncodeToString(m[:]), hex.EncodeToString(s[:]), len(b))
	noarch := "{\n  \"info\": {\"subdir\": \"noarch\"},\n  \"packages\": {\n    \"" + pkg + "\": " + record + "\n  },\n  \"packages.conda\": {},\n  \"removed\": [\"gone-1.0-0.tar.bz2\"],\n  \"repodata_version\": 1\n}\n"
	if err := os.WriteFile(filepath.Join(chdir, "noarch", "repodata.json"), []byte(noarch), 0o644); err != nil {
		t.Fatal(err)
	}
	return pkg, record
}

// The channel index: each subdir's repodata.json (.zst, .bz2: the same
// JSON) names exactly the mirrored packages, an upstream record (hotfixed
// depends, a key ferry does not know, indented as served) is copied byte
// for byte; a re-plan has no changes; an index edited or removed at the
// destination is drift, repaired by apply; a package removed upstream
// leaves the index (published) before its file is deleted.
func TestCondaChannelIndex(t *testing.T) {
	chdir := condaChannel(t)
	pkg, record := hotfixNoarch(t, chdir)
	up := startUpstream(t, chdir)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(condaConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FERRY_VAR_channel=" + up.URL}
	ch := filepath.Join(dir, "channel")

	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, `["linux-64/repodata.json"]`, `["noarch/repodata.json"]`, "index missing")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	if diff := cmp.Diff([]string{"clobber-1-0.2.0-h4616a5c_0.tar.bz2", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"}, indexNames(t, ch, "linux-64")); diff != "" {
		t.Errorf("linux-64 index (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{pkg}, indexNames(t, ch, "noarch")); diff != "" {
		t.Errorf("noarch index (-want +got):\n%s", diff)
	}
	if js := readIndex(t, ch, "noarch"); !bytes.Contains(js, []byte(record)) {
		t.Errorf("the hotfixed record is not copied byte for byte:\n%s", js)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
	good := sha256File(t, filepath.Join(ch, "linux-64", "repodata.json"))

	// Drift: an index edited, another's .zst removed.
	if err := os.WriteFile(filepath.Join(ch, "linux-64", "repodata.json"), []byte(`{"packages": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(ch, "noarch", "repodata.json.zst")); err != nil {
		t.Fatal(err)
	}
	plan := ferry(t, dir, env, "plan", "-detailed-exitcode")
	plan.must(t, 2, `["linux-64/repodata.json"]`, `["noarch/repodata.json"]`, "drift")
	if strings.Contains(plan.stdout, "packages changed") {
		t.Errorf("an edited index is planned as a package change, not drift:\n%s", plan.stdout)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	if got := sha256File(t, filepath.Join(ch, "linux-64", "repodata.json")); got != good {
		t.Errorf("drift not repaired: linux-64/repodata.json is %s, was %s", got, good)
	}
	readIndex(t, ch, "noarch")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")

	// Removed upstream: the noarch package leaves the index, then its file.
	empty := "{\"info\": {\"subdir\": \"noarch\"}, \"packages\": {}, \"packages.conda\": {}, \"repodata_version\": 1}"
	if err := os.WriteFile(filepath.Join(chdir, "noarch", "repodata.json"), []byte(empty), 0o644); err != nil {
		t.Fatal(err)
	}
	plan = ferry(t, dir, env, "plan", "-detailed-exitcode")
	plan.must(t, 2, "noarch/"+pkg, `["noarch/repodata.json"]`, "-"+pkg)
	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0)
	pub := strings.Index(r.stdout, `["noarch/repodata.json"]: published`)
	del := strings.Index(r.stdout, `["noarch/`+pkg+`"]: deleted`)
	if pub < 0 || del < 0 || pub > del {
		t.Errorf("the index was not published before the package was deleted:\n%s", r.stdout)
	}
	if names := indexNames(t, ch, "noarch"); len(names) != 0 {
		t.Errorf("noarch index still names %q", names)
	}
	if _, err := os.Stat(filepath.Join(ch, "noarch", pkg)); !os.IsNotExist(err) {
		t.Errorf("%s not deleted: %v", pkg, err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

// The channel index through the http destination (a real nginx WebDAV
// server with basic auth): published, read back for the plan (re-plan has
// no changes), its .zst removed at the server is drift, repaired.
func TestCondaChannelIndexHTTP(t *testing.T) {
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{Auth: true})
	dir, _, env := condaWork(t, condaChannel(t), condaConfigTo(t, "http",
		"variable \"dav_password\" {\n  type = string\n  sensitive = true\n}\n\ndestination \"http\" \"channel\" {\n  url      = \""+strings.TrimSuffix(dav.URL, "/")+"/channel\"\n  username = \""+dav.Username+"\"\n  password = var.dav_password\n}"))
	env = append(env, "FERRY_VAR_dav_password="+dav.Password)
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, `["linux-64/repodata.json"]: published`, `["noarch/repodata.json"]: published`)
	ch := filepath.Join(dav.Root, "channel")
	if diff := cmp.Diff([]string{"clobber-1-0.2.0-h4616a5c_0.tar.bz2", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"}, indexNames(t, ch, "linux-64")); diff != "" {
		t.Errorf("linux-64 index (-want +got):\n%s", diff)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
	if err := os.Remove(filepath.Join(ch, "linux-64", "repodata.json.zst")); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, `["linux-64/repodata.json"]`, "drift")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	readIndex(t, ch, "linux-64")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

// rattlerInstalled is the node_modules holding @conda-org/rattler, as
// .ci/install-test-servers installs it, when it and node are there.
func rattlerInstalled() (string, bool) {
	root := os.Getenv("FERRY_TESTENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "ferry-testenv")
	}
	mods := filepath.Join(root, "rattler", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "@conda-org", "rattler", "package.json")); err != nil {
		return "", false
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", false
	}
	return mods, true
}

// rattlerModules is rattlerInstalled, or fails the test saying why: the
// independent client is part of the proof, never skipped.
func rattlerModules(t *testing.T) string {
	t.Helper()
	mods, ok := rattlerInstalled()
	if !ok {
		t.Fatal("rattler or node is not installed: run .ci/install-test-servers")
	}
	return mods
}

// An independent client, rattler (conda's Rust solver, its WASM build),
// solves an environment from the mirrored channel served over HTTP: it
// reads the published repodata.json (.zst first) and picks the mirrored
// packages at the mirror's URLs.
func TestCondaRattlerSolves(t *testing.T) {
	mods := rattlerModules(t)
	chdir := condaChannel(t)
	dir, _, env := condaWork(t, chdir, condaConfig)
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	mirror := startUpstream(t, filepath.Join(dir, "channel"))
	checkRattler(t, mods, mirror.URL)
}

// checkRattler has rattler solve, from the channel at url, an environment
// of the three packages condaConfig mirrors (picked at the mirror's URLs),
// and fail to solve for one it does not mirror.
func checkRattler(t *testing.T, mods, url string) {
	t.Helper()
	checkRattlerIn(t, mods, url, "linux-64")
}

// checkRattlerIn is checkRattler for a channel holding clobber-1 and
// clobber-directory-upgrade in subdir (clobber-pynoarch-1 in noarch).
func checkRattlerIn(t *testing.T, mods, url, subdir string) {
	t.Helper()
	out, err := rattlerSolve(mods, url, "clobber-1", "clobber-directory-upgrade >=0.2", "clobber-pynoarch-1")
	if err != nil {
		t.Fatalf("rattler: %v\n%s", err, out)
	}
	want := []string{
		"clobber-1 0.2.0 h4616a5c_0 " + url + "/" + subdir + "/clobber-1-0.2.0-h4616a5c_0.tar.bz2",
		"clobber-directory-upgrade 0.2.0 h4616a5c_0 " + url + "/" + subdir + "/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"clobber-pynoarch-1 0.1.0 pyh4616a5c_0 " + url + "/noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rattler's solution (-want +got):\n%s", diff)
	}
	// Not mirrored (excluded upstream): rattler cannot solve for it.
	if out, err := rattlerSolve(mods, url, "clobber-2"); err == nil {
		t.Errorf("rattler solved for a package the mirror does not hold:\n%s", out)
	}
}

// rattlerSolve runs rattler's simpleSolve for specs against the channel
// at url (linux-64 and noarch) and prints one "name version build url"
// line per package.
func rattlerSolve(mods, url string, specs ...string) (string, error) {
	// node -e: the arguments start at process.argv[1].
	script := `const r = require('@conda-org/rattler');
(async () => {
  try {
    const sol = await r.simpleSolve(process.argv.slice(1), [process.env.CHANNEL], ['linux-64', 'noarch'], undefined);
    for (const p of sol) console.log(p.packageName, p.version, p.build, p.url);
  } catch (e) { console.error('ERR', e); process.exit(1); }
})();`
	cmd := exec.Command("node", append([]string{"-e", script}, specs...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods, "CHANNEL="+url)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const condaLooseConfig = `
ferry {
  state = "ferry.state.json"
}

variable "url" {
  type = string
}

source "conda" "ci" {
  packages = [
    "dist/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
    "dist/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
    "${var.url}/empty-0.1.0-h4616a5c_0.conda",
  ]
  archives = ["ci/artifacts.zip"]
  exclude  = ["clobber-2"]
}

destination "dir" "channel" {
  path = "channel"
}

mirror "conda" {
  from = source.conda.ci
  to   = destination.dir.channel
}
`

// condaFixture is the real package name from testdata/conda/packages.
func condaFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/conda/packages", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// looseFixture writes condaLooseConfig and its inputs into a new work dir
// (local packages under dist/, a zip of packages under ci/, a package
// served over HTTP) and returns it, the environment to run ferry in and the
// TMPDIR that environment sets.
func looseFixture(t *testing.T) (dir string, env []string, tmp string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"clobber-directory-upgrade-0.2.0-h4616a5c_0.conda", "clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2"} {
		if err := os.MkdirAll(filepath.Join(dir, "dist"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dist", f), condaFixture(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, f := range []string{"clobber-1-0.1.0-h4616a5c_0.tar.bz2", "clobber-2-0.1.0-h4616a5c_0.tar.bz2", "clobber-python-0.1.0-cpython.conda"} {
		w, err := zw.Create("build/" + f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(condaFixture(t, f))
	}
	w, _ := zw.Create("build/log.txt")
	w.Write([]byte("ok"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ci", "artifacts.zip"), zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	served := t.TempDir()
	if err := os.WriteFile(filepath.Join(served, "empty-0.1.0-h4616a5c_0.conda"), condaFixture(t, "empty-0.1.0-h4616a5c_0.conda"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, served)
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(condaLooseConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp = t.TempDir()
	return dir, []string{"FERRY_VAR_url=" + up.URL, "TMPDIR=" + tmp}, tmp
}

// Loose packages built in CI: local .conda and .tar.bz2 files, a package
// served over HTTP and every package of a zip land in one channel under
// noarch/<filename> (the subdir their own index.json names), byte for
// byte; exclude applies to them; a re-plan has no changes.
func TestCondaLoosePackagesToDir(t *testing.T) {
	dir, env, tmp := looseFixture(t)
	want := []string{
		"noarch/clobber-1-0.1.0-h4616a5c_0.tar.bz2",
		"noarch/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
		"noarch/clobber-python-0.1.0-cpython.conda",
		"noarch/empty-0.1.0-h4616a5c_0.conda",
	}
	plan := ferry(t, dir, env, "plan", "-detailed-exitcode")
	plan.must(t, 2, want...)
	if strings.Contains(plan.stdout, "clobber-2-") {
		t.Errorf("plan names the excluded clobber-2:\n%s", plan.stdout)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	got := packagesUnder(t, filepath.Join(dir, "channel"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("channel files (-want +got):\n%s", diff)
	}
	// The channel index names them, from their own metadata.
	var names []string
	for _, k := range want {
		names = append(names, strings.TrimPrefix(k, "noarch/"))
	}
	if diff := cmp.Diff(names, indexNames(t, filepath.Join(dir, "channel"), "noarch")); diff != "" {
		t.Errorf("noarch index (-want +got):\n%s", diff)
	}
	for _, k := range want {
		b, err := os.ReadFile(filepath.Join(dir, "channel", k))
		if err != nil || !bytes.Equal(b, condaFixture(t, strings.TrimPrefix(k, "noarch/"))) {
			t.Errorf("%s differs from the package built: %v", k, err)
		}
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 5 artifacts up to date.")
	// The download of the remote package is private to each command and
	// removed when it ends.
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

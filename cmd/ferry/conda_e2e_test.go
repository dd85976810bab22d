package main_test

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// condaChannel builds, in a temp dir, a channel of the real packages in
// testdata/conda: linux-64 (indexed as repodata.json.zst only, .tar.bz2
// under packages and .conda under packages.conda), noarch (repodata.json)
// and win-64 (not configured, so never read). Records declare the files'
// real size, sha256 and md5.
func condaChannel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	layout := map[string][]string{
		"linux-64": {"clobber-1-0.1.0-h4616a5c_0.tar.bz2", "clobber-1-0.2.0-h4616a5c_0.tar.bz2",
			"clobber-2-0.1.0-h4616a5c_0.tar.bz2", "clobber-2-0.2.0-h4616a5c_0.tar.bz2",
			"clobber-directory-upgrade-0.1.0-h4616a5c_0.conda", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"},
		"noarch": {"clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2"},
		"win-64": {"empty-0.1.0-h4616a5c_0.conda"},
	}
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
	up := startUpstream(t, chdir)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(condaConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FERRY_VAR_channel=" + up.URL}
	want := []string{
		"linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2",
		"linux-64/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
	}
	plan := ferry(t, dir, env, "plan", "-detailed-exitcode")
	plan.must(t, 2, want...)
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
	up := startUpstream(t, chdir)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(condaConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FERRY_VAR_channel=" + up.URL}
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
	got := filesUnder(t, filepath.Join(dir, "channel"))
	if slices.Contains(got, bad) {
		t.Fatalf("the corrupt package landed: %q", got)
	}
	if len(got) != 2 {
		t.Errorf("the two good packages did not land: %q", got)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, bad)
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

// Loose packages built in CI: local .conda and .tar.bz2 files, a package
// served over HTTP and every package of a zip land in one channel under
// noarch/<filename> (the subdir their own index.json names), byte for
// byte; exclude applies to them; a re-plan has no changes.
func TestCondaLoosePackagesToDir(t *testing.T) {
	dir := t.TempDir()
	pkg := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("../../testdata/conda/packages", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, f := range []string{"clobber-directory-upgrade-0.2.0-h4616a5c_0.conda", "clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2"} {
		if err := os.MkdirAll(filepath.Join(dir, "dist"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dist", f), pkg(f), 0o644); err != nil {
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
		w.Write(pkg(f))
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
	if err := os.WriteFile(filepath.Join(served, "empty-0.1.0-h4616a5c_0.conda"), pkg("empty-0.1.0-h4616a5c_0.conda"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, served)
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(condaLooseConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	env := []string{"FERRY_VAR_url=" + up.URL, "TMPDIR=" + tmp}
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
	got := filesUnder(t, filepath.Join(dir, "channel"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("channel files (-want +got):\n%s", diff)
	}
	for _, k := range want {
		b, err := os.ReadFile(filepath.Join(dir, "channel", k))
		if err != nil || !bytes.Equal(b, pkg(strings.TrimPrefix(k, "noarch/"))) {
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

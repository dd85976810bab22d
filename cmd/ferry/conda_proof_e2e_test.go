package main_test

// End-to-end proofs of issue 13's "How to show it" that the tests in
// conda_e2e_test.go and s3_e2e_test.go do not already give: an independent
// extractor (Debian's cph) agrees with every published record, a kill -9
// mid-apply of a channel converges, a deleted index is drift, a corrupt
// package leaves the published index as it was.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers/conda/archive"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// unfiltered is cfg (condaConfig or condaConfigTo's) without include,
// exclude and latest: every record of linux-64 and noarch.
func unfiltered(t *testing.T, cfg string) string {
	t.Helper()
	cfg = strings.NewReplacer("  include = [\"clobber-*\"]\n", "", "  exclude = [\"clobber-2\"]\n", "", "  latest  = 1\n", "").Replace(cfg)
	if strings.Contains(cfg, "include") || strings.Contains(cfg, "latest") {
		t.Fatal("condaConfig's filters changed; update unfiltered")
	}
	return cfg
}

// channelIndex is one subdir's repodata.json: its records as served, each
// map holding the record's JSON byte for byte.
type channelIndex struct {
	Packages      map[string]json.RawMessage `json:"packages"`
	PackagesConda map[string]json.RawMessage `json:"packages.conda"`
}

// records are both maps of the index, by file name.
func (ix channelIndex) records() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for fn, r := range ix.Packages {
		out[fn] = r
	}
	for fn, r := range ix.PackagesConda {
		out[fn] = r
	}
	return out
}

// publishedIndexes reads every subdir index under root (failing unless its
// .json, .zst and .bz2 agree), keyed by subdir.
func publishedIndexes(t *testing.T, root string) map[string]channelIndex {
	t.Helper()
	out := map[string]channelIndex{}
	for _, f := range filesUnder(t, root) {
		if path.Base(f) != "repodata.json" {
			continue
		}
		subdir := path.Dir(f)
		var ix channelIndex
		if err := json.Unmarshal(readIndex(t, root, subdir), &ix); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[subdir] = ix
	}
	return out
}

// checkAgainstIndex fails unless the packages under root are exactly the
// ones their subdir's published index names, and each file's size, md5
// and sha256 are its record's. It returns the records by
// <subdir>/<filename>.
func checkAgainstIndex(t *testing.T, root string) map[string]map[string]any {
	t.Helper()
	recs := map[string]map[string]any{}
	for subdir, ix := range publishedIndexes(t, root) {
		for fn, raw := range ix.records() {
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatalf("%s/%s: record: %v", subdir, fn, err)
			}
			recs[subdir+"/"+fn] = rec
		}
	}
	var named []string
	for k := range recs {
		named = append(named, k)
	}
	slices.Sort(named)
	if diff := cmp.Diff(named, packagesUnder(t, root)); diff != "" {
		t.Fatalf("packages at the destination against those the indexes name (-named +present):\n%s", diff)
	}
	for k, rec := range recs {
		b, err := os.ReadFile(filepath.Join(root, k))
		if err != nil {
			t.Fatal(err)
		}
		s, m := sha256.Sum256(b), md5.Sum(b)
		got := map[string]any{"size": float64(len(b)), "sha256": hex.EncodeToString(s[:]), "md5": hex.EncodeToString(m[:])}
		for field, v := range got {
			if rec[field] != v {
				t.Errorf("%s: the file's %s is %v, its record says %v", k, field, v, rec[field])
			}
		}
	}
	return recs
}

// checkWithCph has Debian's cph (conda-package-handling: conda's own
// extractor, not written by us) extract every package file under root, the
// output of a conda mirror, and compares the info/index.json it extracts
// with the record the subdir's published repodata.json holds for that
// file: name, version, build, build_number, subdir, depends and
// constrains; and the file's size, md5 and sha256 with the record's. The
// packages present must be exactly those the indexes name. hotfixed names
// the files whose upstream record is a documented hotfix: their depends or
// constrains are the upstream record's and must differ from the archive's.
// A missing cph fails the test: the independent extractor is the proof.
func checkWithCph(t *testing.T, root string, hotfixed ...string) {
	t.Helper()
	cph, err := exec.LookPath("cph")
	if err != nil {
		t.Fatal("cph (conda-package-handling) not found: " + testenv.InstallHint)
	}
	recs := checkAgainstIndex(t, root)
	if len(recs) == 0 {
		t.Fatal("no package at the destination")
	}
	// [] and absent are the same list.
	list := func(v any) any {
		if v == nil {
			return []any{}
		}
		return v
	}
	for k, rec := range recs {
		dest := t.TempDir()
		if out, err := exec.Command(cph, "x", filepath.Join(root, k), "--dest", dest).CombinedOutput(); err != nil {
			t.Errorf("cph x %s: %v\n%s", k, err, out)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dest, "info", "index.json"))
		if err != nil {
			t.Errorf("%s: cph extracted no info/index.json: %v", k, err)
			continue
		}
		var ix map[string]any
		if err := json.Unmarshal(b, &ix); err != nil {
			t.Errorf("%s: info/index.json: %v", k, err)
			continue
		}
		if ix["subdir"] != path.Dir(k) {
			t.Errorf("%s: the package's index.json says subdir %v", k, ix["subdir"])
		}
		for _, field := range []string{"name", "version", "build", "build_number", "subdir"} {
			if !reflect.DeepEqual(ix[field], rec[field]) {
				t.Errorf("%s: %s is %#v in the package (cph), %#v in the published record", k, field, ix[field], rec[field])
			}
		}
		same := true
		for _, field := range []string{"depends", "constrains"} {
			if !reflect.DeepEqual(list(ix[field]), list(rec[field])) {
				same = false
				if !slices.Contains(hotfixed, path.Base(k)) {
					t.Errorf("%s: %s is %v in the package (cph), %v in the published record", k, field, ix[field], rec[field])
				}
			}
		}
		if same && slices.Contains(hotfixed, path.Base(k)) {
			t.Errorf("%s: a hotfixed record, published as the archive's index.json says: the hotfix was dropped", k)
		}
	}
}

// hotfixedChannel is testdata/conda/channel (indexed by conda's own
// indexer: noarch with test-package) with every package of
// testdata/conda/packages added to noarch, the subdir their index.json
// names, each with the record conda's indexer writes: its index.json plus
// md5, sha256 and size. One record is hotfixed the way a channel's
// patch_instructions.json does (testdata/conda/repodata/patch-linux-64):
// clobber-python-0.1.0-pypy.conda's depends, constrains and license
// differ from its archive's. It returns the channel directory, the
// upstream records (byte for byte as served) and the hotfixed file's name.
func hotfixedChannel(t *testing.T) (dir string, upstream map[string]json.RawMessage, hotfixed string) {
	t.Helper()
	dir = copyDir(t, "../../testdata/conda/channel")
	hotfixed = "clobber-python-0.1.0-pypy.conda"
	noarch := filepath.Join(dir, "noarch")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(readFile(t, filepath.Join(noarch, "repodata.json")), &doc); err != nil {
		t.Fatal(err)
	}
	var ix channelIndex
	if err := json.Unmarshal(readFile(t, filepath.Join(noarch, "repodata.json")), &ix); err != nil {
		t.Fatal(err)
	}
	if ix.PackagesConda == nil {
		ix.PackagesConda = map[string]json.RawMessage{}
	}
	files, _ := filepath.Glob("../../testdata/conda/packages/*")
	for _, p := range files {
		b := readFile(t, p)
		fn := filepath.Base(p)
		rec, err := archive.ReadMetadata(context.Background(), bytes.NewReader(b), int64(len(b)), fn)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(rec.IndexJSON, &fields); err != nil {
			t.Fatal(err)
		}
		if fields["subdir"] != "noarch" {
			t.Fatalf("%s: subdir %v; this fixture puts every package in noarch", fn, fields["subdir"])
		}
		fields["md5"], fields["sha256"], fields["size"] = rec.MD5, rec.SHA256, rec.Size
		if fn == hotfixed {
			fields["depends"] = []string{"clobber-pypy", "python_abi 3.10.* *_pypy310"}
			fields["constrains"] = []string{"clobber-cpython <0a0"}
			fields["license"] = "BSD-3-Clause (hotfixed)"
		}
		raw, _ := json.MarshalIndent(fields, "      ", "  ")
		if archive.Ext(fn) == archive.ExtConda {
			ix.PackagesConda[fn] = raw
		} else {
			ix.Packages[fn] = raw
		}
		if err := os.WriteFile(filepath.Join(noarch, fn), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc["packages"], _ = json.MarshalIndent(ix.Packages, "  ", "  ")
	doc["packages.conda"], _ = json.MarshalIndent(ix.PackagesConda, "  ", "  ")
	out, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(filepath.Join(noarch, "repodata.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	// The .bz2 conda's indexer wrote is read first, and is now stale.
	if err := os.Remove(filepath.Join(noarch, "repodata.json.bz2")); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &ix); err != nil {
		t.Fatal(err)
	}
	return dir, ix.records(), hotfixed
}

// readFile is os.ReadFile failing the test.
func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Debian's cph extracts every package ferry mirrored, and each package's
// own info/index.json agrees with the record ferry published for it (name,
// version, build, build_number, subdir, depends, constrains), as do the
// file's size, md5 and sha256: for a channel (records copied from
// upstream, byte for byte, a hotfixed one included: its depends and
// constrains are upstream's, not the archive's) and for loose packages
// (records ferry builds from the archives).
func TestCondaCphAgreesWithIndex(t *testing.T) {
	t.Run("channel", func(t *testing.T) {
		chdir, upstream, hotfixed := hotfixedChannel(t)
		dir, _, env := condaWork(t, chdir, strings.Replace(unfiltered(t, condaConfig), `subdirs = ["linux-64"]`, `subdirs = ["noarch"]`, 1))
		ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
		ch := filepath.Join(dir, "channel")
		checkWithCph(t, ch, hotfixed)
		published := publishedIndexes(t, ch)["noarch"].records()
		if len(published) != len(upstream) {
			t.Errorf("noarch index holds %d records; upstream %d", len(published), len(upstream))
		}
		for fn, raw := range upstream {
			if !bytes.Equal(published[fn], raw) {
				t.Errorf("%s: the published record is not upstream's byte for byte:\n%s\nupstream:\n%s", fn, published[fn], raw)
			}
		}
		ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
	})
	t.Run("loose", func(t *testing.T) {
		dir, env, _ := looseFixture(t)
		ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
		checkWithCph(t, filepath.Join(dir, "channel"))
	})
}

// kill -9 of `ferry apply` of a conda channel while packages are in
// transfer (the upstream slowed), into dir and into S3 (versitygw): what is
// visible is complete, the index published before names only packages
// present; the next apply converges: every package verified against its
// record, each index names exactly the packages present, a re-plan has no
// changes, nothing of a transfer is left at the destination, and no
// package that had landed is fetched again.
func TestCondaKill9MidApplyConverges(t *testing.T) {
	t.Run("dir", func(t *testing.T) {
		condaKill9(t, killDest{
			cfg:   condaConfig,
			root:  func(work string) string { return filepath.Join(work, "channel") },
			temps: tempFiles,
		})
	})
	t.Run("s3", func(t *testing.T) {
		srv := testenv.StartS3(t, testenv.S3Options{PublicRead: true})
		condaKill9(t, killDest{
			cfg: condaConfigTo(t, "s3", s3Block(srv, "channel", "conda")),
			env: s3Env(srv),
			// The posix backend keeps each object as a file at its key.
			root: func(string) string { return filepath.Join(srv.Root, srv.Bucket, "conda") },
			temps: func(t *testing.T, _ string) []string {
				ups, err := srv.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, u := range ups.Uploads {
					out = append(out, "multipart upload of "+*u.Key)
				}
				return out
			},
		})
	})
}

// killDest is a destination condaKill9 mirrors into.
type killDest struct {
	cfg  string              // condaConfig, its destination replaced
	env  []string            // added to ferry's environment
	root func(string) string // the directory the objects appear in, given the work dir
	// temps is what transfers left at the destination besides objects.
	temps func(t *testing.T, root string) []string
}

func condaKill9(t *testing.T, d killDest) {
	chdir := condaChannel(t)
	dir, up, env := condaWork(t, chdir, d.cfg)
	env = append(env, d.env...)
	ch := d.root(dir)
	// A first apply publishes an index of three packages; then the whole
	// channel (seven) is wanted.
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	first := len(landedPackages(t, ch))
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(unfiltered(t, d.cfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	const all = 7

	up.bytesPerSecond.Store(4 << 10) // a package (1.3 to 2.4 KiB) takes about half a second
	cmd, out := startFerry(t, dir, env, "apply", "-auto-approve", "-parallelism", "2")
	deadline := time.Now().Add(30 * time.Second)
	for len(landedPackages(t, ch)) <= first && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The kill lands while the other worker's package is in transfer.
	time.Sleep(100 * time.Millisecond)
	killErr := cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if killErr != nil {
		t.Fatalf("kill: %v (the apply ended first)\n%s", killErr, out.String())
	}
	landed := landedPackages(t, ch)
	if len(landed) <= first || len(landed) == all {
		t.Fatalf("killed with %d of %d packages present; the test wants a kill mid-apply\n%s", len(landed), all, out.String())
	}
	t.Logf("killed with %d of %d packages present; left by the transfers in flight: %v", len(landed), all, d.temps(t, ch))
	for _, k := range landed {
		if sha256File(t, filepath.Join(ch, k)) != sha256File(t, filepath.Join(chdir, k)) {
			t.Errorf("partial or corrupt package visible after kill -9: %s", k)
		}
	}
	// The index the first apply published still names only packages present.
	for _, subdir := range []string{"linux-64", "noarch"} {
		for _, fn := range indexNames(t, ch, subdir) {
			if !slices.Contains(landed, subdir+"/"+fn) {
				t.Errorf("after the kill the %s index names %s, which is not there", subdir, fn)
			}
		}
	}

	up.bytesPerSecond.Store(0)
	before := map[string]int64{}
	for _, k := range landed {
		before[k] = up.bytesSent("/" + k)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete")
	for _, k := range landed {
		if n := up.bytesSent("/"+k) - before[k]; n != 0 {
			t.Errorf("the re-apply fetched %s again (%d bytes) although it had landed", k, n)
		}
	}
	recs := checkAgainstIndex(t, ch)
	if len(recs) != all {
		t.Errorf("after the re-apply the indexes name %d packages; want %d", len(recs), all)
	}
	for k := range recs {
		if sha256File(t, filepath.Join(ch, k)) != sha256File(t, filepath.Join(chdir, k)) {
			t.Errorf("%s differs from upstream", k)
		}
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
	if left := d.temps(t, ch); len(left) != 0 {
		t.Errorf("left at the destination: %v", left)
	}
}

// landedPackages is packagesUnder without the dir destination's temp files.
func landedPackages(t *testing.T, root string) []string {
	t.Helper()
	return slices.DeleteFunc(packagesUnder(t, root), func(f string) bool { return strings.HasPrefix(f, ".ferry-tmp/") })
}

// tempFiles are the files of the dir destination's temp directory.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, f := range filesUnder(t, root) {
		if strings.HasPrefix(f, ".ferry-tmp/") {
			out = append(out, f)
		}
	}
	return out
}

// An index whose files are deleted at the destination (noarch's
// repodata.json; all three of linux-64's) is drift: planned, republished
// as it was, and a re-plan has no changes.
func TestCondaIndexDeletedIsRepaired(t *testing.T) {
	dir, _, env := condaWork(t, condaChannel(t), condaConfig)
	ch := filepath.Join(dir, "channel")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	good := indexDigests(t, ch)
	for _, f := range []string{"noarch/repodata.json", "linux-64/repodata.json", "linux-64/repodata.json.zst", "linux-64/repodata.json.bz2"} {
		if err := os.Remove(filepath.Join(ch, f)); err != nil {
			t.Fatal(err)
		}
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, `["linux-64/repodata.json"]`, `["noarch/repodata.json"]`)
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, `["linux-64/repodata.json"]: published`, `["noarch/repodata.json"]: published`)
	if diff := cmp.Diff(good, indexDigests(t, ch)); diff != "" {
		t.Errorf("index files after the repair (-before +after):\n%s", diff)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

// indexDigests are the sha256 of every index file under root.
func indexDigests(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range filesUnder(t, root) {
		if strings.HasPrefix(path.Base(f), "repodata.json") {
			out[f] = sha256File(t, filepath.Join(root, f))
		}
	}
	return out
}

// A package added upstream whose bytes do not match its record is refused
// on a channel already mirrored: apply fails naming the digest, nothing
// lands for it, every index file stays byte for byte as it was, no temp
// file is left, and the next plan still wants the package.
func TestCondaCorruptPackageLeavesIndexUnchanged(t *testing.T) {
	chdir := condaChannel(t)
	dir, _, env := condaWork(t, chdir, condaConfig)
	ch := filepath.Join(dir, "channel")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	before := indexDigests(t, ch)
	pkgs := packagesUnder(t, ch)

	// Upstream adds clobber-1 0.1.0 to noarch (its own subdir) with the
	// real record, and serves it with one byte flipped.
	fn := "clobber-1-0.1.0-h4616a5c_0.tar.bz2"
	b := condaFixture(t, fn)
	s, m := sha256.Sum256(b), md5.Sum(b)
	noarch := filepath.Join(chdir, "noarch", "repodata.json")
	var doc map[string]any
	if err := json.Unmarshal(readFile(t, noarch), &doc); err != nil {
		t.Fatal(err)
	}
	doc["packages"].(map[string]any)[fn] = map[string]any{"name": "clobber-1", "version": "0.1.0", "build": "h4616a5c_0", "build_number": 0,
		"depends": []string{}, "subdir": "noarch", "size": len(b), "sha256": hex.EncodeToString(s[:]), "md5": hex.EncodeToString(m[:])}
	js, _ := json.Marshal(doc)
	if err := os.WriteFile(noarch, js, 0o644); err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(chdir, "noarch", fn), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "noarch/"+fn, `["noarch/repodata.json"]`)
	r := ferry(t, dir, env, "apply", "-auto-approve")
	if r.code == 0 {
		t.Fatalf("apply of a corrupt package succeeded:\n%s%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "sha256") && !strings.Contains(r.stdout+r.stderr, "md5") {
		t.Errorf("apply error does not name the digest:\n%s%s", r.stdout, r.stderr)
	}
	if diff := cmp.Diff(pkgs, packagesUnder(t, ch)); diff != "" {
		t.Errorf("packages after the refused apply (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before, indexDigests(t, ch)); diff != "" {
		t.Errorf("index files after the refused apply (-before +after):\n%s", diff)
	}
	if left := tempFiles(t, ch); len(left) != 0 {
		t.Errorf("temp files left at the destination: %v", left)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "noarch/"+fn)
}

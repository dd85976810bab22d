package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCondaIndexWithoutRefresh: a plan made with -refresh=false that
// transfers packages also publishes the channel index naming them (planned
// from the state, the index at the destination not read), the very index a
// refreshing plan publishes, so that plan has no changes; a package
// removed upstream leaves the index before its file is deleted, without
// refresh too.
func TestCondaIndexWithoutRefresh(t *testing.T) {
	chdir := condaChannel(t)
	pkg, _ := hotfixNoarch(t, chdir)
	up := startUpstream(t, chdir)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(condaConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FERRY_VAR_channel=" + up.URL}
	ch := filepath.Join(dir, "channel")

	ferry(t, dir, env, "plan", "-refresh=false", "-out", "p.json").must(t, 0, `["linux-64/repodata.json"]`, `["noarch/repodata.json"]`, "not read -> sha256:")
	ferry(t, dir, env, "apply", "p.json").must(t, 0, "Apply complete")
	if diff := cmp.Diff([]string{"clobber-1-0.2.0-h4616a5c_0.tar.bz2", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"}, indexNames(t, ch, "linux-64")); diff != "" {
		t.Errorf("linux-64 index (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{pkg}, indexNames(t, ch, "noarch")); diff != "" {
		t.Errorf("noarch index (-want +got):\n%s", diff)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
	ferry(t, dir, env, "plan", "-refresh=false", "-detailed-exitcode").must(t, 0, "No changes.")

	empty := `{"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}`
	if err := os.WriteFile(filepath.Join(chdir, "noarch", "repodata.json"), []byte(empty), 0o644); err != nil {
		t.Fatal(err)
	}
	r := ferry(t, dir, env, "apply", "-refresh=false", "-auto-approve")
	r.must(t, 0, "-"+pkg)
	pub := strings.Index(r.stdout, `["noarch/repodata.json"]: published`)
	del := strings.Index(r.stdout, `["noarch/`+pkg+`"]: deleted`)
	if pub < 0 || del < 0 || pub > del {
		t.Errorf("the index was not published before the package was deleted:\n%s", r.stdout)
	}
	if names := indexNames(t, ch, "noarch"); len(names) != 0 {
		t.Errorf("noarch index still names %q", names)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}

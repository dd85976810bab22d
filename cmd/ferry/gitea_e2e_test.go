package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// giteaCondaBlock replaces condaConfig's dir destination with a channel in
// Gitea's conda registry, the token from a sensitive variable.
const giteaCondaBlock = `variable "gitea_url" {
  type = string
}

variable "gitea_token" {
  type      = string
  sensitive = true
}

destination "gitea_conda" "channel" {
  url     = var.gitea_url
  owner   = "ferry-admin"
  channel = "mirror/tools"
  token   = var.gitea_token
}`

// A conda channel into Gitea's conda registry, which writes the channel
// index itself: the plan says so and plans no index; the packages land
// under the names Gitea files them by; a re-plan has no changes; rattler
// solves from Gitea's channel anonymously; a package dropped from the
// selection is deleted (its version held only it); the token never shows.
func TestCondaChannelToGitea(t *testing.T) {
	srv := testenv.StartGitea(t)
	mods := rattlerModules(t)
	up := startUpstream(t, condaChannel(t))
	dir := t.TempDir()
	cfg := strings.Replace(condaConfig, "destination \"dir\" \"channel\" {\n  path = \"channel\"\n}", giteaCondaBlock, 1)
	cfg = strings.Replace(cfg, "destination.dir.channel", "destination.gitea_conda.channel", 1)
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FERRY_VAR_channel=" + up.URL, "FERRY_VAR_gitea_url=" + srv.URL, "FERRY_VAR_gitea_token=" + srv.Token}
	channel := srv.URL + "/api/packages/" + srv.User + "/conda/mirror/tools"

	p := ferry(t, dir, env, "plan", "-detailed-exitcode")
	p.must(t, 2, "the channel index is written by Gitea's conda registry ("+channel+")", "Plan: 3 to add, 0 to replace, 0 to delete.")
	if strings.Contains(p.stdout, "repodata.json") {
		t.Errorf("the plan publishes an index to a registry that writes its own:\n%s", p.stdout)
	}
	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "Apply complete: 3 changes applied")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")

	// Gitea's own index names the packages, read anonymously as conda
	// clients do; rattler solves from it.
	resp, err := http.Get(channel + "/linux-64/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, f := range []string{"clobber-1-0.2.0-h4616a5c_0.tar.bz2", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), f) {
			t.Errorf("Gitea's linux-64/repodata.json (%s) does not name %s:\n%s", resp.Status, f, body)
		}
	}
	checkRattler(t, mods, channel)

	// Dropped from the selection: deleted from Gitea (its version held
	// only that file).
	cfg2 := strings.Replace(cfg, `exclude = ["clobber-2"]`, `exclude = ["clobber-2", "clobber-directory-upgrade"]`, 1)
	if err := os.WriteFile(cfgPath, []byte(cfg2), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 0 to add, 0 to replace, 1 to delete.")
	r2 := ferry(t, dir, env, "apply", "-auto-approve")
	r2.must(t, 0, "Apply complete: 1 changes applied")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 2 artifacts up to date.")
	resp, err = http.Get(channel + "/linux-64/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted package is still served: %s", resp.Status)
	}

	state, err := os.ReadFile(filepath.Join(dir, "ferry.state.json"))
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"plan": p.stdout + p.stderr, "apply": r.stdout + r.stderr + r2.stdout + r2.stderr, "state": string(state)} {
		if strings.Contains(s, srv.Token) {
			t.Errorf("the Gitea token appears in the %s", what)
		}
	}
}

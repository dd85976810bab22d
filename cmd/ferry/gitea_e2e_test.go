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

// giteaCondaConfig mirrors a noarch channel into a channel of Gitea's
// conda registry, the token from a sensitive variable.
const giteaCondaConfig = `
ferry {
  state = "ferry.state.json"
}

variable "channel" {
  type = string
}

variable "gitea_url" {
  type = string
}

variable "gitea_token" {
  type      = string
  sensitive = true
}

source "conda" "upstream" {
  channel = var.channel
  subdirs = ["noarch"]
  include = ["clobber-*"]
  exclude = ["clobber-2"]
  latest  = 1
}

destination "gitea_conda" "channel" {
  url     = var.gitea_url
  owner   = "ferry-admin"
  channel = "mirror/tools"
  token   = var.gitea_token
}

mirror "conda" {
  from = source.conda.upstream
  to   = destination.gitea_conda.channel
}
`

// A conda channel into Gitea's conda registry, which writes the channel
// index itself: the plan says so and plans no index; the packages land
// under the names Gitea files them by; a re-plan has no changes; rattler
// solves from Gitea's channel anonymously; a package dropped from the
// selection is deleted (its version held only it); the token never shows.
// Gitea files a package by the subdir its own info/index.json names, so the
// upstream channel here files each fixture where it says it belongs.
func TestCondaChannelToGitea(t *testing.T) {
	srv := testenv.StartGitea(t)
	mods := rattlerModules(t)
	chdir := condaChannelOf(t, map[string][]string{"noarch": {
		"clobber-1-0.1.0-h4616a5c_0.tar.bz2", "clobber-1-0.2.0-h4616a5c_0.tar.bz2",
		"clobber-2-0.2.0-h4616a5c_0.tar.bz2", "clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
		"clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"}})
	dir, _, env := condaWork(t, chdir, giteaCondaConfig)
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	env = append(env, "FERRY_VAR_gitea_url="+srv.URL, "FERRY_VAR_gitea_token="+srv.Token)
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
	// clients do; rattler solves from it at Gitea's URLs.
	resp, err := http.Get(channel + "/noarch/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, f := range []string{"clobber-1-0.2.0-h4616a5c_0.tar.bz2", "clobber-directory-upgrade-0.2.0-h4616a5c_0.conda"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), f) {
			t.Errorf("Gitea's noarch/repodata.json (%s) does not name %s:\n%s", resp.Status, f, body)
		}
	}
	checkRattlerIn(t, mods, channel, "noarch")

	// Dropped from the selection: deleted from Gitea (its version held
	// only that file).
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := strings.Replace(string(cfg), `exclude = ["clobber-2"]`, `exclude = ["clobber-2", "clobber-directory-upgrade"]`, 1)
	if err := os.WriteFile(cfgPath, []byte(cfg2), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 0 to add, 0 to replace, 1 to delete.",
		"destination.gitea_conda.channel: 1 delete: each removes a whole package version from Gitea")
	r2 := ferry(t, dir, env, "apply", "-auto-approve")
	r2.must(t, 0, "Apply complete: 1 change applied")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 2 artifacts up to date.")
	resp, err = http.Get(channel + "/noarch/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda")
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

package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const condaAirGapConfig = `
ferry {
  state = "ferry.state.json"
}

variable "channel" {
  type = string
}

variable "ci" {
  type = string
}

source "conda" "upstream" {
  channel  = var.channel
  subdirs  = ["linux-64"]
  include  = ["clobber-*", "empty"]
  exclude  = ["clobber-2"]
  latest   = 1
  packages = ["${var.ci}/empty-0.1.0-h4616a5c_0.conda"]
}

destination "dir" "channel" {
  path = "channel"
}

mirror "conda" {
  from = source.conda.upstream
  to   = destination.dir.channel
}
`

// TestAirGapCondaSource: -download-only stores the channel's subdir
// indexes and the loose package's computed record with the packages; with
// the channel and the CI server gone, plan and apply -from-cache (a saved
// plan) fill a dir channel whose files, channel index included (a hotfixed
// record byte for byte, "removed"), are byte for byte those a direct
// mirror publishes; a re-plan from the cache has no changes, and no
// command leaves its download of the loose package behind.
func TestAirGapCondaSource(t *testing.T) {
	chdir := condaChannel(t)
	_, record := hotfixNoarch(t, chdir)
	up := startUpstream(t, chdir)
	served := t.TempDir()
	pkg, err := os.ReadFile("../../testdata/conda/packages/empty-0.1.0-h4616a5c_0.conda")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(served, "empty-0.1.0-h4616a5c_0.conda"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	ci := startUpstream(t, served)
	tmp := t.TempDir()
	env := []string{"FERRY_VAR_channel=" + up.URL, "FERRY_VAR_ci=" + ci.URL, "TMPDIR=" + tmp}
	workdir := func() string {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "main.ferry.hcl"), []byte(condaAirGapConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	noTemp := func(after string) {
		t.Helper()
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("after %s: temporary files left: %v", after, left)
		}
	}

	// What a mirror with the network publishes.
	direct := workdir()
	ferry(t, direct, env, "apply", "-auto-approve").must(t, 0, "Apply complete")
	noTemp("apply")
	want := filesUnder(t, filepath.Join(direct, "channel"))
	if diff := cmp.Diff(withIndexes([]string{
		"linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2", "linux-64/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2", "noarch/empty-0.1.0-h4616a5c_0.conda",
	}, "linux-64", "noarch"), want); diff != "" {
		t.Fatalf("direct mirror (-want +got):\n%s", diff)
	}

	inner := workdir()
	cache := filepath.Join(t.TempDir(), "cache")
	ferry(t, inner, env, "apply", "-download-only", "-cache", cache).must(t, 0, "Downloaded 4 artifacts", "source conda.upstream: listing stored")
	noTemp("apply -download-only")
	up.srv.Close()
	ci.srv.Close()
	sent := up.total() + ci.total()

	ferry(t, inner, env, "plan", "-from-cache", cache, "-out", "p.json").must(t, 0, "Plan: 4 to add", `["noarch/repodata.json"]`)
	noTemp("plan -from-cache")
	ferry(t, inner, env, "apply", "-from-cache", cache, "p.json").must(t, 0, "Apply complete")
	noTemp("apply -from-cache")
	if up.total()+ci.total() != sent {
		t.Error("the inner side contacted the channel or the CI server")
	}
	if diff := cmp.Diff(want, filesUnder(t, filepath.Join(inner, "channel"))); diff != "" {
		t.Fatalf("inner channel files (-direct +inner):\n%s", diff)
	}
	for _, f := range want {
		a, errA := os.ReadFile(filepath.Join(direct, "channel", f))
		b, errB := os.ReadFile(filepath.Join(inner, "channel", f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the direct mirror's (%v, %v)", f, errA, errB)
		}
	}
	if js := readIndex(t, filepath.Join(inner, "channel"), "noarch"); !bytes.Contains(js, []byte(record)) || !bytes.Contains(js, []byte("gone-1.0-0.tar.bz2")) {
		t.Errorf("the hotfixed record or removed list is not as served:\n%s", js)
	}
	ferry(t, inner, env, "plan", "-from-cache", cache, "-detailed-exitcode").must(t, 0, "No changes.")
	noTemp("re-plan -from-cache")
}

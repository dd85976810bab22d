package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deleteTag deletes what tag points at in repository repo of the registry at
// base (by manifest digest, the only delete distribution has), as someone
// else would.
func deleteTag(t *testing.T, base, repo, tag string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, base+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	dgst := resp.Header.Get("Docker-Content-Digest")
	if resp.StatusCode != http.StatusOK || dgst == "" {
		t.Fatalf("HEAD %s:%s: %s", repo, tag, resp.Status)
	}
	req, _ = http.NewRequest(http.MethodDelete, base+"/v2/"+repo+"/manifests/"+dgst, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s@%s: %s", repo, dgst, resp.Status)
	}
}

// An OCI destination is refreshed from its tags list: a tag deleted behind
// ferry's back is drift the next plan repairs, for file artifacts (the
// seeded registry A, from an http source) and for copied graphs (A to B).
func TestOCITagDeletedBehindBackIsDrift(t *testing.T) {
	regA, regB := seedTwoRegistries(t)
	syncDir := t.TempDir()
	sync := `source "oci" "a" {
  registry   = "` + regA.Host + `"
  repository = "app"
  plain_http = true
  tags {
    semver = ">= 1.0"
  }
}
destination "oci" "b" {
  registry   = "` + regB.Host + `"
  repository = "mirror/app"
  plain_http = true
}
mirror "app" {
  from = source.oci.a
  to   = destination.oci.b
}
`
	os.WriteFile(filepath.Join(syncDir, "main.ferry.hcl"), []byte(sync), 0o644)
	ferry(t, syncDir, nil, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	ferry(t, syncDir, nil, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")

	deleteTag(t, regB.URL, "mirror/app", "1.1.0")
	ferry(t, syncDir, nil, "plan", "-detailed-exitcode").must(t, 2, `mirror.app["1.1.0"]`, "Plan: 1 to add, 0 to replace, 0 to delete")
	ferry(t, syncDir, nil, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")
	if a, b := getManifest(t, regA.URL+"/v2/app/manifests/1.1.0"), getManifest(t, regB.URL+"/v2/mirror/app/manifests/1.1.0"); a == "" || a != b {
		t.Error("the repaired 1.1.0 in B differs from A (or is missing)")
	}

	// File artifacts from an http source: the same.
	files, dir := t.TempDir(), t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("variable \"files\" {}\nsource \"http\" \"files\" {\n")
	for _, n := range []string{"a", "b", "c"} {
		body := []byte("file " + n + "\n")
		os.WriteFile(filepath.Join(files, n+".txt"), body, 0o644)
		cfg.WriteString("  artifact \"" + n + "\" {\n    url = \"${var.files}/" + n + ".txt\"\n    sha256 = \"" + sha256Hex(body) + "\"\n    key = \"files/" + n + ".txt\"\n  }\n")
	}
	cfg.WriteString("}\ndestination \"oci\" \"b\" {\n  registry = \"" + regB.Host + "\"\n  repository = \"files\"\n  plain_http = true\n}\nmirror \"files\" {\n  from = source.http.files\n  to = destination.oci.b\n}\n")
	os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg.String()), 0o644)
	env := []string{"FERRY_VAR_files=" + startUpstream(t, files).URL}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	deleteTag(t, regB.URL, "files", tagOf(t, regB.URL, "files", "files/b.txt"))
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, `mirror.files["files/b.txt"]`, "Plan: 1 to add, 0 to replace, 0 to delete")
}

// tagOf finds the tag of key in repo by the key annotation of each tag's
// manifest (the tag itself is a hash of the key).
func tagOf(t *testing.T, base, repo, key string) string {
	t.Helper()
	resp, err := http.Get(base + "/v2/" + repo + "/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Tags []string `json:"tags"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range list.Tags {
		if strings.Contains(getManifest(t, base+"/v2/"+repo+"/manifests/"+tag), `"io.github.ferry-mirror.key":"`+key+`"`) {
			return tag
		}
	}
	t.Fatalf("no tag of %s holds %s", repo, key)
	return ""
}

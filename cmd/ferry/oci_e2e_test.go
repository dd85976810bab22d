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

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// ociExample lays out examples/oci beside examples/buildpack (which it reads
// from) in a temp dir, served by a fresh upstream, pointing at reg.
func ociExample(t *testing.T) (dir string, up *upstream) {
	t.Helper()
	root := t.TempDir()
	bp := copyDir(t, "../../examples/buildpack")
	oci := copyDir(t, "../../examples/oci")
	if err := os.Rename(bp, filepath.Join(root, "buildpack")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(oci, filepath.Join(root, "oci")); err != nil {
		t.Fatal(err)
	}
	up = startUpstream(t, filepath.Join(root, "buildpack/upstream"))
	p := filepath.Join(root, "buildpack/buildpacks/node-engine/buildpack.toml")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.ReplaceAll(b, []byte("http://127.0.0.1:8732"), []byte(up.URL)), 0o644)
	return filepath.Join(root, "oci"), up
}

func TestOCIMirrorRewriteAndPlainGET(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir, _ := ociExample(t)
	env := []string{"FERRY_VAR_registry=" + reg.Host}

	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 2 to add, 0 to replace, 0 to delete, 1 to rewrite.",
		"+    uri = \"http://"+reg.Host+"/v2/buildpack-deps/node/blobs/sha256:13b2c6d39cb74e98e894bf68e9286e394125fe32a28cf87217f0030f801eb892\"")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 2 artifacts up to date.")

	out, _ := os.ReadFile(filepath.Join(dir, "out/buildpack.toml"))
	uris := regexp.MustCompile(`(?m)^    uri = "(http://[^"]+/blobs/sha256:([0-9a-f]{64}))"$`).FindAllSubmatch(out, -1)
	if len(uris) != 2 {
		t.Fatalf("found %d rewritten blob uris; want 2", len(uris))
	}
	for _, u := range uris {
		if got := getSHA256(t, string(u[1])); got != string(u[2]) {
			t.Errorf("GET %s: sha256 %s", u[1], got)
		}
	}
	ferry(t, dir, env, "show").must(t, 0, "mirror.node (buildpack.node_engine -> oci.local), 2 artifacts")
}

func TestOCIAuthWarningsAndSecrets(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	dir, _ := ociExample(t)
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, _ := os.ReadFile(cfgPath)
	b = bytes.Replace(b, []byte("  plain_http = true"), []byte("  plain_http = true\n  username   = \""+reg.Username+"\"\n  password   = var.registry_password"), 1)
	b = append(b, []byte("\nvariable \"registry_password\" {\n  sensitive = true\n}\n")...)
	os.WriteFile(cfgPath, b, 0o644)

	env := []string{"FERRY_VAR_registry=" + reg.Host, "FERRY_VAR_registry_password=" + reg.Password, "FERRY_LOG=debug"}
	r := ferry(t, dir, env, "plan")
	r.must(t, 0, "Consumers may not be able to download", "Plan: 2 to add")
	a := ferry(t, dir, env, "apply", "-auto-approve")
	a.must(t, 0, "Apply complete: 3 changes applied")
	st, _ := os.ReadFile(filepath.Join(dir, "ferry.state.json"))
	for _, s := range []string{r.stdout, r.stderr, a.stdout, a.stderr, string(st)} {
		if strings.Contains(s, reg.Password) {
			t.Fatal("the registry password appears in ferry's output or state")
		}
	}

	// A wrong password: a clear error naming the registry, never the secret.
	const wrong = "wr0ng-passw0rd-value"
	os.RemoveAll(filepath.Join(dir, "ferry.state.json"))
	bad := []string{"FERRY_VAR_registry=" + reg.Host, "FERRY_VAR_registry_password=" + wrong}
	w := ferry(t, dir, bad, "plan")
	if w.code != 1 || !strings.Contains(w.stdout+w.stderr, reg.Host) {
		t.Fatalf("plan with a wrong password: exit %d\n%s%s", w.code, w.stdout, w.stderr)
	}
	if strings.Contains(w.stdout+w.stderr, wrong) {
		t.Fatal("the wrong password appears in the error")
	}
}

// OCI to OCI (regsync's job): ferry seeds registry A, then mirrors the tags a
// semver range selects from A to B, byte for byte, with retention.
func TestOCIToOCIMirror(t *testing.T) {
	regA, regB := seedTwoRegistries(t)

	syncDir := t.TempDir()
	sync := `source "oci" "a" {
  registry   = "` + regA.Host + `"
  repository = "app"
  plain_http = true
  tags {
    semver = ">= 1.1"
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
	ferry(t, syncDir, nil, "plan", "-detailed-exitcode").must(t, 2, `mirror.app["1.1.0"]`, `mirror.app["2.0.0"]`, "Plan: 2 to add")
	ferry(t, syncDir, nil, "apply", "-auto-approve").must(t, 0, "Apply complete: 2 changes applied")
	ferry(t, syncDir, nil, "plan", "-detailed-exitcode").must(t, 0, "No changes. 2 artifacts up to date.")
	for _, tag := range []string{"1.1.0", "2.0.0"} {
		a := getManifest(t, regA.URL+"/v2/app/manifests/"+tag)
		b := getManifest(t, regB.URL+"/v2/mirror/app/manifests/"+tag)
		if a == "" || a != b {
			t.Errorf("manifest %s differs between A and B (or is missing)", tag)
		}
	}
	if m := getManifest(t, regB.URL+"/v2/mirror/app/manifests/1.0.0"); m != "" {
		t.Error("1.0.0 is outside the semver range but was mirrored")
	}

	// Retention on the mirror: keep the newest version only.
	os.WriteFile(filepath.Join(syncDir, "main.ferry.hcl"), []byte(strings.Replace(sync, "  to   = destination.oci.b\n", "  to   = destination.oci.b\n  retention {\n    keep_last = 1\n  }\n", 1)), 0o644)
	ferry(t, syncDir, nil, "apply", "-auto-approve").must(t, 0, `mirror.app["1.1.0"]: deleted`)
	if m := getManifest(t, regB.URL+"/v2/mirror/app/manifests/1.1.0"); m != "" {
		t.Error("retention did not remove 1.1.0 from B")
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// getManifest returns the raw manifest at url, "" when it is not there.
func getManifest(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// seedTwoRegistries starts two registries and, with ferry itself, fills the
// first with three tags of repository "app" (1.0.0, 1.1.0, 2.0.0, each a
// small file artifact) for the OCI-to-OCI tests; the second is empty.
func seedTwoRegistries(t *testing.T) (regA, regB *testenv.Registry) {
	t.Helper()
	regA = testenv.StartRegistry(t, testenv.RegistryOptions{})
	regB = testenv.StartRegistry(t, testenv.RegistryOptions{})
	files := t.TempDir()
	var seed strings.Builder
	seed.WriteString("variable \"files\" {}\nsource \"http\" \"files\" {\n")
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		body := []byte("release " + v + "\n")
		os.WriteFile(filepath.Join(files, v+".txt"), body, 0o644)
		seed.WriteString("  artifact \"app\" {\n    url = \"${var.files}/" + v + ".txt\"\n    sha256 = \"" + sha256Hex(body) + "\"\n    version = \"" + v + "\"\n    key = \"" + v + "\"\n  }\n")
	}
	seed.WriteString("}\ndestination \"oci\" \"a\" {\n  registry = \"" + regA.Host + "\"\n  repository = \"app\"\n  plain_http = true\n}\nmirror \"seed\" {\n  from = source.http.files\n  to = destination.oci.a\n}\n")
	seedDir := t.TempDir()
	os.WriteFile(filepath.Join(seedDir, "main.ferry.hcl"), []byte(seed.String()), 0o644)
	up := startUpstream(t, files)
	ferry(t, seedDir, []string{"FERRY_VAR_files=" + up.URL}, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	return regA, regB
}

package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// In the dependency_mirror layout a uri whose host is ".." or
// ".ferry-tmp" used to fail the whole plan (its HOST/PATH key is refused by
// the destination); now that dependency is "not mirrored" and the rest of
// the file is.
func TestBuildpackHostileHostIsNotMirrored(t *testing.T) {
	body := []byte("good dependency bytes")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dl/good.tgz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(body)
	dep := func(id, uri string) string {
		return fmt.Sprintf("[[metadata.dependencies]]\nid = %q\nversion = \"1.0.0\"\nchecksum = \"sha256:%s\"\nuri = %q\n\n", id, hex.EncodeToString(sum[:]), uri)
	}
	dir := t.TempDir()
	toml := "api = \"0.7\"\n\n[buildpack]\nid = \"test/hostile\"\nversion = \"1.0.0\"\n\n" +
		dep("good", srv.URL+"/dl/good.tgz") + dep("dotdot", "https://../etc/passwd") + dep("tmp", "https://.ferry-tmp/x.tgz")
	cfg := `source "buildpack" "bp" {
  file   = "buildpack.toml"
  layout = "dependency_mirror"
}

destination "dir" "local" {
  path = "mirror"
}

mirror "bp" {
  from = source.buildpack.bp
  to   = destination.dir.local
}
`
	for name, content := range map[string]string{"buildpack.toml": toml, "main.ferry.hcl": cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := ferry(t, dir, nil, "plan", "-detailed-exitcode")
	r.must(t, 2, "Plan: 1 to add, 0 to replace, 0 to delete", `mirror.bp["127.0.0.1/dl/good.tgz"]`,
		`its host ".." is neither a DNS name nor an IP address; not mirrored`, `its host ".ferry-tmp" is neither`)
	ferry(t, dir, nil, "apply", "-auto-approve").must(t, 0)
	if b, err := os.ReadFile(filepath.Join(dir, "mirror", "127.0.0.1", "dl", "good.tgz")); err != nil || string(b) != string(body) {
		t.Errorf("mirrored file: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "mirror"))
	var names []string
	for _, e := range entries {
		if e.Name() != ".ferry-tmp" { // the store's own staging directory
			names = append(names, e.Name())
		}
	}
	if got := strings.Join(names, " "); got != "127.0.0.1" {
		t.Errorf("destination holds %q, want only 127.0.0.1", got)
	}
}

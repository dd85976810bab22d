package buildpack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// The source conformance suite, built from an HCL block through the
// registry: a buildpack.toml whose uris (one with basic-auth user info)
// point at a server that wants it, both layouts, with source tarballs.
func TestConformance(t *testing.T) {
	const user, password = "ferry", "bp-pa55w0rd"
	files := map[string][]byte{
		"/deps/node-20.11.1.tgz":     providertest.Content(1, 200<<10+3),
		"/deps/node-20.11.1-src.tgz": providertest.Content(2, 5000),
		"/deps/jdk-21.tgz":           providertest.Content(3, 7000),
	}
	srv := providertest.ServeFiles(t, user, password, files)
	sum := func(p string) string { return providertest.SHA256(files[p]).Hex }

	for _, layout := range []string{"digest", "dependency_mirror"} {
		t.Run(layout, func(t *testing.T) {
			providertest.RunSource(t, providertest.SourceHarness{
				Upstream: srv.URL,
				Secrets:  []string{password},
				New: func(t *testing.T, base string) providers.Source {
					u := strings.Replace(base, "http://", "http://"+user+":"+password+"@", 1)
					dir := t.TempDir()
					toml := fmt.Sprintf(`api = "0.7"

[buildpack]
  id = "providertest/node"
  version = "1.0.0"

[[metadata.dependencies]]
  id = "node"
  version = "20.11.1"
  uri = "%[1]s/deps/node-20.11.1.tgz"
  checksum = "sha256:%[2]s"
  source = "%[1]s/deps/node-20.11.1-src.tgz"
  source-checksum = "sha256:%[3]s"
  stacks = ["*"]

[[metadata.dependencies]]
  id = "jdk"
  version = "21.0.1"
  uri = "%[1]s/deps/jdk-21.tgz"
  sha256 = "%[4]s"
  stacks = ["*"]
`, u, sum("/deps/node-20.11.1.tgz"), sum("/deps/node-20.11.1-src.tgz"), sum("/deps/jdk-21.tgz"))
					if err := os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte(toml), 0o644); err != nil {
						t.Fatal(err)
					}
					src := fmt.Sprintf(`source "buildpack" "node" {
  file    = "buildpack.toml"
  sources = true
  layout  = %q
}`, layout)
					return providertest.NewSource(t, src, dir, registry.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1})})
				},
			})
		})
	}
}

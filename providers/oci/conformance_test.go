package oci_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// The source conformance suite against a real registry with htpasswd
// basic auth, built from an HCL block through the registry. An OCI source
// fetches no bytes: the suite copies each tag into a fresh oci destination
// on the same registry and compares the root manifest's digest.
func TestSourceConformance(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	repo := "upstream/conformance"
	r := fixtureRepo(t, reg, repo)
	img, _ := pushImage(t, r, 1)
	idx, _ := pushIndex(t, r, 10)
	tagAs(t, r, img, "1.0.0", "latest")
	tagAs(t, r, idx, "2.0.0")

	creds := fmt.Sprintf("username = %q\n  password = %q", reg.Username, reg.Password)
	providertest.RunSource(t, providertest.SourceHarness{
		Upstream:   reg.URL,
		Secrets:    []string{reg.Password},
		MissingKey: "providertest-missing",
		New: func(t *testing.T, base string) providers.Source {
			return providertest.NewSource(t, fmt.Sprintf(`source "oci" "upstream" {
  registry   = %q
  repository = %q
  plain_http = true
  %s
  tags {
    regex = "."
  }
}`, strings.TrimPrefix(base, "http://"), repo, creds), t.TempDir(), provreg.Env{})
		},
		CopyTo: func(t *testing.T) providers.Destination {
			return providertest.NewDestination(t, fmt.Sprintf(`destination "oci" "mirror" {
  registry   = %q
  repository = %q
  plain_http = true
  %s
}`, reg.Host, freshRepo(), creds), t.TempDir(), provreg.Env{})
		},
	})
}

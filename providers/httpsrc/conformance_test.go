package httpsrc_test

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// The source conformance suite, built from an HCL block through the
// registry, against a server that wants basic auth (the credentials ride
// in the URLs' user info).
func TestConformance(t *testing.T) {
	const user, password = "ferry", "s3cr3t-pa55"
	files := map[string][]byte{
		"/files/jq-1.7.1": providertest.Content(1, 300<<10+7),
		"/files/yq":       providertest.Content(2, 4096),
		"/files/empty":    {},
	}
	srv := providertest.ServeFiles(t, user, password, files)
	sha512Hex := func(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }

	providertest.RunSource(t, providertest.SourceHarness{
		Upstream: srv.URL,
		Secrets:  []string{password},
		New: func(t *testing.T, base string) providers.Source {
			u := strings.Replace(base, "http://", "http://"+user+":"+password+"@", 1)
			jq, yq, empty := files["/files/jq-1.7.1"], files["/files/yq"], files["/files/empty"]
			src := fmt.Sprintf(`source "http" "tools" {
  artifact "jq" {
    url     = "%[1]s/files/jq-1.7.1"
    sha256  = "%[2]s"
    version = "1.7.1"
    size    = %[3]d
  }
  artifact "yq" {
    url    = "%[1]s/files/yq"
    sha512 = "%[4]s"
  }
  artifact "empty" {
    url    = "%[1]s/files/empty"
    sha256 = "%[5]s"
    size   = 0
  }
}`, u, providertest.SHA256(jq).Hex, len(jq), sha512Hex(yq), providertest.SHA256(empty).Hex)
			return providertest.NewSource(t, src, t.TempDir(), registry.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1})})
		},
	})
}

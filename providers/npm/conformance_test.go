package npm_test

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// env is what the conformance runs build providers with: no ~/.npmrc.
func env() provreg.Env { return provreg.Env{HTTP: client(), Getenv: noEnv} }

// The source conformance suite against a real Verdaccio, built from an HCL
// block through the registry, with a token configured (Verdaccio reads
// are anonymous; the token must still never show).
func TestSourceConformance(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		up.Publish(t, testenv.NPMTarball(t, "left-pad", v, nil), "latest")
	}
	up.Publish(t, testenv.NPMTarball(t, "@demo/util", "3.0.0", nil), "latest")

	providertest.RunSource(t, providertest.SourceHarness{
		Upstream:   up.URL,
		Secrets:    []string{up.Token},
		MissingKey: npm.Key("providertest-missing", "1.0.0"),
		New: func(t *testing.T, base string) providers.Source {
			return providertest.NewSource(t, fmt.Sprintf(`source "npm" "up" {
  registry = %q
  token    = %q
  packages = ["left-pad", "@demo/*"]
}`, base, up.Token), t.TempDir(), env())
		},
		ManifestDigests: distDigests,
	})
}

// distDigests reads the digests a version document's dist declares: the
// sha512 of its integrity and its shasum (sha1).
func distDigests(manifest []byte) (providers.Digests, error) {
	var doc struct {
		Dist struct {
			Integrity string `json:"integrity"`
			Shasum    string `json:"shasum"`
		} `json:"dist"`
	}
	if err := json.Unmarshal(manifest, &doc); err != nil {
		return nil, err
	}
	var ds providers.Digests
	for _, entry := range strings.Fields(doc.Dist.Integrity) {
		if b64, ok := strings.CutPrefix(entry, "sha512-"); ok {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, err
			}
			ds = ds.With(providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(b)})
		}
	}
	if doc.Dist.Shasum != "" {
		ds = ds.With(providers.Digest{Algorithm: providers.SHA1, Hex: doc.Dist.Shasum})
	}
	return ds, nil
}

// versionDocument is the version document an npm source gives for key
// holding content.
func versionDocument(key string, content []byte) []byte {
	name, version, err := npm.ParseKey(key)
	if err != nil {
		panic(err)
	}
	s512, s1 := sha512.Sum512(content), sha1.Sum(content)
	doc, _ := json.Marshal(map[string]any{
		"name":    name,
		"version": version,
		"dist": map[string]string{
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
			"shasum":    hex.EncodeToString(s1[:]),
			"tarball":   "https://registry.example/" + key,
		},
	})
	return doc
}

// The destination conformance suite against a real Verdaccio: the store
// publishes each artifact with its version document (PutWithManifest).
// One registry serves every subtest; each gets a scope of its own, so its
// destination starts empty.
func TestDestinationConformance(t *testing.T) {
	down := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	var run atomic.Int64
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) providers.Destination {
			run.Add(1)
			return providertest.NewDestination(t, fmt.Sprintf(`destination "npm" "down" {
  registry = %q
  token    = %q
}`, down.URL, down.Token), t.TempDir(), env())
		},
		Key: func(i int) string {
			return npm.Key(fmt.Sprintf("@providertest-%d/pkg-%d", run.Load(), i), fmt.Sprintf("1.0.%d", i))
		},
		Manifest: func(a providers.Artifact, content []byte) []byte { return versionDocument(a.Key, content) },
	})
}

package proget_test

import (
	"fmt"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/proget"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/progettest"
	"github.com/ferry-mirror/ferry/providers/registry"
)

const apiKey = "pg-s3cr3t-key-0001"

// env is what the conformance providers are built with: few retries, and
// the API key in the environment for the blocks that read it from there.
func env() registry.Env {
	return registry.Env{
		HTTP:   httpx.New(httpx.Options{MaxRetries: 1}),
		Getenv: func(k string) string { return map[string]string{"PG_KEY": apiKey}[k] },
	}
}

// upackOf builds the package stored under key: its upack.json says what
// the key says, and its one file is n bytes from seed.
func upackOf(t testing.TB, key string, seed uint64, n int) []byte {
	p, err := proget.ParseKey(key)
	if err != nil {
		t.Fatalf("harness key: %v", err)
	}
	return progettest.BuildPackage(t, progettest.Manifest{Group: p.Group, Name: p.Name, Version: p.Version},
		map[string][]byte{"payload.bin": providertest.Content(seed, n)})
}

// seedUpack fills feed "universal" with packages in two groups that share
// a name, and one in the empty group.
func seedUpack(t *testing.T, srv *progettest.Server) {
	for _, m := range []progettest.Manifest{
		{Group: "tools", Name: "app", Version: "1.0.0"},
		{Group: "tools", Name: "app", Version: "1.10.0"},
		{Group: "tools", Name: "app", Version: "1.2.0-rc.1"},
		{Group: "apps/internal", Name: "app", Version: "2.0.0"},
		{Name: "solo", Version: "0.1.0+build.7"},
	} {
		srv.AddPackage(t, "universal", progettest.BuildPackage(t, m, map[string][]byte{"f.txt": []byte(m.Group + m.Name + m.Version)}))
	}
}

func TestUpackSourceConformance(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{APIKey: apiKey})
	seedUpack(t, srv)
	providertest.RunSource(t, providertest.SourceHarness{
		Upstream:   srv.URL,
		Secrets:    []string{apiKey},
		MissingKey: "tools/app/9.9.9/app-9.9.9.upack",
		New: func(t *testing.T, base string) providers.Source {
			return providertest.NewSource(t, fmt.Sprintf(`source "proget_upack" "build" {
  url         = %q
  feed        = "universal"
  api_key_env = "PG_KEY"
}`, base), t.TempDir(), env())
		},
	})
}

func TestUpackDestinationConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) providers.Destination {
			srv := progettest.Start(t, progettest.Options{APIKey: apiKey})
			return providertest.NewDestination(t, fmt.Sprintf(`destination "proget_upack" "mirror" {
  url     = %q
  feed    = "mirror"
  api_key = %q
}`, srv.URL, apiKey), t.TempDir(), env())
		},
		Key: func(i int) string {
			return proget.Package{Group: "providertest/g", Name: fmt.Sprintf("pkg-%d", i), Version: "1.0.0"}.Key()
		},
		Content: upackOf,
	})
}

func TestAssetSourceConformance(t *testing.T) {
	srv := progettest.Start(t, progettest.Options{APIKey: apiKey})
	srv.PutAsset("files", "releases/jq/1.7.1/jq-linux-amd64", providertest.Content(1, 300<<10+7))
	srv.PutAsset("files", "releases/readme.txt", []byte("hello\n"))
	srv.PutAsset("files", "releases/zz/empty", nil) // not first: CancelMidFetch stalls the first listed file mid-body
	srv.PutAsset("files", "other/not-selected.bin", []byte("outside the folder"))
	providertest.RunSource(t, providertest.SourceHarness{
		Upstream: srv.URL,
		Secrets:  []string{apiKey},
		New: func(t *testing.T, base string) providers.Source {
			return providertest.NewSource(t, fmt.Sprintf(`source "proget_asset" "files" {
  url       = %q
  directory = "files"
  path      = "releases"
  api_key   = %q
}`, base, apiKey), t.TempDir(), env())
		},
	})
}

func TestAssetDestinationConformance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chunk string // chunk_size: 64 KiB sends the suite's objects in parts
	}{
		{name: "single request", chunk: ""},
		{name: "multipart", chunk: "chunk_size = 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				New: func(t *testing.T) providers.Destination {
					srv := progettest.Start(t, progettest.Options{APIKey: apiKey})
					return providertest.NewDestination(t, fmt.Sprintf(`destination "proget_asset" "mirror" {
  url       = %q
  directory = "mirror"
  path      = "in/here"
  api_key   = %q
  %s
}`, srv.URL, apiKey, tc.chunk), t.TempDir(), env())
				},
			})
		})
	}
}

package nuget_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/nuget"
	"github.com/ferry-mirror/ferry/providers/nuget/nugettest"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

func env() registry.Env { return registry.Env{Logger: hclog.NewNullLogger()} }

// destinationBlock is a nuget destination on srv's feed of owner.
func destinationBlock(srv *testenv.Gitea, owner string) string {
	return fmt.Sprintf(`destination "nuget" "test" {
  service_index = %q
  api_key       = %q
}`, nugettest.GiteaIndex(srv.URL, owner), srv.Token)
}

// packageFor is a real package Gitea files under key
// ("ID/VERSION/ID.VERSION.nupkg"), with about n bytes of seed's payload.
// Its .nuspec spells the id with an upper-case first letter: ids compare
// case-insensitively.
func packageFor(t testing.TB, key string, seed uint64, n int) []byte {
	t.Helper()
	id, version, err := nuget.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return nugettest.Package(t, strings.ToUpper(id[:1])+id[1:], version, providertest.Content(seed, n))
}

// The destination conformance suite against a real Gitea, each subtest on
// the feed of an organization of its own.
func TestConformanceGitea(t *testing.T) {
	srv := testenv.StartGitea(t)
	var run atomic.Int64
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) providers.Destination {
			owner := fmt.Sprintf("conformance-%d", run.Add(1))
			nugettest.CreateOrg(t, srv.URL, srv.Token, owner)
			return providertest.NewDestination(t, destinationBlock(srv, owner), t.TempDir(), env())
		},
		Key:     func(i int) string { return nuget.Key(fmt.Sprintf("pt-%d", i), fmt.Sprintf("1.0.%d", i)) },
		Content: packageFor,
	})
}

// The source conformance suite against a real Gitea feed behind
// nugettest.Feed, which declares packageHash and listed as nuget.org's
// registrations do (Gitea's declare neither), with basic auth configured
// (the feed reads anonymously; the password must still never show).
func TestSourceConformanceGitea(t *testing.T) {
	srv := testenv.StartGitea(t)
	index := nugettest.GiteaIndex(srv.URL, srv.User)
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		nugettest.Push(t, index, srv.Token, nugettest.Package(t, "Ferry.Conformance", v, []byte("payload "+v)))
	}
	nugettest.Push(t, index, srv.Token, nugettest.Package(t, "Ferry.Other", "3.0.0", []byte("other")))
	feed := nugettest.NewFeed(t, srv.URL)
	providertest.RunSource(t, providertest.SourceHarness{
		Upstream:   feed.URL,
		Secrets:    []string{srv.Password},
		MissingKey: nuget.Key("ferry.conformance", "9.9.9"),
		New: func(t *testing.T, base string) providers.Source {
			return providertest.NewSource(t, fmt.Sprintf(`source "nuget" "up" {
  service_index      = %q
  packages           = ["Ferry.*"]
  include_prerelease = true
  username           = %q
  password           = %q
}`, nugettest.GiteaIndex(base, srv.User), srv.User, srv.Password), t.TempDir(), env())
		},
	})
}

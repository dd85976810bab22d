package gitea_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/archive/archivetest"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

func env() registry.Env { return registry.Env{Logger: hclog.NewNullLogger()} }

// block is a gitea_conda destination on srv's channel.
func block(srv *testenv.Gitea, channel string) string {
	return fmt.Sprintf(`destination "gitea_conda" "test" {
  url     = %q
  owner   = %q
  channel = %q
  token   = %q
}`, srv.URL, srv.User, channel, srv.Token)
}

// packageFor is a real conda package that Gitea files under key
// ("SUBDIR/NAME-VERSION-BUILD.tar.bz2"), with n bytes of seed's payload.
func packageFor(t testing.TB, key string, seed uint64, n int) []byte {
	t.Helper()
	subdir, file, _ := strings.Cut(key, "/")
	stem := strings.TrimSuffix(file, ".tar.bz2")
	i := strings.LastIndex(stem, "-")
	j := strings.LastIndex(stem[:i], "-")
	return archivetest.Package(t, archivetest.Index{Name: stem[:j], Version: stem[j+1 : i], Build: stem[i+1:], Subdir: subdir}, providertest.Content(seed, n))
}

// The destination conformance suite against a real Gitea, each subtest in
// a channel of its own.
func TestConformanceGitea(t *testing.T) {
	srv := testenv.StartGitea(t)
	var run atomic.Int64
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) providers.Destination {
			return providertest.NewDestination(t, block(srv, fmt.Sprintf("conformance-%d", run.Add(1))), t.TempDir(), env())
		},
		Key:     func(i int) string { return fmt.Sprintf("linux-64/pt-%d-1.0.%d-h0_0.tar.bz2", i, i) },
		Content: packageFor,
	})
}

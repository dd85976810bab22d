package gitea_test

import (
	"bytes"
	"errors"
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

// put stores pkg under key with its true size and sha256.
func put(t *testing.T, d providers.Destination, key string, pkg []byte) error {
	t.Helper()
	return d.Put(t.Context(), providers.Artifact{Key: key, Size: int64(len(pkg)), Digests: providers.NewDigests(providertest.SHA256(pkg))}, bytes.NewReader(pkg), providers.PutOptions{})
}

// Gitea files a package by its own info/index.json: a package whose name,
// version, build or subdir differ from its key is refused before anything
// is uploaded, naming where Gitea would have put it.
func TestCondaRefusesMisfiledPackage(t *testing.T) {
	srv := testenv.StartGitea(t)
	d := providertest.NewDestination(t, block(srv, "misfiled"), t.TempDir(), env())
	pkg := archivetest.Package(t, archivetest.Index{Name: "a", Version: "1.0", Build: "0", Subdir: "noarch"}, []byte("payload"))
	for _, tc := range []struct{ key, want string }{
		{key: "linux-64/a-1.0-0.tar.bz2", want: `names subdir "noarch"`},
		{key: "noarch/b-1.0-0.tar.bz2", want: "info/index.json says a-1.0-0.tar.bz2"},
		{key: "noarch/a-1.0-0.conda", want: "not a valid conda package"},
	} {
		err := put(t, d, tc.key, pkg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Put(%s) = %v, want an error saying %q", tc.key, err, tc.want)
		}
	}
	for _, key := range []string{"noarch/a-1.0-0.tar.bz2", "linux-64/a-1.0-0.tar.bz2"} {
		if _, err := d.Stat(t.Context(), key); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Stat(%s) after refused puts = %v, want not found", key, err)
		}
	}
	if err := put(t, d, "noarch/x.bin", pkg); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Put of a non-package key = %v, want ErrUnsupported", err)
	}
}

// Gitea deletes a conda package by whole version: Delete removes a version
// only when the file is its only one, and otherwise refuses, naming the
// other files, and deletes nothing.
func TestCondaDeleteKeepsOtherFilesOfTheVersion(t *testing.T) {
	srv := testenv.StartGitea(t)
	for _, channel := range []string{"", "siblings"} {
		t.Run("channel="+channel, func(t *testing.T) {
			hcl := block(srv, channel)
			if channel == "" { // the owner's root channel
				hcl = strings.Replace(hcl, "  channel = \"\"\n", "", 1)
			}
			d := providertest.NewDestination(t, hcl, t.TempDir(), env())
			for _, ix := range []archivetest.Index{
				{Name: "b", Version: "2.0", Build: "h1_0", Subdir: "linux-64"},
				{Name: "b", Version: "2.0", Build: "h2_0", Subdir: "linux-64"},
			} {
				if err := put(t, d, "linux-64/b-2.0-"+ix.Build+".tar.bz2", archivetest.Package(t, ix, []byte(ix.Build))); err != nil {
					t.Fatal(err)
				}
			}
			err := d.Delete(t.Context(), "linux-64/b-2.0-h1_0.tar.bz2")
			if !errors.Is(err, providers.ErrUnsupported) || !strings.Contains(err.Error(), "b-2.0-h2_0.tar.bz2") {
				t.Fatalf("Delete of one of two builds = %v, want ErrUnsupported naming the other", err)
			}
			for _, key := range []string{"linux-64/b-2.0-h1_0.tar.bz2", "linux-64/b-2.0-h2_0.tar.bz2"} {
				if _, err := d.Stat(t.Context(), key); err != nil {
					t.Errorf("Stat(%s) after a refused delete: %v", key, err)
				}
			}
			if strings.Contains(fmt.Sprint(err), srv.Token) {
				t.Error("the error shows the token")
			}
		})
	}
}

package conda_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// channelServer serves dir (a conda channel) over HTTP, asking for basic
// auth when user is set.
func channelServer(t *testing.T, dir, user, password string) *httptest.Server {
	t.Helper()
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The source conformance suite, built from an HCL block through the
// registry, against the real channel in testdata/conda/channel (indexed by
// conda's own indexer; its noarch index only as .json and .json.bz2)
// served behind basic auth.
func TestConformance(t *testing.T) {
	const user, password = "ferry", "s3cr3t-pa55"
	srv := channelServer(t, "../../testdata/conda/channel", user, password)
	providertest.RunSource(t, providertest.SourceHarness{
		Upstream:   srv.URL,
		Secrets:    []string{password},
		MissingKey: "noarch/missing-1.0-0.tar.bz2",
		New: func(t *testing.T, base string) providers.Source {
			u := strings.Replace(base, "http://", "http://"+user+":"+password+"@", 1)
			src := fmt.Sprintf(`source "conda" "ch" {
  channel = "%s"
  include = ["test-package >=0.1"]
}`, u)
			return providertest.NewSource(t, src, t.TempDir(), registry.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1})})
		},
	})
}

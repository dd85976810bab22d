package npm_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-mirror/ferry/providers/npm"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// tokenLog records which paths received the npm token.
type tokenLog struct {
	mu   sync.Mutex
	hits []string
}

func (l *tokenLog) note(r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		l.mu.Lock()
		l.hits = append(l.hits, r.Host+r.URL.Path)
		l.mu.Unlock()
	}
}

func (l *tokenLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.hits...)
}

// The npm token goes only to URLs under the configured registry URL: a
// registry (at 127.0.0.1:A/registry/) that redirects the package document
// or the tarball to another port of 127.0.0.1, or to a path of its own
// origin outside /registry/, never hands the token there. The redirects are
// still followed (a registry may serve tarballs from elsewhere), without it.
func TestTokenStaysUnderTheRegistry(t *testing.T) {
	const token = "npm_s3cret"
	tarball := []byte("not really a tarball")
	sum := sha512.Sum512(tarball)
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])

	tests := []struct {
		name string
		// redirectDoc and redirectTarball say where A sends the document and
		// the tarball: "" (serve it), "other-port" or "outside-prefix".
		redirectDoc, redirectTarball string
	}{
		{name: "tarball to another port", redirectTarball: "other-port"},
		{name: "tarball outside the registry path", redirectTarball: "outside-prefix"},
		{name: "document to another port", redirectDoc: "other-port"},
		{name: "document outside the registry path", redirectDoc: "outside-prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inScope, outOfScope tokenLog
			var a, b *httptest.Server
			packument := func() []byte {
				doc, _ := json.Marshal(map[string]any{
					"name":      "pkg",
					"dist-tags": map[string]string{"latest": "1.0.0"},
					"versions": map[string]any{"1.0.0": map[string]any{
						"name": "pkg", "version": "1.0.0",
						"dist": map[string]string{"tarball": a.URL + "/registry/pkg/-/pkg-1.0.0.tgz", "integrity": integrity},
					}},
					"time": map[string]string{"1.0.0": "2024-01-01T00:00:00.000Z"},
				})
				return doc
			}
			// serve answers the document and the tarball, wherever asked.
			serve := func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, ".tgz") {
					_, _ = w.Write(tarball)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(packument())
			}
			target := func(kind string, r *http.Request) string {
				rest := strings.TrimPrefix(r.URL.Path, "/registry")
				if kind == "other-port" {
					return b.URL + "/registry" + rest
				}
				return a.URL + "/outside" + rest
			}
			a = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.URL.Path, "/registry/") {
					outOfScope.note(r)
					serve(w, r)
					return
				}
				inScope.note(r)
				kind := tt.redirectDoc
				if strings.HasSuffix(r.URL.Path, ".tgz") {
					kind = tt.redirectTarball
				}
				if kind != "" {
					http.Redirect(w, r, target(kind, r), http.StatusFound)
					return
				}
				serve(w, r)
			}))
			defer a.Close()
			b = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				outOfScope.note(r)
				serve(w, r)
			}))
			defer b.Close()

			cfg := npm.SourceConfig{Packages: []string{"pkg"}}
			cfg.Registry = npm.Registry{URL: a.URL + "/registry/", Token: token}
			s, err := npm.NewSource("npm.up", &cfg, provreg.Env{HTTP: client(), Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			arts := list(t, s)
			if len(arts) != 1 {
				t.Fatalf("listed %d artifacts, want 1: %v", len(arts), arts)
			}
			for _, art := range arts {
				rc, err := s.Fetch(t.Context(), art)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(got) != string(tarball) {
					t.Fatalf("fetched %q, %v; want the tarball", got, err)
				}
			}
			if hits := outOfScope.got(); len(hits) != 0 {
				t.Errorf("the token reached URLs outside the registry: %q", hits)
			}
			if len(inScope.got()) == 0 {
				t.Errorf("the registry itself never received the token")
			}
		})
	}
}

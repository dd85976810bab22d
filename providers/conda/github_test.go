package conda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// githubReplay is a replay of the two GitHub REST endpoints ferry uses,
// written from GitHub's documentation (not recorded from GitHub, which is
// not reachable here):
//
//	GET /repos/{owner}/{repo}/actions/artifacts?per_page=&page=[&name=]
//	  → {"total_count": N, "artifacts": [{"id", "name", "size_in_bytes",
//	     "archive_download_url", "expired", "created_at", ...}]}
//	GET /repos/{owner}/{repo}/actions/artifacts/{id}/zip
//	  → 302 Location: a short-lived blob URL on another host
type githubReplay struct {
	api, blob *httptest.Server
	arts      []map[string]any
	zips      map[int64][]byte

	mu         sync.Mutex
	pages      []string // page query values asked
	leaked     []string // requests to the blob host that carried a token
	unauthed   int      // API requests without the token
	wantBearer string
}

func newGitHubReplay(t *testing.T, token string) *githubReplay {
	r := &githubReplay{zips: map[int64][]byte{}, wantBearer: "Bearer " + token}
	r.blob = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		if h := req.Header.Get("Authorization"); h != "" {
			r.leaked = append(r.leaked, req.URL.Path+": "+h)
		}
		r.mu.Unlock()
		id, _ := strconv.ParseInt(strings.TrimPrefix(req.URL.Path, "/blob/"), 10, 64)
		z, ok := r.zips[id]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "zip")
		w.Write(z)
	}))
	r.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		if req.Header.Get("Authorization") != r.wantBearer {
			r.unauthed++
		}
		r.mu.Unlock()
		const prefix = "/repos/octo/builds/actions/artifacts"
		switch {
		case req.URL.Path == prefix:
			q := req.URL.Query()
			per, _ := strconv.Atoi(q.Get("per_page"))
			if per <= 0 || per > 100 {
				per = 30
			}
			page, _ := strconv.Atoi(q.Get("page"))
			if page <= 0 {
				page = 1
			}
			r.mu.Lock()
			r.pages = append(r.pages, q.Get("page"))
			r.mu.Unlock()
			var sel []map[string]any
			for _, a := range r.arts {
				if n := q.Get("name"); n == "" || a["name"] == n {
					sel = append(sel, a)
				}
			}
			lo, hi := min((page-1)*per, len(sel)), min(page*per, len(sel))
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			json.NewEncoder(w).Encode(map[string]any{"total_count": len(sel), "artifacts": append([]map[string]any{}, sel[lo:hi]...)})
		case strings.HasPrefix(req.URL.Path, prefix+"/") && strings.HasSuffix(req.URL.Path, "/zip"):
			id := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, prefix+"/"), "/zip")
			http.Redirect(w, req, r.blob.URL+"/blob/"+id, http.StatusFound)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(func() { r.api.Close(); r.blob.Close() })
	return r
}

func (r *githubReplay) add(id int64, name, created string, expired bool, zip []byte) {
	r.arts = append(r.arts, map[string]any{
		"id": id, "node_id": "MDg6QXJ0aWZhY3Q" + strconv.FormatInt(id, 10), "name": name, "size_in_bytes": len(zip),
		"url":                  fmt.Sprintf("%s/repos/octo/builds/actions/artifacts/%d", r.api.URL, id),
		"archive_download_url": fmt.Sprintf("%s/repos/octo/builds/actions/artifacts/%d/zip", r.api.URL, id),
		"expired":              expired, "created_at": created, "updated_at": created, "expires_at": "2027-01-01T00:00:00Z",
		"workflow_run": map[string]any{"id": 1000 + id, "repository_id": 1, "head_repository_id": 1, "head_branch": "main", "head_sha": "0123abc"},
	})
	if zip != nil {
		r.zips[id] = zip
	}
}

// TestGitHubArtifacts (against a replay of GitHub's REST API, see
// githubReplay): the artifacts are paged through; of each name matching
// the pattern, the newest unexpired artifact is read, every package in its
// zip listed and fetched; the token reaches only the API host, never the
// blob host the download redirects to.
func TestGitHubArtifacts(t *testing.T) {
	r := newGitHubReplay(t, "ghs_secret")
	linuxOld := zipBytes(t, zipEntry{"clobber-1-0.1.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-1-0.1.0-h4616a5c_0.tar.bz2")})
	linuxNew := zipBytes(t,
		zipEntry{"clobber-1-0.2.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-1-0.2.0-h4616a5c_0.tar.bz2")},
		zipEntry{"clobber-2-0.2.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-2-0.2.0-h4616a5c_0.tar.bz2")})
	noarch := zipBytes(t, zipEntry{"dist/empty-0.1.0-h4616a5c_0.conda", readPkg(t, "empty-0.1.0-h4616a5c_0.conda")}, zipEntry{"build.log", []byte("ok")})
	r.add(5, "conda-linux-64", "2026-12-01T10:00:00Z", false, linuxOld)
	r.add(7, "conda-noarch", "2026-12-01T10:00:00Z", false, noarch)
	r.add(9, "conda-win-64", "2026-11-01T10:00:00Z", true, nil) // expired: gone
	for i := int64(10); i < 150; i++ {
		r.add(i, "test-logs-"+strconv.FormatInt(i, 10), "2026-12-02T10:00:00Z", false, nil)
	}
	r.add(150, "conda-linux-64", "2026-12-03T10:00:00Z", false, linuxNew) // on page 2: newer run

	cfg := &SourceConfig{Subdirs: []string{"noarch"}, MaxPackages: DefaultMaxPackages,
		GitHub: []GitHubArtifacts{{Repository: "octo/builds", Name: "conda-*", API: r.api.URL}}}
	s, err := NewSource("conda.gh", cfg, registry.Env{Getenv: func(k string) string {
		if k == "GITHUB_TOKEN" {
			return "ghs_secret"
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]providers.Artifact{}
	if err := s.List(context.Background(), func(a providers.Artifact) error { got[a.Key] = a; return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"noarch/clobber-1-0.2.0-h4616a5c_0.tar.bz2", "noarch/clobber-2-0.2.0-h4616a5c_0.tar.bz2", "noarch/empty-0.1.0-h4616a5c_0.conda"}
	if len(got) != len(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	for _, k := range want {
		a, ok := got[k]
		if !ok {
			t.Errorf("%s not listed", k)
			continue
		}
		rc, err := s.Fetch(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(b, readPkg(t, strings.TrimPrefix(k, "noarch/"))) {
			t.Errorf("%s: other bytes", k)
		}
	}
	if o := got["noarch/empty-0.1.0-h4616a5c_0.conda"].Origin; o != r.api.URL+"/repos/octo/builds/actions/artifacts/7/zip#dist/empty-0.1.0-h4616a5c_0.conda" {
		t.Errorf("origin %q", o)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.Join(r.pages, ",") != "1,2" {
		t.Errorf("pages asked %v, want 1,2", r.pages)
	}
	if len(r.leaked) > 0 || r.unauthed > 0 {
		t.Errorf("token sent to the blob host: %v; API requests without it: %d", r.leaked, r.unauthed)
	}
}

// An exact name is filtered by GitHub (name=); no match is an error.
func TestGitHubArtifactsNoMatch(t *testing.T) {
	r := newGitHubReplay(t, "tok")
	r.add(1, "other", "2026-12-01T10:00:00Z", false, nil)
	cfg := &SourceConfig{Subdirs: []string{"noarch"}, MaxPackages: DefaultMaxPackages,
		GitHub: []GitHubArtifacts{{Repository: "octo/builds", Name: "conda-packages", API: r.api.URL, Token: "tok"}}}
	_, _, err := listLoose(t, cfg)
	if err == nil || !strings.Contains(err.Error(), `no unexpired artifact named like "conda-packages"`) {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeGitHub(t *testing.T) {
	got, diags := decodeHCL(t, `
github_artifacts {
  repository = "octo/builds"
  name       = "conda-*"
  token      = "ghs_x"
}
github_artifacts {
  repository = "octo/other"
  api_url    = "https://ghe.example/api/v3/"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []GitHubArtifacts{
		{Repository: "octo/builds", Name: "conda-*", API: DefaultGitHubAPI, Token: "ghs_x"},
		{Repository: "octo/other", Name: "*", API: "https://ghe.example/api/v3"},
	}
	if fmt.Sprint(want) != fmt.Sprint(got.GitHub) {
		t.Errorf("got %+v, want %+v", got.GitHub, want)
	}
	for _, tt := range []struct{ src, summary string }{
		{"github_artifacts {\n  repository = \"not a repo\"\n}", "Invalid repository"},
		{"github_artifacts {\n  repository = \"o/r\"\n  name = \"[\"\n}", "Invalid name"},
		{"github_artifacts {\n  repository = \"o/r\"\n  api_url = \"ftp://x\"\n}", "Invalid api_url"},
		{"github_artifacts {\n}", "Missing required argument"},
	} {
		_, diags := decodeHCL(t, tt.src)
		if len(diags) != 1 || diags[0].Summary != tt.summary || diags[0].Subject == nil || diags[0].Subject.Start.Line < 1 {
			t.Errorf("%q: %v, want one %q with a range", tt.src, diags, tt.summary)
		}
	}
}

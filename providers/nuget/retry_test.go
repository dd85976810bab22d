package nuget_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/nuget"
	"github.com/ferry-mirror/ferry/providers/nuget/nugettest"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// flakyFeed is a proxy in front of Gitea whose documents name the proxy,
// and whose first push fails with 502: before Gitea saw it (lost), or
// after Gitea stored it (landed).
func flakyFeed(t *testing.T, gitea string, landed bool) (string, *atomic.Int64) {
	t.Helper()
	target, _ := url.Parse(gitea)
	var pushes atomic.Int64
	var srvURL string
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			b = bytes.ReplaceAll(b, []byte(gitea), []byte(srvURL))
			resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			resp.Header.Del("Content-Length")
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && pushes.Add(1) == 1 {
			if landed {
				rp.ServeHTTP(httptest.NewRecorder(), r)
			}
			http.Error(w, "upstream hiccup", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	return srv.URL, &pushes
}

// TestPushRetried: a push the feed answers 502 is sent again; when the
// first attempt had landed, the retry's 409 is adopted (same bytes).
func TestPushRetried(t *testing.T) {
	srv := testenv.StartGitea(t)
	for _, tt := range []struct {
		name   string
		landed bool
	}{
		{name: "first attempt lost"},
		{name: "first attempt landed", landed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, pushes := flakyFeed(t, srv.URL, tt.landed)
			owner := strings.ReplaceAll(tt.name, " ", "-")
			nugettest.CreateOrg(t, srv.URL, srv.Token, owner)
			d := providertest.NewDestination(t, `destination "nuget" "test" {
  service_index = "`+nugettest.GiteaIndex(base, owner)+`"
  api_key       = "`+srv.Token+`"
}`, t.TempDir(), env())
			b := nugettest.Package(t, "Ferry.Retry", "1.0.0", []byte(tt.name))
			key := nuget.Key("ferry.retry", "1.0.0")
			a := providers.Artifact{Key: key, Size: int64(len(b)), Digests: providers.NewDigests(providertest.SHA256(b))}
			if err := d.Put(t.Context(), a, bytes.NewReader(b), providers.PutOptions{}); err != nil {
				t.Fatalf("Put after a 502: %v", err)
			}
			if n := pushes.Load(); n != 2 {
				t.Errorf("%d pushes, want 2", n)
			}
			if got, err := d.Stat(t.Context(), key); err != nil || !got.Digests.Matches(a.Digests) {
				t.Errorf("Stat = %v, %v; want the pushed bytes", got, err)
			}
		})
	}
}

package npm_test

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// docRequest is one package document request as the registry saw it.
type docRequest struct {
	Path        string
	Conditional bool // sent If-None-Match
	Status      int
}

// recordingTransport records the package document requests (GETs that are
// not tarballs or feed requests) a source makes.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	docs []docRequest
}

func newRecordingTransport() *recordingTransport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return &recordingTransport{base: t}
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || strings.Contains(req.URL.Path, "/-/") || strings.HasSuffix(req.URL.Path, "/_changes") || req.URL.Path == "/" {
		return resp, err
	}
	rt.mu.Lock()
	rt.docs = append(rt.docs, docRequest{Path: req.URL.Path, Conditional: req.Header.Get("If-None-Match") != "", Status: resp.StatusCode})
	rt.mu.Unlock()
	return resp, err
}

// take returns the requests recorded since the last take, sorted by path.
func (rt *recordingTransport) take() []docRequest {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := rt.docs
	rt.docs = nil
	slices.SortFunc(out, func(a, b docRequest) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func cachingSource(t *testing.T, v *testenv.Verdaccio, rt http.RoundTripper, cacheDir string, cfg npm.SourceConfig) *npm.Source {
	t.Helper()
	if cfg.Registry.URL == "" {
		cfg.Registry.URL = v.URL
	}
	s, err := npm.NewSource("npm.up", &cfg, provreg.Env{
		HTTP:     httpx.New(httpx.Options{MaxRetries: 1, Transport: rt}),
		Getenv:   noEnv,
		CacheDir: func(string) string { return cacheDir },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPackumentCacheConditionalRequests: without a changes feed, each plan
// re-reads every selected document, but as a conditional request that a
// registry with ETags (Verdaccio) answers 304 while nothing changed.
func TestPackumentCacheConditionalRequests(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	up.Publish(t, testenv.NPMTarball(t, "alpha", "1.0.0", nil), "latest")
	up.Publish(t, testenv.NPMTarball(t, "@demo/beta", "1.0.0", nil), "latest")
	rt := newRecordingTransport()
	cache := t.TempDir()
	cfg := npm.SourceConfig{Packages: []string{"alpha", "@demo/beta"}}
	// Each listing is a new command: a new source over the same cache.
	listing := func() []string {
		return slices.Sorted(maps.Keys(list(t, cachingSource(t, up, rt, cache, cfg))))
	}

	want := []string{"@demo/beta/-/beta-1.0.0.tgz", "alpha/-/alpha-1.0.0.tgz"}
	if diff := cmp.Diff(want, listing()); diff != "" {
		t.Fatalf("first listing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]docRequest{{"/@demo/beta", false, 200}, {"/alpha", false, 200}}, rt.take()); diff != "" {
		t.Errorf("first listing's requests (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(want, listing()); diff != "" {
		t.Fatalf("second listing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]docRequest{{"/@demo/beta", true, 304}, {"/alpha", true, 304}}, rt.take()); diff != "" {
		t.Errorf("second listing's requests (-want +got):\n%s", diff)
	}

	up.Publish(t, testenv.NPMTarball(t, "alpha", "1.1.0", nil), "latest")
	want = []string{"@demo/beta/-/beta-1.0.0.tgz", "alpha/-/alpha-1.0.0.tgz", "alpha/-/alpha-1.1.0.tgz"}
	if diff := cmp.Diff(want, listing()); diff != "" {
		t.Fatalf("listing after a release (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]docRequest{{"/@demo/beta", true, 304}, {"/alpha", true, 200}}, rt.take()); diff != "" {
		t.Errorf("requests after a release (-want +got):\n%s", diff)
	}

	// A damaged cache entry is a miss: a plain request, never an error and
	// never a stale or corrupt document.
	files, _ := filepath.Glob(filepath.Join(cache, "*.doc"))
	if len(files) != 2 {
		t.Fatalf("cache files = %v, want 2", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-2] ^= 0x01
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, listing()); diff != "" {
		t.Fatalf("listing over a damaged cache (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]docRequest{{"/@demo/beta", false, 200}, {"/alpha", false, 200}}, rt.take()); diff != "" {
		t.Errorf("requests over a damaged cache (-want +got):\n%s", diff)
	}
}

func fc(seq uint64, id string) testenv.FeedChange { return testenv.FeedChange{Seq: seq, ID: id} }

// TestChangesFeed: with a feed, a plan requests only the documents of
// packages the feed says changed since the recorded position; the others
// come from the cache without a request. Both cursor semantics, paging,
// and every way the feed can fail (each falls back to re-validating).
func TestChangesFeed(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	for _, n := range []string{"a", "b", "c"} {
		up.Publish(t, testenv.NPMTarball(t, n, "1.0.0", nil), "latest")
	}
	// b's next release, published by the subtests in turn.
	releases := []string{"1.1.0", "1.2.0"}

	for i, format := range []npm.FeedFormat{npm.FeedNPM, npm.FeedCnpmcore} {
		t.Run(string(format), func(t *testing.T) {
			// The change at seq 100 is a's: a cnpmcore feed repeats the
			// entry at the cursor, which must not count as a change.
			feed := testenv.StartNPMFeed(t, string(format), []testenv.FeedChange{fc(98, "c"), fc(99, "b"), fc(100, "a")})
			feedURL := feed.URL
			rt := newRecordingTransport()
			cache := t.TempDir()
			cfg := npm.SourceConfig{Packages: []string{"a", "b", "c"}, Registry: npm.Registry{URL: up.URL, Changes: &npm.ChangesFeed{URL: feedURL, Format: format}}}
			plan := func(position string) (providers.FeedResult, []string) {
				t.Helper()
				var positions map[string]string
				if position != "" {
					positions = map[string]string{feedURL: position}
				}
				var keys []string
				res, err := cachingSource(t, up, rt, cache, cfg).ListFrom(t.Context(), positions, func(a providers.Artifact) error {
					keys = append(keys, a.Key)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(keys)
				return res, keys
			}
			check := func(step string, res providers.FeedResult, wantPosition string, wantWarning string, wantDocs []docRequest) {
				t.Helper()
				if diff := cmp.Diff(map[string]string{feedURL: wantPosition}, res.Positions); diff != "" {
					t.Errorf("%s: positions (-want +got):\n%s", step, diff)
				}
				switch {
				case wantWarning == "" && len(res.Warnings) > 0:
					t.Errorf("%s: warnings %q, want none", step, res.Warnings)
				case wantWarning != "" && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], wantWarning)):
					t.Errorf("%s: warnings %q, want one containing %q", step, res.Warnings, wantWarning)
				}
				if diff := cmp.Diff(wantDocs, rt.take()); diff != "" {
					t.Errorf("%s: document requests (-want +got):\n%s", step, diff)
				}
			}
			prev := "1.0.0"
			if i > 0 {
				prev = releases[i-1]
			}
			b := func(v string) []string {
				out := []string{"a/-/a-1.0.0.tgz", "b/-/b-1.0.0.tgz", "c/-/c-1.0.0.tgz"}
				for _, r := range releases {
					if r <= v {
						out = append(out, "b/-/b-"+r+".tgz")
					}
				}
				slices.Sort(out)
				return out
			}

			// First plan: no recorded position. Everything is read; the
			// feed's head (update_seq) is what to record.
			res, keys := plan("")
			check("first plan", res, "100", "", []docRequest{{"/a", false, 200}, {"/b", false, 200}, {"/c", false, 200}})
			if diff := cmp.Diff(b(prev), keys); diff != "" {
				t.Errorf("first plan keys (-want +got):\n%s", diff)
			}
			if got := feed.TakeRequests(); len(got) != 0 {
				t.Errorf("first plan read the feed from %v; it only needs the head", got)
			}

			// Nothing changed: no document is requested at all.
			res, keys = plan("100")
			check("unchanged", res, "100", "", nil)
			if diff := cmp.Diff(b(prev), keys); diff != "" {
				t.Errorf("unchanged plan keys (-want +got):\n%s", diff)
			}

			// b is released; the feed says so, among changes to packages
			// not selected. Only b is requested (conditionally: its ETag
			// is cached), and the listing has the release.
			up.Publish(t, testenv.NPMTarball(t, "b", releases[i], nil), "latest")
			feed.Add(fc(101, "unrelated"), fc(102, "b"), fc(103, "@other/thing"))
			res, keys = plan("100")
			check("after b's release", res, "103", "", []docRequest{{"/b", true, 200}})
			if diff := cmp.Diff(b(releases[i]), keys); diff != "" {
				t.Errorf("keys after b's release (-want +got):\n%s", diff)
			}

			// A scheduled plan that never applies keeps starting from the
			// old position: b is re-validated (304), a and c still trusted.
			res, _ = plan("100")
			check("plan again from the old position", res, "103", "", []docRequest{{"/b", true, 304}})

			// Paging: more changes than one page, b's at the very end.
			var many []testenv.FeedChange
			for s := uint64(104); s < 104+2500; s++ {
				many = append(many, fc(s, fmt.Sprintf("pkg-%d", s)))
			}
			if format == npm.FeedNPM {
				for s := uint64(2604); s < 2604+20000; s++ {
					many = append(many, fc(s, fmt.Sprintf("pkg-%d", s)))
				}
			}
			last := many[len(many)-1].Seq + 1
			many = append(many, fc(last, "c"))
			feed.Add(many...)
			feed.TakeRequests()
			res, _ = plan("103")
			check("paged", res, strconv.FormatUint(last, 10), "", []docRequest{{"/c", true, 304}})
			// 2,501 changes in 1,000s (cnpmcore; each page repeats the
			// entry at its cursor) or 22,501 in 10,000s (npm): 3 pages.
			const wantPages = 3
			if got := feed.TakeRequests(); len(got) != wantPages || got[0] != "103" {
				t.Errorf("paged plan read the feed from %v; want %d pages from 103", got, wantPages)
			}
			head := strconv.FormatUint(last, 10)

			// The recorded position is ahead of the feed (a rebuilt
			// registry): nothing is trusted, the head is recorded.
			res, _ = plan("999999")
			check("position ahead of the feed", res, head, "behind the recorded position 999999", []docRequest{{"/a", true, 304}, {"/b", true, 304}, {"/c", true, 304}})

			// The feed fails: every document is re-validated, and the
			// head (read before them) is still a safe position.
			feed.SetBroken(true)
			res, _ = plan(head)
			check("broken feed", res, head, "could not be read", []docRequest{{"/a", true, 304}, {"/b", true, 304}, {"/c", true, 304}})
			feed.SetBroken(false)

			// More changes than max_changes: re-validate rather than read
			// a feed months long.
			small := cfg
			small.Changes = &npm.ChangesFeed{URL: feedURL, Format: format, MaxChanges: 10}
			res, err := cachingSource(t, up, rt, cache, small).ListFrom(t.Context(), map[string]string{feedURL: "103"}, func(providers.Artifact) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			check("max_changes", res, head, "more than 10 changes", []docRequest{{"/a", true, 304}, {"/b", true, 304}, {"/c", true, 304}})
		})
	}
}

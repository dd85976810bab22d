package oci_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// listKeys runs ListStatKeys and returns the keys reported, sorted, failing
// the test on an error or on a reported digest (a tags list has none).
func listKeys(t *testing.T, s *oci.Store, keys []string) []string {
	t.Helper()
	var got []string
	err := s.ListStatKeys(t.Context(), keys, func(a providers.Artifact) error {
		if len(a.Digests) != 0 {
			t.Errorf("ListStatKeys reported digests for %s: %v", a.Key, a.Digests)
		}
		got = append(got, a.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("ListStatKeys: %v", err)
	}
	sort.Strings(got)
	return got
}

// deleteBehindBack deletes key's manifest with a plain registry request, as
// someone else would.
func deleteBehindBack(t *testing.T, reg *testenv.Registry, repo, key string) {
	t.Helper()
	_, dgst, status := rawManifest(t, reg, repo, oci.Tag(key))
	if status != http.StatusOK {
		t.Fatalf("manifest of %s: status %d", key, status)
	}
	req, _ := http.NewRequest(http.MethodDelete, reg.URL+"/v2/"+repo+"/manifests/"+dgst, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest of %s: %s", key, resp.Status)
	}
}

// pagingProxy serves reg through a proxy that pages tags lists as the
// distribution spec says (n, last, a Link header to the next page), which
// docker-registry 2.8 does not (it ignores n and answers every tag): the
// paging of distribution 3, Docker Hub, ECR or Harbor. Every page must be
// asked with n = wantN.
func pagingProxy(t *testing.T, reg *testenv.Registry, wantN int) *testenv.Registry {
	t.Helper()
	target, _ := url.Parse(reg.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") {
			rp.ServeHTTP(w, r)
			return
		}
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n != wantN {
			t.Errorf("tags list asked with n=%q, want %d", r.URL.Query().Get("n"), wantN)
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		resp, err := http.Get(reg.URL + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		var all struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		sort.Strings(all.Tags)
		last := r.URL.Query().Get("last")
		page := all.Tags[sort.SearchStrings(all.Tags, last):]
		if last != "" && len(page) > 0 && page[0] == last {
			page = page[1:]
		}
		if len(page) > n {
			page = page[:n]
			w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=%s>; rel="next"`, r.URL.Path, n, url.QueryEscape(page[n-1])))
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"name": all.Name, "tags": page})
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &testenv.Registry{Host: u.Host, URL: srv.URL}
}

// ListStatKeys proves absence from the tags list, following its pages
// (n = 3 over 8 tags: 3 pages), and reports present tags without digests
// so that Stat reads them. A tag deleted behind ferry's back is absent
// from the next listing: still drift.
func TestListStatKeys(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ct := &countingTransport{}
	repo := freshRepo()
	s := newStore(t, pagingProxy(t, reg, 3), oci.DestinationConfig{Repository: repo}, oci.Options{Transport: ct, TagListPageSize: 3})
	var present, absent []string
	for i := range 8 {
		key := fmt.Sprintf("pkg/%d.0/file-%d.bin", i, i)
		content := providertest.Content(uint64(i), 100+i)
		mustPut(t, s, artifact(key, content), content, providers.PutOptions{})
		present = append(present, key)
	}
	for i := range 4 {
		absent = append(absent, fmt.Sprintf("pkg/%d.0/never-%d.bin", i, i))
	}
	ct.take()

	got := listKeys(t, s, append(append([]string{}, absent...), present...))
	if diff := cmp.Diff(present, got); diff != "" {
		t.Errorf("reported keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"GET tags": 3}, ct.take()); diff != "" {
		t.Errorf("requests of one listing (-want +got):\n%s", diff)
	}

	deleteBehindBack(t, reg, repo, present[4])
	got = listKeys(t, s, present)
	want := append(append([]string{}, present[:4]...), present[5:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a tag was deleted behind ferry's back (-want +got):\n%s", diff)
	}
}

// What ListStatKeys leaves to Stat (reports without a request or despite
// its listing) and what it proves absent without one.
func TestListStatKeysLeavesToStat(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	refusing := func(req *http.Request) *http.Response {
		if !strings.HasSuffix(req.URL.Path, "/tags/list") {
			return nil
		}
		return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(`{"errors":[{"code":"DENIED","message":"listing denied"}]}`)), Request: req}
	}
	base := freshRepo()
	for _, tt := range []struct {
		name       string
		repository string
		refuse     bool
		put        []string
		keys       []string
		want       []string
		tagsLists  int
	}{
		{
			name:       "missing repository holds nothing",
			repository: base + "/never-pushed",
			keys:       []string{"a/1", "b/2"},
			tagsLists:  1,
		},
		{
			name:       "a repository's only key is stat'ed, not listed",
			repository: base + "/single",
			keys:       []string{"a/1"},
			want:       []string{"a/1"},
		},
		{
			name:       "invalid keys are stat'ed, for Stat's error",
			repository: base + "/invalid",
			keys:       []string{"", "a//b", "c/1", "d/2"},
			want:       []string{"", "a//b"},
			tagsLists:  1,
		},
		{
			name:       "a refused listing leaves every key to Stat",
			repository: base + "/refused",
			refuse:     true,
			put:        []string{"a/1"},
			keys:       []string{"a/1", "b/2", "c/3"},
			want:       []string{"a/1", "b/2", "c/3"},
			tagsLists:  1,
		},
		{
			name:       "a template lists each repository its keys name",
			repository: base + "/tmpl/{key.0}",
			put:        []string{"a/1", "a/2", "b/1"},
			// c: a missing repository; d: one key, not listed; e/1: the
			// template cannot place it.
			keys:      []string{"a/1", "a/2", "a/3", "b/1", "b/2", "c/1", "c/2", "d/1", "e"},
			want:      []string{"a/1", "a/2", "b/1", "d/1", "e"},
			tagsLists: 3,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct := &countingTransport{}
			s := newStore(t, reg, oci.DestinationConfig{Repository: tt.repository}, oci.Options{Transport: ct, TagListPageSize: 2})
			for i, key := range tt.put {
				content := providertest.Content(uint64(20+i), 10)
				mustPut(t, s, artifact(key, content), content, providers.PutOptions{})
			}
			if tt.refuse {
				ct.refuse = refusing
			}
			ct.take()
			got := listKeys(t, s, tt.keys)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reported keys (-want +got):\n%s", diff)
			}
			n := ct.take()
			if n["GET tags"] != tt.tagsLists || len(n) > 1 || (len(n) == 1 && tt.tagsLists == 0) {
				t.Errorf("requests %v, want %d tags list requests and nothing else", n, tt.tagsLists)
			}
		})
	}
}

// A destination whose tags list never ends (every page links to another,
// each with new tags) stops after the page bound, keeps only the tags asked
// about, and leaves its keys to Stat instead of running for ever.
func TestListStatKeysEndlessPagination(t *testing.T) {
	host, pages := tagPages(t, 1, 0, true)
	s, err := oci.NewDestinationWithOptions("oci.test", &oci.DestinationConfig{Registry: host, Repository: "app", PlainHTTP: true}, provreg.Env{}, oci.Options{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"1.1.0", "2.0.0"}
	if diff := cmp.Diff(keys, listKeys(t, s, keys)); diff != "" {
		t.Errorf("reported keys (-want +got):\n%s", diff)
	}
	if *pages != 10000 {
		t.Errorf("requested %d pages, want 10000", *pages)
	}
}

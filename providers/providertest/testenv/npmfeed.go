package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// FeedChange is one entry of a replayed npm changes feed.
type FeedChange struct {
	Seq uint64
	ID  string // the package name
}

// NPMFeed replays an npm changes feed the way npmjs (format "npm": GET
// /registry/_changes?since=&limit=, since exclusive, last_seq, refused
// without npm-replication-opt-in: true) or cnpmcore (format "cnpmcore":
// GET /_changes?since=, since inclusive, 1,000 a page, no last_seq) serve
// it, with update_seq at "/". No registry that runs here (Verdaccio) has a
// feed, so this replay stands in for one; its answers have the shapes
// those registries document (seq, id, changes[].rev or changes[].version,
// cnpmcore's type).
type NPMFeed struct {
	// URL is the feed itself (…/_changes).
	URL string

	format   string
	mu       sync.Mutex
	changes  []FeedChange // ascending seq
	broken   bool
	requests []string
}

// StartNPMFeed serves a feed of format "npm" or "cnpmcore" with history
// (ascending seq) on 127.0.0.1 until the test ends.
func StartNPMFeed(t testing.TB, format string, history []FeedChange) *NPMFeed {
	t.Helper()
	if format != "npm" && format != "cnpmcore" {
		t.Fatalf("testenv: npm feed format %q: want npm or cnpmcore", format)
	}
	f := &NPMFeed{format: format, changes: history}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL + f.path()
	return f
}

func (f *NPMFeed) path() string {
	if f.format == "npm" {
		return "/registry/_changes"
	}
	return "/_changes"
}

// Add appends changes (ascending seq, after the last one).
func (f *NPMFeed) Add(cs ...FeedChange) {
	f.mu.Lock()
	f.changes = append(f.changes, cs...)
	f.mu.Unlock()
}

// SetBroken makes feed requests (not "/") answer 500 while on.
func (f *NPMFeed) SetBroken(on bool) {
	f.mu.Lock()
	f.broken = on
	f.mu.Unlock()
}

// TakeRequests returns the since value of each feed request made since the
// last call.
func (f *NPMFeed) TakeRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.requests
	f.requests = nil
	return out
}

func (f *NPMFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	var updateSeq uint64
	if n := len(f.changes); n > 0 {
		updateSeq = f.changes[n-1].Seq
	}
	if f.format == "npm" && r.Header.Get("npm-replication-opt-in") != "true" {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":"forbidden","reason":"opt in with the npm-replication-opt-in header"}`)
		return
	}
	switch r.URL.Path {
	case "/":
		fmt.Fprintf(w, `{"db_name":"registry","doc_count":3500000,"update_seq":%d}`, updateSeq)
		return
	case f.path():
	default:
		http.NotFound(w, r)
		return
	}
	since := r.URL.Query().Get("since")
	f.requests = append(f.requests, since)
	if f.broken {
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	}
	from, err := strconv.ParseUint(since, 10, 64)
	if err != nil {
		http.Error(w, `{"error":"bad since"}`, http.StatusBadRequest)
		return
	}
	type result struct {
		Seq     uint64 `json:"seq"`
		Type    string `json:"type,omitempty"`
		ID      string `json:"id"`
		Changes []any  `json:"changes"`
	}
	var results []result
	if f.format == "npm" {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		for _, c := range f.changes {
			if c.Seq > from && (limit == 0 || len(results) < limit) {
				rev := fmt.Sprintf("%d-be3a014aab8e379ba28a28adb8e10142", c.Seq)
				results = append(results, result{Seq: c.Seq, ID: c.ID, Changes: []any{map[string]string{"rev": rev}}})
			}
		}
		last := from
		if len(results) > 0 {
			last = results[len(results)-1].Seq
		}
		json.NewEncoder(w).Encode(map[string]any{"results": results, "last_seq": last})
		return
	}
	for _, c := range f.changes {
		if c.Seq >= from && len(results) < 1000 {
			results = append(results, result{Seq: c.Seq, Type: "PACKAGE_VERSION_ADDED", ID: c.ID, Changes: []any{map[string]string{"version": "1.0.0"}}})
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"results": results})
}

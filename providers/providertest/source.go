package providertest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/providers"
)

// SourceHarness describes the source under test. Sources are read-only, so
// one seeded upstream serves every subtest; the suite puts a proxy of its
// own in front of it (one per subtest) to stall responses.
type SourceHarness struct {
	// Upstream is the base URL (scheme://host:port) of the seeded server
	// the source reads. Required.
	Upstream string
	// New returns the source under test, configured to reach Upstream
	// through base (the proxy's scheme://host:port, same paths). Build it
	// from an HCL block with NewSource. It must offer at least one
	// artifact. Required.
	New func(t *testing.T, base string) providers.Source
	// Secrets are the credentials New configures (a password, a token).
	// None may appear in an Artifact's Origin, Key, Name or Version (they
	// reach plans and state) or in an error message. Configure
	// some wherever the type supports them.
	Secrets []string
	// MissingKey is a well-formed key the source does not have. If empty,
	// "providertest/missing/1.0.0/missing.bin".
	MissingKey string
	// CopyTo returns a fresh destination for a source that is a
	// providers.Copier and fetches no bytes (Fetch fails with
	// ErrUnsupported): the suite copies into it instead of fetching. nil:
	// the subtests that fetch skip for such a source.
	CopyTo func(t *testing.T) providers.Destination
	// ManifestDigests, for a providers.Manifester, reads the digests a
	// package document declares; they must equal the artifact's.
	ManifestDigests func(manifest []byte) (providers.Digests, error)
}

// cancelWait bounds how long a cancelled List or Fetch may keep going;
// stallWait is how long the suite waits for one to reach the stalled
// upstream.
const (
	cancelWait = 10 * time.Second
	stallWait  = 5 * time.Second
)

// RunSource runs the source conformance suite as subtests of t: List
// reports each key once and only valid keys with secret-free origins;
// fetched bytes match the declared size and digests; a missing key is
// ErrNotFound; a package document agrees with its artifact; cancelling
// stops List and Fetch, before and in the middle of a response.
func RunSource(t *testing.T, h SourceHarness) {
	t.Helper()
	if h.New == nil || h.Upstream == "" {
		t.Fatal("providertest: SourceHarness.New and Upstream are required")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, SourceHarness)
	}{
		{"List", testSourceList},
		{"Fetch", testSourceFetch},
		{"FetchMissing", testSourceFetchMissing},
		{"Manifest", testSourceManifest},
		{"CancelledContext", testSourceCancelled},
		{"CancelMidList", testSourceCancelMidList},
		{"CancelMidFetch", testSourceCancelMidFetch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func (h SourceHarness) source(t *testing.T) (providers.Source, *stallProxy) {
	t.Helper()
	p := newStallProxy(t, h.Upstream)
	return h.New(t, p.URL), p
}

// list returns what s lists, failing t on an error.
func list(t *testing.T, s providers.Source) []providers.Artifact {
	t.Helper()
	var got []providers.Artifact
	if err := s.List(t.Context(), func(a providers.Artifact) error { got = append(got, a); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) == 0 {
		t.Fatal("List reported no artifact; seed the upstream so the suite has something to check")
	}
	return got
}

// checkSecretFree fails if what contains a configured secret.
func (h SourceHarness) checkSecretFree(t *testing.T, where, what string) {
	t.Helper()
	for _, s := range h.Secrets {
		if s != "" && strings.Contains(what, s) {
			t.Errorf("%s contains a configured secret: %s", where, what)
		}
	}
}

func testSourceList(t *testing.T, h SourceHarness) {
	s, _ := h.source(t)
	seen := map[string]bool{}
	for _, a := range list(t, s) {
		if seen[a.Key] {
			t.Errorf("List reported %q twice", a.Key)
		}
		seen[a.Key] = true
		if err := providers.CheckKey(a.Key); err != nil {
			t.Errorf("List reported an invalid key: %v", err)
		}
		if a.Size < -1 {
			t.Errorf("List reported %q with size %d (want >= 0, or -1 for unknown)", a.Key, a.Size)
		}
		for _, d := range a.Digests {
			if err := d.Validate(); err != nil {
				t.Errorf("List reported %q with an invalid digest: %v", a.Key, err)
			}
		}
		h.checkSecretFree(t, "Origin of "+a.Key, a.Origin)
		h.checkSecretFree(t, "an artifact's key, name or version", a.Key+" "+a.Name+" "+a.Version)
		if u, err := url.Parse(a.Origin); err == nil && u.User != nil {
			if _, set := u.User.Password(); set {
				t.Errorf("Origin of %q carries a password: %s", a.Key, a.Origin)
			}
		}
	}
}

// errNoFetch: the source fetches no bytes and the harness gives no
// destination to copy to.
var errNoFetch = errors.New("providertest: Fetch is unsupported and SourceHarness.CopyTo is nil")

// copyDest is a fresh h.CopyTo destination when s is a Copier, else nil.
func (h SourceHarness) copyDest(t *testing.T, s providers.Source) providers.Destination {
	if _, ok := s.(providers.Copier); ok && h.CopyTo != nil {
		return h.CopyTo(t)
	}
	return nil
}

// fetch reads the whole content of a (or, for a source that fetches no
// bytes, copies it to dst, from copyDest) and returns the size and digests
// of what it got.
func fetch(ctx context.Context, s providers.Source, a providers.Artifact, dst providers.Destination) (providers.Artifact, error) {
	rc, err := s.Fetch(ctx, a)
	if errors.Is(err, providers.ErrUnsupported) {
		c, ok := s.(providers.Copier)
		if !ok || dst == nil {
			return providers.Artifact{}, fmt.Errorf("%w: %w", errNoFetch, err)
		}
		return c.CopyTo(ctx, a, dst)
	}
	if err != nil {
		return providers.Artifact{}, err
	}
	defer rc.Close()
	hashes := map[providers.Algorithm]hash.Hash{}
	ws := []io.Writer{io.Discard}
	for _, d := range a.Digests {
		hashes[d.Algorithm] = d.Algorithm.New()
		ws = append(ws, hashes[d.Algorithm])
	}
	n, err := io.Copy(io.MultiWriter(ws...), rc)
	if err != nil {
		return providers.Artifact{}, err
	}
	got := providers.Artifact{Key: a.Key, Size: n}
	for alg, w := range hashes {
		got.Digests = got.Digests.With(providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(w.Sum(nil))})
	}
	return got, nil
}

// skipNoFetch skips t when err says the source cannot be fetched from.
func skipNoFetch(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, errNoFetch) {
		t.Skip(err)
	}
}

func testSourceFetch(t *testing.T, h SourceHarness) {
	s, _ := h.source(t)
	for _, a := range list(t, s) {
		got, err := fetch(t.Context(), s, a, h.copyDest(t, s))
		skipNoFetch(t, err)
		if err != nil {
			t.Errorf("fetching %q: %v", a.Key, err)
			h.checkSecretFree(t, "the fetch error", err.Error())
			continue
		}
		if _, copied := s.(providers.Copier); copied && got.Size >= 0 && a.Size < 0 {
			// A graph copy returns the root manifest's size; the listing
			// did not know it.
			got.Size = -1
		}
		if a.Size >= 0 && got.Size != a.Size {
			t.Errorf("fetched %d bytes of %q, List declared %d", got.Size, a.Key, a.Size)
		}
		for _, want := range a.Digests {
			if d, ok := got.Digests.Get(want.Algorithm); !ok || d != want {
				t.Errorf("fetched %q: %s = %v, List declared %v", a.Key, want.Algorithm, d, want)
			}
		}
	}
}

func (h SourceHarness) missing(t *testing.T, s providers.Source) providers.Artifact {
	a := list(t, s)[0]
	a.Key = h.MissingKey
	if a.Key == "" {
		a.Key = "providertest/missing/1.0.0/missing.bin"
	}
	if _, ok := s.(providers.Copier); ok {
		// A graph is copied by the digest the plan saw.
		a.Digests = providers.NewDigests(SHA256([]byte("providertest: no such manifest")))
	}
	return a
}

func testSourceFetchMissing(t *testing.T, h SourceHarness) {
	s, _ := h.source(t)
	a := h.missing(t, s)
	_, err := fetch(t.Context(), s, a, h.copyDest(t, s))
	skipNoFetch(t, err)
	if !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("fetching the missing key %q: error = %v, want one wrapping ErrNotFound", a.Key, err)
	}
	h.checkSecretFree(t, "the not-found error", err.Error())
}

func testSourceManifest(t *testing.T, h SourceHarness) {
	s, _ := h.source(t)
	m, ok := s.(providers.Manifester)
	if !ok {
		t.Skip("source does not implement providers.Manifester")
	}
	for _, a := range list(t, s) {
		doc, err := m.Manifest(t.Context(), a)
		if err != nil {
			t.Errorf("Manifest(%q): %v", a.Key, err)
			continue
		}
		if h.ManifestDigests == nil {
			continue
		}
		ds, err := h.ManifestDigests(doc)
		if err != nil {
			t.Errorf("Manifest(%q): reading its digests: %v", a.Key, err)
		} else if !ds.Equal(a.Digests) {
			t.Errorf("Manifest(%q) declares %v, List reported %v", a.Key, ds, a.Digests)
		}
	}
	if _, err := m.Manifest(t.Context(), h.missing(t, s)); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Manifest of a missing key: error = %v, want one wrapping ErrNotFound", err)
	}
}

// checkCancelled fails unless err is a cancellation error.
func checkCancelled(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded although its context was cancelled", what)
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("%s error = %v, want one wrapping context.Canceled", what, err)
	}
}

func testSourceCancelled(t *testing.T, h SourceHarness) {
	s, _ := h.source(t)
	a := list(t, s)[0]
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// A fresh source: nothing listed or cached yet.
	s2, _ := h.source(t)
	checkCancelled(t, "List", s2.List(ctx, func(providers.Artifact) error { return nil }))
	_, err := fetch(ctx, s, a, h.copyDest(t, s))
	skipNoFetch(t, err)
	checkCancelled(t, "Fetch", err)
}

// within runs fn and cancels its context once the proxy holds one of its
// requests (or after stallWait, if it never does): returned is false when
// fn is still running cancelWait after the cancel.
func within(t *testing.T, p *stallProxy, fn func(ctx context.Context) error) (returned bool, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(stallWait)
wait:
	for p.stalled.Load() == 0 {
		select {
		case err := <-done:
			return true, err
		case <-deadline:
			break wait
		case <-tick.C:
		}
	}
	cancel()
	select {
	case err := <-done:
		return true, err
	case <-time.After(cancelWait):
		return false, nil
	}
}

func testSourceCancelMidList(t *testing.T, h SourceHarness) {
	s, p := h.source(t)
	p.mode.Store(stallHeaders)
	ok, err := within(t, p, func(ctx context.Context) error {
		return s.List(ctx, func(providers.Artifact) error { return nil })
	})
	if !ok {
		t.Fatalf("List still running %v after its context was cancelled", cancelWait)
	}
	if p.stalled.Load() == 0 {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		return // it lists without asking the upstream; nothing to interrupt
	}
	checkCancelled(t, "List waiting for the upstream", err)
	h.checkSecretFree(t, "the List error", err.Error())
}

func testSourceCancelMidFetch(t *testing.T, h SourceHarness) {
	s, p := h.source(t)
	a := list(t, s)[0]
	dst := h.copyDest(t, s)
	p.mode.Store(stallBody)
	ok, err := within(t, p, func(ctx context.Context) error {
		_, err := fetch(ctx, s, a, dst)
		return err
	})
	if !ok {
		t.Fatalf("Fetch of %q still running %v after its context was cancelled", a.Key, cancelWait)
	}
	skipNoFetch(t, err)
	if p.stalled.Load() == 0 {
		t.Fatalf("Fetch of %q did not read from the upstream (err = %v); configure the source to fetch through base", a.Key, err)
	}
	checkCancelled(t, "Fetch stalled mid-response", err)
	if err != nil {
		h.checkSecretFree(t, "the Fetch error", err.Error())
	}
}

// Modes of a stallProxy.
const (
	passThrough  int32 = iota
	stallHeaders       // hold every request without answering
	stallBody          // send the headers and half the body, then hold
)

// stallProxy is a reverse proxy in front of the upstream that can hold
// requests until the client gives up, like a server that stops answering.
type stallProxy struct {
	URL     string
	mode    atomic.Int32
	stalled atomic.Int64 // requests held
	release chan struct{}
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("providertest: Upstream %q: %v", upstream, err)
	}
	p := &stallProxy{release: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // servers that build URLs from Host point back here
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p.mode.Load() {
		case stallHeaders:
			p.hold(r)
			return
		case stallBody:
			w = &stallWriter{ResponseWriter: w, p: p, r: r}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(p.release) }) // runs first: no held request outlives the test
	p.URL = srv.URL
	return p
}

func (p *stallProxy) hold(r *http.Request) {
	p.stalled.Add(1)
	select {
	case <-r.Context().Done():
	case <-p.release:
	}
}

// stallWriter passes the headers and half the body through, then holds
// until the client gives up.
type stallWriter struct {
	http.ResponseWriter
	p    *stallProxy
	r    *http.Request
	left int64 // body bytes still passed through
}

var errStalled = errors.New("providertest: response stalled")

func (w *stallWriter) WriteHeader(code int) {
	w.left = 0
	if n, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil {
		w.left = n / 2
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *stallWriter) Write(b []byte) (int, error) {
	if w.left < 0 {
		return 0, errStalled
	}
	n := 0
	if w.left > 0 {
		n, _ = w.ResponseWriter.Write(b[:min(int64(len(b)), w.left)])
		w.left -= int64(n)
		if n == len(b) && w.left > 0 {
			return n, nil
		}
	}
	w.left = -1
	_ = http.NewResponseController(w.ResponseWriter).Flush()
	w.p.hold(w.r)
	return n, errStalled
}

// Flush lets the reverse proxy flush through the wrapper.
func (w *stallWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

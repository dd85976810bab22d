// Package providertest holds the conformance suites every provider runs.
// Run(t, Harness{New: …}) checks a destination against the contracts
// documented in package providers (verification before visibility, nothing
// partial, sentinel errors, cancellation, concurrency) on a fresh, empty
// destination per subtest; RunSource(t, SourceHarness{…}) checks a source
// (source.go). Providers backed by a server run them against a real one,
// built from an HCL block through the registry (NewSource, NewDestination).
package providertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
)

// Harness describes the destination under test.
type Harness struct {
	// New returns a fresh, empty destination. It is called once per
	// subtest; use t.Cleanup for teardown. Required.
	New func(t *testing.T) providers.Destination
	// Key returns the i-th key the suite may store, distinct for distinct i.
	// If nil, keys look like "providertest/pkg-3/1.0.0/object-3.bin" (nested
	// directories, the common case).
	Key func(i int) string
	// Manifest, for a destination that stores an artifact only with its
	// package document (a providers.ManifestPutter, such as npm), returns
	// the document a source would give for artifact a holding content; the
	// suite then stores with PutWithManifest, gives every artifact the
	// sha256, sha512 and sha1 digests (package documents declare some of
	// those), and accepts a Stat that reports the document's digests and
	// size -1. nil: the suite calls Put.
	Manifest func(a providers.Artifact, content []byte) []byte
	// Content, for a destination that stores only packages it can parse
	// (a registry that indexes uploads itself, such as Gitea's conda
	// registry), returns the package to store under key: distinct for
	// distinct seeds, about n bytes. The suite then skips PutEmpty (no
	// package is empty). nil: Content(seed, n), any bytes.
	Content func(t testing.TB, key string, seed uint64, n int) []byte
}

// content is what the suite stores under key.
func (h Harness) content(t testing.TB, key string, seed uint64, n int) []byte {
	if h.Content != nil {
		return h.Content(t, key, seed, n)
	}
	return Content(seed, n)
}

func (h Harness) key(i int) string {
	if h.Key != nil {
		return h.Key(i)
	}
	return fmt.Sprintf("providertest/pkg-%d/1.0.0/object-%d.bin", i, i)
}

// artifact describes content stored under key, with its true size and
// digests.
func (h Harness) artifact(key string, content []byte) providers.Artifact {
	a := artifact(key, content)
	if h.Manifest != nil {
		for _, alg := range []providers.Algorithm{providers.SHA512, providers.SHA1} {
			w := alg.New()
			w.Write(content)
			a.Digests = a.Digests.With(providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(w.Sum(nil))})
		}
	}
	return a
}

// put stores what r yields as a, the artifact meant to hold content: with
// Put, or with PutWithManifest and content's package document.
func (h Harness) put(ctx context.Context, d providers.Destination, a providers.Artifact, content []byte, r io.Reader, opts providers.PutOptions) error {
	if h.Manifest == nil {
		return d.Put(ctx, a, r, opts)
	}
	mp, ok := d.(providers.ManifestPutter)
	if !ok {
		return fmt.Errorf("providertest: Harness.Manifest is set but %T is not a providers.ManifestPutter", d)
	}
	return mp.PutWithManifest(ctx, a, h.Manifest(a, content), r, opts)
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("providertest: Harness.New is required")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"StatNotFound", testStatNotFound},
		{"PutThenStat", testPutThenStat},
		{"PutEmpty", testPutEmpty},
		{"PutUnknownSize", testPutUnknownSize},
		{"PutWrongDigest", testPutWrongDigest},
		{"PutWrongSize", testPutWrongSize},
		{"PutExistingWithoutOverwrite", testPutExisting},
		{"PutExistingWithOverwrite", testPutOverwrite},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"CancelMidStream", testCancelMidStream},
		{"List", testList},
		{"ListStatKeys", testListStatKeys},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// Content returns n deterministic pseudo-random bytes derived from seed.
func Content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// SHA256 returns the sha256 digest of b.
func SHA256(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

// artifact describes content stored under key, with its true size and digest.
func artifact(key string, content []byte) providers.Artifact {
	return providers.Artifact{Key: key, Size: int64(len(content)), Digests: providers.NewDigests(SHA256(content))}
}

func (h Harness) mustPut(t *testing.T, d providers.Destination, a providers.Artifact, content []byte, opts providers.PutOptions) {
	t.Helper()
	if err := h.put(t.Context(), d, a, content, bytes.NewReader(content), opts); err != nil {
		t.Fatalf("Put(%q): %v", a.Key, err)
	}
}

// checkStored fails unless key holds exactly content: Stat reports its
// size and sha256 (a manifest publisher: the digests its package document
// declares, size -1 allowed), and no digest of other bytes.
func (h Harness) checkStored(t *testing.T, d providers.Destination, key string, content []byte) {
	t.Helper()
	got, err := d.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if got.Size != int64(len(content)) && (h.Manifest == nil || got.Size != -1) {
		t.Errorf("Stat(%q).Size = %d, want %d", key, got.Size, len(content))
	}
	want := h.artifact(key, content).Digests
	if h.Manifest == nil {
		want = providers.NewDigests(SHA256(content))
	}
	if !got.Digests.Matches(want) {
		t.Errorf("Stat(%q) digests = %v, want %v", key, got.Digests, want)
	}
	if _, ok := got.Digests.Get(providers.SHA256); !ok && h.Manifest == nil {
		t.Errorf("Stat(%q) reports no sha256 (digests %v)", key, got.Digests)
	}
	if _, ok := d.(providers.Fetcher); got.Claimed && !ok {
		// apply.Adopt reads a claimed object back: without a Fetcher
		// nothing the destination holds could ever be adopted.
		t.Errorf("Stat(%q) reports claimed digests, but the destination is no providers.Fetcher to read them back", key)
	}
}

// checkAbsent fails unless Stat reports key as not found.
func checkAbsent(t *testing.T, d providers.Destination, key string) {
	t.Helper()
	a, err := d.Stat(t.Context(), key)
	if err == nil {
		t.Fatalf("Stat(%q) found an object (size %d), want none", key, a.Size)
	}
	if !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Stat(%q) error = %v, want one wrapping ErrNotFound", key, err)
	}
}

func testStatNotFound(t *testing.T, h Harness) {
	d := h.New(t)
	checkAbsent(t, d, h.key(0))
}

func testPutThenStat(t *testing.T, h Harness) {
	d := h.New(t)
	content := h.content(t, h.key(1), 1, 300<<10+17) // several buffers, odd length
	h.mustPut(t, d, h.artifact(h.key(1), content), content, providers.PutOptions{})
	h.checkStored(t, d, h.key(1), content)
}

func testPutEmpty(t *testing.T, h Harness) {
	if h.Manifest != nil || h.Content != nil {
		t.Skip("a package is never empty (registries such as Verdaccio refuse zero-length files)")
	}
	d := h.New(t)
	h.mustPut(t, d, h.artifact(h.key(1), nil), nil, providers.PutOptions{})
	h.checkStored(t, d, h.key(1), nil)
}

func testPutUnknownSize(t *testing.T, h Harness) {
	d := h.New(t)
	content := h.content(t, h.key(1), 2, 10_000)
	a := h.artifact(h.key(1), content)
	a.Size = -1
	h.mustPut(t, d, a, content, providers.PutOptions{})
	h.checkStored(t, d, h.key(1), content)
}

func testPutWrongDigest(t *testing.T, h Harness) {
	d := h.New(t)
	content := h.content(t, h.key(1), 3, 50_000)
	a := h.artifact(h.key(1), content)
	a.Digests = h.artifact(h.key(1), []byte("other content")).Digests
	err := h.put(t.Context(), d, a, content, bytes.NewReader(content), providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("Put with a wrong sha256: error = %v, want one wrapping ErrDigestMismatch", err)
	}
	checkAbsent(t, d, h.key(1))
}

func testPutWrongSize(t *testing.T, h Harness) {
	content := h.content(t, h.key(1), 4, 50_000)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"short body", content[:len(content)-1]},
		{"long body", append(append([]byte{}, content...), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := h.New(t)
			a := h.artifact(h.key(1), content)
			a.Digests = nil // only the size can catch it
			err := h.put(t.Context(), d, a, content, bytes.NewReader(tc.body), providers.PutOptions{})
			if !errors.Is(err, providers.ErrSizeMismatch) {
				t.Fatalf("Put of a %s: error = %v, want one wrapping ErrSizeMismatch", tc.name, err)
			}
			checkAbsent(t, d, h.key(1))
		})
	}
}

func testPutExisting(t *testing.T, h Harness) {
	d := h.New(t)
	old, next := h.content(t, h.key(1), 5, 1000), h.content(t, h.key(1), 6, 2000)
	h.mustPut(t, d, h.artifact(h.key(1), old), old, providers.PutOptions{})
	err := h.put(t.Context(), d, h.artifact(h.key(1), next), next, bytes.NewReader(next), providers.PutOptions{})
	if !errors.Is(err, providers.ErrAlreadyExists) {
		t.Fatalf("Put over an existing key: error = %v, want one wrapping ErrAlreadyExists", err)
	}
	h.checkStored(t, d, h.key(1), old)
}

func testPutOverwrite(t *testing.T, h Harness) {
	d := h.New(t)
	old, next := h.content(t, h.key(1), 7, 1000), h.content(t, h.key(1), 8, 2000)
	h.mustPut(t, d, h.artifact(h.key(1), old), old, providers.PutOptions{})
	err := h.put(t.Context(), d, h.artifact(h.key(1), next), next, bytes.NewReader(next), providers.PutOptions{Overwrite: true})
	if errors.Is(err, providers.ErrUnsupported) && (h.Manifest != nil || h.Content != nil) {
		// Package registries do not replace a published version.
		h.checkStored(t, d, h.key(1), old)
		t.Skipf("the destination does not overwrite: %v", err)
	}
	if err != nil {
		t.Fatalf("Put(%q) with Overwrite: %v", h.key(1), err)
	}
	h.checkStored(t, d, h.key(1), next)

	// A failed overwrite leaves the previous object intact.
	bad := h.artifact(h.key(1), old)
	bad.Digests = h.artifact(h.key(1), []byte("nope")).Digests
	if err := h.put(t.Context(), d, bad, old, bytes.NewReader(old), providers.PutOptions{Overwrite: true}); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("failed overwrite: error = %v, want ErrDigestMismatch", err)
	}
	h.checkStored(t, d, h.key(1), next)
}

func testDelete(t *testing.T, h Harness) {
	d := h.New(t)
	a, b := h.content(t, h.key(1), 9, 100), h.content(t, h.key(2), 10, 100)
	h.mustPut(t, d, h.artifact(h.key(1), a), a, providers.PutOptions{})
	h.mustPut(t, d, h.artifact(h.key(2), b), b, providers.PutOptions{})
	if err := d.Delete(t.Context(), h.key(1)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, d, h.key(1))
	h.checkStored(t, d, h.key(2), b)
	// The key can be used again.
	again := h.content(t, h.key(1), 10, 100)
	h.mustPut(t, d, h.artifact(h.key(1), again), again, providers.PutOptions{})
	h.checkStored(t, d, h.key(1), again)
}

func testDeleteMissing(t *testing.T, h Harness) {
	d := h.New(t)
	if err := d.Delete(t.Context(), h.key(1)); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Delete of a missing key: error = %v, want one wrapping ErrNotFound", err)
	}
	c := h.content(t, h.key(1), 11, 10)
	h.mustPut(t, d, h.artifact(h.key(1), c), c, providers.PutOptions{})
	if err := d.Delete(t.Context(), h.key(1)); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(t.Context(), h.key(1)); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("second Delete: error = %v, want one wrapping ErrNotFound", err)
	}
}

// cancellingReader cancels its context once after bytes have been read.
// Then it either keeps producing data (a source that ignores the context)
// or blocks until the context is done and fails with its error (a network
// body tied to the context).
type cancellingReader struct {
	r      io.Reader
	after  int
	n      int
	cancel context.CancelFunc
	ctx    context.Context
	block  bool
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n >= c.after {
		c.cancel()
		if c.block {
			<-c.ctx.Done()
			return 0, c.ctx.Err()
		}
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func testCancelMidStream(t *testing.T, h Harness) {
	for _, block := range []bool{false, true} {
		name := "source keeps going"
		if block {
			name = "source fails with the context"
		}
		t.Run(name, func(t *testing.T) {
			d := h.New(t)
			content := h.content(t, h.key(1), 12, 1<<20)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := &cancellingReader{r: bytes.NewReader(content), after: 64 << 10, cancel: cancel, ctx: ctx, block: block}
			err := h.put(ctx, d, h.artifact(h.key(1), content), content, r, providers.PutOptions{})
			if err == nil {
				t.Fatal("Put succeeded although its context was cancelled mid-stream")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put error = %v, want one wrapping context.Canceled", err)
			}
			checkAbsent(t, d, h.key(1))
		})
	}
}

func testList(t *testing.T, h Harness) {
	d := h.New(t)
	l, ok := d.(providers.Lister)
	if !ok {
		t.Skip("destination does not implement providers.Lister")
	}
	want := map[string]int64{}
	for i := 1; i <= 3; i++ {
		c := h.content(t, h.key(i), uint64(20+i), 100*i)
		h.mustPut(t, d, h.artifact(h.key(i), c), c, providers.PutOptions{})
		want[h.key(i)] = int64(len(c))
	}
	got := map[string]int64{}
	if err := l.List(t.Context(), func(a providers.Artifact) error {
		if _, dup := got[a.Key]; dup {
			t.Errorf("List reported %q twice", a.Key)
		}
		got[a.Key] = a.Size
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	for k, size := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("List is missing %q", k)
		} else if g != size && g != -1 {
			t.Errorf("List reports %q with size %d, want %d (or -1)", k, g, size)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err := l.List(t.Context(), func(providers.Artifact) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback: %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// testListStatKeys holds a providers.KeyListStater to its contract: every
// key asked about that the destination holds is reported, a key reported
// with a sha256 holds those bytes, a key not asked about is never
// reported, and a key reported without digests is only one Stat must
// decide. A key deleted is not reported with digests.
func testListStatKeys(t *testing.T, h Harness) {
	d := h.New(t)
	kl, ok := d.(providers.KeyListStater)
	if !ok {
		t.Skip("destination does not implement providers.KeyListStater")
	}
	contents := map[string][]byte{}
	for i := 1; i <= 3; i++ {
		c := h.content(t, h.key(i), uint64(30+i), 100*i)
		h.mustPut(t, d, h.artifact(h.key(i), c), c, providers.PutOptions{})
		contents[h.key(i)] = c
	}
	if err := d.Delete(t.Context(), h.key(2)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	delete(contents, h.key(2))
	keys := []string{h.key(1), h.key(2), h.key(3), h.key(4)}
	got := map[string]providers.Artifact{}
	if err := kl.ListStatKeys(t.Context(), keys, func(a providers.Artifact) error {
		if _, dup := got[a.Key]; dup {
			t.Errorf("ListStatKeys reported %q twice", a.Key)
		}
		got[a.Key] = a
		return nil
	}); err != nil {
		t.Fatalf("ListStatKeys: %v", err)
	}
	for key, a := range got {
		if !slices.Contains(keys, key) {
			t.Errorf("ListStatKeys reported %q, which it was not asked about", key)
			continue
		}
		d, ok := a.Digests.Get(providers.SHA256)
		c, held := contents[key]
		switch {
		case ok && !held:
			t.Errorf("ListStatKeys reported %q (absent) with sha256 %s", key, d.Hex)
		case ok && d != SHA256(c):
			t.Errorf("ListStatKeys reported %q with sha256 %s, want %s", key, d.Hex, SHA256(c).Hex)
		}
	}
	for key := range contents {
		if _, ok := got[key]; !ok {
			t.Errorf("ListStatKeys did not report %q, which the destination holds", key)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err := kl.ListStatKeys(t.Context(), keys, func(providers.Artifact) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListStatKeys with a failing callback: %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testConcurrentPuts(t *testing.T, h Harness) {
	d := h.New(t)
	const n = 16
	contents := make([][]byte, n)
	for i := range contents {
		contents[i] = h.content(t, h.key(100+i), uint64(100+i), 20_000+i)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := h.put(t.Context(), d, h.artifact(h.key(100+i), contents[i]), contents[i], bytes.NewReader(contents[i]), providers.PutOptions{}); err != nil {
				t.Errorf("concurrent Put(%q): %v", h.key(100+i), err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		h.checkStored(t, d, h.key(100+i), contents[i])
	}
}

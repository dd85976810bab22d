package apply_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// endless serves a body without a length that never ends, as far as the
// client can tell: the test stops it after capBytes, a bound the client
// should never come near. It records whether the client hung up first.
type endless struct {
	capBytes int64
	written  atomic.Int64
	cutOff   atomic.Bool
}

func (e *endless) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		return // no Content-Length: the size stays unknown
	}
	chunk := make([]byte, 32<<10)
	for e.written.Load() < e.capBytes {
		n, err := w.Write(chunk)
		e.written.Add(int64(n))
		if err != nil {
			e.cutOff.Store(true)
			return
		}
	}
}

type oneWorld struct {
	src providers.Source
	dst providers.Destination
}

func (w oneWorld) Source(string) (providers.Source, error)           { return w.src, nil }
func (w oneWorld) Destination(string) (providers.Destination, error) { return w.dst, nil }

// An artifact whose source declares no size is bounded while it streams: by
// the size its upstream reported while planning (the HEAD size hint in the
// change) and otherwise by max_artifact_size. An endless body fails the
// change with ErrTooLarge, the client hangs up, and nothing lands or is
// recorded.
func TestEndlessBodyIsBounded(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name     string
		hint     int64 // the change's After.Size: -1 unknown, else a HEAD size
		max      int64 // Options.MaxArtifactSize
		wantText string
	}{
		{name: "no size anywhere", hint: -1, max: limit, wantText: "is larger than max_artifact_size 1.0 MiB (1048576 bytes) (its size is unknown upstream)"},
		{name: "size from HEAD", hint: 4096, max: 1 << 40, wantText: "is larger than the 4.0 KiB (4096 bytes) its upstream reported when planned"},
		{name: "HEAD size above the maximum", hint: 1 << 40, max: limit, wantText: "is larger than max_artifact_size 1.0 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &endless{capBytes: limit + 64<<20}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			root := t.TempDir()
			src := must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: []httpsrc.ArtifactConfig{
				{Name: "big", URL: ts.URL + "/big", DisplayURL: ts.URL + "/big", Key: "k/big", Size: -1},
			}}, registry.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1})}))
			dst := must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: root}, registry.Env{}))
			mgr, st, _ := openState(t)

			c := addChange("big", sha([]byte("whatever the upstream declares")))
			c.After.Size = tt.hint
			res, err := apply.Apply(context.Background(), &plan.Plan{Changes: []plan.Change{c}}, st, mgr,
				oneWorld{src: src, dst: dst}, apply.Options{MaxArtifactSize: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, apply.ErrTooLarge) {
				t.Fatalf("failures %v; want the change failed with ErrTooLarge", res.Failed)
			}
			if msg := res.Failed[0].Err.Error(); !strings.Contains(msg, "artifact k/big "+tt.wantText) {
				t.Errorf("error = %q; want it to say %q", msg, tt.wantText)
			}
			ts.Close() // waits for the handler
			if !srv.cutOff.Load() {
				t.Errorf("the client read all %d bytes the test server sends before it stops", srv.written.Load())
			}
			if m := st.Mirror("m"); m != nil && len(m.Artifacts) != 0 {
				t.Errorf("state records %v", m.Artifacts)
			}
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("left at the destination: %s", p)
				}
				return nil
			})
		})
	}
}

// A declared size is enforced exactly by the verifying reader, never
// replaced by the maximum: an artifact may be larger than
// max_artifact_size when its size is declared.
func TestDeclaredSizeIsNotBoundedByTheMaximum(t *testing.T) {
	body := []byte(strings.Repeat("x", 4096))
	c := addChange("f", sha(body))
	c.After.Size, c.SizeDeclared = int64(len(body)), true
	vr := apply.NewVerifyingReader(c, strings.NewReader(string(body)), 1024)
	buf := make([]byte, 8192)
	n := 0
	for {
		m, err := vr.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	if !vr.Verified() || n != len(body) {
		t.Fatalf("read %d bytes, verified %v; want all %d verified", n, vr.Verified(), len(body))
	}
}

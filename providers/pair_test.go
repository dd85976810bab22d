package providers_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

type fileSource struct{}

func (fileSource) List(context.Context, func(providers.Artifact) error) error { return nil }
func (fileSource) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return nil, providers.ErrNotFound
}

type graphSource struct{ fileSource }

func (graphSource) CopyTo(context.Context, providers.Artifact, providers.Destination) (providers.Artifact, error) {
	return providers.Artifact{}, nil
}

type packageSource struct{ fileSource }

func (packageSource) Manifest(context.Context, providers.Artifact) ([]byte, error) { return nil, nil }

// wrapper overrides Fetch only and forwards the rest through Unwrap.
type wrapper struct{ inner providers.Source }

func (w wrapper) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return w.inner.List(ctx, fn)
}
func (w wrapper) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return nil, errors.New("cache")
}
func (w wrapper) Unwrap() providers.Source { return w.inner }

type fileStore struct{ stat string }

func (s fileStore) Stat(context.Context, string) (providers.Artifact, error) {
	return providers.Artifact{Key: s.stat}, nil
}
func (fileStore) Put(context.Context, providers.Artifact, io.Reader, providers.PutOptions) error {
	return nil
}
func (fileStore) Delete(context.Context, string) error { return nil }

type graphStore struct{ fileStore }

func (graphStore) StatGraph(context.Context, string) (providers.Artifact, error) {
	return providers.Artifact{Key: "graph"}, nil
}

type packageStore struct{ fileStore }

func (packageStore) PutWithManifest(context.Context, providers.Artifact, []byte, io.Reader, providers.PutOptions) error {
	return nil
}

// TestNewPair: the one resolution of how a source transfers to a
// destination and how the destination is compared, also through a wrapper.
func TestNewPair(t *testing.T) {
	tests := []struct {
		name        string
		src         providers.Source
		dst         providers.Destination
		wantTo      providers.Transfer
		wantStat    string // the Key the chosen stat reports
		unsupported bool
	}{
		{name: "files stream", src: fileSource{}, dst: fileStore{stat: "stat"}, wantTo: providers.Stream, wantStat: "stat"},
		{name: "files into a graph store stream", src: fileSource{}, dst: graphStore{fileStore{stat: "stat"}}, wantTo: providers.Stream, wantStat: "stat"},
		{name: "graph copy stats the graph", src: graphSource{}, dst: graphStore{fileStore{stat: "stat"}}, wantTo: providers.GraphCopy, wantStat: "graph"},
		{name: "graph copy through a wrapper", src: wrapper{graphSource{}}, dst: graphStore{fileStore{stat: "stat"}}, wantTo: providers.GraphCopy, wantStat: "graph"},
		{name: "graph into a file store", src: graphSource{}, dst: fileStore{stat: "stat"}, wantTo: providers.GraphCopy, wantStat: "stat", unsupported: true},
		{name: "package publish", src: packageSource{}, dst: packageStore{fileStore{stat: "stat"}}, wantTo: providers.ManifestPut, wantStat: "stat"},
		{name: "package publish through a wrapper", src: wrapper{packageSource{}}, dst: packageStore{fileStore{stat: "stat"}}, wantTo: providers.ManifestPut, wantStat: "stat"},
		{name: "files into a package registry", src: fileSource{}, dst: packageStore{fileStore{stat: "stat"}}, wantTo: providers.ManifestPut, wantStat: "stat", unsupported: true},
		{name: "no source still stats", src: nil, dst: fileStore{stat: "stat"}, wantTo: providers.Stream, wantStat: "stat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := providers.NewPair(tt.src, tt.dst)
			if got := errors.Is(err, providers.ErrUnsupported); got != tt.unsupported || (err != nil && !got) {
				t.Errorf("NewPair error = %v, want unsupported %v", err, tt.unsupported)
			}
			if p.Transfer != tt.wantTo {
				t.Errorf("Transfer = %v, want %v", p.Transfer, tt.wantTo)
			}
			a, err := p.Stat(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantStat, a.Key); diff != "" {
				t.Errorf("stat (-want +got):\n%s", diff)
			}
			if tt.wantTo == providers.GraphCopy && p.Copier == nil || tt.wantTo == providers.ManifestPut && !tt.unsupported && (p.Manifester == nil || p.ManifestPutter == nil) {
				t.Errorf("pair %+v misses the capabilities of its transfer", p)
			}
		})
	}
}

// TestAs: a capability is found on the wrapper first, then down the
// Unwrap chain; a source without it reports false.
func TestAs(t *testing.T) {
	if _, ok := providers.As[providers.Copier](wrapper{wrapper{graphSource{}}}); !ok {
		t.Error("Copier two wrappers down not found")
	}
	if _, ok := providers.As[providers.Copier](wrapper{fileSource{}}); ok {
		t.Error("found a Copier the source does not have")
	}
	if _, ok := providers.As[providers.Unwrapper](wrapper{fileSource{}}); !ok {
		t.Error("the wrapper's own capability not found")
	}
	if _, ok := providers.As[providers.Copier](nil); ok {
		t.Error("nil source has a Copier")
	}
}

package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Offliner = (*Source)(nil)

// offlineListing is an oci source's listing in an air-gap cache: what List
// reported, and the root descriptor of every image graph the cache holds,
// by manifest digest. Every node of those graphs (index, manifests,
// config, layers) is in the cache by digest.
type offlineListing struct {
	Artifacts []providers.Artifact          `json:"artifacts"`
	Notes     []string                      `json:"notes,omitempty"`
	Roots     map[string]ocispec.Descriptor `json:"roots"`
}

// offlineGraphs is where the source Offline returns lists and copies from.
type offlineGraphs struct {
	listing offlineListing
	blobs   providers.Blobs
}

// Snapshot copies the graph of every image in transfers, node by node,
// from the registry into blobs (each verified against its digest on the
// way in), and returns the listing: listed, with the graphs' roots.
func (s *Source) Snapshot(ctx context.Context, listed, transfers []providers.Artifact, blobs providers.Blobs) ([]byte, error) {
	l := offlineListing{Artifacts: listed, Notes: s.Notes(), Roots: map[string]ocispec.Descriptor{}}
	store := blobStorage{blobs}
	for _, a := range transfers {
		want, err := plannedDigest(a)
		if err != nil {
			return nil, s.opErr("snapshot", a.Key, err)
		}
		root, err := s.c.repo.remote.Resolve(ctx, want)
		if err != nil {
			return nil, s.opErr("snapshot", a.Key, s.c.describe(ctx, err))
		}
		if root.Digest.String() != want {
			return nil, s.opErr("snapshot", a.Key, fmt.Errorf("registry %s served %s for the planned manifest %s", s.c.host, root.Digest, want))
		}
		if err := oras.CopyGraph(ctx, s.c.repo.remote, store, root, oras.CopyGraphOptions{}); err != nil {
			return nil, s.opErr("snapshot", a.Key, s.c.describe(ctx, err))
		}
		l.Roots[want] = ocispec.Descriptor{MediaType: root.MediaType, Digest: root.Digest, Size: root.Size}
	}
	return json.Marshal(l)
}

// Offline returns a copy of the source that lists what the snapshot
// recorded and copies images from blobs; it contacts no registry (the
// destination is still the registry CopyTo is given).
func (s *Source) Offline(listing []byte, blobs providers.Blobs) (providers.Source, error) {
	var l offlineListing
	if err := providers.ReadListing(s.name, listing, &l); err != nil {
		return nil, err
	}
	return &Source{name: s.name, cfg: s.cfg, log: s.log, c: s.c, sel: s.sel, notes: l.Notes,
		offline: &offlineGraphs{listing: l, blobs: blobs}}, nil
}

// plannedDigest is the manifest digest a copy of a starts from.
func plannedDigest(a providers.Artifact) (string, error) {
	want, ok := a.Digests.Get(providers.SHA256)
	if !ok {
		want, ok = a.Digests.Get(providers.SHA512)
	}
	if !ok {
		return "", errors.New("no planned manifest digest to copy")
	}
	if err := want.Validate(); err != nil {
		return "", err
	}
	return want.String(), nil
}

// blobStorage is blobs as oras-go's content storage.
type blobStorage struct{ blobs providers.Blobs }

func (b blobStorage) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	d, err := providers.ParseDigest(desc.Digest.String())
	if err != nil {
		return nil, err
	}
	rc, err := b.blobs.Open(ctx, d)
	if errors.Is(err, providers.ErrNotFound) {
		return nil, fmt.Errorf("%s is not in the air-gap cache: %w", desc.Digest, errdef.ErrNotFound)
	}
	return rc, err
}

func (b blobStorage) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	rc, err := b.Fetch(ctx, desc)
	if errors.Is(err, errdef.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, rc.Close()
}

func (b blobStorage) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	d, err := providers.ParseDigest(desc.Digest.String())
	if err != nil {
		return err
	}
	return b.blobs.Put(ctx, d, desc.Size, r)
}

// offlineTarget is the cache as the source of an oras-go copy: roots
// resolve by digest, nodes are read from blobs.
type offlineTarget struct {
	blobStorage
	roots map[string]ocispec.Descriptor
}

func (t offlineTarget) Resolve(_ context.Context, ref string) (ocispec.Descriptor, error) {
	if d, ok := t.roots[ref]; ok {
		return d, nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("manifest %s is not in the air-gap cache (run ferry apply -download-only again): %w", ref, errdef.ErrNotFound)
}

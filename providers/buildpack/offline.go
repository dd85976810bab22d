package buildpack

import (
	"context"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Offliner = (*Source)(nil)

// Snapshot stores nothing: the dependencies come from the local
// buildpack.toml, so the source lists without the network.
func (s *Source) Snapshot(context.Context, []providers.Artifact, []providers.Artifact, providers.Blobs) ([]byte, error) {
	return nil, nil
}

// Offline is the source itself: List reads only the local buildpack.toml,
// and the cache wrapper serves every Fetch.
func (s *Source) Offline([]byte, providers.Blobs) (providers.Source, error) { return s, nil }

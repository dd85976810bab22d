package proget

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
)

var (
	_ providers.Offliner = (*UpackSource)(nil)
	_ providers.Offliner = (*AssetSource)(nil)
)

// offlineListing is a ProGet source's listing in an air-gap cache: what
// List reported (keys, sizes, the hashes the server declared), and what
// it was made for, so a cache made for another feed, folder or selection
// is refused rather than read as this one's.
type offlineListing struct {
	For       string               `json:"for"`
	Artifacts []providers.Artifact `json:"artifacts"`
}

// snapshot is the listing of listed, made for what.
func snapshot(what string, listed []providers.Artifact) ([]byte, error) {
	return json.Marshal(offlineListing{For: what, Artifacts: listed})
}

// readOffline reads a listing made for what: the artifacts an offline
// source lists (it is the online type, so the cache wrapper around it is
// the same shape on both sides); the cache wrapper serves the bytes,
// verified on the connected side (hashes and, for packages, upack.json)
// when they were fetched into the cache.
func readOffline(e end, what string, listing []byte) (*cached, error) {
	var l offlineListing
	if err := providers.ReadListing(e.name, listing, &l); err != nil {
		return nil, err
	}
	if l.For != what {
		return nil, fmt.Errorf("source %s: the cache's listing was made for %s, not %s: run ferry apply -download-only with this configuration on the connected side", e.name, l.For, what)
	}
	if l.Artifacts == nil {
		l.Artifacts = []providers.Artifact{}
	}
	return &cached{artifacts: l.Artifacts}, nil
}

// cached is an offline source's listing.
type cached struct {
	artifacts []providers.Artifact
}

func (c *cached) list(ctx context.Context, fn func(providers.Artifact) error) error {
	for _, a := range slices.Clone(c.artifacts) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// errOffline: an offline source fetches nothing itself.
var errOffline = fmt.Errorf("offline: the air-gap cache serves the bytes: %w", providers.ErrUnsupported)

// UpackSource's identity in a cache: the feed and the selection.
func (s *UpackSource) identity() string {
	return s.Describe() + " packages " + strings.Join(s.patterns, ",")
}

// Snapshot returns what List reported; the packages' own bytes are the
// cache's, fetched (and so verified) through Fetch.
func (s *UpackSource) Snapshot(_ context.Context, listed, _ []providers.Artifact, _ providers.Blobs) ([]byte, error) {
	return snapshot(s.identity(), listed)
}

// Offline is the source listing from the cache's listing, without the
// network.
func (s *UpackSource) Offline(listing []byte, _ providers.Blobs) (providers.Source, error) {
	c, err := readOffline(s.end, s.identity(), listing)
	if err != nil {
		return nil, err
	}
	off := *s
	off.cached = c
	return &off, nil
}

// Snapshot returns what List reported.
func (s *AssetSource) Snapshot(_ context.Context, listed, _ []providers.Artifact, _ providers.Blobs) ([]byte, error) {
	return snapshot(s.Describe(), listed)
}

// Offline is the source listing from the cache's listing, without the
// network.
func (s *AssetSource) Offline(listing []byte, _ providers.Blobs) (providers.Source, error) {
	c, err := readOffline(s.end, s.Describe(), listing)
	if err != nil {
		return nil, err
	}
	off := *s
	off.cached = c
	return &off, nil
}

package nuget

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

var _ providers.Offliner = (*Source)(nil)

// offlineListing is what a listing read from the feed, and, in an air-gap
// cache, what the offline source lists from: every package's versions and
// registration metadata (not only the selected versions), so the inner
// side selects again with its own configuration, and each glob's ids.
type offlineListing struct {
	// ServiceIndex is the feed (no credentials); the offline source
	// refuses a listing of another feed.
	ServiceIndex string `json:"service_index"`
	// PackageBase is the flat container's URL (artifact origins).
	PackageBase string                 `json:"package_base"`
	Packages    map[string]packageData `json:"packages"`
	Globs       map[string][]string    `json:"globs,omitempty"`
}

// errOffline is what an offline source answers when asked to read the
// feed.
var errOffline = fmt.Errorf("an offline nuget source reads no feed; the air-gap cache serves the packages: %w", providers.ErrUnsupported)

// Snapshot stores nothing beyond the packages the cache streams: its
// listing is what List read (call it after List).
func (s *Source) Snapshot(ctx context.Context, _, _ []providers.Artifact, _ providers.Blobs) ([]byte, error) {
	s.mu.Lock()
	l := s.read
	s.mu.Unlock()
	if l.Packages == nil {
		return nil, fmt.Errorf("source %s: nothing listed yet to store", s.name)
	}
	l.ServiceIndex, l.PackageBase = httpx.RedactString(l.ServiceIndex), httpx.RedactString(l.PackageBase)
	return json.Marshal(l)
}

// Offline returns the source as it lists from listing, reading no feed.
func (s *Source) Offline(listing []byte, _ providers.Blobs) (providers.Source, error) {
	var l offlineListing
	if err := providers.ReadListing(s.name, listing, &l); err != nil {
		return nil, err
	}
	if l.ServiceIndex != httpx.RedactString(s.cfg.ServiceIndex) {
		return nil, fmt.Errorf("source %s: the cache holds a listing of %s, not of %s: run ferry apply -download-only with this configuration on the connected side",
			s.name, l.ServiceIndex, httpx.RedactString(s.cfg.ServiceIndex))
	}
	return &Source{name: s.name, cfg: s.cfg, feed: s.feed, log: s.log, offline: &l}, nil
}

// listOffline lists from the air-gap listing: a package it does not hold
// (configured after the download) fails the listing.
func (s *Source) listOffline(ctx context.Context, fn func(providers.Artifact) error) error {
	l := s.offline
	// Origins as online; a glob is answered from the listing, not a search.
	res := resources{packageBase: l.PackageBase, search: "offline"}
	return s.list(ctx, res, fn,
		func(glob string) ([]string, error) {
			ids, ok := l.Globs[strings.ToLower(glob)]
			if !ok {
				return nil, fmt.Errorf("the air-gap cache holds no listing for the glob %q: download with this configuration first", glob)
			}
			return slices.Clone(ids), nil
		},
		func(id string) (packageData, error) {
			d, ok := l.Packages[id]
			if !ok {
				return packageData{}, fmt.Errorf("the air-gap cache holds no listing of the package: download with this configuration first")
			}
			return d, nil
		})
}

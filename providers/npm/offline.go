package npm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
)

var _ providers.Offliner = (*Source)(nil)

// offlineListing is an npm source's listing in an air-gap cache: the
// package names its patterns expanded to and, by name, the digest of each
// package document List read (or that the registry had none). From those
// documents the offline source lists, selects versions and dependencies,
// and serves dist-tags and version documents exactly as the online one did.
type offlineListing struct {
	// Packages are the configured names and scope patterns the listing
	// was made for; the offline source refuses a listing made for others.
	Packages  []string                    `json:"packages"`
	Names     []string                    `json:"names"`
	Documents map[string]providers.Digest `json:"documents"`
	Missing   []string                    `json:"missing,omitempty"`
}

// offlineDocs is where the source Offline returns reads its documents.
type offlineDocs struct {
	listing offlineListing
	blobs   providers.Blobs
}

// Snapshot stores every package document the last List read in blobs (as
// ferry read it: the fields it uses, each version document byte for byte
// but compacted) and returns the listing that names them. The tarballs are
// the listed artifacts' own bytes, which the cache holds by digest.
func (s *Source) Snapshot(ctx context.Context, _, _ []providers.Artifact, blobs providers.Blobs) ([]byte, error) {
	s.mu.Lock()
	names := slices.Clone(s.expanded)
	s.mu.Unlock()
	if names == nil {
		return nil, s.opErr("snapshot", "", errors.New("nothing listed yet"))
	}
	l := offlineListing{Packages: s.cfg.Packages, Names: names, Documents: map[string]providers.Digest{}}
	for name, e := range s.docs.entries() {
		switch {
		case errors.Is(e.err, providers.ErrNotFound):
			l.Missing = append(l.Missing, name)
			continue
		case e.err != nil || e.doc == nil:
			continue
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e.doc); err != nil {
			return nil, s.opErr("snapshot", name, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		d := providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])}
		if err := blobs.Put(ctx, d, int64(buf.Len()), &buf); err != nil {
			return nil, s.opErr("snapshot", name, err)
		}
		l.Documents[name] = d
	}
	slices.Sort(l.Missing)
	return json.Marshal(l)
}

// Offline returns a copy of the source that reads the package documents
// from blobs, as listing names them, and contacts no registry: List,
// Manifest, DistTags and UpstreamHas work as online; Fetch is the cache's.
func (s *Source) Offline(listing []byte, blobs providers.Blobs) (providers.Source, error) {
	var l offlineListing
	if err := providers.ReadListing(s.name, listing, &l); err != nil {
		return nil, err
	}
	if !slices.Equal(l.Packages, s.cfg.Packages) {
		return nil, fmt.Errorf("source %s: the cache was filled for packages %q, the configuration selects %q: run ferry apply -download-only with this configuration on the connected side",
			s.name, l.Packages, s.cfg.Packages)
	}
	off := &Source{
		name: s.name, cfg: s.cfg, log: s.log, def: s.def, scopes: s.scopes, sel: s.sel,
		offline: &offlineDocs{listing: l, blobs: blobs},
	}
	return off, nil
}

// readOffline is readPackument for the offline source.
func (s *Source) readOffline(ctx context.Context, name string) (*packument, error) {
	if slices.Contains(s.offline.listing.Missing, name) {
		return nil, fmt.Errorf("package %s: the registry had no such package when the cache was filled: %w", name, providers.ErrNotFound)
	}
	d, ok := s.offline.listing.Documents[name]
	if !ok {
		// Not ErrNotFound: that would read as a package removed upstream.
		return nil, fmt.Errorf("package %s: its document is not in the cache (the configuration selects more than when the cache was filled): run ferry apply -download-only again", name)
	}
	body, err := verify.ReadBlob(ctx, s.offline.blobs, d, maxPackumentBytes)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	return parsePackument(body, name)
}

// errOffline is Fetch's answer offline: the cache serves the tarballs.
var errOffline = fmt.Errorf("an offline npm source does not fetch; the air-gap cache serves tarballs: %w", providers.ErrUnsupported)

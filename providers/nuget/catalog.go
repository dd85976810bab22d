package nuget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// Incremental planning from the feed's catalog (Catalog/3.0.0, an
// append-only log of package changes, nuget.org's). A package's versions
// and registration, and a glob's search result, are kept in a cache file
// with the catalog position they were known current at. A plan that starts
// reading the catalog after S (the position the state recorded) reuses a
// cached package only if it was current at S or later and the catalog
// names no change to it after S; everything else is read from the feed.
// The position in the state only says where to start reading: a wrong one
// costs requests, never correctness. A PackageDelete names the package as
// changed like any other event: it is read again, the version is gone from
// its flat container, and the plan removes it as the mirror's removal
// policy and max_deletes allow.

// maxCatalogPages bounds the catalog pages one plan reads; past it the
// plan reads every package instead (a warning says so).
const maxCatalogPages = 1000

// catalogView is what one listing learnt from the catalog.
type catalogView struct {
	start    time.Time // the position the state recorded; exclusive
	trusted  bool      // changed is complete for everything after start
	changed  map[string]bool
	position time.Time // the catalog's commitTimeStamp, read before any package
}

// catalogFormat is the cache file's format. A file of another format is
// ignored (everything is read again): one written before ferry read
// deprecations would otherwise vouch for versions as not deprecated.
const catalogFormat = 2

// catalogRecord is the cache file of one feed.
type catalogRecord struct {
	Format       int                      `json:"format"`
	ServiceIndex string                   `json:"service_index"`
	Packages     map[string]cachedPackage `json:"packages"`
	Globs        map[string]cachedGlob    `json:"globs"`
}

type cachedPackage struct {
	Position time.Time   `json:"position"`
	Data     packageData `json:"data"`
}

type cachedGlob struct {
	Position time.Time `json:"position"`
	IDs      []string  `json:"ids"`
}

func (s *Source) recordName() string {
	sum := sha256.Sum256([]byte(s.cfg.ServiceIndex))
	return "catalog-" + hex.EncodeToString(sum[:8]) + ".json"
}

// loadRecord is the cache file of the feed; empty when there is none or it
// cannot be read (the cache is an optimisation only).
func (s *Source) loadRecord() catalogRecord {
	var rec catalogRecord
	if s.cache == nil || s.cache.ReadJSON(s.recordName(), &rec) != nil || rec.ServiceIndex != s.cfg.ServiceIndex || rec.Format != catalogFormat {
		rec = catalogRecord{Format: catalogFormat, ServiceIndex: s.cfg.ServiceIndex}
	}
	if rec.Packages == nil {
		rec.Packages = map[string]cachedPackage{}
	}
	if rec.Globs == nil {
		rec.Globs = map[string]cachedGlob{}
	}
	return rec
}

// fresh reports whether a cache entry current at position can be used
// without asking the feed, for a package whose lower id is id ("" for a
// glob's result, which any new id may change).
func (v catalogView) fresh(position time.Time, id string) bool {
	return v.trusted && !v.start.IsZero() && !position.Before(v.start) && (id == "" || !v.changed[id])
}

// readCatalog reads the catalog at url after start. With no start (no
// position recorded), it reads only the index, for the position.
func (s *Source) readCatalog(ctx context.Context, url string, start time.Time) (catalogView, []string, error) {
	v := catalogView{start: start, changed: map[string]bool{}}
	var index struct {
		CommitTimeStamp string `json:"commitTimeStamp"`
		Items           []struct {
			ID              string `json:"@id"`
			CommitTimeStamp string `json:"commitTimeStamp"`
		} `json:"items"`
	}
	if err := s.feed.getJSON(ctx, url, &index); err != nil {
		return v, nil, fmt.Errorf("reading the catalog index: %w", err)
	}
	pos, err := time.Parse(time.RFC3339Nano, index.CommitTimeStamp)
	if err != nil {
		return v, nil, fmt.Errorf("the catalog index's commitTimeStamp %q: %w", index.CommitTimeStamp, err)
	}
	v.position = pos
	if start.IsZero() {
		return v, nil, nil
	}
	if pos.Before(start) {
		return v, []string{fmt.Sprintf("The catalog of %s is at %s, before the position the state recorded (%s): every package was read again.",
			httpx.RedactString(s.cfg.ServiceIndex), pos.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))}, nil
	}
	type page struct {
		url string
		ts  time.Time
	}
	var pages []page
	for _, p := range index.Items {
		ts, err := time.Parse(time.RFC3339Nano, p.CommitTimeStamp)
		if err != nil {
			return v, nil, fmt.Errorf("a catalog page's commitTimeStamp %q: %w", p.CommitTimeStamp, err)
		}
		if ts.After(start) {
			pages = append(pages, page{p.ID, ts})
		}
	}
	if len(pages) > maxCatalogPages {
		return v, []string{fmt.Sprintf("The catalog of %s has %d pages of changes since the recorded position, more than %d: every package was read again.",
			httpx.RedactString(s.cfg.ServiceIndex), len(pages), maxCatalogPages)}, nil
	}
	slices.SortFunc(pages, func(a, b page) int { return a.ts.Compare(b.ts) })
	for _, p := range pages {
		var doc struct {
			Items []struct {
				Type            string `json:"@type"`
				CommitTimeStamp string `json:"commitTimeStamp"`
				ID              string `json:"nuget:id"`
			} `json:"items"`
		}
		if err := s.feed.getJSON(ctx, p.url, &doc); err != nil {
			return v, nil, fmt.Errorf("reading a catalog page: %w", err)
		}
		for _, it := range doc.Items {
			ts, err := time.Parse(time.RFC3339Nano, it.CommitTimeStamp)
			if err != nil {
				return v, nil, fmt.Errorf("a catalog item's commitTimeStamp %q: %w", it.CommitTimeStamp, err)
			}
			if ts.After(start) && it.ID != "" {
				v.changed[strings.ToLower(it.ID)] = true
			}
		}
	}
	v.trusted = true
	return v, nil, nil
}

var _ providers.FeedFollower = (*Source)(nil)

// ListFrom lists like List. On a feed with a catalog it starts reading the
// catalog at the position the state recorded (by catalog URL) and reuses
// what the cache holds of packages the catalog says did not change; it
// returns the catalog's position for the state. A feed without a catalog
// (Gitea's) is listed in full every time.
func (s *Source) ListFrom(ctx context.Context, positions map[string]string, fn func(providers.Artifact) error) (providers.FeedResult, error) {
	if s.offline != nil {
		// No catalog behind an air gap: the positions stay as recorded.
		return providers.FeedResult{Positions: positions}, s.List(ctx, fn)
	}
	res, err := s.feed.index(ctx)
	if err != nil {
		return providers.FeedResult{}, s.opErr("list", "", err)
	}
	if res.catalog == "" {
		return providers.FeedResult{}, s.List(ctx, fn)
	}
	var result providers.FeedResult
	start, _ := time.Parse(time.RFC3339Nano, positions[res.catalog]) // none or unreadable: read everything
	view, warnings, err := s.readCatalog(ctx, res.catalog, start)
	result.Warnings = warnings
	if err != nil {
		if ctx.Err() != nil {
			return result, s.opErr("list", "", err)
		}
		// The catalog is an optimisation: list in full, keep the position.
		result.Warnings = append(result.Warnings, fmt.Sprintf("The catalog of %s could not be read (%v): every package was read again.",
			httpx.RedactString(s.cfg.ServiceIndex), err))
		result.Positions = positions
		view = catalogView{}
	} else {
		result.Positions = map[string]string{res.catalog: view.position.UTC().Format(time.RFC3339Nano)}
	}
	rec := s.loadRecord()
	err = s.list(ctx, res, fn,
		func(glob string) ([]string, error) {
			if c, ok := rec.Globs[strings.ToLower(glob)]; ok && view.fresh(c.Position, "") {
				ids := slices.Clone(c.IDs)
				for id := range view.changed {
					if ok, _ := pathMatch(glob, id); ok && !slices.Contains(ids, id) {
						ids = append(ids, id)
					}
				}
				rec.Globs[strings.ToLower(glob)] = cachedGlob{Position: view.position, IDs: ids}
				return ids, nil
			}
			ids, err := s.search(ctx, res.search, glob)
			if err == nil {
				rec.Globs[strings.ToLower(glob)] = cachedGlob{Position: view.position, IDs: ids}
			}
			return ids, err
		},
		func(id string) (packageData, error) {
			if c, ok := rec.Packages[id]; ok && view.fresh(c.Position, id) {
				rec.Packages[id] = cachedPackage{Position: view.position, Data: c.Data}
				return c.Data, nil
			}
			d, err := s.readPackage(ctx, res, id)
			if err == nil {
				rec.Packages[id] = cachedPackage{Position: view.position, Data: d}
			}
			return d, err
		})
	if err != nil {
		return result, err
	}
	if s.cache != nil {
		if err := s.cache.WriteJSON(s.recordName(), rec); err != nil {
			s.log.Warn("could not write the catalog cache", "error", err)
		}
	}
	return result, nil
}

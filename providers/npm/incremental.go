package npm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/ferry-mirror/ferry/providers"
)

// Incremental planning. Package documents are kept in a disk cache with the
// ETag they came with, so a later read is a conditional request (a 304 costs
// no body). A registry with a changes feed goes further: a document the
// cache holds is used without any request when the feed says its package
// has not changed since the document was known current.
//
// "Known current" is recorded per document in the cache's feed record: the
// feed position P that had been read before the document was fetched (or
// last vouched for). A plan that starts reading the feed at S trusts a
// cached document only if P >= S and the feed names no change to its
// package after S. The position state keeps (S) only says where to start
// reading; a wrong one costs requests, never correctness.

// feedRecord is what the cache remembers of one feed.
type feedRecord struct {
	Feed string `json:"feed"`
	// Docs are, by document URL, the body digest that was current at a
	// feed position.
	Docs map[string]feedDoc `json:"docs"`
}

type feedDoc struct {
	SHA256   string `json:"sha256"`
	Position uint64 `json:"position"`
}

// feedView is what one listing learnt from one feed.
type feedView struct {
	feed   *feed
	record feedRecord
	// trusted is set when changed is complete from start on.
	trusted bool
	start   uint64
	changed map[string]bool
	// position is where the next plan should start reading; 0 when the
	// feed could not be read at all.
	position uint64
	// used are the documents this listing used, by URL: body digests now
	// known current at position.
	used map[string]string
}

// docStats count how the listing's package documents were obtained.
type docStats struct {
	read, notModified, vouched atomic.Int64
}

func recordName(feedURL string) string {
	sum := sha256.Sum256([]byte(feedURL))
	return "feed-" + hex.EncodeToString(sum[:8]) + ".json"
}

// ListFrom lists like List, reading each configured changes feed from the
// position state recorded (by feed URL) to skip requests for documents that
// have not changed. It returns the positions to record once the plan is
// applied, and warnings for feeds it could not follow (their packages were
// re-validated instead).
func (s *Source) ListFrom(ctx context.Context, positions map[string]string, fn func(providers.Artifact) error) (providers.FeedResult, error) {
	if s.offline != nil {
		// No feed to read behind an air gap: the positions stay as recorded.
		return providers.FeedResult{Positions: positions}, s.list(ctx, fn)
	}
	var res providers.FeedResult
	views := map[string]*feedView{}
	if s.cache != nil {
		for _, r := range s.registries() {
			if r.feed == nil || views[r.feed.cfg.URL] != nil {
				continue
			}
			v, warning := s.openView(ctx, r.feed, positions[r.feed.cfg.URL])
			views[r.feed.cfg.URL] = v
			if warning != "" {
				res.Warnings = append(res.Warnings, warning)
			}
		}
	}
	var stats docStats
	s.mu.Lock()
	s.views, s.stats = views, &stats
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.views, s.stats = nil, nil
		s.mu.Unlock()
	}()
	if err := s.list(ctx, fn); err != nil {
		return providers.FeedResult{}, err
	}
	for url, v := range views {
		if v.position == 0 {
			continue
		}
		if res.Positions == nil {
			res.Positions = map[string]string{}
		}
		res.Positions[url] = strconv.FormatUint(v.position, 10)
		s.saveRecord(v)
	}
	s.log.Info("package documents", "read", stats.read.Load(), "not_modified", stats.notModified.Load(), "unchanged_per_feed", stats.vouched.Load())
	return res, nil
}

// registries are the default registry and the scopes', in a fixed order.
func (s *Source) registries() []*registry {
	out := []*registry{s.def}
	for _, scope := range slices.Sorted(maps.Keys(s.scopes)) {
		out = append(out, s.scopes[scope])
	}
	return out
}

// openView reads the feed from the recorded position. Whatever goes wrong
// leaves the view untrusted: every document is then re-validated.
func (s *Source) openView(ctx context.Context, f *feed, recorded string) (*feedView, string) {
	v := &feedView{feed: f, used: map[string]string{}}
	if err := s.cache.ReadJSON(recordName(f.cfg.URL), &v.record); err != nil || v.record.Feed != f.cfg.URL {
		v.record = feedRecord{Feed: f.cfg.URL}
	}
	if v.record.Docs == nil {
		v.record.Docs = map[string]feedDoc{}
	}
	display := f.url.Redacted()
	head, err := f.head(ctx)
	if err != nil {
		return v, fmt.Sprintf("Source %s: the changes feed %s could not be read (%v); every package document was re-validated instead.", s.name, display, err)
	}
	// Every document is read after this point, so all are current at head.
	v.position = head
	if recorded == "" {
		return v, ""
	}
	start, err := strconv.ParseUint(recorded, 10, 64)
	if err != nil {
		return v, fmt.Sprintf("Source %s: the recorded position %q of the changes feed %s is not a number; every package document was re-validated instead.", s.name, recorded, display)
	}
	if start > head {
		return v, fmt.Sprintf("Source %s: the changes feed %s is at %d, behind the recorded position %d (was the registry rebuilt?); every package document was re-validated instead.", s.name, display, head, start)
	}
	changed, last, err := f.changedSince(ctx, start)
	switch {
	case errors.Is(err, errFeedOverflow):
		return v, fmt.Sprintf("Source %s: the changes feed %s has %v; every package document was re-validated instead.", s.name, display, err)
	case err != nil:
		return v, fmt.Sprintf("Source %s: the changes feed %s could not be read (%v); every package document was re-validated instead.", s.name, display, err)
	}
	// Trusted documents are current only as far as the feed was read.
	v.trusted, v.start, v.changed, v.position = true, start, changed, last
	return v, ""
}

// saveRecord merges what the listing used into the cache's feed record.
func (s *Source) saveRecord(v *feedView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for url, sum := range v.used {
		v.record.Docs[url] = feedDoc{SHA256: sum, Position: v.position}
	}
	if v.trusted {
		// Older entries could never be trusted from here on.
		for url, d := range v.record.Docs {
			if d.Position < v.start {
				delete(v.record.Docs, url)
			}
		}
	}
	if err := s.cache.WriteJSON(recordName(v.feed.cfg.URL), v.record); err != nil {
		s.log.Warn("could not save the changes feed record", "error", err)
	}
}

// readPackument reads name's document: from the cache when the changes
// feed vouches for it, else with a conditional request when the cache has
// a validator, else plainly.
func (s *Source) readPackument(ctx context.Context, name string) (*packument, error) {
	r := s.registryFor(name)
	u := r.url(escapeName(name))
	s.mu.Lock()
	var v *feedView
	if r.feed != nil {
		v = s.views[r.feed.cfg.URL]
	}
	stats := s.stats
	s.mu.Unlock()
	if stats == nil {
		stats = &docStats{}
	}

	entry, cached := s.cache.Get(u)
	if cached && v != nil && v.trusted && !v.changed[name] {
		s.mu.Lock()
		d, ok := v.record.Docs[u]
		s.mu.Unlock()
		if ok && d.Position >= v.start && d.SHA256 == entry.SHA256 {
			p, err := parsePackument(entry.Body, name)
			if err == nil {
				stats.vouched.Add(1)
				s.use(v, u, entry.SHA256)
				return p, nil
			}
		}
	}
	etag := ""
	if cached {
		etag = entry.ETag
	}
	body, newETag, notModified, err := r.getDocument(ctx, u, etag, maxPackumentBytes)
	if err != nil {
		return nil, err
	}
	sum := entry.SHA256
	if notModified {
		body = entry.Body
		stats.notModified.Add(1)
	} else {
		stats.read.Add(1)
	}
	p, err := parsePackument(body, name)
	if err != nil {
		return nil, err
	}
	if !notModified {
		e, err := s.cache.Put(u, newETag, body)
		if err != nil {
			s.log.Warn("could not cache a package document", "package", name, "error", err)
		}
		sum = e.SHA256
	}
	s.use(v, u, sum)
	return p, nil
}

func (s *Source) use(v *feedView, url, sum string) {
	if v == nil {
		return
	}
	s.mu.Lock()
	v.used[url] = sum
	s.mu.Unlock()
}

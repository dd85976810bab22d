package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ferry-mirror/ferry/planner/retention"
	"github.com/ferry-mirror/ferry/providers"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// resolveConcurrency bounds the HEAD requests List sends to resolve tags.
const resolveConcurrency = 8

// maxTagPages bounds the pages of a tag listing: a registry whose pages
// keep linking to another (even empty) page would otherwise keep plan
// running for ever. At the usual 100 tags a page it is far beyond
// DefaultMaxTags.
const maxTagPages = 10_000

// Source is the "oci" source: the tags of one repository of an OCI
// registry, each an image (or index) graph. List resolves the selected tags
// to their manifest digests; CopyTo copies the planned graph, byte for
// byte, to an oci destination. It is safe for concurrent use.
type Source struct {
	name string
	cfg  *SourceConfig
	log  hclog.Logger
	c    *Store // the registry client (never used to store anything)
	sel  tagSelector
	// offline is set on the source Offline returns: it lists and copies
	// from an air-gap cache, never from the registry.
	offline *offlineGraphs

	mu    sync.Mutex
	notes []string // what the last List left out
}

var (
	_ providers.Source    = (*Source)(nil)
	_ providers.Copier    = (*Source)(nil)
	_ providers.Describer = (*Source)(nil)
)

// Notes are what the last List could not mirror, for the plan.
func (s *Source) Notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes)
}

// NewSource returns the source named name ("oci.upstream"); env as for
// NewDestination.
func NewSource(name string, cfg *SourceConfig, env provreg.Env) (*Source, error) {
	return NewSourceWithOptions(name, cfg, env, Options{})
}

// NewSourceWithOptions is NewSource with Options.
func NewSourceWithOptions(name string, cfg *SourceConfig, env provreg.Env, opts Options) (*Source, error) {
	logger := env.Log()
	sel, err := newTagSelector(cfg.Tags)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	c, err := newStore(name, &cfg.DestinationConfig, env, opts, providers.SideSource)
	if err != nil {
		return nil, err
	}
	c.repo.remote.TagListMaxPages = maxTagPages
	return &Source{name: name, cfg: cfg, log: logger, c: c, sel: sel}, nil
}

// Describe names the registry and repository (no credentials).
func (s *Source) Describe() string { return "oci source " + s.cfg.Registry + "/" + s.cfg.Repository }

// tagSelector is a compiled TagFilter.
type tagSelector struct {
	exact  []string
	semver *semver.Constraints
	re     *regexp.Regexp
	latest int
}

func newTagSelector(f TagFilter) (tagSelector, error) {
	sel := tagSelector{exact: f.Exact, latest: f.Latest}
	if len(f.Exact) == 0 && f.Semver == "" && f.Regex == "" {
		return sel, errors.New("tags: set at least one of exact, semver or regex")
	}
	if f.Semver != "" {
		c, err := compileSemver(f.Semver)
		if err != nil {
			return sel, fmt.Errorf("tags: semver %q: %w", f.Semver, err)
		}
		sel.semver = c
	}
	if f.Regex != "" {
		re, err := regexp.Compile(f.Regex)
		if err != nil {
			return sel, fmt.Errorf("tags: regex: %w", err)
		}
		sel.re = re
	}
	if f.Latest < 0 {
		return sel, fmt.Errorf("tags: latest must be at least 1, not %d", f.Latest)
	}
	return sel, nil
}

// selectTags returns the selected subset of tags, sorted by version order
// (retention.CompareVersions), without duplicates.
func (sel tagSelector) selectTags(tags []string) []string {
	have := make(map[string]bool, len(tags))
	for _, t := range tags {
		have[t] = true
	}
	var matched []string
	if sel.semver != nil || sel.re != nil {
		for t := range have {
			if sel.re != nil && !sel.re.MatchString(t) {
				continue
			}
			if sel.semver != nil {
				v, err := semver.NewVersion(t)
				if err != nil || !sel.semver.Check(v) {
					continue
				}
			}
			matched = append(matched, t)
		}
		if sel.latest > 0 && len(matched) > sel.latest {
			slices.SortFunc(matched, func(a, b string) int { return retention.CompareVersions(b, a) })
			matched = matched[:sel.latest]
		}
	}
	out := map[string]bool{}
	for _, t := range matched {
		out[t] = true
	}
	for _, t := range sel.exact {
		if have[t] {
			out[t] = true
		}
	}
	res := make([]string, 0, len(out))
	for t := range out {
		res = append(res, t)
	}
	slices.SortFunc(res, retention.CompareVersions)
	return res
}

func (s *Source) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideSource, Provider: s.name, Key: key, Err: err}
}

// origin is the display location of tag.
func (s *Source) origin(tag string) string {
	return "oci://" + s.cfg.Registry + "/" + s.cfg.Repository + ":" + tag
}

// List lists the repository's tags (following tags/list pagination, at
// most maxTagPages pages and MaxTags tags; strings that are not OCI tags
// are left out with a note, as they could never be copied), selects them,
// and resolves each selected tag to its manifest (or index) digest with a
// HEAD request, at most resolveConcurrency at a time. A tag that
// disappears between listing and resolving is left out. Size is -1: the
// graph is not walked at plan time.
func (s *Source) List(ctx context.Context, fn func(providers.Artifact) error) error {
	if s.offline != nil {
		// The recorded tags, selected again by this side's configuration
		// (a narrower selection applies; tags the cache lacks cannot).
		var tags []string
		for _, a := range s.offline.listing.Artifacts {
			tags = append(tags, a.Key)
		}
		keep := map[string]bool{}
		for _, t := range s.sel.selectTags(tags) {
			keep[t] = true
		}
		for _, a := range s.offline.listing.Artifacts {
			if !keep[a.Key] {
				continue
			}
			if err := fn(a); err != nil {
				return err
			}
		}
		return nil
	}
	maxTags := s.cfg.MaxTags
	if maxTags <= 0 {
		maxTags = DefaultMaxTags
	}
	var all []string
	listed, invalid := 0, 0
	err := s.c.repo.remote.Tags(ctx, "", func(tags []string) error {
		listed += len(tags)
		if listed > maxTags {
			return fmt.Errorf("%w: the tag listing of %s on registry %s returned more than max_tags = %d tags; raise max_tags if the repository really has that many",
				errTooManyTags, s.cfg.Repository, s.c.host, maxTags)
		}
		for _, t := range tags {
			if !isTag(t) {
				invalid++
				continue
			}
			all = append(all, t)
		}
		return nil
	})
	if errors.Is(err, errdef.ErrTooManyPages) {
		err = fmt.Errorf("%w: the tag listing of %s on registry %s still links to another page after %d pages (%d tags); its pagination does not end",
			errTooManyTags, s.cfg.Repository, s.c.host, maxTagPages, listed)
	}
	if errors.Is(err, errTooManyTags) {
		return s.opErr("list", "", err)
	}
	if err != nil {
		return s.opErr("list", "", s.repoErr(ctx, err))
	}
	var notes []string
	if invalid > 0 {
		notes = append(notes, fmt.Sprintf("The tag listing of %s returned %d strings that are not OCI tags; they cannot be mirrored and are ignored.", s.cfg.Repository, invalid))
	}
	s.mu.Lock()
	s.notes = notes
	s.mu.Unlock()
	tags := s.sel.selectTags(all)
	s.log.Debug("listed tags", "repository", s.cfg.Repository, "tags", len(all), "selected", len(tags))

	descs := make([]*ocispec.Descriptor, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(resolveConcurrency)
	for i, tag := range tags {
		g.Go(func() error {
			desc, err := s.c.repo.remote.Resolve(gctx, tag)
			if errors.Is(err, errdef.ErrNotFound) {
				s.log.Warn("tag disappeared while listing; skipped", "tag", tag)
				return nil
			}
			if err != nil {
				return s.opErr("list", tag, s.c.describe(gctx, err))
			}
			descs[i] = &desc
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, tag := range tags {
		desc := descs[i]
		if desc == nil {
			continue
		}
		d, err := manifestDigest(*desc)
		if err != nil {
			return s.opErr("list", tag, fmt.Errorf("registry %s: tag %s: %w", s.c.host, tag, err))
		}
		if err := fn(providers.Artifact{
			Key:     tag,
			Name:    s.cfg.Repository,
			Version: tag,
			Size:    -1,
			Digests: providers.NewDigests(d),
			Origin:  s.origin(tag),
		}); err != nil {
			return err
		}
	}
	return nil
}

// errTooManyTags is wrapped by the error for a tag listing beyond its
// bounds (MaxTags tags, maxTagPages pages).
var errTooManyTags = errors.New("too many tags")

// repoErr describes a repository-level error; a missing repository wraps
// providers.ErrNotFound.
func (s *Source) repoErr(ctx context.Context, err error) error {
	var er *errcode.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusNotFound || errors.Is(err, errdef.ErrNotFound) {
		return fmt.Errorf("repository %s not found on registry %s: %w", s.cfg.Repository, s.c.host, providers.ErrNotFound)
	}
	return s.c.describe(ctx, err)
}

// Fetch is not supported: an OCI image is a graph, not one stream of bytes.
func (s *Source) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	return nil, s.opErr("fetch", a.Key, fmt.Errorf("an OCI image is a graph; it can only be copied to an oci destination: %w", providers.ErrUnsupported))
}

// CopyTo copies the graph rooted at the manifest a.Digests names (the
// planned digest: the tag is not resolved again) to dst, which must be a
// *Store, and tags it a.Key there. oras-go copies every manifest and blob
// byte for byte, skipping what the destination already has, and the
// registry checks every upload against its digest. When both are on the
// same registry, blobs are mounted from the source repository instead of
// uploaded. It returns what dst now holds under a.Key: the root manifest's
// digest and size.
func (s *Source) CopyTo(ctx context.Context, a providers.Artifact, dst providers.Destination) (providers.Artifact, error) {
	d, ok := dst.(*Store)
	if !ok {
		return providers.Artifact{}, s.opErr("copy", a.Key, fmt.Errorf(
			"an OCI image can only be copied to an oci destination, not %T: %w", dst, providers.ErrUnsupported))
	}
	if !isTag(a.Key) || Tag(a.Key) != a.Key {
		// The destination finds graphs under keys used verbatim as tags;
		// a tag shaped like one of its hashed tags would be stored elsewhere.
		return providers.Artifact{}, s.opErr("copy", a.Key, fmt.Errorf(
			"tag %q cannot be mirrored to an oci destination verbatim (it looks like a hashed tag ferry uses for file keys): %w",
			a.Key, providers.ErrUnsupported))
	}
	want, err := plannedDigest(a)
	if err != nil {
		return providers.Artifact{}, s.opErr("copy", a.Key, err)
	}
	wantDigest := digest.Digest(want)

	dr, err := d.repoFor(a.Key)
	if err != nil {
		return providers.Artifact{}, d.opErr("copy", a.Key, err)
	}
	opts := oras.CopyOptions{}
	var from oras.ReadOnlyTarget = s.c.repo.remote
	if s.offline != nil {
		from = offlineTarget{blobStorage{s.offline.blobs}, s.offline.listing.Roots}
	} else if s.c.host == d.host && s.cfg.PlainHTTP == d.cfg.PlainHTTP && s.cfg.Repository != dr.name {
		repo := s.cfg.Repository
		opts.MountFrom = func(context.Context, ocispec.Descriptor) ([]string, error) { return []string{repo}, nil }
	}
	root, err := oras.Copy(ctx, from, wantDigest.String(), &lockedTarget{d, dr}, a.Key, opts)
	if err != nil {
		return providers.Artifact{}, s.copyErr(ctx, a.Key, wantDigest, d, err)
	}
	if root.Digest != wantDigest {
		return providers.Artifact{}, s.opErr("copy", a.Key, fmt.Errorf("registry %s served %s for the planned manifest %s", s.c.host, root.Digest, wantDigest))
	}
	// What the destination's tag now resolves to (its Stat would report
	// the same).
	got, err := dr.remote.Resolve(ctx, a.Key)
	if err != nil {
		return providers.Artifact{}, d.opErr("copy", a.Key, d.describe(ctx, err))
	}
	if got.Digest != wantDigest {
		return providers.Artifact{}, d.opErr("copy", a.Key, fmt.Errorf("tag %s in %s/%s resolves to %s after the copy, want %s",
			a.Key, d.cfg.Registry, dr.name, got.Digest, wantDigest))
	}
	gd, err := manifestDigest(got)
	if err != nil {
		return providers.Artifact{}, d.opErr("copy", a.Key, err)
	}
	s.log.Debug("copied", "tag", a.Key, "manifest", wantDigest, "to", d.Describe())
	return providers.Artifact{Key: a.Key, Size: got.Size, Digests: providers.NewDigests(gd)}, nil
}

// copyErr attributes an oras-go copy error to its side.
func (s *Source) copyErr(ctx context.Context, key string, want digest.Digest, d *Store, err error) error {
	var ce *oras.CopyError
	if errors.As(err, &ce) && ce.Origin == oras.CopyErrorOriginDestination {
		return d.opErr("copy", key, d.describe(ctx, err))
	}
	if errors.Is(err, errdef.ErrNotFound) && s.offline != nil {
		return s.opErr("copy", key, fmt.Errorf("%w (of manifest %s, planned): %w", err, want, providers.ErrNotFound))
	}
	if errors.Is(err, errdef.ErrNotFound) {
		return s.opErr("copy", key, fmt.Errorf("manifest %s (planned) is no longer in %s/%s: %w",
			want, s.cfg.Registry, s.cfg.Repository, providers.ErrNotFound))
	}
	return s.opErr("copy", key, s.c.describe(ctx, err))
}

// lockedTarget is the destination as oras-go sees it: the repository, with
// blob uploads and mounts serialised per digest through the store's locks
// and skipped when the blob arrived meanwhile (concurrent copies of images
// sharing layers; see Store.blobs).
type lockedTarget struct {
	s *Store
	r *repository
}

func (t *lockedTarget) isManifest(desc ocispec.Descriptor) bool {
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.artifact.manifest.v1+json":
		return true
	}
	return false
}

func (t *lockedTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	return t.r.remote.Fetch(ctx, desc)
}

func (t *lockedTarget) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	return t.r.remote.Exists(ctx, desc)
}

func (t *lockedTarget) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	return t.r.remote.Resolve(ctx, ref)
}

func (t *lockedTarget) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	return t.r.remote.Tag(ctx, desc, ref)
}

func (t *lockedTarget) PushReference(ctx context.Context, desc ocispec.Descriptor, r io.Reader, ref string) error {
	return t.r.remote.PushReference(ctx, desc, r, ref)
}

func (t *lockedTarget) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	if t.isManifest(desc) {
		return t.r.remote.Push(ctx, desc, r)
	}
	unlock, present, err := t.lockBlob(ctx, desc)
	if err != nil || present {
		return err
	}
	defer unlock()
	return t.r.remote.Push(ctx, desc, r)
}

func (t *lockedTarget) Mount(ctx context.Context, desc ocispec.Descriptor, from string, getContent func() (io.ReadCloser, error)) error {
	unlock, present, err := t.lockBlob(ctx, desc)
	if err != nil || present {
		return err
	}
	defer unlock()
	return t.r.remote.Mount(ctx, desc, from, getContent)
}

// lockBlob takes desc's lock unless the blob is in the repository by then
// (present: nothing to do, and nothing to unlock).
func (t *lockedTarget) lockBlob(ctx context.Context, desc ocispec.Descriptor) (unlock func(), present bool, err error) {
	unlock, err = t.s.blobs.Lock(ctx, desc.Digest.String())
	if err != nil {
		return nil, false, err
	}
	exists, err := t.r.remote.Exists(ctx, desc)
	if err != nil || exists {
		unlock()
		return nil, exists, err
	}
	return unlock, false, nil
}

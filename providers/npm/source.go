package npm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/internal/doccache"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// fetchConcurrency bounds the packument requests List has in flight.
const fetchConcurrency = 8

// Source is the "npm" source. It is safe for concurrent use.
type Source struct {
	name   string
	cfg    *SourceConfig
	log    hclog.Logger
	def    *registry
	scopes map[string]*registry
	sel    versionSelector
	docs   docCache
	cache  *doccache.Store // nil: no cache

	// views are what the running listing learnt from changes feeds, by
	// feed URL; nil outside ListFrom, so apply always re-validates.
	views map[string]*feedView
	stats *docStats
	// offline is set on the source Offline returns: documents come from
	// an air-gap cache, and no registry is contacted.
	offline *offlineDocs

	mu       sync.Mutex
	expanded []string                  // the package names the last List expanded to
	listed   map[string]*listedPackage // by package name, after List
	notes    []string
}

// listedPackage is what List learnt of one package.
type listedPackage struct {
	missing  bool // the registry answered 404
	versions map[string]bool
	tags     map[string]string
}

var (
	_ providers.Source           = (*Source)(nil)
	_ providers.Manifester       = (*Source)(nil)
	_ providers.TagLister        = (*Source)(nil)
	_ providers.UpstreamReporter = (*Source)(nil)
	_ providers.Describer        = (*Source)(nil)
	_ providers.FeedFollower     = (*Source)(nil)
)

// NewSource returns the source named name ("npm.public"). env.Getenv reads
// the environment (for .npmrc and its ${VAR} references; nil means
// os.Getenv); env.CacheDir("npm") keeps package documents between
// commands, for conditional requests and the changes feed.
func NewSource(name string, cfg *SourceConfig, env provreg.Env) (*Source, error) {
	logger := env.Log()
	hc := env.Client()
	sel, err := newVersionSelector(cfg.Versions)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	s := &Source{name: name, cfg: cfg, log: logger, sel: sel, scopes: map[string]*registry{}}
	if s.def, err = openSourceRegistry(cfg.Registry, hc, env.Getenv); err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	for scope, rc := range cfg.Scopes {
		if s.scopes[scope], err = openSourceRegistry(rc, hc, env.Getenv); err != nil {
			return nil, fmt.Errorf("source %s: scope %s: %w", name, scope, err)
		}
	}
	cacheDir := ""
	if env.CacheDir != nil {
		cacheDir = env.CacheDir("npm")
	}
	if cacheDir != "" {
		// A cache that cannot be opened costs requests, not correctness.
		if s.cache, err = doccache.Open(cacheDir); err != nil {
			logger.Warn("package documents will not be cached", "error", err)
		}
	}
	return s, nil
}

// openSourceRegistry is openRegistry plus the registry's changes feed.
func openSourceRegistry(rc Registry, hc *httpx.Client, getenv func(string) string) (*registry, error) {
	r, err := openRegistry(rc, hc, getenv)
	if err != nil || rc.Changes == nil {
		return r, err
	}
	u, err := parseFeedURL(rc.Changes.URL)
	if err != nil {
		return nil, fmt.Errorf("changes feed URL %s", err)
	}
	fc := *rc.Changes
	if fc.MaxChanges <= 0 {
		fc.MaxChanges = DefaultMaxChanges
	}
	r.feed = &feed{cfg: fc, url: u, reg: r}
	return r, nil
}

// openRegistry resolves rc's token (from .npmrc when asked).
func openRegistry(rc Registry, hc *httpx.Client, getenv func(string) string) (*registry, error) {
	r, err := newRegistry(rc.URL, rc.Token, hc)
	if err != nil {
		return nil, err
	}
	if rc.Token == "" && rc.NPMRC {
		if getenv == nil {
			getenv = osGetenv
		}
		tok, err := npmrcToken(npmrcPath(getenv), r.base, getenv)
		if err != nil {
			return nil, err
		}
		r.token = tok
	}
	return r, nil
}

// Describe names the registry (no credentials).
func (s *Source) Describe() string { return "npm source " + s.def.String() }

// Notes are what the last List could not mirror, and what the dependency
// closure added.
func (s *Source) Notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes)
}

func (s *Source) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideSource, Provider: s.name, Key: key, Err: err}
}

// registryFor is the registry name's packages come from.
func (s *Source) registryFor(name string) *registry {
	if r, ok := s.scopes[scopeOf(name)]; ok {
		return r
	}
	return s.def
}

// packument is name's document, read once per command.
func (s *Source) packument(ctx context.Context, name string) (*packument, error) {
	return s.docs.get(ctx, name, func(ctx context.Context) (*packument, error) {
		if s.offline != nil {
			return s.readOffline(ctx, name)
		}
		return s.readPackument(ctx, name)
	})
}

// List expands scope patterns, reads every selected package's document,
// selects versions (and, with dependencies, the closure), and reports one
// artifact per version. Packages the registry does not have (404) are
// reported as removed, unless more than max_missing of them are: then List
// fails, since that many 404s at once is more likely an outage.
func (s *Source) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.list(ctx, fn)
}

func (s *Source) list(ctx context.Context, fn func(providers.Artifact) error) error {
	names, err := s.expand(ctx)
	if err != nil {
		return s.opErr("list", "", err)
	}
	selected := map[string]map[string]bool{} // name → versions
	listed := map[string]*listedPackage{}
	var notes []string
	var missing []string

	read := func(names []string) error {
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(fetchConcurrency)
		for _, n := range names {
			g.Go(func() error {
				p, err := s.packument(gctx, n)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, providers.ErrNotFound):
					listed[n] = &listedPackage{missing: true}
					missing = append(missing, n)
					return nil
				case err != nil:
					return fmt.Errorf("package %s: %w", n, err)
				}
				lp := &listedPackage{versions: map[string]bool{}, tags: p.DistTags}
				for v := range p.Versions {
					lp.versions[v] = true
				}
				listed[n] = lp
				return nil
			})
		}
		return g.Wait()
	}
	if err := read(names); err != nil {
		return s.opErr("list", "", err)
	}
	if len(missing) > s.cfg.MaxMissing {
		sort.Strings(missing)
		return s.opErr("list", "", fmt.Errorf("%d selected packages are missing (404) at the registry (%s), more than max_missing = %d: "+
			"refusing to treat them as removed, since a burst of 404s is more likely an outage. If they really are gone, "+
			"remove them from packages or raise max_missing", len(missing), strings.Join(missing, ", "), s.cfg.MaxMissing))
	}
	for _, n := range names {
		if lp := listed[n]; !lp.missing {
			p, _ := s.packument(ctx, n)
			selected[n] = s.sel.choose(p)
		}
	}
	if s.cfg.Dependencies != nil {
		added, err := s.closure(ctx, selected, listed, read)
		if err != nil {
			return s.opErr("list", "", err)
		}
		if added > 0 {
			notes = append(notes, fmt.Sprintf("The dependency closure (depth %d) adds %s.", s.cfg.Dependencies.Depth, plural(added, "package")))
		}
	}

	var out []providers.Artifact
	for _, n := range slices.Sorted(maps.Keys(selected)) {
		p, err := s.packument(ctx, n)
		if err != nil {
			return s.opErr("list", "", err)
		}
		_, problems := p.distTags()
		notes = append(notes, problems...)
		for _, v := range slices.Sorted(maps.Keys(selected[n])) {
			doc, err := p.version(v)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s@%s is not mirrored: %v.", n, v, err))
				continue
			}
			ds, err := doc.Dist.digests()
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s@%s is not mirrored: %v.", n, v, err))
				continue
			}
			out = append(out, providers.Artifact{
				Key: Key(n, v), Name: n, Version: v, Size: -1, Digests: ds,
				Created: p.published(v), Origin: httpx.RedactString(doc.Dist.Tarball),
			})
		}
	}
	s.mu.Lock()
	s.listed, s.notes, s.expanded = listed, notes, names
	s.mu.Unlock()
	for _, a := range out {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// expand turns the configured names and scope patterns into package
// names, sorted.
func (s *Source) expand(ctx context.Context) ([]string, error) {
	if s.offline != nil {
		return slices.Clone(s.offline.listing.Names), nil
	}
	set := map[string]bool{}
	for _, p := range s.cfg.Packages {
		scope, ok := strings.CutSuffix(p, "/*")
		if !ok {
			set[p] = true
			continue
		}
		names, err := s.registryFor(scope+"/x").searchScope(ctx, scope)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", p, err)
		}
		for _, n := range names {
			set[n] = true
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// closure adds, level by level, the newest version satisfying each
// dependency range of the selected versions. It returns how many packages
// it added beyond the configured ones.
func (s *Source) closure(ctx context.Context, selected map[string]map[string]bool, listed map[string]*listedPackage, read func([]string) error) (int, error) {
	cfg := s.cfg.Dependencies
	added := map[string]bool{}
	frontier := map[string]map[string]bool{}
	for n, vs := range selected {
		frontier[n] = vs
	}
	for depth := 1; depth <= cfg.Depth && len(frontier) > 0; depth++ {
		wants := map[string][]string{} // dependency → ranges
		for n, vs := range frontier {
			p, err := s.packument(ctx, n)
			if err != nil {
				return 0, err
			}
			for v := range vs {
				doc, err := p.version(v)
				if err != nil {
					continue
				}
				for _, deps := range []map[string]string{doc.Dependencies, doc.OptionalDependencies} {
					for dn, rng := range deps {
						if ValidName(dn) {
							wants[dn] = append(wants[dn], rng)
						}
					}
				}
			}
		}
		var toRead []string
		for dn := range wants {
			if _, ok := listed[dn]; !ok {
				toRead = append(toRead, dn)
				if _, own := selected[dn]; !own {
					added[dn] = true
				}
			}
		}
		if len(added) > cfg.MaxPackages {
			return 0, fmt.Errorf("the dependency closure needs more than dependencies.max_packages = %d packages (reached depth %d); "+
				"raise max_packages or lower depth", cfg.MaxPackages, depth)
		}
		sort.Strings(toRead)
		if err := read(toRead); err != nil {
			return 0, err
		}
		next := map[string]map[string]bool{}
		for _, dn := range slices.Sorted(maps.Keys(wants)) {
			lp := listed[dn]
			if lp == nil || lp.missing {
				continue
			}
			p, err := s.packument(ctx, dn)
			if err != nil {
				return 0, err
			}
			for _, rng := range wants[dn] {
				v, ok := newestSatisfying(p, rng)
				if !ok || selected[dn][v] {
					continue
				}
				if selected[dn] == nil {
					selected[dn] = map[string]bool{}
				}
				selected[dn][v] = true
				if next[dn] == nil {
					next[dn] = map[string]bool{}
				}
				next[dn][v] = true
			}
		}
		frontier = next
	}
	return len(added), nil
}

// newestSatisfying is the newest version of p within rng ("^1.2",
// "latest" as a dist-tag); ranges ferry cannot read (git URLs, aliases)
// select nothing.
func newestSatisfying(p *packument, rng string) (string, bool) {
	if _, tag := p.DistTags[rng]; tag {
		tags, _ := p.distTags()
		v, ok := tags[rng]
		return v, ok
	}
	if rng == "" || rng == "*" {
		rng = ">= 0.0.0-0"
	}
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return "", false
	}
	var best *semver.Version
	for v := range p.Versions {
		sv, err := semver.StrictNewVersion(v)
		if err != nil || sv.Original() != v || !c.Check(sv) {
			continue
		}
		if best == nil || sv.GreaterThan(best) {
			best = sv
		}
	}
	if best == nil {
		return "", false
	}
	return best.Original(), true
}

// Fetch streams the tarball of a's version, as the packument names it,
// after checking the registry still declares the planned digests.
func (s *Source) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if s.offline != nil {
		return nil, s.opErr("fetch", a.Key, errOffline)
	}
	doc, _, err := s.versionFor(ctx, a)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	u, err := url.Parse(doc.Dist.Tarball)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, s.opErr("fetch", a.Key, fmt.Errorf("dist.tarball %q is not an http(s) URL", httpx.RedactString(doc.Dist.Tarball)))
	}
	r := s.registryFor(a.Name)
	hdr := http.Header{}
	if r.token != "" && r.covers(u) {
		hdr.Set("Authorization", "Bearer "+r.token)
	}
	rc, _, err := r.http.GetStream(httpx.WithCredentialScope(ctx, r.base), doc.Dist.Tarball, hdr)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	return rc, nil
}

// Manifest is the version's document as the registry serves it.
func (s *Source) Manifest(ctx context.Context, a providers.Artifact) ([]byte, error) {
	_, raw, err := s.versionFor(ctx, a)
	if err != nil {
		return nil, s.opErr("manifest", a.Key, err)
	}
	return raw, nil
}

// versionFor finds a's version document and checks its digests still
// agree with a's.
func (s *Source) versionFor(ctx context.Context, a providers.Artifact) (versionDoc, []byte, error) {
	name, version, err := ParseKey(a.Key)
	if err != nil {
		return versionDoc{}, nil, err
	}
	p, err := s.packument(ctx, name)
	if err != nil {
		return versionDoc{}, nil, err
	}
	doc, err := p.version(version)
	if err != nil {
		return versionDoc{}, nil, err
	}
	ds, err := doc.Dist.digests()
	if err != nil {
		return versionDoc{}, nil, fmt.Errorf("%s@%s: %w", name, version, err)
	}
	if len(a.Digests) > 0 && !ds.Matches(a.Digests) {
		return versionDoc{}, nil, fmt.Errorf("%s@%s: the registry now declares %s, the plan %s (plan again): %w",
			name, version, ds.Primary(), a.Digests.Primary(), providers.ErrDigestMismatch)
	}
	return doc, p.Versions[version], nil
}

// DistTags are the package's dist-tags, as List read them, without those
// List noted as unusable (see packument.distTags).
func (s *Source) DistTags(ctx context.Context, name string) (map[string]string, error) {
	p, err := s.packument(ctx, name)
	if err != nil {
		return nil, s.opErr("list", name, err)
	}
	tags, _ := p.distTags()
	return tags, nil
}

// UpstreamHas tells a version removed upstream from one merely not
// selected.
func (s *Source) UpstreamHas(key string) (has, known bool) {
	name, version, err := ParseKey(key)
	if err != nil {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lp, ok := s.listed[name]
	if !ok {
		return false, false
	}
	return !lp.missing && lp.versions[version], true
}

// versionSelector is a compiled VersionFilter.
type versionSelector struct {
	rng    *semver.Constraints
	latest int
	tags   []string
}

func newVersionSelector(f VersionFilter) (versionSelector, error) {
	sel := versionSelector{latest: f.Latest, tags: f.DistTags}
	if f.Semver != "" {
		c, err := compileRange(f.Semver)
		if err != nil {
			return sel, fmt.Errorf("versions: semver %q: %w", f.Semver, err)
		}
		sel.rng = c
	}
	return sel, nil
}

// choose selects versions of p: those in range, newest first, cut to
// latest, plus what the dist-tags point at. A filter of dist-tags alone
// selects only those.
func (sel versionSelector) choose(p *packument) map[string]bool {
	out := map[string]bool{}
	if sel.rng != nil || sel.latest > 0 || len(sel.tags) == 0 {
		var cands []*semver.Version
		for v := range p.Versions {
			sv, err := semver.StrictNewVersion(v)
			if err != nil || sv.Original() != v || sel.rng != nil && !sel.rng.Check(sv) {
				continue
			}
			cands = append(cands, sv)
		}
		slices.SortFunc(cands, func(a, b *semver.Version) int { return b.Compare(a) })
		if sel.latest > 0 && len(cands) > sel.latest {
			cands = cands[:sel.latest]
		}
		for _, sv := range cands {
			out[sv.Original()] = true
		}
	}
	tags, _ := p.distTags()
	for _, t := range sel.tags {
		if v, ok := tags[t]; ok {
			out[v] = true
		}
	}
	return out
}

func osGetenv(k string) string { return os.Getenv(k) }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

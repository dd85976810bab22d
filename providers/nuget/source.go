package nuget

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/internal/doccache"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// DefaultMaxPackage bounds one downloaded .nupkg when max_artifact_size is
// not set (the source declares no sizes).
const DefaultMaxPackage = 8 << 30

// Bounds on what one listing reads, so a hostile or broken feed cannot
// keep it going forever.
const (
	searchPageSize     = 100
	maxSearchPages     = 10_000
	maxRegistrationPgs = 10_000
)

// Source is a NuGet v3 feed. List resolves the configured ids (globs by
// the feed's search), reads each package's versions from the flat
// container and its registration (listed state, deprecation, publish
// time, packageHash) and selects versions; Fetch downloads a version's
// .nupkg into a private temporary file, verifies it against the planned
// digests and its .nuspec id and version against the key, and only then
// hands it out. It is safe for concurrent use.
type Source struct {
	name string
	cfg  *SourceConfig
	feed *feedClient
	log  hclog.Logger
	// cache keeps what the catalog vouches for between plans; nil: none.
	cache *doccache.Store

	// offline, when set, is the air-gap listing the source lists from
	// instead of the feed (Offline).
	offline *offlineListing

	mu sync.Mutex
	// read is what the last listing read: each package by lower id, and
	// each glob's ids (UpstreamHas, Snapshot).
	read offlineListing
}

var (
	_ providers.Source           = (*Source)(nil)
	_ providers.UpstreamReporter = (*Source)(nil)
	_ providers.Describer        = (*Source)(nil)
)

// NewSource returns the source named name ("source.nuget.public").
func NewSource(name string, cfg *SourceConfig, env registry.Env) (*Source, error) {
	fc, err := newFeedClient(cfg.Feed, env)
	if err != nil {
		return nil, err
	}
	s := &Source{name: name, cfg: cfg, feed: fc, log: env.Log()}
	if env.CacheDir != nil {
		if dir := env.CacheDir("nuget"); dir != "" {
			// A cache that cannot be opened costs requests, not correctness.
			if s.cache, err = doccache.Open(dir); err != nil {
				s.log.Warn("the catalog cache is off", "error", err)
			}
		}
	}
	return s, nil
}

func (s *Source) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideSource, Provider: s.name, Key: key, Err: err}
}

// Describe names the feed (no credentials).
func (s *Source) Describe() string { return "nuget " + httpx.RedactString(s.cfg.ServiceIndex) }

// versionMeta is what a registration tells of one version (kept in the
// catalog cache as JSON).
type versionMeta struct {
	Listed bool `json:"listed"`
	// Deprecation is set when the feed declares the version deprecated
	// (registration, else its catalog leaf); nil: not deprecated.
	Deprecation *deprecation     `json:"deprecation,omitempty"`
	Published   time.Time        `json:"published,omitzero"`
	Digest      providers.Digest `json:"digest,omitzero"`      // zero when the registration declares no packageHash
	HashError   string           `json:"hash_error,omitempty"` // a packageHash that cannot be read
	// Leaf is the catalog entry's URL when the registration declares no
	// packageHash (nuget.org's registrations leave it to the catalog
	// leaf); read only for selected versions, then cleared.
	Leaf string `json:"leaf,omitempty"`
}

// packageData is what the feed says of one package: every version its
// flat container lists (normalized, in its order) and the registration's
// metadata by normalized version. Found is false when the flat container
// has no such package.
type packageData struct {
	Found    bool                   `json:"found"`
	Versions []string               `json:"versions"`
	Meta     map[string]versionMeta `json:"meta"`
}

// List reports the selected versions of every configured package,
// reading each from the feed.
func (s *Source) List(ctx context.Context, fn func(providers.Artifact) error) error {
	if s.offline != nil {
		return s.listOffline(ctx, fn)
	}
	res, err := s.feed.index(ctx)
	if err != nil {
		return s.opErr("list", "", err)
	}
	return s.list(ctx, res, fn,
		func(glob string) ([]string, error) { return s.search(ctx, res.search, glob) },
		func(id string) (packageData, error) { return s.readPackage(ctx, res, id) })
}

// leafDigests reads, for lowerID's selected versions whose registration
// declares no packageHash but names a catalog entry, the packageHash and
// deprecation that entry declares (nuget.org's catalog leaves carry
// them), into d. It reports whether it learnt anything.
func (s *Source) leafDigests(ctx context.Context, d packageData, arts []providers.Artifact) (bool, error) {
	learnt := false
	for _, a := range arts {
		m := d.Meta[a.Version]
		if len(a.Digests) > 0 || m.Leaf == "" || s.offline != nil {
			continue
		}
		var leaf struct {
			PackageHash          string          `json:"packageHash"`
			PackageHashAlgorithm string          `json:"packageHashAlgorithm"`
			Deprecation          json.RawMessage `json:"deprecation"`
		}
		if err := s.feed.getJSON(ctx, m.Leaf, &leaf); err != nil && !errors.Is(err, providers.ErrNotFound) {
			return learnt, fmt.Errorf("version %s: reading its catalog entry: %w", a.Version, err)
		}
		dg, err := packageDigest(leaf.PackageHash, leaf.PackageHashAlgorithm)
		if err != nil {
			m.HashError = err.Error()
		}
		m.Digest, m.Leaf = dg, "" // read: not again
		if m.Deprecation == nil {
			m.Deprecation = readDeprecation(leaf.Deprecation)
		}
		d.Meta[a.Version] = m
		learnt = true
	}
	return learnt, nil
}

// list reports the selected versions of every configured package, with
// globs resolved by globIDs and packages read by read (from the feed, or
// from the catalog cache).
func (s *Source) list(ctx context.Context, res resources, fn func(providers.Artifact) error,
	globIDs func(glob string) ([]string, error), read func(lowerID string) (packageData, error)) error {
	got := offlineListing{ServiceIndex: s.cfg.ServiceIndex, PackageBase: res.packageBase, Packages: map[string]packageData{}, Globs: map[string][]string{}}
	defer func() {
		s.mu.Lock()
		s.read = got
		s.mu.Unlock()
	}()
	set := map[string]bool{}
	for _, p := range s.cfg.Packages {
		if !isGlob(p) {
			set[strings.ToLower(p)] = true
			continue
		}
		if res.search == "" {
			return s.opErr("list", "", fmt.Errorf("the glob %q needs the feed's search (SearchQueryService), which its service index does not declare", p))
		}
		found, err := globIDs(p)
		if err != nil {
			return s.opErr("list", "", err)
		}
		got.Globs[strings.ToLower(p)] = found
		for _, id := range found {
			set[id] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(set)) {
		if err := ctx.Err(); err != nil {
			return s.opErr("list", "", err)
		}
		d, err := read(id)
		if err == nil && !d.Found && !s.fromGlob(id) {
			err = fmt.Errorf("the feed has no such package (its flat container answers 404): %w", providers.ErrNotFound)
		}
		if err != nil {
			return s.opErr("list", "", fmt.Errorf("package %s: %w", id, err))
		}
		got.Packages[id] = d
		arts, err := s.selectVersions(res, id, d)
		// A leaf may declare a deprecation that deselects its version and
		// brings in another, whose leaf is read in turn; each leaf is read
		// once, so this ends.
		for learnt := err == nil; learnt && err == nil; {
			if learnt, err = s.leafDigests(ctx, d, arts); learnt && err == nil {
				arts, err = s.selectVersions(res, id, d)
			}
		}
		for _, a := range arts {
			if err == nil && len(a.Digests) == 0 && s.cfg.RequirePackageHash {
				err = fmt.Errorf("version %s: the feed declares no packageHash (registration or catalog entry) to verify the .nupkg against "+
					"(set require_package_hash = false to mirror such a feed with only each package's .nuspec id and version checked)", a.Version)
			}
		}
		if err != nil {
			return s.opErr("list", "", fmt.Errorf("package %s: %w", id, err))
		}
		for _, a := range arts {
			if err := fn(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// UpstreamHas tells, for a key the last listing did not report, whether
// the feed still has the version (merely not selected: out of range, past
// latest, unlisted, deprecated, a pre-release) or no longer does (deleted, as a
// catalog PackageDelete says); known is false for a package the listing
// did not read.
func (s *Source) UpstreamHas(key string) (has, known bool) {
	lowerID, lowerVersion, err := ParseKey(key)
	if err != nil {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.read.Packages[lowerID]
	if !ok {
		return false, false
	}
	return slices.Contains(d.Versions, lowerVersion), true
}

// pathMatch matches a lower-case id against an id glob, case-insensitively.
func pathMatch(glob, lowerID string) (bool, error) {
	return path.Match(strings.ToLower(glob), lowerID)
}

// fromGlob reports whether lowerID is not configured as an exact id
// (only a glob found it): such a package may vanish from the feed.
func (s *Source) fromGlob(lowerID string) bool {
	for _, p := range s.cfg.Packages {
		if !isGlob(p) && strings.ToLower(p) == lowerID {
			return false
		}
	}
	return true
}

// search pages through the feed's search for the ids matching glob,
// querying its literal prefix.
func (s *Source) search(ctx context.Context, base, glob string) ([]string, error) {
	pattern := strings.ToLower(glob)
	q := pattern[:strings.IndexAny(pattern, "*?")]
	var ids []string
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxSearchPages {
			return nil, fmt.Errorf("searching for %q: more than %d pages of results", glob, maxSearchPages)
		}
		u, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("search URL: %w", err)
		}
		v := u.Query()
		v.Set("q", q)
		v.Set("skip", strconv.Itoa(page*searchPageSize))
		v.Set("take", strconv.Itoa(searchPageSize))
		v.Set("prerelease", "true")
		v.Set("semVerLevel", "2.0.0")
		u.RawQuery = v.Encode()
		var doc struct {
			TotalHits int `json:"totalHits"`
			Data      []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := s.feed.getJSON(ctx, u.String(), &doc); err != nil {
			return nil, fmt.Errorf("searching for %q: %w", glob, err)
		}
		for _, d := range doc.Data {
			id := strings.ToLower(d.ID)
			if ok, _ := pathMatch(glob, id); ok && ValidID(id) && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if len(doc.Data) < searchPageSize || (page+1)*searchPageSize >= doc.TotalHits {
			return ids, nil
		}
	}
}

// readPackage reads lowerID's versions and registration.
func (s *Source) readPackage(ctx context.Context, res resources, lowerID string) (packageData, error) {
	versions, err := s.feed.versions(ctx, lowerID)
	if errors.Is(err, providers.ErrNotFound) {
		return packageData{}, nil
	}
	if err != nil {
		return packageData{}, fmt.Errorf("reading its versions: %w", err)
	}
	meta, err := s.registration(ctx, res, lowerID)
	if err != nil {
		return packageData{}, fmt.Errorf("reading its registration: %w", err)
	}
	d := packageData{Found: true, Meta: meta}
	seen := map[string]bool{}
	for _, raw := range versions {
		v, ok := NormalizeVersion(raw)
		if !ok {
			s.log.Warn("skipping a version that is not a NuGet version", "package", lowerID, "version", raw)
			continue
		}
		if !seen[v] {
			seen[v] = true
			d.Versions = append(d.Versions, v)
		}
	}
	return d, nil
}

// selectVersions is the artifacts of lowerID's selected versions.
func (s *Source) selectVersions(res resources, lowerID string, d packageData) ([]providers.Artifact, error) {
	type candidate struct {
		version string
		meta    versionMeta
	}
	var cands []candidate
	for _, v := range d.Versions {
		m, known := d.Meta[v]
		if !known {
			// In the flat container but not in the registration: nothing
			// says it is unlisted, and nothing declares its hash.
			m = versionMeta{Listed: true}
		}
		switch {
		case !s.cfg.IncludePrerelease && IsPrerelease(v):
			continue
		case !s.cfg.IncludeUnlisted && !m.Listed:
			continue
		case !s.cfg.IncludeDeprecated && m.Deprecation != nil:
			continue
		case s.cfg.Versions != nil && !s.cfg.Versions.Contains(v):
			continue
		}
		cands = append(cands, candidate{v, m})
	}
	slices.SortFunc(cands, func(a, b candidate) int { return CompareVersions(b.version, a.version) })
	if s.cfg.Latest > 0 && len(cands) > s.cfg.Latest {
		cands = cands[:s.cfg.Latest]
	}
	arts := make([]providers.Artifact, 0, len(cands))
	for _, c := range cands {
		if c.meta.HashError != "" {
			return nil, fmt.Errorf("version %s: %s", c.version, c.meta.HashError)
		}
		a := providers.Artifact{
			Key: Key(lowerID, c.version), Name: lowerID, Version: c.version, Size: -1,
			Created: c.meta.Published,
			Origin:  httpx.RedactString(res.nupkgURL(lowerID, c.version)),
		}
		if !c.meta.Digest.IsZero() {
			a.Digests = providers.NewDigests(c.meta.Digest)
		}
		arts = append(arts, a)
	}
	return arts, nil
}

// registrationLeaf is one version in a registration page.
type registrationLeaf struct {
	CatalogEntry struct {
		Leaf                 string `json:"@id"`
		ID                   string `json:"id"`
		Version              string `json:"version"`
		Listed               *bool  `json:"listed"`
		Published            string `json:"published"`
		PackageHash          string `json:"packageHash"`
		PackageHashAlgorithm string `json:"packageHashAlgorithm"`
		// Deprecation is read leniently (readDeprecation): a malformed one
		// must not fail the whole registration.
		Deprecation json.RawMessage `json:"deprecation"`
	} `json:"catalogEntry"`
}

// deprecation is a version's deprecation as a registration's catalogEntry
// or a catalog leaf declares it (NuGet's registration-base-url-resource.md,
// "Package deprecation").
type deprecation struct {
	Reasons          []string          `json:"reasons,omitempty"` // "Legacy", "CriticalBugs", "Other"
	Message          string            `json:"message,omitempty"`
	AlternatePackage *alternatePackage `json:"alternatePackage,omitempty"`
}

type alternatePackage struct {
	ID    string `json:"id"`
	Range string `json:"range,omitempty"`
}

// readDeprecation is the deprecation a document declares; nil when it
// declares none (absent or null). The object's presence is what makes a
// version deprecated: one ferry cannot read still counts, without details.
func readDeprecation(raw json.RawMessage) *deprecation {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var d deprecation
	if json.Unmarshal(raw, &d) != nil {
		return &deprecation{}
	}
	return &d
}

type registrationPage struct {
	ID    string              `json:"@id"`
	Items []*registrationLeaf `json:"items"`
}

// registration reads lowerID's registration index (and the pages it does
// not inline) into metadata by normalized version. A package without a
// registration (404) has no metadata.
func (s *Source) registration(ctx context.Context, res resources, lowerID string) (map[string]versionMeta, error) {
	out := map[string]versionMeta{}
	if res.registration == "" {
		return out, nil
	}
	var index struct {
		Items []registrationPage `json:"items"`
	}
	if err := s.feed.getJSON(ctx, res.registration+url.PathEscape(lowerID)+"/index.json", &index); err != nil {
		if errors.Is(err, providers.ErrNotFound) {
			return out, nil
		}
		return nil, err
	}
	if len(index.Items) > maxRegistrationPgs {
		return nil, fmt.Errorf("the registration has more than %d pages", maxRegistrationPgs)
	}
	for _, page := range index.Items {
		items := page.Items
		if items == nil {
			if page.ID == "" {
				return nil, fmt.Errorf("a registration page has neither items nor @id")
			}
			var full registrationPage
			if err := s.feed.getJSON(ctx, page.ID, &full); err != nil {
				return nil, fmt.Errorf("reading a registration page: %w", err)
			}
			items = full.Items
		}
		for _, leaf := range items {
			if leaf == nil {
				continue
			}
			e := leaf.CatalogEntry
			v, ok := NormalizeVersion(e.Version)
			if !ok {
				continue
			}
			m := versionMeta{Listed: e.Listed == nil || *e.Listed, Deprecation: readDeprecation(e.Deprecation)}
			if t, err := time.Parse(time.RFC3339Nano, e.Published); err == nil && t.Year() > 1900 {
				// nuget.org sets year 1900 on unlisted versions.
				m.Published = t.UTC()
			}
			d, err := packageDigest(e.PackageHash, e.PackageHashAlgorithm)
			if err != nil {
				m.HashError = err.Error()
			}
			m.Digest = d
			if d.IsZero() && err == nil {
				m.Leaf = e.Leaf
			}
			out[v] = m
		}
	}
	return out, nil
}

// packageDigest reads a declared packageHash (standard base64) and its
// algorithm (SHA512 when absent); zero when none is declared.
func packageDigest(hash, alg string) (providers.Digest, error) {
	if hash == "" {
		return providers.Digest{}, nil
	}
	var a providers.Algorithm
	switch strings.ToUpper(alg) {
	case "", "SHA512":
		a = providers.SHA512
	case "SHA256":
		a = providers.SHA256
	default:
		return providers.Digest{}, fmt.Errorf("the registration declares a packageHash with algorithm %q, which ferry cannot verify", alg)
	}
	raw, err := base64.StdEncoding.DecodeString(hash)
	if err != nil {
		return providers.Digest{}, fmt.Errorf("the registration's packageHash is not base64: %w", err)
	}
	d := providers.Digest{Algorithm: a, Hex: hex.EncodeToString(raw)}
	if err := d.Validate(); err != nil {
		return providers.Digest{}, fmt.Errorf("the registration's packageHash: %w", err)
	}
	return d, nil
}

// Fetch downloads a's .nupkg from the flat container into a private
// temporary file, verifying its size and digests as planned and its
// .nuspec id and version against a.Key, and returns the verified bytes.
func (s *Source) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if s.offline != nil {
		return nil, s.opErr("fetch", a.Key, errOffline)
	}
	lowerID, lowerVersion, err := ParseKey(a.Key)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	res, err := s.feed.index(ctx)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	body, _, err := s.feed.get(ctx, res.nupkgURL(lowerID, lowerVersion))
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	defer body.Close()
	f, err := spool(ctx, body, a, s.feed.maxSize)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	if err := checkIdentity(f, lowerID, lowerVersion); err != nil {
		f.Close()
		return nil, s.opErr("fetch", a.Key, err)
	}
	return f, nil
}

// errTooLarge is what a download past the size bound fails with.
var errTooLarge = errors.New("the package is larger than max_artifact_size (raise it in the ferry block if it is genuine)")

// spooled is a verified package in a private temporary file, removed on
// Close.
type spooled struct {
	*os.File
	size int64
	sum  providers.Digests // the sha256 and sha512 of the bytes
}

// Close closes and removes the file.
func (f *spooled) Close() error {
	err := f.File.Close()
	os.Remove(f.Name())
	return err
}

// spool copies r into a temporary file through a verifying reader
// (a.Size and a.Digests, at most max bytes when the size is unknown) and
// rewinds it.
func spool(ctx context.Context, r io.Reader, a providers.Artifact, max int64) (*spooled, error) {
	tmp, err := os.CreateTemp("", "ferry-nuget-*.nupkg")
	if err != nil {
		return nil, err
	}
	f := &spooled{File: tmp}
	sha512 := providers.SHA512.New()
	vr := verify.NewReader(providers.ContextReader(ctx, r), a.Size, a.Digests).Limit(max, errTooLarge)
	n, err := io.Copy(io.MultiWriter(tmp, sha512), vr)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	f.size = n
	f.sum = vr.Digests().With(providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(sha512.Sum(nil))})
	return f, nil
}

// checkIdentity fails unless the spooled package's .nuspec names lowerID's
// lowerVersion.
func checkIdentity(f *spooled, lowerID, lowerVersion string) error {
	id, err := ReadIdentity(f.File, f.size)
	if err == nil {
		err = id.Check(lowerID, lowerVersion)
	}
	if err != nil {
		return fmt.Errorf("refusing the package: %w", err)
	}
	return nil
}

var _ providers.Sizer = (*Source)(nil)

// Size asks the flat container for the .nupkg's length (HEAD), which the
// plan shows and apply bounds the download by; -1 when the feed does not
// tell (a feed that refuses HEAD).
func (s *Source) Size(ctx context.Context, a providers.Artifact) (int64, error) {
	if s.offline != nil {
		return -1, nil
	}
	lowerID, lowerVersion, err := ParseKey(a.Key)
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	res, err := s.feed.index(ctx)
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	n, err := s.feed.head(ctx, res.nupkgURL(lowerID, lowerVersion))
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	return n, nil
}

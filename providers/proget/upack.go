package proget

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/internal/keylock"
	"github.com/ferry-mirror/ferry/providers/internal/semver2"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// CompareVersions orders universal package versions, which are SemVer 2
// (semver2.Compare): retention's keep_last ranks by it.
func CompareVersions(a, b string) int { return semver2.Compare(a, b) }

// Package is one universal package version's identity.
type Package struct {
	Group, Name, Version string
}

// ID is "group/name", or "name" in the empty group: retention's package.
func (p Package) ID() string {
	if p.Group == "" {
		return p.Name
	}
	return p.Group + "/" + p.Name
}

// Key is where the version lives in a mirror:
// "GROUP/NAME/VERSION/NAME-VERSION.upack" ("NAME/VERSION/…" in the empty
// group). The group is kept whole, so packages of the same name in two
// groups never share a key.
func (p Package) Key() string {
	return p.ID() + "/" + p.Version + "/" + p.Name + "-" + p.Version + ".upack"
}

var (
	groupRE = regexp.MustCompile(`^[0-9A-Za-z._/-]{0,250}$`)
	nameRE  = regexp.MustCompile(`^[0-9A-Za-z._-]{1,50}$`)
)

// Validate checks p against the upack.json rules
// (docs.inedo.com, universal packages, "Manifest"): group 0-250 of
// [0-9A-Za-z._/-] not starting or ending with "/", name 1-50 of
// [0-9A-Za-z._-], version SemVer 2; and that it makes a clean key (no
// empty, "." or ".." group segment or name).
func (p Package) Validate() error {
	switch {
	case !groupRE.MatchString(p.Group) || strings.HasPrefix(p.Group, "/") || strings.HasSuffix(p.Group, "/"):
		return fmt.Errorf("invalid group %q: 0 to 250 letters, digits, '.', '-', '_' and '/', not starting or ending with '/'", p.Group)
	case !nameRE.MatchString(p.Name):
		return fmt.Errorf("invalid name %q: 1 to 50 letters, digits, '.', '-' and '_'", p.Name)
	case !semver2.Valid(p.Version):
		return fmt.Errorf("invalid version %q: not a SemVer 2 version (like 1.2.3 or 1.2.3-rc.1)", p.Version)
	case p.Group != "" && !cleanPath(p.Group), p.Name == "." || p.Name == "..":
		return fmt.Errorf("group %q and name %q do not make a path: no empty, \".\" or \"..\" part", p.Group, p.Name)
	}
	return nil
}

// ParseKey reads a key Key made.
func ParseKey(key string) (Package, error) {
	if err := providers.CheckKey(key); err != nil {
		return Package{}, err
	}
	segs := strings.Split(key, "/")
	if len(segs) < 3 {
		return Package{}, fmt.Errorf("%w %q: a universal package key is [GROUP/]NAME/VERSION/NAME-VERSION.upack", providers.ErrInvalidKey, key)
	}
	n := len(segs)
	p := Package{Group: strings.Join(segs[:n-3], "/"), Name: segs[n-3], Version: segs[n-2]}
	if segs[n-1] != p.Name+"-"+p.Version+".upack" {
		return Package{}, fmt.Errorf("%w %q: a universal package key ends NAME/VERSION/NAME-VERSION.upack", providers.ErrInvalidKey, key)
	}
	if err := p.Validate(); err != nil {
		return Package{}, fmt.Errorf("%w %q: %v", providers.ErrInvalidKey, key, err)
	}
	return p, nil
}

// ErrManifest is wrapped when a package's upack.json is missing, invalid,
// or disagrees with what the feed listed.
var ErrManifest = errors.New("upack.json does not match")

// checkManifest reads upack.json from the package in f (size bytes) and
// compares it with want: group and name case-insensitively (ProGet
// matches them so), the version exactly.
func checkManifest(f io.ReaderAt, size int64, want Package) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%w: the package is not a zip archive: %v", ErrManifest, err)
	}
	for _, zf := range zr.File {
		if zf.Name != "upack.json" {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("%w: reading upack.json: %v", ErrManifest, err)
		}
		defer rc.Close()
		var m struct {
			Group   *string `json:"group"`
			Name    *string `json:"name"`
			Version *string `json:"version"`
		}
		if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
			return fmt.Errorf("%w: upack.json is not a JSON object: %v", ErrManifest, err)
		}
		if m.Name == nil || m.Version == nil {
			return fmt.Errorf("%w: upack.json lacks name or version", ErrManifest)
		}
		got := Package{Name: *m.Name, Version: *m.Version}
		if m.Group != nil {
			got.Group = *m.Group
		}
		if err := got.Validate(); err != nil {
			return fmt.Errorf("%w: upack.json: %v", ErrManifest, err)
		}
		if !strings.EqualFold(got.Group, want.Group) || !strings.EqualFold(got.Name, want.Name) || got.Version != want.Version {
			return fmt.Errorf("%w: the package's upack.json says group %q, name %q, version %q, but it is listed as group %q, name %q, version %q; nothing is mirrored from it",
				ErrManifest, got.Group, got.Name, got.Version, want.Group, want.Name, want.Version)
		}
		return nil
	}
	return fmt.Errorf("%w: the package has no upack.json at its root", ErrManifest)
}

// versionInfo is the part of ProGet's PackageVersionInfo ferry reads.
type versionInfo struct {
	Group     string `json:"group"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Size      int64  `json:"size"`
	Published string `json:"published"`
	hashes
}

// feed is one universal feed through the Common Packages API.
type feed struct {
	c    *client
	name string
}

func (f *feed) api(op string, q url.Values) string {
	p := "/api/packages/" + url.PathEscape(f.name) + "/" + op
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// query identifies p (group only when not empty).
func query(p Package, withVersion bool) url.Values {
	q := url.Values{"name": {p.Name}}
	if p.Group != "" {
		q.Set("group", p.Group)
	}
	if withVersion {
		q.Set("version", p.Version)
	}
	return q
}

// versionList decodes a versions answer: an array, or an empty object for
// a package that does not exist (as the docs say).
func (f *feed) versions(ctx context.Context, p Package, withVersion bool) ([]versionInfo, error) {
	var raw json.RawMessage
	if err := f.c.getJSON(ctx, f.api("versions", query(p, withVersion)), &raw); err != nil {
		return nil, err
	}
	var out []versionInfo
	if err := json.Unmarshal(raw, &out); err != nil {
		var empty map[string]any
		if json.Unmarshal(raw, &empty) == nil && len(empty) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("unreadable version list: %w", err)
	}
	// Without a group parameter ProGet may answer for every group: keep
	// the asked one only.
	return slices.DeleteFunc(out, func(v versionInfo) bool {
		return !strings.EqualFold(v.Group, p.Group) || !strings.EqualFold(v.Name, p.Name)
	}), nil
}

// artifact describes a listed version.
func (f *feed) artifact(v versionInfo) (providers.Artifact, error) {
	p := Package{Group: v.Group, Name: v.Name, Version: v.Version}
	if err := p.Validate(); err != nil {
		return providers.Artifact{}, fmt.Errorf("the feed lists %s %s: %w", p.ID(), p.Version, err)
	}
	ds, err := v.digests()
	if err != nil {
		return providers.Artifact{}, fmt.Errorf("%s: %w", p.Key(), err)
	}
	size := v.Size
	if size <= 0 {
		size = -1 // an upack is never empty; 0 means the feed did not say
	}
	return providers.Artifact{
		Key: p.Key(), Name: p.ID(), Version: p.Version, Size: size, Digests: ds,
		Created: published(v.Published),
		Origin:  f.c.base + f.api("download", query(p, true)),
	}, nil
}

// list calls fn for every version of every package match selects, by
// package and version.
func (f *feed) list(ctx context.Context, match func(Package) bool, fn func(providers.Artifact) error) error {
	var latest []versionInfo
	if err := f.c.getJSON(ctx, f.api("latest", nil), &latest); err != nil {
		return err
	}
	slices.SortFunc(latest, func(a, b versionInfo) int {
		return strings.Compare(Package{Group: a.Group, Name: a.Name}.ID(), Package{Group: b.Group, Name: b.Name}.ID())
	})
	for _, l := range latest {
		p := Package{Group: l.Group, Name: l.Name}
		if !match(p) {
			continue
		}
		vs, err := f.versions(ctx, p, false)
		if err != nil {
			return fmt.Errorf("listing the versions of %s: %w", p.ID(), err)
		}
		slices.SortFunc(vs, func(a, b versionInfo) int { return CompareVersions(a.Version, b.Version) })
		for _, v := range vs {
			a, err := f.artifact(v)
			if err != nil {
				return err
			}
			if err := fn(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// stat describes the version at key.
func (f *feed) stat(ctx context.Context, p Package) (providers.Artifact, error) {
	vs, err := f.versions(ctx, p, true)
	if err != nil {
		return providers.Artifact{}, err
	}
	for _, v := range vs {
		if v.Version == p.Version {
			return f.artifact(v)
		}
	}
	return providers.Artifact{}, providers.ErrNotFound
}

// UpackSource reads a universal feed.
type UpackSource struct {
	end
	feed     *feed
	patterns []string
	cached   *cached // offline: the air-gap cache's listing
}

var (
	_ providers.Source    = (*UpackSource)(nil)
	_ providers.Describer = (*UpackSource)(nil)
)

// NewUpackSource returns the source named name ("proget_upack.build").
func NewUpackSource(name string, cfg *UpackConfig, env registry.Env) (*UpackSource, error) {
	c, err := newClient(cfg.Server, "universal feed "+cfg.Feed, env)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	return &UpackSource{end: end{name, providers.SideSource}, feed: &feed{c: c, name: cfg.Feed}, patterns: cfg.Packages}, nil
}

// Describe names the feed (no credentials).
func (s *UpackSource) Describe() string {
	return "ProGet universal feed " + s.feed.name + " at " + s.feed.c.base
}

func (s *UpackSource) selected(p Package) bool {
	if len(s.patterns) == 0 {
		return true
	}
	for _, pat := range s.patterns {
		if ok, _ := path.Match(pat, p.ID()); ok {
			return true
		}
	}
	return false
}

// List reports every version of every selected package, with the sizes
// and hashes the feed declares.
func (s *UpackSource) List(ctx context.Context, fn func(providers.Artifact) error) error {
	if s.cached != nil {
		return s.cached.list(ctx, fn)
	}
	return s.listing(ctx, func(ctx context.Context, fn func(providers.Artifact) error) error {
		return s.feed.list(ctx, s.selected, fn)
	}, fn)
}

// Fetch downloads the version into a temporary file, verifying the size
// and every hash the feed declared (at least a sha256 or sha1, or nothing
// is fetched), then checks its upack.json against the listing, and
// returns the verified bytes.
func (s *UpackSource) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if s.cached != nil {
		return nil, s.opErr("fetch", a.Key, errOffline)
	}
	p, err := ParseKey(a.Key)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	if err := checkDeclared(a); err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	rc, err := s.feed.c.get(ctx, s.feed.api("download", query(p, true)))
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	defer rc.Close()
	sp, err := spool(ctx, rc, a)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	if err := checkManifest(sp.File, sp.size, p); err != nil {
		sp.Close()
		return nil, s.opErr("fetch", a.Key, err)
	}
	return sp, nil
}

// UpackStore writes into a universal feed.
type UpackStore struct {
	end
	feed  *feed
	locks keylock.Locks
}

var (
	_ providers.Destination = (*UpackStore)(nil)
	_ providers.Lister      = (*UpackStore)(nil)
	_ providers.Describer   = (*UpackStore)(nil)
)

// NewUpackDestination returns the destination named name.
func NewUpackDestination(name string, cfg *UpackConfig, env registry.Env) (*UpackStore, error) {
	c, err := newClient(cfg.Server, "universal feed "+cfg.Feed, env)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", name, err)
	}
	return &UpackStore{end: end{name, providers.SideDestination}, feed: &feed{c: c, name: cfg.Feed}}, nil
}

// Describe names the feed (no credentials).
func (s *UpackStore) Describe() string {
	return "ProGet universal feed " + s.feed.name + " at " + s.feed.c.base
}

// List reports every version the feed holds.
func (s *UpackStore) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.listing(ctx, func(ctx context.Context, fn func(providers.Artifact) error) error {
		return s.feed.list(ctx, func(Package) bool { return true }, fn)
	}, fn)
}

// Stat reports the version's size and the hashes the feed declares.
func (s *UpackStore) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	p, err := ParseKey(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	a, err := s.feed.stat(ctx, p)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	a.Key = key
	return a, nil
}

// Put verifies the bytes into a temporary file, checks the package's
// upack.json against the key, uploads it, and reads the feed's hashes
// back: a feed that stored other bytes is an error.
func (s *UpackStore) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	p, err := ParseKey(a.Key)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	sp, err := spool(ctx, r, a)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer sp.Close()
	if err := checkManifest(sp.File, sp.size, p); err != nil {
		return s.opErr("put", a.Key, err)
	}
	unlock, err := s.locks.Lock(ctx, strings.ToLower(p.ID()+"@"+p.Version))
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer unlock()
	if !opts.Overwrite {
		if _, err := s.feed.stat(ctx, p); err == nil {
			return s.opErr("put", a.Key, fmt.Errorf("the feed already holds %s %s: %w", p.ID(), p.Version, providers.ErrAlreadyExists))
		} else if !errors.Is(err, providers.ErrNotFound) {
			return s.opErr("put", a.Key, err)
		}
	}
	if err := s.feed.c.send(ctx, http.MethodPut, s.feed.api("upload", nil), sp.reader(), sp.size); err != nil {
		return s.opErr("put", a.Key, err)
	}
	got, err := s.feed.stat(ctx, p)
	if err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("reading the uploaded package back: %w", err))
	}
	if err := sameBytes(got, sp); err != nil {
		return s.opErr("put", a.Key, err)
	}
	return nil
}

// sameBytes checks what the server reports against the bytes sent: the
// size when it reports one, and a sha256 or sha1 it must report.
func sameBytes(got providers.Artifact, sent *spooled) error {
	if got.Size >= 0 && got.Size != sent.size {
		return fmt.Errorf("the server stored %d bytes, %d were sent: %w", got.Size, sent.size, providers.ErrSizeMismatch)
	}
	checked := false
	for _, alg := range []providers.Algorithm{providers.SHA256, providers.SHA1} {
		d, ok := got.Digests.Get(alg)
		if !ok {
			continue
		}
		want, ok := sent.digests.Get(alg)
		if !ok {
			h := alg.New()
			if _, err := io.Copy(h, io.NewSectionReader(sent.File, 0, sent.size)); err != nil {
				return err
			}
			want = providers.Digest{Algorithm: alg, Hex: fmt.Sprintf("%x", h.Sum(nil))}
		}
		if d != want {
			return &providers.MismatchError{What: string(alg), Want: want.Hex, Got: d.Hex}
		}
		checked = true
	}
	if !checked {
		return fmt.Errorf("after the upload the server reports neither a sha256 nor a sha1, so the stored bytes cannot be verified: %w", providers.ErrDigestMismatch)
	}
	return nil
}

// Delete removes the version (POST …/delete, which ProGet Free allows 10
// times an hour). A version the feed does not hold is ErrNotFound.
func (s *UpackStore) Delete(ctx context.Context, key string) error {
	p, err := ParseKey(key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	unlock, err := s.locks.Lock(ctx, strings.ToLower(p.ID()+"@"+p.Version))
	if err != nil {
		return s.opErr("delete", key, err)
	}
	defer unlock()
	if _, err := s.feed.stat(ctx, p); err != nil {
		return s.opErr("delete", key, err)
	}
	if err := s.feed.c.send(ctx, http.MethodPost, s.feed.api("delete", query(p, true)), nil, 0); err != nil {
		return s.opErr("delete", key, err)
	}
	return nil
}

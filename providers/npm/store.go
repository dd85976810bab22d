package npm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/internal/keylock"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// Store is the "npm" destination: it publishes versions to a registry
// (PutWithManifest), reads them back from the package document (Stat),
// unpublishes them (Delete) and keeps dist-tags and deprecations
// (UpdatePackage). It is safe for concurrent use; writes to one package
// are serialised, since registries update a package document as a whole.
type Store struct {
	name string
	log  hclog.Logger
	reg  *registry
	docs docCache
	pkgs keylock.Locks
}

var (
	_ providers.Destination     = (*Store)(nil)
	_ providers.ManifestPutter  = (*Store)(nil)
	_ providers.URLer           = (*Store)(nil)
	_ providers.Describer       = (*Store)(nil)
	_ providers.ConsumerChecker = (*Store)(nil)
)

// NewDestination returns the destination named name ("npm.internal");
// env.Getenv as for NewSource.
func NewDestination(name string, cfg *DestinationConfig, env provreg.Env) (*Store, error) {
	r, err := openRegistry(cfg.Registry, env.Client(), env.Getenv)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", name, err)
	}
	return &Store{name: name, log: env.Log(), reg: r}, nil
}

// Describe names the registry (no credentials).
func (s *Store) Describe() string { return "npm " + s.reg.String() }

func (s *Store) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideDestination, Provider: s.name, Key: key, Err: err}
}

func (s *Store) packument(ctx context.Context, name string) (*packument, error) {
	return s.docs.get(ctx, name, func(ctx context.Context) (*packument, error) {
		return s.reg.packument(ctx, name, false)
	})
}

// Stat reports the version's digests as the registry's document declares
// them (dist.integrity and shasum); Size is unknown (-1).
func (s *Store) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	name, version, err := ParseKey(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	p, err := s.packument(ctx, name)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	doc, err := p.version(version)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	ds, err := doc.Dist.digests()
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, fmt.Errorf("%s@%s: %w", name, version, err))
	}
	return providers.Artifact{Key: key, Name: name, Version: version, Size: -1, Digests: ds}, nil
}

// URL is the tarball URL npm clients download the version from.
func (s *Store) URL(a providers.Artifact) (string, error) {
	if _, _, err := ParseKey(a.Key); err != nil {
		return "", fmt.Errorf("destination %s: %w", s.name, err)
	}
	return s.reg.url(a.Key), nil
}

// CheckConsumerAccess reports a registry that refuses anonymous reads:
// npm clients then need a token in their .npmrc.
func (s *Store) CheckConsumerAccess(ctx context.Context) []string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.reg.url("-/ping"), nil)
	if err != nil {
		return nil
	}
	resp, err := s.reg.http.Do(req)
	if err != nil {
		return []string{fmt.Sprintf("Could not check whether npm registry %s serves anonymous reads: %v.", s.reg, err)}
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return []string{fmt.Sprintf("npm registry %s refuses anonymous reads (%s): npm clients need a token for it in their .npmrc.", s.reg, resp.Status)}
	}
	return nil
}

// Put refuses: a registry publishes a tarball only with its version
// document, which only an npm source provides (PutWithManifest).
func (s *Store) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	return s.opErr("put", a.Key, fmt.Errorf("an npm destination publishes package versions from an npm source, with their metadata: %w", providers.ErrUnsupported))
}

// PutWithManifest publishes the version: the tarball is spooled to a
// temporary file while its sha512 and sha1 are computed, checked against
// the document's dist (and a's digests, which the engine's reader verifies
// as well), then sent as the base64 attachment of a publish document
// holding manifest unchanged but for dist.tarball. The version is read back
// afterwards; a registry that stored other digests is an error. No
// dist-tag is set here (UpdatePackage does, after every version landed),
// so a backfilled old version never moves latest.
func (s *Store) PutWithManifest(ctx context.Context, a providers.Artifact, manifest []byte, r io.Reader, opts providers.PutOptions) error {
	name, version, err := ParseKey(a.Key)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	if opts.Overwrite {
		return s.opErr("put", a.Key, fmt.Errorf("npm registries do not replace a published version (%s@%s): unpublish it "+
			"(npm unpublish %s@%s) and apply again: %w", name, version, name, version, providers.ErrUnsupported))
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(manifest, &doc); err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("unreadable version document: %w", err))
	}
	var vd versionDoc
	if err := json.Unmarshal(manifest, &vd); err != nil || vd.Name != name || vd.Version != version {
		return s.opErr("put", a.Key, fmt.Errorf("the version document is not %s@%s", name, version))
	}
	declared, err := vd.Dist.digests()
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	if len(a.Digests) > 0 && !declared.Matches(a.Digests) {
		return s.opErr("put", a.Key, fmt.Errorf("the version document declares %s, the plan %s: %w", declared.Primary(), a.Digests.Primary(), providers.ErrDigestMismatch))
	}

	unlock, err := s.pkgs.Lock(ctx, name)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer unlock()

	// The bytes must be a's (size and every digest, as for any Put) and the
	// document's: each check catches what the other cannot see.
	f, got, err := spool(ctx, verify.NewReader(r, a.Size, a.Digests))
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	for _, d := range declared {
		if g, ok := got.digests.Get(d.Algorithm); ok && g.Hex != d.Hex {
			return s.opErr("put", a.Key, &providers.MismatchError{What: string(d.Algorithm), Want: d.Hex, Got: g.Hex})
		}
	}

	// dist keeps the upstream's integrity and shasum; the tarball URL is
	// the destination's (registries regenerate it anyway).
	var distFields map[string]json.RawMessage
	if err := json.Unmarshal(doc["dist"], &distFields); err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("unreadable dist: %w", err))
	}
	distFields["tarball"], _ = json.Marshal(s.reg.url(a.Key))
	doc["dist"], _ = json.Marshal(distFields)
	versionJSON, err := json.Marshal(doc)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	attachment := name + "-" + version + ".tgz"
	head, _ := json.Marshal(name)
	var pre bytes.Buffer
	fmt.Fprintf(&pre, `{"_id":%s,"name":%s,"dist-tags":{},"versions":{%s:%s},"_attachments":{%s:{"content_type":"application/octet-stream","length":%d,"data":"`,
		head, head, mustJSON(version), versionJSON, mustJSON(attachment), got.size)
	post := []byte(`"}}}`)
	prefix := pre.Bytes()
	b64len := int64(base64.StdEncoding.EncodedLen(int(got.size)))
	body := func() (io.ReadCloser, error) {
		sr := io.NewSectionReader(f, 0, got.size)
		pr, pw := io.Pipe()
		go func() {
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			_, err := io.Copy(enc, sr)
			if err == nil {
				err = enc.Close()
			}
			pw.CloseWithError(err)
		}()
		return io.NopCloser(io.MultiReader(bytes.NewReader(prefix), pr, bytes.NewReader(post))), nil
	}
	rc, _ := body()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.reg.url(escapeName(name)), rc)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	req.GetBody = body
	req.ContentLength = int64(len(prefix)) + b64len + int64(len(post))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("npm-command", "publish")
	req = s.reg.authorize(req)
	resp, err := s.reg.http.Do(req)
	s.docs.forget(name)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	if err := s.reg.check(resp, http.MethodPut, req.URL.String()); err != nil {
		if errors.Is(err, providers.ErrAlreadyExists) {
			return s.opErr("put", a.Key, fmt.Errorf("%s@%s is already published: %w", name, version, err))
		}
		return s.opErr("put", a.Key, err)
	}

	// Read it back: what consumers will verify is what the registry serves.
	stored, err := s.Stat(ctx, a.Key)
	if err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("reading back the published version: %w", err))
	}
	if !stored.Digests.Matches(declared) {
		return s.opErr("put", a.Key, fmt.Errorf("the registry declares %s for the published version, not %s", stored.Digests.Primary(), declared.Primary()))
	}
	s.log.Debug("published", "package", name, "version", version, "bytes", got.size)
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings always marshal
	}
	return b
}

// spooled is what spool measured.
type spooled struct {
	size    int64
	digests providers.Digests
}

// spool copies r to a temporary file, hashing it.
func spool(ctx context.Context, r io.Reader) (*os.File, spooled, error) {
	f, err := os.CreateTemp("", "ferry-npm-*.tgz")
	if err != nil {
		return nil, spooled{}, err
	}
	h512, h1 := sha512.New(), sha1.New()
	n, err := io.Copy(io.MultiWriter(f, h512, h1), providers.ContextReader(ctx, r))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		var mm *providers.MismatchError
		if errors.As(err, &mm) {
			return nil, spooled{}, mm
		}
		return nil, spooled{}, fmt.Errorf("reading the source: %w", err)
	}
	return f, spooled{size: n, digests: providers.NewDigests(
		providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(h512.Sum(nil))},
		providers.Digest{Algorithm: providers.SHA1, Hex: hex.EncodeToString(h1.Sum(nil))},
	)}, nil
}

// check is do's status handling for a response the caller sent itself.
func (r *registry) check(resp *http.Response, method, rawURL string) error {
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict {
		return fmt.Errorf("%s %s: 409 Conflict%s: %w", method, httpx.RedactString(rawURL), readMessage(resp.Body), providers.ErrAlreadyExists)
	}
	if code := resp.StatusCode; code >= 400 && code != http.StatusNotFound && code != http.StatusUnauthorized && code != http.StatusForbidden {
		return fmt.Errorf("%s %s: %s%s", method, httpx.RedactString(rawURL), resp.Status, r.scrub(readMessage(resp.Body)))
	}
	if err := httpx.CheckResponse(resp); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// scrub drops a registry message that quotes the token.
func (r *registry) scrub(msg string) string {
	if r.token != "" && bytes.Contains([]byte(msg), []byte(r.token)) {
		return ""
	}
	return msg
}

// StatPackage reports the package's dist-tags and deprecated versions.
func (s *Store) StatPackage(ctx context.Context, name string) (PackageMeta, error) {
	p, err := s.packument(ctx, name)
	if err != nil {
		return PackageMeta{}, s.opErr("stat", name, err)
	}
	meta := PackageMeta{Tags: p.DistTags}
	for v := range p.Versions {
		doc, err := p.version(v)
		if err != nil {
			continue
		}
		if msg := doc.deprecation(); msg != "" {
			if meta.Deprecated == nil {
				meta.Deprecated = map[string]string{}
			}
			meta.Deprecated[v] = msg
		}
	}
	return meta, nil
}

// UpdatePackage points dist-tags at versions and removes dist-tags (one
// request per tag, as npm dist-tag add/rm) and deprecates versions (one
// document update).
func (s *Store) UpdatePackage(ctx context.Context, name string, u PackageUpdate) error {
	unlock, err := s.pkgs.Lock(ctx, name)
	if err != nil {
		return s.opErr("update", name, err)
	}
	defer unlock()
	defer s.docs.forget(name)
	for _, tag := range slices.Sorted(maps.Keys(u.SetTags)) {
		body, _ := json.Marshal(u.SetTags[tag])
		if _, err := s.reg.do(ctx, http.MethodPut, s.reg.url("-/package/"+escapeName(name)+"/dist-tags/"+pathEscape(tag)), body, 1<<20); err != nil {
			return s.opErr("update", name, fmt.Errorf("setting dist-tag %s to %s: %w", tag, u.SetTags[tag], err))
		}
	}
	for _, tag := range u.RemoveTags {
		if tag == "latest" {
			// npm refuses it, and a package always has a latest.
			return s.opErr("update", name, errors.New("the latest dist-tag cannot be removed"))
		}
		_, err := s.reg.do(ctx, http.MethodDelete, s.reg.url("-/package/"+escapeName(name)+"/dist-tags/"+pathEscape(tag)), nil, 1<<20)
		if err != nil && !errors.Is(err, providers.ErrNotFound) {
			return s.opErr("update", name, fmt.Errorf("removing dist-tag %s: %w", tag, err))
		}
	}
	if len(u.Deprecate) > 0 {
		if err := s.deprecate(ctx, name, u.Deprecate); err != nil {
			return s.opErr("update", name, err)
		}
	}
	return nil
}

// deprecate sets versions[v].deprecated in the writable document and puts
// it back without attachments (npm deprecate's request).
func (s *Store) deprecate(ctx context.Context, name string, msgs map[string]string) error {
	doc, versions, err := s.writableDoc(ctx, name)
	if err != nil {
		return err
	}
	for _, v := range slices.Sorted(maps.Keys(msgs)) {
		raw, ok := versions[v]
		if !ok {
			return fmt.Errorf("deprecating %s@%s: %w", name, v, providers.ErrNotFound)
		}
		var vd map[string]json.RawMessage
		if err := json.Unmarshal(raw, &vd); err != nil {
			return fmt.Errorf("deprecating %s@%s: unreadable version document: %w", name, v, err)
		}
		vd["deprecated"] = mustJSON(msgs[v])
		versions[v] = mustJSON(vd)
	}
	doc["versions"] = mustJSON(versions)
	doc["_attachments"] = []byte("{}")
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if _, err := s.reg.do(ctx, http.MethodPut, s.reg.url(escapeName(name)), body, 1<<20); err != nil {
		return fmt.Errorf("deprecating versions of %s: %w", name, err)
	}
	return nil
}

// writableDoc reads the package document with ?write=true, as a map (every
// field kept) and its versions.
func (s *Store) writableDoc(ctx context.Context, name string) (map[string]json.RawMessage, map[string]json.RawMessage, error) {
	body, err := s.reg.do(ctx, http.MethodGet, s.reg.url(escapeName(name))+"?write=true", nil, maxPackumentBytes)
	if err != nil {
		return nil, nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("unreadable package document of %s: %w", name, err)
	}
	versions := map[string]json.RawMessage{}
	if raw, ok := doc["versions"]; ok {
		if err := json.Unmarshal(raw, &versions); err != nil {
			return nil, nil, fmt.Errorf("unreadable versions of %s: %w", name, err)
		}
	}
	return doc, versions, nil
}

// Delete unpublishes one version (npm unpublish NAME@VERSION's requests):
// the document without the version (and without tags pointing at it;
// latest moves to the newest remaining version) is put back under its
// revision, then the tarball is deleted. The last version of a package is
// unpublished with the whole package.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, version, err := ParseKey(key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	unlock, err := s.pkgs.Lock(ctx, name)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	defer unlock()
	defer s.docs.forget(name)
	doc, versions, err := s.writableDoc(ctx, name)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	if _, ok := versions[version]; !ok {
		return s.opErr("delete", key, fmt.Errorf("%s@%s: %w", name, version, providers.ErrNotFound))
	}
	if len(versions) == 1 {
		_, err := s.reg.do(ctx, http.MethodDelete, s.reg.url(escapeName(name)+"/-rev/"+pathEscape(revision(doc))), nil, 1<<20)
		if err != nil {
			return s.opErr("delete", key, err)
		}
		return nil
	}
	delete(versions, version)
	var tags map[string]string
	_ = json.Unmarshal(doc["dist-tags"], &tags)
	for t, v := range tags {
		if v == version {
			delete(tags, t)
		}
	}
	if _, ok := tags["latest"]; !ok {
		if newest := newestVersion(versions); newest != "" {
			if tags == nil {
				tags = map[string]string{}
			}
			tags["latest"] = newest
		}
	}
	var times map[string]json.RawMessage
	if json.Unmarshal(doc["time"], &times) == nil && times != nil {
		delete(times, version)
		doc["time"] = mustJSON(times)
	}
	doc["versions"] = mustJSON(versions)
	doc["dist-tags"] = mustJSON(tags)
	delete(doc, "_attachments")
	delete(doc, "_revisions")
	body, err := json.Marshal(doc)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	if _, err := s.reg.do(ctx, http.MethodPut, s.reg.url(escapeName(name)+"/-rev/"+pathEscape(revision(doc))), body, 1<<20); err != nil {
		return s.opErr("delete", key, fmt.Errorf("removing %s@%s from the package document: %w", name, version, err))
	}
	doc, _, err = s.writableDoc(ctx, name)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	file := baseName(name) + "-" + version + ".tgz"
	_, err = s.reg.do(ctx, http.MethodDelete, s.reg.url(escapeName(name)+"/-/"+file+"/-rev/"+pathEscape(revision(doc))), nil, 1<<20)
	if err != nil && !errors.Is(err, providers.ErrNotFound) {
		return s.opErr("delete", key, fmt.Errorf("deleting the tarball of %s@%s: %w", name, version, err))
	}
	return nil
}

// revision is the document's _rev, or a placeholder when the registry
// keeps none (Verdaccio accepts any revision; cnpmcore ignores it).
func revision(doc map[string]json.RawMessage) string {
	var rev string
	_ = json.Unmarshal(doc["_rev"], &rev)
	if rev == "" {
		return "0-0"
	}
	return rev
}

// newestVersion is the highest semantic version among the keys of versions
// (prereleases only when there is nothing else).
func newestVersion(versions map[string]json.RawMessage) string {
	var all []*semver.Version
	for v := range versions {
		if sv, err := semver.NewVersion(v); err == nil {
			all = append(all, sv)
		}
	}
	slices.SortFunc(all, func(a, b *semver.Version) int { return b.Compare(a) })
	for _, sv := range all {
		if sv.Prerelease() == "" {
			return sv.Original()
		}
	}
	if len(all) > 0 {
		return all[0].Original()
	}
	return ""
}

// pathEscape escapes one path segment (a dist-tag, a revision).
func pathEscape(s string) string { return url.PathEscape(s) }

package buildpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/planner/retention"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack/bptoml"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// Source lists and fetches the dependencies of one buildpack.toml. The file is
// read once per Source (per command), so a plan and the apply that follows in
// the same process see the same document.
type Source struct {
	name   string
	cfg    *SourceConfig
	client *httpx.Client
	log    hclog.Logger

	once sync.Once
	doc  *Document
	err  error
}

var (
	_ providers.Source    = (*Source)(nil)
	_ providers.Sizer     = (*Source)(nil)
	_ providers.Describer = (*Source)(nil)
)

// NewSource returns the source named name ("buildpack.node_engine").
func NewSource(name string, cfg *SourceConfig, env registry.Env) (*Source, error) {
	return &Source{name: name, cfg: cfg, client: env.Client(), log: env.Log()}, nil
}

// Document is the buildpack.toml as read, with which artifact each
// dependency maps to.
type Document struct {
	// Path is the absolute path of the file.
	Path string
	// Data is the file's bytes.
	Data []byte
	// Keys maps a dependency index to the artifact keys of its uri and its
	// source tarball; a key is empty when that part is not mirrored
	// (filtered out, or no checksum to verify it by).
	Keys map[int]DepKeys
	// Notes explain dependencies that cannot be mirrored; the plan shows them.
	Notes []string
	// Layout is the source's key layout (LayoutDigest or LayoutDependencyMirror).
	Layout string

	artifacts []providers.Artifact
	fetchURL  map[string]string // key → raw URL
}

// DepKeys are the artifact keys one dependency maps to.
type DepKeys struct {
	URI    string `json:"uri,omitempty"`
	Source string `json:"source,omitempty"`
}

// Document reads and interprets the file (once).
func (s *Source) Document() (*Document, error) {
	s.once.Do(func() { s.doc, s.err = s.load() })
	return s.doc, s.err
}

func (s *Source) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideSource, Provider: s.name, Key: key, Err: err}
}

func (s *Source) load() (*Document, error) {
	data, err := os.ReadFile(s.cfg.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, s.opErr("list", "", fmt.Errorf("buildpack file %s: %w", s.cfg.File, providers.ErrNotFound))
		}
		return nil, s.opErr("list", "", err)
	}
	f, err := bptoml.Parse(data)
	if err != nil {
		return nil, s.opErr("list", "", fmt.Errorf("%s: %w", s.cfg.File, err))
	}
	doc := &Document{Path: s.cfg.File, Data: data, Keys: map[int]DepKeys{}, fetchURL: map[string]string{}, Layout: s.cfg.Layout}

	selected := s.selectDeps(f.Dependencies)
	// Same bytes, one artifact: by digest in the digest layout. In the
	// dependency-mirror layout every URL must exist at its own host/path, so
	// the same bytes named by two URLs are two objects.
	byDigest := map[string]string{}
	keySum := map[string]providers.Digest{}
	add := func(d bptoml.Dependency, uri string, sum providers.Digest, isSource bool) string {
		what := "the dependency"
		if isSource {
			what = "the source"
		}
		if uri == "" {
			return ""
		}
		if sum.IsZero() {
			doc.Notes = append(doc.Notes, fmt.Sprintf("%s of %s (line %d) declares no checksum, so ferry does not mirror it: nothing unverified ever lands.", what, describe(d), d.Line))
			return ""
		}
		if key, ok := byDigest[sum.String()]; ok && s.cfg.Layout != LayoutDependencyMirror {
			return key
		}
		key := artifactKey(d, uri, sum, isSource)
		if s.cfg.Layout == LayoutDependencyMirror {
			var err error
			if key, err = mirrorLayoutKey(uri); err != nil {
				doc.Notes = append(doc.Notes, fmt.Sprintf("%s of %s (line %d) cannot be laid out for BP_DEPENDENCY_MIRROR: %v; not mirrored.", what, describe(d), d.Line, err))
				return ""
			}
		}
		if prev, ok := keySum[key]; ok && prev == sum {
			return key // the same URL and checksum, named twice
		}
		if _, ok := doc.fetchURL[key]; ok {
			// Another file (other checksum) already has this key: two
			// dependencies name one URL with different checksums. Never mix bytes.
			doc.Notes = append(doc.Notes, fmt.Sprintf("%s of %s (line %d) maps to the key %q already used by a file with another checksum; not mirrored.", what, describe(d), d.Line, key))
			return ""
		}
		byDigest[sum.String()] = key
		keySum[key] = sum
		doc.fetchURL[key] = uri
		doc.artifacts = append(doc.artifacts, providers.Artifact{
			Key:     key,
			Name:    d.ID,
			Version: d.Version,
			Size:    -1,
			Digests: providers.NewDigests(sum),
			Origin:  httpx.RedactString(uri),
		})
		return key
	}
	for _, d := range selected {
		k := DepKeys{URI: add(d, d.URI, d.Checksum, false)}
		if s.cfg.Sources && d.Source != "" {
			k.Source = add(d, d.Source, d.SourceChecksum, true)
		}
		doc.Keys[d.Index] = k
	}
	return doc, nil
}

// selectDeps applies include, exclude and latest.
func (s *Source) selectDeps(all []bptoml.Dependency) []bptoml.Dependency {
	var out []bptoml.Dependency
	for _, d := range all {
		fd := dep{ID: d.ID, Version: d.Version, OS: d.OS, Arch: d.Arch, PURL: d.PURL, Stacks: d.Stacks}
		if !s.cfg.Include.Empty() && !s.cfg.Include.match(fd) {
			continue
		}
		if !s.cfg.Exclude.Empty() && s.cfg.Exclude.match(fd) {
			continue
		}
		out = append(out, d)
	}
	if s.cfg.Latest <= 0 {
		return out
	}
	versions := map[string][]string{}
	for _, d := range out {
		if !slices.Contains(versions[d.ID], d.Version) {
			versions[d.ID] = append(versions[d.ID], d.Version)
		}
	}
	keep := map[string]bool{}
	for id, vs := range versions {
		slices.SortFunc(vs, func(a, b string) int { return retention.CompareVersions(b, a) })
		for _, v := range vs[:min(len(vs), s.cfg.Latest)] {
			keep[id+"\x00"+v] = true
		}
	}
	return slices.DeleteFunc(out, func(d bptoml.Dependency) bool { return !keep[d.ID+"\x00"+d.Version] })
}

// artifactKey is ID/VERSION/HEX/BASENAME: the full digest makes it
// collision-free (two files with one base name under different paths or
// arches stay apart), and the base name keeps URLs readable. Source tarballs
// get a "source" segment.
func artifactKey(d bptoml.Dependency, uri string, sum providers.Digest, source bool) string {
	base := "artifact"
	if u, err := url.Parse(uri); err == nil {
		if b := path.Base(u.Path); b != "." && b != "/" && b != "" {
			base = b
		}
	}
	parts := []string{segment(d.ID), segment(d.Version)}
	if source {
		parts = append(parts, "source")
	}
	parts = append(parts, sum.Hex, segment(base))
	return strings.Join(parts, "/")
}

// mirrorLayoutKey is HOST/PATH of an http(s) uri: the layout
// BP_DEPENDENCY_MIRROR=<base>/{originalHost} resolves to.
func mirrorLayoutKey(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", fmt.Errorf("not an http(s) URL with a host")
	}
	if !validHost(u.Hostname()) {
		// The host is the key's first segment: "..", ".ferry-tmp" or
		// "a..b" would step outside, or into ferry's own, directories.
		return "", fmt.Errorf("its host %q is neither a DNS name nor an IP address", u.Hostname())
	}
	segs := []string{u.Hostname()}
	for _, p := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\\\x00") || strings.HasPrefix(p, ".ferry") {
			return "", fmt.Errorf("its path %q cannot be stored as a key", u.Path)
		}
		segs = append(segs, p)
	}
	if len(segs) < 2 {
		return "", fmt.Errorf("it has no path")
	}
	return strings.Join(segs, "/"), nil
}

// hostLabelRE is one label of a host name (underscores allowed, as some
// internal names have them).
var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// validHost reports whether h is an IP address or a DNS name: dot-separated
// labels, none empty (so never ".", "..", ".ferry-tmp" or "a..b").
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !hostLabelRE.MatchString(label) {
			return false
		}
	}
	return true
}

// segment makes s safe as one key segment: characters outside
// [A-Za-z0-9._+-] become "_", and a segment never starts with a dot.
func segment(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-'
		if !ok {
			b[i] = '_'
		}
	}
	out := string(b)
	if out == "" || strings.HasPrefix(out, ".") {
		out = "_" + out
	}
	return out
}

func describe(d bptoml.Dependency) string {
	s := d.ID + " " + d.Version
	if d.Arch != "" {
		s += " (" + d.Arch + ")"
	}
	return s
}

// List reports one artifact per distinct file the selected dependencies name.
func (s *Source) List(ctx context.Context, fn func(providers.Artifact) error) error {
	doc, err := s.Document()
	if err != nil {
		return err
	}
	for _, n := range doc.Notes {
		s.log.Warn(n)
	}
	for _, a := range doc.artifacts {
		if err := ctx.Err(); err != nil {
			return s.opErr("list", "", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// Notes explain what the source cannot mirror, for the plan.
func (s *Source) Notes() []string {
	doc, err := s.Document()
	if err != nil {
		return nil
	}
	return doc.Notes
}

func (s *Source) location(key string, origin string) (httpsrc.Location, error) {
	doc, err := s.Document()
	if err != nil {
		return httpsrc.Location{}, err
	}
	raw, ok := doc.fetchURL[key]
	if !ok {
		return httpsrc.Location{}, fmt.Errorf("%s lists no dependency with this key: %w", filepath.Base(s.cfg.File), providers.ErrNotFound)
	}
	// After an in-place rewrite the file names the mirror; the plan then
	// carries the upstream location ferry recorded, and that is where the
	// bytes come from (only when it is a plain, credential-free URL).
	if origin != "" && origin != httpx.RedactString(raw) {
		if u, err := url.Parse(origin); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.User == nil && u.RawQuery == "" {
			raw = origin
		}
	}
	return httpsrc.Location{URL: raw, Display: httpx.RedactString(raw), FileRoot: filepath.Dir(s.cfg.File)}, nil
}

// Fetch streams the file of the dependency behind a.Key.
func (s *Source) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	loc, err := s.location(a.Key, a.Origin)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	s.log.Debug("fetching", "key", a.Key, "url", loc.Display)
	rc, err := httpsrc.Open(ctx, s.client, loc)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	return rc, nil
}

// Size asks the upstream for the file's size (HEAD), -1 if it does not say.
func (s *Source) Size(ctx context.Context, a providers.Artifact) (int64, error) {
	loc, err := s.location(a.Key, a.Origin)
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	n, err := httpsrc.SizeOf(ctx, s.client, s.log, loc)
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	return n, nil
}

// Describe names the file.
func (s *Source) Describe() string { return "buildpack " + s.cfg.File }

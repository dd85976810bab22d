package conda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/archive"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// MaxLooseDownload bounds one downloaded loose input (a package or an
// archive of packages) when max_artifact_size is not set: the same bound
// archive.Expand puts on one spooled package.
const MaxLooseDownload = archive.MaxMember

// maxLoose is the ferry block's max_artifact_size, else MaxLooseDownload.
func maxLoose(env registry.Env) int64 {
	if env.MaxArtifactSize > 0 {
		return env.MaxArtifactSize
	}
	return MaxLooseDownload
}

// LooseInput is one configured loose package or archive of packages: an
// http(s) URL or an absolute local path.
type LooseInput struct {
	URL  string // http(s) URL, "" for a local file
	Path string // absolute local path, "" for a URL
}

func (in LooseInput) display() string {
	if in.URL != "" {
		return httpx.RedactString(in.URL)
	}
	return in.Path
}

// looseAttrs are the attributes decodeLoose reads.
var looseAttrs = []hcl.AttributeSchema{{Name: "packages"}, {Name: "archives"}}

// looseBlocks are the blocks decodeGitHub reads.
var looseBlocks = []hcl.BlockHeaderSchema{githubBlock}

// decodeLoose decodes packages and archives into cfg.
func decodeLoose(content *hcl.BodyContent, ectx *hcl.EvalContext, env schema.DecodeEnv, cfg *SourceConfig) hcl.Diagnostics {
	diags := decodeGitHub(content, ectx, cfg)
	for _, l := range []struct {
		name    string
		dst     *[]LooseInput
		archive bool
	}{{"packages", &cfg.Packages, false}, {"archives", &cfg.Archives, true}} {
		attr := content.Attributes[l.name]
		if attr == nil {
			continue
		}
		list, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, s := range list {
			in, err := parseLooseInput(s, env.Dir, l.archive)
			if err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid "+l.name+" entry", fmt.Sprintf("%s lists %s by http(s) URL or local path: %v.", l.name, looseWhat(l.archive), err)))
				continue
			}
			if !containsInput(*l.dst, in) {
				*l.dst = append(*l.dst, in)
			}
		}
	}
	return diags
}

func looseWhat(isArchive bool) string {
	if isArchive {
		return "archives of conda packages (.zip, .tgz, .tar.gz, .tar)"
	}
	return "conda packages (.conda, .tar.bz2)"
}

func containsInput(list []LooseInput, in LooseInput) bool {
	for _, e := range list {
		if e == in {
			return true
		}
	}
	return false
}

// parseLooseInput checks s names a package (or, for isArchive, an archive
// of packages) by its file name's extension.
func parseLooseInput(s, dir string, isArchive bool) (LooseInput, error) {
	if s == "" {
		return LooseInput{}, fmt.Errorf("an entry is empty")
	}
	var in LooseInput
	var base string
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return LooseInput{}, fmt.Errorf("%q is not a URL", httpx.RedactString(s))
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return LooseInput{}, fmt.Errorf("scheme %q is not supported (use http(s), or a plain path for a local file)", u.Scheme)
		}
		if u.Host == "" || u.Fragment != "" {
			return LooseInput{}, fmt.Errorf("%q: want scheme://host/path, without fragment", httpx.RedactString(s))
		}
		in.URL, base = s, path.Base(u.Path)
	} else {
		if !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		in.Path, base = filepath.Clean(s), filepath.Base(s)
	}
	ok := archive.Ext(base) != ""
	if isArchive {
		ok = strings.HasSuffix(base, ".zip") || strings.HasSuffix(base, ".tgz") || strings.HasSuffix(base, ".tar.gz") || strings.HasSuffix(base, ".tar")
	}
	if !ok {
		return LooseInput{}, fmt.Errorf("%q does not end in a file name of %s", in.display(), looseWhat(isArchive))
	}
	return in, nil
}

// hasLoose reports whether cfg has loose inputs.
func (cfg *SourceConfig) hasLoose() bool {
	return len(cfg.Packages)+len(cfg.Archives)+len(cfg.GitHub) > 0
}

// hasChannel reports whether the source reads a channel's indexes.
func (s *Source) hasChannel() bool { return s.cfg.URL != "" || s.cfg.Dir != "" }

// looseSet is every loose package, read once per command.
type looseSet struct {
	once  sync.Once
	ready chan struct{}
	pkgs  map[string]*loosePkg // by key
	cands []*candidate         // sorted by input order
	err   error
	dir   string // private download directory, "" when nothing was downloaded
}

// loosePkg is one package found in a loose input.
type loosePkg struct {
	input  LooseInput
	local  string // the local file read: the configured path or the download
	member string // the package's member in an archive, "" for a package file
	cand   *candidate
}

func (lp *loosePkg) origin() string {
	if lp.member != "" {
		return lp.input.display() + "#" + lp.member
	}
	return lp.input.display()
}

// loose reads every loose input once per command: local files in place,
// URLs downloaded into a private directory (what Fetch then serves, so the
// bytes fetched are the bytes whose digests this command computed).
func (s *Source) loose(ctx context.Context) (*looseSet, error) {
	s.mu.Lock()
	ls := s.looseSet
	if ls == nil {
		ls = &looseSet{ready: make(chan struct{})}
		s.looseSet = ls
	}
	s.mu.Unlock()
	ls.once.Do(func() {
		ls.err = s.readLoose(ctx, ls)
		close(ls.ready)
	})
	if ls.err != nil && ctx.Err() == nil && errors.Is(ls.err, context.Canceled) {
		s.mu.Lock()
		if s.looseSet == ls {
			s.looseSet = nil
		}
		s.mu.Unlock()
		return s.loose(ctx)
	}
	return ls, ls.err
}

func (s *Source) readLoose(ctx context.Context, ls *looseSet) error {
	if s.offline != nil {
		return s.readOfflineLoose(ls)
	}
	ls.pkgs = map[string]*loosePkg{}
	tmp := func() (string, error) {
		if ls.dir == "" {
			d, err := os.MkdirTemp("", "ferry-conda-loose-")
			if err != nil {
				return "", err
			}
			ls.dir = d
		}
		return ls.dir, nil
	}
	inputs := append(append([]LooseInput(nil), s.cfg.Packages...), s.cfg.Archives...)
	locals := make([]string, len(inputs))
	for i, in := range inputs {
		locals[i] = in.Path
		if in.URL == "" {
			continue
		}
		d, err := tmp()
		if err != nil {
			return err
		}
		if locals[i], err = s.download(ctx, in, d); err != nil {
			return fmt.Errorf("loose input %s: %w", in.display(), err)
		}
	}
	for _, g := range s.cfg.GitHub {
		d, err := tmp()
		if err != nil {
			return err
		}
		ins, ps, err := s.githubInputs(ctx, g, d)
		if err != nil {
			return fmt.Errorf("github_artifacts of %s: %w", g.Repository, err)
		}
		inputs, locals = append(inputs, ins...), append(locals, ps...)
	}
	for i, in := range inputs {
		local := locals[i]
		pkgs, err := archive.Expand(ctx, local, "")
		if err != nil {
			return fmt.Errorf("loose input %s: %w", in.display(), err)
		}
		for _, p := range pkgs {
			c, err := looseCandidate(p.Record)
			if err != nil {
				return fmt.Errorf("loose input %s: conda package %q: %w", in.display(), p.Filename, err)
			}
			lp := &loosePkg{input: in, local: local, member: p.Member, cand: c}
			c.origin = lp.origin()
			key := Key(c.subdir, c.file)
			if prev := ls.pkgs[key]; prev != nil {
				if prev.cand.rec.SHA256 == c.rec.SHA256 {
					continue // the same package twice: listed once
				}
				return fmt.Errorf("loose inputs %s and %s hold different packages named %s", prev.origin(), lp.origin(), key)
			}
			ls.pkgs[key] = lp
			ls.cands = append(ls.cands, c)
		}
	}
	return nil
}

// download copies in.URL into a new file under dir named like the URL's
// last path segment (archive.Expand reads the name), at most s.maxLoose
// bytes.
func (s *Source) download(ctx context.Context, in LooseInput, dir string) (string, error) {
	u, err := url.Parse(in.URL)
	if err != nil {
		return "", err
	}
	rc, _, err := s.http.GetStream(httpx.WithCredentialScope(ctx, u), in.URL, nil)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	return s.spool(rc, dir, path.Base(u.Path))
}

// looseCandidate turns an archive's metadata into a channel record: the
// index.json keys plus the computed md5, sha256 and size, as conda-index
// writes them (Raw, for the channel index).
func looseCandidate(rec archive.Record) (*candidate, error) {
	subdir := rec.Subdir
	switch {
	case rec.Noarch != "":
		// A noarch package belongs in noarch whatever platform built it.
		subdir = "noarch"
	case subdir == "":
		return nil, fmt.Errorf("%w: info/index.json names no subdir and no noarch; ferry does not guess the platform", archive.ErrNoMetadata)
	}
	if !repodata.ValidSubdir(subdir) || !repodata.ValidFileName(rec.Filename) {
		return nil, fmt.Errorf("%w: subdir %q or file name is not usable", archive.ErrUnsafePath, subdir)
	}
	var fields map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(rec.IndexJSON))
	d.UseNumber()
	if err := d.Decode(&fields); err != nil {
		return nil, fmt.Errorf("%w: info/index.json: %v", archive.ErrNoMetadata, err)
	}
	for k, v := range fields {
		if string(bytes.TrimSpace(v)) == "null" {
			// conda's indexer leaves null keys out (legacy "arch": null,
			// "platform": null; testdata/conda/channel).
			delete(fields, k)
		}
	}
	for k, v := range map[string]any{"md5": rec.MD5, "sha256": rec.SHA256, "size": rec.Size, "subdir": subdir} {
		b, _ := json.Marshal(v)
		fields[k] = b
	}
	raw, err := json.Marshal(fields) // sorted keys, as conda-index writes
	if err != nil {
		return nil, fmt.Errorf("%w: info/index.json: %v", archive.ErrNoMetadata, err)
	}
	r := &repodata.Record{
		Name: rec.Name, Version: rec.Version, Build: rec.Build, BuildNumber: rec.BuildNumber,
		Depends: rec.Depends, Constrains: rec.Constrains, License: rec.License, Subdir: subdir,
		Size: rec.Size, SHA256: rec.SHA256, MD5: rec.MD5, Timestamp: rec.Timestamp, Raw: raw,
	}
	if err := r.Check(rec.Filename); err != nil {
		return nil, err
	}
	return &candidate{subdir: subdir, file: rec.Filename, rec: r}, nil
}

// addLoose merges the loose packages into the channel's candidates: a
// loose package the channel lists with the same sha256 is listed once; with
// another sha256 the listing fails (one key, two contents).
func (s *Source) addLoose(ctx context.Context, cands []*candidate) ([]*candidate, error) {
	if !s.cfg.hasLoose() {
		return cands, nil
	}
	ls, err := s.loose(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*candidate{}
	for _, c := range cands {
		byKey[Key(c.subdir, c.file)] = c
	}
	for _, c := range ls.cands {
		key := Key(c.subdir, c.file)
		if prev := byKey[key]; prev != nil {
			if prev.rec.SHA256 == c.rec.SHA256 {
				continue
			}
			return nil, fmt.Errorf("%s is both in the channel (sha256 %s) and in loose input %s (sha256 %s)", key, prev.rec.SHA256, c.origin, c.rec.SHA256)
		}
		cands = append(cands, c)
	}
	return cands, nil
}

// fetchLoose serves a loose package: ok is false when key is not one (and
// the source has a channel to ask).
func (s *Source) fetchLoose(ctx context.Context, a providers.Artifact) (io.ReadCloser, bool, error) {
	if !s.cfg.hasLoose() {
		return nil, false, nil
	}
	ls, err := s.loose(ctx)
	if err != nil {
		return nil, true, s.opErr("fetch", a.Key, err)
	}
	lp := ls.pkgs[a.Key]
	if lp == nil {
		if s.hasChannel() {
			return nil, false, nil
		}
		return nil, true, s.opErr("fetch", a.Key, fmt.Errorf("no loose input holds %s any more: %w", a.Key, providers.ErrNotFound))
	}
	want := s.artifact(lp.cand)
	if len(a.Digests) > 0 && !want.Digests.Matches(a.Digests) {
		return nil, true, s.opErr("fetch", a.Key, fmt.Errorf("%s now holds %s, the plan %s (plan again): %w",
			lp.origin(), want.Digests.Primary(), a.Digests.Primary(), providers.ErrDigestMismatch))
	}
	rc, err := archive.OpenMember(lp.local, lp.member)
	if err != nil {
		return nil, true, s.opErr("fetch", a.Key, err)
	}
	return rc, true, nil
}

// looseHas answers UpstreamHas for loose packages: ok is false when the
// channel should answer.
func (s *Source) looseHas(key string) (has, known, ok bool) {
	if !s.cfg.hasLoose() {
		return false, false, false
	}
	s.mu.Lock()
	ls := s.looseSet
	s.mu.Unlock()
	if ls == nil {
		return false, false, !s.hasChannel()
	}
	select {
	case <-ls.ready:
	default:
		return false, false, true
	}
	if ls.err != nil {
		return false, false, true
	}
	if ls.pkgs[key] != nil {
		return true, true, true
	}
	if s.hasChannel() {
		return false, false, false
	}
	return false, true, true
}

// Close removes the downloads of remote loose inputs.
func (s *Source) Close() error {
	s.mu.Lock()
	ls := s.looseSet
	s.mu.Unlock()
	if ls == nil {
		return nil
	}
	<-ls.ready
	if ls.dir == "" {
		return nil
	}
	return os.RemoveAll(ls.dir)
}

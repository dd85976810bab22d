package conda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
	"github.com/ferry-mirror/ferry/providers/httpx"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// Source is the "conda" source. It is safe for concurrent use.
type Source struct {
	name string
	cfg  *SourceConfig
	log  hclog.Logger
	http *httpx.Client
	base *url.URL // nil for a local channel
	sel  *selector

	mu       sync.Mutex
	subdirs  map[string]*subdirIndex          // read once per command
	dsts     map[string]providers.Destination // by mirror, for Publish (index.go)
	listed   map[string]*repodata.Record      // by key: the records the last List chose (index.go)
	looseSet *looseSet                        // loose inputs, read once per command
	maxLoose int64                            // bound on one downloaded loose input
	getenv   func(string) string
	notes    []string
	offline  *offlineIndexes // what an air-gap cache holds, nil online (offline.go)
}

// subdirIndex is one subdir's repodata, read once.
type subdirIndex struct {
	once  sync.Once
	ready chan struct{} // closed once the read is done
	rd    *repodata.Repodata
	from  string // the file it came from, for messages
	err   error
}

var (
	_ providers.Source           = (*Source)(nil)
	_ providers.UpstreamReporter = (*Source)(nil)
	_ providers.Describer        = (*Source)(nil)
)

// NewSource returns the source named name ("conda.forge").
func NewSource(name string, cfg *SourceConfig, env provreg.Env) (*Source, error) {
	sel, err := newSelector(cfg)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	s := &Source{name: name, cfg: cfg, log: env.Log(), http: env.Client(), sel: sel, subdirs: map[string]*subdirIndex{}, maxLoose: maxLoose(env), getenv: env.Getenv}
	if s.getenv == nil {
		s.getenv = os.Getenv
	}
	if cfg.URL != "" {
		if s.base, err = url.Parse(cfg.URL + "/"); err != nil {
			return nil, fmt.Errorf("source %s: channel URL does not parse", name)
		}
	} else if cfg.Dir == "" && !cfg.hasLoose() {
		return nil, fmt.Errorf("source %s: no channel and no loose packages", name)
	}
	return s, nil
}

// Describe names the channel (no credentials).
func (s *Source) Describe() string { return "conda source " + s.channelDisplay() }

func (s *Source) channelDisplay() string {
	if s.base != nil {
		return httpx.RedactString(s.cfg.URL)
	}
	if s.cfg.Dir == "" {
		return "(loose packages)"
	}
	return s.cfg.Dir
}

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

// index reads subdir's repodata once per command.
func (s *Source) index(ctx context.Context, subdir string) (*repodata.Repodata, error) {
	s.mu.Lock()
	ix := s.subdirs[subdir]
	if ix == nil {
		ix = &subdirIndex{ready: make(chan struct{})}
		s.subdirs[subdir] = ix
	}
	s.mu.Unlock()
	ix.once.Do(func() {
		ix.rd, ix.from, ix.err = s.readIndex(ctx, subdir)
		close(ix.ready)
	})
	if ix.err != nil && ctx.Err() == nil && errors.Is(ix.err, context.Canceled) {
		// A read cancelled by another caller's context: try again.
		s.mu.Lock()
		delete(s.subdirs, subdir)
		s.mu.Unlock()
		return s.index(ctx, subdir)
	}
	return ix.rd, ix.err
}

// readIndex tries repodata.json.zst, .json.bz2 and .json in that order
// (repodata.Encodings); a missing file moves on to the next, any other
// failure (a truncated .zst, a 500) fails the read rather than fall back
// to an index that may be older.
func (s *Source) readIndex(ctx context.Context, subdir string) (*repodata.Repodata, string, error) {
	if s.offline != nil {
		return s.readOfflineIndex(ctx, subdir)
	}
	for _, enc := range repodata.Encodings {
		file := subdir + "/repodata.json" + string(enc)
		data, err := s.readFile(ctx, file, repodata.MaxSize)
		if errors.Is(err, providers.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", file, err)
		}
		js, err := repodata.Decompress(data, enc)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", file, err)
		}
		rd, err := repodata.Parse(js)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", file, err)
		}
		if rd.Subdir != "" && rd.Subdir != subdir {
			return nil, "", fmt.Errorf("reading %s: it says info.subdir %q", file, rd.Subdir)
		}
		return rd, file, nil
	}
	if subdir == "noarch" {
		// Not every channel has a noarch index; conda treats a missing one as empty.
		return &repodata.Repodata{Packages: map[string]*repodata.Record{}, PackagesConda: map[string]*repodata.Record{}}, "", nil
	}
	return nil, "", fmt.Errorf("subdir %s has no repodata.json, .json.zst or .json.bz2: %w", subdir, providers.ErrNotFound)
}

// readFile reads a channel file of at most max bytes.
func (s *Source) readFile(ctx context.Context, rel string, max int64) ([]byte, error) {
	rc, err := s.open(ctx, rel)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return data, nil
}

// open opens rel ("linux-64/repodata.json") in the channel: over HTTP
// under the channel URL, or from the channel directory, never outside it
// (os.Root refuses "..", absolute paths and symbolic links that leave it).
func (s *Source) open(ctx context.Context, rel string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.offline != nil {
		return nil, errOffline
	}
	if s.base != nil {
		u := s.base.JoinPath(rel)
		rc, _, err := s.http.GetStream(httpx.WithCredentialScope(ctx, s.base), u.String(), nil)
		return rc, err
	}
	root, err := os.OpenRoot(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("channel directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", rel, providers.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file: %w", rel, providers.ErrNotFound)
	}
	return ctxReader{ctx, f}, nil
}

// ctxReader stops a local read when ctx ends.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}

func (r ctxReader) Close() error { return r.f.Close() }

// Key is a package's artifact key: "<subdir>/<filename>".
func Key(subdir, fileName string) string { return subdir + "/" + fileName }

// ParseKey splits a key made by Key.
func ParseKey(key string) (subdir, fileName string, err error) {
	subdir, fileName, ok := strings.Cut(key, "/")
	if !ok || !repodata.ValidSubdir(subdir) || !repodata.ValidFileName(fileName) {
		return "", "", fmt.Errorf("%q is not a conda key (subdir/filename)", key)
	}
	return subdir, fileName, nil
}

// List reads every configured subdir's index, selects records and reports
// one artifact per selected package file.
func (s *Source) List(ctx context.Context, fn func(providers.Artifact) error) error {
	idx := map[string]*repodata.Repodata{}
	for _, sd := range s.cfg.Subdirs {
		if !s.hasChannel() {
			break
		}
		rd, err := s.index(ctx, sd)
		if err != nil {
			return s.opErr("list", "", err)
		}
		idx[sd] = rd
	}
	cands, notes := candidates(idx)
	cands, err := s.addLoose(ctx, cands)
	if err != nil {
		return s.opErr("list", "", err)
	}
	chosen, more, err := s.sel.choose(cands)
	if err != nil {
		return s.opErr("list", "", err)
	}
	notes = append(notes, more...)
	var out []providers.Artifact
	listed := map[string]*repodata.Record{}
	for _, c := range chosen {
		out = append(out, s.artifact(c))
		listed[Key(c.subdir, c.file)] = c.rec
	}
	s.mu.Lock()
	s.notes = notes
	s.listed = listed
	s.mu.Unlock()
	for _, a := range out {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) artifact(c *candidate) providers.Artifact {
	r := c.rec
	ds := providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: r.SHA256})
	if r.MD5 != "" {
		ds = ds.With(providers.Digest{Algorithm: providers.MD5, Hex: r.MD5})
	}
	a := providers.Artifact{
		Key: Key(c.subdir, c.file), Name: r.Name, Version: r.Version, Size: r.Size, Digests: ds,
		Origin: s.origin(c.subdir, c.file),
	}
	if c.origin != "" {
		a.Origin = c.origin
	}
	if r.Timestamp > 0 {
		// conda writes milliseconds; very old records wrote seconds.
		ts := r.Timestamp
		if ts < 1e11 {
			ts *= 1000
		}
		a.Created = time.UnixMilli(ts).UTC()
	}
	return a
}

func (s *Source) origin(subdir, file string) string {
	if s.base != nil {
		return httpx.RedactString(s.base.JoinPath(subdir, file).String())
	}
	return s.cfg.Dir + "/" + subdir + "/" + file
}

// Fetch streams a's package file after checking the channel's index still
// declares a's digests; the caller verifies the bytes against them.
func (s *Source) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if s.offline != nil {
		return nil, s.opErr("fetch", a.Key, errOffline)
	}
	subdir, file, err := ParseKey(a.Key)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, fmt.Errorf("%w: %w", err, providers.ErrNotFound))
	}
	if rc, ok, err := s.fetchLoose(ctx, a); ok {
		return rc, err
	}
	rd, err := s.index(ctx, subdir)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	r := rd.PackagesConda[file]
	if r == nil {
		r = rd.Packages[file]
	}
	if r == nil {
		return nil, s.opErr("fetch", a.Key, fmt.Errorf("the channel's %s index does not list %s: %w", subdir, file, providers.ErrNotFound))
	}
	if err := r.Check(file); err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	want := s.artifact(&candidate{subdir: subdir, file: file, rec: r})
	if len(a.Digests) > 0 && !want.Digests.Matches(a.Digests) {
		return nil, s.opErr("fetch", a.Key, fmt.Errorf("the channel now declares %s, the plan %s (plan again): %w",
			want.Digests.Primary(), a.Digests.Primary(), providers.ErrDigestMismatch))
	}
	rc, err := s.open(ctx, subdir+"/"+file)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	return rc, nil
}

// UpstreamHas tells, after List, whether the channel still lists key
// (merely not selected) or no longer does (removed upstream).
func (s *Source) UpstreamHas(key string) (has, known bool) {
	if has, known, ok := s.looseHas(key); ok {
		return has, known
	}
	subdir, file, err := ParseKey(key)
	if err != nil {
		return false, false
	}
	s.mu.Lock()
	ix := s.subdirs[subdir]
	s.mu.Unlock()
	if ix == nil || !slices.Contains(s.cfg.Subdirs, subdir) {
		return false, false
	}
	select {
	case <-ix.ready:
	default:
		return false, false // still being read: List has not finished
	}
	if ix.err != nil || ix.rd == nil {
		return false, false
	}
	_, inConda := ix.rd.PackagesConda[file]
	_, inTar := ix.rd.Packages[file]
	return inConda || inTar, true
}

package proget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/internal/keylock"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// assetItem is the part of ProGet's AssetDirectoryItem ferry reads.
type assetItem struct {
	Name     string `json:"name"`
	Parent   string `json:"parent"`
	Size     *int64 `json:"size"`
	Type     string `json:"type"`
	Modified string `json:"modified"`
	hashes
}

// assetDir is one asset directory, below a folder.
type assetDir struct {
	c      *client
	name   string
	folder string // "" or "a/b"
}

// escape escapes each segment of a slash path.
func escape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// full is the path in the directory of key.
func (d *assetDir) full(key string) string {
	if d.folder == "" {
		return key
	}
	return d.folder + "/" + key
}

func (d *assetDir) api(op, key string) string {
	return "/endpoints/" + url.PathEscape(d.name) + "/" + op + "/" + escape(d.full(key))
}

// artifact describes a listed file at key.
func (d *assetDir) artifact(key string, it assetItem) (providers.Artifact, error) {
	ds, err := it.digests()
	if err != nil {
		return providers.Artifact{}, fmt.Errorf("%s: %w", key, err)
	}
	size := int64(-1)
	if it.Size != nil {
		size = *it.Size
	}
	return providers.Artifact{
		Key: key, Size: size, Digests: ds, Created: published(it.Modified),
		Origin: d.c.base + d.api("content", key),
	}, nil
}

// list calls fn for every file below the folder, by key (its path
// relative to the folder): one recursive listing. A file whose path is no
// key ferry could have written fails the listing, or with skipBad is
// skipped (a destination's, where ferry owns none such).
func (d *assetDir) list(ctx context.Context, skipBad bool, fn func(providers.Artifact) error) error {
	var items []assetItem
	p := "/endpoints/" + url.PathEscape(d.name) + "/dir/"
	if d.folder != "" {
		p += escape(d.folder)
	}
	if err := d.c.getJSON(ctx, p+"?recursive=true", &items); err != nil {
		return err
	}
	type entry struct {
		key string
		it  assetItem
	}
	var files []entry
	for _, it := range items {
		if it.Type == "dir" {
			continue
		}
		full := it.Name
		if par := strings.Trim(it.Parent, "/"); par != "" {
			full = par + "/" + it.Name
		}
		key := full
		if d.folder != "" {
			var ok bool
			if key, ok = strings.CutPrefix(full, d.folder+"/"); !ok {
				return fmt.Errorf("the listing of folder %s holds %q, which is outside it", d.folder, full)
			}
		}
		if err := providers.CheckKey(key); err != nil {
			if skipBad {
				continue
			}
			return fmt.Errorf("the listing holds a file ferry cannot name: %w", err)
		}
		files = append(files, entry{key, it})
	}
	slices.SortFunc(files, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for i, f := range files {
		if i > 0 && files[i-1].key == f.key {
			return fmt.Errorf("the listing holds %q twice", f.key)
		}
		a, err := d.artifact(f.key, f.it)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// stat describes the file at key from its metadata.
func (d *assetDir) stat(ctx context.Context, key string) (providers.Artifact, error) {
	var it assetItem
	if err := d.c.getJSON(ctx, d.api("metadata", key), &it); err != nil {
		return providers.Artifact{}, err
	}
	if it.Type == "dir" {
		return providers.Artifact{}, fmt.Errorf("%q is a folder: %w", key, providers.ErrNotFound)
	}
	return d.artifact(key, it)
}

func newAssetDir(cfg *AssetConfig, env registry.Env) (*assetDir, error) {
	c, err := newClient(cfg.Server, "asset directory "+cfg.Directory, env)
	if err != nil {
		return nil, err
	}
	return &assetDir{c: c, name: cfg.Directory, folder: cfg.Path}, nil
}

func (d *assetDir) describe() string {
	s := "ProGet asset directory " + d.name
	if d.folder != "" {
		s += " folder " + d.folder
	}
	return s + " at " + d.c.base
}

// AssetSource reads an asset directory.
type AssetSource struct {
	end
	dir    *assetDir
	cached *cached // offline: the air-gap cache's listing
}

var (
	_ providers.Source    = (*AssetSource)(nil)
	_ providers.Describer = (*AssetSource)(nil)
)

// NewAssetSource returns the source named name ("proget_asset.files").
func NewAssetSource(name string, cfg *AssetConfig, env registry.Env) (*AssetSource, error) {
	d, err := newAssetDir(cfg, env)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	return &AssetSource{end: end{name, providers.SideSource}, dir: d}, nil
}

// Describe names the directory (no credentials).
func (s *AssetSource) Describe() string { return s.dir.describe() }

// List reports every file below the folder with its size and hashes, so
// a file whose content changed is a new digest under the same key (the
// plan replaces it).
func (s *AssetSource) List(ctx context.Context, fn func(providers.Artifact) error) error {
	if s.cached != nil {
		return s.cached.list(ctx, fn)
	}
	return s.listing(ctx, func(ctx context.Context, fn func(providers.Artifact) error) error {
		return s.dir.list(ctx, false, fn)
	}, fn)
}

// Fetch streams the file; the bytes are verified against the hashes the
// listing declared by whoever reads them (a destination's Put), and a
// file without a sha256 or sha1 is refused.
func (s *AssetSource) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if s.cached != nil {
		return nil, s.opErr("fetch", a.Key, errOffline)
	}
	if err := providers.CheckKey(a.Key); err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	if err := checkDeclared(a); err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	rc, err := s.dir.c.get(ctx, s.dir.api("content", a.Key))
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	return rc, nil
}

// AssetStore writes into an asset directory.
type AssetStore struct {
	end
	dir       *assetDir
	chunkSize int64
	locks     keylock.Locks
}

var (
	_ providers.Destination = (*AssetStore)(nil)
	_ providers.Lister      = (*AssetStore)(nil)
	_ providers.ListStater  = (*AssetStore)(nil)
	_ providers.Describer   = (*AssetStore)(nil)
)

// NewAssetDestination returns the destination named name.
func NewAssetDestination(name string, cfg *AssetConfig, env registry.Env) (*AssetStore, error) {
	d, err := newAssetDir(cfg, env)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", name, err)
	}
	chunk := cfg.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	return &AssetStore{end: end{name, providers.SideDestination}, dir: d, chunkSize: chunk}, nil
}

// Describe names the directory (no credentials).
func (s *AssetStore) Describe() string { return s.dir.describe() }

// List reports every file below the folder (files whose paths are no
// keys are left out).
func (s *AssetStore) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.listing(ctx, func(ctx context.Context, fn func(providers.Artifact) error) error {
		return s.dir.list(ctx, true, fn)
	}, fn)
}

// ListStat is List: one recursive listing tells every file below the
// folder with its size and hashes, so the inventory needs no metadata
// request per key.
func (s *AssetStore) ListStat(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.List(ctx, fn)
}

// Stat reports the file's size and hashes from its metadata.
func (s *AssetStore) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	if err := providers.CheckKey(key); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	a, err := s.dir.stat(ctx, key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	return a, nil
}

// Put verifies the bytes into a temporary file, then uploads them: in one
// request (PUT, which never overwrites, or POST with Overwrite), or, above
// the chunk size, with the multipart upload, whose parts stay invisible
// until it completes. The directory's hashes are read back: a server that
// stored other bytes is an error.
func (s *AssetStore) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	if err := providers.CheckKey(a.Key); err != nil {
		return s.opErr("put", a.Key, err)
	}
	sp, err := spool(ctx, r, a)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer sp.Close()
	unlock, err := s.locks.Lock(ctx, a.Key)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer unlock()
	exists := func() error {
		if _, err := s.dir.stat(ctx, a.Key); err == nil {
			return fmt.Errorf("the directory already holds it: %w", providers.ErrAlreadyExists)
		} else if !errors.Is(err, providers.ErrNotFound) {
			return err
		}
		return nil
	}
	switch {
	case sp.size > s.chunkSize:
		if !opts.Overwrite {
			if err := exists(); err != nil {
				return s.opErr("put", a.Key, err)
			}
		}
		err = s.multipart(ctx, a.Key, sp)
	case opts.Overwrite:
		err = s.dir.c.send(ctx, http.MethodPost, s.dir.api("content", a.Key), sp.reader(), sp.size)
	default:
		// PUT creates only; a 409 (or any refusal) over an existing file
		// is told apart by a stat.
		err = s.dir.c.send(ctx, http.MethodPut, s.dir.api("content", a.Key), sp.reader(), sp.size)
		if err != nil {
			if e := exists(); e != nil {
				err = e
			}
		}
	}
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	got, err := s.dir.stat(ctx, a.Key)
	if err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("reading the uploaded file back: %w", err))
	}
	if err := sameBytes(got, sp); err != nil {
		return s.opErr("put", a.Key, err)
	}
	return nil
}

// multipart uploads sp in parts of the chunk size, then completes the
// upload (Multipart Asset File Upload).
func (s *AssetStore) multipart(ctx context.Context, key string, sp *spooled) error {
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return err
	}
	id := hex.EncodeToString(idb[:])
	total := (sp.size + s.chunkSize - 1) / s.chunkSize
	base := s.dir.api("content", key)
	for i := int64(0); i < total; i++ {
		off := i * s.chunkSize
		n := min(s.chunkSize, sp.size-off)
		q := url.Values{
			"multipart": {"upload"}, "id": {id}, "index": {fmt.Sprint(i)}, "offset": {fmt.Sprint(off)},
			"totalSize": {fmt.Sprint(sp.size)}, "partSize": {fmt.Sprint(n)}, "totalParts": {fmt.Sprint(total)},
		}
		part := providers.ContextReader(ctx, io.NewSectionReader(sp.File, off, n))
		if err := s.dir.c.send(ctx, http.MethodPost, base+"?"+q.Encode(), part, n); err != nil {
			return fmt.Errorf("uploading part %d of %d: %w", i+1, total, err)
		}
	}
	q := url.Values{"multipart": {"complete"}, "id": {id}}
	if err := s.dir.c.send(ctx, http.MethodPost, base+"?"+q.Encode(), nil, 0); err != nil {
		return fmt.Errorf("completing the multipart upload: %w", err)
	}
	return nil
}

// Delete removes the file. ProGet answers 200 for a file that is not
// there, so a stat tells ErrNotFound first.
func (s *AssetStore) Delete(ctx context.Context, key string) error {
	if err := providers.CheckKey(key); err != nil {
		return s.opErr("delete", key, err)
	}
	unlock, err := s.locks.Lock(ctx, key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	defer unlock()
	if _, err := s.dir.stat(ctx, key); err != nil {
		return s.opErr("delete", key, err)
	}
	if err := s.dir.c.send(ctx, http.MethodDelete, s.dir.api("content", key), nil, 0); err != nil {
		return s.opErr("delete", key, err)
	}
	return nil
}

package gitea

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/archive"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// Conda is a channel in Gitea's conda registry. Keys are
// "SUBDIR/FILENAME", as in any conda channel; Gitea takes the subdir and
// the file name from the package's own info/index.json, so Put checks them
// before uploading.
//
// Gitea publishes no per-file API: what a channel holds is read from the
// repodata.json Gitea serves for each subdir (file name, size, md5,
// sha256), once per subdir and kept until ferry itself changes that subdir.
// It is safe for concurrent use.
//
// Writes: the bytes are streamed into a private temporary file through a
// verifying reader, the package's metadata is read from that file, and
// only verified bytes of a package Gitea will file under the key are
// uploaded; the upload is then read back from the index.
//
// Deletes: Gitea deletes a conda package by whole version (every build and
// subdir of NAME VERSION in the channel). Delete removes a version only
// when the file is the only one it holds, and otherwise refuses: ferry
// never deletes files it was not asked to.
type Conda struct {
	name   string
	cfg    *CondaConfig
	client *httpx.Client
	log    hclog.Logger

	mu      sync.Mutex
	subdirs map[string]*subdirIndex
}

var (
	_ providers.Destination = (*Conda)(nil)
	_ providers.Fetcher     = (*Conda)(nil)
	_ providers.URLer       = (*Conda)(nil)
	_ providers.Describer   = (*Conda)(nil)
	_ providers.SelfIndexer = (*Conda)(nil)
)

// subdirIndex is one subdir's files as Gitea's repodata.json lists them;
// ready is closed once files and err are set.
type subdirIndex struct {
	ready chan struct{}
	files map[string]indexedFile
	err   error
}

// indexedFile is what Gitea's repodata.json tells of one file.
type indexedFile struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
	MD5     string `json:"md5"`
	SHA256  string `json:"sha256"`
}

// NewConda returns the destination named name ("gitea_conda.internal").
func NewConda(name string, cfg *CondaConfig, env registry.Env) (*Conda, error) {
	return &Conda{name: name, cfg: cfg, client: env.Client(), log: env.Log(), subdirs: map[string]*subdirIndex{}}, nil
}

func (s *Conda) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideDestination, Provider: s.name, Key: key, Err: err}
}

// IndexedBy implements providers.SelfIndexer.
func (s *Conda) IndexedBy() string {
	return "Gitea's conda registry (" + httpx.RedactString(s.cfg.channelURL()) + ")"
}

// Describe names the channel (no credentials).
func (s *Conda) Describe() string { return "gitea_conda " + httpx.RedactString(s.cfg.channelURL()) }

// URL is where consumers download a package: CHANNEL/SUBDIR/FILENAME.
func (s *Conda) URL(a providers.Artifact) (string, error) {
	subdir, file, err := splitKey(a.Key)
	if err != nil {
		return "", err
	}
	return s.cfg.channelURL() + "/" + pathEscape(subdir) + "/" + pathEscape(file), nil
}

// splitKey splits "SUBDIR/FILENAME" and refuses keys Gitea's conda
// registry cannot hold.
func splitKey(key string) (subdir, file string, err error) {
	if err := providers.CheckKey(key); err != nil {
		return "", "", err
	}
	subdir, file, ok := strings.Cut(key, "/")
	if !ok || strings.Contains(file, "/") || archive.Ext(file) == "" {
		return "", "", fmt.Errorf("%q is not SUBDIR/NAME-VERSION-BUILD.conda (or .tar.bz2): Gitea's conda registry holds only conda packages: %w", key, providers.ErrUnsupported)
	}
	return subdir, file, nil
}

func pathEscape(s string) string { return url.PathEscape(s) }

// escapePath escapes each segment of a '/'-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// newRequest builds a request with the destination's credentials. Redirects
// are not followed: answers must come from Gitea itself.
func (s *Conda) newRequest(ctx context.Context, method, rawURL string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(httpx.WithoutRedirects(ctx), method, rawURL, body)
	if err != nil {
		return nil, err
	}
	switch {
	case s.cfg.Token != "":
		req.Header.Set("Authorization", "token "+s.cfg.Token)
	case s.cfg.Username != "":
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
	return req, nil
}

// status maps Gitea's answer to the sentinel errors, with Gitea's own
// message (it never echoes credentials) for anything else.
func (s *Conda) status(resp *http.Response, what string) error {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return providers.ErrNotFound
	case resp.StatusCode == http.StatusConflict:
		return providers.ErrAlreadyExists
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %s: authentication or authorization failed (the token needs the write:package scope, and the user write access to the owner %q)", what, resp.Status, s.cfg.Owner)
	}
	var body struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	if body.Message != "" {
		return fmt.Errorf("%s: Gitea answered %s: %s", what, resp.Status, body.Message)
	}
	return fmt.Errorf("%s: Gitea answered %s", what, resp.Status)
}

// files is subdir's files, read from Gitea's repodata.json once and kept
// until forget(subdir). Concurrent callers share one read.
func (s *Conda) files(ctx context.Context, subdir string) (map[string]indexedFile, error) {
	s.mu.Lock()
	ix := s.subdirs[subdir]
	if ix == nil {
		ix = &subdirIndex{ready: make(chan struct{})}
		s.subdirs[subdir] = ix
		s.mu.Unlock()
		ix.files, ix.err = s.readIndex(ctx, subdir)
		close(ix.ready)
		if ix.err != nil {
			s.forgetIndex(subdir, ix)
		}
		return ix.files, ix.err
	}
	s.mu.Unlock()
	select {
	case <-ix.ready:
		return ix.files, ix.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forget drops what is known of subdir: ferry is about to change it.
func (s *Conda) forget(subdir string) { s.forgetIndex(subdir, nil) }

func (s *Conda) forgetIndex(subdir string, only *subdirIndex) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if only == nil || s.subdirs[subdir] == only {
		delete(s.subdirs, subdir)
	}
}

// readIndex reads subdir's repodata.json from Gitea. Gitea answers 404 for
// a subdir without packages.
func (s *Conda) readIndex(ctx context.Context, subdir string) (map[string]indexedFile, error) {
	req, err := s.newRequest(ctx, http.MethodGet, s.cfg.channelURL()+"/"+pathEscape(subdir)+"/repodata.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := s.status(resp, "reading "+subdir+"/repodata.json"); err != nil {
		if errors.Is(err, providers.ErrNotFound) {
			return map[string]indexedFile{}, nil
		}
		return nil, err
	}
	var rd struct {
		Packages      map[string]indexedFile `json:"packages"`
		PackagesConda map[string]indexedFile `json:"packages.conda"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		return nil, fmt.Errorf("reading %s/repodata.json from Gitea: %w", subdir, err)
	}
	files := make(map[string]indexedFile, len(rd.Packages)+len(rd.PackagesConda))
	for name, f := range rd.Packages {
		files[name] = f
	}
	for name, f := range rd.PackagesConda {
		files[name] = f
	}
	return files, nil
}

// Stat describes the package file under key from its subdir's index.
func (s *Conda) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	subdir, file, err := splitKey(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	files, err := s.files(ctx, subdir)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	f, ok := files[file]
	if !ok {
		return providers.Artifact{}, s.opErr("stat", key, providers.ErrNotFound)
	}
	return s.artifact(key, f)
}

func (s *Conda) artifact(key string, f indexedFile) (providers.Artifact, error) {
	var ds []providers.Digest
	for _, d := range []providers.Digest{{Algorithm: providers.SHA256, Hex: f.SHA256}, {Algorithm: providers.MD5, Hex: f.MD5}} {
		if d.Validate() == nil {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 || ds[0].Algorithm != providers.SHA256 {
		return providers.Artifact{}, s.opErr("stat", key, errors.New("the index Gitea serves gives no valid sha256 for the file"))
	}
	return providers.Artifact{Key: key, Name: f.Name, Version: f.Version, Size: f.Size, Digests: providers.NewDigests(ds...)}, nil
}

// Fetch downloads the package file under a.Key.
func (s *Conda) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	u, err := s.URL(a)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	req, err := s.newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	if err := s.status(resp, "GET"); err != nil {
		resp.Body.Close()
		return nil, s.opErr("fetch", a.Key, err)
	}
	return resp.Body, nil
}

// Put verifies the package into a temporary file, checks that Gitea will
// file it under a.Key, uploads it and reads it back from the index. Gitea
// never replaces a package file: with opts.Overwrite an existing file is
// an error wrapping providers.ErrUnsupported.
func (s *Conda) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	subdir, file, err := splitKey(a.Key)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	s.forget(subdir)
	if _, err := s.Stat(ctx, a.Key); err == nil {
		if opts.Overwrite {
			return s.opErr("put", a.Key, fmt.Errorf("a package file in Gitea's conda registry is never replaced a package file: %w", providers.ErrUnsupported))
		}
		return s.opErr("put", a.Key, providers.ErrAlreadyExists)
	} else if !errors.Is(err, providers.ErrNotFound) {
		return err
	}

	tmp, err := os.CreateTemp("", "ferry-gitea-conda-*")
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	vr := verify.NewReader(providers.ContextReader(ctx, r), a.Size, a.Digests)
	n, err := io.Copy(tmp, vr)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	rec, err := archive.ReadMetadata(ctx, tmp, n, file)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	if stored := rec.Name + "-" + rec.Version + "-" + rec.Build + archive.Ext(file); stored != file {
		return s.opErr("put", a.Key, fmt.Errorf("this package would be stored by Gitea as %s (the name, version and build in its info/index.json), not as %s: %w", stored, file, providers.ErrUnsupported))
	}
	if rec.Subdir != subdir {
		return s.opErr("put", a.Key, fmt.Errorf("the package's info/index.json names subdir %q, where Gitea would file it, not %q: %w", rec.Subdir, subdir, providers.ErrUnsupported))
	}

	req, err := s.newRequest(ctx, http.MethodPut, s.cfg.channelURL()+"/"+pathEscape(file), io.NewSectionReader(tmp, 0, n))
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := s.client.DoOnce(req)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled once the upload may have reached Gitea: remove what
			// may have landed rather than leave a file ferry never recorded.
			s.removeIfOnly(context.WithoutCancel(ctx), a.Key, rec.Name, rec.Version)
		}
		return s.opErr("put", a.Key, err)
	}
	err = s.status(resp, "PUT")
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.forget(subdir)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	return s.verifyStored(ctx, a, rec)
}

// verifyStored reads the upload back from the index and removes it unless
// it holds the bytes ferry sent.
func (s *Conda) verifyStored(ctx context.Context, a providers.Artifact, rec archive.Record) error {
	got, err := s.Stat(ctx, a.Key)
	if err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("reading the upload back from Gitea's index: %w", err))
	}
	if got.Size == rec.Size {
		if d, ok := got.Digests.Get(providers.SHA256); ok && d.Hex == rec.SHA256 {
			return nil
		}
	}
	s.removeIfOnly(context.WithoutCancel(ctx), a.Key, rec.Name, rec.Version)
	return s.opErr("put", a.Key, fmt.Errorf("the bytes Gitea stored differ from those sent (size %d, want %d): %w", got.Size, rec.Size, providers.ErrDigestMismatch))
}

// removeIfOnly deletes the version holding key when key is its only file,
// logging why not otherwise.
func (s *Conda) removeIfOnly(ctx context.Context, key, name, version string) {
	if err := s.deleteVersion(ctx, key, name, version); err != nil && !errors.Is(err, providers.ErrNotFound) {
		s.log.Warn("could not remove an unverified upload", "key", key, "error", err)
	}
}

// Delete removes the package file under key: Gitea deletes whole versions,
// so it deletes the version when the file is the only one it holds and
// refuses (ErrUnsupported) otherwise.
func (s *Conda) Delete(ctx context.Context, key string) error {
	subdir, _, err := splitKey(key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	s.forget(subdir)
	st, err := s.Stat(ctx, key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	err = s.deleteVersion(ctx, key, st.Name, st.Version)
	s.forget(subdir)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	return nil
}

// packageURL is the package API's URL of one version. Gitea names a conda
// package in a channel "CHANNEL/NAME".
func (s *Conda) packageURL(name, version string) string {
	full := name
	if s.cfg.Channel != "" {
		full = s.cfg.Channel + "/" + name
	}
	return s.cfg.URL + "/api/v1/packages/" + pathEscape(s.cfg.Owner) + "/conda/" + pathEscape(full) + "/" + pathEscape(version)
}

// deleteVersion deletes NAME VERSION when its only file is key's.
func (s *Conda) deleteVersion(ctx context.Context, key, name, version string) error {
	_, file, err := splitKey(key)
	if err != nil {
		return err
	}
	req, err := s.newRequest(ctx, http.MethodGet, s.packageURL(name, version)+"/files", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := s.status(resp, "listing the files of "+name+" "+version); err != nil {
		return err
	}
	var files []struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&files); err != nil {
		return fmt.Errorf("reading the files of %s %s from Gitea: %w", name, version, err)
	}
	var others []string
	found := false
	for _, f := range files {
		if f.Name == file && !found {
			found = true
			continue
		}
		others = append(others, f.Name)
	}
	if !found {
		return providers.ErrNotFound
	}
	if len(others) > 0 {
		slices.Sort(others)
		return fmt.Errorf("a conda package is deleted from Gitea by whole version, and %s %s also holds %s: "+
			"ferry deletes only files it was asked to (delete the version in Gitea when none of them is needed): %w",
			name, version, strings.Join(others, ", "), providers.ErrUnsupported)
	}
	req, err = s.newRequest(ctx, http.MethodDelete, s.packageURL(name, version), nil)
	if err != nil {
		return err
	}
	resp, err = s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return s.status(resp, "DELETE "+name+" "+version)
}

package dir

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// ErrInvalidKey is wrapped by errors for keys that cannot name a file below
// the root: absolute, with empty, "." or ".." segments, backslashes or NUL
// bytes, inside the temp directory, or through a symbolic link.
var ErrInvalidKey = errors.New("invalid key")

// tmpDir holds Put's temp files, inside the root so that publishing is a
// rename (or link) on one filesystem. Keys may not start with it.
const tmpDir = ".ferry-tmp"

// Store is the destination: every object is a regular file at its key below
// the root directory. All access goes through an os.Root, so no operation
// can leave the root, and no path component below the root may be a
// symbolic link.
//
// A Store is safe for concurrent use.
type Store struct {
	name    string
	root    string
	baseURL string
	log     hclog.Logger

	// cleanOnce removes temp files left by dead processes, on first Put.
	cleanOnce sync.Once
	copier    copier
}

var (
	_ providers.Destination = (*Store)(nil)
	_ providers.Lister      = (*Store)(nil)
	_ providers.ListStater  = (*Store)(nil)
	_ providers.TokenPutter = (*Store)(nil)
	_ providers.Describer   = (*Store)(nil)
	_ providers.URLer       = (*Store)(nil)
	_ providers.Fetcher     = (*Store)(nil)
)

// NewDestination returns the store named name (its provider address, e.g.
// "dir.local") rooted at cfg.Path. The directory is created by the first
// Put if missing.
func NewDestination(name string, cfg *DestinationConfig, env registry.Env) (*Store, error) {
	return &Store{name: name, root: filepath.Clean(cfg.Path), baseURL: cfg.BaseURL, log: env.Log()}, nil
}

// Describe returns "dir " followed by the root path, and the base URL when
// set (consumer files embed it, so a plan made for another one is stale).
func (s *Store) Describe() string {
	if s.baseURL != "" {
		return "dir " + s.root + " at " + s.baseURL
	}
	return "dir " + s.root
}

// URL is where consumers download key: base_url followed by the key with
// each segment escaped.
func (s *Store) URL(a providers.Artifact) (string, error) {
	key := a.Key
	if s.baseURL == "" {
		return "", fmt.Errorf("destination %s has no base_url, so ferry cannot tell consumers where the mirror serves %s: set base_url", s.name, key)
	}
	if err := checkKey(key); err != nil {
		return "", s.opErr("url", key, err)
	}
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.baseURL + "/" + strings.Join(segs, "/"), nil
}

// Stat reports the size, sha256 and sha512 of the file at key, reading it
// whole once. Both digests are reported so an object can be compared with
// whichever algorithm the source declares. The token is the file's before
// the read: a write during it changes the token the next listing reports.
func (s *Store) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	if err := checkKey(key); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, notFound(err))
	}
	defer root.Close()
	if err := noSymlinks(root, key); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, notFound(err))
	}
	f, err := root.Open(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, notFound(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	} else if !fi.Mode().IsRegular() {
		return providers.Artifact{}, s.opErr("stat", key, fmt.Errorf("not a regular file (%s)", fi.Mode().Type()))
	}
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(h256, h512), providers.ContextReader(ctx, f))
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	return providers.Artifact{
		Key:  key,
		Size: n,
		Digests: providers.NewDigests(
			providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(h256.Sum(nil))},
			providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(h512.Sum(nil))},
		),
		Token: fileToken(fi),
	}, nil
}

// Put streams r into a temp file while verifying it against a.Size and
// a.Digests, syncs it, and only then publishes it at a.Key: with a rename
// when opts.Overwrite is set, otherwise with a hard link that fails if
// anything exists there (the existing file stays untouched, and the error
// wraps providers.ErrAlreadyExists). On any failure, a mismatch or ctx
// being cancelled included, the temp file is removed and nothing is
// published.
func (s *Store) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	_, err := s.PutToken(ctx, a, r, opts)
	return err
}

// PutToken is Put, returning the published file's change token (see
// fileToken): the file's lstat once published, provided it is still the
// inode ferry wrote with the size and mtime it had when synced (nothing
// wrote to it since); else no token.
func (s *Store) PutToken(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) (token string, err error) {
	key := a.Key
	if err := checkKey(key); err != nil {
		return "", s.opErr("put", key, err)
	}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return "", s.opErr("put", key, err)
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return "", s.opErr("put", key, err)
	}
	defer root.Close()
	if err := makeTempDir(root); err != nil {
		return "", s.opErr("put", key, err)
	}
	s.cleanOnce.Do(func() { s.removeStaleTemps(root) })

	if err := noSymlinks(root, key); err != nil {
		return "", s.opErr("put", key, err)
	}
	if !opts.Overwrite {
		// Fail before transferring anything; the link below still guards
		// against a file appearing meanwhile.
		if _, err := root.Lstat(key); err == nil {
			return "", s.opErr("put", key, providers.ErrAlreadyExists)
		}
	}
	parent := path.Dir(key)
	if err := root.MkdirAll(parent, 0o755); err != nil {
		return "", s.opErr("put", key, err)
	}

	tmp, f, err := createTemp(root)
	if err != nil {
		return "", s.opErr("put", key, err)
	}
	published, tmpGone := false, false
	defer func() {
		if f != nil {
			f.Close()
		}
		if !tmpGone && (err != nil || !opts.Overwrite && published) {
			if rerr := root.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				s.log.Warn("could not remove temp file", "path", filepath.Join(s.root, filepath.FromSlash(tmp)), "error", rerr)
			}
		}
	}()

	// The engine's verifier, when r is one: each byte hashed once.
	vr := verify.Reuse(r, a.Size, a.Digests)
	if _, err := s.copier.copy(f, providers.ContextReader(ctx, vr), a.Size); err != nil {
		return "", s.opErr("put", key, err)
	}
	if !vr.Verified() { // copy stops only at EOF, which Verified confirms
		return "", s.opErr("put", key, errors.New("content was not verified"))
	}
	if err := f.Chmod(0o644); err != nil {
		return "", s.opErr("put", key, err)
	}
	if err := f.Sync(); err != nil && !syncUnsupported(err) {
		return "", s.opErr("put", key, err)
	}
	synced, err := f.Stat()
	if err != nil {
		return "", s.opErr("put", key, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", s.opErr("put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", s.opErr("put", key, err)
	}
	if err := s.publish(root, tmp, key, opts.Overwrite); err != nil {
		return "", s.opErr("put", key, err)
	}
	published, tmpGone = true, opts.Overwrite // a rename moved it
	if !opts.Overwrite {
		// The link's second name goes before the token is taken: removing
		// it changes the file's ctime.
		if rerr := root.Remove(tmp); rerr == nil || errors.Is(rerr, fs.ErrNotExist) {
			tmpGone = true
		}
	}
	if err := syncDir(root, parent); err != nil {
		return "", s.opErr("put", key, fmt.Errorf("syncing directory: %w", err))
	}
	if fi, err := root.Lstat(key); err == nil && tmpGone && sameContent(synced, fi) {
		token = fileToken(fi)
	}
	s.log.Debug("stored", "key", key, "bytes", vr.N(), "overwrite", opts.Overwrite)
	return token, nil
}

// publish makes tmp visible at key. A concurrent Delete may remove the
// (then empty) parent directory between MkdirAll and here, so a missing
// parent is recreated a few times.
func (s *Store) publish(root *os.Root, tmp, key string, overwrite bool) error {
	var err error
	for range 3 {
		if overwrite {
			err = root.Rename(tmp, key)
		} else {
			err = root.Link(tmp, key)
			if errors.Is(err, fs.ErrExist) {
				return providers.ErrAlreadyExists
			}
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, serr := root.Lstat(tmp); serr != nil {
			return err // the temp file itself is gone
		}
		if merr := root.MkdirAll(path.Dir(key), 0o755); merr != nil {
			return merr
		}
	}
	return err
}

// Delete removes the file at key, then every parent directory it leaves
// empty, up to but not including the root.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return s.opErr("delete", key, err)
	}
	if err := ctx.Err(); err != nil {
		return s.opErr("delete", key, err)
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return s.opErr("delete", key, notFound(err))
	}
	defer root.Close()
	if err := noSymlinks(root, key); err != nil {
		return s.opErr("delete", key, notFound(err))
	}
	fi, err := root.Lstat(key)
	if err != nil {
		return s.opErr("delete", key, notFound(err))
	}
	if !fi.Mode().IsRegular() {
		return s.opErr("delete", key, fmt.Errorf("not a regular file (%s)", fi.Mode().Type()))
	}
	if err := root.Remove(key); err != nil {
		return s.opErr("delete", key, notFound(err))
	}
	dir := path.Dir(key)
	for dir != "." && root.Remove(dir) == nil { // fails once a directory is not empty
		dir = path.Dir(dir)
	}
	if err := syncDir(root, dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.opErr("delete", key, fmt.Errorf("syncing directory: %w", err))
	}
	s.log.Debug("deleted", "key", key)
	return nil
}

// List reports every regular file below the root (the temp directory,
// symbolic links and names that are not valid keys excepted) with its size.
// A missing root lists nothing.
func (s *Store) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.walk(ctx, false, fn)
}

// ListStat is List with each file's change token (see fileToken), from one
// lstat a file: a directory walk that never follows a symbolic link and
// reports only regular files, as List.
func (s *Store) ListStat(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.walk(ctx, true, fn)
}

func (s *Store) walk(ctx context.Context, tokens bool, fn func(providers.Artifact) error) error {
	root, err := os.OpenRoot(s.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return s.opErr("list", "", err)
	}
	defer root.Close()
	var fnErr error
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == tmpDir && d.IsDir() {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if checkKey(p) != nil {
			s.log.Debug("skipping file whose name is not a valid key", "path", p)
			return nil
		}
		fi, err := d.Info() // an lstat
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		} else if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil // replaced meanwhile
		}
		a := providers.Artifact{Key: p, Size: fi.Size()}
		if tokens {
			a.Token = fileToken(fi)
		}
		if err := fn(a); err != nil {
			fnErr = err
			return fs.SkipAll
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return s.opErr("list", "", err)
	}
	return nil
}

func (s *Store) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideDestination, Provider: s.name, Key: key, Err: err}
}

// checkKey accepts slash-separated relative paths whose segments are all
// real names.
func checkKey(key string) error {
	if err := providers.CheckKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if first, _, _ := strings.Cut(key, "/"); first == tmpDir {
		return fmt.Errorf("%w: %s is reserved for temp files", ErrInvalidKey, tmpDir)
	}
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		return fmt.Errorf("%w: %q is not a local path on this system", ErrInvalidKey, key)
	}
	return nil
}

// noSymlinks refuses keys any of whose components below the root is a
// symbolic link. Components that do not exist yet are fine. The os.Root
// used for the operation itself independently guarantees that nothing
// outside the root is touched, even if the tree changes after this check.
func noSymlinks(root *os.Root, key string) error {
	segs := strings.Split(key, "/")
	for i := range segs {
		p := strings.Join(segs[:i+1], "/")
		fi, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %q is a symbolic link, which dir never follows", ErrInvalidKey, p)
		}
		if i < len(segs)-1 && !fi.IsDir() {
			return &fs.PathError{Op: "lstat", Path: p, Err: syscall.ENOTDIR}
		}
	}
	return nil
}

// notFound makes "does not exist" errors (including a parent that is not a
// directory) wrap providers.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", providers.ErrNotFound, err)
	}
	return err
}

// makeTempDir creates the temp directory unless it exists, and refuses it
// unless it is a real directory: a symbolic link there would make temp
// files, and the stale-temp sweep's deletes, land in the linked directory.
func makeTempDir(root *os.Root) error {
	if err := root.Mkdir(tmpDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := root.Lstat(tmpDir)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link, which dir never follows: remove the link (not its target) and retry", tmpDir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (%s): remove it and retry", tmpDir, fi.Mode().Type())
	}
	return nil
}

func createTemp(root *os.Root) (string, *os.File, error) {
	for range 10 {
		name := tmpDir + "/" + strconv.Itoa(os.Getpid()) + "-" + randomHex(8)
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, errors.New("could not create a unique temp file")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}

// removeStaleTemps deletes temp files named after a process that no longer
// exists (a Put killed by SIGKILL or a crash). Files of live processes, this
// one included, are in use and kept. It is best effort: failures are logged.
func (s *Store) removeStaleTemps(root *os.Root) {
	entries, err := fs.ReadDir(root.FS(), tmpDir)
	if err != nil {
		s.log.Debug("cannot read temp directory", "error", err)
		return
	}
	self := os.Getpid()
	for _, e := range entries {
		pidStr, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == self || processAlive(pid) {
			continue
		}
		name := tmpDir + "/" + e.Name()
		if err := root.Remove(name); err != nil {
			s.log.Warn("could not remove stale temp file", "path", name, "error", err)
			continue
		}
		s.log.Debug("removed stale temp file", "path", name, "pid", pid)
	}
}

// syncDir fsyncs a directory so a rename, link or removal in it is durable.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !syncUnsupported(err) {
		return err
	}
	return nil
}

// syncUnsupported reports errors of filesystems that cannot fsync (some
// network and FUSE filesystems, directories on some systems).
func syncUnsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}

// Fetch opens the file at a.Key for reading; it lets a directory serve as a
// source (the air-gap cache). Missing files wrap providers.ErrNotFound.
func (s *Store) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if err := checkKey(a.Key); err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, notFound(err))
	}
	defer root.Close()
	if err := noSymlinks(root, a.Key); err != nil {
		return nil, s.opErr("fetch", a.Key, notFound(err))
	}
	f, err := root.Open(a.Key)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, notFound(err))
	}
	return ctxReadCloser{providers.ContextReader(ctx, f), f}, nil
}

type ctxReadCloser struct {
	io.Reader
	io.Closer
}

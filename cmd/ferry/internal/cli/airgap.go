package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// The air-gap split: `apply -download-only -cache DIR` fetches and verifies,
// on the connected side, every artifact the configuration selects into a
// content-addressed cache (DIR/ALG/HEX, ALG the primary digest's: sha256
// unless only sha512 is declared), and stores what each source needs
// beyond those bytes to list and serve offline (providers.Offliner: its
// documents and graph nodes by digest, its listing under
// DIR/listings/ADDR.json); `apply -from-cache DIR` on the other side plans
// and applies as usual, but every source lists from its listing and every
// fetch reads the cache.

// cacheKey is where an artifact lives in the cache: its primary digest.
func cacheKey(ds providers.Digests) (string, error) {
	d := ds.Primary()
	if d.IsZero() {
		return "", errors.New("no digest to address the cache by")
	}
	return string(d.Algorithm) + "/" + d.Hex, nil
}

// downloadOnly fills the cache. It reads no state and writes none, and never
// contacts a destination: what it fetches is what a first apply would add.
func (a *app) downloadOnly(f *planFlags, cacheDir string) error {
	cfg, err := a.loadConfig(f.vars)
	if err != nil {
		return err
	}
	ps, err := a.buildProviders(cfg)
	if err != nil {
		return err
	}
	defer ps.close()
	cache, err := dir.NewDestination("cache", &dir.DestinationConfig{Path: cacheDir}, registry.Env{Logger: a.logger.Named("cache")})
	if err != nil {
		return err
	}
	if err := checkOffline(cfg, ps); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	blobs := cacheBlobs{cache}
	empty := &state.State{Mirrors: map[string]*state.Mirror{}}
	inv, err := inventory.Gather(a.ctx, cfg, empty, ps, inventory.Options{Refresh: false, Logger: a.logger.Named("inventory")})
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	// Consumer outputs need destination URLs, which do not matter here.
	inv.Outputs = nil
	for _, m := range cfg.Mirrors {
		m := *m
		m.Outputs = nil
		cfg.Mirrors[m.Name] = &m
	}
	targets, err := parseTargets("target", f.targets, false)
	if err != nil {
		return err
	}
	excludes, err := parseTargets("exclude", f.excludes, false)
	if err != nil {
		return err
	}
	p, diags := planner.Plan(cfg, empty, inv, planner.Options{Now: time.Now(), ToolVersion: Version, Targets: targets, Excludes: excludes})
	a.renderDiags(cfg, diags)
	if diags.HasErrors() {
		return silent(ExitError)
	}
	// One fetch per distinct content, whatever the number of mirrors using it.
	type job struct {
		c   plan.Change
		key string
	}
	seen := map[string]bool{}
	var jobs []job
	transfers := map[string][]providers.Artifact{} // by source
	for _, c := range p.Changes {
		if !c.Transfers() {
			continue
		}
		transfers[c.Source] = append(transfers[c.Source], wantedArtifact(c))
		if src, err := ps.Source(c.Source); err == nil {
			if _, graph := providers.As[providers.Copier](src); graph {
				continue // its graph goes into the cache with its Snapshot
			}
		}
		key, err := cacheKey(c.After.Digests)
		if err != nil || seen[key] {
			continue
		}
		seen[key] = true
		jobs = append(jobs, job{c: c, key: key})
	}

	var mu sync.Mutex
	var fetched, present int
	var bytes int64
	var failed []string
	var g errgroup.Group
	g.SetLimit(f.parallelismFor(cfg))
	for _, j := range jobs {
		g.Go(func() error {
			n, already, err := a.cacheOne(a.ctx, ps, cache, j.c, j.key, cfg.Settings.MaxArtifactSize)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed = append(failed, fmt.Sprintf("%s: %v", j.c.Address, err))
				fmt.Fprintf(a.streams.Out, "%s: download failed\n", j.c.Address)
			case already:
				present++
			default:
				fetched++
				bytes += n
				fmt.Fprintf(a.streams.Out, "%s: cached as %s\n", j.c.Address, j.key)
			}
			return nil
		})
	}
	_ = g.Wait()
	// Then what each source needs beyond those bytes to list and serve
	// offline.
	for _, addr := range slices.Sorted(maps.Keys(inv.Sources)) {
		if a.ctx.Err() != nil {
			break
		}
		src, err := ps.Source(addr)
		if err != nil {
			return err
		}
		o, _ := providers.As[providers.Offliner](src) // checkOffline made sure
		listing, err := o.Snapshot(a.ctx, inv.Sources[addr], transfers[addr], blobs)
		if err == nil {
			err = writeListing(a.ctx, cache, addr, listing)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("source %s: storing what it needs offline: %v", addr, err))
			fmt.Fprintf(a.streams.Out, "source %s: listing not stored\n", addr)
			continue
		}
		if listing != nil {
			fmt.Fprintf(a.streams.Out, "source %s: listing stored\n", addr)
		}
	}
	fmt.Fprintf(a.streams.Out, "\nDownloaded %s (%s) into %s; %s already there.\n",
		plan.Plural(fetched, "artifact"), plan.FormatBytes(bytes), cacheDir, plan.Plural(present, "artifact"))
	if len(failed) > 0 {
		sort.Strings(failed)
		for _, msg := range failed {
			fmt.Fprintf(a.streams.Err, "\nError: %s\n", msg)
		}
		return silent(ExitError)
	}
	if a.ctx.Err() != nil {
		return &exitError{code: ExitError, err: a.ctx.Err()}
	}
	return nil
}

// cacheOne fetches one artifact into the cache, verifying it on the way.
func (a *app) cacheOne(ctx context.Context, ps *providerSet, cache *dir.Store, c plan.Change, key string, maxSize int64) (n int64, already bool, err error) {
	if obj, err := cache.Stat(ctx, key); err == nil && obj.Digests.Matches(c.After.Digests) {
		return 0, true, nil
	}
	src, err := ps.Source(c.Source)
	if err != nil {
		return 0, false, err
	}
	want := wantedArtifact(c)
	rc, err := src.Fetch(ctx, want)
	if err != nil {
		return 0, false, err
	}
	defer rc.Close()
	vr := apply.NewVerifyingReader(c, rc, maxSize)
	err = cache.Put(ctx, providers.Artifact{Key: key, Size: want.Size, Digests: want.Digests}, vr, providers.PutOptions{Overwrite: true})
	if err != nil {
		return 0, false, err
	}
	return vr.N(), false, nil
}

// wantedArtifact is what change c transfers, as the source is asked for it.
func wantedArtifact(c plan.Change) providers.Artifact {
	want := providers.Artifact{Key: c.Key, Name: c.Name, Version: c.Version, Size: -1, Digests: c.After.Digests, Created: c.Created, Origin: c.Origin}
	if c.SizeDeclared {
		want.Size = c.After.Size
	}
	return want
}

// listingKey is where the cache holds source addr's listing.
func listingKey(addr string) string { return "listings/" + addr + ".json" }

// writeListing stores source addr's listing (nothing when nil).
func writeListing(ctx context.Context, cache *dir.Store, addr string, listing []byte) error {
	if listing == nil {
		return nil
	}
	sum := sha256.Sum256(listing)
	d := providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])}
	return cache.Put(ctx, providers.Artifact{Key: listingKey(addr), Size: int64(len(listing)), Digests: providers.NewDigests(d)},
		bytes.NewReader(listing), providers.PutOptions{Overwrite: true})
}

// readListing is source addr's listing in the cache, nil when there is none.
func readListing(ctx context.Context, cache *dir.Store, addr string) ([]byte, error) {
	rc, err := cache.Fetch(ctx, providers.Artifact{Key: listingKey(addr)})
	if errors.Is(err, providers.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxListingBytes))
}

// maxListingBytes bounds a listing read from the cache.
const maxListingBytes = 1 << 30

// cacheBlobs is the cache as providers.Blobs: content by digest at ALG/HEX.
type cacheBlobs struct{ store *dir.Store }

func (b cacheBlobs) Open(ctx context.Context, d providers.Digest) (io.ReadCloser, error) {
	key, err := cacheKey(providers.NewDigests(d))
	if err != nil {
		return nil, err
	}
	return b.store.Fetch(ctx, providers.Artifact{Key: key})
}

func (b cacheBlobs) Put(ctx context.Context, d providers.Digest, size int64, r io.Reader) error {
	key, err := cacheKey(providers.NewDigests(d))
	if err != nil {
		return err
	}
	if obj, err := b.store.Stat(ctx, key); err == nil && obj.Digests.Matches(providers.NewDigests(d)) {
		return nil
	}
	return b.store.Put(ctx, providers.Artifact{Key: key, Size: size, Digests: providers.NewDigests(d)}, r, providers.PutOptions{Overwrite: true})
}

// cachedSource is a source on the inner side of an air gap: inner is the
// source as Offline returned it (listing from the cache, contacting no
// upstream), and every artifact's bytes are read from the cache by digest.
// It overrides only Fetch and Size; every other capability of inner is
// found through Unwrap (providers.As), so none is hidden and none claimed
// that inner lacks (providertest.CheckWrapper holds it to that).
type cachedSource struct {
	inner providers.Source
	cache *dir.Store
	dir   string
}

var (
	_ providers.Unwrapper = (*cachedSource)(nil)
	_ providers.Sizer     = (*cachedSource)(nil)
)

// Unwrap is the offline source.
func (s *cachedSource) Unwrap() providers.Source { return s.inner }

func (s *cachedSource) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.inner.List(ctx, fn)
}

func (s *cachedSource) Fetch(ctx context.Context, art providers.Artifact) (io.ReadCloser, error) {
	if _, graph := providers.As[providers.Copier](s.inner); graph {
		return s.inner.Fetch(ctx, art) // a graph is copied, never fetched
	}
	key, err := cacheKey(art.Digests)
	if err != nil {
		return nil, err
	}
	rc, err := s.cache.Fetch(ctx, providers.Artifact{Key: key})
	if errors.Is(err, providers.ErrNotFound) {
		return nil, fmt.Errorf("%s is not in the cache %s (as %s): run ferry apply -download-only -cache on the connected side: %w", art.Key, s.dir, key, providers.ErrNotFound)
	}
	return rc, err
}

// Size reads the cached file's size (no network on this side); -1 for a
// graph, whose size is not one file's.
func (s *cachedSource) Size(_ context.Context, art providers.Artifact) (int64, error) {
	if _, graph := providers.As[providers.Copier](s.inner); graph {
		return -1, nil
	}
	key, err := cacheKey(art.Digests)
	if err != nil {
		return -1, nil
	}
	fi, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err != nil {
		return -1, nil
	}
	return fi.Size(), nil
}

func (s *cachedSource) Notes() []string {
	if n, ok := providers.As[interface{ Notes() []string }](s.inner); ok {
		return n.Notes()
	}
	return nil
}

// idleSource stands, on the inner side of an air gap, for a source no
// mirror reads (a removed mirror's, kept in the configuration): its
// capabilities still tell how its objects are compared at a destination
// (a graph by StatGraph), but it is never listed or fetched.
type idleSource struct{ inner providers.Source }

var errIdle = errors.New("no mirror reads this source; it is not read from an air-gap cache")

func (s idleSource) Unwrap() providers.Source { return s.inner }

func (s idleSource) List(context.Context, func(providers.Artifact) error) error { return errIdle }

func (s idleSource) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return nil, errIdle
}

// checkOffline reports every mirror whose source cannot cross an air gap
// (it is no providers.Offliner), naming the mirror.
func checkOffline(cfg *config.Config, ps *providerSet) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Mirrors)) {
		m := cfg.Mirrors[name]
		src, ok := ps.sources[m.From]
		if !ok {
			continue // Load reported it
		}
		if _, ok := providers.As[providers.Offliner](src); !ok {
			errs = append(errs, fmt.Errorf("mirror %s cannot be mirrored through an air-gap cache (-download-only, -from-cache): source %s: this source type does not support it", name, m.From))
		}
	}
	return errors.Join(errs...)
}

// useCache replaces every source a mirror reads with its offline version
// over the cache at cacheDir, after checking that each can work so, and
// every other source with an idleSource: nothing may reach an upstream.
func (ps *providerSet) useCache(ctx context.Context, cfg *config.Config, cacheDir string, cache *dir.Store) error {
	if err := checkOffline(cfg, ps); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, m := range cfg.Mirrors {
		used[m.From] = true
	}
	var errs []error
	for _, addr := range slices.Sorted(maps.Keys(ps.sources)) {
		s := ps.sources[addr]
		if !used[addr] {
			ps.sources[addr] = idleSource{s}
			continue
		}
		o, _ := providers.As[providers.Offliner](s)
		listing, err := readListing(ctx, cache, addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("source %s: reading its listing in the cache: %w", addr, err))
			continue
		}
		off, err := o.Offline(listing, cacheBlobs{cache})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps.sources[addr] = &cachedSource{inner: off, cache: cache, dir: cacheDir}
		ps.replaced = append(ps.replaced, s)
	}
	return errors.Join(errs...)
}

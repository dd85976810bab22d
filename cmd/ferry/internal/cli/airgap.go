package cli

import (
	"context"
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
// unless only sha512 is declared); `apply -from-cache DIR` on the
// other side plans and applies as usual, but every fetch reads the cache.

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
	if err := checkOffline(cfg, ps); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	empty := &state.State{Mirrors: map[string]*state.Mirror{}}
	inv, err := inventory.Gather(a.ctx, cfg, empty, ps, inventory.Options{Refresh: false, Logger: a.logger.Named("inventory")})
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	// Consumer outputs need destination URLs, which do not matter here.
	inv.Outputs = nil
	for _, m := range cfg.Mirrors {
		m := *m
		m.Rewrite, m.Bindings = nil, nil
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
	cache, err := dir.NewDestination("cache", &dir.DestinationConfig{Path: cacheDir}, registry.Env{Logger: a.logger.Named("cache")})
	if err != nil {
		return err
	}

	// One fetch per distinct content, whatever the number of mirrors using it.
	type job struct {
		c   plan.Change
		key string
	}
	seen := map[string]bool{}
	var jobs []job
	for _, c := range p.Changes {
		if !c.Transfers() {
			continue
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
	want := providers.Artifact{Key: c.Key, Size: -1, Digests: c.After.Digests, Origin: c.Origin}
	if c.SizeDeclared {
		want.Size = c.After.Size
	}
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

// cachedSource serves fetches from the cache; listing (local files and
// config) still goes to the real source.
type cachedSource struct {
	inner providers.Source
	cache *dir.Store
	dir   string
}

func (s *cachedSource) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.inner.List(ctx, fn)
}

func (s *cachedSource) Fetch(ctx context.Context, art providers.Artifact) (io.ReadCloser, error) {
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

// Size reads the cached file's size (no network on this side).
func (s *cachedSource) Size(_ context.Context, art providers.Artifact) (int64, error) {
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
	if n, ok := s.inner.(interface{ Notes() []string }); ok {
		return n.Notes()
	}
	return nil
}

// cachedPubSource is a cachedSource whose source owns consumer outputs (a
// buildpack.toml that rewrites and bindings edit); they pass through. Only
// such sources may be Publishers: the inventory asks any source that is.
type cachedPubSource struct{ *cachedSource }

func (s cachedPubSource) ReadOutputs(ctx context.Context, req providers.OutputRequest) (providers.OutputRead, error) {
	return s.inner.(providers.Publisher).ReadOutputs(ctx, req)
}

func (s cachedPubSource) Publish(ctx context.Context, o providers.Output, missing []string) error {
	return s.inner.(providers.Publisher).Publish(ctx, o, missing)
}

// checkOffline reports every mirror whose source cannot work through an
// air-gap cache (see providers.Offliner), naming the mirror and why.
func checkOffline(cfg *config.Config, ps *providerSet) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Mirrors)) {
		m := cfg.Mirrors[name]
		src, ok := ps.sources[m.From]
		if !ok {
			continue // Load reported it
		}
		var why error
		if o, ok := src.(providers.Offliner); ok {
			why = o.CheckOffline()
		} else {
			why = errors.New("this source type does not support it")
		}
		if why != nil {
			errs = append(errs, fmt.Errorf("mirror %s cannot be mirrored through an air-gap cache (-download-only, -from-cache): source %s: %w", name, m.From, why))
		}
	}
	return errors.Join(errs...)
}

// useCache makes every source fetch from the cache at dir, after checking
// that every mirror's source can work so.
func (ps *providerSet) useCache(cfg *config.Config, cacheDir string, cache *dir.Store) error {
	if err := checkOffline(cfg, ps); err != nil {
		return err
	}
	for addr, s := range ps.sources {
		c := &cachedSource{inner: s, cache: cache, dir: cacheDir}
		if _, ok := s.(providers.Publisher); ok {
			ps.sources[addr] = cachedPubSource{c}
		} else {
			ps.sources[addr] = c
		}
	}
	return nil
}

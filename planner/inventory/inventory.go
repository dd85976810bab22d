// Package inventory gathers what the planner needs from the outside world:
// each source's listing and, when refreshing, what the destinations hold for
// every key ferry owns or may write. It is the only place planning does I/O.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// Providers resolves configured provider addresses ("http.tools").
type Providers interface {
	Source(addr string) (providers.Source, error)
	Destination(addr string) (providers.Destination, error)
}

// Options control Gather.
type Options struct {
	// Refresh stats destination objects and asks sources for sizes; without
	// it only the source listings are read and the state is trusted.
	Refresh bool
	// Parallelism bounds concurrent stats; <= 0 means config.DefaultParallelism.
	Parallelism int
	Logger      hclog.Logger
}

// Gather lists every source a mirror uses and, when refreshing, stats at each
// mirror's destination every key ferry owns and every key it may add.
func Gather(ctx context.Context, cfg *config.Config, prior *state.State, provs Providers, opts Options) (*planner.Inventory, error) {
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	par := opts.Parallelism
	if par <= 0 {
		par = config.DefaultParallelism
	}
	inv := &planner.Inventory{
		Refreshed:    opts.Refresh,
		Sources:      map[string][]providers.Artifact{},
		Destinations: map[string]map[string]planner.Object{},
	}

	var sourceAddrs []string
	for _, m := range cfg.Mirrors {
		if _, ok := inv.Sources[m.From]; !ok {
			inv.Sources[m.From] = nil
			sourceAddrs = append(sourceAddrs, m.From)
		}
	}
	sort.Strings(sourceAddrs)
	for _, addr := range sourceAddrs {
		src, err := provs.Source(addr)
		if err != nil {
			return nil, err
		}
		var arts []providers.Artifact
		if err := src.List(ctx, func(a providers.Artifact) error {
			arts = append(arts, a)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("listing source %s: %w", addr, err)
		}
		logger.Debug("listed source", "source", addr, "artifacts", len(arts))
		inv.Sources[addr] = arts
	}
	if !opts.Refresh {
		inv.Destinations = nil
		return inv, nil
	}

	type job struct {
		dest, key string
		stat      providers.Stater
	}
	type sizeJob struct {
		source string
		a      providers.Artifact
		sizer  providers.Sizer
	}
	var jobs []job
	var sizeJobs []sizeJob
	queued := map[string]bool{}
	for _, name := range sortedMirrors(cfg) {
		m := cfg.Mirrors[name]
		dst, err := provs.Destination(m.To)
		if err != nil {
			return nil, err
		}
		if inv.Destinations[m.To] == nil {
			inv.Destinations[m.To] = map[string]planner.Object{}
		}
		add := func(key string) {
			if id := m.To + "\x00" + key; !queued[id] {
				queued[id] = true
				jobs = append(jobs, job{dest: m.To, key: key, stat: dst})
			}
		}
		var owned map[string]*state.Artifact
		if sm := prior.Mirror(name); sm != nil && sm.Destination == m.To {
			owned = sm.Artifacts
			for key := range owned {
				add(key)
			}
		}
		src, err := provs.Source(m.From)
		if err != nil {
			return nil, err
		}
		sizer, _ := src.(providers.Sizer)
		for _, a := range inv.Sources[m.From] {
			add(a.Key)
			o := owned[a.Key]
			if sizer != nil && a.Size < 0 && (o == nil || a.Digests.Conflicts(o.SourceDigests)) {
				sizeJobs = append(sizeJobs, sizeJob{source: m.From, a: a, sizer: sizer})
			}
		}
	}

	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, j := range jobs {
		g.Go(func() error {
			a, err := j.stat.Stat(gctx, j.key)
			obj := planner.Object{}
			switch {
			case errors.Is(err, providers.ErrNotFound):
			case err != nil:
				return fmt.Errorf("refreshing %s: %w", j.dest, err)
			default:
				obj = planner.Object{Exists: true, Size: a.Size, Digests: a.Digests}
			}
			mu.Lock()
			inv.Destinations[j.dest][j.key] = obj
			mu.Unlock()
			return nil
		})
	}
	for _, j := range sizeJobs {
		g.Go(func() error {
			n, err := j.sizer.Size(gctx, j.a)
			if err != nil {
				// A size is only a hint for the plan; apply fetches anyway and
				// reports real errors then.
				logger.Debug("size lookup failed", "source", j.source, "key", j.a.Key, "error", err)
				return nil
			}
			if n < 0 {
				return nil
			}
			mu.Lock()
			if inv.SizeHints == nil {
				inv.SizeHints = map[string]map[string]int64{}
			}
			if inv.SizeHints[j.source] == nil {
				inv.SizeHints[j.source] = map[string]int64{}
			}
			inv.SizeHints[j.source][j.a.Key] = n
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	logger.Debug("refreshed destinations", "objects", len(jobs), "size_lookups", len(sizeJobs))
	return inv, nil
}

func sortedMirrors(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Mirrors))
	for n := range cfg.Mirrors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

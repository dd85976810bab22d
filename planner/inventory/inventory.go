// Package inventory gathers what the planner needs from the outside world:
// each source's listing and, when refreshing, what the destinations hold for
// every key ferry owns or may write. It is the only place planning does I/O.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/internal/limit"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// Providers resolves configured provider addresses ("http.tools").
type Providers interface {
	Source(addr string) (providers.Source, error)
	Destination(addr string) (providers.Destination, error)
}

// noter is a source that explains what it cannot mirror.
type noter interface{ Notes() []string }

// gatherOutputs reads, for every mirror whose source or destination is a
// Publisher, its current consumer outputs. It runs with and without
// refresh: a consumer file is part of what the plan must tell the truth
// about; refresh only decides whether outputs kept at the destination are
// read.
func gatherOutputs(ctx context.Context, cfg *config.Config, prior *state.State, provs Providers, inv *planner.Inventory, refresh bool) error {
	for _, name := range sortedMirrors(cfg) {
		m := cfg.Mirrors[name]
		src, err := provs.Source(m.From)
		if err != nil {
			return err
		}
		dst, err := provs.Destination(m.To)
		if err != nil {
			return err
		}
		// The side whose type decoded the mirror's output blocks owns its
		// outputs; without blocks, the source when it publishes, else the
		// destination.
		var pub providers.Publisher
		side := providers.SideSource
		srcPub, srcOK := providers.As[providers.Publisher](src)
		dstPub, dstOK := dst.(providers.Publisher)
		switch {
		case m.Outputs != nil && m.Outputs.Side == schema.KindDestination:
			pub, side = dstPub, providers.SideDestination
		case m.Outputs != nil || srcOK:
			pub = srcPub
		case dstOK:
			pub, side = dstPub, providers.SideDestination
		}
		if pub == nil {
			if m.Outputs != nil {
				addr := m.From
				if side == providers.SideDestination {
					addr = m.To
				}
				return fmt.Errorf("mirror %s: %s %s publishes no consumer outputs", name, side, addr)
			}
			continue
		}
		req := providers.OutputRequest{
			Mirror:      name,
			Dir:         cfg.Dir,
			Listed:      inv.Sources[m.From],
			Source:      src,
			Destination: dst,
			Refresh:     refresh,
		}
		if m.Outputs != nil {
			req.Settings = m.Outputs.Settings
		}
		if sm := prior.Mirror(name); sm != nil && sm.Destination == m.To {
			for _, key := range sortedKeys(sm.Artifacts) {
				o := sm.Artifacts[key]
				req.Owned = append(req.Owned, providers.Artifact{Key: o.Key, Name: o.Name, Version: o.Version, Size: o.Size, Digests: o.Digests, Created: o.Created, Origin: o.Origin})
			}
		}
		read, err := pub.ReadOutputs(ctx, req)
		if err != nil {
			return fmt.Errorf("mirror %s: reading consumer outputs: %w", name, err)
		}
		if read.State == nil {
			continue
		}
		if inv.Outputs == nil {
			inv.Outputs = map[string]planner.OutputInventory{}
		}
		inv.Outputs[name] = planner.OutputInventory{Side: side, OutputRead: read}
	}
	return nil
}

// Options control Gather.
type Options struct {
	// Refresh stats destination objects and asks sources for sizes; without
	// it only the source listings are read and the state is trusted.
	Refresh bool
	// SourcesOnly lists the sources and reads the consumer outputs (those
	// kept at a destination only with Refresh), and stats no destination
	// object: what apply needs to check a saved plan.
	SourcesOnly bool
	// Parallelism bounds concurrent stats; <= 0 means config.DefaultParallelism.
	Parallelism int
	// Connections caps the stats in flight at one destination and the
	// size lookups at one source, by configuration address
	// ("destination.dir.local", "source.http.tools"): the Connections its
	// type declares. Absent or <= 0: only Parallelism bounds them.
	Connections map[string]int
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
		// A source usually lists about what its mirrors own already:
		// reserve that much, so a large unchanged listing is not copied
		// over and over as it grows.
		var arts []providers.Artifact
		if n := ownedBy(cfg, prior, addr); n > 0 {
			arts = make([]providers.Artifact, 0, n)
		}
		collect := func(a providers.Artifact) error {
			if len(arts) == cap(arts) {
				// Double: append grows a large slice by a quarter,
				// copying a 100,000-artifact listing many times.
				arts = slices.Grow(arts, max(len(arts), 64))
			}
			arts = append(arts, a)
			return nil
		}
		if ff, ok := providers.As[providers.FeedFollower](src); ok {
			var positions map[string]string
			if prior != nil {
				positions = prior.Feeds[addr]
			}
			res, err := ff.ListFrom(ctx, positions, collect)
			if err != nil {
				return nil, fmt.Errorf("listing source %s: %w", addr, err)
			}
			if len(res.Positions) > 0 {
				if inv.Feeds == nil {
					inv.Feeds = map[string]map[string]string{}
				}
				inv.Feeds[addr] = res.Positions
			}
			inv.Warnings = append(inv.Warnings, res.Warnings...)
		} else if err := src.List(ctx, collect); err != nil {
			return nil, fmt.Errorf("listing source %s: %w", addr, err)
		}
		logger.Debug("listed source", "source", addr, "artifacts", len(arts))
		inv.Sources[addr] = arts
		if n, ok := providers.As[noter](src); ok && len(n.Notes()) > 0 {
			if inv.Notes == nil {
				inv.Notes = map[string][]string{}
			}
			inv.Notes[addr] = n.Notes()
		}
	}
	if err := gatherUpstream(ctx, cfg, prior, provs, inv); err != nil {
		return nil, err
	}
	if err := gatherOutputs(ctx, cfg, prior, provs, inv, opts.Refresh); err != nil {
		return nil, err
	}
	if opts.SourcesOnly {
		inv.Refreshed, inv.Destinations = false, nil
		return inv, nil
	}
	checked := map[string]bool{}
	for _, name := range sortedMirrors(cfg) {
		m := cfg.Mirrors[name]
		if checked[m.To] {
			continue
		}
		dst, err := provs.Destination(m.To)
		if err != nil {
			return nil, err
		}
		// Consumers download what ferry's outputs point them at.
		if !inv.Outputs[name].CheckAccess {
			continue
		}
		checked[m.To] = true
		if cc, ok := dst.(providers.ConsumerChecker); ok {
			for _, w := range cc.CheckConsumerAccess(ctx) {
				inv.ConsumerWarnings = append(inv.ConsumerWarnings, fmt.Sprintf("Destination %s: %s", m.To, w))
			}
		}
	}
	if !opts.Refresh {
		inv.Destinations = nil
		return inv, nil
	}

	type job struct {
		dest, key string
		stat      func(context.Context, string) (providers.Artifact, error)
		// lenient: a failed stat leaves the key unchecked instead of
		// failing the plan (keys of removed mirrors, checked only so a
		// delete of replaced content can be flagged).
		lenient bool
		// listed: the destination is a ListStater or KeyListStater, so
		// its listing answers first (see listStats).
		listed bool
		// recorded is what the state records ferry verified under key at
		// dest (nil: not owned): a listing reporting its token and size
		// proves the object holds its digests.
		recorded *state.Artifact
		// graph: the pair compares whole graphs (StatGraph), which a
		// listing's digests do not describe: a listed key is Stat'ed.
		graph bool
	}
	type sizeJob struct {
		source string
		a      providers.Artifact
		sizer  providers.Sizer
	}
	var jobs []job
	var sizeJobs []sizeJob
	queued := map[string]int{} // dest NUL key → index in jobs
	for _, name := range sortedMirrors(cfg) {
		m := cfg.Mirrors[name]
		dst, err := provs.Destination(m.To)
		if err != nil {
			return nil, err
		}
		if inv.Destinations[m.To] == nil {
			inv.Destinations[m.To] = map[string]planner.Object{}
		}
		src, err := provs.Source(m.From)
		if err != nil {
			return nil, err
		}
		pair, perr := providers.NewPair(src, dst)
		if perr != nil && pair.Transfer == providers.GraphCopy {
			return nil, fmt.Errorf("mirror %s: source %s copies graphs, which destination %s cannot hold", name, m.From, m.To)
		}
		stat, listed := pair.Stat, listable(pair)
		add := func(key string, recorded *state.Artifact) {
			id := m.To + "\x00" + key
			if i, ok := queued[id]; ok {
				if jobs[i].recorded == nil {
					jobs[i].recorded = recorded
				}
				return
			}
			queued[id] = len(jobs)
			jobs = append(jobs, job{dest: m.To, key: key, stat: stat, listed: listed, recorded: recorded, graph: pair.Transfer == providers.GraphCopy})
		}
		var owned map[string]*state.Artifact
		if sm := prior.Mirror(name); sm != nil && sm.Destination == m.To {
			owned = sm.Artifacts
			for key, o := range owned {
				add(key, o)
			}
		}
		sizer, _ := providers.As[providers.Sizer](src)
		for _, a := range inv.Sources[m.From] {
			add(a.Key, nil)
			o := owned[a.Key]
			if sizer != nil && a.Size < 0 && (o == nil || a.Digests.Conflicts(o.SourceDigests)) {
				sizeJobs = append(sizeJobs, sizeJob{source: m.From, a: a, sizer: sizer})
			}
		}
	}

	// Mirrors removed from the config: their owned keys are deleted, so
	// stat them too, to tell a delete of content someone replaced.
	var priorMirrors map[string]*state.Mirror
	if prior != nil {
		priorMirrors = prior.Mirrors
	}
	for _, name := range sortedKeys(priorMirrors) {
		sm := priorMirrors[name]
		if _, ok := cfg.Mirrors[name]; ok {
			continue
		}
		if _, ok := cfg.Destinations[sm.Destination]; !ok {
			continue
		}
		dst, err := provs.Destination(sm.Destination)
		if err != nil {
			return nil, err
		}
		src, _ := provs.Source(sm.Source)
		pair, _ := providers.NewPair(src, dst) // a pair that cannot transfer still stats
		stat, listed := pair.Stat, listable(pair)
		if inv.Destinations[sm.Destination] == nil {
			inv.Destinations[sm.Destination] = map[string]planner.Object{}
		}
		for _, key := range sortedKeys(sm.Artifacts) {
			if id := sm.Destination + "\x00" + key; !hasKey(queued, id) {
				queued[id] = len(jobs)
				jobs = append(jobs, job{dest: sm.Destination, key: key, stat: stat, lenient: true, listed: listed, recorded: sm.Artifacts[key], graph: pair.Transfer == providers.GraphCopy})
			}
		}
	}

	var mu sync.Mutex
	var stats, fromTokens atomic.Int64 // for the debug log: what refresh cost
	sizeFailures, firstSizeErr := map[string]int{}, map[string]error{}
	limits := limit.New(opts.Connections)
	var listDests []string
	listKeys := map[string][]string{}
	for _, j := range jobs {
		if j.listed && !slices.Contains(listDests, j.dest) {
			listDests = append(listDests, j.dest)
		}
		if j.listed {
			listKeys[j.dest] = append(listKeys[j.dest], j.key)
		}
	}
	listings, listErrs := listStats(ctx, provs, listDests, listKeys, limits, logger)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, j := range jobs {
		g.Go(func() error {
			if j.listed {
				if err := listErrs[j.dest]; err != nil {
					if j.lenient {
						return nil
					}
					return fmt.Errorf("refreshing %s: %w", j.dest, err)
				}
				a, ok := listings[j.dest][j.key]
				if !ok {
					// Absent from the listing: not there, no request.
					mu.Lock()
					inv.Destinations[j.dest][j.key] = planner.Object{}
					mu.Unlock()
					return nil
				}
				if r := j.recorded; r != nil && r.Token != "" && a.Token == r.Token && a.Size == r.Size && !j.graph {
					// The object ferry wrote and verified, untouched since.
					fromTokens.Add(1)
					mu.Lock()
					inv.Destinations[j.dest][j.key] = planner.Object{Exists: true, Size: r.Size, Digests: r.Digests}
					mu.Unlock()
					return nil
				}
				if _, ok := a.Digests.Get(providers.SHA256); ok && !j.graph {
					mu.Lock()
					inv.Destinations[j.dest][j.key] = planner.Object{Exists: true, Size: a.Size, Digests: a.Digests, Claimed: a.Claimed}
					mu.Unlock()
					return nil
				}
				// Listed without a sha256: Stat tells it (below).
			}
			release, err := limits.Acquire(gctx, limit.Destination(j.dest))
			if err != nil {
				return err
			}
			defer release()
			stats.Add(1)
			a, err := j.stat(gctx, j.key)
			obj := planner.Object{}
			switch {
			case errors.Is(err, providers.ErrNotFound):
			case err != nil && j.lenient:
				logger.Debug("stat failed", "destination", j.dest, "key", j.key, "error", err)
				return nil
			case err != nil:
				return fmt.Errorf("refreshing %s: %w", j.dest, err)
			default:
				obj = planner.Object{Exists: true, Size: a.Size, Digests: a.Digests, Claimed: a.Claimed}
			}
			mu.Lock()
			inv.Destinations[j.dest][j.key] = obj
			mu.Unlock()
			return nil
		})
	}
	for _, j := range sizeJobs {
		g.Go(func() error {
			release, err := limits.Acquire(gctx, limit.Source(j.source))
			if err != nil {
				return err
			}
			defer release()
			n, err := j.sizer.Size(gctx, j.a)
			if err != nil {
				// A size is only a hint for the plan, but an upstream that
				// cannot answer is worth saying before apply finds out.
				logger.Debug("size lookup failed", "source", j.source, "key", j.a.Key, "error", err)
				mu.Lock()
				sizeFailures[j.source]++
				if _, ok := firstSizeErr[j.source]; !ok {
					firstSizeErr[j.source] = err
				}
				mu.Unlock()
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
	for src, n := range sizeFailures {
		inv.Warnings = append(inv.Warnings, fmt.Sprintf("Source %s did not answer a size lookup for %d of the artifacts to transfer; apply may fail to fetch them. First error: %v", src, n, firstSizeErr[src]))
	}
	sort.Strings(inv.Warnings)
	logger.Debug("refreshed destinations", "objects", len(jobs), "stats", stats.Load(), "proven_by_token", fromTokens.Load(), "size_lookups", len(sizeJobs))
	return inv, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// listable reports whether the pair's destination answers a refresh from
// a listing: a KeyListStater, or a ListStater that compares objects (not
// graphs, which StatGraph describes and a whole-store listing has no
// business with).
func listable(p providers.Pair) bool {
	if _, ok := p.Destination.(providers.KeyListStater); ok {
		return true
	}
	_, ok := p.Destination.(providers.ListStater)
	return ok && p.Transfer != providers.GraphCopy
}

// listStats lists each listable destination once: what it holds, by key
// (a KeyListStater, of keys[dest]). A destination whose listing failed has
// its error instead.
func listStats(ctx context.Context, provs Providers, dests []string, keys map[string][]string, limits *limit.Set, logger hclog.Logger) (map[string]map[string]providers.Artifact, map[string]error) {
	listings, errs := map[string]map[string]providers.Artifact{}, map[string]error{}
	for _, dest := range dests {
		dst, err := provs.Destination(dest)
		if err != nil {
			errs[dest] = err
			continue
		}
		release, err := limits.Acquire(ctx, limit.Destination(dest))
		if err != nil {
			errs[dest] = err
			continue
		}
		held := map[string]providers.Artifact{}
		add := func(a providers.Artifact) error {
			held[a.Key] = a
			return nil
		}
		if kl, ok := dst.(providers.KeyListStater); ok {
			err = kl.ListStatKeys(ctx, keys[dest], add)
		} else {
			err = dst.(providers.ListStater).ListStat(ctx, add) // listable checked it
		}
		release()
		if err != nil {
			errs[dest] = fmt.Errorf("listing: %w", err)
			continue
		}
		logger.Debug("listed destination", "destination", dest, "objects", len(held))
		listings[dest] = held
	}
	return listings, errs
}

// gatherUpstream asks selective sources (npm) about the owned keys they did
// not list.
func gatherUpstream(ctx context.Context, cfg *config.Config, prior *state.State, provs Providers, inv *planner.Inventory) error {
	for _, name := range sortedMirrors(cfg) {
		m := cfg.Mirrors[name]
		src, err := provs.Source(m.From)
		if err != nil {
			return err
		}
		// Only a selective source is asked; the set of listed keys is
		// built for it alone (a 100,000-key map otherwise wasted).
		if ur, ok := providers.As[providers.UpstreamReporter](src); ok {
			if inv.Upstream == nil {
				inv.Upstream = map[string]map[string]bool{}
			}
			if inv.Upstream[m.From] == nil {
				inv.Upstream[m.From] = map[string]bool{}
			}
			if sm := prior.Mirror(name); sm != nil {
				listed := make(map[string]bool, len(inv.Sources[m.From]))
				for _, a := range inv.Sources[m.From] {
					listed[a.Key] = true
				}
				for key := range sm.Artifacts {
					if listed[key] {
						continue
					}
					if has, known := ur.UpstreamHas(key); known {
						inv.Upstream[m.From][key] = has
					}
				}
			}
		}
	}
	return nil
}

// ownedBy is the most artifacts a mirror reading source addr owns in
// prior (a nil prior owns nothing).
func ownedBy(cfg *config.Config, prior *state.State, addr string) int {
	n := 0
	if prior == nil {
		return 0
	}
	for name, m := range cfg.Mirrors {
		if sm := prior.Mirror(name); m.From == addr && sm != nil {
			n = max(n, len(sm.Artifacts))
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedMirrors(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Mirrors))
	for n := range cfg.Mirrors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

package cli

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/registry"
)

func (a *app) newApplyCommand() *cobra.Command {
	var (
		f            planFlags
		autoApprove  bool
		downloadOnly bool
		cacheDir     string
		asJSON       bool
		sr           shardRequest
	)
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Transfer and delete what the plan says, verifying every byte",
		Long: `Apply executes a plan. Given a saved plan file it executes exactly that plan,
refusing it if the state or the configuration changed since it was made, or if
it holds any change they do not justify (checked against a fresh listing of
the sources).
Without one it plans first and asks for confirmation on a terminal; without a
terminal it needs -auto-approve.

Transfers run first; then consumer files (rewritten buildpack.toml, bindings),
each only once what it points at has landed; deletes run last, and only when
everything before succeeded. The state is checkpointed as changes complete, so
an interrupted apply resumes without re-sending what landed.

Sharded: -shard I/N (or -shards N with JOB_COMPLETION_INDEX) applies one of N
parts of a saved plan's transfers; shards run at once, each merging its records
into the state. -finalize, once every shard finished, runs the publish steps
and deletes (docs/scaling.md).

Air gap: -download-only -cache DIR on the connected side fetches and verifies
what the configuration selects; -from-cache DIR on the other side applies from
that cache without contacting the upstreams.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON && downloadOnly {
				return &exitError{code: ExitError, err: errors.New("-json reports an apply's events; -download-only has none")}
			}
			if asJSON && len(args) == 0 && !autoApprove {
				return &exitError{code: ExitError, err: errors.New("-json needs a saved plan file or -auto-approve: it cannot ask for confirmation")}
			}
			if sr.countSet = cmd.Flags().Changed("shards"); sr.any() {
				if downloadOnly || cacheDir != "" {
					return &exitError{code: ExitError, err: errors.New("-download-only fetches into a cache; it has no shards")}
				}
				if given := planningOptionsGiven(cmd.Flags()); len(given) > 0 {
					return &exitError{code: ExitError, err: fmt.Errorf("a saved plan is applied as it is: %s cannot be combined with a plan file (plan again with them instead)", strings.Join(given, ", "))}
				}
				i, n, err := a.resolveShard(sr, len(args) == 1, f.lock.lock)
				if err != nil {
					return err
				}
				if sr.finalize {
					return a.applyFinalize(args[0], &f, asJSON, n)
				}
				return a.applyShard(args[0], &f, asJSON, i, n)
			}
			if downloadOnly {
				if cacheDir == "" || f.fromCache != "" || len(args) > 0 {
					return &exitError{code: ExitError, err: errors.New("-download-only needs -cache DIR, and takes neither a plan file nor -from-cache")}
				}
				for _, name := range []string{"replace", "refresh", "allow-delete", "max-delete-wait"} {
					if cmd.Flags().Changed(name) {
						return &exitError{code: ExitError, err: fmt.Errorf("-download-only reads no state and no destination, so -%s has no meaning there", name)}
					}
				}
				return a.downloadOnly(&f, cacheDir)
			}
			if cacheDir != "" {
				return &exitError{code: ExitError, err: errors.New("-cache goes with -download-only; to apply from a cache use -from-cache DIR")}
			}
			if len(args) == 1 {
				if given := planningOptionsGiven(cmd.Flags()); len(given) > 0 {
					return &exitError{code: ExitError, err: fmt.Errorf("a saved plan is applied as it is: %s cannot be combined with a plan file (plan again with them instead)", strings.Join(given, ", "))}
				}
				return a.applySaved(args[0], &f, asJSON)
			}
			return a.applyFresh(&f, autoApprove, asJSON)
		},
	}
	addPlanFlags(cmd.Flags(), &f)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "apply without asking for confirmation")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the apply's events as JSON, one object per line (docs/plan-format.md); needs a plan file or -auto-approve")
	cmd.Flags().BoolVar(&downloadOnly, "download-only", false, "air gap, connected side: fetch and verify what the config selects into -cache DIR; no state, no destination")
	cmd.Flags().StringVar(&cacheDir, "cache", "", "the content-addressed cache `DIR` for -download-only")
	cmd.Flags().StringVar(&sr.spec, "shard", "", "apply shard `I/N` of the saved plan (I from 0): its part of the transfers; publish steps and deletes wait for -finalize (docs/scaling.md)")
	cmd.Flags().IntVar(&sr.count, "shards", 0, "apply one of `N` shards of the saved plan, the index taken from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	cmd.Flags().BoolVar(&sr.finalize, "finalize", false, "after every shard of the saved plan finished: run its publish steps and deletes, and clear the barrier")
	a.withMetricsFile(cmd, &f)
	cmd.Flags().DurationVar(&f.maxDeleteWait, "max-delete-wait", 0, "how long to wait for a destination's delete quota (deletes_per_hour); deletes that would wait longer are left for the next apply (default 0: only what the quota allows now)")
	return cmd
}

func (a *app) applySaved(path string, f *planFlags, asJSON bool) error {
	p, err := readPlanFile(path)
	if err != nil {
		return err
	}
	cfg, err := a.loadConfigForPlan(path, p, f.vars)
	if err != nil {
		return err
	}
	sess, err := a.openState(statePath(cfg), "apply", f.lock)
	if err != nil {
		return err
	}
	defer sess.close()
	lineage, serial := sess.state.Lineage, sess.state.Serial
	if !sess.existed {
		lineage, serial = "", 0
	}
	if p.PriorState.Lineage != lineage {
		return &exitError{code: ExitError, err: fmt.Errorf("saved plan %s does not match the state: it was made against state lineage %q, the state file has %q; run ferry plan again", path, p.PriorState.Lineage, lineage)}
	}
	if p.PriorState.Serial != serial {
		return &exitError{code: ExitError, err: fmt.Errorf("saved plan %s is stale: the state changed since it was made (serial %d, now %d); run ferry plan again", path, p.PriorState.Serial, serial)}
	}
	ps, err := a.providersFor(cfg, f)
	if err != nil {
		return err
	}
	defer ps.close()
	if err := checkDestinations(path, ps, p); err != nil {
		return err
	}
	if err := a.validateSaved(path, cfg, sess, ps, p, f); err != nil {
		return err
	}
	if !p.Summary.Changed() && !asJSON {
		fmt.Fprintln(a.streams.Out, "No changes. Nothing to apply.")
		return a.recordFeeds(sess, p)
	}
	// With -json a plan without changes is applied too: its events say so
	// (and apply records its feeds).
	return a.execute(cfg, sess, ps, p, f, asJSON)
}

// checkDestinations refuses a saved plan when a destination it touches
// is configured otherwise now.
func checkDestinations(path string, ps *providerSet, p *plan.Plan) error {
	now := ps.describeDestinations()
	touched := maps.Clone(p.Destinations)
	if touched == nil {
		touched = map[string]string{}
	}
	for _, c := range p.Changes {
		// A change whose destination the plan does not describe is checked
		// too: its description is "" in the plan.
		touched[c.Destination] = p.Destinations[c.Destination]
	}
	for _, addr := range sortedStrings(touched) {
		if now[addr] != p.Destinations[addr] {
			return &exitError{code: ExitError, err: fmt.Errorf("saved plan %s is stale: destination %s was %q when planned and is %q now; run ferry plan again", path, addr, p.Destinations[addr], now[addr])}
		}
	}
	return nil
}

// validateSaved refuses a saved plan holding any change the configuration
// and the state do not justify (an edited plan file): it lists the sources
// and reads the consumer outputs again, stating no destination object, and
// runs planner.Validate.
func (a *app) validateSaved(path string, cfg *config.Config, sess *stateSession, ps *providerSet, p *plan.Plan, f *planFlags) error {
	inv, err := inventory.Gather(a.ctx, cfg, sess.state, ps, inventory.Options{
		SourcesOnly: true,
		// Outputs kept at the destination (dist-tags) are read again when
		// the plan read them: its output changes must be what ferry would
		// plan from them now.
		Refresh:     p.Refreshed,
		Parallelism: f.parallelismFor(cfg),
		Connections: ps.connections,
		Logger:      a.logger.Named("inventory"),
	})
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("checking saved plan %s against the sources: %w", path, err)}
	}
	diags := planner.Validate(cfg, sess.state, inv, p, time.Now())
	if !diags.HasErrors() {
		return nil
	}
	a.renderDiags(cfg, diags)
	fmt.Fprintf(a.streams.Err, "\nSaved plan %s refused: it holds changes the configuration and state do not justify. Nothing was applied.\n", path)
	return silent(ExitError)
}

func (a *app) applyFresh(f *planFlags, autoApprove, asJSON bool) error {
	cfg, sess, err := a.loadConfigAndState(f.vars, "apply", f.lock)
	if err != nil {
		return err
	}
	defer sess.close()
	ps, err := a.providersFor(cfg, f)
	if err != nil {
		return err
	}
	defer ps.close()
	p, err := a.makePlan(cfg, sess, f, ps)
	if err != nil {
		return err
	}
	if asJSON {
		// stdout carries only events; the plan is in apply_started.
		return a.execute(cfg, sess, ps, p, f, true)
	}
	if err := p.WriteText(a.streams.Out); err != nil {
		return err
	}
	if !p.Summary.Changed() {
		return a.recordFeeds(sess, p)
	}
	if !autoApprove {
		if !isTerminal(a.streams.In) {
			return &exitError{code: ExitError, err: errNoTerminal}
		}
		fmt.Fprint(a.streams.Out, "\nDo you want to perform these actions? Only 'yes' is accepted.\n  Enter a value: ")
		line, _ := bufio.NewReader(a.streams.In).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(a.streams.Out, "\nApply cancelled.")
			return silent(ExitError)
		}
	}
	fmt.Fprintln(a.streams.Out)
	return a.execute(cfg, sess, ps, p, f, false)
}

// execute applies p, rendering its event stream as JSON lines (-json) or
// as text.
func (a *app) execute(cfg *config.Config, sess *stateSession, ps *providerSet, p *plan.Plan, f *planFlags, asJSON bool) error {
	var sink func(apply.Event)
	interval := 100 * time.Millisecond // the progress bar's refresh
	var js *jsonEvents
	if asJSON {
		js = newJSONEvents(a.raw.Out)
		sink, interval = js.event, time.Second
	} else {
		te := &textEvents{out: a.streams.Out, errw: a.streams.Err, now: time.Now}
		if isTerminal(a.raw.Err) {
			te.bar = a.raw.Err
		}
		sink = te.event
	}
	began := time.Now()
	var stop <-chan struct{}
	if a.obs != nil {
		stop = a.obs.stop
	}
	var cp apply.Checkpointer = sess.manager
	if sess.cp != nil {
		cp = sess.cp
	}
	res, err := apply.Apply(a.ctx, p, sess.state, cp, ps, apply.Options{
		Stop:             stop,
		Parallelism:      f.parallelismFor(cfg),
		Connections:      ps.connections,
		DeletesPerHour:   deletesPerHour(cfg),
		MaxDeleteWait:    f.maxDeleteWait,
		MaxArtifactSize:  cfg.Settings.MaxArtifactSize,
		Logger:           a.logger,
		Events:           sink,
		ProgressInterval: interval,
	})
	sess.result = res
	a.obs.applied(cfg, res, err, sess.state, time.Since(began))
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if js != nil && js.err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("writing events: %w", js.err)}
	}
	if res.Err() != nil {
		return silent(ExitError)
	}
	return nil
}

// deletesPerHour is each destination's delete quota, by address.
func deletesPerHour(cfg *config.Config) map[string]int {
	out := map[string]int{}
	for addr, d := range cfg.Destinations {
		if d.DeletesPerHour > 0 {
			out[addr] = d.DeletesPerHour
		}
	}
	return out
}

// recordFeeds saves the changes-feed positions of a plan with nothing else
// to apply (apply records them itself otherwise), so the next plan reads
// the feeds from here.
func (a *app) recordFeeds(sess *stateSession, p *plan.Plan) error {
	if !sess.state.SetFeeds(p.Feeds) {
		return nil
	}
	if _, err := sess.manager.Persist(sess.state); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	return nil
}

// providersFor builds the providers, fetching from the cache with -from-cache.
func (a *app) providersFor(cfg *config.Config, f *planFlags) (*providerSet, error) {
	ps, err := a.buildProviders(cfg)
	if err != nil {
		return nil, err
	}
	if f.fromCache != "" {
		cache, err := dir.NewDestination("cache", &dir.DestinationConfig{Path: f.fromCache}, registry.Env{Logger: a.logger.Named("cache")})
		if err != nil {
			return nil, &exitError{code: ExitError, err: err}
		}
		if err := ps.useCache(a.ctx, cfg, f.fromCache, cache); err != nil {
			return nil, &exitError{code: ExitError, err: err}
		}
	}
	return ps, nil
}

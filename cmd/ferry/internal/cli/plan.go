package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

// planFlags are the planning options shared by plan and apply.
type planFlags struct {
	vars        []config.VarArg
	refresh     bool
	targets     []string
	excludes    []string
	replaces    []string
	parallelism int
	lock        lockFlags
	// fromCache is apply -from-cache: fetch from this cache directory.
	fromCache string
	// allowDeletes confirm deletes of owned objects changed at the destination.
	allowDeletes []string
	// maxDeleteWait is apply -max-delete-wait: how long apply may wait
	// for a destination's delete quota.
	maxDeleteWait time.Duration
	// metricsFile is -metrics-file: where to write the metrics of the
	// command (Prometheus textfile format).
	metricsFile string
}

func addPlanFlags(fs *pflag.FlagSet, f *planFlags) {
	addVarFlags(fs, &f.vars)
	fs.BoolVar(&f.refresh, "refresh", true, "check the destination for drift before planning (-refresh=false trusts the state)")
	fs.StringArrayVar(&f.targets, "target", nil, "plan only this `ADDR` (mirror.NAME or mirror.NAME[\"KEY\"]; repeatable)")
	fs.StringArrayVar(&f.excludes, "exclude", nil, "leave this `ADDR` out of the plan (repeatable)")
	fs.StringArrayVar(&f.replaces, "replace", nil, "force a re-copy of this artifact `ADDR` (repeatable)")
	fs.StringArrayVar(&f.allowDeletes, "allow-delete", nil, "delete this owned artifact (or every artifact of mirror.NAME) even though its content changed at the destination since ferry wrote it; `ADDR`, repeatable")
	fs.IntVar(&f.parallelism, "parallelism", 0, "concurrent operations (default: ferry.parallelism, else 8)")
	fs.StringVar(&f.fromCache, "from-cache", "", "air gap, inner side: read artifacts (and sizes) from the cache `DIR` made by apply -download-only, never from the upstreams")
	addLockFlags(fs, &f.lock)
	fs.StringVar(&f.metricsFile, "metrics-file", "", "write the metrics of this command to `FILE` (Prometheus textfile format, for node exporter's textfile collector)")
}

// planningOptionsGiven reports whether any option that shapes a plan was set,
// which a saved plan forbids. -var and -var-file are allowed: apply needs
// sensitive values (credentials) again, and the config digest proves the
// non-sensitive ones match what was planned.
func planningOptionsGiven(fs *pflag.FlagSet) []string {
	var given []string
	for _, name := range []string{"refresh", "target", "exclude", "replace", "allow-delete"} {
		if fs.Changed(name) {
			given = append(given, "-"+name)
		}
	}
	return given
}

func (f *planFlags) parallelismFor(cfg *config.Config) int {
	switch {
	case f.parallelism > 0:
		return f.parallelism
	case cfg.Settings.Parallelism > 0:
		return cfg.Settings.Parallelism
	}
	return config.DefaultParallelism
}

func parseTargets(flag string, in []string, needKey bool) ([]plan.Target, error) {
	var out []plan.Target
	for _, s := range in {
		t, err := plan.ParseTarget(s)
		if err != nil {
			return nil, &exitError{code: ExitError, err: fmt.Errorf("-%s: %w", flag, err)}
		}
		if needKey && t.Key == "" {
			return nil, &exitError{code: ExitError, err: fmt.Errorf("-%s %s: name one artifact, mirror.NAME[\"KEY\"]", flag, s)}
		}
		out = append(out, t)
	}
	return out, nil
}

// makePlan gathers the inventory and plans, under an open state session.
// It renders diagnostics; a plan with errors returns a silent error.
func (a *app) makePlan(cfg *config.Config, sess *stateSession, f *planFlags, ps *providerSet) (*plan.Plan, error) {
	targets, err := parseTargets("target", f.targets, false)
	if err != nil {
		return nil, err
	}
	excludes, err := parseTargets("exclude", f.excludes, false)
	if err != nil {
		return nil, err
	}
	replaces, err := parseTargets("replace", f.replaces, true)
	if err != nil {
		return nil, err
	}
	allowDeletes, err := parseTargets("allow-delete", f.allowDeletes, false)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	inv, err := inventory.Gather(a.ctx, cfg, sess.state, ps, inventory.Options{
		Refresh:     f.refresh,
		Parallelism: f.parallelismFor(cfg),
		Connections: ps.connections,
		Logger:      a.logger.Named("inventory"),
	})
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	prior := sess.state
	if !sess.existed {
		// A state that was never written has no identity yet: the plan must
		// match "no state" at apply time, not this process's fresh lineage.
		prior = &state.State{Mirrors: sess.state.Mirrors}
	}
	p, diags := planner.Plan(cfg, prior, inv, planner.Options{
		Now:          time.Now(),
		ToolVersion:  Version,
		Targets:      targets,
		Excludes:     excludes,
		Replaces:     replaces,
		AllowDeletes: allowDeletes,
		Destinations: ps.describeDestinations(),
	})
	a.renderDiags(cfg, diags)
	if diags.HasErrors() {
		fmt.Fprintln(a.streams.Err, "\nThe plan has errors; nothing was planned for apply.")
		return p, silent(ExitError)
	}
	if len(targets) > 0 || len(excludes) > 0 {
		fmt.Fprintln(a.streams.Err, "Warning: -target/-exclude in effect: the plan covers only part of the configuration.")
	}
	a.obs.planned(cfg, p, sess.state, time.Since(began))
	return p, nil
}

func (a *app) newPlanCommand() *cobra.Command {
	var (
		f        planFlags
		out      string
		asJSON   bool
		detailed bool
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would transfer and delete",
		Long: `Plan computes every transfer and deletion needed to bring the destinations in
line with the configuration, against the state file and (unless -refresh=false)
the live destinations. Nothing is changed.

Exit codes: 0 success, 1 error; with -detailed-exitcode, 0 no changes, 1 error,
2 changes present.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, sess, err := a.loadConfigAndState(f.vars, "plan", f.lock)
			if err != nil {
				return err
			}
			defer sess.close()
			ps, err := a.providersFor(cfg, &f)
			if err != nil {
				return err
			}
			defer ps.close()
			p, err := a.makePlan(cfg, sess, &f, ps)
			if err != nil {
				return err
			}
			if out != "" {
				b, err := plan.Marshal(p)
				if err != nil {
					return err
				}
				if err := state.WriteFileAtomic(out, b, 0o600); err != nil {
					return &exitError{code: ExitError, err: fmt.Errorf("writing plan: %w", err)}
				}
			}
			if asJSON {
				b, err := plan.Marshal(p)
				if err != nil {
					return err
				}
				if _, err := a.raw.Out.Write(b); err != nil {
					return err
				}
			} else {
				if err := p.WriteText(a.streams.Out); err != nil {
					return err
				}
				if out != "" {
					cacheArg := ""
					if f.fromCache != "" {
						cacheArg = "-from-cache " + f.fromCache + " "
					}
					fmt.Fprintf(a.streams.Out, "\nSaved the plan to %s. Apply exactly this plan with:\n  ferry apply %s%s\n", out, cacheArg, out)
				}
			}
			if detailed && p.Summary.Changed() {
				return silent(ExitChanges)
			}
			return nil
		},
	}
	addPlanFlags(cmd.Flags(), &f)
	cmd.Flags().StringVar(&out, "out", "", "save the plan to `FILE` for apply")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when the plan has changes, 0 when it has none")
	a.withMetricsFile(cmd, &f)
	return cmd
}

// readPlanFile reads a saved plan.
func readPlanFile(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("reading plan: %w", err)}
	}
	p, err := plan.Unmarshal(b)
	if err != nil {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("%s: %w", path, err)}
	}
	return p, nil
}

package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
)

func (a *app) newImportCommand() *cobra.Command {
	var (
		vars   []config.VarArg
		lf     lockFlags
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   `import 'mirror.NAME["KEY"]'`,
		Short: "Adopt an object already at the destination into the state, after verifying its bytes",
		Long: `Import records in the state an object that is already at a mirror's destination
(copied there by hand or by another tool), so ferry owns it without uploading it
again. The source must list KEY with a declared digest; the object at the
destination must match it: by the digests the destination reports, or, where
they cannot prove it (a size only, no sha256), by reading the object back and
hashing it. A mismatch, a key the state already owns, a key the mirror's
retention would drop, or a consumer output (the next plan plans those) is
refused and the state is left unchanged.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseImportAddress(args[0])
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			cfg, err := a.loadConfig(vars)
			if err != nil {
				return err
			}
			m := cfg.Mirrors[t.Mirror]
			if m == nil {
				return &exitError{code: ExitError, err: fmt.Errorf("import %s: no mirror %q is configured", args[0], t.Mirror)}
			}
			sess, err := a.openState(statePath(cfg), "import", lf)
			if err != nil {
				return err
			}
			defer sess.close()
			ps, err := a.buildProviders(cfg)
			if err != nil {
				return err
			}
			defer ps.close()
			return a.runImport(cfg, sess, ps, m, t, dryRun)
		},
	}
	addVarFlags(cmd.Flags(), &vars)
	addLockFlags(cmd.Flags(), &lf)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "verify and report, but leave the state unchanged")
	return cmd
}

// parseImportAddress accepts one artifact address, mirror.NAME["KEY"], and
// refuses a consumer output's (mirror.NAME.BLOCK["PATH"]): ferry writes
// those itself, from what it owns, at the next apply.
func parseImportAddress(s string) (plan.Target, error) {
	if tr, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos); !diags.HasErrors() && len(tr) == 4 {
		return plan.Target{}, fmt.Errorf("import %s: a consumer output is not imported: ferry plans it from what it owns (run ferry plan)", s)
	}
	t, err := plan.ParseTarget(s)
	if err != nil {
		return plan.Target{}, fmt.Errorf("import: %w", err)
	}
	if t.Key == "" {
		return plan.Target{}, fmt.Errorf("import %s: name one artifact, mirror.NAME[\"KEY\"]", s)
	}
	return t, nil
}

func (a *app) runImport(cfg *config.Config, sess *stateSession, ps *providerSet, m *config.Mirror, t plan.Target, dryRun bool) error {
	ctx := a.ctx
	addr := plan.Address(t.Mirror, t.Key)
	src, err := ps.Source(m.From)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	dst, err := ps.Destination(m.To)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	var listed []providers.Artifact
	if err := src.List(ctx, func(art providers.Artifact) error {
		listed = append(listed, art)
		return nil
	}); err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("import %s: listing source %s: %w", addr, m.From, err)}
	}
	now := time.Now()
	want, err := planner.ImportCandidate(cfg, sess.state, t, listed, now)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	pair, err := providers.NewPair(src, dst)
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("import %s: %w", addr, err)}
	}
	got, how, err := apply.Adopt(ctx, pair, m.From, m.To, want, cfg.Settings.MaxArtifactSize)
	if errors.Is(err, providers.ErrNotFound) {
		err = fmt.Errorf("destination %s holds nothing under %q: nothing to import (ferry apply transfers it)", m.To, want.Key)
	}
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("import %s: %w; the state is unchanged", addr, err)}
	}
	fmt.Fprintf(a.streams.Out, "%s: %s at %s matches source %s (%s, %s).\n",
		addr, got.Digests.Primary(), m.To, m.From, how, plan.FormatBytes(got.Size))
	if dryRun {
		fmt.Fprintln(a.streams.Out, "Dry run: the state is unchanged.")
		return nil
	}
	sess.state.EnsureMirror(m.Name, m.From, m.To)
	sess.state.SetArtifact(m.Name, planner.ImportRecord(want, got, now))
	if _, err := sess.manager.Persist(sess.state); err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("persisting state: %w", err)}
	}
	fmt.Fprintf(a.streams.Out, "Imported %s: ferry owns it now; the next plan shows no change for it.\n", addr)
	return nil
}

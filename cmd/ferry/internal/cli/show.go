package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

func (a *app) newShowCommand() *cobra.Command {
	var asJSON, asMarkdown bool
	cmd := &cobra.Command{
		Use:   "show [PLANFILE|state]",
		Short: "Show a saved plan, or the state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asMarkdown && (asJSON || len(args) == 0 || args[0] == "state") {
				return &exitError{code: ExitError, err: errors.New("-markdown renders a saved plan: ferry show -markdown PLANFILE (without -json)")}
			}
			if len(args) == 1 && args[0] != "state" {
				p, err := readPlanFile(args[0])
				if err != nil {
					return err
				}
				if asJSON {
					b, err := plan.Marshal(p)
					if err != nil {
						return err
					}
					_, err = a.raw.Out.Write(b)
					return err
				}
				if asMarkdown {
					return p.WriteMarkdown(a.streams.Out, plan.MarkdownOptions{PlanFile: args[0]})
				}
				return p.WriteText(a.streams.Out)
			}
			st, err := a.readStateForShow()
			if err != nil {
				return err
			}
			if asJSON && st.Lineage == "" {
				// No state yet: say so without inventing a lineage.
				return writeJSON(a.raw.Out, map[string]any{"version": state.FormatVersion, "serial": 0, "lineage": "", "mirrors": map[string]any{}})
			}
			if asJSON {
				b, err := state.Marshal(st)
				if err != nil {
					return err
				}
				_, err = a.raw.Out.Write(b)
				return err
			}
			return a.writeStateText(st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&asMarkdown, "markdown", false, "print a saved plan as a pull-request comment in markdown (under GitHub's comment size limit)")
	return cmd
}

// readStateForShow reads the state without locking (reads are atomic).
func (a *app) readStateForShow() (*state.State, error) {
	cfg, err := a.loadConfig(nil)
	if err != nil {
		return nil, err
	}
	st, err := a.readState(cfg)
	if errors.Is(err, state.ErrNoState) {
		return &state.State{Version: state.FormatVersion, Mirrors: map[string]*state.Mirror{}}, nil
	}
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	return st, nil
}

func (a *app) writeStateText(st *state.State) error {
	w := a.streams.Out
	if st.ArtifactCount() == 0 {
		fmt.Fprintln(w, "The state is empty: nothing has been mirrored yet.")
		return nil
	}
	fmt.Fprintf(w, "State serial %d, lineage %s\n", st.Serial, st.Lineage)
	names := make([]string, 0, len(st.Mirrors))
	for n := range st.Mirrors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := st.Mirrors[n]
		fmt.Fprintf(w, "\nmirror.%s (%s -> %s), %d artifacts:\n", n, m.Source, m.Destination, len(m.Artifacts))
		for _, k := range sortedArtifactKeys(m) {
			art := m.Artifacts[k]
			fmt.Fprintf(w, "  %s  %s  %s\n", plan.Address(n, k), plan.FormatBytes(art.Size), art.Digests.Primary())
		}
	}
	return nil
}

func sortedArtifactKeys(m *state.Mirror) []string {
	keys := make([]string, 0, len(m.Artifacts))
	for k := range m.Artifacts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (a *app) newStateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect and edit the state",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the addresses of every artifact in the state",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				st, err := a.readStateForShow()
				if err != nil {
					return err
				}
				var addrs []string
				for n, m := range st.Mirrors {
					for k := range m.Artifacts {
						addrs = append(addrs, plan.Address(n, k))
					}
				}
				sort.Strings(addrs)
				for _, ad := range addrs {
					fmt.Fprintln(a.streams.Out, ad)
				}
				return nil
			},
		},
		&cobra.Command{
			Use:   "show ADDR",
			Short: "Show one artifact's record",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				t, err := plan.ParseTarget(args[0])
				if err != nil || t.Key == "" {
					return &exitError{code: ExitError, err: fmt.Errorf("state show: want one artifact address, mirror.NAME[\"KEY\"]")}
				}
				st, err := a.readStateForShow()
				if err != nil {
					return err
				}
				m := st.Mirror(t.Mirror)
				if m == nil || m.Artifacts[t.Key] == nil {
					return &exitError{code: ExitError, err: fmt.Errorf("%s is not in the state", t)}
				}
				art := m.Artifacts[t.Key]
				w := a.streams.Out
				fmt.Fprintf(w, "%s\n", t)
				fmt.Fprintf(w, "  source:         %s\n", m.Source)
				fmt.Fprintf(w, "  destination:    %s\n", m.Destination)
				if art.Name != "" {
					fmt.Fprintf(w, "  name:           %s\n", art.Name)
				}
				if art.Version != "" {
					fmt.Fprintf(w, "  version:        %s\n", art.Version)
				}
				fmt.Fprintf(w, "  size:           %d (%s)\n", art.Size, plan.FormatBytes(art.Size))
				for _, d := range art.Digests {
					fmt.Fprintf(w, "  digest:         %s\n", d)
				}
				for _, d := range art.SourceDigests {
					fmt.Fprintf(w, "  source digest:  %s\n", d)
				}
				if art.Origin != "" {
					fmt.Fprintf(w, "  origin:         %s\n", art.Origin)
				}
				fmt.Fprintf(w, "  added at:       %s\n", art.AddedAt.Format("2006-01-02T15:04:05Z07:00"))
				if !art.VerifiedAt.IsZero() {
					fmt.Fprintf(w, "  verified at:    %s\n", art.VerifiedAt.Format("2006-01-02T15:04:05Z07:00"))
				}
				return nil
			},
		},
		a.newStateRmCommand(),
		a.newStatePullCommand(),
		a.newStatePushCommand(),
		&cobra.Command{
			Use:   "unlock ID",
			Short: "Remove a stale state lock (the ID is in the lock error)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := a.loadConfig(nil)
				if err != nil {
					return err
				}
				if err := a.forceUnlock(cfg, args[0]); err != nil {
					return &exitError{code: ExitError, err: err}
				}
				fmt.Fprintln(a.streams.Out, "The state lock was removed.")
				return nil
			},
		},
	)
	return cmd
}

func (a *app) newStateRmCommand() *cobra.Command {
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "rm ADDR...",
		Short: "Forget artifacts (or whole mirrors) without deleting them at the destination",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var targets []plan.Target
			for _, s := range args {
				t, err := plan.ParseTarget(s)
				if err != nil {
					return &exitError{code: ExitError, err: fmt.Errorf("state rm: %w", err)}
				}
				targets = append(targets, t)
			}
			cfg, err := a.loadConfigForState()
			if err != nil {
				return err
			}
			sess, err := a.openState(statePath(cfg), "state rm", lf)
			if err != nil {
				return err
			}
			defer sess.close()
			// Resolve every address first: either all are removed or none.
			var addrs []plan.Target
			for _, t := range targets {
				m := sess.state.Mirror(t.Mirror)
				var keys []string
				if m != nil {
					for k := range m.Artifacts {
						if t.Matches(t.Mirror, k) {
							keys = append(keys, k)
						}
					}
				}
				if len(keys) == 0 {
					return &exitError{code: ExitError, err: fmt.Errorf("%s is not in the state; nothing was removed", t)}
				}
				sort.Strings(keys)
				for _, k := range keys {
					addrs = append(addrs, plan.Target{Mirror: t.Mirror, Key: k})
				}
			}
			removed := 0
			for _, t := range addrs {
				if sess.state.Artifact(t.Mirror, t.Key) == nil {
					continue // named twice
				}
				sess.state.RemoveArtifact(t.Mirror, t.Key)
				fmt.Fprintf(a.streams.Out, "Removed %s\n", t)
				removed++
			}
			if _, err := sess.manager.Persist(sess.state); err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("persisting state: %w", err)}
			}
			fmt.Fprintf(a.streams.Out, "Successfully removed %d artifacts from the state. Their objects were not deleted.\n", removed)
			return nil
		},
	}
	addLockFlags(cmd.Flags(), &lf)
	return cmd
}

// loadConfigForState loads the config only to find the state file; a
// configuration with errors still tells where the state is when the ferry
// block itself is fine, but we keep it simple and require a valid config.
func (a *app) loadConfigForState() (*config.Config, error) { return a.loadConfig(nil) }

func (a *app) newValidateCommand() *cobra.Command {
	var (
		asJSON bool
		vars   []config.VarArg
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration (no state, no network)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			cfg, diags := config.Load(config.LoadOptions{Dir: wd, Env: a.env, Vars: vars, Types: providerTypes(), Backends: backendTypes()})
			if asJSON {
				errs, warns := 0, 0
				for _, d := range diags {
					if d.Severity == 1 {
						errs++
					} else {
						warns++
					}
				}
				if err := writeJSON(a.raw.Out, map[string]any{
					"format_version": "1",
					"valid":          !diags.HasErrors(),
					"error_count":    errs,
					"warning_count":  warns,
					"diagnostics":    toJSONDiags(diags),
				}); err != nil {
					return err
				}
			} else {
				a.renderDiags(cfg, diags)
				if !diags.HasErrors() {
					fmt.Fprintln(a.streams.Out, "Success! The configuration is valid.")
				}
			}
			if diags.HasErrors() {
				return silent(ExitError)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	addVarFlags(cmd.Flags(), &vars)
	return cmd
}

func hclFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		// Same rule as the loader: editor backups (".#x", "#x#") are not config.
		if name := e.Name(); !e.IsDir() && strings.HasSuffix(name, ".ferry.hcl") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "#") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

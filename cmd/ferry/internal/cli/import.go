package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
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
	got, how, err := verifyAtDestination(ctx, pair, m, want, cfg.Settings.MaxArtifactSize)
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

// verifyAtDestination proves that what dst holds under want.Key is want.
// When the destination can read objects back (providers.Fetcher) the object
// is read and hashed, once: import adopts objects ferry did not write, so a
// digest the destination merely reports (S3's x-amz-meta-sha256, set by
// whoever uploaded) is no proof while the bytes can be checked. Otherwise
// (registries, OCI graphs, compared by the pair's Stat as the plan does)
// the reported size and digests must agree with the source's and include a
// sha256 or sha512. It returns the object as observed and how it was
// verified.
func verifyAtDestination(ctx context.Context, pair providers.Pair, m *config.Mirror, want providers.Artifact, maxSize int64) (providers.Artifact, string, error) {
	missing := func(err error) error {
		if errors.Is(err, providers.ErrNotFound) {
			return fmt.Errorf("destination %s holds nothing under %q: nothing to import (ferry apply transfers it)", m.To, want.Key)
		}
		return err
	}
	// differs names what the destination holds against what the source
	// declares.
	differs := func(got, declared, how string, kind error) error {
		return fmt.Errorf("destination %s holds %s under %q%s, but source %s declares %s: %w", m.To, got, want.Key, how, m.From, declared, kind)
	}
	if f, ok := pair.Destination.(providers.Fetcher); ok && pair.Transfer != providers.GraphCopy {
		rc, err := f.Fetch(ctx, providers.Artifact{Key: want.Key, Size: -1})
		if err != nil {
			return providers.Artifact{}, "", missing(err)
		}
		defer rc.Close()
		if maxSize <= 0 {
			maxSize = apply.DefaultMaxArtifactSize
		}
		vr := verify.NewReader(rc, want.Size, want.Digests).Limit(maxSize, fmt.Errorf("more than %d bytes (max_artifact_size): %w", maxSize, apply.ErrTooLarge))
		_, err = io.Copy(io.Discard, vr)
		var mm *providers.MismatchError
		switch {
		case errors.As(err, &mm) && mm.What == "size":
			return providers.Artifact{}, "", differs(mm.Got+" bytes", mm.Want+" bytes", " (read back)", mm.Unwrap())
		case errors.As(err, &mm):
			return providers.Artifact{}, "", differs(mm.What+":"+mm.Got, mm.What+":"+mm.Want, " (read back)", mm.Unwrap())
		case err != nil:
			return providers.Artifact{}, "", fmt.Errorf("reading %q back from destination %s: %w", want.Key, m.To, err)
		case !vr.Verified():
			return providers.Artifact{}, "", fmt.Errorf("reading %q back from destination %s: the stream ended unverified", want.Key, m.To)
		}
		return providers.Artifact{Key: want.Key, Size: vr.N(), Digests: vr.Digests()}, "read back and hashed", nil
	}

	obj, err := pair.Stat(ctx, want.Key)
	if err != nil {
		return providers.Artifact{}, "", missing(err)
	}
	if want.Size >= 0 && obj.Size >= 0 && want.Size != obj.Size {
		return providers.Artifact{}, "", differs(fmt.Sprintf("%d bytes", obj.Size), fmt.Sprintf("%d bytes", want.Size), "", providers.ErrSizeMismatch)
	}
	for _, d := range want.Digests {
		if od, ok := obj.Digests.Get(d.Algorithm); ok && od.Hex != d.Hex {
			return providers.Artifact{}, "", differs(od.String(), d.String(), "", providers.ErrDigestMismatch)
		}
	}
	if !provenByStat(obj.Digests, want.Digests) {
		return providers.Artifact{}, "", fmt.Errorf("destination %s reports %s for %q, which cannot prove the source's %s, and it cannot read the object back: not verified", m.To, describeDigests(obj.Digests), want.Key, want.Digests.Primary())
	}
	return obj, "by the digest the destination reports", nil
}

// provenByStat reports whether observed digests prove the declared ones:
// they agree on every shared algorithm and share sha256 or sha512 (an md5
// or sha1 alone is no proof).
func provenByStat(observed, declared providers.Digests) bool {
	if !observed.Matches(declared) {
		return false
	}
	for _, alg := range []providers.Algorithm{providers.SHA256, providers.SHA512} {
		_, o := observed.Get(alg)
		_, d := declared.Get(alg)
		if o && d {
			return true
		}
	}
	return false
}

func describeDigests(ds providers.Digests) string {
	if len(ds) == 0 {
		return "no digest"
	}
	return ds.Primary().String()
}

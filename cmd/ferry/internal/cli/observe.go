package cli

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/daemon"
	"github.com/ferry-mirror/ferry/cmd/ferry/internal/metrics"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

// observers receive what plans and applies did, for the metrics
// (-metrics-file, ferry run's /metrics) and ferry run's status page. The
// numbers come from the plan and the apply engine's result, never from the
// text output.
type observers struct {
	metrics *metrics.Metrics
	// status is ferry run's status page; nil for a one-shot command.
	status *daemon.Status
	// stop, once closed, stops the apply gently (apply.Options.Stop); nil
	// for a one-shot command, which a signal cancels.
	stop <-chan struct{}
	now  func() time.Time

	mu sync.Mutex
	// mirrors are the configured mirrors of the last plan or apply seen.
	mirrors []string
	// lastApply and lastApplyErr are what the last apply returned, for
	// the ferry run iteration that called it.
	lastApply    *apply.Result
	lastApplyErr error
}

func mirrorNames(cfg *config.Config) []string { return slices.Sorted(maps.Keys(cfg.Mirrors)) }

// planned records a plan that took took, made against st.
func (o *observers) planned(cfg *config.Config, p *plan.Plan, st *state.State, took time.Duration) {
	if o == nil {
		return
	}
	o.setMirrors(cfg)
	o.metrics.ObservePlan(p, mirrorNames(cfg), took)
	o.metrics.ObserveOwned(st, mirrorNames(cfg))
	if o.status != nil {
		o.status.Planned(o.now(), p)
	}
}

// applied records an apply that took took and returned res and err, st
// the state after it.
func (o *observers) applied(cfg *config.Config, res *apply.Result, err error, st *state.State, took time.Duration) {
	if o == nil {
		return
	}
	o.setMirrors(cfg)
	now := o.now()
	o.metrics.ObserveApply(res, err, st, mirrorNames(cfg), took, now)
	o.metrics.ObserveOwned(st, mirrorNames(cfg))
	if o.status != nil {
		o.status.Applied(now, res, st)
		if err == nil {
			o.status.Synced(now, troubledMirrors(res), st)
		}
	}
	o.mu.Lock()
	o.lastApply, o.lastApplyErr = res, err
	o.mu.Unlock()
}

func (o *observers) setMirrors(cfg *config.Config) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mirrors = mirrorNames(cfg)
}

// takeApply returns and forgets what the last apply returned.
func (o *observers) takeApply() (*apply.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	res, err := o.lastApply, o.lastApplyErr
	o.lastApply, o.lastApplyErr = nil, nil
	return res, err
}

// troubledMirrors are the mirrors with a failed change or a skipped delete.
func troubledMirrors(res *apply.Result) map[string]bool {
	out := map[string]bool{}
	if res == nil {
		return out
	}
	for _, f := range res.Failed {
		out[f.Change.Mirror] = true
	}
	for _, c := range res.SkippedDeletes {
		out[c.Mirror] = true
	}
	return out
}

// withMetricsFile makes cmd (plan, apply) write the metrics of what it did
// to -metrics-file when it ends, whether it succeeded or not: a failed
// apply is what the file is for.
func (a *app) withMetricsFile(cmd *cobra.Command, f *planFlags) {
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if f.metricsFile == "" {
			return run(cmd, args)
		}
		a.obs = &observers{metrics: metrics.New(), now: time.Now}
		a.obs.metrics.ConfigLoaded(true)
		err := run(cmd, args)
		if err == nil && cmd.Name() == "apply" {
			// An apply that succeeded left every mirror it planned in
			// line, with changes or without.
			a.obs.mu.Lock()
			mirrors := a.obs.mirrors
			a.obs.mu.Unlock()
			a.obs.metrics.MarkSynced(mirrors, nil, a.obs.now())
		}
		if werr := a.obs.metrics.WriteTextfile(f.metricsFile); werr != nil {
			if err != nil {
				fmt.Fprintf(a.streams.Err, "Error: %s\n", werr)
				return err
			}
			return &exitError{code: ExitError, err: werr}
		}
		return err
	}
}

// signals turns the process's SIGINT and SIGTERM into cancellation: for
// every command the first cancels the invocation's context, except while
// ferry run has armed a gentle stop, which the first closes and the
// second turns into the cancel.
type signals struct {
	mu     sync.Mutex
	cancel func()
	gentle chan struct{}
	got    int
}

// handle is called for each signal received.
func (s *signals) handle(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got++
	if s.gentle != nil && s.got == 1 {
		close(s.gentle)
		return
	}
	s.cancel()
}

// arm makes the first signal close the channel returned instead of
// cancelling; nil when no signals are delivered (tests calling Execute).
func (s *signals) arm() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gentle = make(chan struct{})
	if s.got > 0 {
		close(s.gentle)
	}
	return s.gentle
}

// WithSignals delivers the process's interrupt signals (SIGINT, SIGTERM)
// to Execute, which handles them as type signals says; without it the
// caller's context is the only way to stop a command.
func WithSignals(ch <-chan os.Signal) Option {
	return func(a *app) { a.signalCh = ch }
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/daemon"
	"github.com/ferry-mirror/ferry/cmd/ferry/internal/metrics"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
)

// runFlags are ferry run's own flags.
type runFlags struct {
	interval time.Duration
	jitter   float64
	grace    time.Duration
	listen   string
}

func (a *app) newRunCommand() *cobra.Command {
	var (
		f  planFlags
		rf runFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Plan and apply continuously, serving metrics and a status page",
		Long: `Run keeps the destinations in line: every -interval (plus up to -jitter of it)
it loads the configuration again (a broken one is reported and the last good
one kept), plans, and applies the plan. Iterations never overlap; the state
lock is held only while applying.

It serves /metrics (Prometheus), /healthz, /readyz (ready once a plan
succeeded) and a status page on / at -listen, 127.0.0.1:9464 by default. The
listener has no authentication: an address other than loopback exposes the
status page (mirror names, addresses, error messages) to the network.

SIGINT or SIGTERM stops it: no new transfer starts, those in flight finish
within -grace (then they are aborted, leaving nothing partial), the state is
saved, and ferry exits with status 130. A second signal aborts at once.

Exit codes: 130 stopped by a signal, 1 bad flags or the listener could not
start. Failures inside an iteration (a broken configuration, a failed change)
are reported and retried by the next one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range []string{"replace", "detailed-exitcode"} {
				if cmd.Flags().Lookup(name) != nil && cmd.Flags().Changed(name) {
					return &exitError{code: ExitError, err: fmt.Errorf("-%s would act on every iteration; use ferry apply -%s once instead", name, name)}
				}
			}
			if rf.interval <= 0 || rf.jitter < 0 || rf.grace < 0 {
				return &exitError{code: ExitError, err: errors.New("-interval must be positive, -jitter and -grace not negative")}
			}
			return a.runContinuously(&f, rf)
		},
	}
	addPlanFlags(cmd.Flags(), &f)
	cmd.Flags().DurationVar(&f.maxDeleteWait, "max-delete-wait", 0, "how long each apply may wait for a destination's delete quota (as apply -max-delete-wait)")
	cmd.Flags().DurationVar(&rf.interval, "interval", 15*time.Minute, "time between the starts of two iterations")
	cmd.Flags().Float64Var(&rf.jitter, "jitter", 0.1, "add a random wait of up to this fraction of -interval to each")
	cmd.Flags().DurationVar(&rf.grace, "grace", 30*time.Second, "after SIGINT/SIGTERM, how long transfers in flight may take to finish before they are aborted")
	cmd.Flags().StringVar(&rf.listen, "listen", "127.0.0.1:9464", "`ADDR` of the metrics and status listener (empty: none); anything but loopback exposes it")
	return cmd
}

// runner is one ferry run process.
type runner struct {
	a *app
	f *planFlags
	// stop closes at the first signal; hard is cancelled at the second or
	// when the grace period ends.
	stop <-chan struct{}
	// good is the last configuration that loaded.
	good *config.Config
}

func (a *app) runContinuously(f *planFlags, rf runFlags) error {
	stop := a.sig.arm()
	if stop == nil {
		stop = make(chan struct{}) // no signals delivered: only ctx stops it
	}
	hard, cancel := context.WithCancel(a.ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
		case <-hard.Done():
			return
		}
		fmt.Fprintf(a.streams.Err, "Stopping: no new transfer starts; those in flight have %s to finish (a second signal aborts them now).\n", rf.grace)
		t := time.NewTimer(rf.grace)
		defer t.Stop()
		select {
		case <-t.C:
			fmt.Fprintln(a.streams.Err, "Grace period over: aborting the transfers in flight.")
			cancel()
		case <-hard.Done():
		}
	}()
	a.ctx = hard

	m := metrics.New()
	status := daemon.NewStatus(time.Now(), rf.interval)
	a.obs = &observers{metrics: m, status: status, stop: stop, now: time.Now}

	if rf.listen != "" {
		ln, err := net.Listen("tcp", rf.listen)
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("-listen: %w", err)}
		}
		if ip := tcpIP(ln.Addr()); ip != nil && !ip.IsLoopback() {
			fmt.Fprintf(a.streams.Err, "Warning: -listen %s is not a loopback address: the status page and metrics are open to the network, without authentication.\n", rf.listen)
		}
		srv := &http.Server{Handler: daemon.Handler(status, m.Handler(), time.Now), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintf(a.streams.Out, "Serving /metrics, /healthz, /readyz and the status page on http://%s/\n", ln.Addr())
	}

	r := &runner{a: a, f: f, stop: stop}
	loop := &daemon.Loop{Interval: rf.interval, Jitter: rf.jitter, Now: time.Now, After: time.After, Rand: rand.Float64}
	loop.Run(hard, stop, r.iterate)
	select {
	case <-stop:
		fmt.Fprintln(a.streams.Err, "Stopped by a signal; the state is saved.")
		return silent(ExitInterrupted)
	default:
	}
	if a.ctx.Err() != nil {
		return silent(ExitInterrupted)
	}
	return nil
}

func tcpIP(addr net.Addr) net.IP {
	if t, ok := addr.(*net.TCPAddr); ok {
		return t.IP
	}
	return nil
}

// iterate is one iteration: reload, plan, apply.
func (r *runner) iterate(_ context.Context, start time.Time) {
	a := r.a
	fmt.Fprintf(a.streams.Out, "\n--- %s: iteration\n", start.UTC().Format(time.RFC3339))
	run := daemon.Run{Start: start}
	run.Result, run.Message = r.once(&run)
	run.Duration = time.Since(start)
	a.obs.metrics.ObserveRun(run.Result)
	a.obs.status.RunDone(run)
	if run.Message != "" {
		fmt.Fprintf(a.streams.Err, "Iteration %s: %s\n", run.Result, run.Message)
	}
	if r.f.metricsFile != "" {
		if err := a.obs.metrics.WriteTextfile(r.f.metricsFile); err != nil {
			fmt.Fprintf(a.streams.Err, "Error: %s\n", err)
		}
	}
}

// reload loads the configuration; a broken one is reported and the last
// good one returned (nil when none ever loaded).
func (r *runner) reload() (cfg *config.Config, msg string) {
	a := r.a
	loaded, diags, err := a.loadConfigDiags(r.f.vars)
	if err == nil {
		r.good = loaded
		a.obs.metrics.ConfigLoaded(true)
		a.obs.status.ConfigLoaded(time.Now(), "")
		return loaded, ""
	}
	if errs := diags.Errs(); len(errs) > 0 {
		err = errs[0]
		if len(errs) > 1 {
			err = fmt.Errorf("%w (and %d more errors)", err, len(errs)-1)
		}
	}
	msg = "the configuration did not load: " + err.Error()
	if r.good != nil {
		msg += "; using the last good configuration"
		// The last good configuration's state backend, not the broken one's.
		a.backend = r.good.Settings.Backend
	}
	a.obs.metrics.ConfigLoaded(false)
	a.obs.status.ConfigLoaded(time.Now(), err.Error())
	return r.good, msg
}

// once plans and applies with the configuration as it is now, and says
// how it went: a metrics.Run* result and what went wrong.
func (r *runner) once(run *daemon.Run) (result, msg string) {
	a := r.a
	cfg, cfgMsg := r.reload()
	if cfg == nil {
		return metrics.RunConfigError, cfgMsg
	}
	outcome := func(result, msg string) (string, string) {
		if cfgMsg != "" && result != metrics.RunStopped {
			return metrics.RunConfigError, strings.TrimPrefix(cfgMsg+"; "+msg, "; ")
		}
		return result, msg
	}
	mirrors := map[string][2]string{}
	for name, m := range cfg.Mirrors {
		mirrors[name] = [2]string{m.From, m.To}
	}
	a.obs.status.Mirrors(mirrors)

	// Planning stops at the first signal: it changes nothing.
	planCtx, cancelPlan := context.WithCancel(a.ctx)
	defer cancelPlan()
	go func() {
		select {
		case <-r.stop:
			cancelPlan()
		case <-planCtx.Done():
		}
	}()
	pa := *a
	pa.ctx = planCtx
	sess, err := pa.openState(statePath(cfg), "plan", lockFlags{})
	if err != nil {
		return outcome(metrics.RunFailure, errText(err, "reading the state"))
	}
	ps, err := pa.providersFor(cfg, r.f)
	if err != nil {
		return outcome(metrics.RunFailure, errText(err, "building the providers"))
	}
	defer ps.close()
	p, err := pa.makePlan(cfg, sess, r.f, ps)
	if r.stopped() {
		return metrics.RunStopped, "stopped before applying"
	}
	if err != nil {
		return outcome(metrics.RunFailure, errText(err, "the plan has errors (see above)"))
	}
	run.Changes = executing(p)
	if !p.Summary.Changed() {
		fmt.Fprintf(a.streams.Out, "No changes. %s up to date.\n", plan.Plural(p.Summary.NoOp, "artifact"))
	} else if err := p.WriteText(a.streams.Out); err != nil {
		return outcome(metrics.RunFailure, err.Error())
	}
	if !p.Summary.Changed() && !sess.state.DeepCopy().SetFeeds(p.Feeds) {
		a.obs.metrics.MarkSynced(mirrorNames(cfg), nil, time.Now())
		a.obs.status.Synced(time.Now(), nil, sess.state)
		return outcome(metrics.RunSuccess, "")
	}

	// The lock is taken only now, and the plan applied only if the state
	// is still the one it was made against.
	lsess, err := a.openState(statePath(cfg), "apply", lockFlags{lock: r.f.lock.lock, timeout: r.f.lock.timeout})
	if err != nil {
		return outcome(metrics.RunSkipped, errText(err, "locking the state")+"; trying again next iteration")
	}
	defer lsess.close()
	lineage, serial := lsess.state.Lineage, lsess.state.Serial
	if !lsess.existed {
		lineage, serial = "", 0
	}
	if p.PriorState.Lineage != lineage || p.PriorState.Serial != serial {
		return outcome(metrics.RunSkipped, fmt.Sprintf("the state changed since the plan (serial %d, now %d): planning again next iteration", p.PriorState.Serial, serial))
	}
	if !p.Summary.Changed() {
		if err := a.recordFeeds(lsess, p); err != nil {
			return outcome(metrics.RunFailure, errText(err, "recording feed positions"))
		}
		a.obs.metrics.MarkSynced(mirrorNames(cfg), nil, time.Now())
		a.obs.status.Synced(time.Now(), nil, lsess.state)
		return outcome(metrics.RunSuccess, "")
	}
	fmt.Fprintln(a.streams.Out)
	execErr := a.execute(cfg, lsess, ps, p, r.f, false)
	res, applyErr := a.obs.takeApply()
	if res != nil {
		run.Applied, run.Failed = res.Applied, len(res.Failed)
		run.Bytes = res.TransferredBytes
	}
	switch {
	case errors.Is(applyErr, apply.ErrStopped) || r.stopped():
		return metrics.RunStopped, fmt.Sprintf("stopped by a signal after %s; the rest is left for the next start", plan.Plural(run.Applied, "change"))
	case execErr != nil:
		return outcome(metrics.RunFailure, errText(execErr, fmt.Sprintf("%d of %d changes failed", run.Failed, run.Changes)))
	}
	return outcome(metrics.RunSuccess, "")
}

// stopped reports whether the first signal arrived.
func (r *runner) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// executing counts the changes of p that apply acts on.
func executing(p *plan.Plan) int {
	n := 0
	for _, c := range p.Changes {
		if c.Executes() {
			n++
		}
	}
	return n
}

// errText is err's message, or silent's when err was already shown.
func errText(err error, silent string) string {
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return silent
	}
	return err.Error()
}

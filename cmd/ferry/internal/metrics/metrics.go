// Package metrics holds ferry's Prometheus metrics in a registry of their
// own (no package-level collectors): what `ferry run` serves on /metrics
// and what plan and apply write with -metrics-file. docs/operations.md is
// the reference for every name.
package metrics

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

// Results of a change, the values of the result label.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	// ResultAdopted: an object already at the destination with the
	// expected digest was recorded without a transfer.
	ResultAdopted = "adopted"
	// ResultSkipped: a delete not attempted because an earlier change of
	// its mirror failed, or the apply was stopped.
	ResultSkipped = "skipped"
	// ResultDeferred: a delete left for a later apply by a delete quota.
	ResultDeferred = "deferred"
	// ResultForgotten: dropped from this mirror's state, the object left
	// to the mirror that now owns it.
	ResultForgotten = "forgotten"
)

// Results of a `ferry run` iteration, the values of ferry_runs_total's
// result label.
const (
	RunSuccess     = "success"      // planned and applied without a failure
	RunFailure     = "failure"      // planning failed, or a change failed
	RunConfigError = "config_error" // the configuration did not load; the last good one was used
	RunStopped     = "stopped"      // a signal stopped the apply
	RunSkipped     = "skipped"      // the state lock was held, or the state changed since the plan
)

// Metrics are one process's metrics. Counters only grow for the life of
// the process; the methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	transferred *prometheus.CounterVec // mirror, result
	bytes       *prometheus.CounterVec // mirror
	deleted     *prometheus.CounterVec // mirror, result
	published   *prometheus.CounterVec // mirror, result
	runs        *prometheus.CounterVec // result

	planSeconds  prometheus.Histogram
	applySeconds prometheus.Histogram

	drift       *prometheus.GaugeVec // mirror
	owned       *prometheus.GaugeVec // mirror
	lastSuccess *prometheus.GaugeVec // mirror
	configOK    prometheus.Gauge
}

// durationBuckets span 50 ms to about 27 minutes: a no-op plan of a few
// files to a refresh or apply of a large registry.
var durationBuckets = prometheus.ExponentialBuckets(0.05, 2, 16)

// New registers ferry's metrics in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		transferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_artifacts_transferred_total",
			Help: "Artifact transfers (add, replace) by mirror and result: success, failure, adopted (already at the destination, recorded without a transfer).",
		}, []string{"mirror", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_transferred_bytes_total",
			Help: "Bytes of artifacts transferred and verified, by mirror.",
		}, []string{"mirror"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_artifacts_deleted_total",
			Help: "Deletes of owned artifacts by mirror and result: success, failure, skipped (an earlier change failed or the apply stopped), deferred (delete quota), forgotten (left to the mirror now owning it).",
		}, []string{"mirror", "result"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_outputs_published_total",
			Help: "Consumer outputs written (rewritten index files, bindings, dist-tags) by mirror and result: success, failure.",
		}, []string{"mirror", "result"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_runs_total",
			Help: "ferry run iterations by result: success, failure, config_error, stopped, skipped.",
		}, []string{"result"}),
		planSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_plan_duration_seconds",
			Help:    "Time to plan: listing the sources, refreshing the destinations and planning.",
			Buckets: durationBuckets,
		}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_apply_duration_seconds",
			Help:    "Time to apply a plan with changes.",
			Buckets: durationBuckets,
		}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_drift_artifacts",
			Help: "Owned artifacts the last plan found missing or changed at the destination, by mirror.",
		}, []string{"mirror"}),
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_owned_artifacts",
			Help: "Artifacts the state records as owned, by mirror.",
		}, []string{"mirror"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_last_successful_apply_timestamp_seconds",
			Help: "Unix time at which the mirror was last brought in line without a failure (an apply that succeeded, or a plan with nothing to apply).",
		}, []string{"mirror"}),
		configOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_config_last_reload_successful",
			Help: "1 when the last configuration load succeeded, 0 when it failed (the last good configuration is in use).",
		}),
	}
	m.reg.MustRegister(m.transferred, m.bytes, m.deleted, m.published, m.runs,
		m.planSeconds, m.applySeconds, m.drift, m.owned, m.lastSuccess, m.configOK)
	return m
}

// Gatherer is the registry, for tests and handlers.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Mirrors makes every counter of each mirror exist from the start at 0,
// so that rate() and increase() see its first change.
func (m *Metrics) Mirrors(names []string) {
	for _, name := range names {
		for _, r := range []string{ResultSuccess, ResultFailure} {
			m.transferred.WithLabelValues(name, r)
			m.deleted.WithLabelValues(name, r)
			m.published.WithLabelValues(name, r)
		}
		m.bytes.WithLabelValues(name)
	}
}

// ObservePlan records a plan over mirrors (every configured mirror) that
// took d: its duration and, per mirror, the drift it found.
func (m *Metrics) ObservePlan(p *plan.Plan, mirrors []string, d time.Duration) {
	m.Mirrors(mirrors)
	m.planSeconds.Observe(d.Seconds())
	drift := map[string]int{}
	for _, name := range mirrors {
		drift[name] = 0
	}
	for _, c := range p.Changes {
		if c.Reason.Drift() {
			drift[c.Mirror]++
		}
	}
	m.drift.Reset()
	for name, n := range drift {
		m.drift.WithLabelValues(name).Set(float64(n))
	}
}

// ObserveOwned sets the artifacts owned per mirror of st and of mirrors
// (configured mirrors the state does not know yet own 0).
func (m *Metrics) ObserveOwned(st *state.State, mirrors []string) {
	m.owned.Reset()
	for _, name := range mirrors {
		m.owned.WithLabelValues(name).Set(0)
	}
	for name, mr := range st.Mirrors {
		m.owned.WithLabelValues(name).Set(float64(len(mr.Artifacts)))
	}
}

// ObserveApply records what an apply of p did (res may be nil when it did
// not start; st is the state after it): every change by result, the bytes
// transferred (the sizes st records for them), how long it took, and for
// each of mirrors (the mirrors p covers) with no failure, now as its last
// success, unless err says the apply did not finish.
func (m *Metrics) ObserveApply(res *apply.Result, err error, st *state.State, mirrors []string, d time.Duration, now time.Time) {
	m.applySeconds.Observe(d.Seconds())
	troubled := map[string]bool{}
	if res != nil {
		for _, c := range res.Succeeded {
			m.count(c, ResultSuccess)
			if c.Transfers() {
				if a := st.Artifact(c.Mirror, c.Key); a != nil && a.Size > 0 {
					m.bytes.WithLabelValues(c.Mirror).Add(float64(a.Size))
				}
			}
		}
		for _, f := range res.Failed {
			m.count(f.Change, ResultFailure)
			troubled[f.Change.Mirror] = true
		}
		for _, c := range res.SkippedDeletes {
			m.deleted.WithLabelValues(c.Mirror, ResultSkipped).Inc()
			troubled[c.Mirror] = true
		}
		for _, dfr := range res.Deferred {
			for _, c := range dfr.Changes {
				m.deleted.WithLabelValues(c.Mirror, ResultDeferred).Inc()
			}
		}
	}
	if err != nil {
		return
	}
	m.MarkSynced(mirrors, troubled, now)
}

// MarkSynced sets now as the last success of each of mirrors not in
// troubled: a plan with nothing to apply marks every mirror it covers.
func (m *Metrics) MarkSynced(mirrors []string, troubled map[string]bool, now time.Time) {
	for _, name := range mirrors {
		if !troubled[name] {
			m.lastSuccess.WithLabelValues(name).Set(float64(now.Unix()))
		}
	}
}

// count adds change c with result r to its family.
func (m *Metrics) count(c plan.Change, r string) {
	switch c.Action {
	case plan.Add, plan.Replace:
		if r == ResultSuccess && !c.Transfers() {
			r = ResultAdopted
		}
		m.transferred.WithLabelValues(c.Mirror, r).Inc()
	case plan.Delete:
		m.deleted.WithLabelValues(c.Mirror, r).Inc()
	case plan.Forget:
		if r == ResultSuccess {
			r = ResultForgotten
		}
		m.deleted.WithLabelValues(c.Mirror, r).Inc()
	case plan.Publish:
		m.published.WithLabelValues(c.Mirror, r).Inc()
	}
}

// ObserveRun counts one `ferry run` iteration with result (Run*).
func (m *Metrics) ObserveRun(result string) { m.runs.WithLabelValues(result).Inc() }

// ConfigLoaded records whether the last configuration load succeeded.
func (m *Metrics) ConfigLoaded(ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.configOK.Set(v)
}

// Textfile renders the metrics in the text exposition format, as node
// exporter's textfile collector reads them.
func (m *Metrics) Textfile() ([]byte, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	sort.Slice(families, func(i, j int) bool { return families[i].GetName() < families[j].GetName() })
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, fmt.Errorf("encoding metric %s: %w", f.GetName(), err)
		}
	}
	return buf.Bytes(), nil
}

// WriteTextfile writes Textfile to path atomically (a reader never sees
// half a file).
func (m *Metrics) WriteTextfile(path string) error {
	b, err := m.Textfile()
	if err != nil {
		return err
	}
	if err := state.WriteFileAtomic(path, b, 0o644); err != nil {
		return fmt.Errorf("writing metrics file: %w", err)
	}
	return nil
}
